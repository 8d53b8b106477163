// Input validation at the edge (see validate.h).
//
// Everything here is a pure function of its argument: no I/O, no globals
// except immutable tables; thread-safe. Work is bounded by the field length
// limits, which are checked before any parsing, so hostile input (the Admin
// API and the fuzzers feed it) costs at most a few microseconds plus one
// regcomp of a <= 255-byte ERE whose repetition blow-up is capped below.
//
// Error messages name the field path ("naptr.regexp: ...") so an operator
// can find the problem in a batch of thousands of operations.
#include "server/core/validate.h"

#include <regex.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/unsafe_text.h"
#include "server/core/holdings.h"
#include "server/core/normalize.h"
#include "server/guard/guard_rule.h"  // Header-only: the rule names.

namespace lufd {
namespace {

using lufd::v1::NaptrRecord;
using lufd::v1::SedRecord;

constexpr size_t kMaxCharacterString =
    255;  // RFC 1035 §3.3 <character-string>.
constexpr size_t kMaxUri = 2048;
constexpr size_t kMaxId = 128;
constexpr size_t kMaxName = 256;
constexpr size_t kMaxDescription = 1024;
constexpr uint32_t kMaxU16 = 65535;
constexpr uint32_t kMaxTtl = 2147483647;  // RFC 2181 §8: TTL is 31 bits.
// glibc's regcomp expands bounded repetitions ("(x{255}){255}"), so nested
// intervals can make a 255-byte ERE cost gigabytes (and ~30 us per expanded
// node). Real ENUM regexps use a few small intervals ("[0-9]{4}"); cap the
// expanded size (see ScanEre) at ten times the longest literal ERE.
constexpr uint64_t kMaxEreExpansion = 2550;
// TSIG secrets: RFC 8945 §6 wants at least the HMAC output length (32 for
// SHA-256); 16 is accepted for peers with older provisioning, 64 is the
// SHA-256 block size (longer keys are hashed down anyway).
constexpr size_t kMinTsigSecret = 16;
constexpr size_t kMaxTsigSecret = 64;
constexpr absl::string_view kTsigHmacSha256 = "hmac-sha256";
// Non-terminal chains: see CountNonTerminalChain.
constexpr int kMaxChainLookups = 256;

absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool HasControl(absl::string_view s) {
  for (unsigned char c : s) {
    if (IsControl(c)) return true;
  }
  return false;
}

// Free text and URIs hold no character that is invisible or reorders the
// text around it when displayed (common/unsafe_text.h: bidi controls, zero
// widths, C1 controls, ...), and are valid UTF-8. The message names the
// code point: "org.name: contains U+202E (a bidirectional control
// character)".
absl::Status CheckDisplaySafe(absl::string_view field, absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t at = i;
    const int32_t cp = DecodeUtf8(text, &i);
    if (cp < 0) {
      return Invalid(field,
                     absl::StrCat("is not valid UTF-8 (at byte ", at, ")"));
    }
    if (const char* kind = UnsafeCodePointKind(cp)) {
      return Invalid(
          field, absl::StrCat("contains ", CodePointName(cp), " (", kind, ")"));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Names, ids, URIs.

// Object ids: 1..128 printable ASCII, no space and no '|' ('|' joins the two
// ids of an offer key, keys.h).
absl::Status CheckId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return Invalid(field, "required");
  if (id.size() > kMaxId) {
    return Invalid(field, absl::StrCat("longer than ", kMaxId, " bytes"));
  }
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f) {
      return Invalid(field,
                     "must be printable ASCII without spaces or controls");
    }
    if (c == '|') return Invalid(field, "must not contain '|'");
  }
  return absl::OkStatus();
}

// Org ids are "namespace:value" (e.g. "iana-en:32473"), so that ids from
// different numbering authorities cannot collide.
absl::Status CheckOrgId(absl::string_view field, absl::string_view id) {
  if (absl::Status s = CheckId(field, id); !s.ok()) return s;
  size_t colon = id.find(':');
  if (colon == absl::string_view::npos || colon == 0 ||
      colon + 1 == id.size()) {
    return Invalid(field, "expected \"namespace:value\", e.g. iana-en:32473");
  }
  for (size_t i = 0; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(id[i]);
    if (!absl::ascii_isalnum(c) && c != '-' && c != '.' && c != '_') {
      return Invalid(field, "namespace may hold only letters, digits, - . _");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view field, absl::string_view text,
                       size_t max) {
  if (text.size() > max) {
    return Invalid(field, absl::StrCat("longer than ", max, " bytes"));
  }
  if (HasControl(text)) return Invalid(field, "contains a control character");
  return CheckDisplaySafe(field, text);
}

// RFC 3986 §3.1 scheme, then something.
bool HasUriSchemeAndRest(absl::string_view s) {
  return HasUriScheme(s) && s.find(':') + 1 < s.size();
}

absl::Status CheckUri(absl::string_view field, absl::string_view uri) {
  if (uri.empty()) return Invalid(field, "required");
  if (uri.size() > kMaxUri) {
    return Invalid(field, absl::StrCat("longer than ", kMaxUri, " bytes"));
  }
  for (unsigned char c : uri) {
    if (IsControl(c) || absl::ascii_isspace(c)) {
      return Invalid(field, "must not contain whitespace or controls");
    }
  }
  if (absl::Status s = CheckDisplaySafe(field, uri); !s.ok()) return s;
  if (!HasUriSchemeAndRest(uri)) {
    return Invalid(field, "expected an absolute URI (scheme:...)");
  }
  return absl::OkStatus();
}

// A domain name in text form. `ldh_only` for host names (RFC 1123 §2.1);
// otherwise '_' is allowed too (service labels such as _sip._udp in a NAPTR
// replacement). `require_absolute`: must end with '.'.
absl::Status CheckDomain(absl::string_view field, absl::string_view name,
                         bool ldh_only, bool require_absolute) {
  if (name.empty()) return Invalid(field, "required");
  if (name.size() > 254 || (name.back() != '.' && name.size() > 253)) {
    return Invalid(field, "domain name longer than 253 characters");
  }
  if (name.back() == '.') {
    name.remove_suffix(1);
  } else if (require_absolute) {
    return Invalid(field, "must be an absolute domain name ending in '.'");
  }
  if (name.empty()) return Invalid(field, "the root is not allowed here");
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty()) return Invalid(field, "empty label");
    if (label.size() > 63) return Invalid(field, "label longer than 63");
    for (unsigned char c : label) {
      if (!absl::ascii_isalnum(c) && c != '-' && (ldh_only || c != '_')) {
        return Invalid(field, ldh_only
                                  ? "host names hold only letters, digits "
                                    "and '-'"
                                  : "labels hold only letters, digits, '-' "
                                    "and '_'");
      }
    }
    if (ldh_only && (label.front() == '-' || label.back() == '-')) {
      return Invalid(field, "label starts or ends with '-'");
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// NAPTR.

// RFC 6116 "Services Parameters" (RFC 3761 §2.4.2 before it):
//   service-field = "E2U" 1*(servicespec)
//   servicespec   = "+" enumservice
//   enumservice   = type 0*(subtypespec)
//   subtypespec   = ":" subtype
//   type, subtype = 1*32(ALPHA / DIGIT / "-")
// "E2U+sip", "E2U+voice:tel", "E2U+sip+voice:tel" (several enumservices).
absl::Status CheckServices(absl::string_view services) {
  constexpr absl::string_view kField = "naptr.services";
  if (services.size() > kMaxCharacterString) {
    return Invalid(kField, "longer than 255 bytes");
  }
  if (!absl::StartsWithIgnoreCase(services, "E2U+")) {
    return Invalid(kField, "expected \"E2U+<type>[:<subtype>]\" (RFC 6116)");
  }
  std::vector<absl::string_view> specs =
      absl::StrSplit(services.substr(4), '+');
  for (absl::string_view spec : specs) {
    if (spec.empty()) return Invalid(kField, "empty enumservice");
    std::vector<absl::string_view> tokens = absl::StrSplit(spec, ':');
    for (absl::string_view token : tokens) {
      if (token.empty() || token.size() > 32) {
        return Invalid(kField, "type/subtype must be 1..32 characters");
      }
      for (unsigned char c : token) {
        if (!absl::ascii_isalnum(c) && c != '-') {
          return Invalid(kField,
                         "type/subtype hold only letters, digits and '-'");
        }
      }
    }
  }
  return absl::OkStatus();
}

// Flags (RFC 3403 §4.1): single characters [A-Z0-9], case-insensitive.
// "S", "A", "U" are terminal (RFC 3404 §4.3) and mutually exclusive; ENUM
// (RFC 6116 §3.4.1) uses only "U" (terminal, the regexp yields a URI) or no
// flag (non-terminal, the rule yields another domain to query).
absl::Status CheckFlags(absl::string_view flags) {
  constexpr absl::string_view kField = "naptr.flags";
  if (flags.size() > kMaxCharacterString) {
    return Invalid(kField, "longer than 255 bytes");
  }
  bool seen[128] = {};
  int terminal = 0;
  for (unsigned char c : flags) {
    if (!absl::ascii_isalnum(c)) {
      return Invalid(kField, "flags are single characters [A-Z0-9]");
    }
    unsigned char u = static_cast<unsigned char>(absl::ascii_toupper(c));
    if (seen[u]) return Invalid(kField, "duplicate flag");
    seen[u] = true;
    if (u == 'S' || u == 'A' || u == 'U') ++terminal;
  }
  if (terminal > 1) {
    return Invalid(kField, "at most one terminal flag (S, A or U)");
  }
  return absl::OkStatus();
}

bool IsEreSpecial(char c) {
  return absl::string_view(".[]()*+?{}|^$\\").find(c) !=
         absl::string_view::npos;
}

// Walks the ERE (outside bracket expressions) to catch what regcomp either
// accepts silently or pays dearly for:
//  - an unescaped '+' with nothing to repeat ("^+1..."): POSIX leaves it
//    undefined and glibc takes it literally, while the AUS always begins
//    with a literal '+' that ENUM regexps must write as "\+";
//  - interval expressions whose expansion would blow up regcomp.
// Malformed brackets/intervals are left for regcomp to report.
// Parses an interval expression at ere[i] == '{': "{m}", "{m,}", "{m,n}",
// and also "{,n}", which glibc accepts as "{0,n}". On success sets *end to
// the index after '}' and *bound to the largest repeat count it allows
// ("{m,}" counts as m + 1: the expansion is m copies plus a star).
// Numbers are capped while parsing so the arithmetic cannot overflow.
bool ParseInterval(absl::string_view ere, size_t i, size_t* end,
                   uint64_t* bound) {
  size_t j = i + 1;
  uint64_t lo = 0, hi = 0;
  bool has_lo = false, has_comma = false, has_hi = false;
  while (j < ere.size() && absl::ascii_isdigit(ere[j])) {
    lo = std::min<uint64_t>(lo * 10 + static_cast<uint64_t>(ere[j] - '0'),
                            1000000);
    has_lo = true;
    ++j;
  }
  if (j < ere.size() && ere[j] == ',') {
    has_comma = true;
    ++j;
    while (j < ere.size() && absl::ascii_isdigit(ere[j])) {
      hi = std::min<uint64_t>(hi * 10 + static_cast<uint64_t>(ere[j] - '0'),
                              1000000);
      has_hi = true;
      ++j;
    }
  }
  if (!(has_lo || has_hi) || j >= ere.size() || ere[j] != '}') return false;
  *end = j + 1;
  *bound = has_hi ? std::max(lo, hi) : (has_comma ? lo + 1 : lo);
  return true;
}

absl::Status ScanEre(absl::string_view ere) {
  constexpr absl::string_view kField = "naptr.regexp";
  // Expansion cost model: every atom and every '|' costs 1, a group costs
  // what it holds, and an interval with upper bound B multiplies the
  // preceding atom's cost by B. Sequences add up, nesting multiplies: what
  // regcomp allocates.
  struct Frame {
    uint64_t total = 0;  // Cost of everything in this group so far.
    uint64_t last = 0;   // Cost of the last atom (what a repeat applies to).
  };
  std::vector<Frame> stack(1);
  auto atom = [&stack](uint64_t cost) {
    stack.back().total += cost;
    stack.back().last = cost;
  };
  bool at_start = true;       // Nothing to repeat yet (start, '(', '|', '^').
  bool after_repeat = false;  // The previous token was *, +, ? or {m,n}.
  size_t i = 0;
  while (i < ere.size()) {
    char c = ere[i];
    if (c == '\\') {
      if (i + 1 >= ere.size()) return Invalid(kField, "ERE ends with '\\'");
      i += 2;
      atom(1);
      at_start = false;
      after_repeat = false;
      continue;
    }
    if (c == '[') {
      size_t j = i + 1;
      if (j < ere.size() && ere[j] == '^') ++j;
      if (j < ere.size() && ere[j] == ']') ++j;
      while (j < ere.size() && ere[j] != ']') {
        if (ere[j] == '[' && j + 1 < ere.size() &&
            (ere[j + 1] == ':' || ere[j + 1] == '.' || ere[j + 1] == '=')) {
          char kind = ere[j + 1];
          size_t end =
              ere.find(absl::StrCat(absl::string_view(&kind, 1), "]"), j + 2);
          if (end == absl::string_view::npos) break;
          j = end + 2;
        } else {
          ++j;
        }
      }
      if (j >= ere.size()) return absl::OkStatus();  // regcomp reports it.
      i = j + 1;
      atom(1);
      at_start = false;
      after_repeat = false;
      continue;
    }
    const bool is_repeat = c == '*' || c == '+' || c == '?' || c == '{';
    size_t interval_end = 0;
    uint64_t bound = 0;
    const bool interval =
        c == '{' && ParseInterval(ere, i, &interval_end, &bound);
    if (is_repeat && after_repeat && (c != '{' || interval)) {
      // POSIX leaves "a+*", "a{2}{3}" undefined, and glibc's regcomp turns
      // long runs of them into exponential memory.
      return Invalid(kField, "stacked repetition operators (e.g. \"a+*\")");
    }
    if (c == '+' && at_start) {
      return Invalid(kField,
                     "unescaped '+' with nothing to repeat; match the "
                     "AUS's leading '+' with \"\\+\"");
    }
    if (interval) {
      if (bound > 255) return Invalid(kField, "interval bound larger than 255");
      Frame& f = stack.back();
      if (bound > 1) f.total += f.last * (bound - 1);
      f.last *= bound < 1 ? 1 : bound;
      if (f.total > kMaxEreExpansion) {
        return Invalid(kField, "interval repetitions too large");
      }
      i = interval_end;
      after_repeat = true;
      at_start = false;
      continue;
    }
    if (c == '(') {
      if (stack.size() > 64) return Invalid(kField, "groups nested too deep");
      stack.emplace_back();
    } else if (c == ')' && stack.size() > 1) {
      uint64_t group = stack.back().total + 1;
      stack.pop_back();
      atom(group);
    } else if (c == '|') {
      // POSIX leaves empty branches ("a||b", "(|a)", "a|") undefined, and
      // glibc's regcomp pays for each: 70 of them under "{255}" took 2 GB,
      // 60 under "{21,}" minutes of epsilon closures (naptr_fuzz).
      if (at_start || i + 1 >= ere.size() || ere[i + 1] == '|' ||
          ere[i + 1] == ')') {
        return Invalid(kField, "empty alternative (e.g. \"a||b\")");
      }
      stack.back().total += 1;  // Every branch is a node for regcomp.
    } else if (!is_repeat && c != '^' && c != '$') {
      atom(1);
    }
    if (stack.back().total > kMaxEreExpansion) {
      return Invalid(kField, "interval repetitions too large");
    }
    at_start = (c == '(' || c == '|' || (c == '^' && at_start));
    after_repeat = (c == '*' || c == '+' || c == '?') && !at_start;
    ++i;
  }
  return absl::OkStatus();
}

// regcomp's verdict on an ERE (REG_EXTENDED): its number of groups, or
// the regerror text. regcomp costs ~3 us even for "^.*$", and a bulk import
// repeats a handful of EREs ("^.*$", "^(.*)$") over every record, so recent
// verdicts are remembered, keyed by the exact ERE bytes. The verdict
// depends only on those bytes and the LC_CTYPE locale, which this process
// never changes (no setlocale: the "C" locale throughout). Per thread: the
// parallel validation of big batches takes no lock. Bounded: cleared when
// full, so hostile input cannot grow it.
absl::StatusOr<size_t> CompileEre(const std::string& ere) {
  constexpr size_t kMaxCachedEres = 256;
  struct Verdict {
    bool ok;
    size_t groups;
    std::string error;
  };
  thread_local absl::flat_hash_map<std::string, Verdict> cache;
  auto it = cache.find(ere);
  if (it == cache.end()) {
    Verdict v{true, 0, ""};
    regex_t compiled;
    int rc = regcomp(&compiled, ere.c_str(), REG_EXTENDED);
    if (rc != 0) {
      char buf[128];
      regerror(rc, &compiled, buf, sizeof(buf));
      // regfree is not called: on failure glibc frees the pattern itself.
      v = {false, 0, buf};
    } else {
      v.groups = compiled.re_nsub;
      regfree(&compiled);
    }
    if (cache.size() >= kMaxCachedEres) cache.clear();
    it = cache.emplace(ere, std::move(v)).first;
  }
  if (!it->second.ok) {
    return Invalid("naptr.regexp",
                   absl::StrCat("ERE does not compile: ", it->second.error));
  }
  return it->second.groups;
}

// RFC 3402 §3.2:
//   subst-expr   = delim-char ere delim-char repl delim-char *flags
//   delim-char   = "/" / "!" / <any octet not in POS-DIGIT or flags>
//   repl         = *(string / backref);  backref = "\" POS-DIGIT
//   flags        = "i"
// Every occurrence of the delimiter inside ere/repl must be escaped, so an
// unescaped scan finds exactly three. The only flag RFC 3402 defines, "i"
// (case-insensitive match), is refused: the ENUM AUS is "+" and digits
// (RFC 6116 §3.1), so case folding has nothing to act on and can only
// change a match by accident (our policy; RFC 3402 itself allows it). We
// also refuse digits (not only 1-9), '\' and space as delimiters because
// they make the escape rules ambiguous.
absl::Status CheckRegexp(absl::string_view regexp, bool terminal_uri) {
  constexpr absl::string_view kField = "naptr.regexp";
  if (regexp.size() > kMaxCharacterString) {
    return Invalid(kField, "longer than 255 bytes");
  }
  if (HasControl(regexp))
    return Invalid(kField, "contains a control character");
  if (absl::Status s = CheckDisplaySafe(kField, regexp); !s.ok()) return s;
  const char delim = regexp[0];
  if (absl::ascii_isdigit(static_cast<unsigned char>(delim)) || delim == 'i' ||
      delim == '\\' || delim == ' ') {
    return Invalid(kField,
                   "the delimiter (first character) must not be a digit, "
                   "'i', '\\' or space");
  }
  std::string ere;       // Delimiter escapes removed.
  std::string repl_raw;  // Escapes kept; interpreted below.
  absl::string_view flags;
  int delimiters = 1;
  for (size_t i = 1; i < regexp.size(); ++i) {
    char c = regexp[i];
    if (delimiters == 3) {
      flags = regexp.substr(i);
      break;
    }
    std::string& part = delimiters == 1 ? ere : repl_raw;
    if (c == '\\') {
      if (i + 1 >= regexp.size()) {
        return Invalid(kField, "ends with an unfinished '\\' escape");
      }
      char next = regexp[++i];
      if (delimiters == 1 && next == delim && !IsEreSpecial(delim)) {
        part.push_back(next);  // "\!" is a literal '!' in the ERE.
      } else {
        part.push_back('\\');
        part.push_back(next);
      }
      continue;
    }
    if (c == delim) {
      ++delimiters;
      continue;
    }
    part.push_back(c);
  }
  if (delimiters != 3) {
    return Invalid(kField, absl::StrCat("expected exactly 3 delimiters ('",
                                        absl::string_view(&delim, 1),
                                        "'), found ", delimiters));
  }
  if (flags.find(delim) != absl::string_view::npos) {
    return Invalid(kField, "expected exactly 3 delimiters, found more");
  }
  if (absl::StrContains(flags, 'i') || absl::StrContains(flags, 'I')) {
    return Invalid(kField,
                   "the 'i' flag is not allowed (the ENUM AUS is only '+' "
                   "and digits, RFC 6116 §3.1)");
  }
  if (!flags.empty()) {
    return Invalid(kField, "unknown flag after the last delimiter");
  }
  if (ere.empty()) return Invalid(kField, "empty ERE");
  if (absl::Status s = ScanEre(ere); !s.ok()) return s;

  absl::StatusOr<size_t> compiled = CompileEre(ere);
  if (!compiled.ok()) return compiled.status();
  const size_t groups = *compiled;

  // repl: backrefs \1-\9 must name an existing group; "\0" is not a backref
  // (POS-DIGIT). Other escapes stand for the escaped character.
  bool starts_with_backref = false;
  std::string literal_prefix;
  bool prefix_done = false;
  for (size_t i = 0; i < repl_raw.size(); ++i) {
    char c = repl_raw[i];
    if (c == '\\' && i + 1 < repl_raw.size()) {
      char next = repl_raw[++i];
      if (absl::ascii_isdigit(static_cast<unsigned char>(next))) {
        if (next == '0') {
          return Invalid(kField, "\\0 is not a back-reference (use \\1-\\9)");
        }
        size_t n = static_cast<size_t>(next - '0');
        if (n > groups) {
          return Invalid(kField, absl::StrCat("back-reference \\", n,
                                              " but the ERE "
                                              "has ",
                                              groups, " group(s)"));
        }
        if (literal_prefix.empty() && !prefix_done) starts_with_backref = true;
        prefix_done = true;
        continue;
      }
      if (!prefix_done) literal_prefix.push_back(next);
      continue;
    }
    if (!prefix_done) literal_prefix.push_back(c);
  }
  if (repl_raw.empty()) return Invalid(kField, "empty replacement part");
  // A terminal "U" rule's output is the URI itself (RFC 3404 §4.3); when
  // the replacement starts with literal text we can check its scheme.
  if (terminal_uri && !starts_with_backref) {
    size_t colon = literal_prefix.find(':');
    if (colon == std::string::npos ||
        !HasUriSchemeAndRest(
            absl::StrCat(literal_prefix.substr(0, colon), ":x"))) {
      return Invalid(kField,
                     "with flag 'U' the replacement must produce an absolute "
                     "URI (scheme:...)");
    }
  }
  return absl::OkStatus();
}

// Prefixes every error message of `status` with `prefix` ("sed_record.").
absl::Status Prefixed(absl::string_view prefix, absl::Status status) {
  if (status.ok() || prefix.empty()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

std::string CanonicalDomain(absl::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  return absl::AsciiStrToLower(d);
}

bool IsNonTerminal(const NaptrRecord& naptr) {
  return naptr.flags().empty() && !naptr.replacement().empty() &&
         naptr.replacement() != ".";
}

// Depth-first walk; `path` holds the domains on the current chain (for loop
// detection), `budget` bounds the total number of lookups.
absl::Status WalkChain(const std::string& domain, const NaptrLookupFn& lookup,
                       std::vector<std::string>* path, int* budget,
                       int* longest) {
  if (--*budget < 0) {
    return absl::InvalidArgumentError(
        "non-terminal NAPTR chains fan out too widely to check");
  }
  const int hops = static_cast<int>(path->size()) - 1;
  if (hops > *longest) *longest = hops;
  if (hops > kMaxNonTerminalHops) {
    return absl::InvalidArgumentError(
        absl::StrCat("naptr.replacement: non-terminal chain longer than ",
                     kMaxNonTerminalHops, " hops (RFC 6116 clients give up)"));
  }
  for (const NaptrRecord& naptr : lookup(domain)) {
    if (!IsNonTerminal(naptr)) continue;
    std::string next = CanonicalDomain(naptr.replacement());
    for (const std::string& seen : *path) {
      if (seen == next) {
        return absl::InvalidArgumentError(absl::StrCat(
            "naptr.replacement: non-terminal NAPTR loop through ", next));
      }
    }
    path->push_back(next);
    absl::Status s = WalkChain(next, lookup, path, budget, longest);
    path->pop_back();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Registry objects.

absl::Status CheckIdList(
    absl::string_view field,
    const google::protobuf::RepeatedPtrField<std::string>& ids) {
  absl::flat_hash_set<absl::string_view> seen;
  for (int i = 0; i < ids.size(); ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    if (absl::Status s = CheckId(f, ids[i]); !s.ok()) return s;
    if (!seen.insert(ids[i]).second) return Invalid(f, "duplicate id");
  }
  return absl::OkStatus();
}

// Normalizes what has one canonical text form, before validation, so that
// "Example.COM" style variations in a replacement do not matter for
// trailing dots. Case is preserved (DNS is case-insensitive anyway).
void NormalizeSedRecord(SedRecord* record) {
  if (record->has_naptr()) {
    std::string* replacement = record->mutable_naptr()->mutable_replacement();
    if (!replacement->empty() && replacement->back() != '.') {
      replacement->push_back('.');
    }
  } else if (record->has_ns()) {
    std::string* host = record->mutable_ns()->mutable_host();
    if (!host->empty() && host->back() != '.') host->push_back('.');
  }
}

absl::Status ValidateOrg(lufd::v1::Org* org) {
  if (absl::Status s = CheckOrgId("org.id", org->id()); !s.ok()) return s;
  if (absl::Status s = CheckText("org.name", org->name(), kMaxName); !s.ok()) {
    return s;
  }
  bool seen[8] = {};
  for (int i = 0; i < org->roles_size(); ++i) {
    int role = org->roles(i);
    if (role <= lufd::v1::ORG_ROLE_UNSPECIFIED ||
        role > lufd::v1::ORG_ROLE_PEER) {
      return Invalid(absl::StrCat("org.roles[", i, "]"), "unknown role");
    }
    if (seen[role]) {
      return Invalid(absl::StrCat("org.roles[", i, "]"), "duplicate role");
    }
    seen[role] = true;
  }
  if (!org->registrar_id().empty()) {
    if (absl::Status s = CheckOrgId("org.registrar_id", org->registrar_id());
        !s.ok()) {
      return s;
    }
  }
  // A misspelt rule would leave the rule enforced while its admin believes
  // it is in dry run.
  for (int i = 0; i < org->quota().dry_run_rules_size(); ++i) {
    if (!ParseGuardRule(org->quota().dry_run_rules(i)).has_value()) {
      return Invalid(absl::StrCat("org.quota.dry_run_rules[", i, "]"),
                     "unknown guard rule (rate, disclosure, misses, scan, "
                     "block, signing)");
    }
  }
  return absl::OkStatus();
}

// TSIG (RFC 8945) fields. Key names compare as DNS names, so they are
// stored in one form (lowercase, absolute) and the DNS side can look the
// name from the wire up by exact match.
absl::Status ValidateTsig(lufd::v1::Credential* credential) {
  if (credential->tsig_key_name().empty()) {
    if (!credential->tsig_algorithm().empty() ||
        !credential->tsig_secret().empty()) {
      return Invalid("credential.tsig_key_name",
                     "required with tsig_algorithm or tsig_secret");
    }
    return absl::OkStatus();
  }
  std::string name = absl::AsciiStrToLower(credential->tsig_key_name());
  if (name.back() != '.') name.push_back('.');
  if (absl::Status s = CheckDomain("credential.tsig_key_name", name,
                                   /*ldh_only=*/false,
                                   /*require_absolute=*/true);
      !s.ok()) {
    return s;
  }
  *credential->mutable_tsig_key_name() = std::move(name);
  std::string algorithm = absl::AsciiStrToLower(credential->tsig_algorithm());
  // RFC 8945 names algorithms as domain names; accept "hmac-sha256." too.
  if (!algorithm.empty() && algorithm.back() == '.') algorithm.pop_back();
  if (algorithm.empty()) algorithm = std::string(kTsigHmacSha256);
  if (algorithm != kTsigHmacSha256) {
    return Invalid("credential.tsig_algorithm",
                   "only hmac-sha256 is supported");
  }
  *credential->mutable_tsig_algorithm() = std::move(algorithm);
  size_t secret = credential->tsig_secret().size();
  if (secret < kMinTsigSecret || secret > kMaxTsigSecret) {
    return Invalid("credential.tsig_secret",
                   "must be 16..64 bytes (the raw HMAC key)");
  }
  return absl::OkStatus();
}

absl::Status ValidateCredential(lufd::v1::Credential* credential) {
  if (absl::Status s = CheckId("credential.id", credential->id()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckOrgId("credential.org_id", credential->org_id());
      !s.ok()) {
    return s;
  }
  int role = credential->role();
  if (role <= lufd::v1::ROLE_UNSPECIFIED || role > lufd::v1::ROLE_ADMIN) {
    return Invalid("credential.role", "required (peer, registrar or admin)");
  }
  if (credential->spki_sha256().empty() && credential->san_uri().empty() &&
      credential->tsig_key_name().empty()) {
    return Invalid("credential",
                   "spki_sha256, san_uri or tsig_key_name must be set");
  }
  if (absl::Status s = ValidateTsig(credential); !s.ok()) return s;
  if (!credential->spki_sha256().empty()) {
    std::string* spki = credential->mutable_spki_sha256();
    // People paste fingerprints in upper case and with ':' separators.
    std::string hex;
    for (char c : *spki) {
      if (c == ':') continue;
      hex.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    }
    if (hex.size() != 64) {
      return Invalid("credential.spki_sha256",
                     "expected 64 hex digits (SHA-256 of the DER SPKI)");
    }
    for (char c : hex) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
        return Invalid("credential.spki_sha256", "not hexadecimal");
      }
    }
    *spki = std::move(hex);
  }
  if (!credential->san_uri().empty()) {
    if (absl::Status s = CheckUri("credential.san_uri", credential->san_uri());
        !s.ok()) {
      return s;
    }
  }
  return CheckText("credential.description", credential->description(),
                   kMaxDescription);
}

// DNSSEC keys (registry.proto DnsKey). Only the public half is stored; the
// checks keep a bad object from ever reaching the DNSKEY RRset.
absl::Status ValidateDnsKey(lufd::v1::DnsKey* key) {
  std::string zone = absl::AsciiStrToLower(key->zone());
  if (!zone.empty() && zone.back() != '.') zone.push_back('.');
  if (absl::Status s = CheckDomain("dns_key.zone", zone, /*ldh_only=*/false,
                                   /*require_absolute=*/true);
      !s.ok()) {
    return s;
  }
  *key->mutable_zone() = std::move(zone);
  const bool sep = key->role() == lufd::v1::DNS_KEY_ROLE_CSK ||
                   key->role() == lufd::v1::DNS_KEY_ROLE_KSK;
  if (!sep && key->role() != lufd::v1::DNS_KEY_ROLE_ZSK) {
    return Invalid("dns_key.role", "required (csk, ksk or zsk)");
  }
  size_t public_key_size;
  switch (key->algorithm()) {
    case 13:  // ECDSAP256SHA256: x || y (RFC 6605 §4).
      public_key_size = 64;
      break;
    case 15:  // ED25519 (RFC 8080 §3).
      public_key_size = 32;
      break;
    default:
      return Invalid("dns_key.algorithm",
                     "13 (ECDSAP256SHA256) or 15 (ED25519)");
  }
  if (key->public_key().size() != public_key_size) {
    return Invalid("dns_key.public_key",
                   absl::StrCat("must be ", public_key_size,
                                " bytes for algorithm ", key->algorithm()));
  }
  // Zone Key bit (256), plus the SEP bit (1) for keys that sign DNSKEY.
  const uint32_t want_flags = sep ? 257 : 256;
  if (key->flags() == 0) key->set_flags(want_flags);
  if (key->flags() != want_flags) {
    return Invalid("dns_key.flags", sep ? "must be 257 for a ksk or csk"
                                        : "must be 256 for a "
                                          "zsk");
  }
  if (key->key_tag() > kMaxU16) {
    return Invalid("dns_key.key_tag", "must be <= 65535");
  }
  if (!lufd::v1::DnsKeyState_IsValid(key->state())) {
    return Invalid("dns_key.state", "unknown state");
  }
  const std::string& file = key->private_file();
  if (file.size() > kMaxName || HasControl(file) ||
      file.find('/') != std::string::npos || file == "." || file == ".." ||
      absl::StrContains(file, "..")) {
    return Invalid("dns_key.private_file",
                   "a plain file name inside the key directory (no '/', "
                   "no '..')");
  }
  if (absl::Status s = CheckDisplaySafe("dns_key.private_file", file);
      !s.ok()) {
    return s;
  }
  // Multi-signer owner: the instance id KeyManager writes (hex digits).
  const std::string& owner = key->owner();
  bool hex = owner.size() <= 32;
  for (char c : owner) hex = hex && absl::ascii_isxdigit(c);
  if (!hex) {
    return Invalid("dns_key.owner", "an instance id: at most 32 hex digits");
  }
  if (key->owner_host().size() > kMaxName || HasControl(key->owner_host())) {
    return Invalid("dns_key.owner_host", "a host name");
  }
  if (absl::Status s =
          CheckDisplaySafe("dns_key.owner_host", key->owner_host());
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

absl::Status NormalizeRn(std::string* value) {
  std::string digits;
  for (char c : *value) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    } else if (c != '-' && c != '.' && c != ' ') {
      return Invalid("identifier.value", "a routing number holds digits only");
    }
  }
  if (digits.empty() || digits.size() > 15) {
    return Invalid("identifier.value", "a routing number has 1..15 digits");
  }
  *value = std::move(digits);
  return absl::OkStatus();
}

absl::Status ValidateIdentifier(lufd::v1::PublicIdentifier* identifier) {
  constexpr absl::string_view kValue = "identifier.value";
  const bool ranged = identifier->kind() == lufd::v1::IDENTIFIER_KIND_TN_RANGE;
  if (!ranged && !identifier->range_end().empty()) {
    return Invalid("identifier.range_end", "only allowed for a TN range");
  }
  switch (identifier->kind()) {
    case lufd::v1::IDENTIFIER_KIND_TN: {
      auto n = NormalizeE164(identifier->value());
      if (!n.ok()) return Prefixed("identifier.value: ", n.status());
      identifier->set_value(*std::move(n));
      break;
    }
    case lufd::v1::IDENTIFIER_KIND_TN_RANGE: {
      auto start = NormalizeE164Prefix(identifier->value());
      if (!start.ok()) return Prefixed("identifier.value: ", start.status());
      auto end = NormalizeE164Prefix(identifier->range_end());
      if (!end.ok()) return Prefixed("identifier.range_end: ", end.status());
      // Same length keeps a range a box in the digit tree (and lets the
      // DNS engine synthesize it); equal-length digit strings compare like
      // the numbers they are.
      if (start->size() != end->size()) {
        return Invalid("identifier.range_end",
                       "must have as many digits as the range start");
      }
      if (*start > *end) {
        return Invalid("identifier.range_end", "is below the range start");
      }
      identifier->set_value(*std::move(start));
      identifier->set_range_end(*std::move(end));
      break;
    }
    case lufd::v1::IDENTIFIER_KIND_TN_PREFIX: {
      auto p = NormalizeE164Prefix(identifier->value());
      if (!p.ok()) return Prefixed("identifier.value: ", p.status());
      identifier->set_value(*std::move(p));
      break;
    }
    case lufd::v1::IDENTIFIER_KIND_RN:
      if (absl::Status s = NormalizeRn(identifier->mutable_value()); !s.ok()) {
        return s;
      }
      break;
    case lufd::v1::IDENTIFIER_KIND_URI: {
      std::string trimmed(absl::StripAsciiWhitespace(identifier->value()));
      if (absl::Status s = CheckUri(kValue, trimmed); !s.ok()) return s;
      identifier->set_value(std::move(trimmed));
      break;
    }
    default:
      return Invalid("identifier.kind",
                     "required (tn, range, prefix, rn, uri)");
  }
  if (absl::Status s =
          CheckOrgId("identifier.registrant_id", identifier->registrant_id());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckIdList("identifier.dest_group_ids",
                                   identifier->dest_group_ids());
      !s.ok()) {
    return s;
  }
  for (int i = 0; i < identifier->records_size(); ++i) {
    SedRecord* record = identifier->mutable_records(i);
    NormalizeSedRecord(record);
    std::string prefix = absl::StrCat("identifier.records[", i, "].");
    if (!record->id().empty()) {
      if (absl::Status s = CheckId(absl::StrCat(prefix, "id"), record->id());
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = Prefixed(prefix, ValidateSedRecord(*record));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSedGroup(const lufd::v1::SedGroup& group) {
  if (absl::Status s = CheckId("sed_group.id", group.id()); !s.ok()) return s;
  if (absl::Status s =
          CheckOrgId("sed_group.registrant_id", group.registrant_id());
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckIdList("sed_group.dest_group_ids", group.dest_group_ids());
      !s.ok()) {
    return s;
  }
  if (group.priority() > kMaxU16) {
    return Invalid("sed_group.priority", "must be <= 65535");
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (int i = 0; i < group.records_size(); ++i) {
    const lufd::v1::SedRecordRef& ref = group.records(i);
    std::string f = absl::StrCat("sed_group.records[", i, "]");
    if (absl::Status s =
            CheckId(absl::StrCat(f, ".record_id"), ref.record_id());
        !s.ok()) {
      return s;
    }
    if (!seen.insert(ref.record_id()).second) {
      return Invalid(absl::StrCat(f, ".record_id"), "duplicate record");
    }
    if (ref.priority() > kMaxU16) {
      return Invalid(absl::StrCat(f, ".priority"), "must be <= 65535");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateNaptr(const NaptrRecord& naptr) {
  if (naptr.order() > kMaxU16)
    return Invalid("naptr.order", "must be <= 65535");
  if (naptr.preference() > kMaxU16) {
    return Invalid("naptr.preference", "must be <= 65535");
  }
  if (absl::Status s = CheckFlags(naptr.flags()); !s.ok()) return s;
  const bool terminal_uri =
      naptr.flags().find_first_of("uU") != std::string::npos;
  // RFC 3403 §4.1: the replacement "." means "no replacement".
  const bool has_replacement =
      !naptr.replacement().empty() && naptr.replacement() != ".";
  const bool has_regexp = !naptr.regexp().empty();
  if (has_regexp == has_replacement) {
    return Invalid("naptr", "exactly one of regexp and replacement is set");
  }
  // Services: required for a terminal rule (it says what the URI is for);
  // a non-terminal rule may leave it empty (RFC 3403 §4.1).
  if (!naptr.services().empty() || terminal_uri) {
    if (absl::Status s = CheckServices(naptr.services()); !s.ok()) return s;
  }
  if (has_regexp) return CheckRegexp(naptr.regexp(), terminal_uri);
  if (terminal_uri) {
    return Invalid("naptr.replacement",
                   "flag 'U' needs a regexp that yields the URI, not a "
                   "replacement");
  }
  return CheckDomain("naptr.replacement", naptr.replacement(),
                     /*ldh_only=*/false, /*require_absolute=*/true);
}

absl::Status ValidateSedRecord(const SedRecord& record) {
  if (record.ttl() > kMaxTtl) return Invalid("ttl", "must be <= 2147483647");
  switch (record.rdata_case()) {
    case SedRecord::kNaptr:
      return ValidateNaptr(record.naptr());
    case SedRecord::kUri: {
      const lufd::v1::UriRecord& uri = record.uri();
      if (uri.priority() > kMaxU16) {
        return Invalid("uri.priority", "must be <= 65535");
      }
      if (uri.weight() > kMaxU16) {
        return Invalid("uri.weight", "must be <= 65535");
      }
      return CheckUri("uri.target", uri.target());
    }
    case SedRecord::kNs:
      return CheckDomain("ns.host", record.ns().host(), /*ldh_only=*/true,
                         /*require_absolute=*/false);
    case SedRecord::RDATA_NOT_SET:
      break;
  }
  return Invalid("rdata", "one of naptr, uri, ns is required");
}

absl::StatusOr<int> CountNonTerminalChain(absl::string_view domain,
                                          const NaptrLookupFn& lookup) {
  std::vector<std::string> path = {CanonicalDomain(domain)};
  int budget = kMaxChainLookups;
  int longest = 0;
  absl::Status s = WalkChain(path[0], lookup, &path, &budget, &longest);
  if (!s.ok()) return s;
  return longest;
}

absl::Status ValidateAndNormalize(lufd::v1::RegistryObject* object) {
  if (object == nullptr) return Invalid("object", "missing");
  switch (object->object_case()) {
    case lufd::v1::RegistryObject::kOrg:
      return ValidateOrg(object->mutable_org());
    case lufd::v1::RegistryObject::kCredential:
      return ValidateCredential(object->mutable_credential());
    case lufd::v1::RegistryObject::kIdentifier:
      return ValidateIdentifier(object->mutable_identifier());
    case lufd::v1::RegistryObject::kDestGroup: {
      const lufd::v1::DestinationGroup& group = object->dest_group();
      if (absl::Status s = CheckId("dest_group.id", group.id()); !s.ok()) {
        return s;
      }
      return CheckOrgId("dest_group.registrant_id", group.registrant_id());
    }
    case lufd::v1::RegistryObject::kSedRecord: {
      SedRecord* record = object->mutable_sed_record();
      if (absl::Status s = CheckId("sed_record.id", record->id()); !s.ok()) {
        return s;
      }
      if (absl::Status s =
              CheckOrgId("sed_record.registrant_id", record->registrant_id());
          !s.ok()) {
        return s;
      }
      NormalizeSedRecord(record);
      return Prefixed("sed_record.", ValidateSedRecord(*record));
    }
    case lufd::v1::RegistryObject::kSedGroup:
      return ValidateSedGroup(object->sed_group());
    case lufd::v1::RegistryObject::kOffer: {
      const lufd::v1::Offer& offer = object->offer();
      if (absl::Status s = CheckId("offer.sed_group_id", offer.sed_group_id());
          !s.ok()) {
        return s;
      }
      if (absl::Status s = CheckOrgId("offer.peer_org_id", offer.peer_org_id());
          !s.ok()) {
        return s;
      }
      // The status is ignored on put (registry.h) but must still be a value
      // the enum knows, so that stored images always parse.
      if (!lufd::v1::OfferStatus_IsValid(offer.status())) {
        return Invalid("offer.status", "unknown status");
      }
      return absl::OkStatus();
    }
    case lufd::v1::RegistryObject::kDnsKey:
      return ValidateDnsKey(object->mutable_dns_key());
    case lufd::v1::RegistryObject::kHolding:
      return ValidateHolding(object->mutable_holding());
    case lufd::v1::RegistryObject::OBJECT_NOT_SET:
      break;
  }
  return Invalid("object", "no object set");
}

absl::Status ValidateHolding(lufd::v1::Holding* holding) {
  if (!IsNumberSpaceKind(holding->kind())) {
    return Invalid("holding.kind", "required (tn, range, prefix)");
  }
  // The block is normalized exactly as the identifier of the same block,
  // so that both get the same key.
  lufd::v1::PublicIdentifier as_identifier;
  as_identifier.set_kind(holding->kind());
  as_identifier.set_value(holding->value());
  as_identifier.set_range_end(holding->range_end());
  as_identifier.set_registrant_id(holding->registrant_id());
  if (absl::Status s = ValidateIdentifier(&as_identifier); !s.ok()) {
    std::string message(s.message());
    if (absl::StartsWith(message, "identifier.")) {
      message.replace(0, strlen("identifier."), "holding.");
    }
    return absl::InvalidArgumentError(message);
  }
  if (holding->kind() == lufd::v1::IDENTIFIER_KIND_TN_PREFIX &&
      as_identifier.value().size() == 16) {
    return Invalid("holding.value",
                   "a 15-digit prefix is one number: hold it as a tn");
  }
  if (!holding->ported_from().empty()) {
    if (absl::Status s =
            CheckOrgId("holding.ported_from", holding->ported_from());
        !s.ok()) {
      return s;
    }
  }
  holding->set_value(as_identifier.value());
  holding->set_range_end(as_identifier.range_end());
  return absl::OkStatus();
}

absl::Status ValidateClientTxnId(absl::string_view client_txn_id) {
  constexpr absl::string_view kField = "client_txn_id";
  if (client_txn_id.size() > kMaxClientTxnIdBytes) {
    return Invalid(
        kField, absl::StrCat("longer than ", kMaxClientTxnIdBytes, " bytes"));
  }
  for (unsigned char c : client_txn_id) {
    if (c < 0x20 || c > 0x7e) {
      return Invalid(kField,
                     "only printable ASCII is allowed (no control characters "
                     "or newlines)");
    }
  }
  return absl::OkStatus();
}

}  // namespace lufd
