// The TTL a SED record is served with when it was written without one
// (ttl 0). It is part of the registry model, not configuration: the view
// applies it when it resolves answers (DNS and gRPC Lookup alike), and
// lufctl shows it ("3600 (default)") so that what an admin reads is what
// resolvers get. The stored record keeps ttl 0, so it follows this default
// rather than freezing the value of the day it was written. Header-only,
// constexpr: clients may include it without linking the core.
#ifndef LUFD_SERVER_CORE_RECORD_TTL_H_
#define LUFD_SERVER_CORE_RECORD_TTL_H_

#include <cstdint>

namespace lufd {

inline constexpr uint32_t kDefaultRecordTtl = 3600;

// The TTL answers carry for a record whose stored TTL is `ttl`.
constexpr uint32_t EffectiveRecordTtl(uint32_t ttl) {
  return ttl == 0 ? kDefaultRecordTtl : ttl;
}

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_RECORD_TTL_H_
