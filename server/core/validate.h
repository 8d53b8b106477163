// Input validation at the edge, before anything reaches the Store:
// NAPTR per RFC 6116 §5.1 and sizes/syntax of every registry object.
#ifndef LUFD_SERVER_CORE_VALIDATE_H_
#define LUFD_SERVER_CORE_VALIDATE_H_

#include "absl/status/status.h"
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

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_VALIDATE_H_
