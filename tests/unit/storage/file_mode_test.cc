// The SQLite registry holds TSIG secrets: Store::Open("sqlite:...") creates
// the database and its -wal/-shm files 0600 whatever the umask, and refuses
// an existing one that group or others may read (common/private_file.h,
// whose rules are tested here too).
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/private_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/store.h"

namespace lufd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class FileModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ =
        (std::filesystem::temp_directory_path() / "lufd-mode-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    old_umask_ = umask(0022);  // What a shell usually gives: files 0644.
  }
  void TearDown() override {
    umask(old_umask_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Touch(const std::string& path, mode_t mode) {
    std::ofstream(path) << "x";
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  }
  std::string dir_;
  mode_t old_umask_ = 0;
};

TEST_F(FileModeTest, SqliteStoreCreatesItsFiles0600) {
  const std::string db = dir_ + "/registry.db";
  auto store = Store::Open("sqlite:" + db);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Migrate().ok());
  CommitRequest req;
  req.actor = "t";
  Mutation m;
  m.kind = lufd::v1::OBJECT_KIND_ORG;
  m.key = "iana-en:1";
  m.after.emplace().mutable_org()->set_id("iana-en:1");
  req.mutations.push_back(m);
  ASSERT_TRUE((*store)->Commit(req).ok());
  // While the store is open, WAL mode keeps -wal and -shm beside it.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string path = db + suffix;
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_EQ(ModeOf(path), 0600u) << path;
  }
  // A second handle on the (now existing, 0600) file is accepted.
  auto again = Store::Open("sqlite:" + db);
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST_F(FileModeTest, SqliteStoreRefusesAReadableDatabase) {
  const std::string db = dir_ + "/registry.db";
  {
    auto store = Store::Open("sqlite:" + db);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Migrate().ok());
  }
  ASSERT_EQ(chmod(db.c_str(), 0644), 0);
  auto store = Store::Open("sqlite:" + db);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(),
              AllOf(HasSubstr(db), HasSubstr("0644"),
                    HasSubstr(absl::StrCat("chmod 600 ", db))));
  ASSERT_EQ(chmod(db.c_str(), 0640), 0);
  EXPECT_FALSE(Store::Open("sqlite:" + db).ok());
  ASSERT_EQ(chmod(db.c_str(), 0600), 0);
  EXPECT_TRUE(Store::Open("sqlite:" + db).ok());
  ASSERT_EQ(chmod(db.c_str(), 0400), 0);  // Stricter is fine.
  EXPECT_TRUE(Store::Open("sqlite:" + db).ok());
}

TEST_F(FileModeTest, SqliteStoreRefusesALeftoverReadableWal) {
  const std::string db = dir_ + "/registry.db";
  {
    auto store = Store::Open("sqlite:" + db);
    ASSERT_TRUE(store.ok());
  }
  // As an older lufd killed mid-run would have left it.
  Touch(db + "-wal", 0644);
  auto store = Store::Open("sqlite:" + db);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(),
              AllOf(HasSubstr(db + "-wal"), HasSubstr("0644")));
}

TEST_F(FileModeTest, SecretFileRules) {
  const std::string key = dir_ + "/server.key";
  Touch(key, 0600);
  EXPECT_TRUE(CheckSecretFile("grpc.tls.key_file", key).ok());
  Touch(key, 0400);
  EXPECT_TRUE(CheckSecretFile("grpc.tls.key_file", key).ok());
  for (mode_t bad : {0644, 0640, 0604, 0660, 0602, 0610}) {
    ASSERT_EQ(chmod(key.c_str(), bad), 0);
    absl::Status s = CheckSecretFile("grpc.tls.key_file", key);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << bad;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("grpc.tls.key_file"),
                                   HasSubstr(key), HasSubstr(OctalMode(bad)),
                                   HasSubstr("chmod 600 " + key)));
  }
  EXPECT_EQ(CheckSecretFile("k", dir_ + "/missing").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CheckSecretFile("k", dir_).code(),
            absl::StatusCode::kFailedPrecondition);  // Not a regular file.
}

TEST_F(FileModeTest, SecretDirRules) {
  const std::string keys = dir_ + "/keys";
  ASSERT_EQ(mkdir(keys.c_str(), 0700), 0);
  EXPECT_TRUE(CheckSecretDir("dns.dnssec.key_dir", keys, "K", ".pem").ok());
  ASSERT_EQ(chmod(keys.c_str(), 0755), 0);  // Readable: the files decide.
  EXPECT_TRUE(CheckSecretDir("dns.dnssec.key_dir", keys, "K", ".pem").ok());
  for (mode_t bad : {0777, 0770, 0757, 0730}) {
    ASSERT_EQ(chmod(keys.c_str(), bad), 0);
    absl::Status s = CheckSecretDir("dns.dnssec.key_dir", keys, "K", ".pem");
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << bad;
    EXPECT_THAT(s.message(), AllOf(HasSubstr(keys), HasSubstr(OctalMode(bad)),
                                   HasSubstr("chmod 700 " + keys)));
  }
  ASSERT_EQ(chmod(keys.c_str(), 0700), 0);
  const std::string file = keys + "/Ke164.arpa.+013+12345.pem";
  Touch(file, 0600);
  Touch(keys + "/.Khidden.pem", 0644);  // Not named like a key: not judged.
  Touch(keys + "/ca.pem", 0644);
  Touch(keys + "/Knotes.txt", 0644);
  EXPECT_TRUE(CheckSecretDir("dns.dnssec.key_dir", keys, "K", ".pem").ok());
  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  absl::Status s = CheckSecretDir("dns.dnssec.key_dir", keys, "K", ".pem");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), AllOf(HasSubstr(file), HasSubstr("0644"),
                                 HasSubstr("chmod 600 " + file)));
  EXPECT_EQ(CheckSecretDir("k", dir_ + "/nope", "K", ".pem").code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lufd
