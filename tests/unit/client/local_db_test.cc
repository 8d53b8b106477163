// `lufctl db migrate|status|bootstrap` against a real SQLite store in a temp
// dir; the result is read back through the Store seam.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/spki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/unit/client/lufctl_test_env.h"

namespace lufd::client {
namespace {

using ::testing::HasSubstr;

class LocalDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lufctl-db-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    url_ = "sqlite:" + dir_ + "/r.db";
    std::string cmd = absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 ",
        "-nodes -keyout ", dir_, "/admin.key -out ", dir_,
        "/admin.pem -days 1 -subj /CN=admin >/dev/null 2>&1");
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  using Result = testenv::CliResult;
  Result Lufctl(std::vector<std::string> args) {
    return testenv::RunCli(std::move(args));
  }

  std::string dir_;
  std::string url_;
};

TEST_F(LocalDbTest, MigrateStatusBootstrap) {
  Result r = Lufctl({"db", "status", "--store", url_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pending"));

  // Bootstrap refuses an unmigrated store.
  r = Lufctl({"db", "bootstrap", "--store", url_, "--org", "iana-en:0",
              "--name", "Admin", "--cert-file", dir_ + "/admin.pem"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("db migrate"));

  r = Lufctl({"db", "migrate", "--store", url_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("VERSION  NAME"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("pending")));
  r = Lufctl({"--output", "json", "db", "status", "--store", url_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"applied\":true"));

  for (int run = 0; run < 2; ++run) {  // A re-run is harmless.
    r = Lufctl({"db", "bootstrap", "--store", url_, "--org", "iana-en:0",
                "--name", "Registry Admin", "--cert-file", dir_ + "/admin.pem",
                "--san-uri", "urn:lufd:admin:x"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("bootstrapped org iana-en:0"));
  }

  auto store = Store::Open(url_);
  ASSERT_TRUE(store.ok()) << store.status();
  lufd::v1::Org org;
  lufd::v1::Credential cred;
  auto serial =
      (*store)->LoadSnapshot([&](lufd::v1::ObjectKind, absl::string_view,
                                 const lufd::v1::RegistryObject& o) {
        if (o.has_org()) org = o.org();
        if (o.has_credential()) cred = o.credential();
      });
  ASSERT_TRUE(serial.ok()) << serial.status();
  EXPECT_EQ(org.id(), "iana-en:0");
  EXPECT_EQ(org.name(), "Registry Admin");
  ASSERT_EQ(org.roles_size(), 1);
  EXPECT_EQ(org.roles(0), lufd::v1::ORG_ROLE_REGISTRAR);
  EXPECT_EQ(cred.id(), "bootstrap-admin");
  EXPECT_EQ(cred.org_id(), "iana-en:0");
  EXPECT_EQ(cred.role(), lufd::v1::ROLE_ADMIN);
  EXPECT_EQ(cred.san_uri(), "urn:lufd:admin:x");
  EXPECT_EQ(cred.spki_sha256(), *SpkiSha256FromCertFile(dir_ + "/admin.pem"));

  // The audit trail names the local admin.
  AuditQuery q;
  auto changes = (*store)->Audit(q);
  ASSERT_TRUE(changes.ok());
  ASSERT_FALSE(changes->empty());
  EXPECT_EQ(changes->front().actor(), "lufctl-local");
}

TEST_F(LocalDbTest, BadStoreUrl) {
  Result r = Lufctl({"db", "status", "--store", "nosuch:thing"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("lufctl: "));
}

}  // namespace
}  // namespace lufd::client
