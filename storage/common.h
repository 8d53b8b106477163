// Helpers shared by every Store backend: request validation, object
// (de)serialization and the change-log row <-> lufd.v1.Change mapping.
//
// Keeping these in one place is what makes the backends agree byte for byte:
// the same checks reject the same requests before any database is touched,
// and before/after images are encoded identically everywhere.
// Thread-safety: all functions are pure.
#ifndef LUFD_STORAGE_COMMON_H_
#define LUFD_STORAGE_COMMON_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lufd/v1/registry.pb.h"
#include "storage/store.h"

namespace lufd::storage_internal {

// Rejects what no backend can store faithfully: strings with NUL bytes or
// invalid UTF-8 (PostgreSQL TEXT refuses both; protobuf string fields need
// UTF-8). Kind and key emptiness are left to the schema's CHECKs so a bad
// mutation fails inside the transaction, exercising rollback.
absl::Status ValidateRequest(const CommitRequest& request);

bool IsValidUtf8NoNul(absl::string_view s);

// Serializes an object. Our messages have no map fields, so the default
// serializer is already deterministic (equal objects give equal bytes).
std::string SerializeObject(const lufd::v1::RegistryObject& object);
// Same, into `out` (reusing its capacity: bulk commits call this 1M times).
void SerializeObjectTo(const lufd::v1::RegistryObject& object,
                       std::string* out);

// INTERNAL (naming `what`) if the bytes do not parse.
absl::Status ParseObject(absl::string_view bytes, absl::string_view what,
                         lufd::v1::RegistryObject* out);

// ParseObject for a bulk scan that parses row after row into one `out`
// (Clear()ed first, as ParseObject does). Clear() deletes the object's
// sub-message (a oneof member), so every row would allocate a new one and
// free it again; when `out` already holds the sub-message this row's bytes
// hold, that one is cleared and parsed into in place instead, keeping its
// allocations (strings, repeated records). Same result and errors as
// out->Clear() + ParseObject.
absl::Status ParseObjectReusing(absl::string_view bytes, absl::string_view what,
                                lufd::v1::RegistryObject* out);

// Default and cap for AuditQuery::limit == 0.
inline constexpr uint32_t kDefaultAuditLimit = 1000;

// Microseconds since the epoch, for change-log time stamps.
int64_t NowMicros();

// PutSignatures' rows with later duplicates (same owner, type_covered,
// rrset_hash, key_tag) dropped, in input order: the last one given wins,
// in every backend. Points into `signatures`.
std::vector<const StoredSignature*> LastSignatureWins(
    const std::vector<StoredSignature>& signatures);

// The process-local signer lease of the SQLite and memory backends: at most
// one live lease per `name` (a canonical database path, or a unique name
// per memory store) in this process; nullptr when one is held. Thread-safe.
std::unique_ptr<SignerLease> TryAcquireLocalSignerLease(
    const std::string& name);

// ---- Secrets never reach the change log ----------------------------------
// The objects table keeps a credential's TSIG secret (DNS needs it to verify
// TSIG); the change log, and so the audit trail, keeps only its fingerprint
// (Credential.tsig_secret_sha256; RedactForChangeLog in store.h). Every
// backend logs ChangeLogImage() of each before/after, so none can forget. A
// follower restores the secret from the objects table (Store::ReadObject;
// server/core/follower.cc).

// First 16 hex digits of SHA-256(secret): `base64 -d | sha256sum | cut -c1-16`.
std::string SecretFingerprint(absl::string_view secret);

// What the change log stores for `object`: `object` itself when it carries
// no secret (no copy), else a redacted copy made in `*scratch`.
const lufd::v1::RegistryObject& ChangeLogImage(
    const lufd::v1::RegistryObject& object, lufd::v1::RegistryObject* scratch);

// The name of the migration (NNNN_<name>.sql in both SQL backends) after
// whose SQL the backends run the data step below, in the same transaction:
// SQL cannot edit the protobuf images written before secrets were redacted.
inline constexpr absl::string_view kScrubSecretsMigration =
    "scrub_change_log_secrets";

// One stored change-log image (before or after) of a credential: the bytes to
// store instead when it carries a secret, nullopt when it is already clean;
// INTERNAL when it does not parse.
absl::StatusOr<std::optional<std::string>> ScrubChangeLogBlob(
    absl::string_view bytes, absl::string_view what);

}  // namespace lufd::storage_internal

#endif  // LUFD_STORAGE_COMMON_H_
