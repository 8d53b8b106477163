// Fuzz target for server/dns/covering.h. The input becomes a registry (a
// few digit strings, closed under prefixes: data and its empty
// non-terminals) and a query name under a fixed apex (label lengths and
// octets straight from the bytes: \000, \377, "*", uppercase, 63-octet
// labels and names near 255 octets are all reachable). Invariants: the
// walk finds an E that exists and a C.E that does not; when the table has
// an answer, the first NSEC covers the qname, the wildcard NSEC covers *.E,
// names are valid lowercase wire names under E, and no existing name (nor
// E) is covered by or owns a covering NSEC.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "server/dns/canonical.h"
#include "server/dns/covering.h"
#include "server/dns/wire.h"

namespace {

void CheckAt(bool ok, int line) {
  if (ok) return;
  std::fprintf(stderr, "dns_covering_fuzz: invariant at line %d broken\n",
               line);
  std::abort();
}
#define Check(x) CheckAt((x), __LINE__)

const std::string kApex(
    "\x04"
    "e164\x04"
    "arpa\x00",
    11);

std::string Under(const std::string& label, const std::string& suffix) {
  return std::string(1, static_cast<char>(label.size())) + label + suffix;
}

bool Between(const std::string& lo, const std::string& x,
             const std::string& hi) {
  return lufd::dns::CanonicalCompare(lo, x) < 0 &&
         lufd::dns::CanonicalCompare(x, hi) < 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lufd::dns;
  size_t pos = 0;
  auto next = [&]() -> uint8_t { return pos < size ? data[pos++] : 0; };
  // Registry: up to 8 numbers of up to 15 digits over a 4-digit alphabet.
  std::set<std::string> digits;
  const int n = next() % 9;
  for (int i = 0; i < n; ++i) {
    const int len = 1 + next() % 15;
    std::string d;
    for (int j = 0; j < len; ++j) d.push_back("0159"[next() % 4]);
    for (size_t j = 1; j <= d.size(); ++j) digits.insert(d.substr(0, j));
  }
  std::vector<std::string> names = {kApex};
  for (const auto& d : digits) {
    std::string name = kApex;
    for (char c : d) name = Under(std::string(1, c), name);
    names.push_back(name);
  }
  // Query: an existing name, then labels from the input.
  std::string q = names[next() % names.size()];
  while (pos < size) {
    size_t len = next() % 64;
    if (len == 0 || q.size() + 2 > kMaxNameLength) break;
    if (q.size() + 1 + len > kMaxNameLength) {
      len = kMaxNameLength - q.size() - 1;
      if (len == 0) break;
    }
    std::string label;
    for (size_t i = 0; i < len; ++i) {
      // Bias towards single digits so the walk goes deep.
      const uint8_t b = next();
      label.push_back(static_cast<char>(b));
    }
    if (label.size() == 1 && (static_cast<uint8_t>(label[0]) & 0x80) == 0 &&
        static_cast<uint8_t>(label[0]) >= 0x60) {
      label[0] = static_cast<char>('0' + label[0] % 10);
    }
    q = Under(label, q);
  }
  const std::string lq = LowercaseName(q);
  auto exists = [&](std::string_view e164) {
    return digits.count(std::string(e164.substr(1))) > 0;
  };
  auto enc = FindClosestEncloser(lq, kApex, exists);
  bool q_exists = false;
  for (const auto& x : names) q_exists = q_exists || x == lq;
  if (!enc) {
    Check(q_exists);
    return 0;
  }
  Check(!q_exists);
  Check(enc->e_offset > enc->c_offset && enc->e_offset < lq.size());
  const std::string e = lq.substr(enc->e_offset);
  const std::string ce = lq.substr(enc->c_offset);
  bool e_exists = false, ce_exists = false;
  for (const auto& x : names) {
    e_exists = e_exists || x == e;
    ce_exists = ce_exists || x == ce;
  }
  Check(e_exists && !ce_exists);
  const std::string c = ce.substr(1, static_cast<uint8_t>(ce[0]));
  auto got = CoveringNames(e, c);
  if (!got) return 0;
  Check(Between(got->owner, lq, got->next));
  Check(Between(got->owner, ce, got->next));
  const bool single = got->wildcard_owner.empty();
  Check(single == got->wildcard_next.empty());
  const std::string& wo = single ? got->owner : got->wildcard_owner;
  const std::string& wn = single ? got->next : got->wildcard_next;
  Check(Between(wo, Under("*", e), wn));
  for (const std::string* name :
       std::vector<const std::string*>{&got->owner, &got->next, &wo, &wn}) {
    Check(!name->empty() && name->size() <= kMaxNameLength);
    Check(*name == LowercaseName(*name));
    Check(IsSubdomainOf(*name, e) && *name != e);
    Check(NameFromText(NameToText(*name)) == *name);
  }
  for (const auto& x : names) {
    Check(!Between(got->owner, x, got->next));
    Check(!Between(wo, x, wn));
    Check(got->owner != x && wo != x);
  }
  // Same (E, C) with a different qname below C: same names.
  auto again = CoveringNames(e, c);
  Check(again && again->owner == got->owner && again->next == got->next);
  return 0;
}
