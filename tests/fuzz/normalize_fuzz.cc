// Fuzz target for server/core/normalize.h. Beyond "does not crash", checks
// the invariants callers rely on: a normalized number is "+" and 1..15
// digits, normalization is idempotent, and the ENUM domain round-trips.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "server/core/normalize.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckNormalized(const std::string& n) {
  Check(n.size() >= 2 && n.size() <= 16 && n[0] == '+' && n[1] != '0');
  for (size_t i = 1; i < n.size(); ++i) {
    Check(absl::ascii_isdigit(static_cast<unsigned char>(n[i])));
  }
  auto again = lufd::NormalizeE164(n);
  Check(again.ok() && *again == n);
  auto back = lufd::EnumDomainToE164(lufd::E164ToEnumDomain(n));
  Check(back.ok() && *back == n);
  auto back2 = lufd::EnumDomainToE164(
      lufd::E164ToEnumDomain(n, "e164.example."), "E164.EXAMPLE");
  Check(back2.ok() && *back2 == n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);

  auto n = lufd::NormalizeE164(input);
  if (n.ok()) CheckNormalized(*n);

  auto p = lufd::NormalizeE164Prefix(input);
  if (p.ok()) CheckNormalized(*p);

  auto q = lufd::ParseLookupQuery(input);
  if (q.ok()) {
    if (q->kind == lufd::LookupQuery::Kind::kNumber) {
      CheckNormalized(q->value);
    } else {
      Check(!q->value.empty() && q->value.size() <= size);
    }
    auto again = lufd::ParseLookupQuery(q->value);
    Check(again.ok() && again->kind == q->kind && again->value == q->value);
  }

  auto e = lufd::EnumDomainToE164(input);
  if (e.ok()) CheckNormalized(*e);
  (void)lufd::E164ToEnumDomain(input, input);
  return 0;
}
