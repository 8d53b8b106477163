// Test support for driving lufctl in-process (client/commands.h RunLufctl):
// RunCli gives argv and gets the exit code and both streams back; and
// MtlsFakeServer is a throwaway PKI made with the openssl CLI (a CA, a
// server certificate for 127.0.0.1/localhost, a client certificate with SAN
// URI urn:lufd:admin:test) and a gRPC server on a free 127.0.0.1 port that
// requires and verifies the client certificate, serving the test's fake
// services (which it does not own); FakeServerTest is a fixture with one
// such server per test suite. Not thread-safe.
#ifndef LUFD_TESTS_UNIT_CLIENT_LUFCTL_TEST_ENV_H_
#define LUFD_TESTS_UNIT_CLIENT_LUFCTL_TEST_ENV_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace lufd::client::testenv {

struct CliResult {
  int code;
  std::string out, err;
};

// Runs lufctl with `args` ("lufctl" is put in front as argv[0]).
CliResult RunCli(std::vector<std::string> args);

class MtlsFakeServer {
 public:
  // Makes the PKI in a new /tmp/<prefix>-XXXXXX and starts the server.
  // Null (and a test failure) when either fails.
  static std::unique_ptr<MtlsFakeServer> Start(
      const std::string& prefix, const std::vector<grpc::Service*>& services);
  ~MtlsFakeServer();  // Shuts the server down and removes the directory.

  // Holds ca.pem, client.pem, client.key (and the server's files).
  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

  // --server (this server, or `port` when given), --ca, --cert, --key.
  std::vector<std::string> ClientFlags(int port = 0) const;
  // RunCli with ClientFlags(), `--timeout 10`, then `args`.
  CliResult Lufctl(std::vector<std::string> args) const;

 private:
  MtlsFakeServer() = default;
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// A test suite whose tests share one `Fake` (default-constructed; it names
// its gRPC services with `std::vector<grpc::Service*> Services()`) behind
// one MtlsFakeServer.
template <typename Fake>
class FakeServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fake_ = new Fake();
    env_ = MtlsFakeServer::Start("lufctl-test", fake_->Services()).release();
    ASSERT_NE(env_, nullptr);
    dir_ = &env_->dir();
  }

  static void TearDownTestSuite() {
    delete env_;
    delete fake_;
  }

  using Result = CliResult;
  // lufctl against the fake, with the client certificate.
  static Result Lufctl(std::vector<std::string> args) {
    return env_->Lufctl(std::move(args));
  }

  static inline MtlsFakeServer* env_ = nullptr;
  static inline const std::string* dir_ = nullptr;  // The PKI's files.
  static inline Fake* fake_ = nullptr;
};

}  // namespace lufd::client::testenv

#endif  // LUFD_TESTS_UNIT_CLIENT_LUFCTL_TEST_ENV_H_
