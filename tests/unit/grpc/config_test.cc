// Config loading: YAML -> ServerConfig conversion errors name the field
// path; defaults; semantic validation; `lufd --check-config` exit codes.
#include "server/ops/config.h"

#include <stdlib.h>
#include <sys/stat.h>
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
#include "server/ops/config_values.h"

namespace lufd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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
  // A private key file: 0600, as lufd requires (common/private_file.h).
  std::string KeyFile(const std::string& name,
                      const std::string& content) const {
    std::string p = File(name, content);
    std::filesystem::permissions(p, std::filesystem::perms::owner_read |
                                        std::filesystem::perms::owner_write);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A self-signed P-256 certificate (valid until 2126) and its key: the
// check loads TLS files as start-up does, so they must be real.
constexpr char kCertPem[] = R"(-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUdtma1m3syiXdUA+i+NhYt9s5VtMwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQbHVmZC1jb25maWctdGVzdDAgFw0yNjEyMDcwMTI0NTJaGA8y
MTI2MTExMzAxMjQ1MlowGzEZMBcGA1UEAwwQbHVmZC1jb25maWctdGVzdDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABIcHZHKeFZx0DrNe8kDnDFRoQuYqH/KpjDvd
mDYMh/BS1BNvdaA/Ku8/hkWa87Tw78lk5de9IVjJAill8L83o4KjUzBRMB0GA1Ud
DgQWBBQezNlRf2QRYraNQ3NtG7c65HauiTAfBgNVHSMEGDAWgBQezNlRf2QRYraN
Q3NtG7c65HauiTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIAdO
f82Mjwhzfq7SacrK/PIPW1EUfkTGkkyLAv98QgMCAiEAh2UKxH434DmWpZ+blIsF
ZkzbcRJUWd+GPsvZZQ7Gys0=
-----END CERTIFICATE-----
)";
constexpr char kKeyPem[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzqcGkos8JX22rHh3
29Q4NY5sh481TCqtIb470v+B5juhRANCAASHB2RynhWcdA6zXvJA5wxUaELmKh/y
qYw73Zg2DIfwUtQTb3WgPyrvP4ZFmvO08O/JZOXXvSFYyQIpZfC/N6OC
-----END PRIVATE KEY-----
)";

// A config whose referenced files exist and hold a matching certificate and
// key (the certificate is also the CA bundle).
std::string ValidYaml(const TempDir& dir) {
  const std::string cert = dir.File("cert.pem", kCertPem);
  const std::string key = dir.KeyFile("key.pem", kKeyPem);
  const std::string ca = dir.File("ca.pem", kCertPem);
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
  // Reflection is opt-in (issue 8: it showed the AdminService schema to
  // every peer by default).
  EXPECT_FALSE(config->grpc().reflection());
  EXPECT_EQ(config->grpc().tls().reload_interval(), "10s");
  EXPECT_EQ(config->store().poll_interval(), "20ms");
  EXPECT_EQ(config->store().max_view_lag(), "5s");
  EXPECT_EQ(config->metrics().listen(), "");  // No metrics endpoint.
  EXPECT_EQ(config->log().level(), "info");
  EXPECT_EQ(config->log().format(), "text");
  EXPECT_EQ(config->drain_timeout(), "10s");
}

TEST(ConfigTest, ExplicitValuesKept) {
  auto config = ParseConfigYaml(
      "grpc:\n  reflection: true\n  max_message_bytes: 65536\n"
      "log:\n  format: json\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ApplyConfigDefaults(&*config);
  EXPECT_TRUE(config->grpc().reflection());
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

// store.max_view_lag is a positive duration; metrics.listen an address
// literal with a port (civetweb resolves no names), or empty.
TEST(ConfigTest, ReadinessAndMetricsFields) {
  TempDir dir;
  const std::string path = dir.File("lufd.yaml", ValidYaml(dir));
  auto ok = LoadConfigFile(path, [](lufd::v1::ServerConfig* c) {
    c->mutable_store()->set_max_view_lag("250ms");
    c->mutable_metrics()->set_listen("[::1]:9153");
  });
  ASSERT_TRUE(ok.ok()) << ok.status();
  for (const char* lag : {"0s", "soon", "-1s"}) {
    auto bad = LoadConfigFile(path, [lag](lufd::v1::ServerConfig* c) {
      c->mutable_store()->set_max_view_lag(lag);
    });
    ASSERT_FALSE(bad.ok()) << lag;
    EXPECT_THAT(bad.status().message(), HasSubstr("store.max_view_lag:"))
        << lag;
  }
  for (const char* listen :
       {"localhost:9153", "127.0.0.1", "127.0.0.1:x", "[::1]:70000"}) {
    auto bad = LoadConfigFile(path, [listen](lufd::v1::ServerConfig* c) {
      c->mutable_metrics()->set_listen(listen);
    });
    ASSERT_FALSE(bad.ok()) << listen;
    EXPECT_THAT(bad.status().message(), HasSubstr("metrics.listen:")) << listen;
  }
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

// Start-up loads the certificate, key and CA bundle; so does the check.
TEST(ConfigTest, TlsFileContentsChecked) {
  TempDir dir;
  const std::string base = ValidYaml(dir);
  auto errors = [&](const std::string& from, const std::string& to) {
    std::string yaml = base;
    const size_t at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    yaml.replace(at, from.size(), to);
    auto config = ParseConfigYaml(yaml);
    EXPECT_TRUE(config.ok()) << config.status();
    ApplyConfigDefaults(&*config);
    return std::string(ValidateConfig(*config).message());
  };
  const std::string garbage = dir.File("garbage.pem", "x");
  const std::string other_key =
      dir.KeyFile("other.key", R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgGQK441kDTxrqiSuo
8h1tDY1kR/gi8oWyEzmPMACHcYyhRANCAAR51ztULPc5YxMvAN+LtsJ1EGQKanKX
2w4mvYFryb5fehV7iw3CC6H/qfFZYXta6fCLBPsJ2LPw16vU4zilBY3Z
-----END PRIVATE KEY-----
)");
  EXPECT_EQ(errors("ca.pem", "ca.pem"), "");
  EXPECT_THAT(errors(dir.path() + "/cert.pem", garbage),
              HasSubstr("grpc.tls.cert_file: no PEM certificate"));
  // (A key file must be 0600 to get as far as being parsed.)
  EXPECT_THAT(errors(dir.path() + "/key.pem", dir.KeyFile("garbage.key", "x")),
              HasSubstr("grpc.tls.key_file: no PEM private key"));
  EXPECT_THAT(errors(dir.path() + "/key.pem", other_key),
              HasSubstr("grpc.tls.key_file: does not match"));
  EXPECT_THAT(errors(dir.path() + "/ca.pem", garbage),
              HasSubstr("grpc.tls.client_ca_file: no PEM certificate"));
}

// A TLS private key others may read is refused (as ssh does), at start-up
// and by the check, with the path, the mode and the fix.
TEST(ConfigTest, TlsKeyFileReadableByOthersIsRefused) {
  TempDir dir;
  const std::string yaml = ValidYaml(dir);
  const std::string key = dir.path() + "/key.pem";
  auto check = [&] {
    auto config = ParseConfigYaml(yaml);
    EXPECT_TRUE(config.ok()) << config.status();
    ApplyConfigDefaults(&*config);
    return std::string(ValidateConfig(*config).message());
  };
  EXPECT_EQ(check(), "");
  ASSERT_EQ(chmod(key.c_str(), 0644), 0);
  const std::string msg = check();
  EXPECT_THAT(msg, HasSubstr("grpc.tls.key_file " + key + " has mode 0644"));
  EXPECT_THAT(msg, HasSubstr("chmod 600 " + key));
  ASSERT_EQ(chmod(key.c_str(), 0640), 0);
  EXPECT_THAT(check(), HasSubstr("has mode 0640"));
  ASSERT_EQ(chmod(key.c_str(), 0400), 0);
  EXPECT_EQ(check(), "");
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

TEST(ConfigTest, IpListenAddressNeedsALiteral) {
  sockaddr_storage addr;
  socklen_t len = 0;
  ASSERT_TRUE(ParseIpListenAddress("127.0.0.1:53", &addr, &len).ok());
  EXPECT_EQ(addr.ss_family, AF_INET);
  ASSERT_TRUE(ParseIpListenAddress("[::1]:0", &addr, &len).ok());
  EXPECT_EQ(addr.ss_family, AF_INET6);
  EXPECT_FALSE(ParseIpListenAddress("localhost:53", &addr, &len).ok());
  EXPECT_FALSE(ParseIpListenAddress("[::1:53", &addr, &len).ok());
  EXPECT_FALSE(ParseIpListenAddress("127.0.0.1:65536", &addr, &len).ok());
}

// HostText is the per-source key of both doors' connection caps: a
// v4-mapped address counts as the IPv4 client it is.
TEST(ConfigTest, HostTextIsTheNumericHostAndUnmapsV4) {
  sockaddr_storage addr;
  socklen_t len = 0;
  ASSERT_TRUE(ParseIpListenAddress("192.0.2.1:53", &addr, &len).ok());
  EXPECT_EQ(HostText(addr), "192.0.2.1");
  ASSERT_TRUE(ParseIpListenAddress("[2001:db8::1]:53", &addr, &len).ok());
  EXPECT_EQ(HostText(addr), "2001:db8::1");
  ASSERT_TRUE(ParseIpListenAddress("[::ffff:192.0.2.1]:53", &addr, &len).ok());
  EXPECT_EQ(HostText(addr), "192.0.2.1");
  sockaddr_storage unknown{};
  unknown.ss_family = AF_UNIX;
  EXPECT_EQ(HostText(unknown), "");
}

// One grammar for every duration: the union of the three that lived in
// config.cc, server/dns/signer.cc (ParseDnsDuration) and
// server/dns/keymanager.cc (ParseDurationWithDays). The assertions of the
// latter two's tests are kept here, except ParseDnsDuration's rejection of
// "1.5h", which the config check (and every non-DNSSEC field) accepted.
TEST(ConfigDurationTest, OneGrammar) {
  auto parse = [](absl::string_view text) { return ParseConfigDuration(text); };
  struct {
    const char* text;
    absl::Duration want;
  } good[] = {
      {"14d", absl::Hours(14 * 24)},      {"1d12h", absl::Hours(36)},
      {"90m", absl::Minutes(90)},         {"250ms", absl::Milliseconds(250)},
      {"0", absl::ZeroDuration()},        {"30d", absl::Hours(24 * 30)},
      {"1.5d", absl::Hours(36)},          {"12h", absl::Hours(12)},
      {"1.5h", absl::Minutes(90)},        {"1h30m", absl::Minutes(90)},
      {"100us", absl::Microseconds(100)}, {" 10s ", absl::Seconds(10)},
      {"0s", absl::ZeroDuration()},       {"12h1d", absl::Hours(36)},
  };
  for (const auto& g : good) {
    absl::StatusOr<absl::Duration> d = parse(g.text);
    ASSERT_TRUE(d.ok()) << g.text << ": " << d.status();
    EXPECT_EQ(*d, g.want) << g.text;
  }
  for (const char* bad : {"", "d", "14", "14x", "-1d", "soon", "-1s", "inf",
                          "1.2.3h", "10 s", "1d-1h", "h1"}) {
    absl::StatusOr<absl::Duration> d = parse(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok())
      EXPECT_THAT(d.status().message(), HasSubstr("invalid duration"));
  }
}

// The defaults table parses (a typo in it would silently drop defaults).
TEST(ConfigTest, DefaultsTableIsComplete) {
  const lufd::v1::ServerConfig& d = ConfigDefaults();
  EXPECT_EQ(d.grpc().listen(), "127.0.0.1:50051");
  EXPECT_EQ(d.drain_timeout(), "10s");
  EXPECT_EQ(d.dns().dnssec().purge_keys(), "90d");
  EXPECT_TRUE(d.dns().dnssec().has_sign_ahead());
  EXPECT_EQ(d.dns().dot().tls().reload_interval(), "10s");
}

TEST(ConfigTest, DnsDefaultsApplied) {
  auto config = ParseConfigYaml(
      "dns:\n  zones:\n    - name: E164.arpa\n    - name: x.example.\n"
      "      ns: [a.example., b.example.]\n      soa_minimum: 60\n"
      "    - name: y.example.\n      soa_minimum: 0\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ApplyConfigDefaults(&*config);
  const auto& dns = config->dns();
  EXPECT_EQ(dns.max_udp_payload(), 1232u);
  EXPECT_GE(dns.workers(), 1u);
  EXPECT_EQ(dns.tcp_idle_timeout(), "10s");
  EXPECT_EQ(dns.dot().client_cert(), "optional");
  EXPECT_EQ(dns.dot().min_tls_version(), "1.3");
  EXPECT_EQ(dns.zones(0).ns(0), "ns1.E164.arpa.");
  EXPECT_EQ(dns.zones(0).soa_mname(), "ns1.E164.arpa.");
  EXPECT_EQ(dns.zones(0).soa_rname(), "hostmaster.E164.arpa.");
  EXPECT_EQ(dns.zones(0).soa_minimum(), 300u);
  EXPECT_EQ(dns.zones(0).ttl(), 3600u);
  EXPECT_EQ(dns.zones(1).ns_size(), 2);
  EXPECT_EQ(dns.zones(1).soa_mname(), "a.example.");
  EXPECT_EQ(dns.zones(1).soa_minimum(), 60u);
  EXPECT_EQ(dns.zones(2).soa_minimum(), 0u);  // `optional`: 0 is a value.
  EXPECT_EQ(dns.zones(2).soa_retry(), 600u);
  const auto& sec = dns.dnssec();
  EXPECT_TRUE(sec.enabled());
  EXPECT_TRUE(sec.sign_ahead());
  EXPECT_TRUE(sec.auto_generate());
  EXPECT_EQ(sec.algorithm(), 13u);
  EXPECT_EQ(sec.scheme(), "csk");
  EXPECT_EQ(sec.signature_validity(), "14d");
  EXPECT_EQ(sec.zsk_lifetime(), "30d");
  EXPECT_EQ(sec.purge_keys(), "90d");
  EXPECT_EQ(sec.on_demand_cache_entries(), 100000u);
  EXPECT_EQ(sec.sign_threads(), 1u);
}

// proto3 `optional`: an explicit false survives the defaults, in YAML and
// in a config built in code; absent means the default (true).
TEST(ConfigTest, GuardDefaultsApplied) {
  auto config = ParseConfigYaml(
      "guard:\n  peer:\n    distinct_numbers_per_day: 500\n"
      "    miss_cost: 4\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ApplyConfigDefaults(&*config);
  const auto& guard = config->guard();
  EXPECT_TRUE(guard.enabled());
  EXPECT_EQ(guard.max_identities(), 100000u);
  EXPECT_EQ(guard.peer().lookups_per_second(), 10000u);
  EXPECT_EQ(guard.peer().burst(), 20000u);
  EXPECT_EQ(guard.peer().miss_cost(), 4u);
  EXPECT_EQ(guard.peer().distinct_numbers_per_day(), 500u);
  EXPECT_FALSE(guard.peer().dry_run());
  // Absent: no disclosure limit by default; `enabled: false` is kept.
  auto off = ParseConfigYaml("guard:\n  enabled: false\n");
  ASSERT_TRUE(off.ok()) << off.status();
  ApplyConfigDefaults(&*off);
  EXPECT_FALSE(off->guard().enabled());
  EXPECT_EQ(off->guard().peer().distinct_numbers_per_day(), 0u);
}

// The guard's anonymous class, prefixes, slip and ladder: defaults, and
// every bad value named.
TEST(ConfigTest, GuardAnonymousDefaultsAndErrors) {
  auto config = ParseConfigYaml("guard:\n  slip: 0\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ApplyConfigDefaults(&*config);
  const auto& guard = config->guard();
  EXPECT_EQ(guard.anonymous().lookups_per_second(), 200u);
  EXPECT_EQ(guard.anonymous().signatures_per_second(), 100u);
  EXPECT_EQ(guard.v4_prefix(), 24u);
  EXPECT_EQ(guard.v6_prefix(), 56u);
  EXPECT_TRUE(guard.has_slip());
  EXPECT_EQ(guard.slip(), 0u);  // `optional`: 0 (always drop) is kept.
  EXPECT_EQ(guard.scan_window(), "60s");

  TempDir dir;
  auto bad = ParseConfigYaml(
      "guard:\n  v4_prefix: 33\n  v6_prefix: 8\n"
      "  block_ladder: [\"1m\", \"soon\"]\n  scan_window: \"0s\"\n"
      "  anonymous:\n    dry_run_rules: [\"rate\", \"everything\"]\n");
  ASSERT_TRUE(bad.ok()) << bad.status();
  ApplyConfigDefaults(&*bad);
  absl::Status s = ValidateConfig(*bad);
  ASSERT_FALSE(s.ok());
  const std::string msg(s.message());
  EXPECT_THAT(msg, HasSubstr("guard.v4_prefix: must be 8-32"));
  EXPECT_THAT(msg, HasSubstr("guard.v6_prefix: must be 16-128"));
  EXPECT_THAT(msg, HasSubstr("guard.block_ladder[1]"));
  EXPECT_THAT(msg, HasSubstr("guard.scan_window"));
  EXPECT_THAT(msg, HasSubstr("unknown rule \"everything\""));
  EXPECT_THAT(msg, Not(HasSubstr("guard.block_ladder[0]")));
}

// The shared budget: unset `shared` (the server picks by store), chunk 1 %,
// an explicit false kept, a chunk over 50 % refused.
TEST(ConfigTest, GuardSharedBudgetDefaultsAndErrors) {
  auto config = ParseConfigYaml("guard:\n  enabled: true\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ApplyConfigDefaults(&*config);
  EXPECT_FALSE(config->guard().has_shared());
  EXPECT_EQ(config->guard().lease_chunk_percent(), 1u);
  auto off = ParseConfigYaml("guard:\n  shared: false\n");
  ASSERT_TRUE(off.ok()) << off.status();
  ApplyConfigDefaults(&*off);
  EXPECT_TRUE(off->guard().has_shared());
  EXPECT_FALSE(off->guard().shared());
  auto bad = ParseConfigYaml("guard:\n  lease_chunk_percent: 51\n");
  ASSERT_TRUE(bad.ok()) << bad.status();
  ApplyConfigDefaults(&*bad);
  absl::Status s = ValidateConfig(*bad);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("guard.lease_chunk_percent: must be 1-50"));
}

TEST(ConfigTest, ExplicitFalseKept) {
  auto config = ParseConfigYaml(
      "dns:\n  dnssec:\n    sign_ahead: false\n    enabled: false\n"
      "    auto_generate: false\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->dns().dnssec().has_sign_ahead());
  ApplyConfigDefaults(&*config);
  EXPECT_FALSE(config->dns().dnssec().sign_ahead());
  EXPECT_FALSE(config->dns().dnssec().enabled());
  EXPECT_FALSE(config->dns().dnssec().auto_generate());
  EXPECT_FALSE(config->grpc().reflection());  // Absent: the default, false.

  lufd::v1::ServerConfig built;
  built.mutable_dns()->mutable_dnssec()->set_sign_ahead(false);
  ApplyConfigDefaults(&built);
  EXPECT_FALSE(built.dns().dnssec().sign_ahead());
  EXPECT_TRUE(built.dns().dnssec().enabled());

  // "key: ~" is unset: the default applies.
  auto null = ParseConfigYaml("dns:\n  dnssec:\n    sign_ahead: ~\n");
  ASSERT_TRUE(null.ok());
  ApplyConfigDefaults(&*null);
  EXPECT_TRUE(null->dns().dnssec().sign_ahead());
}

// The DNSSEC rules that start-up used to find only when the key manager or
// the signer was created (issue 7: "1d12h" passed the check, then start-up
// failed with "invalid duration").
TEST(ConfigTest, DotMinTlsVersionIsOneThreeOrOneTwo) {
  auto errors = [](const std::string& value) {
    auto config = ParseConfigYaml(absl::StrCat(
        "store:\n  url: \"memory:\"\ndns:\n  dot:\n    min_tls_version: \"",
        value, "\"\n"));
    EXPECT_TRUE(config.ok()) << config.status();
    ApplyConfigDefaults(&*config);
    return std::string(ValidateConfig(*config).message());
  };
  EXPECT_THAT(errors("1.3"), Not(HasSubstr("min_tls_version")));
  EXPECT_THAT(errors("1.2"), Not(HasSubstr("min_tls_version")));
  for (const char* bad : {"1.1", "1.0", "TLSv1.2", "1.4"}) {
    EXPECT_THAT(errors(bad),
                HasSubstr(absl::StrCat("dns.dot.min_tls_version: unknown "
                                       "value \"",
                                       bad, "\" (1.3, 1.2)")))
        << bad;
  }
}

// dns.xfr (zone transfer out): secondaries are IP host:port, key names are
// domain names, XoT needs a DoT listener that asks for certificates.
TEST(ConfigTest, XfrChecked) {
  auto errors = [](const std::string& dns_yaml) {
    auto config = ParseConfigYaml(
        absl::StrCat("store:\n  url: \"memory:\"\ndns:\n", dns_yaml));
    EXPECT_TRUE(config.ok()) << config.status();
    ApplyConfigDefaults(&*config);
    return std::string(ValidateConfig(*config).message());
  };
  EXPECT_THAT(errors("  xfr:\n    notify: [\"127.0.0.1:5300\", "
                     "\"[::1]:53\"]\n    allow_tsig: [\"xfr-key.\", "
                     "\"k2\"]\n"),
              Not(HasSubstr("dns.xfr")));
  EXPECT_THAT(errors("  xfr:\n    notify: [\"knot.example:53\"]\n"),
              HasSubstr("dns.xfr.notify[0]: "));
  EXPECT_THAT(errors("  xfr:\n    notify: [\"127.0.0.1:0\"]\n"),
              HasSubstr("dns.xfr.notify[0]: port 0"));
  EXPECT_THAT(errors("  xfr:\n    allow_tsig: [\"bad..name\"]\n"),
              HasSubstr("dns.xfr.allow_tsig[0]: \"bad..name\" is not a TSIG "
                        "key name"));
  EXPECT_THAT(errors("  xfr:\n    allow_dot_orgs: [\"iana-en:333\"]\n"),
              HasSubstr("dns.xfr.allow_dot_orgs: needs dns.dot.listen"));
}

TEST(ConfigTest, ConnectionLimitsDefaultsAndErrors) {
  auto load = [](const std::string& yaml) {
    auto config =
        ParseConfigYaml(absl::StrCat("store:\n  url: \"memory:\"\n", yaml));
    EXPECT_TRUE(config.ok()) << config.status();
    ApplyConfigDefaults(&*config);
    return *config;
  };
  auto errors = [&](const std::string& yaml) {
    return std::string(ValidateConfig(load(yaml)).message());
  };
  const auto defaults = load("");
  EXPECT_EQ(defaults.grpc().max_connections(), 1000u);
  EXPECT_EQ(defaults.grpc().max_connections_per_source(), 64u);
  EXPECT_EQ(defaults.grpc().handshake_timeout(), "5s");
  EXPECT_EQ(defaults.grpc().max_calls_per_identity(), 64u);
  EXPECT_EQ(defaults.grpc().max_threads(), 256u);
  EXPECT_EQ(defaults.dns().tcp_reserved_for_peers(), 100u);
  EXPECT_THAT(errors("grpc:\n  max_connections: 10\n"
                     "  max_connections_per_source: 11\n"),
              HasSubstr("grpc.max_connections_per_source: must be 1 .. "
                        "grpc.max_connections"));
  EXPECT_THAT(errors("grpc:\n  handshake_timeout: \"soon\"\n"),
              HasSubstr("grpc.handshake_timeout"));
  EXPECT_THAT(errors("grpc:\n  max_threads: 1\n"),
              HasSubstr("grpc.max_threads: must be at least 2"));
  EXPECT_THAT(errors("dns:\n  max_tcp_connections: 50\n"
                     "  tcp_reserved_for_peers: 50\n"),
              HasSubstr("dns.tcp_reserved_for_peers: must be below "
                        "dns.max_tcp_connections"));
  EXPECT_THAT(errors("dns:\n  max_tcp_connections: 50\n"
                     "  tcp_reserved_for_peers: 10\n"),
              Not(HasSubstr("tcp_reserved_for_peers")));
}

TEST(ConfigTest, DnssecRulesInTheCheck) {
  auto errors = [](const std::string& dnssec_yaml) {
    auto config =
        ParseConfigYaml(absl::StrCat("dns:\n  dnssec:\n", dnssec_yaml));
    EXPECT_TRUE(config.ok()) << config.status();
    ApplyConfigDefaults(&*config);
    return std::string(ValidateDnssecConfig(config->dns().dnssec()).message());
  };
  EXPECT_EQ(errors("    zsk_lifetime: 1d12h\n"), "");
  EXPECT_EQ(errors("    jitter: 1.5h\n"), "");
  EXPECT_EQ(errors("    zsk_lifetime: \"0\"\n    purge_keys: \"0\"\n"), "");
  EXPECT_THAT(errors("    zsk_lifetime: 30m\n"),
              HasSubstr("dns.dnssec.zsk_lifetime: must exceed publish_safety"));
  EXPECT_THAT(errors("    purge_keys: soon\n"),
              HasSubstr("dns.dnssec.purge_keys: invalid duration"));
  EXPECT_THAT(errors("    signature_validity: 30m\n    refresh_before: 5m\n"
                     "    jitter: \"0\"\n"),
              HasSubstr("dns.dnssec.signature_validity: at least 1h"));
  EXPECT_THAT(errors("    signature_validity: 2d\n"),
              HasSubstr("dns.dnssec.refresh_before"));
}

TEST(ConfigTest, KeyDirMustBeADirectory) {
  TempDir dir;
  const std::string file = dir.File("not-a-dir", "x");
  auto check = [&](const std::string& key_dir) {
    auto config = ParseConfigYaml(absl::StrCat(
        ValidYaml(dir), "dns:\n  listen: [\"127.0.0.1:0\"]\n  zones:\n",
        "    - name: e164.arpa.\n  dnssec:\n    key_dir: ", key_dir, "\n"));
    EXPECT_TRUE(config.ok()) << config.status();
    ApplyConfigDefaults(&*config);
    return std::string(ValidateConfig(*config).message());
  };
  EXPECT_EQ(check(dir.path()), "");
  EXPECT_EQ(check(dir.path() + "/keys"), "");  // Created at start.
  EXPECT_THAT(check(file), HasSubstr("is not a directory"));
  EXPECT_THAT(check(dir.path() + "/no/keys"), HasSubstr("cannot create"));
}

// A key dir others may write, or a private key in it others may read, is
// refused by the check as by KeyManager::Start.
TEST(ConfigTest, KeyDirAndKeyFileModesChecked) {
  TempDir dir;
  const std::string keys = dir.path() + "/keys";
  ASSERT_EQ(mkdir(keys.c_str(), 0700), 0);
  auto check = [&] {
    auto config = ParseConfigYaml(absl::StrCat(
        ValidYaml(dir), "dns:\n  listen: [\"127.0.0.1:0\"]\n  zones:\n",
        "    - name: e164.arpa.\n  dnssec:\n    key_dir: ", keys, "\n"));
    EXPECT_TRUE(config.ok()) << config.status();
    ApplyConfigDefaults(&*config);
    return std::string(ValidateConfig(*config).message());
  };
  EXPECT_EQ(check(), "");
  ASSERT_EQ(chmod(keys.c_str(), 0777), 0);
  EXPECT_THAT(check(),
              HasSubstr("dns.dnssec.key_dir " + keys + " has mode 0777"));
  EXPECT_THAT(check(), HasSubstr("chmod 700 " + keys));
  ASSERT_EQ(chmod(keys.c_str(), 0700), 0);
  const std::string file = keys + "/Ke164.arpa+013+12345.pem";
  std::ofstream(file) << kKeyPem;
  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  EXPECT_THAT(check(), HasSubstr(file + " has mode 0644"));
  EXPECT_THAT(check(), HasSubstr("chmod 600 " + file));
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  EXPECT_EQ(check(), "");
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

TEST(CheckConfigTest, ReadableTlsKeyFails) {
  TempDir dir;
  const std::string path = dir.File("lufd.yaml", ValidYaml(dir));
  const std::string key = dir.path() + "/key.pem";
  ASSERT_EQ(chmod(key.c_str(), 0644), 0);
  std::string out;
  EXPECT_EQ(RunLufd(absl::StrCat("--check-config ", path), &out), 1);
  EXPECT_THAT(out, HasSubstr(key + " has mode 0644"));
  EXPECT_THAT(out, HasSubstr("chmod 600 " + key));
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
// and data directory (/var/lib/lufd, made by docker/Dockerfile) do not
// exist here, so "cannot read" errors for the file fields and "cannot
// create" for the key directory in /var/lib/lufd are the only ones allowed.
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
    const bool missing_dir =
        absl::StartsWith(
            line, "dns.dnssec.key_dir: cannot create \"/var/lib/lufd/") &&
        absl::EndsWith(line, "\"/var/lib/lufd\" is not a directory");
    EXPECT_TRUE(missing_file || missing_dir) << line;
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

namespace lufd {
namespace {

// Replication keys (docs/replication.md): grpc.primary_endpoint is a
// host:port lufctl can dial; store.primary_url a PostgreSQL URL beside a
// PostgreSQL store.url.
absl::Status ValidateReplicaYaml(const std::string& grpc_extra,
                                 const std::string& store) {
  auto config = ParseConfigYaml(absl::StrCat(
      "grpc:\n  listen: \"127.0.0.1:0\"\n", grpc_extra, "store:\n", store));
  if (!config.ok()) return config.status();
  ApplyConfigDefaults(&*config);
  return ValidateConfig(*config);
}

TEST(ConfigTest, PrimaryEndpointMustBeHostAndPort) {
  const std::string store = "  url: \"postgresql://u@h:5432/d\"\n";
  for (const char* bad :
       {"nonsense", "h:0", "h:70000", "http://h:1", ":5", "a b:5"}) {
    absl::Status s = ValidateReplicaYaml(
        absl::StrCat("  primary_endpoint: \"", bad, "\"\n"), store);
    EXPECT_THAT(std::string(s.message()), HasSubstr("grpc.primary_endpoint:"))
        << bad;
  }
  for (const char* good : {"lufd-a.example:50051", "127.0.0.1:1", "[::1]:5"}) {
    absl::Status s = ValidateReplicaYaml(
        absl::StrCat("  primary_endpoint: \"", good, "\"\n"), store);
    EXPECT_THAT(std::string(s.message()),
                Not(HasSubstr("grpc.primary_endpoint:")))
        << good;
  }
}

TEST(ConfigTest, PrimaryUrlIsPostgresBesidePostgres) {
  auto msg = [](const std::string& store) {
    return std::string(ValidateReplicaYaml("", store).message());
  };
  EXPECT_THAT(msg("  url: \"postgresql://u@s:5432/d\"\n"
                  "  primary_url: \"mysql://x\"\n"),
              HasSubstr("store.primary_url: unknown scheme"));
  EXPECT_THAT(msg("  url: \"postgresql://u@s:5432/d\"\n"
                  "  primary_url: \"sqlite:/x.db\"\n"),
              HasSubstr("store.primary_url: must be a PostgreSQL URL"));
  EXPECT_THAT(msg("  url: \"sqlite:/x.db\"\n"
                  "  primary_url: \"postgresql://u@p:5432/d\"\n"),
              HasSubstr("store.primary_url: only for a PostgreSQL"));
  EXPECT_THAT(msg("  url: \"postgresql://u@s:5432/d\"\n"
                  "  primary_url: \"postgresql://u@p:5432/d\"\n"),
              Not(HasSubstr("store.primary_url")));
}

}  // namespace
}  // namespace lufd
