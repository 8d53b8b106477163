-- Anti-harvesting counters shared across replicas (flushed periodically by
-- the guard). subject is an org id or a source prefix; window_start is the
-- start of the counting window in microseconds since the epoch.
CREATE TABLE quota_counters (
  subject           TEXT    NOT NULL,
  window_start_us   INTEGER NOT NULL,
  lookups           INTEGER NOT NULL DEFAULT 0,
  misses            INTEGER NOT NULL DEFAULT 0,
  distinct_numbers  INTEGER NOT NULL DEFAULT 0,
  blocked_until_us  INTEGER NOT NULL DEFAULT 0,
  updated_us        INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (subject, window_start_us)
) WITHOUT ROWID;
