#include "server/app/metrics.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "prometheus/exposer.h"
#include "spdlog/spdlog.h"

namespace lufd {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// One family being filled. Refers to it by index: adding later families
// may move the vector's elements.
class Family {
 public:
  Family(std::vector<MetricFamily>* out, const char* name, const char* help,
         MetricType type)
      : out_(out), index_(out->size()) {
    MetricFamily& f = out->emplace_back();
    f.name = name;
    f.help = help;
    f.type = type;
  }
  void Add(double value, Labels labels = {}) {
    MetricFamily& f = (*out_)[index_];
    ClientMetric& m = f.metric.emplace_back();
    // Sorted by name: the exposition lists them in this order, and a fixed
    // order keeps the series text stable for greps and tests.
    std::sort(labels.begin(), labels.end());
    m.label = std::move(labels);
    if (f.type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
  }
  void AddHistogram(const LatencyHistogram::Snapshot& h) {
    ClientMetric& m = (*out_)[index_].metric.emplace_back();
    m.histogram.sample_count = h.count;
    m.histogram.sample_sum = h.sum_seconds;
    for (size_t i = 0; i < h.cumulative.size(); ++i) {
      m.histogram.bucket.push_back(
          {h.cumulative[i], LatencyHistogram::kBoundsSeconds[i]});
    }
    m.histogram.bucket.push_back(
        {h.count, std::numeric_limits<double>::infinity()});
  }

 private:
  std::vector<MetricFamily>* const out_;
  const size_t index_;
};

double D(uint64_t v) { return static_cast<double>(v); }
double Load(const std::atomic<uint64_t>& v) {
  return D(v.load(std::memory_order_relaxed));
}

// RFC 1035 / 2136 / 2845 names of the 4-bit RCODEs.
const char* RcodeName(size_t rcode) {
  static const char* const kNames[] = {
      "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
  return rcode < std::size(kNames) ? kNames[rcode] : nullptr;
}

void CollectRequests(const RequestCounters& counters,
                     std::vector<MetricFamily>* out) {
  const RequestCounters::Snapshot s = counters.Read();
  Family lookups(out, "lufd_lookups_total",
                 "Lookups answered (found or not found), by door and "
                 "identity class.",
                 MetricType::Counter);
  Family misses(out, "lufd_lookup_misses_total",
                "Lookups answered without SED (absent or not visible to "
                "the caller), by door and identity class.",
                MetricType::Counter);
  Family denials(out, "lufd_denials_total",
                 "Requests refused (authentication, authorization, "
                 "validation, quotas and blocks), by door, identity class "
                 "and status code.",
                 MetricType::Counter);
  for (size_t d = 0; d < kDoorCount; ++d) {
    for (size_t c = 0; c < kIdentityClassCount; ++c) {
      const auto& counts = s.by_class[d][c];
      Labels labels = {
          {"class", IdentityClassName(static_cast<IdentityClass>(c))},
          {"door", DoorName(static_cast<Door>(d))}};
      lookups.Add(D(counts.lookups), labels);
      misses.Add(D(counts.misses), labels);
      for (size_t i = 0; i < RequestCounters::kCodeSlots; ++i) {
        Labels with_code = labels;
        with_code.push_back({"code", RequestCounters::CodeLabel(i)});
        denials.Add(D(counts.denials[i]), std::move(with_code));
      }
    }
  }
  Family blocks(out, "lufd_blocks_total",
                "Blocks imposed and enforced by the guard's escalation "
                "ladder, by identity class.",
                MetricType::Counter);
  for (size_t c = 0; c < kIdentityClassCount; ++c) {
    blocks.Add(D(s.blocks[c]),
               {{"class", IdentityClassName(static_cast<IdentityClass>(c))}});
  }
  Family peer_lookups(out, "lufd_peer_lookups_total",
                      "Lookups answered, per peer org and door (at most "
                      "500 orgs; the rest as org=\"_other\").",
                      MetricType::Counter);
  Family peer_misses(out, "lufd_peer_lookup_misses_total",
                     "Lookups answered without SED, per peer org and door.",
                     MetricType::Counter);
  Family peer_denials(out, "lufd_peer_denials_total",
                      "Requests refused, per peer org and door.",
                      MetricType::Counter);
  Family peer_blocks(out, "lufd_peer_blocks_total",
                     "Blocks imposed on a peer org.", MetricType::Counter);
  for (const RequestCounters::OrgCounts& org : s.orgs) {
    for (size_t d = 0; d < kDoorCount; ++d) {
      Labels labels = {{"door", DoorName(static_cast<Door>(d))},
                       {"org", org.org}};
      peer_lookups.Add(D(org.lookups[d]), labels);
      peer_misses.Add(D(org.misses[d]), labels);
      peer_denials.Add(D(org.denials[d]), labels);
    }
    peer_blocks.Add(D(org.blocks), {{"org", org.org}});
  }
}

void CollectDns(dns::DnsFrontend& dns, std::vector<MetricFamily>* out) {
  if (const dns::DnsServerStats* st = dns.server_stats()) {
    Family queries(out, "lufd_dns_queries_total",
                   "DNS messages received, by transport.", MetricType::Counter);
    queries.Add(Load(st->udp_queries), {{"transport", "udp"}});
    queries.Add(Load(st->tcp_queries), {{"transport", "tcp"}});
    queries.Add(Load(st->tls_queries), {{"transport", "tls"}});
    Family responses(out, "lufd_dns_responses_total",
                     "DNS responses sent, by RCODE (header bits).",
                     MetricType::Counter);
    for (size_t r = 0; r < 16; ++r) {
      const uint64_t n = st->rcode[r].load(std::memory_order_relaxed);
      const char* name = RcodeName(r);
      // The common RCODEs always (a rate needs the series from the start),
      // the rare ones once seen.
      if (name == nullptr && n == 0) continue;
      responses.Add(D(n),
                    {{"rcode", name != nullptr ? std::string(name)
                                               : absl::StrCat("RCODE", r)}});
    }
    Family unanswered(out, "lufd_dns_unanswered_total",
                      "DNS queries given no response (unparseable, rate "
                      "limited without slip, blocked sources).",
                      MetricType::Counter);
    unanswered.Add(Load(st->unanswered));
  }
  const dns::ResponderStats& rs = dns.responder()->stats();
  Family signatures(out, "lufd_dnssec_signatures_total",
                    "RRSIGs made: online (per query, not in any cache) and "
                    "sign_ahead (by the background signer).",
                    MetricType::Counter);
  signatures.Add(Load(rs.signed_on_demand), {{"kind", "online"}});
  const dns::SignAheadSigner* signer = dns.signer();
  signatures.Add(signer == nullptr ? 0 : Load(signer->stats().signed_total),
                 {{"kind", "sign_ahead"}});
  Family hits(out, "lufd_dnssec_signature_cache_hits_total",
              "RRSIGs served from a cache: stored (signed ahead, loaded "
              "from the store) or lru (signed online earlier).",
              MetricType::Counter);
  hits.Add(Load(rs.sig_store_hits), {{"cache", "stored"}});
  hits.Add(Load(rs.sig_lru_hits), {{"cache", "lru"}});
  Family misses(out, "lufd_dnssec_signature_cache_misses_total",
                "RRSIGs neither cache could serve (each one signed online).",
                MetricType::Counter);
  misses.Add(Load(rs.signed_on_demand));
  Family entries(out, "lufd_dnssec_signature_cache_entries",
                 "Signatures held, by cache.", MetricType::Gauge);
  if (const dns::SignatureCache* c = dns.signature_cache()) {
    entries.Add(D(c->size()), {{"cache", "stored"}});
  }
  if (const dns::SignatureLru* c = dns.signature_lru()) {
    entries.Add(D(c->size()), {{"cache", "lru"}});
  }
  Family is_signer(out, "lufd_dnssec_sign_ahead_leader",
                   "1 while this instance holds the sign-ahead lease.",
                   MetricType::Gauge);
  is_signer.Add(signer != nullptr && signer->IsSigner() ? 1 : 0);
}

void CollectView(const MetricsSources& s, absl::Time now,
                 std::vector<MetricFamily>* out) {
  if (s.follower == nullptr) return;
  const FollowerState st = s.follower->state();
  Family view_serial(out, "lufd_view_serial",
                     "Change-log serial of the view lookups are answered "
                     "from.",
                     MetricType::Gauge);
  view_serial.Add(D(st.view_serial));
  Family store_serial(out, "lufd_store_serial",
                      "Latest change-log serial seen in the store this "
                      "instance reads (primary or standby).",
                      MetricType::Gauge);
  store_serial.Add(D(st.store_serial));
  Family lag_serials(out, "lufd_view_lag_serials",
                     "lufd_store_serial - lufd_view_serial.",
                     MetricType::Gauge);
  lag_serials.Add(st.store_serial > st.view_serial
                      ? D(st.store_serial - st.view_serial)
                      : 0);
  Family lag_seconds(out, "lufd_view_lag_seconds",
                     "Seconds since the view was last found at the store's "
                     "latest serial (grows while the store is unreachable).",
                     MetricType::Gauge);
  const Readiness r = EvaluateReadiness(
      st, now,
      s.readiness != nullptr ? s.readiness->max_view_lag() : absl::Seconds(5));
  lag_seconds.Add(r.lag == absl::InfiniteDuration()
                      ? std::numeric_limits<double>::infinity()
                      : absl::ToDoubleSeconds(r.lag));
  if (st.replication_lag.has_value()) {
    Family replication(out, "lufd_replication_lag_seconds",
                       "How far the database this instance reads trails its "
                       "primary (PostgreSQL standby replay lag; 0 on a "
                       "primary or when all WAL received is replayed).",
                       MetricType::Gauge);
    replication.Add(absl::ToDoubleSeconds(*st.replication_lag));
  }
  Family up(out, "lufd_store_up",
            "1 when the follower's last read of the change log succeeded.",
            MetricType::Gauge);
  up.Add(st.health.ok() ? 1 : 0);
  Family errors(out, "lufd_store_poll_errors_total",
                "Change-log reads that failed.", MetricType::Counter);
  errors.Add(D(st.poll_errors));
  Family reloads(out, "lufd_view_reloads_total",
                 "Views rebuilt from a store snapshot instead of applying "
                 "the change log.",
                 MetricType::Counter);
  reloads.Add(D(st.reloads));
  Family latency(out, "lufd_store_poll_duration_seconds",
                 "Latency of the follower's change-log reads "
                 "(Store::ReadChanges), failed ones included.",
                 MetricType::Histogram);
  latency.AddHistogram(s.follower->poll_latency().Read());
  if (s.readiness != nullptr) {
    Family ready(out, "lufd_ready",
                 "1 while gRPC health reports SERVING for readiness "
                 "(view lag within store.max_view_lag).",
                 MetricType::Gauge);
    ready.Add(s.readiness->ready() ? 1 : 0);
  }
}

}  // namespace

std::vector<MetricFamily> LufdCollector::Collect() const {
  return CollectAt(absl::Now());
}

std::vector<MetricFamily> LufdCollector::CollectAt(absl::Time now) const {
  std::vector<MetricFamily> out;
  out.reserve(40);
  {
    Family info(&out, "lufd_build_info", "The lufd version (value 1).",
                MetricType::Gauge);
    info.Add(1, {{"version", s_.version}});
  }
  if (s_.counters != nullptr) CollectRequests(*s_.counters, &out);
  if (s_.dns != nullptr) CollectDns(*s_.dns, &out);
  CollectView(s_, now, &out);
  if (s_.guard != nullptr) {
    Family tracked(&out, "lufd_guard_tracked_identities",
                   "Identities (orgs and source prefixes) the guard tracks.",
                   MetricType::Gauge);
    tracked.Add(D(s_.guard->tracked()));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& listen, MetricsSources sources) {
  std::unique_ptr<MetricsEndpoint> e(new MetricsEndpoint());
  e->collector_ = std::make_shared<LufdCollector>(std::move(sources));
  // civetweb reports a failed bind by throwing; nothing else of it crosses
  // this function. Two threads: scrapes are rare and cheap; a slow client
  // is cut off after the request timeout rather than holding one forever.
  try {
    e->exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", listen, "num_threads", "2",
                                 "request_timeout_ms", "10000"});
  } catch (const std::exception& ex) {
    return absl::UnavailableError(absl::StrCat(
        "metrics.listen: cannot listen on ", listen, ": ", ex.what()));
  }
  e->exposer_->RegisterCollectable(e->collector_);
  const std::vector<int> ports = e->exposer_->GetListeningPorts();
  e->port_ = ports.empty() ? 0 : ports.front();
  return e;
}

MetricsEndpoint::~MetricsEndpoint() {
  // The exposer's threads stop (and finish any scrape) before the sources
  // the collector reads can go.
  exposer_.reset();
}

}  // namespace lufd
