// Secrets at rest, on every backend (see store_conformance.h): the objects
// table keeps a credential's TSIG secret (ReadObject, LoadSnapshot), the
// change log and the audit trail only its fingerprint; and migration
// kScrubSecretsMigration rewrites change logs written before that rule.
#include <sqlite3.h>

#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/common.h"
#include "storage/migrate.h"
#include "storage/store.h"
#include "tests/conformance/store_conformance.h"

namespace lufd::testing {
namespace {

using lufd::v1::Change;
using lufd::v1::RegistryObject;

constexpr auto kCred = lufd::v1::OBJECT_KIND_CREDENTIAL;
constexpr auto kOrg = lufd::v1::OBJECT_KIND_ORG;

// 32 bytes that differ per call, with bytes base64 would not hide.
std::string Secret(char tag) {
  std::string s(32, '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(tag + 7 * i);
  return s;
}

std::string Fingerprint(const std::string& secret) {
  return storage_internal::Sha256Hex(secret).substr(0, 16);
}

RegistryObject Cred(const std::string& id, const std::string& secret,
                    bool disabled = false) {
  RegistryObject o;
  auto* c = o.mutable_credential();
  c->set_id(id);
  c->set_org_id("iana-en:111");
  c->set_role(lufd::v1::ROLE_PEER);
  c->set_description("ssp1 resolver");
  c->set_tsig_key_name(id + "-key.");
  c->set_tsig_algorithm("hmac-sha256");
  c->set_tsig_secret(secret);
  c->set_disabled(disabled);
  return o;
}

Mutation Put(const std::string& key, const RegistryObject& after,
             std::optional<RegistryObject> before = std::nullopt) {
  Mutation m;
  m.kind = after.has_org() ? kOrg : kCred;
  m.key = key;
  m.before = std::move(before);
  m.after = after;
  return m;
}

Mutation Del(const std::string& key, std::optional<RegistryObject> before) {
  Mutation m;
  m.kind = kCred;
  m.key = key;
  m.before = std::move(before);
  return m;
}

absl::StatusOr<uint64_t> CommitAll(Store& store, std::vector<Mutation> ms) {
  CommitRequest r;
  r.actor = "iana-en:0/admin";
  r.mutations = std::move(ms);
  return store.Commit(r);
}

// Fails the test when any change (every byte of it) holds a secret, raw or
// in base64; returns the fingerprints its images carry.
std::set<std::string> CheckNoSecrets(const std::vector<Change>& changes,
                                     const std::vector<std::string>& secrets) {
  std::set<std::string> fingerprints;
  for (const Change& c : changes) {
    const std::string bytes = c.SerializeAsString();
    const std::string text = c.DebugString();
    for (const std::string& s : secrets) {
      for (const std::string& form :
           {s, absl::Base64Escape(s), absl::BytesToHexString(s)}) {
        EXPECT_FALSE(absl::StrContains(bytes, form))
            << "serial " << c.serial() << " holds a secret";
        EXPECT_FALSE(absl::StrContains(text, form))
            << "serial " << c.serial() << " holds a secret";
      }
    }
    for (const RegistryObject* o : {&c.before(), &c.after()}) {
      if (!o->has_credential()) continue;
      EXPECT_TRUE(o->credential().tsig_secret().empty());
      if (!o->credential().tsig_secret_sha256().empty()) {
        fingerprints.insert(o->credential().tsig_secret_sha256());
      }
    }
  }
  return fingerprints;
}

// The case: a TSIG credential added, then rotated twice. The
// objects table serves the latest secret; the change log and the audit
// trail carry three distinct fingerprints and no secret.
TEST_P(SecretsConformanceTest, ChangeLogAndAuditCarryFingerprintsNotSecrets) {
  ASSERT_TRUE(store_->Migrate().ok());
  const std::string a = Secret('a'), b = Secret('b'), c = Secret('c');
  ASSERT_TRUE(CommitAll(*store_, {Put("cred-1", Cred("cred-1", a))}).ok());
  ASSERT_TRUE(
      CommitAll(*store_, {Put("cred-1", Cred("cred-1", b), Cred("cred-1", a))})
          .ok());
  auto last =
      CommitAll(*store_, {Put("cred-1", Cred("cred-1", c), Cred("cred-1", b))});
  ASSERT_TRUE(last.ok()) << last.status();

  auto stored = store_->ReadObject(kCred, "cred-1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->credential().tsig_secret(), c);
  EXPECT_TRUE((*stored)->credential().tsig_secret_sha256().empty());
  int seen = 0;
  auto serial = store_->LoadSnapshot(
      [&](lufd::v1::ObjectKind, absl::string_view, const RegistryObject& o) {
        ++seen;
        EXPECT_EQ(o.credential().tsig_secret(), c);
      });
  ASSERT_TRUE(serial.ok());
  EXPECT_EQ(seen, 1);

  auto changes = store_->ReadChanges(0, 100);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 3u);
  const std::set<std::string> want = {Fingerprint(a), Fingerprint(b),
                                      Fingerprint(c)};
  EXPECT_EQ(CheckNoSecrets(*changes, {a, b, c}), want);
  // Each rotation shows which secret it replaced by what.
  EXPECT_EQ((*changes)[1].before().credential().tsig_secret_sha256(),
            Fingerprint(a));
  EXPECT_EQ((*changes)[1].after().credential().tsig_secret_sha256(),
            Fingerprint(b));
  // Everything but the secret is kept.
  EXPECT_EQ((*changes)[2].after().credential().description(), "ssp1 resolver");
  EXPECT_EQ((*changes)[2].after().credential().tsig_key_name(), "cred-1-key.");

  auto audit = store_->Audit({});
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_EQ(CheckNoSecrets(*audit, {a, b, c}), want);
  auto by_key = store_->Audit({.key = "cred-1"});
  ASSERT_TRUE(by_key.ok());
  EXPECT_EQ(by_key->size(), 3u);
  EXPECT_EQ(CheckNoSecrets(*by_key, {a, b, c}), want);

  if (!IsMemory()) {  // A second handle reads the same.
    auto other = Reopen();
    auto again = other->ReadObject(kCred, "cred-1");
    ASSERT_TRUE(again.ok() && again->has_value());
    EXPECT_EQ((*again)->credential().tsig_secret(), c);
    CheckNoSecrets(*other->ReadChanges(0, 100), {a, b, c});
  }
}

// One commit writing a credential several times: the last write wins in
// the objects table (PostgreSQL copies objects from the redacted log and
// must put the secret back only where the last write has one).
TEST_P(SecretsConformanceTest, LastWriteOfACredentialInOneCommitWins) {
  ASSERT_TRUE(store_->Migrate().ok());
  const std::string a = Secret('a'), b = Secret('b'), c = Secret('c');
  ASSERT_TRUE(CommitAll(*store_, {Put("cred-3", Cred("cred-3", a))}).ok());
  RegistryObject org;
  org.mutable_org()->set_id("iana-en:111");
  auto serial = CommitAll(
      *store_,
      {Put("cred-1", Cred("cred-1", a)), Put("iana-en:111", org),
       Put("cred-1", Cred("cred-1", b)),  // cred-1: b
       Put("cred-2", Cred("cred-2", a)), Del("cred-2", Cred("cred-2", a)),
       Del("cred-3", Cred("cred-3", a)), Put("cred-3", Cred("cred-3", c)),
       Put("cred-4", Cred("cred-4", c)),
       Put("cred-4", Cred("cred-4", "", /*disabled=*/true))});  // no secret
  ASSERT_TRUE(serial.ok()) << serial.status();
  auto secret_of = [&](const std::string& key) -> std::optional<std::string> {
    auto o = store_->ReadObject(kCred, key);
    EXPECT_TRUE(o.ok()) << o.status();
    if (!o.ok() || !o->has_value()) return std::nullopt;
    return (*o)->credential().tsig_secret();
  };
  EXPECT_EQ(secret_of("cred-1"), b);
  EXPECT_EQ(secret_of("cred-2"), std::nullopt);
  EXPECT_EQ(secret_of("cred-3"), c);
  EXPECT_EQ(secret_of("cred-4"), "");
  auto missing = store_->ReadObject(kCred, "cred-9");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto o = store_->ReadObject(kOrg, "iana-en:111");
  ASSERT_TRUE(o.ok() && o->has_value());
  EXPECT_EQ((*o)->org().id(), "iana-en:111");
  CheckNoSecrets(*store_->ReadChanges(0, 100), {a, b, c});
}

TEST_P(SecretsConformanceTest, ReadObjectBeforeMigrateIsFailedPrecondition) {
  if (IsMemory()) GTEST_SKIP() << "memory store is born migrated";
  EXPECT_EQ(store_->ReadObject(kCred, "x").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// A database written before secrets were redacted: its change log holds
// them. Migrating rewrites those images (and only those) to fingerprints;
// the objects table keeps the secret.
TEST_P(SecretsConformanceTest, MigrationScrubsSecretsFromAnOldChangeLog) {
  if (IsMemory()) GTEST_SKIP() << "memory store has no schema";
  auto files = storage_internal::MigrationsFor(GetParam());
  ASSERT_TRUE(files.ok());
  uint32_t scrub = 0;
  for (const auto& f : *files) {
    if (f.name == storage_internal::kScrubSecretsMigration) scrub = f.version;
  }
  ASSERT_GT(scrub, 1u) << "no " << storage_internal::kScrubSecretsMigration;
  MigrateUpTo(scrub - 1);

  const std::string a = Secret('a'), b = Secret('b');
  RegistryObject org;
  org.mutable_org()->set_id("iana-en:111");
  org.mutable_org()->set_name("SSP1");
  // serial 1: org + credential (secret a); serial 2: rotation a -> b;
  // serial 3: a credential without a secret.
  RegistryObject plain = Cred("cred-2", "");
  plain.mutable_credential()->set_spki_sha256(std::string(64, 'f'));
  struct Row {
    int serial, seq, kind;
    std::string key;
    std::optional<RegistryObject> before, after;
  };
  const std::vector<Row> rows = {
      {1, 0, kOrg, "iana-en:111", std::nullopt, org},
      {1, 1, kCred, "cred-1", std::nullopt, Cred("cred-1", a)},
      {2, 0, kCred, "cred-1", Cred("cred-1", a), Cred("cred-1", b)},
      {3, 0, kCred, "cred-2", std::nullopt, plain},
  };
  const bool sqlite = GetParam() == "sqlite";
  auto blob = [&](const std::optional<RegistryObject>& o) -> std::string {
    if (!o.has_value()) return "NULL";
    const std::string hex = absl::BytesToHexString(o->SerializeAsString());
    return sqlite ? absl::StrCat("X'", hex, "'")
                  : absl::StrCat("'\\x", hex, "'::bytea");
  };
  std::string sql;
  for (const Row& r : rows) {
    absl::StrAppend(
        &sql,
        "INSERT INTO change_log (serial, seq, time_us, actor, "
        "client_txn_id, kind, key, deleted, before, after) VALUES (",
        r.serial, ", ", r.seq, ", 1700000000000000, 'admin', '', ", r.kind,
        ", '", r.key, "', ", sqlite ? "0" : "false", ", ", blob(r.before), ", ",
        blob(r.after), ");");
  }
  for (const auto& [key, obj] :
       std::vector<std::pair<std::string, RegistryObject>>{
           {"iana-en:111", org},
           {"cred-1", Cred("cred-1", b)},
           {"cred-2", plain}}) {
    absl::StrAppend(&sql, "INSERT INTO objects (kind, key, data, serial) ",
                    "VALUES (", obj.has_org() ? kOrg : kCred, ", '", key, "', ",
                    blob(obj), ", 2);");
  }
  absl::StrAppend(&sql,
                  "UPDATE registry_state SET latest_serial = 3 WHERE id = 1;");
  ExecSql(sql);

  ASSERT_TRUE(store_->Migrate().ok());
  auto changes = store_->ReadChanges(0, 100);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 4u);
  EXPECT_EQ(CheckNoSecrets(*changes, {a, b}),
            (std::set<std::string>{Fingerprint(a), Fingerprint(b)}));
  // Untouched: the org row and the credential that had no secret.
  EXPECT_EQ((*changes)[0].after().SerializeAsString(), org.SerializeAsString());
  EXPECT_EQ((*changes)[3].after().SerializeAsString(),
            plain.SerializeAsString());
  // Scrubbed images keep everything but the secret.
  RegistryObject want = Cred("cred-1", b);
  RedactForChangeLog(&want);
  EXPECT_EQ((*changes)[2].after().SerializeAsString(),
            want.SerializeAsString());
  EXPECT_EQ((*changes)[2].before().credential().tsig_secret_sha256(),
            Fingerprint(a));
  auto stored = store_->ReadObject(kCred, "cred-1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->credential().tsig_secret(), b);
  // And the store takes new writes, still redacted.
  const std::string c = Secret('c');
  ASSERT_TRUE(
      CommitAll(*store_, {Put("cred-1", Cred("cred-1", c), Cred("cred-1", b))})
          .ok());
  CheckNoSecrets(*store_->ReadChanges(0, 100), {a, b, c});
}

}  // namespace
}  // namespace lufd::testing
