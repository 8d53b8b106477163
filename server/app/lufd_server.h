// LufdServer: one running lufd gRPC server and everything behind it, wired
// together: Store -> ChangeFollower -> ViewHolder -> Registry, the
// Authenticator, the Lookup/Admin services, health and reflection, on a
// mutual-TLS port. main.cc is a thin shell around it, and the in-process
// tests start it directly (with "memory:" as the store).
//
// When the config has a dns section with listen addresses, the DNS front
// door (server/dns/frontend.h) serves the same views over UDP/TCP/DoT; it
// starts before the gRPC port and stops first on Shutdown().
//
// Start() returns once the server accepts connections. Shutdown() is the
// graceful stop used for SIGTERM: health flips to NOT_SERVING, new calls are
// refused, in-flight calls get until the drain deadline, then are cancelled.
// Thread-safe accessors; Shutdown() may be called once from any thread (the
// destructor calls it if nobody did).
#ifndef LUFD_SERVER_APP_LUFD_SERVER_H_
#define LUFD_SERVER_APP_LUFD_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "lufd/v1/config.pb.h"
#include "server/app/metrics.h"
#include "server/app/readiness.h"
#include "server/core/denial_audit.h"
#include "server/core/follower.h"
#include "server/core/registry.h"
#include "server/core/view.h"
#include "server/dns/frontend.h"
#include "server/grpc/acceptor.h"
#include "server/grpc/admin_service.h"
#include "server/grpc/auth.h"
#include "server/grpc/call.h"
#include "server/grpc/lookup_service.h"
#include "server/guard/guard.h"
#include "server/guard/ledger_sync.h"
#include "storage/store.h"
#include "storage/write_router.h"

namespace lufd {

// The lufd version string ("0.1.0").
const char* LufdVersion();

class LufdServer {
 public:
  // `config` must have defaults applied and be validated (ops/config.h).
  // Opens config.store.url, migrates it (store.migrate_on_start; on a
  // read-only standby the schema is only checked: migrations arrive from
  // the primary) or checks that its schema is current (FAILED_PRECONDITION
  // otherwise), loads the first view, and starts serving. Writes go where
  // the WriteRouter says (storage/write_router.h: store.primary_url,
  // grpc.primary_endpoint).
  static absl::StatusOr<std::unique_ptr<LufdServer>> Start(
      const lufd::v1::ServerConfig& config);

  ~LufdServer();
  LufdServer(const LufdServer&) = delete;
  LufdServer& operator=(const LufdServer&) = delete;

  // The bound port (the chosen one when the config said port 0).
  int port() const { return port_; }
  // "host:port" with the bound port, for clients and the log line.
  const std::string& address() const { return address_; }

  Store* store() { return store_.get(); }
  WriteRouter* write_router() { return router_.get(); }
  ViewHolder* views() { return views_.get(); }
  Registry* registry() { return registry_.get(); }
  ChangeFollower* follower() { return follower_.get(); }
  DenialRecorder* denials() { return denials_.get(); }
  // Null when guard.enabled is false.
  Guard* guard() { return guard_.get(); }
  // The gRPC prologue/epilogue (its per-identity call counts: tests).
  RpcRunner* runner() { return runner_.get(); }
  // Null when no DNS front door is configured.
  dns::DnsFrontend* dns() { return dns_.get(); }
  // What the front doors decided (lookups, misses, denials, blocks).
  const RequestCounters* counters() const { return counters_.get(); }
  // Readiness from the view's lag (store.max_view_lag), driving gRPC health.
  ReadinessMonitor* readiness() { return readiness_.get(); }
  // The metrics endpoint's bound port; 0 when metrics.listen is empty.
  int metrics_port() const {
    return metrics_ == nullptr ? 0 : metrics_->port();
  }

  // Takes over what a config reload may change while serving
  // (server/ops/reload.h): the guard's class defaults (guard.peer,
  // guard.anonymous, guard.slip) for both front doors, and the DoT
  // certificate files re-checked now. The gRPC certificate files are
  // gRPC's file watcher's (every grpc.tls.reload_interval; gRPC 1.51 has no
  // call to make it look now); logging is the caller's (UpdateLogging).
  // `config` is validated with defaults applied: the running config with
  // the live fields of the new one (MergeLiveFields). Not concurrently with
  // Shutdown().
  void ApplyLiveConfig(const lufd::v1::ServerConfig& config);

  void Shutdown(absl::Duration drain);

 private:
  LufdServer() = default;

  // Destruction order matters: the gRPC server goes first (declared last),
  // then services, then the follower before the views and store it uses.
  std::unique_ptr<Store> store_;
  // Where writes go (local store, store.primary_url, or refused); used by
  // the registry, the guard's ledger and the signer, so declared before.
  std::unique_ptr<WriteRouter> router_;
  std::unique_ptr<ViewHolder> views_;
  std::unique_ptr<ChangeFollower> follower_;
  std::unique_ptr<Registry> registry_;
  // Before everything that counts into it (guard, DNS, runner, Lookup).
  std::unique_ptr<RequestCounters> counters_;
  // Before the runner and services that record into it.
  std::unique_ptr<DenialRecorder> denials_;
  // Before the front doors that charge it (the DNS responder, Lookup).
  std::unique_ptr<Guard> guard_;
  // Leases of the shared disclosure budget; stopped before guard_ and
  // store_ go (declared after them).
  std::unique_ptr<LedgerSync> ledger_sync_;
  std::unique_ptr<Authenticator> dot_auth_;  // DoT client certificates.
  std::unique_ptr<dns::DnsFrontend> dns_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<RpcRunner> runner_;
  std::unique_ptr<LookupServiceImpl> lookup_;
  std::unique_ptr<AdminServiceImpl> admin_;
  std::unique_ptr<grpc::Server> server_;
  // After server_: stopped (destroyed) before it.
  std::unique_ptr<GrpcAcceptor> grpc_acceptor_;
  // Sets server_'s health: stopped before it (and before Shutdown's
  // NOT_SERVING, which it must not undo).
  std::unique_ptr<ReadinessMonitor> readiness_;
  // Last: reads most of the above until it is gone.
  std::unique_ptr<MetricsEndpoint> metrics_;
  int port_ = 0;
  std::string address_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace lufd

#endif  // LUFD_SERVER_APP_LUFD_SERVER_H_
