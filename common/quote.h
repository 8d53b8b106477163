// QuoteForError: how any user input is echoed in an error message.
//
// Error messages travel back in gRPC trailers (the client's metadata limit
// is 8 KiB by default) and end up in logs and terminals, so a message must
// never carry a whole key, id or line: QuoteForError keeps at most
// kMaxQuotedInputBytes of the input, cut on a UTF-8 character boundary,
// escapes control characters (a newline would split a log line), and says
// how long the input was when it cut it:
//   QuoteForError("tn:+1202")   -> "tn:+1202"            (with the quotes)
//   QuoteForError(64 KiB of x)  -> "xxx…xxx"... (65536 bytes)
// Header-only and dependency-free apart from Abseil, so storage/, server/
// and client/ may all use it. Pure functions; thread-safe.
#ifndef LUFD_COMMON_QUOTE_H_
#define LUFD_COMMON_QUOTE_H_

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace lufd {

inline constexpr size_t kMaxQuotedInputBytes = 100;

// `input` in `quote` characters (double quotes unless asked otherwise), at
// most kMaxQuotedInputBytes of it, control characters and `quote` / '\'
// escaped; longer input ends in `..." (N bytes)`.
inline std::string QuoteForError(absl::string_view input, char quote = '"') {
  size_t keep = input.size();
  if (keep > kMaxQuotedInputBytes) {
    keep = kMaxQuotedInputBytes;
    // Back up over UTF-8 continuation bytes (10xxxxxx) so the cut does not
    // split a character.
    while (keep > 0 &&
           (static_cast<unsigned char>(input[keep]) & 0xC0) == 0x80) {
      --keep;
    }
  }
  std::string out(1, quote);
  for (size_t i = 0; i < keep; ++i) {
    const unsigned char c = static_cast<unsigned char>(input[i]);
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out.append("\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back(quote);
  if (keep < input.size()) {
    absl::StrAppend(&out, "... (", input.size(), " bytes)");
  }
  return out;
}

}  // namespace lufd

#endif  // LUFD_COMMON_QUOTE_H_
