-- The change log (and so the audit trail) never carries a secret: since
-- this version, Commit logs a credential's TSIG secret as its fingerprint
-- (Credential.tsig_secret_sha256) and only the objects table keeps the
-- secret. Images logged before still hold the secret; SQL cannot edit
-- protobuf blobs, so the store runs a C++ data step after this file, in the
-- same transaction (storage/common.h kScrubSecretsMigration, keyed by this
-- file's name), that rewrites them.
COMMENT ON COLUMN change_log.before IS
  'lufd.v1.RegistryObject; a credential carries tsig_secret_sha256, never tsig_secret';
COMMENT ON COLUMN change_log.after IS
  'lufd.v1.RegistryObject; a credential carries tsig_secret_sha256, never tsig_secret';
