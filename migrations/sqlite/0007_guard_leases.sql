-- The guard's shared disclosure budget (Store::LeaseGuardBudget): every lufd
-- instance on this database leases chunks of an identity's budget here, one
-- row per grant. identity is GuardKey::Describe() ("org iana-en:111");
-- granted_at_us is the grant's time in microseconds since the epoch. Rows
-- older than the window are trimmed by the next grant of the identity.
-- (quota_counters of 0002 stays unused: a grant log, not counters, is what
-- a sliding window needs.)
CREATE TABLE guard_leases (
  id             INTEGER PRIMARY KEY,
  identity       TEXT    NOT NULL,
  granted_at_us  INTEGER NOT NULL,
  count          INTEGER NOT NULL
);
CREATE INDEX guard_leases_identity ON guard_leases (identity, granted_at_us);
