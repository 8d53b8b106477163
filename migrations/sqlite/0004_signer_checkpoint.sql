-- The sign-ahead signer's checkpoint (storage/signature_table.h
-- SignerCheckpoint): what its last completed pass covered. At most one row.
-- Until now it was kept as a sentinel row of dnssec_signatures (owner
-- 0xff "lufd-sign-ahead-checkpoint", RDATA
-- "lufd-sign-ahead-checkpoint v1 <serial> <full_pass_unix> <keys>"). That
-- row, when well formed, becomes the checkpoint row here, so the first
-- restart after the upgrade may still skip its walk; a malformed one is
-- dropped (the signer then walks the registry once). Either way the
-- sentinel row leaves dnssec_signatures.
CREATE TABLE signer_checkpoint (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  serial          INTEGER NOT NULL,
  full_pass_unix  INTEGER NOT NULL,
  signer_keys     TEXT    NOT NULL
);
INSERT INTO signer_checkpoint (id, serial, full_pass_unix, signer_keys)
SELECT 1, CAST(serial AS INTEGER), CAST(pass AS INTEGER), keys
FROM (
  SELECT substr(rest, 1, instr(rest, ' ') - 1) AS pass,
         substr(rest, instr(rest, ' ') + 1) AS keys,
         serial
  FROM (
    SELECT substr(tail, 1, instr(tail, ' ') - 1) AS serial,
           substr(tail, instr(tail, ' ') + 1) AS rest
    FROM (
      SELECT substr(CAST(rrsig AS TEXT), 31) AS tail
      FROM dnssec_signatures
      WHERE owner = X'ff6c7566642d7369676e2d61686561642d636865636b706f696e74'
        AND substr(CAST(rrsig AS TEXT), 1, 30) =
            'lufd-sign-ahead-checkpoint v1 '
        -- No NUL byte (the text would end there).
        AND length(rrsig) = length(CAST(rrsig AS TEXT))
      ORDER BY seq DESC
      LIMIT 1
    )
  )
)
WHERE length(serial) BETWEEN 1 AND 18 AND serial NOT GLOB '*[^0-9]*'
  AND length(pass) BETWEEN 1 AND 18 AND pass NOT GLOB '*[^0-9]*'
  AND length(keys) > 0 AND keys NOT GLOB '*[^!-~]*';
DELETE FROM dnssec_signatures
WHERE owner = X'ff6c7566642d7369676e2d61686561642d636865636b706f696e74';
