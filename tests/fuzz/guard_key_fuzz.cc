// Fuzz target for GuardKey::Parse (server/guard/guard.h): the identity text
// an admin gives `lufctl guard explain|unblock` and the ExplainGuard /
// Unblock RPCs. Whatever it accepts must describe itself in a form that
// parses back to the same key (so what `guard status` prints can be pasted
// into `guard unblock`), and a prefix must come back masked.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/guard/guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<lufd::GuardKey> key = lufd::GuardKey::Parse(input);
  if (!key.ok()) return 0;
  if (key->id.empty()) std::abort();
  const std::string described = key->Describe();
  absl::StatusOr<lufd::GuardKey> again = lufd::GuardKey::Parse(described);
  if (!again.ok() || !(*again == *key)) std::abort();
  // The bare form parses to the same key too.
  absl::StatusOr<lufd::GuardKey> bare = lufd::GuardKey::Parse(key->id);
  if (key->kind == lufd::GuardKey::Kind::kSourcePrefix &&
      (!bare.ok() || !(*bare == *key))) {
    std::abort();
  }
  return 0;
}
