#include "server/dns/frontend.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/dns/tsig.h"
#include "spdlog/spdlog.h"

namespace lufd::dns {

// Adapts the Responder to the listeners' QueryHandler.
class DnsFrontend::Handler : public QueryHandler {
 public:
  explicit Handler(Responder* responder) : responder_(responder) {}
  size_t Respond(const ParsedQuery& query, ParseResult parsed,
                 const Identity& viewer, Transport transport, uint8_t* out,
                 size_t capacity) override {
    return responder_->Respond(query, parsed, viewer, transport, out, capacity);
  }

 private:
  Responder* const responder_;
};

bool DnsFrontend::Enabled(const lufd::v1::ServerConfig& config) {
  return !config.dns().listen().empty() || !config.dns().dot().listen().empty();
}

absl::StatusOr<std::unique_ptr<DnsFrontend>> DnsFrontend::Create(
    const lufd::v1::ServerConfig& config, Store* store, Registry* registry,
    ViewHolder* views, PeerAuthenticator dot_authenticator) {
  std::unique_ptr<DnsFrontend> f(new DnsFrontend());
  f->config_ = config;
  f->store_ = store;
  f->registry_ = registry;
  f->views_ = views;
  f->dot_authenticator_ = std::move(dot_authenticator);
  const auto& dns = f->config_.dns();
  f->signatures_ = std::make_unique<SignatureStore>();
  f->lru_ = std::make_unique<SignatureLru>(
      dns.dnssec().on_demand_cache_entries() > 0
          ? dns.dnssec().on_demand_cache_entries()
          : 100000);
  f->key_ring_ = std::make_unique<KeyRing>();
  absl::StatusOr<std::unique_ptr<Responder>> responder = Responder::Create(
      dns, views, f->key_ring_.get(), f->signatures_.get(), f->lru_.get());
  if (!responder.ok()) return responder.status();
  f->responder_ = *std::move(responder);
  f->handler_ = std::make_unique<Handler>(f->responder_.get());
  return f;
}

DnsFrontend::~DnsFrontend() { Stop(); }

absl::Status DnsFrontend::Start() {
  if (started_) return absl::FailedPreconditionError("already started");
  started_ = true;
  const auto& dns = config_.dns();
  absl::StatusOr<std::unique_ptr<DnsServer>> server =
      DnsServer::Start(DnsServer::OptionsFromConfig(dns), handler_.get(),
                       TsigLookupFromViews(views_), dot_authenticator_);
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  std::vector<std::string> zones;
  for (const std::string& z : responder_->zone_names()) {
    zones.push_back(NameToText(z));
  }
  std::vector<std::string> addresses;
  for (const BoundAddress& b : server_->bound()) {
    addresses.push_back(absl::StrCat(b.address, " (", b.transport, ")"));
  }
  spdlog::info("dns: serving {} on {}", absl::StrJoin(zones, ", "),
               absl::StrJoin(addresses, ", "));
  return absl::OkStatus();
}

void DnsFrontend::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (server_ != nullptr) server_->Stop();
}

std::vector<BoundAddress> DnsFrontend::bound() const {
  if (server_ == nullptr) return {};
  return server_->bound();
}

const DnsServerStats* DnsFrontend::server_stats() const {
  return server_ == nullptr ? nullptr : &server_->stats();
}

}  // namespace lufd::dns
