#include "client/client.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/client_interceptor.h>

#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/spki.h"

namespace lufd::client {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// Notes the `lufd-primary-endpoint` trailing metadata of a call that ends
// FAILED_PRECONDITION, for RunLufctl to follow (once).
class LufdClient::PrimaryHintInterceptor final
    : public grpc::experimental::Interceptor {
 public:
  explicit PrimaryHintInterceptor(LufdClient* client) : client_(client) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_STATUS)) {
      grpc::Status* status = methods->GetRecvStatus();
      auto* trailers = methods->GetRecvTrailingMetadata();
      if (status != nullptr && trailers != nullptr &&
          status->error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        auto it = trailers->find("lufd-primary-endpoint");
        if (it != trailers->end()) {
          absl::MutexLock lock(&client_->hint_mu_);
          client_->primary_hint_.assign(it->second.data(), it->second.size());
        }
      }
    }
    methods->Proceed();
  }

 private:
  LufdClient* const client_;
};

class LufdClient::PrimaryHintFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit PrimaryHintFactory(LufdClient* client) : client_(client) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new PrimaryHintInterceptor(client_);
  }

 private:
  LufdClient* const client_;
};

std::string LufdClient::primary_hint() const {
  absl::MutexLock lock(&hint_mu_);
  return primary_hint_;
}

absl::StatusOr<std::unique_ptr<LufdClient>> LufdClient::Connect(
    const ConnectionOptions& options) {
  // The server requires a client certificate, so refuse early with a clear
  // message instead of a handshake failure ("Socket closed").
  if (options.cert_file.empty() || options.key_file.empty() ||
      options.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "mTLS needs --cert, --key and --ca (or LUFCTL_CERT, LUFCTL_KEY, "
        "LUFCTL_CA)");
  }
  grpc::SslCredentialsOptions ssl;
  auto ca = ReadSmallFile(options.ca_file);
  if (!ca.ok()) return ca.status();
  auto cert = ReadSmallFile(options.cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadSmallFile(options.key_file);
  if (!key.ok()) return key.status();
  ssl.pem_root_certs = *std::move(ca);
  ssl.pem_cert_chain = *std::move(cert);
  ssl.pem_private_key = *std::move(key);

  grpc::ChannelArguments args;
  if (!options.server_name.empty()) {
    args.SetSslTargetNameOverride(options.server_name);
  }
  // Exports and lists of big objects; the server bounds what it sends.
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);

  std::unique_ptr<LufdClient> client(new LufdClient());
  client->options_ = options;
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<PrimaryHintFactory>(client.get()));
  client->channel_ = grpc::experimental::CreateCustomChannelWithInterceptors(
      options.server, grpc::SslCredentials(ssl), args, std::move(interceptors));
  client->admin_ = lufd::v1::AdminService::NewStub(client->channel_);
  client->lookup_ = lufd::v1::LookupService::NewStub(client->channel_);
  return client;
}

std::unique_ptr<grpc::ClientContext> LufdClient::NewContext(bool unary) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (unary && options_.timeout > absl::ZeroDuration()) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(options_.timeout));
  }
  return ctx;
}

absl::StatusOr<std::string> LufdClient::CheckHealth(
    const std::string& service) {
  // HealthCheckRequest{string service = 1}, encoded by hand.
  std::string request;
  if (!service.empty()) {
    if (service.size() > 127) {
      return absl::InvalidArgumentError("service name too long");
    }
    request.push_back(0x0a);
    request.push_back(static_cast<char>(service.size()));
    request.append(service);
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer req_buf(&slice, 1);
  grpc::ByteBuffer resp_buf;
  grpc::Status status;
  grpc::CompletionQueue cq;
  grpc::GenericStub stub(channel_);
  auto ctx = NewContext(true);
  auto call = stub.PrepareUnaryCall(ctx.get(), "/grpc.health.v1.Health/Check",
                                    req_buf, &cq);
  call->StartCall();
  call->Finish(&resp_buf, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);  // The deadline bounds this wait.
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!status.ok()) return FromGrpc(status);

  std::vector<grpc::Slice> slices;
  if (!resp_buf.Dump(&slices).ok()) {
    return absl::InternalError("cannot read health response");
  }
  std::string bytes;
  for (const auto& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{ServingStatus status = 1}: absent field = UNKNOWN.
  int value = 0;
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    if (bytes[i] == 0x08) {
      value = static_cast<unsigned char>(bytes[i + 1]) & 0x7f;
      break;
    }
  }
  switch (value) {
    case 1:
      return std::string("SERVING");
    case 2:
      return std::string("NOT_SERVING");
    case 3:
      return std::string("SERVICE_UNKNOWN");
    default:
      return std::string("UNKNOWN");
  }
}

}  // namespace lufd::client
