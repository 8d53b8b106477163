// Characters that must never reach a terminal or a log raw from registry
// data: they are invisible or reorder the text around them when displayed
// ("Trojan Source", CVE-2021-42574), so an org name holding U+202E could
// show in `lufctl org list` as another org's name, or hide a column.
//
// One list, used on both sides: the server refuses these code points in
// every free-text field (server/core/validate.cc), and lufctl escapes them
// wherever it prints server data (client/output.cc), since data stored
// before the server refused them may still hold them.
//
// The list (UnsafeCodePointKind):
//   C0 and C1 controls, DEL         U+0000-001F, U+007F, U+0080-009F
//   bidirectional controls          U+061C, U+200E-200F, U+202A-202E,
//                                   U+2066-2069
//   invisible format characters     U+180E, U+200B-200D, U+2060-2064,
//                                   U+206A-206F, U+FEFF
//   line and paragraph separators   U+2028-2029
// ZWJ/ZWNJ (U+200C-200D) are refused too although some scripts and emoji
// sequences use them: registry names are identifiers for people to compare,
// and an invisible joiner makes two names look alike.
//
// Header-only, Abseil only (storage/, server/ and client/ may use it). Pure
// functions; thread-safe.
#ifndef LUFD_COMMON_UNSAFE_TEXT_H_
#define LUFD_COMMON_UNSAFE_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace lufd {

// Decodes the UTF-8 sequence at s[*i] and advances *i past it. Returns the
// code point, or -1 for an invalid sequence (then *i advances one byte):
// strict RFC 3629 (no overlong forms, no surrogates, nothing above
// U+10FFFF).
inline int32_t DecodeUtf8(absl::string_view s, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(*i);
  if (b0 < 0x80) {
    ++*i;
    return b0;
  }
  int len = 0;
  int32_t cp = 0;
  int32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++*i;
    return -1;
  }
  if (*i + len > s.size()) {
    ++*i;
    return -1;
  }
  for (int k = 1; k < len; ++k) {
    const unsigned char b = byte(*i + k);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return -1;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*i;
    return -1;
  }
  *i += len;
  return cp;
}

// What kind of unsafe character `cp` is ("a bidirectional control
// character", ...), or nullptr when it is safe to display.
inline const char* UnsafeCodePointKind(int32_t cp) {
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
    return "a control character";
  }
  if (cp == 0x061C || cp == 0x200E || cp == 0x200F ||
      (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) {
    return "a bidirectional control character";
  }
  if (cp == 0x180E || (cp >= 0x200B && cp <= 0x200D) ||
      (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x206A && cp <= 0x206F) ||
      cp == 0xFEFF) {
    return "an invisible format character";
  }
  if (cp == 0x2028 || cp == 0x2029) return "a line or paragraph separator";
  return nullptr;
}

// "U+202E" (at least four hex digits, as Unicode writes them).
inline std::string CodePointName(int32_t cp) {
  return absl::StrFormat("U+%04X", cp);
}

// `text` for display: every unsafe code point as "\u202e" (JSON's escape,
// so the output of a JSON encoder stays valid JSON), every byte that is not
// valid UTF-8 as "\xff". Everything else, including other non-ASCII text,
// is kept.
inline std::string EscapeUnsafeText(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t start = i;
    const int32_t cp = DecodeUtf8(text, &i);
    if (cp < 0) {
      absl::StrAppendFormat(&out, "\\x%02x",
                            static_cast<unsigned char>(text[start]));
    } else if (UnsafeCodePointKind(cp) != nullptr) {
      absl::StrAppendFormat(&out, "\\u%04x", cp);
    } else {
      out.append(text.data() + start, i - start);
    }
  }
  return out;
}

// Whether EscapeUnsafeText would change `text` (the common case is no).
inline bool HasUnsafeText(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const int32_t cp = DecodeUtf8(text, &i);
    if (cp < 0 || UnsafeCodePointKind(cp) != nullptr) return true;
  }
  return false;
}

}  // namespace lufd

#endif  // LUFD_COMMON_UNSAFE_TEXT_H_
