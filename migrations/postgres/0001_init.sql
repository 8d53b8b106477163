-- Core registry schema: whole objects keyed by (kind, key), the change log
-- (also the audit trail) and the latest committed serial.
-- kind/key CHECKs make the database itself refuse malformed rows, so a bad
-- mutation fails its whole commit instead of being half-written.
-- COLLATE "C" on keys: byte order like the other backends, and index
-- comparisons that stay cheap whatever locale the database was created in.
CREATE TABLE objects (
  kind   INTEGER NOT NULL CHECK (kind > 0),
  key    TEXT    COLLATE "C" NOT NULL CHECK (length(key) > 0),
  data   BYTEA   NOT NULL,
  serial BIGINT  NOT NULL,
  PRIMARY KEY (kind, key)
);

CREATE TABLE change_log (
  serial        BIGINT  NOT NULL,
  seq           INTEGER NOT NULL,
  time_us       BIGINT  NOT NULL,
  actor         TEXT    COLLATE "C" NOT NULL,
  client_txn_id TEXT    NOT NULL,
  kind          INTEGER NOT NULL CHECK (kind > 0),
  key           TEXT    COLLATE "C" NOT NULL CHECK (length(key) > 0),
  deleted       BOOLEAN NOT NULL,
  before        BYTEA,
  after         BYTEA,
  PRIMARY KEY (serial, seq)
);

-- Audit filters: exact key or actor, in serial order.
CREATE INDEX change_log_key ON change_log (key, serial);
CREATE INDEX change_log_actor ON change_log (actor, serial);

CREATE TABLE registry_state (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  latest_serial BIGINT  NOT NULL
);
INSERT INTO registry_state (id, latest_serial) VALUES (1, 0);
