-- DNSSEC signatures made ahead of time (storage/store.h StoredSignature).
-- Derived data, outside the change log: the signer re-makes them every few
-- days. owner is the lowercase uncompressed wire name; rrset_hash holds the
-- uint64 hash's bit pattern as a signed 64-bit integer.
--
-- seq increases with every put (signature_state.last_seq, bumped inside the
-- write transaction, never reused after deletes) so instances can poll for
-- what the signer added. It is the rowid: the table's own b-tree is the seq
-- index, so the start-up scan in seq order reads the table sequentially
-- instead of making one key lookup per row from a separate seq index (1M
-- rows: a few hundred ms instead of seconds). The identity of a row is
-- (owner, type_covered, rrset_hash, key_tag), enforced unique; an upsert
-- replaces the row under a fresh seq.
CREATE TABLE dnssec_signatures (
  seq           INTEGER PRIMARY KEY,
  owner         BLOB    NOT NULL,
  type_covered  INTEGER NOT NULL,
  rrset_hash    INTEGER NOT NULL,
  key_tag       INTEGER NOT NULL,
  rrsig         BLOB    NOT NULL,
  expiration    INTEGER NOT NULL,
  UNIQUE (owner, type_covered, rrset_hash, key_tag)
);
CREATE INDEX dnssec_signatures_expiration ON dnssec_signatures (expiration);
-- The last seq handed out.
CREATE TABLE signature_state (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  last_seq  INTEGER NOT NULL
);
INSERT INTO signature_state (id, last_seq) VALUES (1, 0);
