// SignatureTable: the DNSSEC signatures lufd makes ahead of time, the
// election of the one instance that makes them, and that signer's checkpoint.
//
// This is derived data kept beside the registry, not part of it: signatures
// are re-made every few days, are not in the change log (they would swamp
// the audit trail) and are never a source of truth. The table lets a restart
// or a new replica serve signed answers at once instead of re-signing the
// registry (see server/dns/signer.h). It is a seam of its own so that the
// Store (store.h) stays about registry objects and the change log.
//
// Every Store backend (memory, SQLite, PostgreSQL) implements it on the same
// database as its registry; Store::Signatures() hands it out. The table is
// owned by its Store and lives exactly as long as it; callers borrow it and
// never delete it. A SignerLease, once acquired, refers to neither and may
// outlive both.
//
// Thread-safety: every method may be called from any thread concurrently.
// Errors: absl::Status, FAILED_PRECONDITION before the schema is migrated
// (like the Store's own methods); no exception crosses this seam.
#ifndef LUFD_STORAGE_SIGNATURE_TABLE_H_
#define LUFD_STORAGE_SIGNATURE_TABLE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lufd {

// A DNSSEC signature made ahead of time for a positive RRset. Identified by
// (owner, type_covered, rrset_hash, key_tag): a changed RRset has a new hash
// and gets a new row; the old row stays until it expires.
struct StoredSignature {
  std::string owner;  // Lowercase uncompressed wire name.
  uint16_t type_covered = 0;
  uint64_t rrset_hash = 0;  // server/dns/dnssec.h RrsetHash.
  uint16_t key_tag = 0;
  std::string rrsig_rdata;  // The whole RRSIG RDATA.
  int64_t expiration_unix = 0;
  uint64_t seq = 0;  // Set by the table: increases with every put.
};

// What the signer's last completed pass covered, so that a restart need not
// walk the registry again (a full walk of 1M TNs per viewer class costs
// seconds of the CPU that serves queries). One per database; written only by
// the lease holder. Its meaning belongs to the signer: the table stores and
// returns it verbatim.
struct SignerCheckpoint {
  uint64_t serial = 0;         // Every TN at this view serial was covered...
  int64_t full_pass_unix = 0;  // ...the last full walk ended then...
  std::string keys;            // ...with these zone-signing keys.
};

// Held by the one instance that signs ahead; released on destruction or
// when the process (or its database session) dies.
class SignerLease {
 public:
  virtual ~SignerLease() = default;
  // False once the lease was lost (PostgreSQL session gone).
  virtual bool Valid() = 0;
};

class SignatureTable {
 public:
  virtual ~SignatureTable() = default;

  // Upserts in one transaction; each row gets a fresh seq.
  // A row given twice in one call: the last one wins. 100k+ rows per call
  // are expected (the signer's first pass over a big registry).
  virtual absl::Status PutSignatures(
      const std::vector<StoredSignature>& signatures) = 0;

  // Every row with seq > after_seq, in seq order; returns the highest seq
  // seen (after_seq when none). Start-up loads with after_seq = 0, then
  // instances poll for what the signer added. Streams: rows are handed to
  // fn as they are read (the reference is valid only during the call), and
  // fn must not call back into the table or its Store.
  virtual absl::StatusOr<uint64_t> ScanSignatures(
      uint64_t after_seq,
      const std::function<void(const StoredSignature&)>& fn) = 0;

  // Deletes rows expiring before `unix_time` (a row expiring at exactly
  // `unix_time` stays); returns how many. The checkpoint is not a row.
  virtual absl::StatusOr<uint64_t> DeleteSignaturesExpiringBefore(
      int64_t unix_time) = 0;

  // The sign-ahead election: a lease, or nullptr when another instance
  // holds it (PostgreSQL session advisory lock; SQLite and memory: the
  // first caller in the process, as the database has one writer host).
  virtual absl::StatusOr<std::unique_ptr<SignerLease>>
  TryAcquireSignerLease() = 0;

  // The checkpoint last written, nullopt when none was.
  virtual absl::StatusOr<std::optional<SignerCheckpoint>>
  ReadSignerCheckpoint() = 0;
  // Replaces the checkpoint (one row; last writer wins).
  virtual absl::Status WriteSignerCheckpoint(
      const SignerCheckpoint& checkpoint) = 0;
};

}  // namespace lufd

#endif  // LUFD_STORAGE_SIGNATURE_TABLE_H_
