// Fuzz target for server/dns/canonical.h. The input becomes two wire names
// under a common apex (label lengths and octets straight from the bytes, so
// names near 255 octets, \000 and \377 octets and uppercase letters are
// all reachable). Invariants: the successor is a valid lowercase name under
// the apex, greater than the name unless it wrapped to the apex, and the
// second name never falls strictly between a name and its successor.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/dns/canonical.h"
#include "server/dns/wire.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

int Sign(int v) { return (v > 0) - (v < 0); }

// Prepends labels read from [*pos, size) to `suffix` while they fit 255
// octets; a length octet of 0 ends the name early.
std::string Build(const uint8_t* data, size_t size, size_t* pos,
                  const std::string& suffix) {
  std::string name = suffix;
  while (*pos < size) {
    size_t len = data[(*pos)++] % 64;
    if (len == 0 || name.size() + 2 > lufd::dns::kMaxNameLength) break;
    if (name.size() + 1 + len > lufd::dns::kMaxNameLength) {
      len = lufd::dns::kMaxNameLength - name.size() - 1;
      if (len == 0) break;
    }
    std::string label(1, static_cast<char>(len));
    for (size_t i = 0; i < len; ++i) {
      label.push_back(static_cast<char>(*pos < size ? data[(*pos)++] : 'a'));
    }
    name.insert(0, label);
  }
  return name;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lufd::dns;
  size_t pos = 0;
  const std::string apex =
      LowercaseName(Build(data, size, &pos, std::string(1, '\0')));
  const std::string x = Build(data, size, &pos, apex);
  const std::string y = Build(data, size, &pos, apex);

  auto s = ImmediateSuccessor(x, apex);
  Check(s.has_value());
  Check(!s->empty() && s->size() <= kMaxNameLength);
  Check(*s == LowercaseName(*s));
  Check(IsSubdomainOf(*s, apex));
  Check(NameFromText(NameToText(*s)) == *s);
  const int xs = Sign(CanonicalCompare(x, *s));
  Check(xs == -Sign(CanonicalCompare(*s, x)));
  if (*s != apex) {
    Check(xs < 0);
  } else {
    // Wrapping to the apex is only allowed when nothing under the apex
    // follows x (the zone's last name): y cannot be greater.
    Check(CanonicalCompare(y, x) <= 0);
  }
  // y never lies strictly between x and its successor.
  Check(!(CanonicalCompare(x, y) < 0 && CanonicalCompare(y, *s) < 0));
  // Order is consistent between the two names and their lowercase forms.
  Check(Sign(CanonicalCompare(x, y)) ==
        Sign(CanonicalCompare(LowercaseName(x), y)));
  return 0;
}
