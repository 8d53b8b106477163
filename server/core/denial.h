// Denial reasons: why a request was refused, for the denial audit only.
//
// A refusal sent to a caller must not tell them more than they may know
// (a registrar probing someone else's numbers gets one fixed answer whether
// or not the object exists). The real reason ("+12026661234 lies in a
// holding of org ssp2") is still what an admin needs when reading the denial
// audit. So the code that refuses attaches the reason to the absl::Status as
// a payload; the gRPC seam (server/grpc/call.cc ToGrpcStatus) sends only code
// and message, and the denial audit reads the payload. Header-only, pure.
#ifndef LUFD_SERVER_CORE_DENIAL_H_
#define LUFD_SERVER_CORE_DENIAL_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace lufd {

inline constexpr absl::string_view kDenialReasonUrl =
    "type.lufd.example/lufd.DenialReason";

// `refusal` with `reason` attached (kept off the wire). OK statuses are
// returned unchanged: payloads on OK are dropped by absl anyway.
inline absl::Status WithDenialReason(absl::Status refusal,
                                     absl::string_view reason) {
  if (!refusal.ok()) refusal.SetPayload(kDenialReasonUrl, absl::Cord(reason));
  return refusal;
}

// The attached reason, or nullopt (then the message itself is the reason).
inline std::optional<std::string> DenialReason(const absl::Status& status) {
  auto p = status.GetPayload(kDenialReasonUrl);  // absl::optional here.
  if (!p.has_value()) return std::nullopt;
  return std::string(*p);
}

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_DENIAL_H_
