// `lufd --check-config` and `lufd --config` must agree: a table of configs,
// good and bad, each both checked and started (memory store, port 0, a
// throw-away PKI from tools/dev-pki.sh). A config that passes the check must
// start; one the check rejects must not start. The process is stopped with
// SIGTERM as soon as it serves (its port file appears) or has exited.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl =
      (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  return mkdtemp(tmpl.data());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `argv` with stdout+stderr to `log`; returns the child's pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) !=
      0) {
    pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Waits for `pid` to exit; returns its exit code (-1 if killed by a signal).
int Reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Case {
  const char* name;
  // Appended to the base config; "$DIR" is the case's temp directory and
  // "$PKI" the test PKI.
  const char* yaml;
  bool valid;
  const char* error = "";  // Expected in the --check-config output.
  // Replaces `from` in the base config by `to` (when `from` is not empty).
  const char* from = "";
  const char* to = "";
};

// Ends inside dns.dnssec, so cases can add dnssec keys (4 spaces) or dns
// keys (2 spaces) directly after it.
constexpr char kBase[] = R"(grpc:
  listen: "127.0.0.1:0"
  tls:
    cert_file: $PKI/server.pem
    key_file: $PKI/server.key
    client_ca_file: $PKI/ca.pem
store:
  url: "memory:"
  migrate_on_start: true
drain_timeout: 1s
)";

constexpr char kDns[] = R"(dns:
  listen: ["127.0.0.1:0"]
  workers: 1
  zones:
    - name: e164.arpa.
  dnssec:
    key_dir: $DIR/keys
)";

const Case kCases[] = {
    {"plain", "", true},
    {"dns_defaults", kDns, true},
    // The issue-7 bug: passed the check, then start-up failed with
    // "invalid duration".
    {"zsk_lifetime_days_and_hours", "$DNS    zsk_lifetime: \"1d12h\"\n", true},
    {"zsk_lifetime_fractional_days", "$DNS    zsk_lifetime: \"1.5d\"\n", true},
    {"jitter_fractional_hours", "$DNS    jitter: \"1.5h\"\n", true},
    {"purge_keys_never", "$DNS    purge_keys: \"0\"\n", true},
    {"sign_ahead_false", "$DNS    sign_ahead: false\n", true},
    {"dnssec_disabled_without_key_dir",
     "dns:\n  listen: [\"127.0.0.1:0\"]\n  zones:\n    - name: e164.arpa.\n"
     "  dnssec:\n    enabled: false\n",
     true},
    {"tcp_idle_timeout_days", "$DNS  tcp_idle_timeout: 1d\n", true},
    {"grpc_tls_reload_interval_days", "", true, "",
     "    client_ca_file: $PKI/ca.pem\n",
     "    client_ca_file: $PKI/ca.pem\n    reload_interval: 1d\n"},
    {"dot",
     "$DNS  dot:\n    listen: \"127.0.0.1:0\"\n    tls:\n"
     "      cert_file: $PKI/server.pem\n      key_file: $PKI/server.key\n"
     "      client_ca_file: $PKI/ca.pem\n",
     true},
    {"dot_cert_not_pem",
     "$DNS  dot:\n    listen: \"127.0.0.1:0\"\n    tls:\n"
     "      cert_file: $PKI/ca.key\n      key_file: $PKI/server.key\n"
     "      client_ca_file: $PKI/ca.pem\n",
     false, "dns.dot.tls.cert_file: no PEM certificate"},
    {"grpc_key_mismatch", "", false, "grpc.tls.key_file: does not match",
     "$PKI/server.key", "$PKI/ca.key"},
    {"soa_minimum_zero",
     "dns:\n  listen: [\"127.0.0.1:0\"]\n  zones:\n    - name: e164.arpa.\n"
     "      soa_minimum: 0\n  dnssec:\n    enabled: false\n",
     true},
    {"ipv6_dns_listen",
     "dns:\n  listen: [\"[::1]:0\"]\n  zones:\n    - name: e164.arpa.\n"
     "  dnssec:\n    enabled: false\n",
     true},
    {"zsk_lifetime_bogus", "$DNS    zsk_lifetime: forever\n", false,
     "dns.dnssec.zsk_lifetime: invalid duration"},
    {"purge_keys_bogus", "$DNS    purge_keys: soon\n", false,
     "dns.dnssec.purge_keys: invalid duration"},
    {"zsk_lifetime_below_publish_safety", "$DNS    zsk_lifetime: 30m\n", false,
     "dns.dnssec.zsk_lifetime"},
    {"signature_validity_below_1h",
     "$DNS    signature_validity: 30m\n    refresh_before: 10m\n"
     "    jitter: 1m\n",
     false, "dns.dnssec.signature_validity"},
    {"refresh_plus_jitter_too_long", "$DNS    signature_validity: 2d\n", false,
     "dns.dnssec.refresh_before"},
    {"negative_drain_timeout", "", false, "drain_timeout", "drain_timeout: 1s",
     "drain_timeout: -1s"},
    {"duration_without_unit", "$DNS  tcp_idle_timeout: \"10\"\n", false,
     "dns.tcp_idle_timeout: invalid duration"},
    {"duration_words", "", false, "store.poll_interval: invalid duration",
     "migrate_on_start: true\n",
     "migrate_on_start: true\n  poll_interval: soon\n"},
    {"bad_algorithm", "$DNS    algorithm: 8\n", false, "dns.dnssec.algorithm"},
    {"bad_scheme", "$DNS    scheme: double\n", false, "dns.dnssec.scheme"},
    {"dnssec_without_key_dir",
     "dns:\n  listen: [\"127.0.0.1:0\"]\n  zones:\n    - name: e164.arpa.\n",
     false, "dns.dnssec.key_dir: required"},
    {"key_dir_is_a_file",
     "dns:\n  listen: [\"127.0.0.1:0\"]\n  zones:\n    - name: e164.arpa.\n"
     "  dnssec:\n    key_dir: $PKI/ca.pem\n",
     false, "dns.dnssec.key_dir"},
    {"dns_without_zones", "dns:\n  listen: [\"127.0.0.1:0\"]\n", false,
     "dns.zones"},
    {"bad_zone_name",
     "dns:\n  listen: [\"127.0.0.1:0\"]\n  zones:\n    - name: e164.arpa.\n"
     "    - name: \"bad..name.\"\n  dnssec:\n    enabled: false\n",
     false, "dns.zones[1].name"},
    {"grpc_listen_without_port", "", false, "grpc.listen", "\"127.0.0.1:0\"",
     "localhost"},
    {"grpc_listen_bad_port", "", false, "grpc.listen", "127.0.0.1:0",
     "127.0.0.1:70000"},
    {"grpc_listen_bare_v6", "", false, "grpc.listen", "127.0.0.1:0",
     "::1:50051"},
    {"dns_listen_hostname",
     "dns:\n  listen: [\"localhost:0\"]\n  zones:\n    - name: e164.arpa.\n"
     "  dnssec:\n    enabled: false\n",
     false, "dns.listen[0]"},
    {"dns_listen_unclosed_bracket",
     "dns:\n  listen: [\"[::1:53\"]\n  zones:\n    - name: e164.arpa.\n"
     "  dnssec:\n    enabled: false\n",
     false, "dns.listen[0]"},
    {"missing_cert", "", false, "grpc.tls.cert_file: cannot read",
     "$PKI/server.pem", "$DIR/none.pem"},
    {"unknown_field", "dns:\n  dnssec:\n    sign_ahaed: false\n", false,
     "dns.dnssec.sign_ahaed: unknown field"},
    {"bool_not_a_bool", "$DNS    sign_ahead: maybe\n", false,
     "dns.dnssec.sign_ahead: expected a boolean"},
};

class ConfigAgreeTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(MakeTempDir("lufd-config-agree-pki"));
    const std::string script =
        absl::StrCat(LUFD_SOURCE_DIR, "/tools/dev-pki.sh");
    ASSERT_EQ(
        std::system(absl::StrCat("bash ", script, " --quiet ", *pki_).c_str()),
        0);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*pki_, ec);
    delete pki_;
    pki_ = nullptr;
  }
  void SetUp() override { dir_ = MakeTempDir("lufd-config-agree"); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // The YAML of a case: the base with the case's replacement, then the
  // case's keys.
  std::string Yaml(const Case& c) const {
    std::string base = kBase;
    if (*c.from != '\0') {
      EXPECT_TRUE(absl::StrContains(base, c.from)) << c.from;
      base = absl::StrReplaceAll(base, {{c.from, c.to}});
    }
    const std::string extra = absl::StrReplaceAll(c.yaml, {{"$DNS", kDns}});
    return absl::StrReplaceAll(base + extra, {{"$DIR", dir_}, {"$PKI", *pki_}});
  }

  // Runs `lufd --check-config`; returns true when it printed OK.
  bool Check(const std::string& config, std::string* out) {
    const std::string log = absl::StrCat(dir_, "/check.log");
    const pid_t pid = Spawn({LUFD_BINARY, "--check-config", config}, log);
    EXPECT_GT(pid, 0);
    const int code = Reap(pid);
    *out = ReadFile(log);
    EXPECT_TRUE(code == 0 || code == 1) << code << ": " << *out;
    EXPECT_EQ(code == 0, *out == "OK\n") << *out;
    return code == 0;
  }

  // Starts `lufd --config`; returns true when it came up serving (then
  // stops it and expects a clean exit).
  bool Start(const std::string& config, std::string* out) {
    const std::string log = absl::StrCat(dir_, "/start.log");
    const std::string port_file = absl::StrCat(dir_, "/port");
    const pid_t pid =
        Spawn({LUFD_BINARY, "--config", config, "--port-file", port_file}, log);
    EXPECT_GT(pid, 0);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool serving = false;
    int status = 0;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (fs::exists(port_file)) {
        serving = true;
        break;
      }
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!exited) {
      kill(pid, SIGTERM);
      const int code = Reap(pid);
      if (serving) {
        EXPECT_EQ(code, 0) << ReadFile(log);
      }
    } else {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0)
          << ReadFile(log);
    }
    *out = ReadFile(log);
    return serving;
  }

  static std::string* pki_;
  std::string dir_;
};

std::string* ConfigAgreeTest::pki_ = nullptr;

TEST_P(ConfigAgreeTest, CheckAndStartAgree) {
  const Case& c = GetParam();
  const std::string yaml = Yaml(c);
  const std::string path = absl::StrCat(dir_, "/lufd.yaml");
  std::ofstream(path) << yaml;
  SCOPED_TRACE(yaml);
  std::string check_out;
  std::string start_out;
  const bool checked = Check(path, &check_out);
  const bool started = Start(path, &start_out);
  EXPECT_EQ(checked, c.valid) << check_out;
  EXPECT_EQ(started, checked) << "check said:\n"
                              << check_out << "start said:\n"
                              << start_out;
  if (!c.valid) {
    EXPECT_THAT(check_out, ::testing::HasSubstr(c.error));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ConfigAgreeTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
