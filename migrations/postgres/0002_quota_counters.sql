-- Anti-harvesting counters shared across replicas (flushed periodically by
-- the guard). subject is an org id or a source prefix; window_start is the
-- start of the counting window in microseconds since the epoch.
CREATE TABLE quota_counters (
  subject           TEXT    COLLATE "C" NOT NULL,
  window_start_us   BIGINT  NOT NULL,
  lookups           BIGINT  NOT NULL DEFAULT 0,
  misses            BIGINT  NOT NULL DEFAULT 0,
  distinct_numbers  BIGINT  NOT NULL DEFAULT 0,
  blocked_until_us  BIGINT  NOT NULL DEFAULT 0,
  updated_us        BIGINT  NOT NULL DEFAULT 0,
  PRIMARY KEY (subject, window_start_us)
);
