// DnsFrontend: lufd's whole DNS front door, wired together over the
// registry the gRPC side already runs (Store, Registry, ViewHolder):
//   SignatureCache + SignatureLru   where answers find their RRSIGs;
//   KeyRing (+ KeyManager)          the zones' DNSSEC keys and their rolls;
//   SignAheadSigner                 signs positive RRsets ahead;
//   Responder                       the answer path (the QueryProcessor);
//   XfrService                      zone transfer out + NOTIFY (dns.xfr);
//   DnsServer                       the UDP/TCP/DoT listeners (+ TSIG).
// LufdServer creates it when dns.listen or dns.dot.listen is configured.
//
// Start order (Start()): stored signatures loaded first (LoadAll), the
// signer started (it takes the sign-ahead lease: always on SQLite, the
// advisory lock on PostgreSQL; Start waits up to 1 s for it so that a
// lone instance generates its first keys before serving), then the
// KeyManager (first keys, KeyRing published), then the listeners, so the
// first answer is already signed and no query sees a half-initialised
// state. With dnssec.enabled false there is no signer and no KeyManager;
// with sign_ahead false there is no signer and the KeyManager acts as the
// signing instance (only right with a single instance). Stop() reverses it;
// both are called from one thread (LufdServer's start and shutdown). bound(),
// stats and the component accessors are safe from any thread once Start()
// returned. Borrowed objects (store, registry, views, authenticator) must
// outlive the frontend.
#ifndef LUFD_SERVER_DNS_FRONTEND_H_
#define LUFD_SERVER_DNS_FRONTEND_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lufd/v1/config.pb.h"
#include "server/core/registry.h"
#include "server/core/view.h"
#include "server/dns/keymanager.h"
#include "server/dns/keyring.h"
#include "server/dns/responder.h"
#include "server/dns/server.h"
#include "server/dns/sigcache.h"
#include "server/dns/signer.h"
#include "server/dns/xfr.h"
#include "storage/store.h"

namespace lufd::dns {

class DnsFrontend {
 public:
  // True when the config asks for a DNS front door at all.
  static bool Enabled(const lufd::v1::ServerConfig& config);

  // Builds every component (nothing listens yet). `config` has defaults
  // applied and is validated. `dot_authenticator` maps DoT client
  // certificates to identities (may be empty: DoT peers stay anonymous).
  static absl::StatusOr<std::unique_ptr<DnsFrontend>> Create(
      const lufd::v1::ServerConfig& config, Store* store, Registry* registry,
      ViewHolder* views, PeerAuthenticator dot_authenticator = nullptr);

  ~DnsFrontend();
  DnsFrontend(const DnsFrontend&) = delete;
  DnsFrontend& operator=(const DnsFrontend&) = delete;

  // Begins loading the stored signatures (the first step of Start()) on a
  // thread of its own, so that on a multi-core host it overlaps whatever the
  // caller does until Start() (LufdServer: loading the registry view).
  // Optional; Start() waits for it and reports its error. Does nothing when
  // this process may run on one CPU only.
  void StartLoadingSignatures();

  // Loads signatures, starts key management and signing, then listens.
  // Logs "dns: serving <zones> on <addresses>".
  absl::Status Start();
  // Stops listening, then the background work. Idempotent.
  void Stop();

  // DoT certificate files re-checked now (DnsServer::ReloadTlsNow); no-op
  // before Start or without DoT.
  void ReloadTlsNow();

  // Actual listening addresses (after Start).
  std::vector<BoundAddress> bound() const;
  const DnsServerStats* server_stats() const;
  Responder* responder() { return responder_.get(); }
  KeyRing* key_ring() { return key_ring_.get(); }
  // Null when dnssec.enabled is false. For AdminService's key RPCs.
  KeyManager* key_manager() { return key_manager_.get(); }
  // Null when DNSSEC or sign_ahead is off.
  SignAheadSigner* signer() { return signer_.get(); }
  // The stored (signed-ahead) signatures and the on-demand LRU; the LRU is
  // null when dnssec.on_demand_cache_entries is 0. For the metrics.
  const SignatureCache* signature_cache() const { return signatures_.get(); }
  const SignatureLru* signature_lru() const { return lru_.get(); }
  // Null unless dns.xfr names a key, an org or a secondary.
  XfrService* xfr() { return xfr_.get(); }

 private:
  DnsFrontend() = default;
  // signer_->LoadAll() into load_status_ and load_time_.
  void LoadSignatures();

  lufd::v1::ServerConfig config_;
  Store* store_ = nullptr;
  Registry* registry_ = nullptr;
  ViewHolder* views_ = nullptr;
  PeerAuthenticator dot_authenticator_;

  std::unique_ptr<SignatureCache> signatures_;
  std::unique_ptr<SignatureLru> lru_;
  std::unique_ptr<KeyRing> key_ring_;
  std::unique_ptr<Responder> responder_;
  std::unique_ptr<SignAheadSigner> signer_;
  std::unique_ptr<KeyManager> key_manager_;
  std::unique_ptr<XfrService> xfr_;
  std::unique_ptr<DnsServer> server_;
  bool started_ = false;
  bool stopped_ = false;
  // StartLoadingSignatures(): the thread, and what it leaves for Start()
  // (read after joining it).
  std::thread loader_;
  absl::Status load_status_;
  absl::Duration load_time_;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_FRONTEND_H_
