// DiffConfigs / MergeLiveFields (server/ops/reload.h): which fields a
// reload reports, which it applies live, and that the merged config keeps
// every restart-only field as it was.
#include "server/ops/reload.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/ops/config.h"

namespace lufd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A config as LoadConfigFile makes it (parsed, defaults applied); no
// validation: it needs no files.
lufd::v1::ServerConfig Config(const std::string& yaml) {
  absl::StatusOr<lufd::v1::ServerConfig> c = ParseConfigYaml(yaml);
  EXPECT_TRUE(c.ok()) << c.status();
  lufd::v1::ServerConfig config = c.ok() ? *c : lufd::v1::ServerConfig();
  ApplyConfigDefaults(&config);
  return config;
}

constexpr char kBase[] = R"(
grpc:
  listen: "127.0.0.1:50051"
  tls: {cert_file: s.pem, key_file: s.key, client_ca_file: ca.pem}
store:
  url: "sqlite:/var/lib/lufd/registry.db"
log:
  level: info
dns:
  listen: ["127.0.0.1:5353"]
  zones: [{name: "e164.arpa."}]
  dnssec: {key_dir: /var/lib/lufd/keys}
guard:  # Last: tests append lines to it.
  peer: {lookups_per_second: 100, burst: 200}
)";

const ConfigChange* Find(const ConfigDiff& diff, const std::string& field) {
  for (const ConfigChange& c : diff.changes) {
    if (c.field == field) return &c;
  }
  return nullptr;
}

TEST(ReloadTest, SameConfigNoChanges) {
  EXPECT_TRUE(DiffConfigs(Config(kBase), Config(kBase)).empty());
}

TEST(ReloadTest, LiveFieldsAreAppliedByPath) {
  const std::string next = std::string(kBase) + R"(
  anonymous: {lookups_per_second: 5}
  slip: 0
)";
  std::string yaml = next;
  // log.level info -> debug, guard.peer.burst 200 -> 3.
  yaml.replace(yaml.find("level: info"), 11, "level: debug");
  yaml.replace(yaml.find("burst: 200"), 10, "burst: 3");
  const ConfigDiff diff = DiffConfigs(Config(kBase), Config(yaml));
  EXPECT_THAT(diff.live_fields(),
              ElementsAre("log.level", "guard.peer.burst",
                          "guard.anonymous.lookups_per_second", "guard.slip"));
  EXPECT_THAT(diff.restart_fields(), IsEmpty());
  const ConfigChange* level = Find(diff, "log.level");
  ASSERT_NE(level, nullptr);
  EXPECT_EQ(level->old_value, "\"info\"");
  EXPECT_EQ(level->new_value, "\"debug\"");
  EXPECT_TRUE(level->live);
  // guard.slip is `optional`: 0 is a value (always drop), not "unset".
  const ConfigChange* slip = Find(diff, "guard.slip");
  ASSERT_NE(slip, nullptr);
  EXPECT_EQ(slip->old_value, "2");
  EXPECT_EQ(slip->new_value, "0");
}

TEST(ReloadTest, RestartOnlyFieldsAreReportedNotApplied) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("sqlite:/var/lib/lufd/registry.db"), 32,
               "postgresql://lufd@db/lufd");
  yaml.replace(yaml.find("127.0.0.1:50051"), 15, "127.0.0.1:50052");
  yaml.replace(yaml.find("/var/lib/lufd/keys"), 18, "/etc/lufd/keys");
  yaml.replace(yaml.find("e164.arpa."), 10, "e164.example.");
  yaml.replace(yaml.find("127.0.0.1:5353"), 14, "127.0.0.1:5354");
  yaml.replace(yaml.find("store:\n"), 7,
               "store:\n  primary_url: \"postgresql://lufd@primary/lufd\"\n");
  const lufd::v1::ServerConfig running = Config(kBase);
  const ConfigDiff diff = DiffConfigs(running, Config(yaml));
  EXPECT_THAT(diff.live_fields(), IsEmpty());
  EXPECT_THAT(diff.restart_fields(),
              ElementsAre("grpc.listen", "store.url", "store.primary_url",
                          "dns.listen", "dns.zones", "dns.dnssec.key_dir"));
  const ConfigChange* primary = Find(diff, "store.primary_url");
  ASSERT_NE(primary, nullptr);
  EXPECT_EQ(primary->old_value, "\"\"");
  // A repeated field is one change, old and new lists in full.
  const ConfigChange* listen = Find(diff, "dns.listen");
  ASSERT_NE(listen, nullptr);
  EXPECT_EQ(listen->old_value, "[\"127.0.0.1:5353\"]");
  EXPECT_EQ(listen->new_value, "[\"127.0.0.1:5354\"]");
  // Nothing of it is merged.
  const lufd::v1::ServerConfig merged =
      MergeLiveFields(running, Config(yaml), diff);
  EXPECT_EQ(merged.SerializeAsString(), running.SerializeAsString());
}

TEST(ReloadTest, MergeTakesLiveFieldsOnlyAndTheNextDiffStillNamesTheRest) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("level: info"), 11, "level: warn");
  yaml.replace(yaml.find("lookups_per_second: 100"), 23,
               "lookups_per_second: 1");
  yaml.replace(yaml.find("127.0.0.1:50051"), 15, "127.0.0.1:50052");
  yaml.replace(yaml.find("burst: 200}"), 11,
               "burst: 200, dry_run_rules: [rate, scan]}");
  const lufd::v1::ServerConfig running = Config(kBase);
  const lufd::v1::ServerConfig next = Config(yaml);
  const ConfigDiff diff = DiffConfigs(running, next);
  EXPECT_THAT(diff.live_fields(),
              ElementsAre("log.level", "guard.peer.lookups_per_second",
                          "guard.peer.dry_run_rules"));
  EXPECT_THAT(diff.restart_fields(), ElementsAre("grpc.listen"));

  const lufd::v1::ServerConfig merged = MergeLiveFields(running, next, diff);
  EXPECT_EQ(merged.log().level(), "warn");
  EXPECT_EQ(merged.guard().peer().lookups_per_second(), 1u);
  EXPECT_EQ(merged.guard().peer().burst(), 200u);
  EXPECT_THAT(merged.guard().peer().dry_run_rules(),
              ElementsAre("rate", "scan"));
  EXPECT_EQ(merged.grpc().listen(), "127.0.0.1:50051");

  // Reloading the same file again: only what was not applied is named.
  const ConfigDiff again = DiffConfigs(merged, next);
  EXPECT_THAT(again.live_fields(), IsEmpty());
  EXPECT_THAT(again.restart_fields(), ElementsAre("grpc.listen"));
}

TEST(ReloadTest, OptionalFieldsCompareWithPresence) {
  // guard.slip set to 0, then removed from the file: back to the default
  // (2), which is merged.
  const lufd::v1::ServerConfig running =
      Config(std::string(kBase) + "  slip: 0\n");
  const lufd::v1::ServerConfig next = Config(kBase);
  const ConfigDiff diff = DiffConfigs(running, next);
  ASSERT_THAT(diff.live_fields(), ElementsAre("guard.slip"));
  EXPECT_EQ(diff.changes[0].old_value, "0");
  EXPECT_EQ(diff.changes[0].new_value, "2");
  EXPECT_EQ(MergeLiveFields(running, next, diff).guard().slip(), 2u);
  // Without defaults: unset and an explicit 0 differ, and merging an unset
  // field clears it.
  lufd::v1::ServerConfig bare;
  lufd::v1::ServerConfig zero;
  zero.mutable_guard()->set_slip(0);
  const ConfigDiff unset = DiffConfigs(zero, bare);
  ASSERT_THAT(unset.live_fields(), ElementsAre("guard.slip"));
  EXPECT_EQ(unset.changes[0].old_value, "0");
  EXPECT_EQ(unset.changes[0].new_value, "(unset)");
  EXPECT_FALSE(MergeLiveFields(zero, bare, unset).guard().has_slip());
}

TEST(ReloadTest, LongValuesAreShortened) {
  std::string zones = "  zones: [";
  for (int i = 0; i < 40; ++i) {
    if (i > 0) zones += ", ";
    zones += "{name: \"z" + std::to_string(i) + ".e164.arpa.\"}";
  }
  zones += "]\n";
  std::string yaml = kBase;
  yaml.replace(yaml.find("  zones: [{name: \"e164.arpa.\"}]\n"), 32, zones);
  const ConfigDiff diff = DiffConfigs(Config(kBase), Config(yaml));
  const ConfigChange* z = Find(diff, "dns.zones");
  ASSERT_NE(z, nullptr);
  EXPECT_LT(z->new_value.size(), 240u);
  EXPECT_NE(z->new_value.find("chars)"), std::string::npos);
}

TEST(ReloadTest, LiveFieldTable) {
  EXPECT_TRUE(IsLiveField("log.level"));
  EXPECT_TRUE(IsLiveField("log.format"));
  EXPECT_TRUE(IsLiveField("guard.peer.misses_per_day"));
  EXPECT_TRUE(IsLiveField("guard.anonymous.burst"));
  EXPECT_TRUE(IsLiveField("guard.slip"));
  EXPECT_FALSE(IsLiveField("guard.enabled"));
  EXPECT_FALSE(IsLiveField("guard.max_identities"));
  EXPECT_FALSE(IsLiveField("guard.v4_prefix"));
  EXPECT_FALSE(IsLiveField("grpc.listen"));
  EXPECT_FALSE(IsLiveField("grpc.tls.cert_file"));
  EXPECT_FALSE(IsLiveField("store.url"));
  EXPECT_FALSE(IsLiveField("dns.zones"));
  EXPECT_FALSE(IsLiveField("metrics.listen"));
}

}  // namespace
}  // namespace lufd
