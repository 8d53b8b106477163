-- The denial audit (server/core/denial_audit.h): refused calls, aggregated
-- per flush window by (actor, subject, peer, method, object, reason, code),
-- appended in batches and trimmed to a maximum row count (the oldest go).
CREATE TABLE denials (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  first_us    INTEGER NOT NULL,
  last_us     INTEGER NOT NULL,
  actor       TEXT    NOT NULL,
  subject     TEXT    NOT NULL,
  peer        TEXT    NOT NULL,
  method      TEXT    NOT NULL,
  object      TEXT    NOT NULL,
  reason      TEXT    NOT NULL,
  code        INTEGER NOT NULL,
  count       INTEGER NOT NULL
);
-- `lufctl audit --denied --actor A`: newest first for one actor.
CREATE INDEX denials_actor ON denials (actor, id);
