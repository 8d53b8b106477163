// The Prometheus endpoint (metrics.listen): plain HTTP, GET /metrics, served
// by prometheus-cpp's civetweb exposer on threads of its own.
//
// Nothing here is on the query path. Every metric is read at scrape time
// from counters the components keep anyway (relaxed atomics: the DNS
// server's and responder's stats, the signer's, RequestCounters, the
// follower's state and poll-latency histogram, the guard's table size),
// by one prometheus::Collectable (LufdCollector). No prometheus-cpp
// Counter is touched per query, so a scrape costs the scraper's thread a
// few microseconds of reads and the serving threads nothing.
//
// docs/metrics.md lists every metric, its labels and meaning; keep it in
// step with LufdCollector::Collect().
#ifndef LUFD_SERVER_APP_METRICS_H_
#define LUFD_SERVER_APP_METRICS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/app/readiness.h"
#include "server/core/follower.h"
#include "server/core/view.h"
#include "server/dns/frontend.h"
#include "server/guard/guard.h"
#include "server/ops/request_counters.h"

namespace prometheus {
class Exposer;
}

namespace lufd {

// What the collector reads. Pointers that may be null: dns (no DNS front
// door), guard (guard.enabled false), readiness (not started). All must
// outlive the collector's last Collect() (MetricsEndpoint's destruction).
struct MetricsSources {
  std::string version;
  const ViewHolder* views = nullptr;
  const ChangeFollower* follower = nullptr;
  const RequestCounters* counters = nullptr;
  dns::DnsFrontend* dns = nullptr;
  const Guard* guard = nullptr;
  const ReadinessMonitor* readiness = nullptr;
};

class LufdCollector final : public prometheus::Collectable {
 public:
  explicit LufdCollector(MetricsSources sources) : s_(std::move(sources)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  // Collect() as of `now` (the lag gauges): for tests.
  std::vector<prometheus::MetricFamily> CollectAt(absl::Time now) const;

 private:
  const MetricsSources s_;
};

// The listener: binds at Start (UNAVAILABLE naming the address when it
// cannot), serves until destroyed.
class MetricsEndpoint {
 public:
  // `listen` is "host:port" with an IP literal host (port 0: any free one).
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& listen, MetricsSources sources);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  int port() const { return port_; }

 private:
  MetricsEndpoint() = default;
  std::shared_ptr<LufdCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace lufd

#endif  // LUFD_SERVER_APP_METRICS_H_
