// Config loading: YAML -> ServerConfig conversion errors name the field
// path; defaults; semantic validation; `lufd --check-config` exit codes.
#include "server/ops/config.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lufd {
namespace {

using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "lufd-config-test-XXXXXX")
            .string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name, const std::string& content) const {
    std::string p = absl::StrCat(path_, "/", name);
    std::ofstream(p) << content;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A config whose referenced files exist (content is not checked here).
std::string ValidYaml(const TempDir& dir) {
  const std::string cert = dir.File("cert.pem", "x");
  const std::string key = dir.File("key.pem", "x");
  const std::string ca = dir.File("ca.pem", "x");
  return absl::StrCat("grpc:\n  listen: \"127.0.0.1:0\"\n  tls:\n",
                      "    cert_file: ", cert, "\n    key_file: ", key,
                      "\n    client_ca_file: ", ca,
                      "\nstore:\n  url: \"memory:\"\n");
}

TEST(ConfigTest, UnknownKeyNamesFieldPath) {
  auto config = ParseConfigYaml("grpc:\n  tls:\n    cert_fil: a.pem\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr("grpc.tls.cert_fil: unknown field"));
}

TEST(ConfigTest, UnknownTopLevelKey) {
  auto config = ParseConfigYaml("grcp:\n  listen: x\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("grcp: unknown field"));
}

TEST(ConfigTest, WrongTypesNamePath) {
  auto config = ParseConfigYaml(
      "grpc:\n  max_message_bytes: lots\n  reflection: maybe\n"
      "  tls: [1, 2]\nstore: 7\n");
  ASSERT_FALSE(config.ok());
  const std::string msg(config.status().message());
  EXPECT_THAT(msg, HasSubstr("grpc.max_message_bytes: expected an unsigned"));
  EXPECT_THAT(msg, HasSubstr("grpc.reflection: expected a boolean"));
  EXPECT_THAT(msg, HasSubstr("grpc.tls: expected a mapping"));
  EXPECT_THAT(msg, HasSubstr("store: expected a mapping"));
}

TEST(ConfigTest, NegativeUnsignedRejected) {
  auto config = ParseConfigYaml("grpc:\n  max_concurrent_streams: -1\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr("grpc.max_concurrent_streams"));
}

TEST(ConfigTest, SyntaxErrorReported) {
  auto config = ParseConfigYaml("grpc: [unclosed\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("YAML syntax error"));
}

TEST(ConfigTest, DefaultsApplied) {
  auto config = ParseConfigYaml("store:\n  url: \"memory:\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ApplyConfigDefaults(&*config);
  EXPECT_EQ(config->grpc().max_message_bytes(), 4u * 1024 * 1024);
  EXPECT_EQ(config->grpc().max_concurrent_streams(), 100u);
  EXPECT_EQ(config->grpc().max_deadline(), "30s");
  EXPECT_EQ(config->grpc().idle_timeout(), "5m");
  EXPECT_TRUE(config->grpc().reflection());
  EXPECT_EQ(config->grpc().tls().reload_interval(), "10s");
  EXPECT_EQ(config->store().poll_interval(), "20ms");
  EXPECT_EQ(config->log().level(), "info");
  EXPECT_EQ(config->log().format(), "text");
  EXPECT_EQ(config->drain_timeout(), "10s");
}

TEST(ConfigTest, ExplicitValuesKept) {
  auto config = ParseConfigYaml(
      "grpc:\n  reflection: false\n  max_message_bytes: 65536\n"
      "log:\n  format: json\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ApplyConfigDefaults(&*config);
  EXPECT_FALSE(config->grpc().reflection());
  EXPECT_EQ(config->grpc().max_message_bytes(), 65536u);
  EXPECT_EQ(config->log().format(), "json");
}

TEST(ConfigTest, SemanticErrorsAllReported) {
  TempDir dir;
  auto config = ParseConfigYaml(
      "grpc:\n  listen: nonsense\n  max_deadline: soon\n"
      "  tls:\n    cert_file: /nonexistent/cert.pem\n"
      "store:\n  url: \"mysql://x\"\nlog:\n  level: loud\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ApplyConfigDefaults(&*config);
  absl::Status s = ValidateConfig(*config);
  ASSERT_FALSE(s.ok());
  const std::string msg(s.message());
  EXPECT_THAT(msg, HasSubstr("grpc.listen:"));
  EXPECT_THAT(msg, HasSubstr("grpc.max_deadline: invalid duration"));
  EXPECT_THAT(msg, HasSubstr("grpc.tls.cert_file: cannot read"));
  EXPECT_THAT(msg, HasSubstr("grpc.tls.key_file: required"));
  EXPECT_THAT(msg, HasSubstr("store.url: unknown scheme"));
  EXPECT_THAT(msg, HasSubstr("log.level: unknown level"));
}

TEST(ConfigTest, ValidConfigLoads) {
  TempDir dir;
  const std::string path = dir.File("lufd.yaml", ValidYaml(dir));
  auto config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->store().url(), "memory:");
  EXPECT_EQ(config->grpc().listen(), "127.0.0.1:0");
}

TEST(ConfigTest, OverridesAppliedBeforeValidation) {
  TempDir dir;
  const std::string path = dir.File("lufd.yaml", ValidYaml(dir));
  auto config = LoadConfigFile(path, [](lufd::v1::ServerConfig* c) {
    c->mutable_grpc()->set_listen("[::1]:7000");
  });
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpc().listen(), "[::1]:7000");
  auto bad = LoadConfigFile(path, [](lufd::v1::ServerConfig* c) {
    c->mutable_log()->set_level("chatty");
  });
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("log.level"));
}

TEST(ConfigTest, ListenAddressForms) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(ParseListenAddress("[::1]:50051", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 50051);
  ASSERT_TRUE(ParseListenAddress("0.0.0.0:0", &host, &port).ok());
  EXPECT_EQ(port, 0);
  EXPECT_FALSE(ParseListenAddress("localhost", &host, &port).ok());
  EXPECT_FALSE(ParseListenAddress("::1:50051", &host, &port).ok());
  EXPECT_FALSE(ParseListenAddress("h:70000", &host, &port).ok());
}

// Runs the lufd binary; returns its exit code and stdout.
int RunLufd(const std::string& args, std::string* out) {
  const std::string cmd = absl::StrCat(LUFD_BINARY, " ", args, " 2>&1");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out->append(buf, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(CheckConfigTest, ValidFilePrintsOk) {
  TempDir dir;
  const std::string path = dir.File("lufd.yaml", ValidYaml(dir));
  std::string out;
  EXPECT_EQ(RunLufd(absl::StrCat("--check-config ", path), &out), 0);
  EXPECT_EQ(out, "OK\n");
}

TEST(CheckConfigTest, InvalidFilePrintsErrors) {
  TempDir dir;
  const std::string path =
      dir.File("lufd.yaml", ValidYaml(dir) + "grpc2:\n  x: 1\n");
  std::string out;
  EXPECT_EQ(RunLufd(absl::StrCat("--check-config ", path), &out), 1);
  EXPECT_THAT(out, HasSubstr("grpc2: unknown field"));
}

TEST(CheckConfigTest, MissingFileFails) {
  std::string out;
  EXPECT_EQ(RunLufd("--check-config /nonexistent/lufd.yaml", &out), 1);
  EXPECT_THAT(out, HasSubstr("cannot read config file"));
}

TEST(CheckConfigTest, VersionFlag) {
  std::string out;
  EXPECT_EQ(RunLufd("--version", &out), 0);
  EXPECT_THAT(out, HasSubstr("lufd "));
}

// The shipped example configs must keep parsing: no unknown keys, wrong
// types, bad durations or levels. Their certificate paths (/etc/lufd/pki)
// do not exist here, so "cannot read" errors for the file fields are the
// only ones allowed.
std::string ReadSource(const std::string& relative) {
  std::ifstream in(absl::StrCat(LUFD_SOURCE_DIR, "/", relative));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void ExpectValidExceptMissingFiles(const std::string& relative) {
  SCOPED_TRACE(relative);
  const std::string yaml = ReadSource(relative);
  ASSERT_FALSE(yaml.empty()) << "cannot read " << relative;
  absl::StatusOr<lufd::v1::ServerConfig> config = ParseConfigYaml(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  ApplyConfigDefaults(&*config);
  const absl::Status valid = ValidateConfig(*config);
  if (valid.ok()) return;
  for (absl::string_view line : absl::StrSplit(valid.message(), '\n')) {
    const bool missing_file =
        absl::StrContains(line, ": cannot read \"/etc/lufd/pki/") &&
        (absl::StartsWith(line, "grpc.tls.cert_file:") ||
         absl::StartsWith(line, "grpc.tls.key_file:") ||
         absl::StartsWith(line, "grpc.tls.client_ca_file:") ||
         absl::StartsWith(line, "grpc.tls.crl_file:"));
    EXPECT_TRUE(missing_file) << line;
  }
}

TEST(ShippedConfigTest, DockerLufdYamlIsValid) {
  ExpectValidExceptMissingFiles("docker/lufd.yaml");
}

TEST(ShippedConfigTest, ComposeLufdConfigIsValid) {
  // The lufd config that docker/compose.yaml mounts as /etc/lufd/lufd.yaml.
  const std::string compose = ReadSource("docker/compose.yaml");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(
      compose, match, std::regex(R"(\./([\w.-]+\.yaml):/etc/lufd/lufd\.yaml)")))
      << "compose.yaml mounts no lufd config";
  ExpectValidExceptMissingFiles(absl::StrCat("docker/", match[1].str()));
}

// The check above must catch what it is there for.
TEST(ShippedConfigTest, CheckRejectsUnknownKeys) {
  EXPECT_FALSE(ParseConfigYaml("grpc:\n  tls:\n    crl_fil: x\n").ok());
}

}  // namespace
}  // namespace lufd
