// E.164 / AUS normalization and ENUM domain conversion (see normalize.h).
//
// RFC 6116 §3.1: the Application Unique String is the E.164 number with a
// leading '+' and only digits; §3.2: the first well-known rule strips all
// but the digits, reverses them, dots them and appends the apex. Inputs come
// from untrusted clients, so every function here bounds its work by the
// input length (rejected above kMaxInput) and never throws. Pure functions;
// thread-safe.
#include "server/core/normalize.h"

#include <algorithm>
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace lufd {
namespace {

// Longer than any sane number or SIP URI a peer would look up; keeps the
// cost of a hostile query trivially small.
constexpr size_t kMaxInput = 256;
// ITU-T E.164 §6: at most 15 digits including the country code.
constexpr int kMaxE164Digits = 15;

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

absl::Status CheckRaw(absl::string_view input, absl::string_view what) {
  if (input.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty"));
  }
  if (input.size() > kMaxInput) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": longer than ", kMaxInput, " bytes"));
  }
  for (unsigned char c : input) {
    if (IsControl(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": contains a control character"));
    }
  }
  return absl::OkStatus();
}

// RFC 3966 visual-separator plus the space and parentheses people type.
bool IsVisualSeparator(char c) {
  return c == '-' || c == '.' || c == ' ' || c == '(' || c == ')';
}

// "+44-20-7946-0148" -> "+442079460148". No scheme handling here.
absl::StatusOr<std::string> NormalizeGlobalNumber(absl::string_view s,
                                                  absl::string_view what) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty() || s[0] != '+') {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": must start with '+' and the country code"));
  }
  std::string out = "+";
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      if (out.size() - 1 >= static_cast<size_t>(kMaxE164Digits)) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": more than ", kMaxE164Digits, " digits (E.164)"));
      }
      out.push_back(c);
    } else if (!IsVisualSeparator(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": unexpected character '", absl::string_view(&s[i], 1),
          "' (only digits and - . ( ) space allowed)"));
    }
  }
  if (out.size() == 1) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no digits"));
  }
  if (out[1] == '0') {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": country code cannot start with 0"));
  }
  return out;
}

bool StartsWithScheme(absl::string_view s, absl::string_view scheme) {
  return s.size() > scheme.size() && absl::StartsWithIgnoreCase(s, scheme);
}

// "tel:+1-202-555-0123;ext=1;phone-context=x" -> "+12025550123". Only global
// numbers (RFC 3966 §5.1.4) name an E.164 number; a local number is only
// meaningful inside its phone-context, so it is rejected, not guessed at.
absl::StatusOr<std::string> NormalizeTelUri(absl::string_view uri) {
  absl::string_view rest = uri.substr(4);  // After "tel:".
  absl::string_view number = rest.substr(0, rest.find(';'));
  if (number.empty() || number[0] != '+') {
    return absl::InvalidArgumentError(
        "tel URI: not a global number (RFC 3966 local numbers have no "
        "E.164 form)");
  }
  // RFC 3966 allows no spaces or parentheses in a global number's digits,
  // but accepting them costs nothing and matches the plain-number form.
  return NormalizeGlobalNumber(number, "tel URI");
}

// A sip:/sips: URI names an E.164 number only when it says user=phone
// (RFC 3261 §19.1.1) and its user part is a global number; then the user
// part (minus its own tel parameters such as ";npdi") is the number.
// Returns true and sets *number in that case; false for other SIP URIs.
absl::StatusOr<bool> SipPhoneNumber(absl::string_view uri,
                                    std::string* number) {
  size_t colon = uri.find(':');
  absl::string_view rest = uri.substr(colon + 1);
  size_t at = rest.find('@');
  if (at == absl::string_view::npos) return false;
  absl::string_view user = rest.substr(0, at);
  absl::string_view host_and_params = rest.substr(at + 1);
  // URI parameters end at the headers ('?').
  host_and_params = host_and_params.substr(0, host_and_params.find('?'));
  bool user_phone = false;
  size_t pos = host_and_params.find(';');
  while (pos != absl::string_view::npos) {
    size_t next = host_and_params.find(';', pos + 1);
    absl::string_view param = host_and_params.substr(
        pos + 1, next == absl::string_view::npos ? absl::string_view::npos
                                                 : next - pos - 1);
    if (absl::EqualsIgnoreCase(param, "user=phone")) user_phone = true;
    pos = next;
  }
  if (!user_phone) return false;
  absl::string_view phone = user.substr(0, user.find(';'));
  if (phone.empty() || phone[0] != '+') {
    return absl::InvalidArgumentError(
        "sip URI: user=phone but the user part is not a global number");
  }
  auto normalized = NormalizeGlobalNumber(phone, "sip URI user part");
  if (!normalized.ok()) return normalized.status();
  *number = *std::move(normalized);
  return true;
}

// Lowercase and drop one trailing dot, for comparing domain names.
std::string CanonicalDomain(absl::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  return absl::AsciiStrToLower(d);
}

}  // namespace

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
bool HasUriScheme(absl::string_view s) {
  size_t colon = s.find(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (size_t i = 1; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> NormalizeE164(absl::string_view input) {
  if (absl::Status s = CheckRaw(input, "number"); !s.ok()) return s;
  absl::string_view s = absl::StripAsciiWhitespace(input);
  if (StartsWithScheme(s, "tel:")) return NormalizeTelUri(s);
  return NormalizeGlobalNumber(s, "number");
}

absl::StatusOr<std::string> NormalizeE164Prefix(absl::string_view input) {
  // A prefix or range bound is a run of leading digits, not a number anyone
  // dials, so it takes no URI form; otherwise the rules are the same (a
  // prefix may be as short as the first digit of a country code).
  if (absl::Status s = CheckRaw(input, "prefix"); !s.ok()) return s;
  return NormalizeGlobalNumber(input, "prefix");
}

std::string E164ToEnumDomain(absl::string_view e164, absl::string_view apex) {
  std::string out;
  out.reserve(e164.size() * 2 + apex.size() + 1);
  for (auto it = e164.rbegin(); it != e164.rend(); ++it) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(*it))) {
      out.push_back(*it);
      out.push_back('.');
    }
  }
  if (!apex.empty() && apex.front() == '.') apex.remove_prefix(1);
  absl::StrAppend(&out, apex);
  return out;
}

absl::StatusOr<std::string> EnumDomainToE164(absl::string_view domain,
                                             absl::string_view apex) {
  if (absl::Status s = CheckRaw(domain, "domain"); !s.ok()) return s;
  std::string d = CanonicalDomain(domain);
  std::string a = CanonicalDomain(apex);
  if (!a.empty() && a.front() == '.') a.erase(0, 1);
  // The apex must match whole labels: "1.xe164.arpa" is not under
  // "e164.arpa".
  std::string digits_part;
  if (a.empty()) {
    digits_part = d;
  } else {
    if (d.size() <= a.size() + 1 || !absl::EndsWith(d, a) ||
        d[d.size() - a.size() - 1] != '.') {
      return absl::InvalidArgumentError(
          absl::StrCat("domain: not under ", apex));
    }
    digits_part = d.substr(0, d.size() - a.size() - 1);
  }
  // digits_part is "d.d.d": single-digit labels separated by dots.
  std::string reversed;
  for (size_t i = 0; i < digits_part.size(); ++i) {
    char c = digits_part[i];
    bool digit_slot = i % 2 == 0;
    if (digit_slot ? !absl::ascii_isdigit(static_cast<unsigned char>(c))
                   : c != '.') {
      return absl::InvalidArgumentError(
          "domain: labels below the apex must be single digits");
    }
    if (digit_slot) reversed.push_back(c);
  }
  if (digits_part.size() % 2 == 0) {  // Empty, or ends with a dot.
    return absl::InvalidArgumentError(
        "domain: labels below the apex must be single digits");
  }
  if (reversed.size() > static_cast<size_t>(kMaxE164Digits)) {
    return absl::InvalidArgumentError(
        absl::StrCat("domain: more than ", kMaxE164Digits, " digits"));
  }
  std::string e164 = "+";
  e164.append(reversed.rbegin(), reversed.rend());
  if (e164[1] == '0') {
    return absl::InvalidArgumentError(
        "domain: country code cannot start with 0");
  }
  return e164;
}

absl::StatusOr<LookupQuery> ParseLookupQuery(absl::string_view query) {
  if (absl::Status s = CheckRaw(query, "query"); !s.ok()) return s;
  absl::string_view q = absl::StripAsciiWhitespace(query);
  if (q.empty()) return absl::InvalidArgumentError("query: empty");
  LookupQuery out;
  if (StartsWithScheme(q, "tel:")) {
    auto number = NormalizeTelUri(q);
    if (!number.ok()) return number.status();
    out.value = *std::move(number);
    return out;
  }
  if (StartsWithScheme(q, "sip:") || StartsWithScheme(q, "sips:")) {
    std::string number;
    auto is_phone = SipPhoneNumber(q, &number);
    if (!is_phone.ok()) return is_phone.status();
    if (*is_phone) {
      out.value = std::move(number);
      return out;
    }
  }
  if (HasUriScheme(q)) {
    for (unsigned char c : q) {
      if (absl::ascii_isspace(c)) {
        return absl::InvalidArgumentError("query: URI contains whitespace");
      }
    }
    out.kind = LookupQuery::Kind::kUri;
    out.value = std::string(q);
    return out;
  }
  auto number = NormalizeGlobalNumber(q, "query");
  if (!number.ok()) return number.status();
  out.value = *std::move(number);
  return out;
}

}  // namespace lufd
