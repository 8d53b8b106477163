// covering.h: the closest-encloser walk and the covering NSEC names, by
// example (the table in covering.h, row by row) and as properties over
// random registries and random query names: the first NSEC covers the qname
// and (through its names) points validators at E as the closest encloser,
// the wildcard *.E is covered, and no name that exists is ever covered.
#include "server/dns/covering.h"

#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/dns/canonical.h"
#include "server/dns/wire.h"

namespace lufd::dns {
namespace {

const std::string kApex(
    "\x04"
    "e164\x04"
    "arpa\x00",
    11);

std::string W(const std::string& text) {
  auto wire = NameFromText(text);
  EXPECT_TRUE(wire.has_value()) << text;
  return wire ? LowercaseName(*wire) : std::string();
}
std::string T(const std::string& wire) { return NameToText(wire); }

// <label>.<suffix> in wire form.
std::string Under(const std::string& label, const std::string& suffix) {
  return std::string(1, static_cast<char>(label.size())) + label + suffix;
}

// The wire name of the E.164 digits `d` ("1202" -> 2.0.2.1.<apex>).
std::string NumberName(const std::string& d) {
  std::string name = kApex;
  for (char c : d) name = Under(std::string(1, c), name);
  return name;
}

size_t Labels(std::string_view wire) {
  size_t n = 0;
  for (size_t pos = 0; pos < wire.size() && wire[pos] != 0;
       pos += 1 + static_cast<uint8_t>(wire[pos])) {
    ++n;
  }
  return n;
}

// How many labels, from the root, `a` and `b` share.
size_t CommonLabels(std::string_view a, std::string_view b) {
  std::vector<std::string_view> la, lb;
  for (auto [w, l] : {std::pair{a, &la}, std::pair{b, &lb}}) {
    for (size_t pos = 0; pos < w.size() && w[pos] != 0;
         pos += 1 + static_cast<uint8_t>(w[pos])) {
      l->push_back(w.substr(pos + 1, static_cast<uint8_t>(w[pos])));
    }
  }
  size_t n = 0;
  while (n < la.size() && n < lb.size() &&
         LowercaseName(std::string(la[la.size() - 1 - n])) ==
             LowercaseName(std::string(lb[lb.size() - 1 - n]))) {
    ++n;
  }
  return n;
}

bool StrictlyBetween(const std::string& lo, const std::string& x,
                     const std::string& hi) {
  return CanonicalCompare(lo, x) < 0 && CanonicalCompare(x, hi) < 0;
}

// ------------------------------------------------------------ the table

struct Row {
  std::string c;            // The label's octets.
  std::string owner, next;  // Labels under E; empty = no answer.
  bool single = false;      // The first NSEC covers *.E too.
};

TEST(CoveringNamesTest, TableRows) {
  const std::string e = W("5.5.5.2.0.2.1.e164.arpa.");
  const std::string z("\0", 1), sz("*\0", 2);
  const std::vector<Row> rows = {
      {"5", std::string("4\0", 2), std::string("5\0", 2)},
      {"1", std::string("0\0", 2), std::string("1\0", 2)},
      {"0", sz, std::string("0\0", 2)},
      {"9", std::string("8\0", 2), std::string("9\0", 2)},
      {"12", std::string("1\0", 2), std::string("12\0", 3)},
      {"5a", std::string("5\0", 2), std::string("5a\0", 3)},
      {"5A", std::string("5\0", 2), std::string("5a\0", 3)},
      {"_ta-4f66", std::string("9\0", 2), std::string(63, '\xff')},
      {"x", std::string("9\0", 2), std::string(63, '\xff')},
      {"ZZ", std::string("9\0", 2), std::string(63, '\xff')},
      {"9\1", std::string("9\0", 2), std::string("9\1\0", 3)},
      {"+", sz, std::string("+\0", 2)},
      {"*a", sz, std::string("*a\0", 3)},
      {"*", z, sz, true},
      {"\1", z, sz, true},
      {"!", z, sz, true},
      {std::string("\0\0", 2), z, sz, true},
      {z, "", ""},
      {sz, "", ""},
      {std::string("5\0", 2), "", ""},
      {std::string("0\0", 2), "", ""},
      {std::string(63, '\xff'), "", ""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(T(Under(row.c, e)));
    auto got = CoveringNames(e, row.c);
    if (row.owner.empty()) {
      EXPECT_FALSE(got.has_value());
      continue;
    }
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(T(got->owner), T(Under(row.owner, e)));
    EXPECT_EQ(T(got->next), T(Under(row.next, e)));
    if (row.single) {
      EXPECT_TRUE(got->wildcard_owner.empty());
      EXPECT_TRUE(got->wildcard_next.empty());
    } else {
      EXPECT_EQ(T(got->wildcard_owner), "\\000.5.5.5.2.0.2.1.e164.arpa.");
      EXPECT_EQ(T(got->wildcard_next), "*\\000.5.5.5.2.0.2.1.e164.arpa.");
    }
  }
}

TEST(CoveringNamesTest, MaxLengthLabelsUseTheLabelSuccessor) {
  // A 63-octet label cannot grow: its last octet below \377 goes up.
  std::string c = "5" + std::string(61, 'a') + "\xff";
  auto got = CoveringNames(kApex, c);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->next, Under("5" + std::string(60, 'a') + "b", kApex));
  // The successor of '@' in canonical (lowercase) order is '['.
  got = CoveringNames(kApex, "5" + std::string(61, 'a') + "@");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->next, Under("5" + std::string(61, 'a') + "[", kApex));
  c = "5" + std::string(62, '\xff');
  got = CoveringNames(kApex, c);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->next, Under("6", kApex));  // Not covered: range is open.
  // Near 255 octets the non-digit range's next label shrinks to fit.
  std::string e = kApex;
  while (e.size() + 64 <= 240) e = Under(std::string(63, 'q'), e);
  got = CoveringNames(e, "x");
  ASSERT_TRUE(got.has_value());
  EXPECT_LE(got->next.size(), 255u);
  EXPECT_EQ(got->next.size(), 255u);
  // Names that cannot be written: no answer.
  std::string long_e = kApex;  // 11 + 3 * 64 + 50 = 253 octets.
  for (int i = 0; i < 3; ++i) long_e = Under(std::string(63, 'q'), long_e);
  long_e = Under(std::string(49, 'q'), long_e);
  ASSERT_EQ(long_e.size(), 253u);
  EXPECT_FALSE(CoveringNames(long_e, "5").has_value());  // 4\000.E: 256.
}

TEST(FindClosestEncloserTest, WalksDownWhileNamesExist) {
  std::set<std::string> existing = {"1", "12", "120", "1202"};
  auto exists = [&](std::string_view e164) {
    return existing.count(std::string(e164.substr(1))) > 0;
  };
  auto check = [&](const std::string& qname_text, const std::string& e_text,
                   const std::string& c_text) {
    SCOPED_TRACE(qname_text);
    const std::string q = W(qname_text);
    auto enc = FindClosestEncloser(q, kApex, exists);
    ASSERT_TRUE(enc.has_value());
    EXPECT_EQ(T(q.substr(enc->e_offset)), e_text);
    EXPECT_EQ(T(q.substr(enc->c_offset)), c_text);
  };
  check("9.9.2.0.2.1.e164.arpa.", "2.0.2.1.e164.arpa.", "9.2.0.2.1.e164.arpa.");
  check("5.e164.arpa.", "e164.arpa.", "5.e164.arpa.");
  check("_ta-4f66.e164.arpa.", "e164.arpa.", "_ta-4f66.e164.arpa.");
  check("_sip.2.1.e164.arpa.", "2.1.e164.arpa.", "_sip.2.1.e164.arpa.");
  check("3.3.x.2.1.e164.arpa.", "2.1.e164.arpa.", "x.2.1.e164.arpa.");
  EXPECT_FALSE(FindClosestEncloser(W("2.0.2.1.e164.arpa."), kApex, exists));
  EXPECT_FALSE(FindClosestEncloser(kApex, kApex, exists));
  EXPECT_FALSE(FindClosestEncloser(W("1.example."), kApex, exists));
  // Past 15 digits nothing exists, whatever `exists` says.
  auto all = [](std::string_view) { return true; };
  std::string deep = "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.e164.arpa.";
  auto enc = FindClosestEncloser(W(deep), kApex, all);
  ASSERT_TRUE(enc.has_value());
  EXPECT_EQ(Labels(W(deep).substr(enc->e_offset)), 17u);
}

// ------------------------------------------------------------ properties

// A random label: mostly digits (so names hit the registry), else octets
// that probe the table's edges.
std::string RandomLabel(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> pick(0, 99);
  const int p = pick(rng);
  if (p < 70) return std::string(1, static_cast<char>('0' + rng() % 10));
  static const std::vector<std::string> kEdges = {std::string("\0", 1),
                                                  "*",
                                                  std::string("*\0", 2),
                                                  std::string("5\0", 2),
                                                  std::string("9\0", 2),
                                                  "_ta-4f66",
                                                  "_sip",
                                                  "9a",
                                                  "/",
                                                  ":",
                                                  "12",
                                                  std::string(63, '\xff'),
                                                  "5" + std::string(62, '\xff'),
                                                  "5" + std::string(62, '@'),
                                                  "/" + std::string(62, '@'),
                                                  "A",
                                                  "Z9",
                                                  std::string("\0\0", 2),
                                                  "\xff"};
  if (p < 85) return kEdges[rng() % kEdges.size()];
  std::string label(1 + rng() % 63, '\0');
  for (char& c : label) c = static_cast<char>(rng() % 256);
  return label;
}

TEST(CoveringPropertyTest, RandomRegistriesAndNames) {
  std::mt19937_64 rng(20261207);
  int covered = 0, fallbacks = 0;
  for (int round = 0; round < 300; ++round) {
    // A random registry over a small alphabet (so names share prefixes),
    // closed under prefixes: every ancestor of data exists (ENT).
    std::set<std::string> digits;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      std::string d;
      const size_t len = 1 + rng() % 8;
      for (size_t j = 0; j < len; ++j) d.push_back("0129"[rng() % 4]);
      for (size_t j = 1; j <= d.size(); ++j) digits.insert(d.substr(0, j));
    }
    std::vector<std::string> names = {kApex};
    for (const auto& d : digits) names.push_back(NumberName(d));
    auto exists = [&](std::string_view e164) {
      return digits.count(std::string(e164.substr(1))) > 0;
    };
    for (int k = 0; k < 200; ++k) {
      // A qname: some existing number (or the apex), then random labels.
      std::string q = names[rng() % names.size()];
      const size_t extra = 1 + rng() % 4;
      for (size_t i = 0; i < extra; ++i) {
        std::string label = RandomLabel(rng);
        if (q.size() + 1 + label.size() > 255) break;
        q = Under(label, q);
      }
      if (q == names[0]) continue;
      SCOPED_TRACE(T(q));
      auto enc = FindClosestEncloser(q, kApex, exists);
      if (!enc) {
        // Only an existing name has no encloser below it.
        bool found = false;
        for (const auto& x : names) found = found || LowercaseName(q) == x;
        EXPECT_TRUE(found);
        continue;
      }
      const std::string lq = LowercaseName(q);
      const std::string e = lq.substr(enc->e_offset);
      const std::string ce = lq.substr(enc->c_offset);
      // E exists, C.E does not.
      bool e_exists = false, c_exists = false;
      for (const auto& x : names) {
        e_exists = e_exists || x == e;
        c_exists = c_exists || x == ce;
      }
      EXPECT_TRUE(e_exists);
      EXPECT_FALSE(c_exists);
      const std::string c = ce.substr(1, static_cast<uint8_t>(ce[0]));
      auto got = CoveringNames(e, c);
      if (!got) {
        // Only the table's "none" rows.
        const bool digit_zero =
            c.size() == 2 && c[1] == '\0' && c[0] >= '0' && c[0] <= '9';
        const bool max_ff = c.find_first_not_of('\xff') == std::string::npos;
        EXPECT_TRUE(c == std::string("\0", 1) || c == std::string("*\0", 2) ||
                    digit_zero || max_ff || ce.size() + 2 > 255)
            << "unexpected fallback";
        ++fallbacks;
        continue;
      }
      ++covered;
      // The first NSEC covers the qname and C.E; the common labels tell
      // a validator E is the closest encloser (RFC 4035 section 5.4).
      EXPECT_TRUE(StrictlyBetween(got->owner, lq, got->next));
      EXPECT_TRUE(StrictlyBetween(got->owner, ce, got->next));
      EXPECT_EQ(
          std::max(CommonLabels(lq, got->owner), CommonLabels(lq, got->next)),
          Labels(e));
      const std::string wildcard = Under("*", e);
      const std::string& wo =
          got->wildcard_owner.empty() ? got->owner : got->wildcard_owner;
      const std::string& wn =
          got->wildcard_owner.empty() ? got->next : got->wildcard_next;
      EXPECT_TRUE(StrictlyBetween(wo, wildcard, wn));
      for (const std::string* name :
           std::vector<const std::string*>{&got->owner, &got->next, &wo, &wn}) {
        EXPECT_LE(name->size(), 255u);
        EXPECT_TRUE(IsSubdomainOf(*name, e));
        EXPECT_EQ(*name, LowercaseName(*name));
      }
      // No existing name is covered, nor is an NSEC owned by one.
      for (const auto& x : names) {
        EXPECT_FALSE(StrictlyBetween(got->owner, x, got->next)) << T(x);
        EXPECT_FALSE(StrictlyBetween(wo, x, wn)) << T(x);
        EXPECT_NE(got->owner, x);
        EXPECT_NE(wo, x);
      }
      // Data independence: the same (E, C) under another registry gives
      // the same names (the function never saw the registry at all; this
      // pins that it depends on E and C only, not on the qname below C).
      auto again = CoveringNames(e, c);
      ASSERT_TRUE(again.has_value());
      EXPECT_EQ(again->owner, got->owner);
      EXPECT_EQ(again->next, got->next);
    }
  }
  EXPECT_GT(covered, 10000);
  EXPECT_GT(fallbacks, 0);
}

}  // namespace
}  // namespace lufd::dns
