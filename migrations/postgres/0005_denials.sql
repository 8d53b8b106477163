-- The denial audit (server/core/denial_audit.h): refused calls, aggregated
-- per flush window by (actor, subject, peer, method, object, reason, code),
-- appended in batches and trimmed to a maximum row count (the oldest go).
CREATE TABLE denials (
  id          BIGSERIAL PRIMARY KEY,
  first_us    BIGINT  NOT NULL,
  last_us     BIGINT  NOT NULL,
  actor       TEXT    COLLATE "C" NOT NULL,
  subject     TEXT    NOT NULL,
  peer        TEXT    NOT NULL,
  method      TEXT    NOT NULL,
  object      TEXT    NOT NULL,
  reason      TEXT    NOT NULL,
  code        INTEGER NOT NULL,
  count       BIGINT  NOT NULL
);
-- `lufctl audit --denied --actor A`: newest first for one actor.
CREATE INDEX denials_actor ON denials (actor, id);
