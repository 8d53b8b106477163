#include "client/spki.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lufd::client {
namespace {

// Runs a shell command and returns its stdout (tests only; fixed inputs).
std::string RunShell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

class SpkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lufctl-spki-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A self-signed certificate with a SAN URI, made by the openssl CLI.
  std::string MakeCert(const std::string& name, const std::string& keyalg) {
    std::string cert = dir_ + "/" + name + ".pem";
    std::string cmd = absl::StrCat(
        "openssl req -x509 -newkey ", keyalg, " -nodes -keyout ", dir_, "/",
        name, ".key -out ", cert,
        " -days 1 -subj /CN=test -addext "
        "subjectAltName=URI:urn:lufd:peer:test,DNS:x.example 2>/dev/null");
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return cert;
  }

  std::string dir_;
};

TEST_F(SpkiTest, MatchesOpensslPipeline) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "no openssl CLI";
  }
  for (const char* alg :
       {"ec -pkeyopt ec_paramgen_curve:P-256", "rsa:2048", "ed25519"}) {
    std::string cert = MakeCert("c", alg);
    std::string expected = RunShell(absl::StrCat(
        "openssl x509 -in ", cert,
        " -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum"));
    expected = std::string(absl::StripAsciiWhitespace(expected.substr(0, 64)));
    ASSERT_EQ(expected.size(), 64u);
    auto spki = SpkiSha256FromCertFile(cert);
    ASSERT_TRUE(spki.ok()) << spki.status();
    EXPECT_EQ(*spki, expected) << alg;

    auto pem = ReadSmallFile(cert);
    ASSERT_TRUE(pem.ok());
    auto uris = SanUrisFromPem(*pem);
    ASSERT_TRUE(uris.ok());
    EXPECT_THAT(*uris, ::testing::ElementsAre("urn:lufd:peer:test"));
  }
}

TEST_F(SpkiTest, Errors) {
  EXPECT_EQ(SpkiSha256FromPem("not a pem").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SpkiSha256FromCertFile(dir_ + "/missing.pem").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lufd::client
