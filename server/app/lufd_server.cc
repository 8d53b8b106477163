#include "server/app/lufd_server.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/server_builder.h"
#include "server/core/holdings_backfill.h"
#include "server/grpc/acceptor.h"
#include "server/grpc/side_doors.h"
#include "server/grpc/tls.h"
#include "server/ops/config.h"
#include "spdlog/spdlog.h"

#ifndef LUFD_VERSION
#define LUFD_VERSION "0.0.0-dev"
#endif

namespace lufd {
namespace {

// A store that is not migrated would fail on the first query; say so at
// start-up instead, with the fix.
absl::Status PrepareSchema(Store* store, bool migrate) {
  if (migrate) {
    // A hot standby cannot migrate; it replays the primary's migrations.
    absl::StatusOr<bool> read_only = store->IsReadOnly();
    if (!read_only.ok() || !*read_only) return store->Migrate();
    spdlog::info(
        "store is a read-only standby: not migrating (the primary does); "
        "checking the schema");
  }
  ASSIGN_OR_RETURN(std::vector<MigrationInfo> migrations,
                   store->MigrationStatus());
  int pending = 0;
  const MigrationInfo* first = nullptr;
  for (const MigrationInfo& m : migrations) {
    if (m.applied) continue;
    if (first == nullptr) first = &m;
    ++pending;
  }
  if (pending == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "database schema is not current: ", pending,
      " pending migration(s), first ", first->version, " ", first->name,
      "; run `lufctl db migrate` or set store.migrate_on_start: true"));
}

// Reflection on this builder only when `enabled`. Debian's
// libgrpc++_reflection registers its plugin for every ServerBuilder of the
// process as soon as the library is loaded (a static initializer), so
// without this option reflection is always on; the option drops that
// plugin and, when enabled, adds one for this builder.
class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    auto reflection =
        std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>();
    const std::string name = reflection->name();
    std::erase_if(*plugins, [&](const auto& p) { return p->name() == name; });
    if (enabled_) plugins->push_back(std::move(reflection));
  }

 private:
  const bool enabled_;
};

// The services health answers for besides "" (the whole server).
constexpr const char* kHealthServices[] = {"lufd.v1.LookupService",
                                           "lufd.v1.AdminService"};

// Registries written before holdings existed get them once (see
// server/core/holdings_backfill.h); blocks nested in another registrant's
// are listed for an admin to review.
// A read-only standby leaves it to the primary's lufd (its result arrives by
// replication): writing here would only fail and stop the start.
absl::Status BackfillHoldingsAtStart(Store* store) {
  absl::StatusOr<bool> read_only = store->IsReadOnly();
  if (read_only.ok() && *read_only) return absl::OkStatus();
  ASSIGN_OR_RETURN(HoldingsBackfill backfill, BackfillHoldings(store));
  if (!backfill.ran) return absl::OkStatus();
  spdlog::info("holdings backfill: {} holding(s) created at serial {}",
               backfill.created, backfill.serial);
  for (const std::string& line : backfill.review) {
    spdlog::warn("holdings backfill, review: {}", line);
  }
  for (const std::string& line : backfill.skipped) {
    spdlog::warn("holdings backfill, no holding: {}", line);
  }
  return absl::OkStatus();
}

int DurationMs(const std::string& text) {
  return static_cast<int>(absl::ToInt64Milliseconds(ConfigDuration(text)));
}

}  // namespace

const char* LufdVersion() { return LUFD_VERSION; }

absl::StatusOr<std::unique_ptr<LufdServer>> LufdServer::Start(
    const lufd::v1::ServerConfig& config) {
  // What `lufd --check-config` runs: a config it accepts gets this far.
  RETURN_IF_ERROR(ValidateConfig(config));
  std::unique_ptr<LufdServer> s(new LufdServer());
  const auto& grpc_config = config.grpc();

  ASSIGN_OR_RETURN(s->store_, Store::Open(config.store().url()));
  RETURN_IF_ERROR(
      PrepareSchema(s->store_.get(), config.store().migrate_on_start()));
  RETURN_IF_ERROR(BackfillHoldingsAtStart(s->store_.get()));
  // Writes: the local store, or (a standby) store.primary_url, or refused
  // naming grpc.primary_endpoint; re-decided after a promotion.
  WriteRouter::Options router_options;
  router_options.primary_endpoint = grpc_config.primary_endpoint();
  WriteRouter::Opener open_primary;
  if (!config.store().primary_url().empty()) {
    open_primary = [url = config.store().primary_url()]() {
      return Store::Open(url);
    };
  }
  s->router_ = std::make_unique<WriteRouter>(
      s->store_.get(), std::move(open_primary), router_options);
  s->views_ = std::make_unique<ViewHolder>();
  // The registry nudges the follower after each commit. The follower (the
  // first view) comes after the DNS front end is made, so that the stored
  // signatures load alongside the view; nothing commits before it exists.
  LufdServer* server = s.get();
  s->registry_ =
      std::make_unique<Registry>(s->store_.get(), s->views_.get(), [server] {
        if (server->follower_ != nullptr) server->follower_->Nudge();
      });
  s->registry_->set_write_router(s->router_.get());

  s->counters_ = std::make_unique<RequestCounters>();
  // Refused calls, bounded in memory and in the denials table; kept in
  // memory only when the store is a read-only standby.
  DenialRecorder::Options denial_options;
  denial_options.max_rows = config.audit().denials_max_rows();
  denial_options.max_pending = config.audit().denials_max_pending();
  denial_options.flush_interval =
      ConfigDuration(config.audit().denials_flush_interval());
  s->denials_ =
      std::make_unique<DenialRecorder>(s->store_.get(), denial_options);
  if (s->denials_->memory_only()) {
    spdlog::info("denial audit kept in memory only (read-only store)");
  }
  // One guard for both front doors: an org has one budget whether it asks
  // over gRPC, TSIG DNS or DoT.
  if (config.guard().enabled()) {
    s->guard_ =
        std::make_unique<Guard>(GuardOptions::FromConfig(config.guard()));
    s->guard_->set_counters(s->counters_.get());
    // Several instances on one PostgreSQL share one budget per identity
    // (leases, server/guard/ledger_sync.h); SQLite and memory stores serve
    // one instance, whose local counts are exact.
    const bool shared = config.guard().has_shared()
                            ? config.guard().shared()
                            : s->store_->Backend() == "postgres";
    if (shared) {
      LedgerSync::Options ledger_options;
      ledger_options.router = s->router_.get();
      s->ledger_sync_ = LedgerSync::Start(s->store_.get(), s->guard_.get(),
                                          std::move(ledger_options));
    }
  }

  if (dns::DnsFrontend::Enabled(config)) {
    // DoT peers are identified exactly like gRPC peers (certificate ->
    // credential -> org, CRL fail-closed), against the DoT CA and CRL.
    dns::PeerAuthenticator dot_authenticator;
    const auto& dot = config.dns().dot();
    if (!dot.listen().empty() && dot.client_cert() != "none") {
      Authenticator::Options dot_options;
      dot_options.client_ca_file = dot.tls().client_ca_file();
      dot_options.crl_file = dot.tls().crl_file();
      s->dot_auth_ =
          std::make_unique<Authenticator>(s->views_.get(), dot_options);
      Authenticator* dot_auth = s->dot_auth_.get();
      dot_authenticator = [dot_auth](absl::string_view pem) {
        return dot_auth->AuthenticatePem(pem);
      };
    }
    ASSIGN_OR_RETURN(
        s->dns_, dns::DnsFrontend::Create(config, s->store_.get(),
                                          s->registry_.get(), s->views_.get(),
                                          std::move(dot_authenticator)));
    if (s->guard_ != nullptr) {
      s->dns_->responder()->set_guard(s->guard_.get(), config.guard(),
                                      s->denials_.get());
    }
    s->dns_->responder()->set_counters(s->counters_.get());
    if (s->dns_->signer() != nullptr) {
      s->dns_->signer()->set_write_router(s->router_.get());
    }
    s->dns_->StartLoadingSignatures();
  }

  const absl::Time load_start = absl::Now();
  ASSIGN_OR_RETURN(
      s->follower_,
      ChangeFollower::Start(s->store_.get(), s->views_.get(),
                            ConfigDuration(config.store().poll_interval())));
  // Start-up is mostly this (and the DNS signatures): worth a line.
  spdlog::info("registry view at serial {} loaded in {}",
               s->views_->Current()->serial(),
               absl::FormatDuration(absl::Now() - load_start));
  if (s->dns_ != nullptr) RETURN_IF_ERROR(s->dns_->Start());

  Authenticator::Options auth_options;
  auth_options.client_ca_file = grpc_config.tls().client_ca_file();
  auth_options.crl_file = grpc_config.tls().crl_file();
  s->auth_ = std::make_unique<Authenticator>(s->views_.get(), auth_options);
  s->runner_ = std::make_unique<RpcRunner>(
      s->auth_.get(), ConfigDuration(grpc_config.max_deadline()),
      grpc_config.max_message_bytes(), grpc_config.max_calls_per_identity());
  s->runner_->set_denial_recorder(s->denials_.get());
  s->runner_->set_request_counters(s->counters_.get());
  s->lookup_ =
      std::make_unique<LookupServiceImpl>(s->views_.get(), s->runner_.get());
  s->lookup_->set_counters(s->counters_.get());
  if (s->guard_ != nullptr) {
    s->lookup_->set_guard(s->guard_.get(),
                          GuardLimits::FromConfig(config.guard().peer()));
  }
  AdminServiceImpl::Options admin_options;
  admin_options.version = LufdVersion();
  admin_options.start_time = absl::Now();
  s->admin_ = std::make_unique<AdminServiceImpl>(
      s->registry_.get(), s->views_.get(), s->store_.get(), s->runner_.get(),
      admin_options);
  if (s->dns_ != nullptr) s->admin_->set_key_admin(s->dns_->key_manager());
  s->admin_->set_denial_recorder(s->denials_.get());
  s->admin_->set_guard(s->guard_.get());  // Null when the guard is off.

  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                   MakeServerCredentials(grpc_config.tls()));
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(ParseListenAddress(grpc_config.listen(), &host, &port));

  // Health and reflection are gRPC's services, not RpcRunner's: the guard
  // gives them the same identity check (side_doors.h), before any handler
  // thread is taken.
  std::vector<std::string> side_doors = {kHealthService};
  if (grpc_config.reflection()) side_doors.push_back(kReflectionService);
  creds->SetAuthMetadataProcessor(std::make_shared<SideDoorGuard>(
      s->auth_.get(), side_doors, s->runner_.get()));

  // A process-wide switch that must precede the builder.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.SetOption(
      std::make_unique<ReflectionOption>(grpc_config.reflection()));
  // lufd accepts the gRPC connections itself (acceptor.h): connection caps
  // and descriptor exhaustion are handled before gRPC sees a socket.
  GrpcAcceptor::Options acceptor_options;
  acceptor_options.listen = grpc_config.listen();
  acceptor_options.max_connections = grpc_config.max_connections();
  acceptor_options.max_connections_per_source =
      grpc_config.max_connections_per_source();
  acceptor_options.handshake_timeout =
      ConfigDuration(grpc_config.handshake_timeout());
  ASSIGN_OR_RETURN(s->grpc_acceptor_, GrpcAcceptor::Listen(acceptor_options));
  s->port_ = s->grpc_acceptor_->port();
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink =
      builder.experimental().AddExternalConnectionAcceptor(
          grpc::ServerBuilder::experimental_type::ExternalConnectionType::
              FROM_FD,
          creds);
  // Also applies to the connections handed over from the acceptor.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             DurationMs(grpc_config.handshake_timeout()));
  builder.RegisterService(s->lookup_.get());
  builder.RegisterService(s->admin_.get());
  // LookupService is on the callback API (no thread per call); what stays
  // synchronous (AdminService, health, reflection) takes a thread per call
  // in progress, at most grpc.max_threads of them. When all are busy, gRPC
  // 1.51's sync server answers a new sync call RESOURCE_EXHAUSTED ("Server
  // Threadpool Exhausted") at once instead of starting a thread.
  // One org may hold max_calls_per_identity of those threads; at or above
  // the pool's size it could hold them all (one thread always waits for
  // new calls), and every other admin call would be refused.
  if (grpc_config.max_calls_per_identity() + 1 >= grpc_config.max_threads()) {
    spdlog::warn(
        "grpc.max_calls_per_identity ({}) is not below grpc.max_threads - 1 "
        "({}): one org can hold every thread of the synchronous services",
        grpc_config.max_calls_per_identity(), grpc_config.max_threads() - 1);
  }
  grpc::ResourceQuota quota("lufd-grpc");
  quota.SetMaxThreads(static_cast<int>(grpc_config.max_threads()));
  builder.SetResourceQuota(quota);
  // Unparseable requests: INVALID_ARGUMENT, not gRPC's bare INTERNAL.
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(MakeMalformedRequestInterceptorFactory());
  // Reflection streams get RpcRunner's idle bound.
  interceptors.push_back(s->runner_->MakeSideDoorIdleInterceptorFactory());
  // Side-door calls give back their per-identity slot (side_doors.h).
  interceptors.push_back(
      MakeSideDoorSlotInterceptorFactory(s->runner_.get(), side_doors));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // Above the policy limit, so RpcRunner answers INVALID_ARGUMENT for
  // requests between the two (see call.h).
  builder.SetMaxReceiveMessageSize(
      TransportMaxMessageBytes(grpc_config.max_message_bytes()));
  builder.SetMaxSendMessageSize(
      static_cast<int>(grpc_config.max_message_bytes()));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONCURRENT_STREAMS,
      static_cast<int>(grpc_config.max_concurrent_streams()));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             DurationMs(grpc_config.idle_timeout()));
  // Server-side keepalive: find dead peers; tolerate client pings every 10 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", grpc_config.listen()));
  }
  s->grpc_acceptor_->Start(std::move(sink));
  s->address_ = host.find(':') != std::string::npos
                    ? absl::StrCat("[", host, "]:", s->port_)
                    : absl::StrCat(host, ":", s->port_);
  // Both services are registered: serving, as a whole and per service,
  // while the view keeps up with the store (readiness.h); Shutdown flips
  // them all for good.
  grpc::HealthCheckServiceInterface* health =
      s->server_->GetHealthCheckService();
  const absl::Duration max_view_lag =
      ConfigDuration(config.store().max_view_lag());
  ChangeFollower* follower = s->follower_.get();
  s->readiness_ = std::make_unique<ReadinessMonitor>(
      max_view_lag, [follower] { return follower->state(); },
      [] { return absl::Now(); },
      [health, first = true](const Readiness& r) mutable {
        for (const char* service : kHealthServices) {
          health->SetServingStatus(service, r.ready);
        }
        health->SetServingStatus(r.ready);
        if (!r.ready) {
          spdlog::warn("health: NOT_SERVING: {}", r.reason);
        } else if (!first) {
          spdlog::info("health: SERVING again (view caught up)");
        }
        first = false;
      });
  // The first view was just loaded: this sets SERVING at once.
  s->readiness_->Check();
  // Checking is a lock and a comparison: often enough that a recovered
  // instance (or one whose first view took longer than the bound to load)
  // turns SERVING within ~100 ms of catching up.
  s->readiness_->Start(std::clamp(max_view_lag / 10, absl::Milliseconds(20),
                                  absl::Milliseconds(100)));

  if (!config.metrics().listen().empty()) {
    MetricsSources sources;
    sources.version = LufdVersion();
    sources.views = s->views_.get();
    sources.follower = s->follower_.get();
    sources.counters = s->counters_.get();
    sources.dns = s->dns_.get();
    sources.guard = s->guard_.get();
    sources.readiness = s->readiness_.get();
    ASSIGN_OR_RETURN(
        s->metrics_,
        MetricsEndpoint::Start(config.metrics().listen(), std::move(sources)));
    spdlog::info("metrics: serving http://{}/metrics (port {})",
                 config.metrics().listen(), s->metrics_->port());
  }
  return s;
}

void LufdServer::ApplyLiveConfig(const lufd::v1::ServerConfig& config) {
  if (guard_ != nullptr) {
    lookup_->UpdatePeerDefault(GuardLimits::FromConfig(config.guard().peer()));
    if (dns_ != nullptr) dns_->responder()->UpdateGuardLimits(config.guard());
  }
  if (dns_ != nullptr) dns_->ReloadTlsNow();
}

void LufdServer::Shutdown(absl::Duration drain) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  // DNS first: its answers are short and it has no drain protocol; gRPC
  // calls then get the whole drain budget.
  if (dns_ != nullptr) dns_->Stop();
  // No new gRPC connections from here on.
  if (grpc_acceptor_ != nullptr) grpc_acceptor_->Stop();
  // Readiness must not turn health back to SERVING from here on.
  if (readiness_ != nullptr) readiness_->Stop();
  if (server_ == nullptr) return;
  // Load balancers polling health stop sending new work first.
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + drain));
  server_->Wait();
}

LufdServer::~LufdServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace lufd
