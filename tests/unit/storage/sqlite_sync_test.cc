// SQLite durability: "sqlite:/path" commits with synchronous=FULL (durable
// at commit, as a registry promises); "?synchronous=normal" is the explicit
// trade-off; any other parameter is refused with a message naming both.
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/store.h"

namespace lufd {
namespace {

using ::testing::HasSubstr;

class SqliteSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ =
        (std::filesystem::temp_directory_path() / "lufd-sync-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Url(const std::string& tail) {
    return absl::StrCat("sqlite:", dir_, "/registry.db", tail);
  }
  std::string dir_;
};

TEST_F(SqliteSyncTest, FullByDefaultNormalOnRequest) {
  for (const auto& [tail, want] :
       {std::pair<std::string, std::string>{"", "full"},
        {"?synchronous=full", "full"},
        {"?synchronous=normal", "normal"}}) {
    auto store = Store::Open(Url(tail));
    ASSERT_TRUE(store.ok()) << tail << ": " << store.status();
    ASSERT_TRUE((*store)->Migrate().ok()) << tail;
    auto sync = SqliteSynchronous(store->get());
    ASSERT_TRUE(sync.ok()) << sync.status();
    EXPECT_EQ(*sync, want) << tail;
    // The parameter is not part of the file name.
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/registry.db")) << tail;
    if (!tail.empty()) {
      EXPECT_FALSE(std::filesystem::exists(dir_ + "/registry.db" + tail));
    }
  }
}

TEST_F(SqliteSyncTest, UnknownParameterIsRefused) {
  for (const char* tail : {"?synchronous=off", "?sync=full", "?"}) {
    auto store = Store::Open(Url(tail));
    ASSERT_FALSE(store.ok()) << tail;
    EXPECT_THAT(std::string(store.status().message()),
                HasSubstr("want synchronous=full or synchronous=normal"))
        << tail;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/registry.db"));
}

TEST_F(SqliteSyncTest, OtherBackendsAreNotSqlite) {
  auto store = Store::Open("memory:");
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE(SqliteSynchronous(store->get()).ok());
}

}  // namespace
}  // namespace lufd
