// Server configuration: YAML as written by operators -> lufd.v1.ServerConfig.
//
// The YAML is converted generically through protobuf reflection (map keys are
// proto field names, nested maps are messages, sequences are repeated
// fields), in the style of Envoy's --mode validate: unknown keys and wrong
// types are rejected with the field path ("grpc.tls.cert_fil: unknown
// field"). After conversion the defaults are filled in from one table
// (ConfigDefaults) and the semantic checks run (TLS files load, listen
// addresses parse, durations valid, DNSSEC settings consistent, store URL
// scheme known). All errors are collected, not just the first, so an
// operator can fix a file in one pass.
//
// Pure functions; thread-safe. No exception escapes: yaml-cpp exceptions are
// caught here and become INVALID_ARGUMENT.
#ifndef LUFD_SERVER_OPS_CONFIG_H_
#define LUFD_SERVER_OPS_CONFIG_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lufd/v1/config.pb.h"
#include "server/ops/config_values.h"

namespace lufd {

// Converts YAML text to a ServerConfig without defaults or semantic checks.
// On failure the status message lists one error per line, each starting
// with the field path.
absl::StatusOr<lufd::v1::ServerConfig> ParseConfigYaml(absl::string_view yaml);

// The defaults table (every documented default of config.proto; fields
// without a default are unset). dns.workers and the per-zone defaults are
// computed by the Apply functions below.
const lufd::v1::ServerConfig& ConfigDefaults();

// Fills every unset field that has a default. Modules read the result and
// never default a field themselves.
void ApplyConfigDefaults(lufd::v1::ServerConfig* config);

// The same for a DnsConfig alone (tests that build one by hand).
void ApplyDnsDefaults(lufd::v1::DnsConfig* dns);

// Semantic checks on a config with defaults applied. Returns every problem,
// one per line, in the status message (INVALID_ARGUMENT).
// This is all of start-up's validation that needs no store and no socket:
// `lufd --check-config` and LufdServer::Start both run it.
absl::Status ValidateConfig(const lufd::v1::ServerConfig& config);

// The dns.dnssec rules alone (algorithm, scheme, durations and their
// relations), for the DNSSEC modules that take a DnssecConfig.
absl::Status ValidateDnssecConfig(const lufd::v1::DnssecConfig& config);

// Reads `path`, parses, applies defaults, then `overrides` (command-line
// flags; may be empty), and validates the result.
absl::StatusOr<lufd::v1::ServerConfig> LoadConfigFile(
    const std::string& path,
    const std::function<void(lufd::v1::ServerConfig*)>& overrides = nullptr);

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_CONFIG_H_
