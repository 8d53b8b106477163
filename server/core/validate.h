// Input validation at the edge, before anything reaches the Store:
// NAPTR per RFC 6116 §5.1 and sizes/syntax of every registry object.
// Pure functions, thread-safe; errors are INVALID_ARGUMENT with a message
// that starts with the field path ("naptr.regexp: ..."). ValidateAndNormalize
// mutates only the object it is given. Fuzzed by tests/fuzz/naptr_fuzz.cc.
#ifndef LUFD_SERVER_CORE_VALIDATE_H_
#define LUFD_SERVER_CORE_VALIDATE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lufd/v1/registry.pb.h"

namespace lufd {

// RFC 6116 §5.1 / RFC 3403: exactly one of regexp and replacement; regexp has
// exactly three unescaped delimiters ('!' conventionally), a valid ERE, no 'i'
// flag; services "E2U+<type>[:<subtype>]" tokens joined by '+'; flags a
// subset of [A-Z0-9] with "U" terminal; order/preference <= 65535.
absl::Status ValidateNaptr(const lufd::v1::NaptrRecord& naptr);

absl::Status ValidateSedRecord(const lufd::v1::SedRecord& record);

// Structural validation of any object (ids, sizes, normalized identifiers).
// Normalizes identifier values in place (e.g. "+1-202-555-6666").
absl::Status ValidateAndNormalize(lufd::v1::RegistryObject* object);

// A holding's block (normalized as the identifier of the same block; kind
// TN, TN_RANGE or TN_PREFIX; a 15-digit prefix must be held as a TN) and
// registrant. ported/ported_from/created_unix are the registry's to set.
absl::Status ValidateHolding(lufd::v1::Holding* holding);

// A write's client_txn_id (stored in the change log and printed by
// `lufctl audit`, one change per line): empty, or at most
// kMaxClientTxnIdBytes of printable ASCII (0x20-0x7e). INVALID_ARGUMENT
// "client_txn_id: ..." otherwise.
inline constexpr size_t kMaxClientTxnIdBytes = 128;
absl::Status ValidateClientTxnId(absl::string_view client_txn_id);

// Non-terminal NAPTRs (no flags, replacement set) send an ENUM client on to
// another domain. A single record is always valid on its own; the hop limit
// belongs to whoever follows chains: clients cap them, and the write path
// may call this to refuse data that would form a chain longer than
// kMaxNonTerminalHops, or a loop, among domains it can look up. `lookup`
// returns the NAPTRs at a domain (empty if unknown: the chain ends there).
// Returns the longest chain length in hops; INVALID_ARGUMENT on a loop, a
// too-long chain or more than 256 lookups. Domains compare case-insensitively.
inline constexpr int kMaxNonTerminalHops = 5;
using NaptrLookupFn = std::function<std::vector<lufd::v1::NaptrRecord>(
    const std::string& domain)>;
absl::StatusOr<int> CountNonTerminalChain(absl::string_view domain,
                                          const NaptrLookupFn& lookup);

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_VALIDATE_H_
