// The two value grammars of lufd's configuration, in one place: durations
// ("30s", "1d12h") and listen addresses ("127.0.0.1:53", "[::1]:50051").
// Validation (server/ops/config.h), the gRPC server and the DNS listeners
// all parse with these, so a value the check accepts is a value start-up
// accepts, with the same meaning.
//
// Pure functions; thread-safe.
#ifndef LUFD_SERVER_OPS_CONFIG_VALUES_H_
#define LUFD_SERVER_OPS_CONFIG_VALUES_H_

#include <sys/socket.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace lufd {

// A duration: "0", or one or more <number><unit> terms with the units of
// absl::ParseDuration plus days ("d"): "30d", "1d12h", "1.5d", "90m",
// "1h30m", "250ms". Surrounding whitespace is ignored. Signs and "inf" are
// not accepted: every configured duration is a finite length of time.
// INVALID_ARGUMENT ("invalid duration \"...\" (...)") otherwise.
absl::StatusOr<absl::Duration> ParseConfigDuration(absl::string_view text);

// A duration field that ValidateConfig has accepted. Zero if `text` does
// not parse, which a validated config never reaches.
absl::Duration ConfigDuration(absl::string_view text);

// Splits "host:port" / "[v6addr]:port" (port 0-65535; 0 = any free port).
// The host may be a name (the gRPC listener resolves it).
// INVALID_ARGUMENT when malformed.
absl::Status ParseListenAddress(absl::string_view listen, std::string* host,
                                int* port);

// A listen address whose host is an IPv4 or IPv6 literal (the DNS
// listeners bind exactly what is written; no name resolution), as a socket
// address with the port set.
absl::Status ParseIpListenAddress(absl::string_view listen,
                                  sockaddr_storage* addr, socklen_t* len);

// The numeric host of a socket address ("192.0.2.1", "2001:db8::1"); a
// v4-mapped IPv6 address as plain IPv4, so one client counts once whichever
// way it came in on a dual-stack socket. The per-source key of the gRPC and
// DNS TCP connection caps, and the host part of DnsServer::bound().
std::string HostText(const sockaddr_storage& address);

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_CONFIG_VALUES_H_
