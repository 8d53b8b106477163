// Configuration reload (SIGHUP): what a new config file changes, field by
// field, and which of those changes a running lufd takes over live.
//
// DiffConfigs() compares two validated configs (defaults applied) through
// protobuf reflection and lists every field whose value differs: scalars by
// their full path ("guard.peer.lookups_per_second"), repeated fields as a
// whole ("dns.zones", "dns.listen"). Each change is classified by
// IsLiveField():
//   live (applied without a restart): log.level, log.format, the guard's
//   per-class limits (guard.peer.*, guard.anonymous.*) and guard.slip;
//   everything else needs a restart and is left as it was: the store
//   (url, primary_url, ...), listeners (grpc.listen, dns.listen,
//   dns.dot.listen), TLS file *paths* and reload intervals, dns zones and
//   dnssec settings, the guard's table shape (max_identities, block_ladder,
//   windows, shared), audit, metrics, drain_timeout, ...
// The *contents* of the TLS files are not config fields: they are re-read
// by the listeners themselves (grpc: gRPC's file watcher every
// grpc.tls.reload_interval; DoT: at once on SIGHUP, see
// LufdServer::ApplyLiveConfig).
//
// MergeLiveFields() builds the config the server runs after a reload: the
// running one with the live changes copied in, so the next reload's diff
// still names the changes that were not applied.
//
// Pure functions; thread-safe.
#ifndef LUFD_SERVER_OPS_RELOAD_H_
#define LUFD_SERVER_OPS_RELOAD_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "lufd/v1/config.pb.h"

namespace lufd {

struct ConfigChange {
  std::string field;      // "guard.peer.burst", "dns.zones".
  std::string old_value;  // Text form; "(unset)" when absent.
  std::string new_value;
  bool live = false;  // Applied without a restart.
};

struct ConfigDiff {
  std::vector<ConfigChange> changes;  // In field-number order.
  bool empty() const { return changes.empty(); }
  // The fields of the live / restart-only changes.
  std::vector<std::string> live_fields() const;
  std::vector<std::string> restart_fields() const;
};

// True for the fields a running lufd applies on reload (see the top).
bool IsLiveField(absl::string_view field);

// Every field that differs between `running` and `next`.
ConfigDiff DiffConfigs(const lufd::v1::ServerConfig& running,
                       const lufd::v1::ServerConfig& next);

// `running` with the live changes of `diff` (computed from `running` and
// `next`) taken from `next`; the other fields keep their running values.
lufd::v1::ServerConfig MergeLiveFields(const lufd::v1::ServerConfig& running,
                                       const lufd::v1::ServerConfig& next,
                                       const ConfigDiff& diff);

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_RELOAD_H_
