#include "tests/unit/client/lufctl_test_env.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/spki.h"
#include "gtest/gtest.h"

namespace lufd::client::testenv {

CliResult RunCli(std::vector<std::string> args) {
  args.insert(args.begin(), "lufctl");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  int code = RunLufctl(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

std::unique_ptr<MtlsFakeServer> MtlsFakeServer::Start(
    const std::string& prefix, const std::vector<grpc::Service*>& services) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl;
    return nullptr;
  }
  std::unique_ptr<MtlsFakeServer> s(new MtlsFakeServer());
  s->dir_ = tmpl;
  const std::string& d = s->dir_;
  std::ofstream(d + "/server.ext")
      << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  std::ofstream(d + "/client.ext")
      << "subjectAltName=URI:urn:lufd:admin:test\n";
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  std::string cmd = absl::StrCat(
      "set -e; cd ", d, "; ", "openssl req -x509 ", ec,
      " -keyout ca.key -out ca.pem -days 1 ", "-subj /CN=test-ca; ",
      "for n in server client; do ", "openssl req ", ec,
      " -keyout $n.key -out $n.csr -subj /CN=$n; ",
      "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key ",
      "-CAcreateserial -out $n.pem -days 1 -extfile $n.ext; done ",
      ">/dev/null 2>&1");
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << cmd;
    return nullptr;
  }
  auto read = [&](const std::string& name) {
    return ReadSmallFile(d + "/" + name).value_or("");
  };
  grpc::SslServerCredentialsOptions ssl(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = read("ca.pem");
  ssl.pem_key_cert_pairs.push_back({read("server.key"), read("server.pem")});
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl),
                           &s->port_);
  for (grpc::Service* service : services) builder.RegisterService(service);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ <= 0) {
    ADD_FAILURE() << "the fake server did not start";
    return nullptr;
  }
  return s;
}

MtlsFakeServer::~MtlsFakeServer() {
  if (server_ != nullptr) server_->Shutdown();
  std::filesystem::remove_all(dir_);
}

std::vector<std::string> MtlsFakeServer::ClientFlags(int port) const {
  return {"--server", absl::StrCat("127.0.0.1:", port != 0 ? port : port_),
          "--ca",     dir_ + "/ca.pem",
          "--cert",   dir_ + "/client.pem",
          "--key",    dir_ + "/client.key"};
}

CliResult MtlsFakeServer::Lufctl(std::vector<std::string> args) const {
  std::vector<std::string> all = ClientFlags();
  all.insert(all.end(), {"--timeout", "10"});
  all.insert(all.end(), args.begin(), args.end());
  return RunCli(std::move(all));
}

}  // namespace lufd::client::testenv
