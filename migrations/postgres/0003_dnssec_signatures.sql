-- DNSSEC signatures made ahead of time (storage/store.h StoredSignature).
-- Derived data, outside the change log: the signer re-makes them every few
-- days. owner is the lowercase uncompressed wire name; rrset_hash holds the
-- uint64 hash's bit pattern as a signed 64-bit integer. seq comes from a
-- sequence, so instances can poll for what the signer added.
CREATE SEQUENCE dnssec_signatures_seq_gen AS BIGINT;
CREATE TABLE dnssec_signatures (
  owner         BYTEA   NOT NULL,
  type_covered  INTEGER NOT NULL,
  rrset_hash    BIGINT  NOT NULL,
  key_tag       INTEGER NOT NULL,
  rrsig         BYTEA   NOT NULL,
  expiration    BIGINT  NOT NULL,
  seq           BIGINT  NOT NULL,
  PRIMARY KEY (owner, type_covered, rrset_hash, key_tag)
);
CREATE INDEX dnssec_signatures_seq ON dnssec_signatures (seq);
CREATE INDEX dnssec_signatures_expiration ON dnssec_signatures (expiration);
