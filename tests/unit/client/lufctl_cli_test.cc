// lufctl end to end against an in-process fake lufd over real mTLS: checks
// that each command builds the request the server contract expects (keys,
// normalization, NAPTR parsing, transaction ids) and how results, NOT_FOUND
// and errors are shown. The PKI is made per test suite with the openssl CLI.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/commands.h"
#include "client/spki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lufd/v1/admin.grpc.pb.h"
#include "lufd/v1/lookup.grpc.pb.h"
#include "tests/unit/client/lufctl_test_env.h"

namespace lufd::client {
namespace {

using lufd::v1::RegistryObject;
using ::testing::HasSubstr;
using ::testing::Not;

class FakeLufd final : public lufd::v1::AdminService::Service,
                       public lufd::v1::LookupService::Service {
 public:
  grpc::Status Put(grpc::ServerContext*, const lufd::v1::PutRequest* req,
                   lufd::v1::WriteResponse* resp) override {
    absl::MutexLock lock(&mu);
    put = *req;
    resp->set_serial(++serial);
    resp->set_changes(1);
    return grpc::Status::OK;
  }
  grpc::Status Delete(grpc::ServerContext*, const lufd::v1::DeleteRequest* req,
                      lufd::v1::WriteResponse* resp) override {
    absl::MutexLock lock(&mu);
    del = *req;
    resp->set_serial(++serial);
    return grpc::Status::OK;
  }
  grpc::Status Get(grpc::ServerContext*, const lufd::v1::GetRequest* req,
                   RegistryObject* resp) override {
    if (req->ref().kind() == lufd::v1::OBJECT_KIND_SED_RECORD) {
      // "r-60" was written with --ttl 60, any other record without a TTL.
      auto* rec = resp->mutable_sed_record();
      rec->set_id(req->ref().key());
      rec->set_registrant_id("o");
      if (req->ref().key() == "r-60") rec->set_ttl(60);
      rec->set_in_service(true);
      rec->mutable_ns()->set_host("ns.example.");
      return grpc::Status::OK;
    }
    if (req->ref().key() != "iana-en:1") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such org");
    }
    resp->mutable_org()->set_id("iana-en:1");
    resp->mutable_org()->set_name("One");
    return grpc::Status::OK;
  }
  grpc::Status Batch(grpc::ServerContext*, const lufd::v1::BatchRequest* req,
                     lufd::v1::WriteResponse* resp) override {
    absl::MutexLock lock(&mu);
    batch = *req;
    resp->set_serial(++serial);
    resp->set_changes(req->operations_size());
    return grpc::Status::OK;
  }
  grpc::Status AcceptOffer(grpc::ServerContext*,
                           const lufd::v1::OfferDecision* req,
                           lufd::v1::WriteResponse* resp) override {
    absl::MutexLock lock(&mu);
    decision = *req;
    resp->set_serial(++serial);
    return grpc::Status::OK;
  }
  grpc::Status Export(grpc::ServerContext*, const lufd::v1::ExportRequest* req,
                      grpc::ServerWriter<RegistryObject>* writer) override {
    RegistryObject tn;
    auto* id = tn.mutable_identifier();
    id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
    id->set_value("+12025556666");
    id->set_registrant_id("o");
    id->add_dest_group_ids("dg");
    RegistryObject range = tn;
    range.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_TN_RANGE);
    writer->Write(tn);
    writer->Write(range);
    return grpc::Status::OK;
  }
  grpc::Status Lookup(grpc::ServerContext*, const lufd::v1::LookupRequest* req,
                      lufd::v1::LookupResponse* resp) override {
    if (req->query() != "+12025556666") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "");
    }
    resp->set_found(true);
    resp->set_normalized("+12025556666");
    resp->set_domain("6.6.6.6.5.5.5.2.0.2.1.e164.arpa.");
    resp->set_serial(7);
    auto* rec = resp->add_records();
    rec->set_ttl(300);
    rec->mutable_naptr()->set_order(100);
    rec->mutable_naptr()->set_preference(10);
    rec->mutable_naptr()->set_flags("u");
    rec->mutable_naptr()->set_services("E2U+sip");
    rec->mutable_naptr()->set_regexp("!^.*$!sip:a@b!");
    return grpc::Status::OK;
  }

  // Admin and Lookup, and the default health service (`lufctl health`).
  std::vector<grpc::Service*> Services() {
    grpc::EnableDefaultHealthCheckService(true);
    return {static_cast<lufd::v1::AdminService::Service*>(this),
            static_cast<lufd::v1::LookupService::Service*>(this)};
  }

  absl::Mutex mu;
  uint64_t serial = 0;
  lufd::v1::PutRequest put;
  lufd::v1::DeleteRequest del;
  lufd::v1::BatchRequest batch;
  lufd::v1::OfferDecision decision;
};

// The Admin and Lookup services are distinct gRPC services on one object;
// register each through its own base.
class LufctlCliTest : public testenv::FakeServerTest<FakeLufd> {
 protected:
  static lufd::v1::PutRequest LastPut() {
    absl::MutexLock lock(&fake_->mu);
    return fake_->put;
  }
  static lufd::v1::DeleteRequest LastDelete() {
    absl::MutexLock lock(&fake_->mu);
    return fake_->del;
  }
};

TEST_F(LufctlCliTest, NumberAddNormalizesAndParsesNaptr) {
  Result r = Lufctl({"--txn-id", "t-1", "number", "add", "+1 (202) 555-6666",
                     "--registrant", "iana-en:222", "--dg", "a", "--dg", "b",
                     "--ttl", "60", "--naptr",
                     R"(100 10 "u" "E2U+sip" "!^(.*)$!sip:\1@x.example!" .)"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok: serial"));
  auto put = LastPut();
  EXPECT_EQ(put.client_txn_id(), "t-1");
  const auto& id = put.object().identifier();
  EXPECT_EQ(id.kind(), lufd::v1::IDENTIFIER_KIND_TN);
  EXPECT_EQ(id.value(), "+12025556666");
  EXPECT_EQ(id.registrant_id(), "iana-en:222");
  ASSERT_EQ(id.dest_group_ids_size(), 2);
  ASSERT_EQ(id.records_size(), 1);
  EXPECT_EQ(id.records(0).ttl(), 60u);
  EXPECT_TRUE(id.records(0).in_service());
  const auto& n = id.records(0).naptr();
  EXPECT_EQ(n.order(), 100u);
  EXPECT_EQ(n.preference(), 10u);
  EXPECT_EQ(n.flags(), "u");
  EXPECT_EQ(n.services(), "E2U+sip");
  EXPECT_EQ(n.regexp(), R"(!^(.*)$!sip:\1@x.example!)");
  EXPECT_EQ(n.replacement(), "");

  // Global options after the command work too.
  r = Lufctl({"number", "add", "+12025556667", "--registrant", "o", "--output",
              "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"serial\""));
}

TEST_F(LufctlCliTest, BadNaptrIsRejectedBeforeSending) {
  Result r = Lufctl({"number", "add", "+12025556666", "--registrant", "o",
                     "--naptr", "100 10 u"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));
}

TEST_F(LufctlCliTest, RecordSedGroupOrgAndCredential) {
  Result r = Lufctl({"record", "add", "r1", "--registrant", "o", "--ttl", "30",
                     "--order", "1", "--preference", "2", "--flags", "u",
                     "--services", "E2U+sip", "--regexp", "!^.*$!x!"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto rec = LastPut().object().sed_record();
  EXPECT_EQ(rec.id(), "r1");
  EXPECT_TRUE(rec.in_service());
  EXPECT_EQ(rec.naptr().preference(), 2u);
  EXPECT_EQ(rec.naptr().regexp(), "!^.*$!x!");

  r = Lufctl({"record", "add", "--id", "r2", "--registrant", "o", "--type",
              "uri", "--target", "sip:a@b", "--priority", "5",
              "--out-of-service"});
  ASSERT_EQ(r.code, 0) << r.err;
  rec = LastPut().object().sed_record();
  EXPECT_FALSE(rec.in_service());
  EXPECT_EQ(rec.uri().target(), "sip:a@b");
  EXPECT_EQ(rec.uri().priority(), 5u);

  r = Lufctl({"sedgroup", "add", "sg", "--registrant", "o", "--dg", "d",
              "--record", "r1:5", "--record", "iana:x", "--public",
              "--out-of-service", "--priority", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto g = LastPut().object().sed_group();
  ASSERT_EQ(g.records_size(), 2);
  EXPECT_EQ(g.records(0).record_id(), "r1");
  EXPECT_EQ(g.records(0).priority(), 5u);
  EXPECT_EQ(g.records(1).record_id(), "iana:x");
  EXPECT_TRUE(g.public_());
  EXPECT_FALSE(g.in_service());
  EXPECT_EQ(g.priority(), 3u);

  r = Lufctl({"org",        "add",         "iana-en:9", "--name",
              "Nine",       "--role",      "peer",      "--role",
              "registrant", "--registrar", "iana-en:1", "--lookups-per-second",
              "50",         "--burst",     "100",       "--distinct-per-day",
              "1000",       "--miss-cost", "3",         "--scan-threshold",
              "20",         "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto org = LastPut().object().org();
  EXPECT_EQ(org.roles_size(), 2);
  EXPECT_EQ(org.registrar_id(), "iana-en:1");
  EXPECT_EQ(org.quota().lookups_per_second(), 50u);
  EXPECT_EQ(org.quota().distinct_numbers_per_day(), 1000u);
  EXPECT_TRUE(org.quota().dry_run());

  r = Lufctl({"credential", "add", "c1", "--org", "iana-en:9", "--role",
              "admin", "--cert-file", *dir_ + "/client.pem"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto cred = LastPut().object().credential();
  EXPECT_EQ(cred.role(), lufd::v1::ROLE_ADMIN);
  EXPECT_EQ(cred.spki_sha256(), *SpkiSha256FromCertFile(*dir_ + "/client.pem"));

  r = Lufctl({"credential", "add", "c2", "--org", "o", "--role", "peer"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--spki, --cert-file or --san-uri"));
}

TEST_F(LufctlCliTest, DeleteKeys) {
  ASSERT_EQ(Lufctl({"range", "del", "+1-202-666-0000", "+12026669999"}).code,
            0);
  EXPECT_EQ(LastDelete().ref().kind(), lufd::v1::OBJECT_KIND_IDENTIFIER);
  EXPECT_EQ(LastDelete().ref().key(), "range:+12026660000-+12026669999");
  ASSERT_EQ(Lufctl({"prefix", "del", "+1202777"}).code, 0);
  EXPECT_EQ(LastDelete().ref().key(), "prefix:+1202777");
  ASSERT_EQ(Lufctl({"number", "del", "tel:+12025556666"}).code, 0);
  EXPECT_EQ(LastDelete().ref().key(), "tn:+12025556666");
  ASSERT_EQ(Lufctl({"offer", "del", "sg", "iana-en:1"}).code, 0);
  EXPECT_EQ(LastDelete().ref().kind(), lufd::v1::OBJECT_KIND_OFFER);
  EXPECT_EQ(LastDelete().ref().key(), "sg|iana-en:1");
  ASSERT_EQ(Lufctl({"dg", "del", "d1"}).code, 0);
  EXPECT_EQ(LastDelete().ref().kind(), lufd::v1::OBJECT_KIND_DEST_GROUP);
}

TEST_F(LufctlCliTest, GetShowsObjectOrNotFound) {
  Result r = Lufctl({"org", "get", "iana-en:1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("iana-en:1  One"));
  r = Lufctl({"--output", "json", "org", "get", "iana-en:1"});
  EXPECT_THAT(r.out, HasSubstr("\"name\":\"One\""));
  r = Lufctl({"org", "get", "iana-en:2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "lufctl: NOT_FOUND: no such org\n");
}

// DNS serves a record written without a TTL with the registry default
// (server/core/record_ttl.h); `record get` says so instead of "0".
TEST_F(LufctlCliTest, RecordGetShowsTheTtlDnsServes) {
  Result r = Lufctl({"record", "get", "r-none"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("r-none  o           3600 (default)  yes"));
  r = Lufctl({"record", "get", "r-60"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("r-60  o           60   yes"));
  EXPECT_THAT(r.out, Not(HasSubstr("default")));
  // JSON is the stored object (what export writes and import reads back).
  r = Lufctl({"--output", "json", "record", "get", "r-none"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("ttl")));
}

TEST_F(LufctlCliTest, Lookup) {
  Result r = Lufctl({"lookup", "+12025556666"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("serial 7"));
  EXPECT_THAT(
      r.out,
      HasSubstr("300  NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:a@b!\""));
  r = Lufctl({"lookup", "+12025550000"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "lufctl: NOT_FOUND: not found\n");
}

TEST_F(LufctlCliTest, BatchFile) {
  std::string path = *dir_ + "/batch.json";
  std::ofstream(path) << R"([
    {"put": {"destGroup": {"id": "d1", "registrantId": "o"}}},
    {"delete": {"kind": "OBJECT_KIND_ORG", "key": "x"}},
    {"acceptOffer": {"sedGroupId": "sg", "peerOrgId": "p"}}
  ])";
  Result r = Lufctl({"--txn-id", "b-1", "batch", path});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    absl::MutexLock lock(&fake_->mu);
    ASSERT_EQ(fake_->batch.operations_size(), 3);
    EXPECT_EQ(fake_->batch.client_txn_id(), "b-1");
    EXPECT_EQ(fake_->batch.operations(0).put().dest_group().id(), "d1");
  }
  std::ofstream(path) << R"([{"put": {"bogus": 1}}])";
  r = Lufctl({"batch", path});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));
}

TEST_F(LufctlCliTest, OfferAccept) {
  ASSERT_EQ(Lufctl({"offer", "accept", "--sedgroup", "sg", "--peer", "p"}).code,
            0);
  absl::MutexLock lock(&fake_->mu);
  EXPECT_EQ(fake_->decision.sed_group_id(), "sg");
  EXPECT_EQ(fake_->decision.peer_org_id(), "p");
}

TEST_F(LufctlCliTest, ExportCsvHasOnlyTns) {
  std::string path = *dir_ + "/out.csv";
  Result r = Lufctl({"export", "--format", "csv", "-o", path});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(*ReadSmallFile(path),
            "tn,registrant,dest_groups,ttl,order,preference,flags,services,"
            "regexp,replacement\n"
            "+12025556666,o,dg,,,,,,,\n");
  r = Lufctl({"export", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
}

TEST_F(LufctlCliTest, Health) {
  Result r = Lufctl({"health"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
  r = Lufctl({"health", "--service", "no.such.Service"});
  EXPECT_EQ(r.code, 1);
}

TEST_F(LufctlCliTest, UnreachableServerIsUnavailable) {
  // A port nothing listens on: bind one (no listen), note it, close it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  close(fd);
  std::vector<std::string> args = env_->ClientFlags(port);
  args.insert(args.end(), {"--timeout", "5", "info"});
  Result r = testenv::RunCli(args);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("lufctl: UNAVAILABLE"));
}

}  // namespace
}  // namespace lufd::client
