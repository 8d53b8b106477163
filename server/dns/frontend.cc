#include "server/dns/frontend.h"

#include <malloc.h>
#include <sched.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/dns/tsig.h"
#include "spdlog/spdlog.h"

namespace lufd::dns {

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
  f->signatures_ = std::make_unique<SignatureCache>();
  f->lru_ =
      std::make_unique<SignatureLru>(dns.dnssec().on_demand_cache_entries());
  f->key_ring_ = std::make_unique<KeyRing>();
  absl::StatusOr<std::unique_ptr<Responder>> responder = Responder::Create(
      dns, views, f->key_ring_.get(), f->signatures_.get(), f->lru_.get());
  if (!responder.ok()) return responder.status();
  f->responder_ = *std::move(responder);
  if (!dns.xfr().allow_tsig().empty() || !dns.xfr().notify().empty() ||
      !dns.xfr().allow_dot_orgs().empty()) {
    absl::StatusOr<std::unique_ptr<XfrService>> xfr =
        XfrService::Create(dns, views, TsigLookupFromViews(views));
    if (!xfr.ok()) return xfr.status();
    f->xfr_ = *std::move(xfr);
  }
  if (!dns.dnssec().enabled()) return f;

  if (dns.dnssec().sign_ahead()) {
    std::vector<uint32_t> dnskey_ttls;
    for (const auto& z : dns.zones()) dnskey_ttls.push_back(z.ttl());
    absl::StatusOr<std::unique_ptr<SignAheadSigner>> signer =
        SignAheadSigner::Create(dns.dnssec(), f->responder_->zone_names(),
                                store, views, f->key_ring_.get(),
                                f->signatures_.get(), std::move(dnskey_ttls));
    if (!signer.ok()) return signer.status();
    f->signer_ = *std::move(signer);
  }
  std::vector<ManagedZone> zones;
  const std::vector<std::string> wires = f->responder_->zone_names();
  for (size_t i = 0; i < wires.size(); ++i) {
    ManagedZone z;
    z.wire = wires[i];
    z.name = NameToText(wires[i]);
    // zone_names() is in config order, so index i is zones(i).
    if (static_cast<int>(i) < dns.zones_size()) {
      z.dnskey_ttl = dns.zones(i).ttl();
    }
    zones.push_back(std::move(z));
  }
  KeyManagerOptions key_options;
  if (f->signer_ != nullptr) {
    SignAheadSigner* signer = f->signer_.get();
    key_options.is_signer = [signer] { return signer->IsSigner(); };
  }
  absl::StatusOr<std::unique_ptr<KeyManager>> keys =
      KeyManager::Create(dns.dnssec(), std::move(zones), registry, views,
                         f->key_ring_.get(), std::move(key_options));
  if (!keys.ok()) return keys.status();
  f->key_manager_ = *std::move(keys);
  return f;
}

DnsFrontend::~DnsFrontend() { Stop(); }

void DnsFrontend::LoadSignatures() {
  const absl::Time t0 = absl::Now();
  load_status_ = signer_->LoadAll();
  // The load collected every row before indexing it; glibc keeps that
  // freed heap resident unless asked (as after the first view).
  malloc_trim(0);
  load_time_ = absl::Now() - t0;
}

void DnsFrontend::StartLoadingSignatures() {
  if (signer_ == nullptr || started_ || loader_.joinable()) return;
  // On one CPU (e.g. pinned) the two loads would only take turns and evict
  // each other from the caches: Start() loads the signatures after the view.
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < 2) {
    return;
  }
  loader_ = std::thread([this] { LoadSignatures(); });
}

absl::Status DnsFrontend::Start() {
  if (started_) return absl::FailedPreconditionError("already started");
  started_ = true;
  const auto& dns = config_.dns();
  if (signer_ != nullptr) {
    if (loader_.joinable()) {
      loader_.join();
    } else {
      LoadSignatures();
    }
    if (!load_status_.ok()) return load_status_;
    spdlog::info("dns: {} stored signatures loaded in {}", signatures_->size(),
                 absl::FormatDuration(load_time_));
    signer_->Start();
    // The lease is taken by the signer's thread; give it a moment so a
    // lone instance creates its first keys before answering (bounded: a
    // replica whose primary holds the lease just goes on).
    for (int i = 0; i < 100 && !signer_->IsSigner(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (key_manager_ != nullptr) {
    if (absl::Status st = key_manager_->Start(); !st.ok()) return st;
  }
  DnsServer::Options options = DnsServer::OptionsFromConfig(dns);
  if (xfr_ != nullptr) {
    if (absl::Status st = xfr_->Start(); !st.ok()) return st;
    options.xfr = xfr_.get();
  }
  absl::StatusOr<std::unique_ptr<DnsServer>> server =
      DnsServer::Start(options, responder_.get(), TsigLookupFromViews(views_),
                       dot_authenticator_);
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
  // A load still running (Start() never came) must end before anything it
  // writes to goes away.
  if (loader_.joinable()) loader_.join();
  if (stopped_) return;
  stopped_ = true;
  // Listeners first (nothing new arrives), then the background work.
  if (server_ != nullptr) {
    server_->Stop();
    const DnsServerStats& st = server_->stats();
    spdlog::info(
        "dns: stopped; queries udp {} tcp {} tls {}, dropped {}, tcp "
        "connections {} (refused {}, idle-closed {}, evicted {}, out of "
        "descriptors {}), tls handshakes failed {}, tsig ok {} badkey {} "
        "badsig {} badtime {}",
        st.udp_queries.load(), st.tcp_queries.load(), st.tls_queries.load(),
        st.dropped.load(), st.tcp_accepted.load(), st.tcp_refused.load(),
        st.tcp_idle_closed.load(), st.tcp_evicted.load(),
        st.tcp_out_of_descriptors.load(), st.tls_handshake_failed.load(),
        st.tsig_ok.load(), st.tsig_badkey.load(), st.tsig_badsig.load(),
        st.tsig_badtime.load());
  }
  if (responder_ != nullptr) {
    // What denial cost: signatures made per query against cache hits.
    const ResponderStats& rs = responder_->stats();
    spdlog::info(
        "dns: responder: queries {}, nxdomain {} (covering {}), nodata {}, "
        "signed on demand {}, signature lru hits {}, store hits {}; guard "
        "refused {}, slipped {}, dropped {}, dropped as blocked {}",
        rs.queries.load(), rs.nxdomain.load(), rs.covering_denials.load(),
        rs.nodata.load(), rs.signed_on_demand.load(), rs.sig_lru_hits.load(),
        rs.sig_store_hits.load(), rs.guard_refused.load(),
        rs.guard_slipped.load(), rs.guard_dropped.load(),
        rs.guard_blocked_dropped.load());
  }
  if (xfr_ != nullptr) {
    xfr_->Stop();
    const XfrStats& xs = xfr_->stats();
    spdlog::info(
        "dns.xfr: axfr {}, ixfr {} (as full zone {}, up to date {}), refused "
        "{}, snapshots {}; notify sent {}, acknowledged {}, failed {}",
        xs.axfr.load(), xs.ixfr.load(), xs.ixfr_as_axfr.load(),
        xs.up_to_date.load(), xs.refused.load(), xs.snapshots.load(),
        xs.notify_sent.load(), xs.notify_acked.load(), xs.notify_failed.load());
  }
  if (key_manager_ != nullptr) key_manager_->Stop();
  if (signer_ != nullptr) signer_->Stop();
}

void DnsFrontend::ReloadTlsNow() {
  if (server_ != nullptr && started_ && !stopped_) server_->ReloadTlsNow();
}

std::vector<BoundAddress> DnsFrontend::bound() const {
  if (server_ == nullptr) return {};
  return server_->bound();
}

const DnsServerStats* DnsFrontend::server_stats() const {
  return server_ == nullptr ? nullptr : &server_->stats();
}

}  // namespace lufd::dns
