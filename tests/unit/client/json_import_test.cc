#include "client/json_import.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lufd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(JsonImportTest, ParsesExportLinesAndOrdersByDependency) {
  JsonImport in = ParseJsonLines(
      "{\"identifier\":{\"kind\":\"IDENTIFIER_KIND_TN\",\"value\":"
      "\"+12025550001\",\"registrantId\":\"o:2\",\"destGroupIds\":[\"dg\"]}}\n"
      "\n"
      "{\"offer\":{\"sedGroupId\":\"sg\",\"peerOrgId\":\"o:1\"}}\n"
      "{\"org\":{\"id\":\"o:2\",\"registrarId\":\"o:1\"}}\n"
      "{\"destGroup\":{\"id\":\"dg\",\"registrantId\":\"o:2\"}}\n"
      "{\"org\":{\"id\":\"o:1\"}}\n");
  ASSERT_TRUE(in.ok()) << in.errors()[0].message;
  ASSERT_EQ(in.size(), 5u);
  std::vector<uint32_t> lines;
  for (size_t i = 0; i < in.size(); ++i) lines.push_back(in.line_of(i));
  // Registrar o:1 (line 6) before its registrant o:2 (line 4), then the
  // destination group, the identifier, the offer.
  EXPECT_THAT(lines, ElementsAre(6, 4, 5, 1, 3));
  EXPECT_EQ(in.object(3).identifier().value(), "+12025550001");
  EXPECT_EQ(in.Describe(0), "line 6");
  lufd::v1::RegistryObject obj;
  in.Fill(1, &obj);
  EXPECT_EQ(obj.org().id(), "o:2");
}

TEST(JsonImportTest, ReportsEveryBadLine) {
  JsonImport in = ParseJsonLines(
      "{\"org\":{\"id\":\"o:1\"}}\n"
      "{not json}\n"
      "{\"org\":{\"idd\":\"typo\"}}\n"
      "{}\n");
  ASSERT_EQ(in.errors().size(), 3u);
  EXPECT_EQ(in.errors()[0].line, 2u);
  EXPECT_EQ(in.errors()[1].line, 3u);
  EXPECT_EQ(in.errors()[2].line, 4u);
  EXPECT_THAT(in.errors()[2].message, HasSubstr("empty"));
}

TEST(JsonImportTest, RegistrarCycleTerminates) {
  JsonImport in = ParseJsonLines(
      "{\"org\":{\"id\":\"a\",\"registrarId\":\"b\"}}\n"
      "{\"org\":{\"id\":\"b\",\"registrarId\":\"a\"}}\n");
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.size(), 2u);
}

}  // namespace
}  // namespace lufd::client
