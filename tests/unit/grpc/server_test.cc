// In-process tests of the lufd gRPC server over mutual TLS.
//
// A test PKI is built once per process with tools/dev-pki.sh (CA, server
// cert with SAN IP 127.0.0.1 + DNS localhost, admin/peer client certs, a
// foreign-CA cert, an expired cert, a revoked cert + CRLs) into a temp dir.
// Each test starts its own LufdServer on 127.0.0.1:0 over a "memory:" store,
// seeded with an admin and a peer credential, and talks to it with real
// gRPC channels.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "lufd/v1/admin.grpc.pb.h"
#include "lufd/v1/lookup.grpc.pb.h"
#include "server/app/lufd_server.h"
#include "server/core/follower.h"
#include "server/core/identity.h"
#include "server/core/registry.h"
#include "server/core/view.h"
#include "server/grpc/auth.h"
#include "server/ops/config.h"
#include "storage/store.h"
#include "tests/unit/testing/eventually.h"

namespace lufd {
namespace {

using ::lufd::testing::Eventually;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

constexpr char kAdminOrg[] = "iana-en:100";
constexpr char kPeerOrg[] = "iana-en:201";
constexpr char kNumber[] = "+12025556666";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".new";
  std::ofstream(tmp, std::ios::binary | std::ios::trunc) << data;
  fs::rename(tmp, path);
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl =
      (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  return mkdtemp(tmpl.data());
}

int Shell(const std::string& cmd) { return std::system(cmd.c_str()); }

// Test PKIs, shared by all tests of this process.
std::string* pki = nullptr;   // The main PKI (tools/dev-pki.sh layout).
std::string* pki2 = nullptr;  // A second PKI: its server cert for rotation.

lufd::v1::RegistryObject OrgObject(const std::string& id,
                                   std::vector<lufd::v1::OrgRole> roles) {
  lufd::v1::RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name(id);
  for (auto r : roles) o.mutable_org()->add_roles(r);
  return o;
}

lufd::v1::RegistryObject PeerCredential(bool disabled) {
  lufd::v1::RegistryObject o;
  auto* c = o.mutable_credential();
  c->set_id("ssp1-peer");
  c->set_org_id(kPeerOrg);
  c->set_role(lufd::v1::ROLE_PEER);
  // By SAN URI only: peer-ssp1, revoked and expired all carry this URI, so
  // only TLS verification and the CRL tell them apart.
  c->set_san_uri("urn:lufd:peer:ssp1");
  c->set_disabled(disabled);
  return o;
}

std::vector<lufd::v1::Operation> Puts(
    std::vector<lufd::v1::RegistryObject> objects) {
  std::vector<lufd::v1::Operation> ops;
  for (auto& o : objects) {
    lufd::v1::Operation op;
    *op.mutable_put() = std::move(o);
    ops.push_back(std::move(op));
  }
  return ops;
}

// The objects that make kNumber resolve, for the peer org, via a public group.
std::vector<lufd::v1::RegistryObject> NumberObjects(const std::string& suffix,
                                                    const std::string& number) {
  lufd::v1::RegistryObject dg;
  dg.mutable_dest_group()->set_id("dg" + suffix);
  dg.mutable_dest_group()->set_registrant_id(kPeerOrg);
  lufd::v1::RegistryObject rec;
  auto* r = rec.mutable_sed_record();
  r->set_id("rec" + suffix);
  r->set_registrant_id(kPeerOrg);
  r->set_ttl(300);
  r->set_in_service(true);
  r->mutable_naptr()->set_order(10);
  r->mutable_naptr()->set_preference(100);
  r->mutable_naptr()->set_flags("U");
  r->mutable_naptr()->set_services("E2U+sip");
  r->mutable_naptr()->set_regexp("!^.*$!sip:info@example.com!");
  lufd::v1::RegistryObject sg;
  auto* g = sg.mutable_sed_group();
  g->set_id("sg" + suffix);
  g->set_registrant_id(kPeerOrg);
  g->add_dest_group_ids("dg" + suffix);
  g->add_records()->set_record_id("rec" + suffix);
  g->set_in_service(true);
  g->set_public_(true);
  lufd::v1::RegistryObject tn;
  auto* id = tn.mutable_identifier();
  id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  id->set_value(number);
  id->set_registrant_id(kPeerOrg);
  id->add_dest_group_ids("dg" + suffix);
  return {dg, rec, sg, tn};
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (pki != nullptr) return;
    pki = new std::string(MakeTempDir("lufd-grpc-pki"));
    pki2 = new std::string(MakeTempDir("lufd-grpc-pki2"));
    const std::string script =
        absl::StrCat(LUFD_SOURCE_DIR, "/tools/dev-pki.sh");
    ASSERT_EQ(Shell(absl::StrCat("bash ", script, " --quiet ", *pki)), 0);
    ASSERT_EQ(Shell(absl::StrCat("bash ", script, " --quiet ", *pki2)), 0);
    // A CRL from the foreign CA only: nothing valid for the dev CA.
    ASSERT_EQ(Shell(absl::StrCat(
                  "cd ", *pki,
                  " && openssl ca -batch -config "
                  "foreign-ca-state/ca.cnf -cert foreign-ca.pem -keyfile "
                  "foreign-ca.key -gencrl -crlexts crl_ext -out "
                  "foreign-crl.pem 2>/dev/null")),
              0);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*pki);
    fs::remove_all(*pki2);
  }

  void SetUp() override {
    dir_ = MakeTempDir("lufd-grpc-test");
    // The server reads its own copies, so rotation tests can replace them.
    fs::copy_file(P("server.pem"), Dir("server.pem"));
    fs::copy_file(P("server.key"), Dir("server.key"));
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::ZeroDuration());
    server_.reset();
    fs::remove_all(dir_);
  }

  static std::string P(const std::string& name) {
    return absl::StrCat(*pki, "/", name);
  }
  std::string Dir(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }

  lufd::v1::ServerConfig BaseConfig() const {
    lufd::v1::ServerConfig config;
    config.mutable_grpc()->set_listen("127.0.0.1:0");
    auto* tls = config.mutable_grpc()->mutable_tls();
    tls->set_cert_file(Dir("server.pem"));
    tls->set_key_file(Dir("server.key"));
    tls->set_client_ca_file(P("ca.pem"));
    tls->set_reload_interval("1s");
    config.mutable_grpc()->set_max_message_bytes(64 * 1024);
    config.mutable_store()->set_url("memory:");
    config.mutable_store()->set_migrate_on_start(true);
    config.set_drain_timeout("1s");
    return config;
  }

  // `adjust` (optional) edits the config before it is validated.
  void StartServer(
      const std::string& crl_file = "",
      const std::function<void(lufd::v1::ServerConfig*)>& adjust = nullptr) {
    lufd::v1::ServerConfig config = BaseConfig();
    config.mutable_grpc()->mutable_tls()->set_crl_file(crl_file);
    if (adjust) adjust(&config);
    ApplyConfigDefaults(&config);
    ASSERT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
    absl::StatusOr<std::unique_ptr<LufdServer>> server =
        LufdServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto seeded = server_->registry()->Execute(Identity::LocalAdmin(),
                                               Puts(SeedObjects()), "seed");
    ASSERT_TRUE(seeded.ok()) << seeded.status();
  }

  // The admin org and credential (admin.pem, by SPKI) and the peer org and
  // credential (by SAN URI).
  static std::vector<lufd::v1::RegistryObject> SeedObjects() {
    lufd::v1::RegistryObject admin_cred;
    auto* c = admin_cred.mutable_credential();
    c->set_id("admin1");
    c->set_org_id(kAdminOrg);
    c->set_role(lufd::v1::ROLE_ADMIN);
    c->set_spki_sha256(
        std::string(absl::StripAsciiWhitespace(ReadFile(P("admin.spki")))));
    return {OrgObject(kAdminOrg, {}),
            OrgObject(kPeerOrg,
                      {lufd::v1::ORG_ROLE_PEER, lufd::v1::ORG_ROLE_REGISTRANT}),
            admin_cred, PeerCredential(false)};
  }

  // Registrar org 301 (credential reg1: registrar-ssp1.pem, by SPKI) and the
  // peer org as its registrant.
  static std::vector<lufd::v1::RegistryObject> RegistrarObjects() {
    lufd::v1::RegistryObject registrant = OrgObject(
        kPeerOrg, {lufd::v1::ORG_ROLE_PEER, lufd::v1::ORG_ROLE_REGISTRANT});
    registrant.mutable_org()->set_registrar_id("iana-en:301");
    lufd::v1::RegistryObject cred;
    cred.mutable_credential()->set_id("reg1");
    cred.mutable_credential()->set_org_id("iana-en:301");
    cred.mutable_credential()->set_role(lufd::v1::ROLE_REGISTRAR);
    cred.mutable_credential()->set_spki_sha256(std::string(
        absl::StripAsciiWhitespace(ReadFile(P("registrar-ssp1.spki")))));
    // The registrar provisions numbers only inside its registrant's
    // holdings (issue 8): the registry allocates +1202555* to it.
    lufd::v1::RegistryObject holding;
    holding.mutable_holding()->set_kind(lufd::v1::IDENTIFIER_KIND_TN_PREFIX);
    holding.mutable_holding()->set_value("+1202555");
    holding.mutable_holding()->set_registrant_id(kPeerOrg);
    return {OrgObject("iana-en:301", {lufd::v1::ORG_ROLE_REGISTRAR}),
            registrant, cred, holding};
  }

  // A channel presenting <name>.pem/.key ("" = no client certificate),
  // trusting the dev CA. Each channel gets its own connection (local
  // subchannel pool), so every channel makes a fresh handshake.
  std::shared_ptr<grpc::Channel> Channel(const std::string& name) {
    return ChannelTo(server_->address(), name);
  }
  // `bdp_probe` false keeps the HTTP/2 windows at their initial size, so a
  // client that stops reading soon blocks a streaming server.
  static std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address,
                                                  const std::string& name,
                                                  bool bdp_probe = true) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(P("ca.pem"));
    if (!name.empty()) {
      options.pem_private_key = ReadFile(P(name + ".key"));
      options.pem_cert_chain = ReadFile(P(name + ".pem"));
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    if (!bdp_probe) args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
    args.SetMaxSendMessageSize(16 * 1024 * 1024);
    return grpc::CreateCustomChannel(address, grpc::SslCredentials(options),
                                     args);
  }

  static void SetDeadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
  }

  // The status code of an admin Get of (kind, key).
  static grpc::StatusCode GetCode(lufd::v1::AdminService::Stub* stub,
                                  lufd::v1::ObjectKind kind,
                                  const std::string& key) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    lufd::v1::GetRequest request;
    request.mutable_ref()->set_kind(kind);
    request.mutable_ref()->set_key(key);
    lufd::v1::RegistryObject object;
    return stub->Get(&ctx, request, &object).error_code();
  }

  grpc::Status Lookup(const std::string& cert, const std::string& query,
                      lufd::v1::LookupResponse* response = nullptr) {
    auto stub = lufd::v1::LookupService::NewStub(Channel(cert));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    lufd::v1::LookupRequest request;
    request.set_query(query);
    lufd::v1::LookupResponse local;
    return stub->Lookup(&ctx, request, response ? response : &local);
  }

  grpc::Status AdminBatch(const std::string& cert,
                          std::vector<lufd::v1::RegistryObject> objects) {
    auto stub = lufd::v1::AdminService::NewStub(Channel(cert));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    lufd::v1::BatchRequest request;
    for (auto& op : Puts(std::move(objects))) {
      *request.add_operations() = std::move(op);
    }
    lufd::v1::WriteResponse response;
    return stub->Batch(&ctx, request, &response);
  }

  std::string dir_;
  std::unique_ptr<LufdServer> server_;
};

TEST_F(ServerTest, AdminProvisionsAndPeerLooksUp) {
  StartServer();
  ASSERT_TRUE(AdminBatch("admin", NumberObjects("1", kNumber)).ok());
  lufd::v1::LookupResponse response;
  grpc::Status s = Lookup("peer-ssp1", "+1-202-555-6666", &response);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(response.found());
  EXPECT_EQ(response.normalized(), kNumber);
  EXPECT_EQ(response.domain(), "6.6.6.6.5.5.5.2.0.2.1.e164.arpa.");
  EXPECT_GT(response.serial(), 0u);
  ASSERT_EQ(response.records_size(), 1);
  EXPECT_EQ(response.records(0).naptr().regexp(),
            "!^.*$!sip:info@example.com!");

  // Unknown number: NOT_FOUND with the no-oracle message.
  s = Lookup("peer-ssp1", "+12025550000");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "no SED for this query");
}

TEST_F(ServerTest, ServerInfoForAdmin) {
  StartServer();
  auto stub = lufd::v1::AdminService::NewStub(Channel("admin"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  lufd::v1::ServerInfo info;
  grpc::Status s = stub->GetServerInfo(&ctx, {}, &info);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.store_backend(), "memory");
  EXPECT_EQ(info.caller_org_id(), kAdminOrg);
  EXPECT_EQ(info.caller_role(), lufd::v1::ROLE_ADMIN);
  EXPECT_EQ(info.serial(), info.store_serial());
  EXPECT_FALSE(info.version().empty());
}

TEST_F(ServerTest, PeerCallingAdminIsPermissionDenied) {
  StartServer();
  auto stub = lufd::v1::AdminService::NewStub(Channel("peer-ssp1"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  lufd::v1::ServerInfo info;
  EXPECT_EQ(stub->GetServerInfo(&ctx, {}, &info).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(AdminBatch("peer-ssp1", NumberObjects("1", kNumber)).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ServerTest, NoClientCertificateFails) {
  StartServer();
  EXPECT_EQ(Lookup("", kNumber).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerTest, ForeignCaCertificateFails) {
  StartServer();
  EXPECT_EQ(Lookup("foreign", kNumber).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerTest, ExpiredCertificateFails) {
  StartServer();
  EXPECT_EQ(Lookup("expired", kNumber).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerTest, UnregisteredCertificateIsUnauthenticated) {
  StartServer();
  grpc::Status s = Lookup("peer-ssp2", kNumber);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "client certificate is not registered");
}

TEST_F(ServerTest, RevokedCertificateAcceptedByTlsButDeniedWithCrl) {
  // Without a CRL, gRPC accepts the revoked certificate: it authenticates
  // (as the ssp1 peer, by SAN URI) and gets an ordinary NOT_FOUND.
  StartServer();
  EXPECT_EQ(Lookup("revoked", kNumber).error_code(),
            grpc::StatusCode::NOT_FOUND);
  server_->Shutdown(absl::ZeroDuration());
  server_.reset();

  StartServer(P("crl.pem"));
  grpc::Status s = Lookup("revoked", kNumber);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "certificate revoked");
  // The unrevoked certificate of the same peer still works.
  EXPECT_EQ(Lookup("peer-ssp1", kNumber).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, CrlWithoutIssuerEntryDenies) {
  StartServer(P("foreign-crl.pem"));
  grpc::Status s = Lookup("peer-ssp1", kNumber);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "no valid CRL for issuer");
}

TEST_F(ServerTest, CrlFileReloadedAtRuntime) {
  const std::string crl = Dir("crl.pem");
  fs::copy_file(P("crl-empty.pem"), crl);
  StartServer(crl);
  EXPECT_EQ(Lookup("revoked", kNumber).error_code(),
            grpc::StatusCode::NOT_FOUND);
  WriteFileAtomically(crl, ReadFile(P("crl.pem")));
  EXPECT_TRUE(Eventually(absl::Seconds(5), [&] {
    return Lookup("revoked", kNumber).error_code() ==
           grpc::StatusCode::UNAUTHENTICATED;
  }));
  // Removing the CRL file fails closed.
  fs::remove(crl);
  EXPECT_TRUE(Eventually(absl::Seconds(5), [&] {
    return Lookup("peer-ssp1", kNumber).error_code() ==
           grpc::StatusCode::UNAUTHENTICATED;
  }));
}

TEST_F(ServerTest, ClientCaBundleReloadedAtRuntime) {
  // The server's own copy of the bundle, so the test can replace it.
  const std::string bundle = Dir("client-ca.pem");
  fs::copy_file(P("ca.pem"), bundle);
  StartServer("", [&](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->mutable_tls()->set_client_ca_file(bundle);
  });
  // foreign.pem (from the second CA) gets a registered peer credential, by
  // SPKI, so only the chain can stop it.
  lufd::v1::RegistryObject cred;
  auto* c = cred.mutable_credential();
  c->set_id("foreign-peer");
  c->set_org_id(kPeerOrg);
  c->set_role(lufd::v1::ROLE_PEER);
  c->set_spki_sha256(
      std::string(absl::StripAsciiWhitespace(ReadFile(P("foreign.spki")))));
  ASSERT_TRUE(AdminBatch("admin", {cred}).ok());
  ASSERT_TRUE(AdminBatch("admin", NumberObjects("1", kNumber)).ok());
  // The handshake refuses it.
  EXPECT_EQ(Lookup("foreign", kNumber).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  WriteFileAtomically(bundle,
                      ReadFile(P("ca.pem")) + ReadFile(P("foreign-ca.pem")));
  // reload_interval is 1s; allow 5 s. Each Lookup opens a new connection,
  // so each is a fresh handshake against the current bundle.
  EXPECT_TRUE(Eventually(absl::Seconds(5),
                         [&] { return Lookup("foreign", kNumber).ok(); }));
  lufd::v1::LookupResponse response;
  grpc::Status s = Lookup("foreign", kNumber, &response);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(response.found());
  // The dev CA's clients are still accepted.
  EXPECT_TRUE(Lookup("peer-ssp1", kNumber).ok());
}

TEST_F(ServerTest, ExpiredCrlDenies) {
  // A dev-CA CRL whose nextUpdate (2020-01-02) is in the past.
  const std::string crl = Dir("crl-expired.pem");
  ASSERT_EQ(Shell(absl::StrCat(
                "cd ", *pki,
                " && openssl ca -batch -config ca-state/ca.cnf -cert ca.pem "
                "-keyfile ca.key -gencrl -crlexts crl_ext "
                "-crl_lastupdate 20200101000000Z "
                "-crl_nextupdate 20200102000000Z -out ",
                crl, " 2>/dev/null")),
            0);
  ASSERT_EQ(Shell(absl::StrCat("openssl crl -in ", crl,
                               " -noout -nextupdate | grep -q 'Jan  2 "
                               "00:00:00 2020'")),
            0);
  StartServer(crl);
  grpc::Status s = Lookup("peer-ssp1", kNumber);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "no valid CRL for issuer");
  // The same CA with a current CRL: accepted (so the expiry is the reason).
  server_->Shutdown(absl::ZeroDuration());
  server_.reset();
  StartServer(P("crl-empty.pem"));
  EXPECT_EQ(Lookup("peer-ssp1", kNumber).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, DisablingCredentialDeniesNextRpc) {
  StartServer();
  EXPECT_EQ(Lookup("peer-ssp1", kNumber).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(AdminBatch("admin", {PeerCredential(true)}).ok());
  grpc::Status s = Lookup("peer-ssp1", kNumber);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "client certificate is not registered");
}

// max_message_bytes is 64 KiB here, so gRPC's own receive limit is 256 KiB
// (4x): between the two the server answers INVALID_ARGUMENT with both sizes,
// beyond 256 KiB gRPC answers RESOURCE_EXHAUSTED before any handler runs.
TEST_F(ServerTest, OversizedMessageIsInvalidArgumentUpToTransportCap) {
  StartServer();
  auto objects = NumberObjects("1", kNumber);
  objects[0].mutable_dest_group()->set_id(std::string(100 * 1024, 'x'));
  grpc::Status s = AdminBatch("admin", objects);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              ::testing::MatchesRegex("request is [0-9]+ bytes; the limit is "
                                      "65536 \\(grpc.max_message_bytes\\)"));

  // Unary lookup.
  s = Lookup("peer-ssp1", std::string(100 * 1024, '1'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("(grpc.max_message_bytes)"));

  // Each streamed message is checked: BatchLookup...
  {
    auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->BatchLookup(&ctx);
    lufd::v1::LookupRequest request;
    request.set_query(kNumber);
    ASSERT_TRUE(stream->Write(request));
    lufd::v1::LookupResponse response;
    ASSERT_TRUE(stream->Read(&response));  // The small one is answered.
    request.set_query(std::string(100 * 1024, '1'));
    stream->Write(request);
    stream->WritesDone();
    while (stream->Read(&response)) {
    }
    s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("(grpc.max_message_bytes)"));
  }
  // ... and Import.
  {
    auto stub = lufd::v1::AdminService::NewStub(Channel("admin"));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->Import(&ctx);
    lufd::v1::ImportChunk chunk;
    *chunk.add_objects() = objects[0];
    stream->Write(chunk);
    stream->WritesDone();
    lufd::v1::ImportProgress progress;
    while (stream->Read(&progress)) {
    }
    s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("(grpc.max_message_bytes)"));
  }

  // Beyond the transport cap (256 KiB): gRPC's own RESOURCE_EXHAUSTED.
  objects[0].mutable_dest_group()->set_id(std::string(300 * 1024, 'x'));
  EXPECT_EQ(AdminBatch("admin", objects).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  // Still serving.
  EXPECT_EQ(Lookup("peer-ssp1", kNumber).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// grpc.max_deadline bounds how long a stream may sit waiting on its client;
// a stream that keeps moving may run longer (large imports and exports).
TEST_F(ServerTest, MaxDeadlineBoundsIdleStreamWithoutDeadline) {
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->set_max_deadline("1s");
  });
  ASSERT_TRUE(AdminBatch("admin", NumberObjects("1", kNumber)).ok());
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  lufd::v1::LookupRequest request;
  request.set_query(kNumber);
  lufd::v1::LookupResponse response;
  {
    // Busy for 2 s (> max_deadline), never idle for 1 s: completes.
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->BatchLookup(&ctx);
    for (int i = 0; i < 7; ++i) {
      ASSERT_TRUE(stream->Write(request));
      ASSERT_TRUE(stream->Read(&response));
      EXPECT_TRUE(response.found());
      // Deliberate: real time must pass (7 x 300 ms > max_deadline), each
      // gap shorter than the 1 s idle bound.
      absl::SleepFor(absl::Milliseconds(300));
    }
    stream->WritesDone();
    EXPECT_FALSE(stream->Read(&response));
    grpc::Status s = stream->Finish();
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  }
  {
    // No client deadline, then idle: the server ends the stream after about
    // 1 s. The guard only bounds the test if that never happens.
    grpc::ClientContext ctx;
    absl::Notification done;
    std::thread guard([&] {
      if (!done.WaitForNotificationWithTimeout(absl::Seconds(15))) {
        ctx.TryCancel();
      }
    });
    auto stream = stub->BatchLookup(&ctx);
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    const absl::Time idle_from = absl::Now();
    EXPECT_FALSE(stream->Read(&response));  // Blocks until the server ends it.
    grpc::Status s = stream->Finish();
    const absl::Duration idle = absl::Now() - idle_from;
    done.Notify();
    guard.join();
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::CANCELLED ||
                s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
        << s.error_code() << " " << s.error_message();
    EXPECT_GE(idle, absl::Milliseconds(900));
    EXPECT_LT(idle, absl::Seconds(3))
        << idle;  // 1 s + watchdog period + slack.
  }
  // The server is fine afterwards.
  EXPECT_TRUE(Lookup("peer-ssp1", kNumber).ok());
}

TEST_F(ServerTest, MalformedQueryIsInvalidArgument) {
  StartServer();
  grpc::Status s = Lookup("peer-ssp1", "+1 202 ABC");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("malformed query"));
  EXPECT_EQ(Lookup("peer-ssp1", "").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, BatchLookupAnswersInOrder) {
  StartServer();
  ASSERT_TRUE(AdminBatch("admin", NumberObjects("1", kNumber)).ok());
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  auto stream = stub->BatchLookup(&ctx);
  const std::vector<std::string> queries = {kNumber, "+12025550000", "garbage!",
                                            "tel:+1-202-555-6666"};
  for (size_t i = 0; i < queries.size(); ++i) {
    lufd::v1::LookupRequest request;
    request.set_query(queries[i]);
    request.set_request_id(absl::StrCat("q", i));
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  std::vector<lufd::v1::LookupResponse> responses;
  lufd::v1::LookupResponse response;
  while (stream->Read(&response) && responses.size() < 10) {
    responses.push_back(response);
  }
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(responses.size(), 4u);
  for (size_t i = 0; i < responses.size(); ++i) {
    EXPECT_EQ(responses[i].request_id(), absl::StrCat("q", i));
  }
  EXPECT_TRUE(responses[0].found());
  EXPECT_FALSE(responses[1].found());
  EXPECT_TRUE(responses[1].error().empty());
  EXPECT_FALSE(responses[2].found());
  EXPECT_FALSE(responses[2].error().empty());
  EXPECT_TRUE(responses[3].found());
}

TEST_F(ServerTest, ImportCommitsBatchesAndNamesFailingObject) {
  StartServer();
  auto stub = lufd::v1::AdminService::NewStub(Channel("admin"));
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->Import(&ctx);
    auto objects = NumberObjects("1", kNumber);
    lufd::v1::ImportChunk chunk;
    *chunk.add_objects() = objects[0];
    *chunk.add_objects() = objects[1];
    ASSERT_TRUE(stream->Write(chunk));
    chunk.Clear();
    *chunk.add_objects() = objects[2];
    *chunk.add_objects() = objects[3];
    chunk.set_end_batch(true);
    ASSERT_TRUE(stream->Write(chunk));
    stream->WritesDone();
    lufd::v1::ImportProgress progress, last;
    int n = 0;
    while (stream->Read(&progress) && n < 10) {
      last = progress;
      ++n;
    }
    grpc::Status s = stream->Finish();
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(n, 2);
    EXPECT_EQ(last.received(), 4u);
    EXPECT_EQ(last.committed(), 4u);
    EXPECT_GT(last.serial(), 0u);
  }
  EXPECT_TRUE(Lookup("peer-ssp1", kNumber).ok());
  {
    // Object 2 of the stream is invalid: its batch (objects 1..2) is not
    // committed; object 0's batch was.
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->Import(&ctx);
    auto objects = NumberObjects("2", "+12025557777");
    lufd::v1::ImportChunk chunk;
    *chunk.add_objects() = objects[0];
    chunk.set_end_batch(true);
    ASSERT_TRUE(stream->Write(chunk));
    chunk.Clear();
    *chunk.add_objects() = objects[1];
    lufd::v1::RegistryObject bad = objects[2];
    bad.mutable_sed_group()->set_registrant_id("not-an-org-id");
    *chunk.add_objects() = bad;
    chunk.set_end_batch(true);
    stream->Write(chunk);
    stream->WritesDone();
    lufd::v1::ImportProgress progress;
    for (int i = 0; i < 10 && stream->Read(&progress); ++i) {
    }
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("object 2: "));
  }
  auto get = [&](lufd::v1::ObjectKind kind, const std::string& key) {
    return GetCode(stub.get(), kind, key);
  };
  EXPECT_EQ(get(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg2"), grpc::StatusCode::OK);
  EXPECT_EQ(get(lufd::v1::OBJECT_KIND_SED_RECORD, "rec2"),
            grpc::StatusCode::NOT_FOUND);
}

// issue 7: every failing object of a batch is named (not only the first),
// with its stream index, in the last progress; validate_only checks the
// whole stream and writes nothing; a cancel chunk stops cleanly with an
// exact committed count.
TEST_F(ServerTest, ImportReportsEveryFailingObjectAndCanValidateOnly) {
  StartServer();
  auto stub = lufd::v1::AdminService::NewStub(Channel("admin"));
  auto tn = [](const std::string& number, const std::string& dg) {
    lufd::v1::RegistryObject o = NumberObjects("x", number)[3];
    o.mutable_identifier()->set_dest_group_ids(0, dg);
    return o;
  };
  // Stream: [dg1 rec1 sg1 tn] committed as batch 0; then batch 1 with
  // three objects, two of them bad (unknown dest group, bad services).
  auto first = NumberObjects("1", kNumber);
  lufd::v1::RegistryObject bad_services = first[1];
  bad_services.mutable_sed_record()->set_id("rec-bad");
  bad_services.mutable_sed_record()->mutable_naptr()->set_services("x y");
  std::vector<lufd::v1::RegistryObject> second = {
      tn("+12025550001", "dg1"), tn("+12025550002", "dg-nope"), bad_services};
  auto run = [&](bool validate_only, lufd::v1::ImportProgress* last) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->Import(&ctx);
    lufd::v1::ImportChunk chunk;
    chunk.set_validate_only(validate_only);
    for (const auto& o : first) *chunk.add_objects() = o;
    chunk.set_end_batch(true);
    stream->Write(chunk);
    chunk.clear_objects();
    for (const auto& o : second) *chunk.add_objects() = o;
    stream->Write(chunk);
    stream->WritesDone();
    lufd::v1::ImportProgress progress;
    for (int i = 0; i < 10 && stream->Read(&progress); ++i) *last = progress;
    return stream->Finish();
  };
  auto exists = [&](lufd::v1::ObjectKind kind, const std::string& key) {
    return GetCode(stub.get(), kind, key) == grpc::StatusCode::OK;
  };

  lufd::v1::ImportProgress last;
  grpc::Status s = run(/*validate_only=*/true, &last);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("object 5: "));
  EXPECT_THAT(s.error_message(), HasSubstr("and 1 more failing objects"));
  EXPECT_EQ(last.error_count(), 2u);
  ASSERT_EQ(last.errors_size(), 2);
  EXPECT_EQ(last.errors(0).index(), 5u);
  EXPECT_THAT(last.errors(0).message(), HasSubstr("dg-nope"));
  EXPECT_EQ(last.errors(1).index(), 6u);
  EXPECT_EQ(last.errors(1).code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(last.committed(), 0u);
  EXPECT_EQ(last.validated(), 7u);
  // A dry run writes nothing, not even the good first batch.
  EXPECT_FALSE(exists(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg1"));

  last.Clear();
  s = run(/*validate_only=*/false, &last);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(last.error_count(), 2u);
  ASSERT_EQ(last.errors_size(), 2);
  EXPECT_EQ(last.errors(0).index(), 5u);
  EXPECT_EQ(last.errors(1).index(), 6u);
  EXPECT_EQ(last.committed(), 4u);  // Batch 0 stands, batch 1 does not.
  EXPECT_GT(last.serial(), 0u);
  EXPECT_TRUE(exists(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg1"));
  EXPECT_FALSE(exists(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025550001"));

  {
    // cancel: the committed batch stands, the open one is dropped, and the
    // last progress says exactly what was committed.
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->Import(&ctx);
    lufd::v1::ImportChunk chunk;
    *chunk.add_objects() = tn("+12025550011", "dg1");
    chunk.set_end_batch(true);
    ASSERT_TRUE(stream->Write(chunk));
    chunk.Clear();
    *chunk.add_objects() = tn("+12025550012", "dg1");
    ASSERT_TRUE(stream->Write(chunk));
    chunk.Clear();
    chunk.set_cancel(true);
    stream->Write(chunk);
    stream->WritesDone();
    lufd::v1::ImportProgress progress;
    for (int i = 0; i < 10 && stream->Read(&progress); ++i) last = progress;
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
    EXPECT_EQ(last.committed(), 1u);
    EXPECT_EQ(last.received(), 2u);
  }
  EXPECT_TRUE(exists(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025550011"));
  EXPECT_FALSE(exists(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025550012"));
}

TEST_F(ServerTest, CancelledImportCommitsNothingOfItsOpenBatch) {
  StartServer();
  auto stub = lufd::v1::AdminService::NewStub(Channel("admin"));
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->Import(&ctx);
    lufd::v1::ImportChunk chunk;
    *chunk.add_objects() = NumberObjects("1", kNumber)[0];  // dg1, no end.
    ASSERT_TRUE(stream->Write(chunk));
    lufd::v1::ImportProgress progress;
    ASSERT_TRUE(stream->Read(&progress));  // The server has the chunk.
    EXPECT_EQ(progress.received(), 1u);
    EXPECT_EQ(progress.committed(), 0u);
    ctx.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // The server sees the cancellation asynchronously and nothing observable
  // marks "it has finished not committing": a deliberate window in which a
  // wrong commit would have happened, then the check.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(GetCode(stub.get(), lufd::v1::OBJECT_KIND_DEST_GROUP, "dg1"),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, ListAndExportStreamObjects) {
  StartServer();
  ASSERT_TRUE(AdminBatch("admin", NumberObjects("1", kNumber)).ok());
  auto stub = lufd::v1::AdminService::NewStub(Channel("admin"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  lufd::v1::ListRequest request;
  request.set_kind(lufd::v1::OBJECT_KIND_ORG);
  auto reader = stub->List(&ctx, request);
  lufd::v1::RegistryObject object;
  int orgs = 0;
  while (reader->Read(&object) && orgs < 100) ++orgs;
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(orgs, 2);

  grpc::ClientContext ctx2;
  SetDeadline(&ctx2);
  auto exporter = stub->Export(&ctx2, lufd::v1::ExportRequest());
  int all = 0;
  while (exporter->Read(&object) && all < 100) ++all;
  ASSERT_TRUE(exporter->Finish().ok());
  EXPECT_EQ(all, 2 + 2 + 4);  // Orgs, credentials, the number's objects.
}

// A registrar's put over an object another org owns is refused while a put
// of a new key is not: the per-object error list would tell it which keys
// exist. It is told how many objects were refused, never which.
TEST_F(ServerTest, ImportTellsARegistrarHowManyPutsAreRefusedNotWhich) {
  StartServer();
  ASSERT_TRUE(AdminBatch("admin", RegistrarObjects()).ok());
  lufd::v1::RegistryObject theirs;
  theirs.mutable_dest_group()->set_id("dg-theirs");
  theirs.mutable_dest_group()->set_registrant_id("iana-en:999");
  ASSERT_TRUE(AdminBatch("admin", {OrgObject("iana-en:999",
                                             {lufd::v1::ORG_ROLE_REGISTRANT}),
                                   theirs})
                  .ok());
  // Object 0: over dg-theirs (exists, not ours); object 1: a bad record.
  lufd::v1::RegistryObject over = theirs;
  over.mutable_dest_group()->set_registrant_id(kPeerOrg);
  lufd::v1::RegistryObject bad = NumberObjects("1", kNumber)[1];
  bad.mutable_sed_record()->mutable_naptr()->set_services("x y");
  for (bool validate_only : {false, true}) {
    auto stub = lufd::v1::AdminService::NewStub(Channel("registrar-ssp1"));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->Import(&ctx);
    lufd::v1::ImportChunk chunk;
    chunk.set_validate_only(validate_only);
    *chunk.add_objects() = over;
    *chunk.add_objects() = bad;
    chunk.set_end_batch(true);
    stream->Write(chunk);
    stream->WritesDone();
    lufd::v1::ImportProgress progress, last;
    for (int i = 0; i < 10 && stream->Read(&progress); ++i) last = progress;
    grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("which ones is not said"));
    EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("object 0")));
    EXPECT_EQ(last.error_count(), 2u);
    ASSERT_EQ(last.errors_size(), 1);
    EXPECT_EQ(last.errors(0).index(), 1u);  // Only the invalid record.
  }
}

TEST_F(ServerTest, RegistrarIsGatedAndSeesOnlyItsRegistrants) {
  StartServer();
  // Registrar org 301 provisions for registrant 201 (the peer org).
  ASSERT_TRUE(AdminBatch("admin", RegistrarObjects()).ok());
  grpc::Status s = AdminBatch("registrar-ssp1", NumberObjects("1", kNumber));
  ASSERT_TRUE(s.ok()) << s.error_message();
  // Lookup is for peers and admins only.
  EXPECT_EQ(Lookup("registrar-ssp1", kNumber).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  auto audit_keys = [&](const std::string& who) {
    auto stub = lufd::v1::AdminService::NewStub(Channel(who));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto reader = stub->Audit(&ctx, lufd::v1::AuditRequest());
    std::vector<std::string> keys;
    lufd::v1::Change change;
    while (reader->Read(&change) && keys.size() < 1000) {
      keys.push_back(change.key());
    }
    EXPECT_TRUE(reader->Finish().ok());
    return keys;
  };
  const std::vector<std::string> admin_keys = audit_keys("admin");
  const std::vector<std::string> registrar_keys = audit_keys("registrar-ssp1");
  EXPECT_THAT(admin_keys, ::testing::Contains("admin1"));
  EXPECT_THAT(admin_keys, ::testing::Contains("dg1"));
  EXPECT_THAT(registrar_keys, ::testing::Contains("dg1"));
  EXPECT_THAT(registrar_keys, ::testing::Not(::testing::Contains("admin1")));
  EXPECT_THAT(registrar_keys,
              ::testing::Not(::testing::Contains(std::string(kAdminOrg))));

  auto stub = lufd::v1::AdminService::NewStub(Channel("registrar-ssp1"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  auto exporter = stub->Export(&ctx, lufd::v1::ExportRequest());
  lufd::v1::RegistryObject object;
  int n = 0;
  while (exporter->Read(&object) && n < 100) {
    ++n;
    EXPECT_NE(object.org().id(), kAdminOrg);
    EXPECT_NE(object.credential().id(), "admin1");
  }
  EXPECT_TRUE(exporter->Finish().ok());
  EXPECT_GE(n, 4);
}

// With holdings a registrar may overwrite another registrant's identifier
// left in its own holding (a former holder's, after a port). The audit
// showed the registrar that change whole, the other registrant's image
// included (its registrant, routing), which Get refuses; and showed the
// former holder's registrar the new holder's image alike. Each reader sees
// only the images it may read.
TEST_F(ServerTest, AuditShowsNoImageTheReaderMayNotRead) {
  StartServer();
  ASSERT_TRUE(AdminBatch("admin", RegistrarObjects()).ok());
  const std::string number = "+12025550123";  // In the registrar's holding.
  lufd::v1::RegistryObject stale;
  stale.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  stale.mutable_identifier()->set_value(number);
  stale.mutable_identifier()->set_registrant_id("iana-en:999");
  ASSERT_TRUE(AdminBatch("admin", {OrgObject("iana-en:999",
                                             {lufd::v1::ORG_ROLE_REGISTRANT}),
                                   stale})
                  .ok());
  auto stub = lufd::v1::AdminService::NewStub(Channel("registrar-ssp1"));
  ASSERT_EQ(
      GetCode(stub.get(), lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:" + number),
      grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status put = AdminBatch("registrar-ssp1", NumberObjects("1", number));
  ASSERT_TRUE(put.ok()) << put.error_message();

  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  lufd::v1::AuditRequest request;
  request.set_key("tn:" + number);
  auto reader = stub->Audit(&ctx, request);
  lufd::v1::Change change;
  int seen = 0;
  while (reader->Read(&change) && seen < 100) {
    ++seen;
    EXPECT_NE(change.before().identifier().registrant_id(), "iana-en:999")
        << change.ShortDebugString();
    EXPECT_NE(change.after().identifier().registrant_id(), "iana-en:999")
        << change.ShortDebugString();
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(seen, 1);  // The registrar's own put, without the old image.
}

// Export decides what a registrar may read from the same view it streams:
// a SED group that changes owner while the export runs does not make the
// exported snapshot lose the group's offer.
TEST_F(ServerTest, ExportFiltersAgainstTheViewItStreams) {
  StartServer();
  std::vector<lufd::v1::RegistryObject> objects = RegistrarObjects();
  objects.push_back(OrgObject(
      "iana-en:202", {lufd::v1::ORG_ROLE_PEER, lufd::v1::ORG_ROLE_REGISTRANT}));
  for (auto& o : NumberObjects("1", kNumber)) objects.push_back(o);
  // sg1 (the registrant's) offered to org 202, which the registrar does not
  // manage: readable to the registrar only through sg1's owner.
  lufd::v1::RegistryObject offer;
  offer.mutable_offer()->set_sed_group_id("sg1");
  offer.mutable_offer()->set_peer_org_id("iana-en:202");
  objects.push_back(offer);
  // ~1 MB of SED records streamed before the offers: far more than the
  // HTTP/2 windows, so the export blocks on the client mid-way.
  for (int i = 0; i < 4000; ++i) {
    lufd::v1::RegistryObject rec;
    auto* r = rec.mutable_sed_record();
    r->set_id(absl::StrCat("bulk", i));
    r->set_registrant_id(kPeerOrg);
    r->mutable_naptr()->set_order(10);
    r->mutable_naptr()->set_flags("U");
    r->mutable_naptr()->set_services("E2U+sip");
    r->mutable_naptr()->set_regexp(
        absl::StrCat("!^.*$!sip:", std::string(200, 'a'), i, "@example.com!"));
    objects.push_back(rec);
  }
  auto seeded =
      server_->registry()->Execute(Identity::LocalAdmin(), Puts(objects), "");
  ASSERT_TRUE(seeded.ok()) << seeded.status();

  auto stub = lufd::v1::AdminService::NewStub(
      ChannelTo(server_->address(), "registrar-ssp1", /*bdp_probe=*/false));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  lufd::v1::ExportRequest request;
  request.add_kinds(lufd::v1::OBJECT_KIND_SED_RECORD);
  request.add_kinds(lufd::v1::OBJECT_KIND_OFFER);
  auto exporter = stub->Export(&ctx, request);
  lufd::v1::RegistryObject object;
  ASSERT_TRUE(exporter->Read(&object));
  ASSERT_TRUE(object.has_sed_record());

  // Mid-export, sg1 moves to org 202: from now on the registrar may not
  // read sg1's offer, but the export's snapshot is from before.
  lufd::v1::RegistryObject moved = NumberObjects("1", kNumber)[2];
  moved.mutable_sed_group()->set_registrant_id("iana-en:202");
  auto written =
      server_->registry()->Execute(Identity::LocalAdmin(), Puts({moved}), "");
  ASSERT_TRUE(written.ok()) << written.status();

  int records = 1, offers = 0;
  while (exporter->Read(&object)) {
    if (object.has_sed_record()) ++records;
    if (object.has_offer()) ++offers;
  }
  ASSERT_TRUE(exporter->Finish().ok());
  EXPECT_EQ(records, 4001);
  EXPECT_EQ(offers, 1);
}

// Error messages quote at most ~100 bytes of any input: a 64 KiB key used to
// come back whole in the NOT_FOUND message and overflow the client's
// metadata limit (the client saw RESOURCE_EXHAUSTED).
TEST_F(ServerTest, HugeKeyGetsShortNotFound) {
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->set_max_message_bytes(1 << 20);
  });
  auto stub = lufd::v1::AdminService::NewStub(Channel("admin"));
  lufd::v1::ObjectRef ref;
  ref.set_kind(lufd::v1::OBJECT_KIND_DEST_GROUP);
  ref.set_key(std::string(64 * 1024, 'k'));
  auto expect_short_not_found = [](const grpc::Status& status) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
        << status.error_message().substr(0, 200);
    EXPECT_LT(status.error_message().size(), 200u);
    EXPECT_THAT(status.error_message(), HasSubstr("(65536 bytes)"));
  };
  grpc::ClientContext get_ctx;
  SetDeadline(&get_ctx);
  lufd::v1::GetRequest get;
  *get.mutable_ref() = ref;
  lufd::v1::RegistryObject object;
  expect_short_not_found(stub->Get(&get_ctx, get, &object));
  grpc::ClientContext delete_ctx;
  SetDeadline(&delete_ctx);
  lufd::v1::DeleteRequest del;
  *del.mutable_ref() = ref;
  lufd::v1::WriteResponse written;
  expect_short_not_found(stub->Delete(&delete_ctx, del, &written));
}

// client_txn_id is stored in the change log and printed one change per line
// by `lufctl audit`: it is capped and must be printable ASCII.
TEST_F(ServerTest, ClientTxnIdIsValidated) {
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->set_max_message_bytes(1 << 20);
  });
  auto stub = lufd::v1::AdminService::NewStub(Channel("admin"));
  auto put = [&](const std::string& txn_id) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    lufd::v1::PutRequest request;
    *request.mutable_object() = NumberObjects("1", kNumber)[0];
    request.set_client_txn_id(txn_id);
    lufd::v1::WriteResponse response;
    return stub->Put(&ctx, request, &response);
  };
  for (const std::string& bad :
       {std::string(64 * 1024, 't'), std::string(129, 't'),
        std::string("t-1\nforged audit line"), std::string("t\x01")}) {
    grpc::Status status = put(bad);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << bad.substr(0, 20);
    EXPECT_THAT(status.error_message(), HasSubstr("client_txn_id"));
  }
  EXPECT_TRUE(put(std::string(128, 't')).ok());
  EXPECT_TRUE(put("t-1 (ok)").ok());
  EXPECT_TRUE(put("").ok());
}

// Waits (bounded) for `tag` on `cq`; returns the event's ok bit, false on
// timeout or another tag.
bool AwaitTag(grpc::CompletionQueue* cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  const auto status = cq->AsyncNext(
      &got, &ok, std::chrono::system_clock::now() + std::chrono::seconds(5));
  return status == grpc::CompletionQueue::GOT_EVENT && got == tag && ok;
}

std::string BufferBytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

// HealthCheckRequest{service} (field 1).
std::string HealthRequest(const std::string& service) {
  if (service.empty()) return std::string();
  return absl::StrCat(std::string(1, '\x0a'),
                      std::string(1, static_cast<char>(service.size())),
                      service);
}

TEST_F(ServerTest, HealthWatchTurnsNotServingWhenDraining) {
  StartServer();
  // grpc.health.v1.Health/Watch through a generic stub: Debian ships no
  // health .proto. HealthCheckResponse{status} is "\x08\x01" for SERVING and
  // "\x08\x02" for NOT_SERVING. The whole server ("") and each service.
  const std::vector<std::string> services = {"", "lufd.v1.LookupService",
                                             "lufd.v1.AdminService"};
  grpc::GenericStub stub(Channel("admin"));
  grpc::CompletionQueue cq;
  struct Watch {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
    grpc::ByteBuffer response;
    grpc::Status status;
    int tags[6];
  };
  std::vector<std::unique_ptr<Watch>> watches;
  for (const std::string& service : services) {
    auto w = std::make_unique<Watch>();
    SetDeadline(&w->ctx);
    w->call = stub.PrepareCall(&w->ctx, "/grpc.health.v1.Health/Watch", &cq);
    ASSERT_NE(w->call, nullptr);
    w->call->StartCall(&w->tags[0]);
    ASSERT_TRUE(AwaitTag(&cq, &w->tags[0]));
    grpc::Slice slice(HealthRequest(service));
    grpc::ByteBuffer request(&slice, 1);
    w->call->Write(request, &w->tags[1]);
    ASSERT_TRUE(AwaitTag(&cq, &w->tags[1]));
    w->call->Read(&w->response, &w->tags[2]);
    ASSERT_TRUE(AwaitTag(&cq, &w->tags[2]));
    EXPECT_EQ(BufferBytes(w->response), std::string("\x08\x01", 2))
        << "'" << service << "'";
    watches.push_back(std::move(w));
  }

  // The open Watches keep the drain going while we look.
  std::thread drain([&] { server_->Shutdown(absl::Seconds(3)); });
  std::vector<bool> got_update;
  for (auto& w : watches) {
    w->call->Read(&w->response, &w->tags[3]);
    got_update.push_back(AwaitTag(&cq, &w->tags[3]));
  }
  for (auto& w : watches) {
    w->ctx.TryCancel();
    w->call->Finish(&w->status, &w->tags[4]);
  }
  // Finish's tags may follow the failed reads'; drain the queue (bounded).
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  for (int i = 0; i < 30 && cq.Next(&tag, &ok); ++i) {
  }
  drain.join();
  for (size_t i = 0; i < services.size(); ++i) {
    ASSERT_TRUE(got_update[i]) << "'" << services[i] << "'";
    EXPECT_EQ(BufferBytes(watches[i]->response), std::string("\x08\x02", 2))
        << "'" << services[i] << "'";
  }
}

// Waits (bounded) for `tag` on `cq`, whatever its ok bit; false on timeout.
bool AwaitAnyTag(grpc::CompletionQueue* cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  const auto status = cq->AsyncNext(
      &got, &ok, std::chrono::system_clock::now() + std::chrono::seconds(5));
  return status == grpc::CompletionQueue::GOT_EVENT && got == tag;
}

// Sends `bytes` as the request of `method` ("/pkg.Service/Method") over
// `channel`, as a unary call or (server_streaming) a one-message stream,
// and returns the status.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& method, const std::string& bytes,
                     bool server_streaming) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::Status status(grpc::StatusCode::UNKNOWN, "no answer");
  int start = 0, write = 0, finish = 0;
  if (!server_streaming) {
    auto call = stub.PrepareUnaryCall(&ctx, method, request, &cq);
    call->StartCall();
    grpc::ByteBuffer response;
    call->Finish(&response, &status, &finish);
    EXPECT_TRUE(AwaitAnyTag(&cq, &finish)) << method;
  } else {
    auto call = stub.PrepareCall(&ctx, method, &cq);
    call->StartCall(&start);
    EXPECT_TRUE(AwaitAnyTag(&cq, &start)) << method;
    call->WriteLast(request, grpc::WriteOptions(), &write);
    EXPECT_TRUE(AwaitAnyTag(&cq, &write)) << method;
    call->Finish(&status, &finish);
    EXPECT_TRUE(AwaitAnyTag(&cq, &finish)) << method;
  }
  cq.Shutdown();
  void* got = nullptr;
  bool ok = false;
  for (int i = 0; i < 10 && cq.Next(&got, &ok); ++i) {
  }
  return status;
}

TEST_F(ServerTest, UndecodableRequestIsInvalidArgumentAndServerKeepsServing) {
  StartServer();
  // A field-1 tag with a length that runs past the end: no message at all.
  const std::string garbage(
      "\x0a\xff\xff\xff\x0f"
      "abc",
      8);
  // Well-formed protobuf whose proto3 string field is not valid UTF-8:
  // LookupRequest.query, GetRequest.ref.key, ExportRequest.registrant_id.
  const std::string bad_query("\x0a\x02\xff\xfe", 4);
  const std::string bad_key("\x0a\x06\x08\x01\x12\x02\xc3\x28", 8);
  const std::string bad_registrant("\x12\x03\x61\xff\x62", 5);
  struct Case {
    const char* cert;
    const char* method;
    std::string bytes;
    bool server_streaming;
  };
  const Case cases[] = {
      {"peer-ssp1", "/lufd.v1.LookupService/Lookup", garbage, false},
      {"peer-ssp1", "/lufd.v1.LookupService/Lookup", bad_query, false},
      {"admin", "/lufd.v1.AdminService/Get", garbage, false},
      {"admin", "/lufd.v1.AdminService/Get", bad_key, false},
      {"admin", "/lufd.v1.AdminService/Export", garbage, true},
      {"admin", "/lufd.v1.AdminService/Export", bad_registrant, true},
  };
  auto channel = Channel("peer-ssp1");
  for (const Case& c : cases) {
    grpc::Status status =
        RawCall(c.cert == std::string("admin") ? Channel("admin") : channel,
                c.method, c.bytes, c.server_streaming);
    // gRPC 1.51's sync server fails the parse before the handler runs and
    // would answer INTERNAL with an empty message.
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.method << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("could not be parsed"))
        << c.method;
    EXPECT_THAT(status.error_message(), HasSubstr(c.method));
  }

  // The next valid call, on the same connection, is served.
  auto lookup = lufd::v1::LookupService::NewStub(channel);
  grpc::ClientContext ctx2;
  SetDeadline(&ctx2);
  lufd::v1::LookupRequest valid;
  valid.set_query(kNumber);
  lufd::v1::LookupResponse answer;
  EXPECT_EQ(lookup->Lookup(&ctx2, valid, &answer).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// gRPC 1.51 ends an Import handler's read loop the same way for a chunk it
// cannot parse as for a clean end of stream: the open batch must not be
// committed on either, only on end_batch.
TEST_F(ServerTest, ImportCommitsNothingAfterAnUnparseableChunk) {
  StartServer();
  lufd::v1::ImportChunk first;
  *first.add_objects() = NumberObjects("1", kNumber)[0];  // dg1, no end.
  const std::string garbage(
      "\x0a\xff\xff\xff\x0f"
      "abc",
      8);
  grpc::GenericStub stub(Channel("admin"));
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status status(grpc::StatusCode::UNKNOWN, "no answer");
  int start = 0, write = 0, last = 0, finish = 0;
  auto call = stub.PrepareCall(&ctx, "/lufd.v1.AdminService/Import", &cq);
  call->StartCall(&start);
  ASSERT_TRUE(AwaitAnyTag(&cq, &start));
  // The server answers every chunk with its progress: read them, as a
  // client must for the stream to move.
  int read = 0;
  grpc::ByteBuffer response;
  auto read_ok = [&]() {
    call->Read(&response, &read);
    void* got = nullptr;
    bool ok = false;
    return cq.AsyncNext(
               &got, &ok,
               std::chrono::system_clock::now() + std::chrono::seconds(5)) ==
               grpc::CompletionQueue::GOT_EVENT &&
           got == &read && ok;
  };
  grpc::Slice valid_slice(first.SerializeAsString());
  grpc::ByteBuffer valid(&valid_slice, 1);
  call->Write(valid, &write);
  ASSERT_TRUE(AwaitAnyTag(&cq, &write));
  ASSERT_TRUE(read_ok());  // Progress: received 1, committed 0.
  grpc::Slice garbage_slice(garbage);
  grpc::ByteBuffer bad(&garbage_slice, 1);
  call->WriteLast(bad, grpc::WriteOptions(), &last);
  ASSERT_TRUE(AwaitAnyTag(&cq, &last));
  for (int i = 0; i < 10 && read_ok(); ++i) {
  }
  call->Finish(&status, &finish);
  ASSERT_TRUE(AwaitAnyTag(&cq, &finish));
  cq.Shutdown();
  void* got = nullptr;
  bool ok = false;
  for (int i = 0; i < 10 && cq.Next(&got, &ok); ++i) {
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("without end_batch"));

  // Nothing of the open batch was written, and the server still serves.
  auto admin = lufd::v1::AdminService::NewStub(Channel("admin"));
  EXPECT_EQ(GetCode(admin.get(), lufd::v1::OBJECT_KIND_DEST_GROUP, "dg1"),
            grpc::StatusCode::NOT_FOUND);
}

// Connects with raw OpenSSL and returns the SPKI hash of the certificate the
// server presents ("" on failure). Bounded by socket timeouts.
std::string PresentedServerSpki(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string spki;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    static const unsigned char kAlpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      X509* peer = SSL_get1_peer_certificate(ssl);
      if (peer != nullptr) {
        BIO* bio = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(bio, peer);
        char* data = nullptr;
        const long len = BIO_get_mem_data(bio, &data);
        auto info = InspectCertificatePem(absl::string_view(data, len));
        if (info.ok()) spki = info->spki_sha256;
        BIO_free(bio);
        X509_free(peer);
      }
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  ERR_clear_error();
  close(fd);
  return spki;
}

TEST_F(ServerTest, RotatedServerCertificateIsPresented) {
  StartServer();
  const std::string old_spki(
      absl::StripAsciiWhitespace(ReadFile(P("server.spki"))));
  const std::string new_spki(absl::StripAsciiWhitespace(
      ReadFile(absl::StrCat(*pki2, "/server.spki"))));
  ASSERT_NE(old_spki, new_spki);
  EXPECT_EQ(PresentedServerSpki(server_->port()), old_spki);

  WriteFileAtomically(Dir("server.key"),
                      ReadFile(absl::StrCat(*pki2, "/server.key")));
  WriteFileAtomically(Dir("server.pem"),
                      ReadFile(absl::StrCat(*pki2, "/server.pem")));
  EXPECT_TRUE(Eventually(absl::Seconds(5), [&] {
    return PresentedServerSpki(server_->port()) == new_spki;
  }));
}

TEST_F(ServerTest, InspectCertificateReadsSpkiAndSans) {
  auto info = InspectCertificatePem(ReadFile(P("peer-ssp1.pem")));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->spki_sha256,
            absl::StripAsciiWhitespace(ReadFile(P("peer-ssp1.spki"))));
  EXPECT_THAT(info->san_uris, ::testing::ElementsAre("urn:lufd:peer:ssp1"));
  EXPECT_FALSE(InspectCertificatePem("not a cert").ok());
}

// The lufd binary, as a child process.
class LufdProcess {
 public:
  // Starts `lufd --config <config> --port-file <dir>/port`, stderr to
  // <dir>/lufd.log.
  LufdProcess(const std::string& dir, const std::string& config)
      : port_file_(dir + "/port"), log_file_(dir + "/lufd.log") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_file_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> args = {LUFD_BINARY, "--config", config,
                                     "--port-file", port_file_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, LUFD_BINARY, &actions, nullptr, argv.data(),
                    environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~LufdProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // The port from the port file, or 0 if it did not appear in time or the
  // process exited first.
  int WaitForPort(absl::Duration timeout) {
    int port = 0;
    Eventually(timeout, [&] {
      if (TryWait().has_value()) return true;  // Exited: no port will come.
      std::ifstream in(port_file_);
      return in >> port && port > 0;
    });
    return exited_ ? 0 : port;
  }

  // The exit code once the process has exited (-1 if killed by a signal),
  // nullopt if still running after `timeout`.
  std::optional<int> WaitForExit(absl::Duration timeout) {
    std::optional<int> code;
    Eventually(timeout, [&] { return (code = TryWait()).has_value(); });
    return code;
  }

  void Signal(int sig) { kill(pid_, sig); }
  pid_t pid() const { return pid_; }
  std::string Log() const { return ReadFile(log_file_); }
  bool started() const { return pid_ > 0; }

 private:
  std::optional<int> TryWait() {
    if (exited_) return exit_code_;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }

  std::string port_file_;
  std::string log_file_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

std::string ProcessConfigYaml(const std::string& dir, const std::string& url,
                              bool migrate) {
  return absl::StrCat(
      "grpc:\n  listen: \"127.0.0.1:0\"\n  tls:\n    cert_file: ", dir,
      "/server.pem\n    key_file: ", dir,
      "/server.key\n    client_ca_file: ", *pki, "/ca.pem\nstore:\n  url: \"",
      url, "\"\n  migrate_on_start: ", migrate ? "true" : "false",
      "\nlog:\n  level: debug\n  format: json\ndrain_timeout: 2s\n");
}

// Provisions a migrated SQLite registry with the seed credentials, the way
// lufctl would with direct database access.
void SeedSqlite(const std::string& url,
                std::vector<lufd::v1::RegistryObject> objects) {
  auto store = Store::Open(url);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Migrate().ok());
  ViewHolder views;
  auto follower =
      ChangeFollower::Start(store->get(), &views, absl::Milliseconds(20));
  ASSERT_TRUE(follower.ok()) << follower.status();
  Registry registry(store->get(), &views, [&] { (*follower)->Nudge(); });
  auto seeded = registry.Execute(Identity::LocalAdmin(),
                                 Puts(std::move(objects)), "seed");
  ASSERT_TRUE(seeded.ok()) << seeded.status();
}

TEST_F(ServerTest, LufdBinaryServesSqliteAndDrainsOnSigterm) {
  const std::string url = absl::StrCat("sqlite:", dir_, "/registry.db");
  ASSERT_NO_FATAL_FAILURE(SeedSqlite(url, SeedObjects()));
  const std::string config = Dir("lufd.yaml");
  std::ofstream(config) << ProcessConfigYaml(dir_, url, /*migrate=*/false);

  LufdProcess lufd(dir_, config);
  ASSERT_TRUE(lufd.started());
  const int port = lufd.WaitForPort(absl::Seconds(20));
  ASSERT_GT(port, 0) << lufd.Log();

  auto stub = lufd::v1::AdminService::NewStub(
      ChannelTo(absl::StrCat("127.0.0.1:", port), "admin"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  lufd::v1::ServerInfo info;
  grpc::Status s = stub->GetServerInfo(&ctx, {}, &info);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << lufd.Log();
  EXPECT_EQ(info.store_backend(), "sqlite");
  EXPECT_EQ(info.caller_org_id(), kAdminOrg);
  EXPECT_GT(info.schema_version(), 0u);

  // A handshake without a client certificate: gRPC's own error log line.
  {
    auto peerless = lufd::v1::LookupService::NewStub(
        ChannelTo(absl::StrCat("127.0.0.1:", port), ""));
    grpc::ClientContext lookup_ctx;
    SetDeadline(&lookup_ctx);
    lufd::v1::LookupResponse response;
    EXPECT_EQ(peerless->Lookup(&lookup_ctx, {}, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }

  lufd.Signal(SIGTERM);
  EXPECT_EQ(lufd.WaitForExit(absl::Seconds(10)), std::optional<int>(0));
  const std::string log = lufd.Log();
  EXPECT_THAT(
      log, HasSubstr(absl::StrCat("serving on 127.0.0.1:", port, " (serial ")));
  EXPECT_THAT(log, HasSubstr("backend sqlite"));
  // JSON lines only (gRPC's own lines included), with the per-RPC line.
  std::istringstream lines(log);
  std::string line;
  int n = 0;
  while (std::getline(lines, line) && n < 10000) {
    ++n;
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":\"") &&
                absl::EndsWith(line, "\"}"))
        << line;
  }
  EXPECT_GT(n, 3);
  EXPECT_THAT(log, HasSubstr("peer did not return a certificate"));
  EXPECT_THAT(log, HasSubstr("rpc GetServerInfo caller=iana-en:100/admin1 "
                             "code=OK latency_ms="));
}

// SIGTERM: a call in flight finishes normally, new connections are refused,
// and the process exits 0 within drain_timeout (2s in ProcessConfigYaml).
TEST_F(ServerTest, SigtermLetsInFlightStreamFinishAndRefusesNewConnections) {
  const std::string url = absl::StrCat("sqlite:", dir_, "/registry.db");
  ASSERT_NO_FATAL_FAILURE(SeedSqlite(url, SeedObjects()));
  const std::string config = Dir("lufd.yaml");
  std::ofstream(config) << ProcessConfigYaml(dir_, url, /*migrate=*/false);
  LufdProcess lufd(dir_, config);
  ASSERT_TRUE(lufd.started());
  const int port = lufd.WaitForPort(absl::Seconds(20));
  ASSERT_GT(port, 0) << lufd.Log();
  const std::string address = absl::StrCat("127.0.0.1:", port);

  // A BatchLookup stream, mid-way: one query answered, more to come.
  auto stub = lufd::v1::LookupService::NewStub(ChannelTo(address, "peer-ssp1"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  auto stream = stub->BatchLookup(&ctx);
  lufd::v1::LookupRequest request;
  request.set_query(kNumber);
  request.set_request_id("before");
  lufd::v1::LookupResponse response;
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response)) << lufd.Log();
  EXPECT_EQ(response.request_id(), "before");

  const absl::Time signalled = absl::Now();
  lufd.Signal(SIGTERM);
  ASSERT_TRUE(Eventually(absl::Seconds(5), [&] {
    return absl::StrContains(lufd.Log(), "draining for up to");
  })) << lufd.Log();

  // A new connection is refused while the old stream is still open.
  {
    auto fresh =
        lufd::v1::LookupService::NewStub(ChannelTo(address, "peer-ssp1"));
    grpc::ClientContext fresh_ctx;
    fresh_ctx.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(1));
    lufd::v1::LookupRequest fresh_request;
    fresh_request.set_query(kNumber);
    lufd::v1::LookupResponse fresh_response;
    grpc::Status s = fresh->Lookup(&fresh_ctx, fresh_request, &fresh_response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << s.error_message();
  }

  // The in-flight stream carries on and ends cleanly.
  request.set_request_id("after");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.request_id(), "after");
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();

  EXPECT_EQ(lufd.WaitForExit(absl::Seconds(2) + absl::Seconds(3)),
            std::optional<int>(0))
      << lufd.Log();
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(2) + absl::Seconds(3));
  EXPECT_THAT(lufd.Log(), HasSubstr("stopped"));
}

TEST_F(ServerTest, LufdBinaryRefusesUnmigratedStore) {
  const std::string url = absl::StrCat("sqlite:", dir_, "/empty.db");
  const std::string config = Dir("lufd.yaml");
  std::ofstream(config) << ProcessConfigYaml(dir_, url, /*migrate=*/false);
  LufdProcess lufd(dir_, config);
  ASSERT_TRUE(lufd.started());
  EXPECT_EQ(lufd.WaitForExit(absl::Seconds(20)), std::optional<int>(1));
  EXPECT_THAT(lufd.Log(), HasSubstr("schema is not current"));
}

// Issue 8 §2: a number (TN, range or prefix) that exists but that the
// caller may not see is answered exactly like one that does not exist, by
// Lookup and by BatchLookup: same status, message, metadata and response
// bytes (the view resolves both by the same path: view_same_path_test).
TEST_F(ServerTest, InvisibleAndUnknownNumbersAnswerAlike) {
  StartServer();
  // SSP2's TN, range and prefix on a SED group that is neither public nor
  // offered to peer-ssp1's org.
  std::vector<lufd::v1::RegistryObject> objects =
      NumberObjects("-hidden", "+12025551111");
  for (auto& o : objects) {
    if (o.has_dest_group())
      o.mutable_dest_group()->set_registrant_id("iana-en:222");
    if (o.has_sed_record())
      o.mutable_sed_record()->set_registrant_id("iana-en:222");
    if (o.has_sed_group()) {
      o.mutable_sed_group()->set_registrant_id("iana-en:222");
      o.mutable_sed_group()->set_public_(false);
    }
    if (o.has_identifier())
      o.mutable_identifier()->set_registrant_id("iana-en:222");
  }
  lufd::v1::RegistryObject range = objects.back();
  range.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_TN_RANGE);
  range.mutable_identifier()->set_value("+12026660000");
  range.mutable_identifier()->set_range_end("+12026669999");
  lufd::v1::RegistryObject prefix = objects.back();
  prefix.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_TN_PREFIX);
  prefix.mutable_identifier()->set_value("+1202777");
  objects.push_back(range);
  objects.push_back(prefix);
  objects.insert(objects.begin(),
                 OrgObject("iana-en:222", {lufd::v1::ORG_ROLE_REGISTRANT}));
  auto written = server_->registry()->Execute(Identity::LocalAdmin(),
                                              Puts(objects), "hidden");
  ASSERT_TRUE(written.ok()) << written.status();
  // The admin sees them: they exist.
  for (const char* n : {"+12025551111", "+12026661234", "+12027771234"}) {
    lufd::v1::LookupResponse found;
    ASSERT_TRUE(Lookup("admin", n, &found).ok()) << n;
    EXPECT_TRUE(found.found()) << n;
  }

  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  // Everything the caller gets back from one unary Lookup, as text.
  auto unary = [&](const std::string& query) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    lufd::v1::LookupRequest request;
    request.set_query(query);
    request.set_request_id("r");
    lufd::v1::LookupResponse response;
    grpc::Status s = stub->Lookup(&ctx, request, &response);
    std::string out =
        absl::StrCat(s.error_code(), "|", s.error_message(), "|",
                     s.error_details(), "|", response.SerializeAsString());
    for (const auto& [k, v] : ctx.GetServerInitialMetadata()) {
      absl::StrAppend(&out, "|i:", std::string(k.data(), k.size()), "=",
                      std::string(v.data(), v.size()));
    }
    for (const auto& [k, v] : ctx.GetServerTrailingMetadata()) {
      absl::StrAppend(&out, "|t:", std::string(k.data(), k.size()), "=",
                      std::string(v.data(), v.size()));
    }
    return out;
  };
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"+12025551111", "+12035551111"},   // TN
      {"+12026661234", "+12036661234"},   // range
      {"+12027771234", "+12037771234"}};  // prefix
  for (const auto& [invisible, unknown] : pairs) {
    EXPECT_EQ(unary(invisible), unary(unknown)) << invisible;
    EXPECT_THAT(unary(invisible), HasSubstr("no SED for this query"));
  }

  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  auto stream = stub->BatchLookup(&ctx);
  for (const auto& [invisible, unknown] : pairs) {
    for (const std::string& q : {invisible, unknown}) {
      lufd::v1::LookupRequest request;
      request.set_query(q);
      request.set_request_id("r");
      ASSERT_TRUE(stream->Write(request));
    }
  }
  stream->WritesDone();
  std::vector<std::string> answers;
  lufd::v1::LookupResponse response;
  while (answers.size() < 10 && stream->Read(&response)) {
    answers.push_back(response.SerializeAsString());
  }
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(answers.size(), 2 * pairs.size());
  for (size_t i = 0; i < answers.size(); i += 2) {
    EXPECT_EQ(answers[i], answers[i + 1]) << pairs[i / 2].first;
  }
}

// ---- Side doors: health and reflection --------------------------------------

// grpc.health.v1.Health/Check of `service`; the status, and the response's
// serving status in `serving` (1 SERVING, 2 NOT_SERVING; 0 if none).
grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& service, int* serving) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice slice(HealthRequest(service));
  grpc::ByteBuffer request(&slice, 1);
  grpc::Status status(grpc::StatusCode::UNKNOWN, "no answer");
  auto call =
      stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  int finish = 0;
  call->Finish(&response, &status, &finish);
  EXPECT_TRUE(AwaitAnyTag(&cq, &finish));
  cq.Shutdown();
  void* got = nullptr;
  bool ok = false;
  for (int i = 0; i < 10 && cq.Next(&got, &ok); ++i) {
  }
  const std::string bytes = BufferBytes(response);
  *serving = bytes.size() == 2 && bytes[0] == '\x08' ? bytes[1] : 0;
  return status;
}

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// One list_services exchange on a reflection stream: OK with the response
// bytes in `bytes`, or the status the stream ended with.
grpc::Status ReflectionList(const std::shared_ptr<grpc::Channel>& channel,
                            std::string* bytes) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto call = stub.PrepareCall(&ctx, kReflectionMethod, &cq);
  int tags[4];
  call->StartCall(&tags[0]);
  EXPECT_TRUE(AwaitAnyTag(&cq, &tags[0]));
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  call->WriteLast(request, grpc::WriteOptions(), &tags[1]);
  EXPECT_TRUE(AwaitAnyTag(&cq, &tags[1]));
  grpc::ByteBuffer response;
  call->Read(&response, &tags[2]);
  const bool got_response = AwaitTag(&cq, &tags[2]);
  if (got_response) *bytes = BufferBytes(response);
  grpc::Status status;
  if (got_response) ctx.TryCancel();
  call->Finish(&status, &tags[3]);
  cq.Shutdown();
  void* got = nullptr;
  bool ok = false;
  for (int i = 0; i < 10 && cq.Next(&got, &ok); ++i) {
  }
  return got_response ? grpc::Status::OK : status;
}

TEST_F(ServerTest, HealthAnswersPerService) {
  StartServer();
  for (const std::string& who : {"admin", "peer-ssp1"}) {
    for (const std::string& service :
         {"", "lufd.v1.LookupService", "lufd.v1.AdminService"}) {
      int serving = 0;
      grpc::Status s = HealthCheck(Channel(who), service, &serving);
      EXPECT_TRUE(s.ok()) << who << " '" << service << "': " << s.error_code()
                          << " " << s.error_message();
      EXPECT_EQ(serving, 1) << who << " '" << service << "'";
    }
  }
  int serving = 0;
  EXPECT_EQ(
      HealthCheck(Channel("admin"), "no.such.Service", &serving).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, SideDoorsCheckIdentityLikeEveryRpc) {
  StartServer(P("crl.pem"), [](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->set_reflection(true);
  });
  int serving = 0;
  std::string bytes;
  // Control: the unrevoked peer certificate passes health.
  EXPECT_TRUE(HealthCheck(Channel("peer-ssp1"), "", &serving).ok());
  // Revoked (CRL), unregistered, disabled: refused before any handler.
  grpc::Status s = HealthCheck(Channel("revoked"), "", &serving);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << s.error_message();
  EXPECT_EQ(s.error_message(), "certificate revoked");
  EXPECT_EQ(serving, 0);
  s = ReflectionList(Channel("revoked"), &bytes);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << s.error_message();
  EXPECT_THAT(bytes, Not(HasSubstr("AdminService")));
  EXPECT_EQ(HealthCheck(Channel("registrar-ssp1"), "", &serving).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Watch (server streaming) as well.
  EXPECT_EQ(RawCall(Channel("revoked"), "/grpc.health.v1.Health/Watch", "",
                    /*server_streaming=*/true)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Any path no service serves.
  EXPECT_EQ(RawCall(Channel("revoked"), "/no.such.Service/Method", "", false)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(RawCall(Channel("peer-ssp1"), "/no.such.Service/Method", "", false)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);

  auto disabled = server_->registry()->Execute(
      Identity::LocalAdmin(), Puts({PeerCredential(/*disabled=*/true)}),
      "disable");
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  EXPECT_TRUE(Eventually([&] {
    return HealthCheck(Channel("peer-ssp1"), "", &serving).error_code() ==
           grpc::StatusCode::UNAUTHENTICATED;
  }));
}

TEST_F(ServerTest, ReflectionIsOffByDefaultAndForAdminsOnly) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::string bytes;
  // Default: not served at all.
  EXPECT_EQ(ReflectionList(Channel("admin"), &bytes).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(ReflectionList(Channel("peer-ssp1"), &bytes).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(bytes.empty());
  server_->Shutdown(absl::ZeroDuration());
  server_.reset();

  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->set_reflection(true);
  });
  ASSERT_TRUE(server_->registry()
                  ->Execute(Identity::LocalAdmin(), Puts(RegistrarObjects()),
                            "registrar")
                  .ok());
  for (const std::string& who : {"peer-ssp1", "registrar-ssp1"}) {
    grpc::Status s = ReflectionList(Channel(who), &bytes);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << who << ": " << s.error_message();
    EXPECT_TRUE(bytes.empty()) << who;
  }
  // ServerReflectionRequest{list_services: ""} (field 7) lists them all.
  grpc::Status s = ReflectionList(Channel("admin"), &bytes);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_THAT(bytes, HasSubstr("lufd.v1.LookupService"));
  EXPECT_THAT(bytes, HasSubstr("lufd.v1.AdminService"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
}

TEST_F(ServerTest, IdleReflectionStreamIsBoundedByMaxDeadline) {
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->set_reflection(true);
    config->mutable_grpc()->set_max_deadline("1s");
  });
  // An admin's reflection stream, no client deadline, idle after one
  // exchange: the server ends it after about 1 s.
  grpc::GenericStub stub(Channel("admin"));
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  auto call = stub.PrepareCall(&ctx, kReflectionMethod, &cq);
  int tags[4];
  call->StartCall(&tags[0]);
  ASSERT_TRUE(AwaitTag(&cq, &tags[0]));
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, &tags[1]);
  ASSERT_TRUE(AwaitTag(&cq, &tags[1]));
  grpc::ByteBuffer response;
  call->Read(&response, &tags[2]);
  ASSERT_TRUE(AwaitTag(&cq, &tags[2]));
  const absl::Time idle_from = absl::Now();
  call->Read(&response, &tags[3]);
  void* got = nullptr;
  bool ok = true;
  const auto next = cq.AsyncNext(
      &got, &ok, std::chrono::system_clock::now() + std::chrono::seconds(10));
  const absl::Duration idle = absl::Now() - idle_from;
  EXPECT_EQ(next, grpc::CompletionQueue::GOT_EVENT);
  EXPECT_EQ(got, &tags[3]);
  EXPECT_FALSE(ok);  // The stream ended: no second response.
  EXPECT_GE(idle, absl::Milliseconds(900));
  EXPECT_LT(idle, absl::Seconds(3)) << idle;
  ctx.TryCancel();
  grpc::Status status;
  int finish = 0;
  call->Finish(&status, &finish);
  cq.Shutdown();
  for (int i = 0; i < 10 && cq.Next(&got, &ok); ++i) {
  }
  EXPECT_TRUE(Lookup("admin", kNumber).error_code() !=
              grpc::StatusCode::UNAVAILABLE);
}

int ProcessThreads(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    int n = 0;
    if (absl::StartsWith(line, "Threads:") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(8)), &n)) {
      return n;
    }
  }
  return -1;
}

// One async generic (reflection) stream of a test, with its state.
struct AsyncGenericStream {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
  grpc::ByteBuffer response;
  grpc::Status status;
};

// 50 reflection streams from a revoked certificate against the lufd binary
// (reflection on, CRL configured) are refused at once and hold no server
// thread; a legitimate call is served meanwhile.
TEST_F(ServerTest, RevokedReflectionFloodHoldsNoThreads) {
  const std::string url = absl::StrCat("sqlite:", dir_, "/registry.db");
  ASSERT_NO_FATAL_FAILURE(SeedSqlite(url, SeedObjects()));
  const std::string config = Dir("lufd.yaml");
  std::ofstream(config) << absl::StrCat(
      "grpc:\n  listen: \"127.0.0.1:0\"\n  reflection: true\n"
      "  tls:\n    cert_file: ",
      dir_, "/server.pem\n    key_file: ", dir_,
      "/server.key\n    client_ca_file: ", *pki,
      "/ca.pem\n    crl_file: ", *pki, "/crl.pem\nstore:\n  url: \"", url,
      "\"\nlog:\n  level: warn\ndrain_timeout: 1s\n");
  LufdProcess lufd(dir_, config);
  ASSERT_TRUE(lufd.started());
  const int port = lufd.WaitForPort(absl::Seconds(20));
  ASSERT_GT(port, 0) << lufd.Log();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  {
    int serving = 0;
    ASSERT_TRUE(HealthCheck(ChannelTo(address, "admin"), "", &serving).ok())
        << lufd.Log();
  }
  absl::SleepFor(absl::Milliseconds(300));
  const int threads_before = ProcessThreads(lufd.pid());

  constexpr int kStreams = 50;
  auto channel = ChannelTo(address, "revoked");
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  using Stream = AsyncGenericStream;
  std::vector<std::unique_ptr<Stream>> streams;
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  // Tags: 3 per stream (start, write, read).
  for (int i = 0; i < kStreams; ++i) {
    auto stream = std::make_unique<Stream>();
    stream->ctx.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(20));
    stream->call = stub.PrepareCall(&stream->ctx, kReflectionMethod, &cq);
    stream->call->StartCall(reinterpret_cast<void*>(3 * i + 1));
    streams.push_back(std::move(stream));
  }
  // Each phase for all streams at once: start, send list_services (the
  // stream stays open: no WritesDone), read the answer.
  std::vector<bool> read_ok(kStreams, false);
  auto await_all = [&](int base) {
    int ok_count = 0;
    const auto until =
        std::chrono::system_clock::now() + std::chrono::seconds(10);
    for (int n = 0; n < kStreams; ++n) {
      void* tag = nullptr;
      bool ok = false;
      if (cq.AsyncNext(&tag, &ok, until) != grpc::CompletionQueue::GOT_EVENT) {
        break;
      }
      const intptr_t t = reinterpret_cast<intptr_t>(tag);
      EXPECT_EQ((t - 1) % 3, base) << t;
      if (ok) ++ok_count;
      if (ok && base == 2) read_ok[(t - 1) / 3] = true;
    }
    return ok_count;
  };
  await_all(0);
  for (int i = 0; i < kStreams; ++i) {
    streams[i]->call->Write(request, reinterpret_cast<void*>(3 * i + 2));
  }
  await_all(1);
  for (int i = 0; i < kStreams; ++i) {
    streams[i]->call->Read(&streams[i]->response,
                           reinterpret_cast<void*>(3 * i + 3));
  }
  const int responses = await_all(2);
  // All streams started and were answered (or refused); held open now.
  absl::SleepFor(absl::Milliseconds(500));
  const int threads_during = ProcessThreads(lufd.pid());
  const absl::Time legit_start = absl::Now();
  int serving = 0;
  grpc::Status legit = HealthCheck(ChannelTo(address, "admin"), "", &serving);
  const absl::Duration legit_latency = absl::Now() - legit_start;

  // A stream that answered is still open: cancel it. The others ended with
  // the server's status.
  for (int i = 0; i < kStreams; ++i) {
    if (read_ok[i]) streams[i]->ctx.TryCancel();
  }
  std::vector<grpc::Status> statuses(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    streams[i]->call->Finish(&statuses[i], reinterpret_cast<void*>(1000 + i));
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  int unauthenticated = 0;
  for (const grpc::Status& st : statuses) {
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      ++unauthenticated;
    }
  }
  std::cout << "[ flood    ] " << kStreams
            << " revoked reflection streams: threads before=" << threads_before
            << " during=" << threads_during << ", responses=" << responses
            << ", UNAUTHENTICATED=" << unauthenticated
            << ", legit health call took "
            << absl::FormatDuration(legit_latency) << std::endl;
  EXPECT_EQ(responses, 0);
  EXPECT_EQ(unauthenticated, kStreams);
  EXPECT_LT(threads_during - threads_before, 10);
  EXPECT_TRUE(legit.ok()) << legit.error_message();
  EXPECT_LT(legit_latency, absl::Seconds(2));

  // Health Watch streams are legitimately long-lived, so they get no idle
  // bound; gRPC serves them with a callback reactor that holds no thread.
  // 50 open Watches of a registered admin:
  grpc::GenericStub admin_stub(ChannelTo(address, "admin"));
  grpc::CompletionQueue watch_cq;
  std::vector<std::unique_ptr<Stream>> watches;
  grpc::Slice empty;
  grpc::ByteBuffer watch_request(&empty, 1);
  for (int i = 0; i < kStreams; ++i) {
    auto w = std::make_unique<Stream>();
    w->ctx.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(20));
    w->call = admin_stub.PrepareCall(&w->ctx, "/grpc.health.v1.Health/Watch",
                                     &watch_cq);
    w->call->StartCall(reinterpret_cast<void*>(1));
    watches.push_back(std::move(w));
  }
  // One phase at a time for all streams (one pending op of a kind each).
  const auto watch_until =
      std::chrono::system_clock::now() + std::chrono::seconds(10);
  auto await_watches = [&] {
    int ok_count = 0;
    for (int n = 0; n < kStreams; ++n) {
      void* t = nullptr;
      bool t_ok = false;
      if (watch_cq.AsyncNext(&t, &t_ok, watch_until) !=
          grpc::CompletionQueue::GOT_EVENT) {
        break;
      }
      if (t_ok) ++ok_count;
    }
    return ok_count;
  };
  await_watches();
  for (auto& w : watches) {
    w->call->Write(watch_request, reinterpret_cast<void*>(2));
  }
  await_watches();
  for (auto& w : watches) {
    w->call->Read(&w->response, reinterpret_cast<void*>(3));
  }
  const int watch_answers = await_watches();
  absl::SleepFor(absl::Milliseconds(300));
  const int threads_watching = ProcessThreads(lufd.pid());
  std::cout << "[ watch    ] " << kStreams
            << " open admin health Watch streams: threads=" << threads_watching
            << ", answered=" << watch_answers << std::endl;
  EXPECT_EQ(watch_answers, kStreams);
  EXPECT_LT(threads_watching - threads_before, 10);
  std::vector<grpc::Status> watch_statuses(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    watches[i]->ctx.TryCancel();
    watches[i]->call->Finish(&watch_statuses[i], reinterpret_cast<void*>(4));
  }
  watch_cq.Shutdown();
  while (watch_cq.Next(&tag, &ok)) {
  }
  lufd.Signal(SIGTERM);
  EXPECT_EQ(lufd.WaitForExit(absl::Seconds(10)), std::optional<int>(0));
}

// ---- The guard stage (server/guard/guard.h) ----

// Gives the peer org `quota` (as `lufctl org add ... --lookups-per-second`
// would) and makes every +1202555xxxx resolve for it (a public prefix).
void SetPeerQuotaAndPrefix(Registry* registry, const lufd::v1::Quota& quota) {
  lufd::v1::RegistryObject org = OrgObject(
      kPeerOrg, {lufd::v1::ORG_ROLE_PEER, lufd::v1::ORG_ROLE_REGISTRANT});
  *org.mutable_org()->mutable_quota() = quota;
  std::vector<lufd::v1::RegistryObject> objects =
      NumberObjects("p", "+1202555");
  objects.back().mutable_identifier()->set_kind(
      lufd::v1::IDENTIFIER_KIND_TN_PREFIX);
  objects.insert(objects.begin(), org);
  auto done =
      registry->Execute(Identity::LocalAdmin(), Puts(objects), "guard test");
  ASSERT_TRUE(done.ok()) << done.status();
}

grpc::Status LookupOn(lufd::v1::LookupService::Stub* stub,
                      const std::string& query,
                      std::string* retry_after_ms = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  lufd::v1::LookupRequest request;
  request.set_query(query);
  lufd::v1::LookupResponse response;
  grpc::Status status = stub->Lookup(&ctx, request, &response);
  if (retry_after_ms != nullptr) {
    auto it = ctx.GetServerTrailingMetadata().find("retry-after-ms");
    *retry_after_ms = it == ctx.GetServerTrailingMetadata().end()
                          ? ""
                          : std::string(it->second.data(), it->second.size());
  }
  return status;
}

std::string GuardNumber(int i) { return absl::StrCat("+1202555", 1000 + i); }

TEST_F(ServerTest, GuardRateLimitsAPeerAfterItsBurst) {
  StartServer();
  lufd::v1::Quota quota;
  quota.set_lookups_per_second(1);
  quota.set_burst(5);
  SetPeerQuotaAndPrefix(server_->registry(), quota);
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  const absl::Time start = absl::Now();
  int ok = 0;
  int first_denied = -1;
  std::string retry_after;
  grpc::Status denied;
  for (int i = 0; i < 20; ++i) {
    std::string retry;
    grpc::Status s = LookupOn(stub.get(), GuardNumber(0), &retry);
    if (s.ok()) {
      ++ok;
    } else {
      ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << s.error_message();
      if (first_denied < 0) {
        first_denied = i;
        denied = s;
        retry_after = retry;
      }
    }
  }
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  // The burst, then one a second at most.
  EXPECT_GE(first_denied, 5);
  EXPECT_LE(ok, 5 + static_cast<int>(elapsed) + 1) << elapsed << " s";
  EXPECT_THAT(denied.error_message(),
              ::testing::HasSubstr("lookup rate limit"));
  EXPECT_THAT(denied.error_message(), ::testing::HasSubstr("retry after"));
  int64_t retry_ms = -1;
  ASSERT_TRUE(absl::SimpleAtoi(retry_after, &retry_ms)) << retry_after;
  EXPECT_GT(retry_ms, 0);
  EXPECT_LE(retry_ms, 1000);

  // BatchLookup shares the bucket: the stream ends RESOURCE_EXHAUSTED.
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub->BatchLookup(&ctx);
    lufd::v1::LookupRequest request;
    request.set_query(GuardNumber(1));
    stream->Write(request);
    stream->WritesDone();
    lufd::v1::LookupResponse response;
    while (stream->Read(&response)) {
    }
    EXPECT_EQ(stream->Finish().error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }

  // Admins are not limited.
  auto admin = lufd::v1::LookupService::NewStub(Channel("admin"));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(LookupOn(admin.get(), GuardNumber(0)).ok()) << i;
  }

  // The denial audit records the refusals (through RpcRunner).
  ASSERT_TRUE(server_->denials()->Flush().ok());
  DenialQuery query;
  query.limit = 1000;
  absl::StatusOr<std::vector<DenialRecord>> rows =
      server_->denials()->List(query);
  ASSERT_TRUE(rows.ok()) << rows.status();
  uint64_t exhausted = 0;
  for (const DenialRecord& row : *rows) {
    if (row.code == static_cast<int>(absl::StatusCode::kResourceExhausted) &&
        (row.method == "Lookup" || row.method == "BatchLookup")) {
      exhausted += row.count;
    }
  }
  EXPECT_EQ(exhausted, static_cast<uint64_t>(20 - ok + 1));
  ASSERT_NE(server_->guard(), nullptr);
  std::optional<GuardCounters> counters =
      server_->guard()->Counters(GuardKey::Org(kPeerOrg));
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->denied[static_cast<int>(GuardRule::kRate)],
            static_cast<uint64_t>(20 - ok + 1));
}

TEST_F(ServerTest, GuardDisclosureBudgetBoundsDistinctNumbersLearned) {
  StartServer();
  lufd::v1::Quota quota;
  quota.set_distinct_numbers_per_day(10);
  SetPeerQuotaAndPrefix(server_->registry(), quota);
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  // Misses do not spend the budget.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(
        LookupOn(stub.get(), absl::StrCat("+4420794600", 10 + i)).error_code(),
        grpc::StatusCode::NOT_FOUND);
  }
  // A harvester scanning the block learns 10 numbers, then nothing more,
  // and cannot tell existing from nonexistent numbers any longer.
  int learned = 0;
  for (int i = 0; i < 100; ++i) {
    grpc::Status s = LookupOn(stub.get(), GuardNumber(i));
    if (s.ok()) {
      ++learned;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_THAT(s.error_message(), ::testing::HasSubstr("disclosure budget"));
    }
  }
  EXPECT_EQ(learned, 10);
  EXPECT_EQ(LookupOn(stub.get(), "+442079460099").error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Repeating the ten is free, unary and batched.
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(LookupOn(stub.get(), GuardNumber(i)).ok()) << round << i;
    }
  }
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  auto stream = stub->BatchLookup(&ctx);
  for (int i = 0; i < 11; ++i) {
    lufd::v1::LookupRequest request;
    request.set_query(GuardNumber(i < 10 ? i : 50));
    stream->Write(request);
  }
  stream->WritesDone();
  int found = 0;
  lufd::v1::LookupResponse response;
  while (stream->Read(&response)) found += response.found() ? 1 : 0;
  EXPECT_EQ(found, 10);
  EXPECT_EQ(stream->Finish().error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(ServerTest, GuardChargesAnInvisibleNumberLikeANonexistentOne) {
  StartServer();
  lufd::v1::Quota quota;
  quota.set_lookups_per_second(1);
  quota.set_burst(10);
  quota.set_miss_cost(5);
  SetPeerQuotaAndPrefix(server_->registry(), quota);
  // +13035550000 exists, in a private group of another org: invisible to
  // the peer.
  std::vector<lufd::v1::RegistryObject> hidden =
      NumberObjects("h", "+13035550000");
  hidden[0].mutable_dest_group()->set_registrant_id("iana-en:999");
  hidden[1].mutable_sed_record()->set_registrant_id("iana-en:999");
  hidden[2].mutable_sed_group()->set_registrant_id("iana-en:999");
  hidden[2].mutable_sed_group()->set_public_(false);
  hidden[3].mutable_identifier()->set_registrant_id("iana-en:999");
  hidden.insert(hidden.begin(),
                OrgObject("iana-en:999", {lufd::v1::ORG_ROLE_REGISTRANT}));
  auto done = server_->registry()->Execute(Identity::LocalAdmin(), Puts(hidden),
                                           "hidden");
  ASSERT_TRUE(done.ok()) << done.status();
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  // Both cost miss_cost (5): the bucket of 10 is spent by the two, so the
  // next lookup, even of a visible number, is refused. Were the invisible
  // number charged as a hit (1), 4 tokens would be left.
  EXPECT_EQ(LookupOn(stub.get(), "+13035550000").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(LookupOn(stub.get(), "+13035559999").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(LookupOn(stub.get(), GuardNumber(0)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  std::optional<GuardCounters> counters =
      server_->guard()->Counters(GuardKey::Org(kPeerOrg));
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->misses, 2u);
  EXPECT_EQ(counters->hits, 0u);
  // The hidden number does exist (an admin sees it).
  auto admin = lufd::v1::LookupService::NewStub(Channel("admin"));
  EXPECT_TRUE(LookupOn(admin.get(), "+13035550000").ok());
}

TEST_F(ServerTest, GuardDryRunDeniesNothing) {
  StartServer();
  lufd::v1::Quota quota;
  quota.set_lookups_per_second(1);
  quota.set_burst(1);
  quota.set_dry_run(true);
  SetPeerQuotaAndPrefix(server_->registry(), quota);
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(LookupOn(stub.get(), GuardNumber(0)).ok()) << i;
  }
  std::optional<GuardCounters> counters =
      server_->guard()->Counters(GuardKey::Org(kPeerOrg));
  ASSERT_TRUE(counters.has_value());
  EXPECT_GE(counters->dry_run[static_cast<int>(GuardRule::kRate)], 1u);
  EXPECT_EQ(counters->denied[static_cast<int>(GuardRule::kRate)], 0u);
}

TEST_F(ServerTest, GuardCanBeSwitchedOff) {
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_guard()->set_enabled(false);
  });
  lufd::v1::Quota quota;
  quota.set_lookups_per_second(1);
  quota.set_burst(1);
  SetPeerQuotaAndPrefix(server_->registry(), quota);
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(LookupOn(stub.get(), GuardNumber(0)).ok()) << i;
  }
  EXPECT_EQ(server_->guard(), nullptr);
}

// ---- The guard's admin RPCs (GuardStatus, ExplainGuard, Unblock) ----

grpc::Status ExplainOn(lufd::v1::AdminService::Stub* stub,
                       const std::string& identity,
                       lufd::v1::GuardIdentity* out) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  lufd::v1::ExplainGuardRequest request;
  request.set_identity(identity);
  return stub->ExplainGuard(&ctx, request, out);
}

grpc::Status GuardStatusOn(lufd::v1::AdminService::Stub* stub, bool only_denied,
                           lufd::v1::GuardStatusResponse* out) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  lufd::v1::GuardStatusRequest request;
  request.set_only_denied(only_denied);
  return stub->GuardStatus(&ctx, request, out);
}

grpc::Status UnblockOn(lufd::v1::AdminService::Stub* stub,
                       const std::string& identity,
                       lufd::v1::UnblockResponse* out) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  lufd::v1::UnblockRequest request;
  request.set_identity(identity);
  return stub->Unblock(&ctx, request, out);
}

uint64_t RuleDenied(const lufd::v1::GuardIdentity& g, const std::string& rule) {
  for (const lufd::v1::GuardRuleCount& r : g.rules()) {
    if (r.rule() == rule) return r.denied();
  }
  ADD_FAILURE() << "no rule " << rule;
  return 0;
}

TEST_F(ServerTest, GuardRpcsAreAdminOnly) {
  StartServer();
  ASSERT_TRUE(AdminBatch("admin", RegistrarObjects()).ok());
  for (const char* cert : {"peer-ssp1", "registrar-ssp1"}) {
    auto stub = lufd::v1::AdminService::NewStub(Channel(cert));
    lufd::v1::GuardStatusResponse status;
    EXPECT_EQ(GuardStatusOn(stub.get(), false, &status).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << cert;
    lufd::v1::GuardIdentity explained;
    EXPECT_EQ(ExplainOn(stub.get(), absl::StrCat("org ", kPeerOrg), &explained)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << cert;
    lufd::v1::UnblockResponse unblocked;
    EXPECT_EQ(UnblockOn(stub.get(), kPeerOrg, &unblocked).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << cert;
  }
}

TEST_F(ServerTest, GuardExplainNamesUnknownAndMalformedIdentities) {
  StartServer();
  auto admin = lufd::v1::AdminService::NewStub(Channel("admin"));
  lufd::v1::GuardIdentity g;
  grpc::Status s = ExplainOn(admin.get(), "org iana-en:999", &g);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  for (const char* prefix : {"prefix 192.0.2.0/24", "2001:db8::/56"}) {
    s = ExplainOn(admin.get(), prefix, &g);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND)
        << prefix << ": " << s.error_message();
  }
  lufd::v1::UnblockResponse unblocked;
  EXPECT_EQ(UnblockOn(admin.get(), "org iana-en:999", &unblocked).error_code(),
            grpc::StatusCode::NOT_FOUND);
  for (const char* bad :
       {"", "prefix 300.1.2.3/24", "prefix 192.0.2.0", "bogus a b"}) {
    s = ExplainOn(admin.get(), bad, &g);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "'" << bad << "': " << s.error_message();
    EXPECT_EQ(UnblockOn(admin.get(), bad, &unblocked).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
  }
}

TEST_F(ServerTest, GuardStatusAndExplainShowARefusal) {
  StartServer();
  lufd::v1::Quota quota;
  quota.set_lookups_per_second(1);
  quota.set_burst(2);
  SetPeerQuotaAndPrefix(server_->registry(), quota);
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  auto admin = lufd::v1::AdminService::NewStub(Channel("admin"));
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    if (LookupOn(stub.get(), GuardNumber(0)).error_code() ==
        grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
    }
  }
  ASSERT_GE(refused, 1);

  lufd::v1::GuardStatusResponse status;
  ASSERT_TRUE(GuardStatusOn(admin.get(), true, &status).ok());
  ASSERT_EQ(status.identities_size(), 1) << status.DebugString();
  EXPECT_EQ(status.identities(0).identity(), absl::StrCat("org ", kPeerOrg));
  EXPECT_EQ(status.tracked(), 1u);  // Admins are not charged.
  EXPECT_GT(status.now_unix_micros(), 0);
  EXPECT_EQ(status.identities(0).denied_total(),
            static_cast<uint64_t>(refused));

  // Both spellings of the org name the same identity.
  for (const std::string& name :
       {absl::StrCat("org ", kPeerOrg), std::string(kPeerOrg)}) {
    lufd::v1::GuardIdentity g;
    grpc::Status s = ExplainOn(admin.get(), name, &g);
    ASSERT_TRUE(s.ok()) << name << ": " << s.error_message();
    EXPECT_EQ(g.kind(), "org");
    EXPECT_EQ(g.id(), kPeerOrg);
    EXPECT_EQ(g.limits().lookups_per_second(), 1u);
    EXPECT_EQ(g.limits().burst(), 2u);
    EXPECT_EQ(RuleDenied(g, "rate"), static_cast<uint64_t>(refused));
    EXPECT_EQ(g.denied_total(), static_cast<uint64_t>(refused));
    EXPECT_EQ(g.rules_size(), kGuardRuleCount);
    EXPECT_GE(g.admitted(), 1u);
    EXPECT_FALSE(g.last_denial().empty());
    EXPECT_GT(g.last_denied_unix_micros(), 0);
    EXPECT_FALSE(g.blocked());
  }
}

TEST_F(ServerTest, GuardUnblockLiftsABlock) {
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_guard()->set_offence_denials(2);
    config->mutable_guard()->clear_block_ladder();
    config->mutable_guard()->add_block_ladder("1h");
  });
  // One distinct number a day: the second and third are refused, which is
  // an offence (offence_denials 2), which blocks for an hour.
  lufd::v1::Quota quota;
  quota.set_distinct_numbers_per_day(1);
  SetPeerQuotaAndPrefix(server_->registry(), quota);
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  auto admin = lufd::v1::AdminService::NewStub(Channel("admin"));
  ASSERT_TRUE(LookupOn(stub.get(), GuardNumber(0)).ok());
  EXPECT_EQ(LookupOn(stub.get(), GuardNumber(1)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(LookupOn(stub.get(), GuardNumber(2)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Blocked: even the number already disclosed (free otherwise) is refused.
  grpc::Status blocked = LookupOn(stub.get(), GuardNumber(0));
  ASSERT_EQ(blocked.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << blocked.error_message();

  lufd::v1::GuardIdentity g;
  ASSERT_TRUE(ExplainOn(admin.get(), kPeerOrg, &g).ok());
  EXPECT_TRUE(g.blocked());
  EXPECT_GT(g.blocked_until_unix_micros(),
            absl::ToUnixMicros(absl::Now() + absl::Minutes(50)));
  // The server's clock, for lufctl to count the time left on.
  EXPECT_GT(g.now_unix_micros(), 0);
  EXPECT_LE(g.now_unix_micros(), absl::ToUnixMicros(absl::Now()));
  EXPECT_GT(g.blocked_until_unix_micros() - g.now_unix_micros(),
            absl::ToInt64Microseconds(absl::Minutes(50)));
  EXPECT_EQ(g.offences(), 1u);
  EXPECT_EQ(g.blocks(), 1u);
  EXPECT_GE(RuleDenied(g, "disclosure"), 2u);
  EXPECT_GE(RuleDenied(g, "block"), 1u);
  lufd::v1::GuardStatusResponse status;
  ASSERT_TRUE(GuardStatusOn(admin.get(), true, &status).ok());
  ASSERT_GE(status.identities_size(), 1);
  EXPECT_TRUE(status.identities(0).blocked());

  lufd::v1::UnblockResponse unblocked;
  ASSERT_TRUE(
      UnblockOn(admin.get(), absl::StrCat("org ", kPeerOrg), &unblocked).ok());
  EXPECT_TRUE(unblocked.lifted());
  EXPECT_FALSE(unblocked.identity().blocked());
  // Unblock clears the block's end: 0 after an unblock too, not only for an
  // identity never blocked (admin.proto says so).
  EXPECT_EQ(unblocked.identity().blocked_until_unix_micros(), 0);
  EXPECT_GT(unblocked.identity().now_unix_micros(), 0);
  EXPECT_EQ(unblocked.identity().offence_level(), 0u);
  grpc::Status after = LookupOn(stub.get(), GuardNumber(0));
  EXPECT_TRUE(after.ok()) << after.error_message();
  // Nothing left to lift.
  ASSERT_TRUE(UnblockOn(admin.get(), kPeerOrg, &unblocked).ok());
  EXPECT_FALSE(unblocked.lifted());
}

TEST_F(ServerTest, GuardRpcsNeedTheGuard) {
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_guard()->set_enabled(false);
  });
  auto admin = lufd::v1::AdminService::NewStub(Channel("admin"));
  lufd::v1::GuardStatusResponse status;
  grpc::Status s = GuardStatusOn(admin.get(), false, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("guard is disabled"));
  lufd::v1::GuardIdentity g;
  EXPECT_EQ(ExplainOn(admin.get(), kPeerOrg, &g).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  lufd::v1::UnblockResponse unblocked;
  EXPECT_EQ(UnblockOn(admin.get(), kPeerOrg, &unblocked).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// The denials recorded so far (flushed first) whose rows `match`, each
// row counting the denials it stands for.
uint64_t CountDenials(DenialRecorder* denials,
                      absl::FunctionRef<bool(const DenialRecord&)> match) {
  if (absl::Status flushed = denials->Flush(); !flushed.ok()) {
    ADD_FAILURE() << flushed;
    return 0;
  }
  DenialQuery all;
  all.limit = 1000;
  absl::StatusOr<std::vector<DenialRecord>> rows = denials->List(all);
  if (!rows.ok()) {
    ADD_FAILURE() << rows.status();
    return 0;
  }
  uint64_t n = 0;
  for (const DenialRecord& row : *rows) n += match(row) ? row.count : 0;
  return n;
}

// grpc.max_calls_per_identity: an org's calls in progress are counted over
// both services; beyond the cap a call ends at once with RESOURCE_EXHAUSTED
// (and a denial audit row) while other orgs are served; a finished call
// frees its slot.
TEST_F(ServerTest, MaxCallsPerIdentityCapsCallsInProgress) {
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->set_max_calls_per_identity(2);
  });
  ASSERT_TRUE(AdminBatch("admin", NumberObjects("1", kNumber)).ok());
  auto stub = lufd::v1::LookupService::NewStub(Channel("peer-ssp1"));
  lufd::v1::LookupRequest request;
  request.set_query(kNumber);
  lufd::v1::LookupResponse response;

  // Two streams, each answered once (so begun), then idle.
  grpc::ClientContext ctx[2];
  std::unique_ptr<grpc::ClientReaderWriter<lufd::v1::LookupRequest,
                                           lufd::v1::LookupResponse>>
      streams[2];
  for (int i = 0; i < 2; ++i) {
    SetDeadline(&ctx[i]);
    streams[i] = stub->BatchLookup(&ctx[i]);
    ASSERT_TRUE(streams[i]->Write(request));
    ASSERT_TRUE(streams[i]->Read(&response)) << i;
  }
  EXPECT_EQ(server_->runner()->call_limiter()->InProgress(kPeerOrg), 2u);

  // A third stream and a unary call of the same org are refused at once.
  {
    grpc::ClientContext third_ctx;
    SetDeadline(&third_ctx);
    auto third = stub->BatchLookup(&third_ctx);
    third->Write(request);
    EXPECT_FALSE(third->Read(&response));
    grpc::Status s = third->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(
        s.error_message(),
        HasSubstr(absl::StrCat("too many calls in progress for ", kPeerOrg)));
  }
  grpc::Status s = Lookup("peer-ssp1", kNumber);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("too many calls in progress"));
  // Another org is not affected.
  EXPECT_TRUE(Lookup("admin", kNumber).ok());

  // The refusals are in the denial audit.
  EXPECT_EQ(CountDenials(server_->denials(),
                         [](const DenialRecord& row) {
                           return absl::StrContains(
                               row.reason, "too many calls in progress");
                         }),
            2u);

  // One stream ends: its slot is free again.
  streams[0]->WritesDone();
  EXPECT_FALSE(streams[0]->Read(&response));
  EXPECT_TRUE(streams[0]->Finish().ok());
  EXPECT_TRUE(Lookup("peer-ssp1", kNumber).ok());
  streams[1]->WritesDone();
  EXPECT_FALSE(streams[1]->Read(&response));
  EXPECT_TRUE(streams[1]->Finish().ok());
  EXPECT_EQ(server_->runner()->call_limiter()->InProgress(kPeerOrg), 0u);
}

// grpc.max_threads caps the synchronous pool (AdminService, health,
// reflection): with every thread held by an idle reflection stream, gRPC
// 1.51 answers a new synchronous call RESOURCE_EXHAUSTED at once instead of
// starting a thread, while LookupService (callback API, no pool thread)
// still answers.
TEST_F(ServerTest, MaxThreadsBoundsTheSynchronousPool) {
  constexpr int kMaxThreads = 4;
  constexpr int kStreams = 12;
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->set_reflection(true);
    config->mutable_grpc()->set_max_threads(kMaxThreads);
    config->mutable_grpc()->set_max_deadline("60s");
  });
  ASSERT_TRUE(AdminBatch("admin", NumberObjects("1", kNumber)).ok());
  grpc::GenericStub stub(Channel("admin"));
  grpc::CompletionQueue cq;
  using Stream = AsyncGenericStream;
  std::vector<std::unique_ptr<Stream>> streams;
  int held = 0;
  int exhausted = 0;
  for (int i = 0; i < kStreams; ++i) {
    auto s = std::make_unique<Stream>();
    s->call = stub.PrepareCall(&s->ctx, kReflectionMethod, &cq);
    s->call->StartCall(s.get());
    ASSERT_TRUE(AwaitTag(&cq, s.get()));
    grpc::Slice slice(std::string("\x3a\x00", 2));
    grpc::ByteBuffer request(&slice, 1);
    s->call->Write(request, s.get());
    bool answered = AwaitTag(&cq, s.get());
    if (answered) {
      s->call->Read(&s->response, s.get());
      answered = AwaitTag(&cq, s.get());
    }
    if (answered) {
      ++held;  // Answered; now idle, holding its sync thread.
    } else {
      s->call->Finish(&s->status, s.get());
      void* got;
      bool ok;
      ASSERT_TRUE(cq.Next(&got, &ok));
      EXPECT_EQ(s->status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << i << ": " << s->status.error_message();
      ++exhausted;
    }
    streams.push_back(std::move(s));
  }
  EXPECT_GT(held, 0);
  // One of the pool's threads polls for new calls (3 held here).
  EXPECT_LT(held, kMaxThreads);
  EXPECT_EQ(held + exhausted, kStreams);
  // A synchronous unary call is refused too, LookupService still answers.
  auto admin = lufd::v1::AdminService::NewStub(Channel("admin"));
  grpc::ClientContext info_ctx;
  SetDeadline(&info_ctx);
  lufd::v1::ServerInfoRequest info_request;
  lufd::v1::ServerInfo info;
  grpc::Status refused = admin->GetServerInfo(&info_ctx, info_request, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(), "Server Threadpool Exhausted");
  EXPECT_TRUE(Lookup("peer-ssp1", kNumber).ok());

  for (auto& s : streams) s->ctx.TryCancel();
  cq.Shutdown();
  void* got;
  bool ok;
  for (int i = 0; i < 4 * kStreams && cq.Next(&got, &ok); ++i) {
  }
  // Every side-door call gave its per-identity slot back, also those the
  // full pool refused.
  EXPECT_TRUE(Eventually([&] {
    return server_->runner()->call_limiter()->TotalInProgress() == 0;
  }));
}

// Side-door calls (reflection here) count against grpc.max_calls_per_identity
// per client certificate, apart from the org's RpcRunner calls, and give
// their slot back when they end.
TEST_F(ServerTest, SideDoorCallsCountAgainstMaxCallsPerIdentity) {
  StartServer("", [](lufd::v1::ServerConfig* config) {
    config->mutable_grpc()->set_reflection(true);
    config->mutable_grpc()->set_max_calls_per_identity(2);
  });
  grpc::GenericStub stub(Channel("admin"));
  grpc::CompletionQueue cq;
  // Starts a reflection stream; true once it answered a list request.
  auto open = [&](AsyncGenericStream* s) {
    s->call = stub.PrepareCall(&s->ctx, kReflectionMethod, &cq);
    s->call->StartCall(s);
    if (!AwaitTag(&cq, s)) return false;
    grpc::Slice slice(std::string("\x3a\x00", 2));
    grpc::ByteBuffer request(&slice, 1);
    s->call->Write(request, s);
    if (!AwaitTag(&cq, s)) return false;
    s->call->Read(&s->response, s);
    return AwaitTag(&cq, s);
  };
  AsyncGenericStream held[2];
  ASSERT_TRUE(open(&held[0]));
  ASSERT_TRUE(open(&held[1]));
  EXPECT_EQ(server_->runner()->call_limiter()->TotalInProgress(), 2u);
  AsyncGenericStream third;
  EXPECT_FALSE(open(&third));
  third.call->Finish(&third.status, &third);
  ASSERT_TRUE(AwaitTag(&cq, &third));
  EXPECT_EQ(third.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(
      third.status.error_message(),
      HasSubstr(absl::StrCat("too many calls in progress for ", kAdminOrg)));
  // Not the budget of lufd's own methods.
  EXPECT_EQ(Lookup("admin", kNumber).error_code(), grpc::StatusCode::NOT_FOUND);

  for (AsyncGenericStream& s : held) {
    s.ctx.TryCancel();
    s.call->Finish(&s.status, &s);
    void* got;
    bool ok;
    ASSERT_TRUE(cq.Next(&got, &ok));
  }
  EXPECT_TRUE(Eventually([&] {
    return server_->runner()->call_limiter()->TotalInProgress() == 0;
  }));
  AsyncGenericStream again;
  EXPECT_TRUE(open(&again));
  again.ctx.TryCancel();
  // Health checks (unary, on gRPC's callback API) give theirs back too.
  for (int i = 0; i < 5; ++i) {
    int serving = 0;
    EXPECT_TRUE(HealthCheck(Channel("peer-ssp1"), "", &serving).ok());
  }
  EXPECT_TRUE(Eventually([&] {
    return server_->runner()->call_limiter()->TotalInProgress() == 0;
  }));
  cq.Shutdown();
  void* got;
  bool ok;
  while (cq.Next(&got, &ok)) {
  }
}

}  // namespace
}  // namespace lufd
