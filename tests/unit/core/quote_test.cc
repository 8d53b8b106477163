// QuoteForError (common/quote.h) and the client_txn_id check (validate.h):
// what user input may come back in an error message, and what may be stored
// as a transaction id.
#include "common/quote.h"

#include <string>

#include "gtest/gtest.h"
#include "server/core/validate.h"

namespace lufd {
namespace {

TEST(QuoteForErrorTest, ShortInputIsQuotedWhole) {
  EXPECT_EQ(QuoteForError("tn:+12025556666"), "\"tn:+12025556666\"");
  EXPECT_EQ(QuoteForError(""), "\"\"");
  EXPECT_EQ(QuoteForError("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(QuoteForErrorTest, ControlCharactersQuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(QuoteForError("a\nb\x01\x7f"), "\"a\\x0ab\\x01\\x7f\"");
  EXPECT_EQ(QuoteForError("say \"hi\" \\"), "\"say \\\"hi\\\" \\\\\"");
}

TEST(QuoteForErrorTest, AnotherQuoteCharacterIsTheOneEscaped) {
  EXPECT_EQ(QuoteForError("it's \"x\"", '\''), "'it\\'s \"x\"'");
  EXPECT_EQ(QuoteForError(std::string(200, 'k'), '\''),
            "'" + std::string(kMaxQuotedInputBytes, 'k') + "'... (200 bytes)");
}

TEST(QuoteForErrorTest, LongInputIsCutAndItsLengthSaid) {
  const std::string quoted = QuoteForError(std::string(64 * 1024, 'k'));
  EXPECT_EQ(quoted, "\"" + std::string(kMaxQuotedInputBytes, 'k') +
                        "\"... (65536 bytes)");
}

TEST(QuoteForErrorTest, CutDoesNotSplitAUtf8Character) {
  // 99 ASCII bytes, then a 2-byte character straddling the 100-byte cut.
  const std::string input = std::string(99, 'a') + "\xc3\xa9" + "tail";
  EXPECT_EQ(QuoteForError(input),
            "\"" + std::string(99, 'a') + "\"... (105 bytes)");
}

TEST(ClientTxnIdTest, PrintableAsciiUpTo128Bytes) {
  EXPECT_TRUE(ValidateClientTxnId("").ok());
  EXPECT_TRUE(ValidateClientTxnId("import 2026-12-07 #3 (retry)").ok());
  EXPECT_TRUE(ValidateClientTxnId(std::string(128, 't')).ok());
  for (const std::string& bad :
       {std::string(129, 't'), std::string(64 * 1024, 't'), std::string("a\nb"),
        std::string("a\rb"), std::string("tab\there"),
        std::string("caf\xc3\xa9"), std::string("nul\0x", 5)}) {
    absl::Status status = ValidateClientTxnId(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << QuoteForError(bad);
    EXPECT_EQ(status.message().substr(0, 15), "client_txn_id: ");
    EXPECT_LT(status.message().size(), 120u);
  }
}

}  // namespace
}  // namespace lufd
