#include "client/commands.h"

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "client/output.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/client/lufctl_test_env.h"

namespace lufd::client {
namespace {

using ::testing::HasSubstr;

using Result = testenv::CliResult;
using testenv::RunCli;

TEST(CommandTableTest, EveryRowHasSynopsisAndHelpAndIsUnique) {
  std::set<std::string> seen;
  for (const auto& c : CommandTable()) {
    std::string name = c.noun + " " + c.verb;
    EXPECT_FALSE(c.help.empty()) << name;
    EXPECT_FALSE(c.synopsis.empty()) << name;
    EXPECT_EQ(c.synopsis.rfind(c.noun, 0), 0u) << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate " << name;
  }
  // The commands the brief requires.
  for (const char* name : {"org add",
                           "org get",
                           "org list",
                           "org del",
                           "credential add",
                           "credential disable",
                           "credential enable",
                           "number add",
                           "number list",
                           "range add",
                           "range del",
                           "prefix add",
                           "rn add",
                           "uri add",
                           "dg add",
                           "record add",
                           "sedgroup add",
                           "offer add",
                           "offer accept",
                           "offer reject",
                           "offer list",
                           "batch ",
                           "import ",
                           "export ",
                           "audit ",
                           "lookup ",
                           "health ",
                           "info ",
                           "db migrate",
                           "db status",
                           "db bootstrap"}) {
    EXPECT_TRUE(seen.count(name)) << name;
  }
}

TEST(CommandTableTest, EveryRowParsesItsHelp) {
  for (const auto& c : CommandTable()) {
    std::vector<std::string> args = {c.noun};
    if (!c.verb.empty()) args.push_back(c.verb);
    args.push_back("--help");
    Result r = RunCli(args);
    EXPECT_EQ(r.code, 0) << c.noun << " " << c.verb << r.err;
    EXPECT_THAT(r.out, HasSubstr(c.help)) << c.noun << " " << c.verb;
  }
}

TEST(CommandTableTest, UsageErrorsExitTwo) {
  Result r = RunCli({"bogus"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'bogus'"));
  EXPECT_EQ(RunCli({}).code, 2);
  EXPECT_EQ(RunCli({"org"}).code, 2);  // Missing verb.
  EXPECT_EQ(RunCli({"org", "frobnicate"}).code, 2);
  EXPECT_EQ(RunCli({"number", "add"}).code, 2);                  // Missing TN.
  EXPECT_EQ(RunCli({"number", "add", "+12025556666"}).code, 2);  // --registrant
  EXPECT_EQ(RunCli({"--output", "xml", "info"}).code, 2);
  EXPECT_EQ(RunCli({"org", "add", "--id", "a:b", "--role", "king"}).code, 2);
  EXPECT_EQ(RunCli({"--server", "x:1", "--bogus-flag", "info"}).code, 2);
}

TEST(CommandTableTest, HelpExitsZeroAndListsCommands) {
  Result r = RunCli({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("number add TN"));
  EXPECT_THAT(r.out, HasSubstr("LUFCTL_SERVER"));
}

TEST(CommandTableTest, OperationalErrorsExitOne) {
  // Without certificates lufctl refuses before dialing.
  Result r = RunCli({"--server", "127.0.0.1:1", "org", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("lufctl: INVALID_ARGUMENT: mTLS needs"));
  // Import of a bad file reports lines and sends nothing.
  r = RunCli({"import", "/nonexistent/file.csv"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  // Client-side validation before any connection.
  r = RunCli({"--cert", "/nonexistent", "--key", "/x", "--ca", "/y", "number",
              "get", "12345"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("must start with '+'"));
}

TEST(OutputTest, TableAlignsColumns) {
  Table t({"id", "name"});
  t.AddRow({"a", "first"});
  t.AddRow({"longer-id", "x"});
  EXPECT_EQ(t.Render(),
            "ID         NAME\n"
            "a          first\n"
            "longer-id  x\n");
}

TEST(OutputTest, ObjectRowsAndJson) {
  lufd::v1::RegistryObject obj;
  auto* org = obj.mutable_org();
  org->set_id("iana-en:1");
  org->set_name("One");
  org->add_roles(lufd::v1::ORG_ROLE_PEER);
  auto row = ObjectRow(obj);
  ASSERT_EQ(row.size(), ObjectHeaders(lufd::v1::OBJECT_KIND_ORG).size());
  EXPECT_EQ(row[0], "iana-en:1");
  EXPECT_EQ(row[2], "peer");
  EXPECT_THAT(ToJson(obj), HasSubstr("\"ORG_ROLE_PEER\""));

  lufd::v1::SedRecord rec;
  rec.mutable_naptr()->set_order(100);
  rec.mutable_naptr()->set_preference(10);
  rec.mutable_naptr()->set_flags("u");
  rec.mutable_naptr()->set_services("E2U+sip");
  rec.mutable_naptr()->set_regexp("!^.*$!sip:a@b!");
  EXPECT_EQ(SedRecordText(rec),
            "NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:a@b!\" .");
}

TEST(OutputTest, RecordRowShowsTheTtlAnswersCarry) {
  lufd::v1::RegistryObject obj;
  obj.mutable_sed_record()->set_id("r");
  // Written without a TTL: answers carry the registry default.
  EXPECT_EQ(ObjectRow(obj)[2], "3600 (default)");
  obj.mutable_sed_record()->set_ttl(60);
  EXPECT_EQ(ObjectRow(obj)[2], "60");
}

}  // namespace
}  // namespace lufd::client
