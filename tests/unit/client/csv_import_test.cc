#include "client/csv_import.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lufd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kHeader[] =
    "tn,registrant,dest_groups,ttl,order,preference,flags,services,regexp,"
    "replacement\n";

std::string Errors(const ImportPlan& plan) {
  std::string out;
  for (const auto& e : plan.errors()) {
    absl::StrAppend(&out, e.line, ": ", e.message, "\n");
  }
  return out;
}

TEST(CsvImportTest, ParsesSimpleRowsWithAndWithoutNaptr) {
  ImportPlan plan = ParseImportCsv(
      absl::StrCat(kHeader,
                   "+12025550001,iana-en:222,dg1;dg2,300,100,10,u,E2U+sip,"
                   "!^.*$!sip:a@example.com!,\n",
                   "+1-202-555-0002,iana-en:222,dg1,,,,,,,\n"));
  ASSERT_TRUE(plan.ok()) << Errors(plan);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan.rows(), 2u);
  lufd::v1::RegistryObject obj;
  plan.ToObject(0, &obj);
  const auto& id = obj.identifier();
  EXPECT_EQ(id.kind(), lufd::v1::IDENTIFIER_KIND_TN);
  EXPECT_EQ(id.value(), "+12025550001");
  EXPECT_EQ(id.registrant_id(), "iana-en:222");
  EXPECT_THAT(id.dest_group_ids(), ElementsAre("dg1", "dg2"));
  ASSERT_EQ(id.records_size(), 1);
  EXPECT_EQ(id.records(0).ttl(), 300u);
  EXPECT_TRUE(id.records(0).in_service());
  EXPECT_EQ(id.records(0).naptr().order(), 100u);
  EXPECT_EQ(id.records(0).naptr().preference(), 10u);
  EXPECT_EQ(id.records(0).naptr().flags(), "u");
  EXPECT_EQ(id.records(0).naptr().services(), "E2U+sip");
  EXPECT_EQ(id.records(0).naptr().regexp(), "!^.*$!sip:a@example.com!");
  EXPECT_EQ(id.records(0).naptr().replacement(), "");

  plan.ToObject(1, &obj);  // Reuse clears the previous contents.
  EXPECT_EQ(obj.identifier().value(), "+12025550002");
  EXPECT_EQ(obj.identifier().records_size(), 0);
  EXPECT_THAT(obj.identifier().dest_group_ids(), ElementsAre("dg1"));
}

TEST(CsvImportTest, HeaderOrderIsFreeAndNaptrColumnsOptional) {
  ImportPlan plan = ParseImportCsv(
      "dest_groups,TN,registrant\r\n"
      "dg1,+4420794601,org:1\r\n"
      "dg2,+4420794602,org:1");  // No final newline.
  ASSERT_TRUE(plan.ok()) << Errors(plan);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan.number(1).tn_view(), "+4420794602");
  EXPECT_EQ(plan.number(1).dest_groups, "dg2");
}

TEST(CsvImportTest, Rfc4180Quoting) {
  ImportPlan plan = ParseImportCsv(absl::StrCat(
      kHeader,
      "\"+12025550001\",\"org, with comma\",dg1,60,1,2,\"u\",\"E2U+sip\","
      "\"!^.*$!sip:\"\"q\"\"@x!\",\n",
      // A quoted field spanning lines 3-4; the next record is line 5.
      "+12025550002,\"multi\nline\",dg1,,,,,,,\n",
      "+12025550003,bad\"quote,dg1,,,,,,,\n"));
  ASSERT_EQ(plan.errors().size(), 1u) << Errors(plan);
  EXPECT_EQ(plan.errors()[0].line, 5u);
  EXPECT_THAT(plan.errors()[0].message, HasSubstr("quote"));
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan.number(0).registrant, "org, with comma");
  lufd::v1::RegistryObject obj;
  plan.ToObject(0, &obj);
  EXPECT_EQ(obj.identifier().records(0).naptr().regexp(), "!^.*$!sip:\"q\"@x!");
  EXPECT_EQ(plan.number(1).registrant, "multi\nline");
}

TEST(CsvImportTest, ReportsEveryBadLineWithItsNumber) {
  ImportPlan plan = ParseImportCsv(absl::StrCat(
      kHeader,
      "+12025550001,org,dg,,,,,,,\n",                     // 2 ok
      "12025550002,org,dg,,,,,,,\n",                      // 3 no '+'
      "+12025550003,,dg,,,,,,,\n",                        // 4 no registrant
      "+12025550004,org,dg,,70000,1,u,E2U+sip,!a!b!,\n",  // 5 order range
      "+12025550005,org,dg,,1,1,u,E2U+sip,,\n",           // 6 no regexp/repl
      "+12025550006,org,dg,,1,1,u,E2U+sip,!a!b!,x.\n",    // 7 both
      "+12025550007,org,dg\n",                            // 8 field count
      "+1202555000812345,org,dg,,,,,,,\n",                // 9 > 15 digits
      "+12025550009,org,dg,abc,,,,,,\n",                  // 10 ttl
      "+12025550010,org,dg,30,,,,,,\n",                   // 11 ttl, no NAPTR
      "+12025550001,org,dg,,,,,,,\n",                     // 12 duplicate
      "+12025550011,org,\"unterminated,,,,,,,\n"));       // 13 open quote
  std::vector<uint32_t> lines;
  for (const auto& e : plan.errors()) lines.push_back(e.line);
  EXPECT_THAT(lines, ElementsAre(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13))
      << Errors(plan);
  EXPECT_THAT(plan.errors()[0].message, HasSubstr("'+'"));
  EXPECT_THAT(plan.errors()[5].message, HasSubstr("expected 10 fields"));
  EXPECT_THAT(plan.errors()[9].message, HasSubstr("duplicate"));
  EXPECT_THAT(plan.errors()[10].message, HasSubstr("unterminated"));
  EXPECT_FALSE(plan.ok());
}

// A bad field is quoted, not printed back whole: a 10 MB line's error
// stays a line.
TEST(CsvImportTest, ErrorsQuoteAtMostAHundredBytesOfAField) {
  const std::string huge(10 * 1024 * 1024, '7');
  ImportPlan plan = ParseImportCsv(absl::StrCat(
      "tn,registrant,dest_groups,ttl\n", "+", huge, ",org,dg1,", huge, "\n"));
  ASSERT_FALSE(plan.errors().empty());
  for (const auto& e : plan.errors()) {
    EXPECT_LT(e.message.size(), 1000u) << e.message.substr(0, 1000);
  }
  EXPECT_THAT(plan.errors()[0].message, HasSubstr("bytes)"));

  plan = ParseImportCsv(absl::StrCat("tn,registrant,dest_groups,",
                                     std::string(1 << 20, 'c'), "\n"));
  ASSERT_EQ(plan.errors().size(), 1u);
  EXPECT_LT(plan.errors()[0].message.size(), 300u);
  EXPECT_THAT(plan.errors()[0].message, HasSubstr("unknown column 'ccc"));
}

TEST(CsvImportTest, MissingOrUnknownColumnsFailOnTheHeader) {
  ImportPlan plan = ParseImportCsv("tn,registrant\n+12025550001,org\n");
  ASSERT_EQ(plan.errors().size(), 1u);
  EXPECT_EQ(plan.errors()[0].line, 1u);
  EXPECT_THAT(plan.errors()[0].message, HasSubstr("dest_groups"));
  EXPECT_EQ(plan.size(), 0u);

  plan = ParseImportCsv("tn,registrant,dest_groups,colour\n");
  ASSERT_EQ(plan.errors().size(), 1u);
  EXPECT_THAT(plan.errors()[0].message, HasSubstr("unknown column 'colour'"));

  plan = ParseImportCsv("tn,tn,registrant,dest_groups\n");
  ASSERT_EQ(plan.errors().size(), 1u);
  EXPECT_THAT(plan.errors()[0].message, HasSubstr("duplicate column"));

  plan = ParseImportCsv("");
  ASSERT_EQ(plan.errors().size(), 1u);
  EXPECT_THAT(plan.errors()[0].message, HasSubstr("header"));
}

TEST(CsvImportTest, RepeatedTnAddsRecordsWhenConsistent) {
  ImportPlan plan = ParseImportCsv(absl::StrCat(
      kHeader, "+12025550001,org,dg,60,10,1,u,E2U+sip,!^.*$!sip:a@x!,\n",
      "+12025550002,org,dg,,,,,,,\n",
      "+12025550001,org,dg,60,20,1,u,E2U+h323,!^.*$!h323:a@x!,\n",
      "+12025550001,other,dg,60,30,1,u,E2U+sip,!^.*$!sip:b@x!,\n"));
  ASSERT_EQ(plan.errors().size(), 1u) << Errors(plan);
  EXPECT_EQ(plan.errors()[0].line, 5u);
  ASSERT_EQ(plan.size(), 2u);
  lufd::v1::RegistryObject obj;
  plan.ToObject(0, &obj);
  ASSERT_EQ(obj.identifier().records_size(), 2);
  EXPECT_EQ(obj.identifier().records(1).naptr().services(), "E2U+h323");
}

TEST(CsvImportTest, RejectsInvalidUtf8) {
  ImportPlan plan = ParseImportCsv(
      "tn,registrant,dest_groups\n"
      "+12025550001,org\xff,dg\n"          // Invalid byte.
      "+12025550002,org\xc3\xa9,dg\n"      // Valid: U+00E9.
      "+12025550003,o,\xe0\x80\x80\n"      // Overlong.
      "+12025550004,o,\xed\xa0\x80\n"      // Surrogate.
      "+12025550005,o,\xf0\x9f\x98\x80\n"  // Valid: U+1F600.
      "+12025550006,o,\xf0\x9f\x98\n");    // Truncated.
  std::vector<uint32_t> lines;
  for (const auto& e : plan.errors()) lines.push_back(e.line);
  EXPECT_THAT(lines, ElementsAre(2, 4, 5, 7)) << Errors(plan);
  EXPECT_THAT(plan.errors()[0].message, HasSubstr("UTF-8"));
  EXPECT_EQ(plan.size(), 2u);
}

TEST(CsvImportTest, BomAndBlankLinesAreTolerated) {
  ImportPlan plan = ParseImportCsv(
      "\xEF\xBB\xBFtn,registrant,dest_groups\n\n+12025550001,o,d\n\n");
  ASSERT_TRUE(plan.ok()) << Errors(plan);
  EXPECT_EQ(plan.size(), 1u);
}

TEST(CsvImportTest, NormalizeTn) {
  EXPECT_EQ(*NormalizeTn("+44 (20) 7946.0148"), "+442079460148");
  EXPECT_EQ(*NormalizeTn("tel:+1-202-555-6666"), "+12025556666");
  EXPECT_FALSE(NormalizeTn("+0123").ok());
  EXPECT_FALSE(NormalizeTn("+").ok());
  EXPECT_FALSE(NormalizeTn("+1234567890123456").ok());
  EXPECT_TRUE(NormalizeTn("+123456789012345").ok());
  EXPECT_FALSE(NormalizeTn("+1202x").ok());
}

TEST(CsvImportTest, ExportRoundTrips) {
  lufd::v1::PublicIdentifier tn;
  tn.set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  tn.set_value("+12025550001");
  tn.set_registrant_id("org, \"quoted\"");
  tn.add_dest_group_ids("dg1");
  tn.add_dest_group_ids("dg2");
  for (int i = 0; i < 2; ++i) {
    auto* rec = tn.add_records();
    rec->set_ttl(60);
    rec->set_in_service(true);
    rec->mutable_naptr()->set_order(10 + i);
    rec->mutable_naptr()->set_preference(1);
    rec->mutable_naptr()->set_flags("u");
    rec->mutable_naptr()->set_services("E2U+sip");
    rec->mutable_naptr()->set_regexp("!^.*$!sip:a,b@x!");
  }
  lufd::v1::PublicIdentifier bare;
  bare.set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  bare.set_value("+12025550002");
  bare.set_registrant_id("org");

  std::string csv = kTnCsvHeader;
  ASSERT_TRUE(AppendTnCsv(tn, &csv).ok());
  ASSERT_TRUE(AppendTnCsv(bare, &csv).ok());
  ImportPlan plan = ParseImportCsv(csv);
  ASSERT_TRUE(plan.ok()) << Errors(plan) << csv;
  ASSERT_EQ(plan.size(), 2u);
  lufd::v1::RegistryObject obj;
  plan.ToObject(0, &obj);
  EXPECT_EQ(obj.identifier().SerializeAsString(), tn.SerializeAsString());
  plan.ToObject(1, &obj);
  EXPECT_EQ(obj.identifier().SerializeAsString(), bare.SerializeAsString());

  lufd::v1::PublicIdentifier uri_rec = bare;
  uri_rec.add_records()->mutable_uri()->set_target("sip:x");
  EXPECT_FALSE(AppendTnCsv(uri_rec, &csv).ok());
}

TEST(CsvImportTest, MillionLines) {
  std::string text = kHeader;
  text.reserve(100u << 20);
  const int kLines = 1000000;
  for (int i = 0; i < kLines; ++i) {
    absl::StrAppend(&text, "+1202", 1000000 + i,
                    ",iana-en:222,dg-bench,3600,100,10,u,E2U+sip,"
                    "!^.*$!sip:x@ssp2.example.com!,\n");
  }
  ImportPlan plan = ParseImportCsv(std::move(text));
  ASSERT_TRUE(plan.ok()) << plan.errors()[0].message;
  EXPECT_EQ(plan.size(), static_cast<size_t>(kLines));
  EXPECT_EQ(plan.number(kLines - 1).line, static_cast<uint32_t>(kLines + 1));
}

}  // namespace
}  // namespace lufd::client
