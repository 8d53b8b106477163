// The Admin DNSSEC key RPCs (GenerateDnsKey, RolloverDnsKey, GetDs) over
// real mutual TLS: an AdminServiceImpl with a KeyManager on a "memory:"
// store, on 127.0.0.1:0, with the dev PKI (tools/dev-pki.sh) built once per
// process. Checks admin-only access, argument errors, "DNS not configured"
// and a CSK rollover with its DS step as lufctl drives it.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lufd/v1/admin.grpc.pb.h"
#include "server/core/identity.h"
#include "server/core/registry.h"
#include "server/core/view.h"
#include "server/dns/keymanager.h"
#include "server/grpc/admin_service.h"
#include "server/grpc/auth.h"
#include "server/grpc/call.h"
#include "server/grpc/tls.h"
#include "server/ops/config.h"
#include "storage/store.h"
#include "tests/unit/testing/memory_registry.h"

namespace lufd {
namespace {

namespace fs = std::filesystem;

constexpr char kAdminOrg[] = "iana-en:100";
constexpr char kPeerOrg[] = "iana-en:201";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl =
      (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  return mkdtemp(tmpl.data());
}

std::string* pki = nullptr;

class DnsKeyRpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (pki != nullptr) return;
    pki = new std::string(MakeTempDir("lufd-dnskey-pki"));
    ASSERT_EQ(std::system(absl::StrCat("bash ", LUFD_SOURCE_DIR,
                                       "/tools/dev-pki.sh --quiet ", *pki)
                              .c_str()),
              0);
  }
  static void TearDownTestSuite() {
    if (pki != nullptr) fs::remove_all(*pki);
    delete pki;
    pki = nullptr;
  }
  static std::string P(const std::string& name) {
    return absl::StrCat(*pki, "/", name);
  }

  void SetUp() override {
    key_dir_ = MakeTempDir("lufd-dnskey-keys");
    absl::Status opened = mem_.Open();
    ASSERT_TRUE(opened.ok()) << opened;
    // Seed the admin (by SPKI) and a peer (by SAN URI).
    std::vector<lufd::v1::Operation> ops(4);
    auto* admin_org = ops[0].mutable_put()->mutable_org();
    admin_org->set_id(kAdminOrg);
    admin_org->set_name(kAdminOrg);
    auto* peer_org = ops[1].mutable_put()->mutable_org();
    peer_org->set_id(kPeerOrg);
    peer_org->set_name(kPeerOrg);
    peer_org->add_roles(lufd::v1::ORG_ROLE_PEER);
    auto* admin = ops[2].mutable_put()->mutable_credential();
    admin->set_id("admin1");
    admin->set_org_id(kAdminOrg);
    admin->set_role(lufd::v1::ROLE_ADMIN);
    admin->set_spki_sha256(
        std::string(absl::StripAsciiWhitespace(ReadFile(P("admin.spki")))));
    auto* peer = ops[3].mutable_put()->mutable_credential();
    peer->set_id("ssp1-peer");
    peer->set_org_id(kPeerOrg);
    peer->set_role(lufd::v1::ROLE_PEER);
    peer->set_san_uri("urn:lufd:peer:ssp1");
    auto seeded = mem_.registry->Execute(Identity::LocalAdmin(), ops, "seed");
    ASSERT_TRUE(seeded.ok()) << seeded.status();

    lufd::v1::DnssecConfig dnssec = ConfigDefaults().dns().dnssec();
    dnssec.set_key_dir(key_dir_);
    dnssec.set_auto_generate(false);  // The RPCs create every key here.
    auto km = dns::KeyManager::Create(dnssec,
                                      {dns::ManagedZone{std::string("\x04"
                                                                    "e164\x04"
                                                                    "arpa\x00",
                                                                    11),
                                                        "e164.arpa.", 3600}},
                                      mem_.registry.get(), &mem_.views, &ring_);
    ASSERT_TRUE(km.ok()) << km.status();
    key_manager_ = *std::move(km);
    ASSERT_TRUE(key_manager_->Start().ok());

    Authenticator::Options auth_options;
    auth_options.client_ca_file = P("ca.pem");
    auth_ = std::make_unique<Authenticator>(&mem_.views, auth_options);
    runner_ =
        std::make_unique<RpcRunner>(auth_.get(), absl::Seconds(10), 1 << 20);
    AdminServiceImpl::Options options;
    options.version = "test";
    options.start_time = absl::Now();
    admin_ = std::make_unique<AdminServiceImpl>(mem_.registry.get(),
                                                &mem_.views, mem_.store.get(),
                                                runner_.get(), options);
    admin_->set_key_admin(key_manager_.get());

    lufd::v1::TlsConfig tls;
    tls.set_cert_file(P("server.pem"));
    tls.set_key_file(P("server.key"));
    tls.set_client_ca_file(P("ca.pem"));
    tls.set_reload_interval("1s");
    auto creds = MakeServerCredentials(tls);
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(admin_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now()));
    server_.reset();
    admin_.reset();
    runner_.reset();
    auth_.reset();
    if (key_manager_ != nullptr) key_manager_->Stop();
    key_manager_.reset();
    mem_.Close();
    fs::remove_all(key_dir_);
  }

  std::unique_ptr<lufd::v1::AdminService::Stub> Stub(const std::string& cert) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(P("ca.pem"));
    options.pem_private_key = ReadFile(P(cert + ".key"));
    options.pem_cert_chain = ReadFile(P(cert + ".pem"));
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return lufd::v1::AdminService::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                  grpc::SslCredentials(options), args));
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(10));
    return ctx;
  }

  grpc::Status Generate(const std::string& cert, const std::string& zone,
                        lufd::v1::DnsKeyRole role, uint32_t alg, bool activate,
                        lufd::v1::DnsKeyResponse* out = nullptr) {
    lufd::v1::GenerateDnsKeyRequest req;
    req.set_zone(zone);
    req.set_role(role);
    req.set_algorithm(alg);
    req.set_activate(activate);
    lufd::v1::DnsKeyResponse local;
    return Stub(cert)->GenerateDnsKey(Ctx().get(), req, out ? out : &local);
  }
  grpc::Status Rollover(const std::string& cert, const std::string& zone,
                        lufd::v1::DnsKeyRole role, bool ds_published,
                        lufd::v1::DnsKeyResponse* out = nullptr) {
    lufd::v1::RolloverDnsKeyRequest req;
    req.set_zone(zone);
    req.set_role(role);
    req.set_ds_published(ds_published);
    lufd::v1::DnsKeyResponse local;
    return Stub(cert)->RolloverDnsKey(Ctx().get(), req, out ? out : &local);
  }
  grpc::Status GetDs(const std::string& cert, const std::string& zone,
                     lufd::v1::GetDsResponse* out = nullptr) {
    lufd::v1::GetDsRequest req;
    req.set_zone(zone);
    lufd::v1::GetDsResponse local;
    return Stub(cert)->GetDs(Ctx().get(), req, out ? out : &local);
  }

  std::string key_dir_;
  testing::MemoryRegistry mem_;
  dns::KeyRing ring_;
  std::unique_ptr<dns::KeyManager> key_manager_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<RpcRunner> runner_;
  std::unique_ptr<AdminServiceImpl> admin_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(DnsKeyRpcTest, AdminGeneratesRollsAndGetsDs) {
  lufd::v1::DnsKeyResponse gen;
  grpc::Status st = Generate("admin", "E164.ARPA", lufd::v1::DNS_KEY_ROLE_CSK,
                             13, true, &gen);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(gen.keys_size(), 1);
  EXPECT_GT(gen.serial(), 0u);
  EXPECT_EQ(gen.keys(0).zone(), "e164.arpa.");
  EXPECT_EQ(gen.keys(0).state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
  EXPECT_TRUE(fs::exists(key_dir_ + "/" + gen.keys(0).private_file()));
  ASSERT_NE(ring_.Get(std::string("\x04"
                                  "e164\x04"
                                  "arpa\x00",
                                  11)),
            nullptr);

  lufd::v1::GetDsResponse ds;
  st = GetDs("admin", "e164.arpa.", &ds);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(ds.ds_size(), 1);
  ASSERT_EQ(ds.dnskey_size(), 1);
  EXPECT_EQ(ds.ds(0).rfind(absl::StrCat("e164.arpa.\t3600\tIN\tDS\t",
                                        gen.keys(0).key_tag(), " 13 2 "),
                           0),
            0u)
      << ds.ds(0);
  EXPECT_NE(ds.dnskey(0).find("\tDNSKEY\t257 3 13 "), std::string::npos)
      << ds.dnskey(0);

  lufd::v1::DnsKeyResponse roll;
  st = Rollover("admin", "e164.arpa", lufd::v1::DNS_KEY_ROLE_CSK, false, &roll);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(roll.keys_size(), 1);
  EXPECT_TRUE(roll.keys(0).ds_pending());
  ds.Clear();
  ASSERT_TRUE(GetDs("admin", "e164.arpa.", &ds).ok());
  EXPECT_EQ(ds.ds_size(), 2);  // Old and new, for the parent.
  // Again before the DS step: already under way.
  EXPECT_EQ(Rollover("admin", "e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, false)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  lufd::v1::DnsKeyResponse done;
  st = Rollover("admin", "e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, true, &done);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(done.keys_size(), 2);
  ds.Clear();
  ASSERT_TRUE(GetDs("admin", "e164.arpa.", &ds).ok());
  ASSERT_EQ(ds.ds_size(), 1);
  EXPECT_NE(ds.ds(0).find(absl::StrCat("\tDS\t", roll.keys(0).key_tag(), " ")),
            std::string::npos);
}

TEST_F(DnsKeyRpcTest, OnlyAdminsMayUseThem) {
  EXPECT_EQ(
      Generate("peer-ssp1", "e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, 13, true)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(
      Rollover("peer-ssp1", "e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, false)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetDs("peer-ssp1", "e164.arpa.").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Nothing was created.
  EXPECT_EQ(mem_.views.Current()->Count(lufd::v1::OBJECT_KIND_DNS_KEY), 0u);
}

TEST_F(DnsKeyRpcTest, ArgumentErrors) {
  EXPECT_EQ(
      Generate("admin", "example.com.", lufd::v1::DNS_KEY_ROLE_CSK, 13, true)
          .error_code(),
      grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetDs("admin", "example.com.").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Rollover("admin", "example.com.", lufd::v1::DNS_KEY_ROLE_ZSK, false)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(
      Generate("admin", "", lufd::v1::DNS_KEY_ROLE_CSK, 13, true).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Generate("admin", "e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, 8, true)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Generate("admin", "e164.arpa.",
                     static_cast<lufd::v1::DnsKeyRole>(42), 13, true)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Rollover("admin", "e164.arpa.", lufd::v1::DNS_KEY_ROLE_ZSK, true)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // No active key to roll yet.
  EXPECT_EQ(Rollover("admin", "e164.arpa.", lufd::v1::DNS_KEY_ROLE_ZSK, false)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(DnsKeyRpcTest, WithoutDnsTheyFailPrecondition) {
  admin_->set_key_admin(nullptr);
  grpc::Status st =
      Generate("admin", "e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, 13, true);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "DNS not configured");
  EXPECT_EQ(GetDs("admin", "e164.arpa.").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Rollover("admin", "e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, false)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Peers still learn nothing: the role check comes first.
  EXPECT_EQ(GetDs("peer-ssp1", "e164.arpa.").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace lufd
