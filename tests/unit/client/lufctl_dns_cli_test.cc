// lufctl's DNS commands end to end against an in-process fake lufd over real
// mTLS: `key generate|list|ds|rollover` build the key RPCs of admin.proto,
// `key retire` writes the key object,
// `credential add --tsig-*` sends the TSIG fields and never shows a secret
// again, and `zone export` / `zone import` round-trip a registry through a
// zone file (the fake keeps objects in a map, so an import is visible to the
// next export).
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "client/commands.h"
#include "client/spki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lufd/v1/admin.grpc.pb.h"
#include "server/core/keys.h"
#include "tests/unit/client/lufctl_test_env.h"

namespace lufd::client {
namespace {

using lufd::v1::RegistryObject;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Key(const RegistryObject& o) {
  if (o.has_dns_key()) {
    return absl::StrCat(o.dns_key().zone(), "/", o.dns_key().key_tag());
  }
  return lufd::KeyOf(o);
}

class FakeDnsLufd final : public lufd::v1::AdminService::Service {
 public:
  grpc::Status Put(grpc::ServerContext*, const lufd::v1::PutRequest* req,
                   lufd::v1::WriteResponse* resp) override {
    absl::MutexLock lock(&mu);
    objects[{lufd::KindOf(req->object()), Key(req->object())}] = req->object();
    resp->set_serial(++serial);
    resp->set_changes(1);
    return grpc::Status::OK;
  }
  grpc::Status Get(grpc::ServerContext*, const lufd::v1::GetRequest* req,
                   RegistryObject* resp) override {
    absl::MutexLock lock(&mu);
    auto it = objects.find({req->ref().kind(), req->ref().key()});
    if (it == objects.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "not found");
    }
    *resp = it->second;
    return grpc::Status::OK;
  }
  grpc::Status List(grpc::ServerContext*, const lufd::v1::ListRequest* req,
                    grpc::ServerWriter<RegistryObject>* writer) override {
    absl::MutexLock lock(&mu);
    for (const auto& [k, o] : objects) {
      if (k.first == req->kind()) writer->Write(o);
    }
    return grpc::Status::OK;
  }
  grpc::Status Export(grpc::ServerContext*, const lufd::v1::ExportRequest*,
                      grpc::ServerWriter<RegistryObject>* writer) override {
    absl::MutexLock lock(&mu);
    for (const auto& [k, o] : objects) writer->Write(o);
    return grpc::Status::OK;
  }
  grpc::Status Import(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<lufd::v1::ImportProgress, lufd::v1::ImportChunk>*
          stream) override {
    lufd::v1::ImportChunk chunk;
    std::vector<RegistryObject> pending;
    uint64_t received = 0, committed = 0;
    while (stream->Read(&chunk)) {
      for (const auto& o : chunk.objects()) pending.push_back(o);
      received += chunk.objects_size();
      lufd::v1::ImportProgress p;
      if (chunk.end_batch()) {
        absl::MutexLock lock(&mu);
        for (const auto& o : pending) objects[{lufd::KindOf(o), Key(o)}] = o;
        committed += pending.size();
        pending.clear();
        p.set_serial(++serial);
      }
      p.set_received(received);
      p.set_committed(committed);
      stream->Write(p);
    }
    return grpc::Status::OK;
  }
  grpc::Status GetServerInfo(grpc::ServerContext*,
                             const lufd::v1::ServerInfoRequest*,
                             lufd::v1::ServerInfo* info) override {
    absl::MutexLock lock(&mu);
    info->set_serial(serial);
    info->set_store_serial(serial);
    return grpc::Status::OK;
  }
  grpc::Status GenerateDnsKey(grpc::ServerContext*,
                              const lufd::v1::GenerateDnsKeyRequest* req,
                              lufd::v1::DnsKeyResponse* resp) override {
    absl::MutexLock lock(&mu);
    generate = *req;
    auto* k = resp->add_keys();
    k->set_zone(req->zone());
    k->set_role(req->role());
    k->set_algorithm(req->algorithm());
    k->set_key_tag(4711);
    k->set_flags(257);
    k->set_state(req->activate() ? lufd::v1::DNS_KEY_STATE_ACTIVE
                                 : lufd::v1::DNS_KEY_STATE_PUBLISHED);
    k->set_published_unix(1700000000);
    resp->set_serial(++serial);
    return grpc::Status::OK;
  }
  grpc::Status RolloverDnsKey(grpc::ServerContext*,
                              const lufd::v1::RolloverDnsKeyRequest* req,
                              lufd::v1::DnsKeyResponse* resp) override {
    absl::MutexLock lock(&mu);
    rollover = *req;
    auto* k = resp->add_keys();
    k->set_zone(req->zone());
    k->set_role(req->role());
    k->set_algorithm(13);
    k->set_key_tag(815);
    k->set_state(lufd::v1::DNS_KEY_STATE_PUBLISHED);
    k->set_ds_pending(req->role() != lufd::v1::DNS_KEY_ROLE_ZSK &&
                      !req->ds_published());
    resp->set_serial(++serial);
    return grpc::Status::OK;
  }
  grpc::Status GetDs(grpc::ServerContext*, const lufd::v1::GetDsRequest* req,
                     lufd::v1::GetDsResponse* resp) override {
    if (req->zone() != "e164.arpa.") return grpc::Status::OK;
    resp->add_ds("e164.arpa. 3600 IN DS 4711 13 2 ABCDEF");
    resp->add_dnskey("e164.arpa. 3600 IN DNSKEY 257 3 13 AAAA");
    return grpc::Status::OK;
  }

  std::vector<grpc::Service*> Services() { return {this}; }

  absl::Mutex mu;
  uint64_t serial = 0;
  std::map<std::pair<lufd::v1::ObjectKind, std::string>, RegistryObject>
      objects;
  lufd::v1::GenerateDnsKeyRequest generate;
  lufd::v1::RolloverDnsKeyRequest rollover;
};

class LufctlDnsCliTest : public testenv::FakeServerTest<FakeDnsLufd> {
 protected:
  void SetUp() override {
    absl::MutexLock lock(&fake_->mu);
    fake_->objects.clear();
  }

  static void Add(const RegistryObject& o) {
    absl::MutexLock lock(&fake_->mu);
    fake_->objects[{lufd::KindOf(o), Key(o)}] = o;
  }
};

TEST_F(LufctlDnsCliTest, KeyGenerateSendsTheRequest) {
  Result r = Lufctl({"key", "generate", "--zone", "E164.ARPA", "--role", "ksk",
                     "--algorithm", "15", "--activate"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    absl::MutexLock lock(&fake_->mu);
    EXPECT_EQ(fake_->generate.zone(), "e164.arpa.");
    EXPECT_EQ(fake_->generate.role(), lufd::v1::DNS_KEY_ROLE_KSK);
    EXPECT_EQ(fake_->generate.algorithm(), 15u);
    EXPECT_TRUE(fake_->generate.activate());
  }
  EXPECT_THAT(r.out, HasSubstr("ZONE"));
  EXPECT_THAT(r.out, HasSubstr("e164.arpa.  4711  ksk   15   active"));
  // Defaults: CSK, algorithm 13, PUBLISHED.
  r = Lufctl({"key", "generate", "--zone", "e164.arpa."});
  ASSERT_EQ(r.code, 0) << r.err;
  absl::MutexLock lock(&fake_->mu);
  EXPECT_EQ(fake_->generate.role(), lufd::v1::DNS_KEY_ROLE_CSK);
  EXPECT_EQ(fake_->generate.algorithm(), 13u);
  EXPECT_FALSE(fake_->generate.activate());
}

TEST_F(LufctlDnsCliTest, KeyGenerateRejectsBadInput) {
  EXPECT_EQ(
      Lufctl({"key", "generate", "--zone", "e164.arpa.", "--algorithm", "8"})
          .code,
      2);
  EXPECT_EQ(Lufctl({"key", "generate", "--zone", "bad zone"}).code, 1);
  EXPECT_EQ(Lufctl({"key", "generate"}).code, 2);
}

TEST_F(LufctlDnsCliTest, KeyListFiltersByZone) {
  for (auto [zone, tag] : {std::pair<std::string, uint32_t>{"e164.arpa.", 1},
                           {"e164.arpa.", 2},
                           {"private.example.", 3}}) {
    RegistryObject o;
    auto* k = o.mutable_dns_key();
    k->set_zone(zone);
    k->set_key_tag(tag);
    k->set_role(lufd::v1::DNS_KEY_ROLE_ZSK);
    k->set_algorithm(13);
    k->set_state(lufd::v1::DNS_KEY_STATE_ACTIVE);
    k->set_active_unix(1700000000);
    k->set_ds_pending(tag == 2);
    Add(o);
  }
  Result r = Lufctl({"key", "list", "--zone", "E164.arpa"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("DS_PENDING"));
  EXPECT_THAT(r.out, HasSubstr("2023-11-14T22:13:20Z"));
  EXPECT_THAT(r.out, Not(HasSubstr("private.example.")));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
  r = Lufctl({"key", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("private.example."));
}

TEST_F(LufctlDnsCliTest, KeyDsPrintsDsAndTrustAnchor) {
  Result r = Lufctl({"key", "ds", "--zone", "e164.arpa"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("e164.arpa. 3600 IN DS 4711 13 2 ABCDEF\n"));
  EXPECT_THAT(r.out, HasSubstr("e164.arpa. 3600 IN DNSKEY 257 3 13 AAAA\n"));
  r = Lufctl({"key", "ds", "--zone", "other.example."});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no KSK or CSK"));
}

TEST_F(LufctlDnsCliTest, KeyRollover) {
  Result r =
      Lufctl({"key", "rollover", "--zone", "e164.arpa.", "--role", "ksk"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("--ds-published"));
  {
    absl::MutexLock lock(&fake_->mu);
    EXPECT_EQ(fake_->rollover.role(), lufd::v1::DNS_KEY_ROLE_KSK);
    EXPECT_FALSE(fake_->rollover.ds_published());
  }
  r = Lufctl({"key", "rollover", "--zone", "e164.arpa.", "--role", "ksk",
              "--ds-published"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("waits for its DS")));
  absl::MutexLock lock(&fake_->mu);
  EXPECT_TRUE(fake_->rollover.ds_published());
  EXPECT_EQ(Lufctl({"key", "rollover", "--zone", "e164.arpa."}).code, 2);
}

// `key retire`: a ZSK only, not twice, not the zone's last active
// zone-signing key unless --force; written as a Put of the key object.
TEST_F(LufctlDnsCliTest, KeyRetire) {
  for (auto [tag, role] : {std::pair<uint32_t, lufd::v1::DnsKeyRole>{
                               1, lufd::v1::DNS_KEY_ROLE_ZSK},
                           {2, lufd::v1::DNS_KEY_ROLE_ZSK},
                           {3, lufd::v1::DNS_KEY_ROLE_KSK}}) {
    RegistryObject o;
    auto* k = o.mutable_dns_key();
    k->set_zone("e164.arpa.");
    k->set_key_tag(tag);
    k->set_role(role);
    k->set_algorithm(13);
    k->set_state(lufd::v1::DNS_KEY_STATE_ACTIVE);
    if (tag == 2) {
      k->set_owner("0123456789abcdef");
      k->set_owner_host("hostb");
    }
    Add(o);
  }
  auto state = [](uint32_t tag) {
    absl::MutexLock lock(&fake_->mu);
    return fake_
        ->objects[{lufd::v1::OBJECT_KIND_DNS_KEY,
                   absl::StrCat("e164.arpa./", tag)}]
        .dns_key();
  };
  Result r = Lufctl({"key", "list", "--zone", "e164.arpa."});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("OWNER"));
  EXPECT_THAT(r.out, HasSubstr("hostb/01234567"));

  r = Lufctl({"key", "retire", "--zone", "e164.arpa.", "--tag", "3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("not a ZSK"));
  r = Lufctl({"key", "retire", "--zone", "E164.arpa", "--tag", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(state(2).state(), lufd::v1::DNS_KEY_STATE_RETIRED);
  EXPECT_NE(state(2).retired_unix(), 0);
  EXPECT_EQ(state(2).owner(), "0123456789abcdef");  // The rest is kept.
  r = Lufctl({"key", "retire", "--zone", "e164.arpa.", "--tag", "2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("already RETIRED"));
  r = Lufctl({"key", "retire", "--zone", "e164.arpa.", "--tag", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("last active"));
  EXPECT_EQ(state(1).state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
  r = Lufctl(
      {"key", "retire", "--zone", "e164.arpa.", "--tag", "1", "--force"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(state(1).state(), lufd::v1::DNS_KEY_STATE_RETIRED);
  EXPECT_EQ(Lufctl({"key", "retire", "--zone", "e164.arpa."}).code, 2);
}

TEST_F(LufctlDnsCliTest, TsigCredentialSecretIsShownOnlyOnce) {
  // 16 bytes, base64.
  Result r = Lufctl({"credential", "add", "t1", "--org", "iana-en:9", "--role",
                     "peer", "--tsig-name", "SSP1-Key", "--tsig-secret",
                     "MDEyMzQ1Njc4OWFiY2RlZg=="});
  ASSERT_EQ(r.code, 0) << r.err;
  RegistryObject stored;
  {
    absl::MutexLock lock(&fake_->mu);
    stored = fake_->objects[{lufd::v1::OBJECT_KIND_CREDENTIAL, "t1"}];
  }
  EXPECT_EQ(stored.credential().tsig_key_name(), "ssp1-key.");
  EXPECT_EQ(stored.credential().tsig_algorithm(), "hmac-sha256");
  EXPECT_EQ(stored.credential().tsig_secret(), "0123456789abcdef");

  r = Lufctl({"credential", "add", "t2", "--org", "iana-en:9", "--role", "peer",
              "--tsig-name", "ssp2-key.", "--tsig-generate"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    absl::MutexLock lock(&fake_->mu);
    stored = fake_->objects[{lufd::v1::OBJECT_KIND_CREDENTIAL, "t2"}];
  }
  ASSERT_EQ(stored.credential().tsig_secret().size(), 32u);
  // dig -y form, and a key clause, with the same 44-character base64.
  auto pos = r.out.find("hmac-sha256:ssp2-key.:");
  ASSERT_NE(pos, std::string::npos) << r.out;
  const std::string b64 = r.out.substr(pos + 22, 44);
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("secret \"", b64, "\";")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("secret: ", b64)));

  // Never again: get and list, table and JSON.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"credential", "get", "t2"},
           {"credential", "list"},
           {"--output", "json", "credential", "get", "t2"},
           {"--output", "json", "credential", "list"}}) {
    r = Lufctl(args);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, Not(HasSubstr(b64))) << args[0];
    EXPECT_THAT(r.out, Not(HasSubstr("MDEyMzQ1Njc4OWFiY2RlZg")));
    EXPECT_THAT(r.out, HasSubstr("ssp2-key."));
  }
  r = Lufctl({"credential", "list"});
  EXPECT_THAT(r.out, HasSubstr("ssp2-key. (hmac-sha256, secret set)"));

  // Too short, not base64, secret without a name.
  EXPECT_EQ(Lufctl({"credential", "add", "t3", "--org", "o", "--role", "peer",
                    "--tsig-name", "k.", "--tsig-secret", "c2hvcnQ="})
                .code,
            1);
  EXPECT_EQ(Lufctl({"credential", "add", "t3", "--org", "o", "--role", "peer",
                    "--tsig-name", "k.", "--tsig-secret", "!!!!"})
                .code,
            1);
  EXPECT_EQ(Lufctl({"credential", "add", "t3", "--org", "o", "--role", "peer",
                    "--tsig-generate"})
                .code,
            1);
}

// The zone's records, without the header comment and SOA (serials differ).
std::vector<std::string> RecordLines(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    if (l.empty() || l[0] == ';' || absl::StrContains(l, " SOA ")) continue;
    out.emplace_back(l);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(LufctlDnsCliTest, ZoneExportThenImportRoundTrips) {
  RegistryObject org;
  org.mutable_org()->set_id("iana-en:1");
  Add(org);
  RegistryObject dg;
  dg.mutable_dest_group()->set_id("dg1");
  dg.mutable_dest_group()->set_registrant_id("iana-en:1");
  Add(dg);
  RegistryObject sg;
  sg.mutable_sed_group()->set_id("sg1");
  sg.mutable_sed_group()->set_registrant_id("iana-en:1");
  sg.mutable_sed_group()->add_dest_group_ids("dg1");
  sg.mutable_sed_group()->set_in_service(true);
  sg.mutable_sed_group()->set_public_(true);
  Add(sg);
  auto identifier = [](lufd::v1::IdentifierKind kind, const std::string& v) {
    RegistryObject o;
    auto* id = o.mutable_identifier();
    id->set_kind(kind);
    id->set_value(v);
    id->set_registrant_id("iana-en:1");
    id->add_dest_group_ids("dg1");
    auto* rec = id->add_records();
    rec->set_ttl(120);
    rec->set_in_service(true);
    rec->mutable_naptr()->set_order(100);
    rec->mutable_naptr()->set_preference(10);
    rec->mutable_naptr()->set_flags("u");
    rec->mutable_naptr()->set_services("E2U+sip");
    rec->mutable_naptr()->set_regexp(absl::StrCat("!^.*$!sip:", v, "@x!"));
    return o;
  };
  Add(identifier(lufd::v1::IDENTIFIER_KIND_TN, "+12025556666"));
  Add(identifier(lufd::v1::IDENTIFIER_KIND_TN, "+12025556667"));
  Add(identifier(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202777"));

  const std::string file = *dir_ + "/export.zone";
  Result r = Lufctl({"zone", "export", "--zone", "e164.arpa", "--ns",
                     "ns.example.net.", "-o", file});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("2 numbers, 1 wildcards"));
  const std::string first = *ReadSmallFile(file);
  EXPECT_THAT(first, HasSubstr("e164.arpa. 3600 IN NS ns.example.net.\n"));
  EXPECT_THAT(first, HasSubstr("*.7.7.7.2.0.2.1.e164.arpa. 120 IN NAPTR"));

  // Into an empty registry: the destination and SED groups are created by
  // the import itself.
  {
    absl::MutexLock lock(&fake_->mu);
    fake_->objects.clear();
  }
  Add(org);
  r = Lufctl({"zone", "import", file, "--zone", "e164.arpa.", "--registrant",
              "iana-en:1", "--dest-group", "dg1", "--sed-group", "sg1",
              "--public", "--no-wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("imported 5 objects"));
  {
    absl::MutexLock lock(&fake_->mu);
    auto sg2 = fake_->objects[{lufd::v1::OBJECT_KIND_SED_GROUP, "sg1"}];
    EXPECT_TRUE(sg2.sed_group().public_());
    EXPECT_TRUE(sg2.sed_group().in_service());
    EXPECT_EQ(fake_->objects.count(
                  {lufd::v1::OBJECT_KIND_IDENTIFIER, "prefix:+1202777"}),
              1u);
  }
  r = Lufctl(
      {"zone", "export", "--zone", "e164.arpa.", "--ns", "ns.example.net."});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(RecordLines(first), RecordLines(r.out));

  // --check sends nothing; a bad line is reported with its number.
  r = Lufctl({"zone", "import", file, "--zone", "e164.arpa.", "--registrant",
              "iana-en:1", "--check"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("3 numbers, 3 NAPTR records"));
  std::ofstream(file, std::ios::app) << "x.e164.arpa. 60 IN A 192.0.2.1\n";
  r = Lufctl({"zone", "import", file, "--zone", "e164.arpa.", "--registrant",
              "iana-en:1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err,
              HasSubstr("type A/AAAA at x.e164.arpa. cannot be imported"));
  EXPECT_THAT(r.err, HasSubstr("nothing was sent"));
}

TEST_F(LufctlDnsCliTest, SignedExportNeedsKeyDirAndActiveKey) {
  Result r = Lufctl({"zone", "export", "--zone", "e164.arpa.", "--signed"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--key-dir"));
  r = Lufctl({"zone", "export", "--zone", "e164.arpa.", "--signed", "--key-dir",
              *dir_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no ACTIVE DNS key"));
}

}  // namespace
}  // namespace lufd::client
