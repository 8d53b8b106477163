// Tests for server/dns/canonical.h: CanonicalCompare agrees with ldns and is
// a total order over random names; ImmediateSuccessor is checked
// exhaustively (every name under an apex that leaves a few octets of room
// is enumerated, so the successor must be exactly the next name) and over
// random names near the 255-octet limit.
#include "server/dns/canonical.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/dns/wire.h"

namespace lufd::dns {
namespace {

int Sign(int v) { return (v > 0) - (v < 0); }

std::string Wire(const char* text) {
  auto n = NameFromText(text);
  EXPECT_TRUE(n.has_value()) << text;
  return n.value_or(std::string());
}

// A valid lowercase name of exactly `total` octets (1..255) made of 'x'
// labels; never leaves a remainder a label cannot use.
std::string NameOfLength(size_t total, char fill = 'x') {
  std::string out;
  size_t left = total - 1;
  while (left > 0) {
    size_t len = std::min<size_t>(63, left - 1);
    if (left - 1 - len == 1) --len;  // A 1-octet remainder fits no label.
    out.push_back(static_cast<char>(len));
    out.append(len, fill);
    left -= len + 1;
  }
  out.push_back('\0');
  return out;
}

int LdnsCompare(const std::string& a, const std::string& b) {
  ldns_rdf* x = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, a.size(), a.data());
  ldns_rdf* y = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, b.size(), b.data());
  int r = ldns_dname_compare(x, y);
  ldns_rdf_deep_free(x);
  ldns_rdf_deep_free(y);
  return r;
}

// Random names over a small alphabet that makes ties and prefixes likely,
// including uppercase, \000, \377 and characters that need escapes.
class RandomNames {
 public:
  explicit RandomNames(uint32_t seed) : rng_(seed) {}

  std::string Label(size_t max_len) {
    static constexpr char kAlphabet[] = {'a', 'b',  'A', 'B', '\0', '\xff',
                                         '.', '\\', '@', '[', 'z',  '-'};
    size_t len = 1 + rng_() % std::min<size_t>(max_len, 63);
    if (rng_() % 8 == 0) len = std::min<size_t>(max_len, 63);
    std::string l;
    for (size_t i = 0; i < len; ++i) {
      l.push_back(kAlphabet[rng_() % sizeof(kAlphabet)]);
    }
    return l;
  }

  // A name under `apex` (wire); `near_limit` fills it up to 250..255.
  std::string Under(const std::string& apex, bool near_limit) {
    std::string name = apex;
    size_t target = near_limit ? 250 + rng_() % 6 : apex.size() + rng_() % 40;
    target = std::min<size_t>(target, 255);
    int labels = 0;
    while (name.size() + 2 <= target && labels < 128) {
      size_t room = target - name.size() - 1;
      std::string l = Label(room);
      name.insert(0, 1, static_cast<char>(l.size()));
      name.insert(1, l);
      ++labels;
      if (!near_limit && rng_() % 3 == 0) break;
    }
    return name;
  }

  uint32_t Next() { return static_cast<uint32_t>(rng_()); }

 private:
  std::mt19937 rng_;
};

TEST(CanonicalCompare, Rfc4034Example) {
  // RFC 4034 section 6.1, in order.
  const char* kOrdered[] = {
      "example.",         "a.example.",      "yljkjljk.a.example.",
      "Z.a.example.",     "zABC.a.EXAMPLE.", "z.example.",
      "\\001.z.example.", "*.z.example.",    "\\200.z.example."};
  for (size_t i = 0; i < std::size(kOrdered); ++i) {
    for (size_t j = 0; j < std::size(kOrdered); ++j) {
      EXPECT_EQ(Sign(CanonicalCompare(Wire(kOrdered[i]), Wire(kOrdered[j]))),
                i < j ? -1 : (i == j ? 0 : 1))
          << kOrdered[i] << " vs " << kOrdered[j];
    }
  }
}

TEST(CanonicalCompare, AgreesWithLdnsAndIsATotalOrder) {
  RandomNames gen(20261127);
  const std::string apexes[] = {Wire("."), Wire("e164.arpa."), Wire("a.b.")};
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i) {
    names.push_back(gen.Under(apexes[i % 3], i % 4 == 0));
  }
  for (int i = 0; i < 20000; ++i) {
    const std::string& a = names[gen.Next() % names.size()];
    const std::string& b = names[gen.Next() % names.size()];
    const int ab = Sign(CanonicalCompare(a, b));
    ASSERT_EQ(ab, Sign(LdnsCompare(LowercaseName(a), LowercaseName(b))))
        << NameToText(a) << " vs " << NameToText(b);
    ASSERT_EQ(ab, -Sign(CanonicalCompare(b, a)));
    ASSERT_EQ(CanonicalCompare(a, LowercaseName(a)), 0);
    const std::string& c = names[gen.Next() % names.size()];
    const int bc = Sign(CanonicalCompare(b, c));
    if (ab <= 0 && bc <= 0) {
      ASSERT_LE(CanonicalCompare(a, c), 0)
          << NameToText(a) << " " << NameToText(b) << " " << NameToText(c);
    }
  }
  // Sorting with it and checking neighbours catches non-transitive spots.
  std::sort(names.begin(), names.end(), [](const auto& x, const auto& y) {
    return CanonicalCompare(x, y) < 0;
  });
  for (size_t i = 1; i < names.size(); ++i) {
    ASSERT_LE(CanonicalCompare(names[i - 1], names[i]), 0);
    ASSERT_LE(LdnsCompare(LowercaseName(names[i - 1]), LowercaseName(names[i])),
              0);
  }
}

TEST(ImmediateSuccessor, ShortNamesGetZeroLabel) {
  EXPECT_EQ(*ImmediateSuccessor(Wire("A.e164.arpa."), Wire("e164.arpa.")),
            Wire("\\000.a.e164.arpa."));
  EXPECT_EQ(*ImmediateSuccessor(Wire("e164.arpa."), Wire("e164.arpa.")),
            Wire("\\000.e164.arpa."));
  EXPECT_FALSE(ImmediateSuccessor(Wire("arpa."), Wire("e164.arpa.")));
  EXPECT_FALSE(ImmediateSuccessor(Wire("xe164.arpa."), Wire("e164.arpa.")));
  EXPECT_FALSE(ImmediateSuccessor(std::string("\x02"
                                              "a",
                                              2),
                                  Wire(".")));
  EXPECT_FALSE(ImmediateSuccessor(std::string("\x40", 1), Wire(".")));
}

TEST(ImmediateSuccessor, IncrementRulesAtTheLimit) {
  const std::string apex = NameOfLength(250);
  auto under = [&](const std::string& label) {
    std::string n(1, static_cast<char>(label.size()));
    n += label;
    return n + apex;
  };
  // 254 octets: the label grows by \000.
  EXPECT_EQ(*ImmediateSuccessor(under("abc"), apex),
            under(std::string("abc\0", 4)));
  // 255 octets: the last octet is incremented, skipping uppercase.
  EXPECT_EQ(*ImmediateSuccessor(under("abcd"), apex), under("abce"));
  EXPECT_EQ(*ImmediateSuccessor(under("abc@"), apex), under("abc["));
  EXPECT_EQ(*ImmediateSuccessor(under("ABC@"), apex), under("abc["));
  EXPECT_EQ(*ImmediateSuccessor(under("ab\xff\xff"), apex), under("ac"));
  // Exhausted label: the parent's subtree ends, and the apex wraps.
  EXPECT_EQ(*ImmediateSuccessor(under("\xff\xff\xff\xff"), apex), apex);
}

// All names below `apex` whose octets come from `alphabet`, up to 255.
void Enumerate(const std::string& suffix, const std::string& alphabet,
               std::vector<std::string>* out) {
  out->push_back(suffix);
  if (suffix.size() + 2 > kMaxNameLength) return;
  const size_t max_len =
      std::min<size_t>(63, kMaxNameLength - suffix.size() - 1);
  // Every label of length 1..max_len over the alphabet, odometer style.
  for (size_t len = 1; len <= max_len; ++len) {
    std::vector<size_t> idx(len, 0);
    for (;;) {
      std::string name(1, static_cast<char>(len));
      for (size_t k : idx) name.push_back(alphabet[k]);
      name += suffix;
      Enumerate(name, alphabet, out);
      size_t pos = len;
      while (pos > 0 && ++idx[pos - 1] == alphabet.size()) idx[--pos] = 0;
      if (pos == 0) break;
    }
  }
}

// Sorts by an independent key (each octet as 0x01 <lowercase octet>, each
// label closed by 0x00 0x00, labels root first), so plain byte order is the
// canonical order; CanonicalCompare is then checked on every neighbour pair.
// Much cheaper than sorting with the comparator, which matters under ASan.
void SortCanonical(std::vector<std::string>* v) {
  std::vector<std::pair<std::string, std::string>> keyed;
  keyed.reserve(v->size());
  for (std::string& name : *v) {
    std::vector<size_t> starts;
    for (size_t pos = 0; name[pos] != 0; pos += 1 + uint8_t(name[pos])) {
      starts.push_back(pos);
    }
    std::string key;
    for (size_t i = starts.size(); i-- > 0;) {
      const size_t len = static_cast<uint8_t>(name[starts[i]]);
      for (size_t k = 0; k < len; ++k) {
        key.push_back('\x01');
        key.push_back(static_cast<char>(
            std::tolower(static_cast<unsigned char>(name[starts[i] + 1 + k]))));
      }
      key.append(2, '\0');
    }
    keyed.emplace_back(std::move(key), std::move(name));
  }
  std::sort(keyed.begin(), keyed.end());
  for (size_t i = 0; i < keyed.size(); ++i) {
    (*v)[i] = std::move(keyed[i].second);
    if (i > 0) {
      ASSERT_LT(CanonicalCompare((*v)[i - 1], (*v)[i]), 0)
          << NameToText((*v)[i - 1]) << " vs " << NameToText((*v)[i]);
    }
  }
}

TEST(ImmediateSuccessor, ExhaustiveWithEveryOctetNearTheLimit) {
  // Apex of 252 octets: below it fit exactly the one-label names of 1 or 2
  // octets. Every octet value except uppercase (equal to lowercase) is in
  // the alphabet, so the set is every name of the zone and the successor
  // must be exactly the next one in canonical order.
  std::string alphabet;
  for (int c = 0; c < 256; ++c) {
    if (c < 'A' || c > 'Z') alphabet.push_back(static_cast<char>(c));
  }
  const std::string apex = NameOfLength(252);
  std::vector<std::string> all;
  Enumerate(apex, alphabet, &all);
  ASSERT_EQ(all.size(),
            1 + alphabet.size() + alphabet.size() * alphabet.size());
  SortCanonical(&all);
  ASSERT_EQ(all.front(), apex);
  for (size_t i = 0; i < all.size(); ++i) {
    auto s = ImmediateSuccessor(all[i], apex);
    ASSERT_TRUE(s.has_value());
    const std::string& want = i + 1 < all.size() ? all[i + 1] : apex;
    ASSERT_EQ(*s, want) << NameToText(all[i]) << " -> " << NameToText(*s)
                        << ", want " << NameToText(want);
  }
}

TEST(ImmediateSuccessor, ExhaustiveSmallAlphabetDeeper) {
  // Six octets of room: several labels deep. With a small alphabet the
  // successor may use octets outside it, so the check is that it is greater
  // and that no enumerated name lies strictly between.
  const std::string alphabet("\x00\x01@[a\xfe\xff", 7);
  for (size_t apex_len : {249, 250, 251}) {
    const std::string apex = NameOfLength(apex_len, 'q');
    std::vector<std::string> all;
    Enumerate(apex, alphabet, &all);
    SortCanonical(&all);
    for (size_t i = 0; i < all.size(); ++i) {
      auto s = ImmediateSuccessor(all[i], apex);
      ASSERT_TRUE(s.has_value());
      ASSERT_LE(s->size(), kMaxNameLength);
      ASSERT_TRUE(IsSubdomainOf(*s, apex));
      if (i + 1 == all.size()) {
        // Only the zone's last name may wrap to the apex.
        EXPECT_EQ(*s, apex);
        continue;
      }
      ASSERT_GT(CanonicalCompare(*s, all[i]), 0) << NameToText(all[i]);
      ASSERT_LE(CanonicalCompare(*s, all[i + 1]), 0)
          << NameToText(all[i]) << " -> " << NameToText(*s) << " skips "
          << NameToText(all[i + 1]);
    }
  }
}

TEST(ImmediateSuccessor, RandomNamesNearTheLimit) {
  RandomNames gen(4470);
  const std::string apexes[] = {Wire("e164.arpa."), Wire("."),
                                NameOfLength(200)};
  for (int i = 0; i < 4000; ++i) {
    const std::string& apex = apexes[i % 3];
    const std::string x = gen.Under(apex, i % 5 != 0);
    auto s = ImmediateSuccessor(x, apex);
    ASSERT_TRUE(s.has_value()) << NameToText(x);
    ASSERT_EQ(*s, LowercaseName(*s));
    ASSERT_LE(s->size(), kMaxNameLength);
    ASSERT_TRUE(IsSubdomainOf(*s, apex));
    if (*s == apex) continue;  // Wrapped: x is the zone's last name.
    ASSERT_GT(CanonicalCompare(*s, x), 0) << NameToText(x);
    // Nearby names: none may fall strictly between x and its successor.
    for (int k = 0; k < 20; ++k) {
      std::string y = gen.Under(apex, true);
      if (k % 2 == 0) {
        // Share x's parent: replace x's first label with a random one.
        const size_t first = 1 + static_cast<uint8_t>(x[0]);
        std::string parent = x.substr(first);
        if (parent.size() + 2 > kMaxNameLength) continue;
        std::string l = gen.Label(kMaxNameLength - parent.size() - 1);
        y = std::string(1, static_cast<char>(l.size())) + l + parent;
      }
      ASSERT_FALSE(CanonicalCompare(x, y) < 0 && CanonicalCompare(y, *s) < 0)
          << NameToText(x) << " < " << NameToText(y) << " < " << NameToText(*s);
    }
  }
}

}  // namespace
}  // namespace lufd::dns
