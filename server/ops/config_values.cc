#include "server/ops/config_values.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lufd {

absl::StatusOr<absl::Duration> ParseConfigDuration(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration \"", text,
                     "\" (use e.g. \"30s\", \"100ms\", \"5m\", \"1d12h\"; "
                     "\"0\" for none)"));
  };
  if (text == "0") return absl::ZeroDuration();
  if (text.empty()) return bad();
  absl::Duration total = absl::ZeroDuration();
  absl::string_view rest = text;
  while (!rest.empty()) {
    size_t n = 0;
    while (n < rest.size() &&
           (absl::ascii_isdigit(static_cast<unsigned char>(rest[n])) ||
            rest[n] == '.')) {
      ++n;
    }
    size_t u = n;
    while (u < rest.size() &&
           absl::ascii_isalpha(static_cast<unsigned char>(rest[u]))) {
      ++u;
    }
    const absl::string_view number = rest.substr(0, n);
    const absl::string_view unit = rest.substr(n, u - n);
    rest.remove_prefix(u);
    if (number.empty() || unit.empty()) return bad();
    // absl::ParseDuration has every unit but days; a day is 24 hours here
    // (no calendar: these are signature lifetimes and timeouts).
    absl::Duration term;
    if (unit == "d") {
      if (!absl::ParseDuration(absl::StrCat(number, "h"), &term)) return bad();
      term *= 24;
    } else if (unit == "h" || unit == "m" || unit == "s" || unit == "ms" ||
               unit == "us" || unit == "ns") {
      if (!absl::ParseDuration(absl::StrCat(number, unit), &term)) {
        return bad();
      }
    } else {
      return bad();
    }
    total += term;
  }
  if (total == absl::InfiniteDuration()) return bad();
  return total;
}

absl::Duration ConfigDuration(absl::string_view text) {
  absl::StatusOr<absl::Duration> d = ParseConfigDuration(text);
  return d.ok() ? *d : absl::ZeroDuration();
}

absl::Status ParseListenAddress(absl::string_view listen, std::string* host,
                                int* port) {
  absl::string_view h;
  absl::string_view p;
  if (absl::StartsWith(listen, "[")) {
    const size_t close = listen.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid listen address \"", listen, "\" (want \"[v6addr]:port\")"));
    }
    h = listen.substr(1, close - 1);
    p = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == absl::string_view::npos || listen.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid listen address \"", listen,
                       "\" (want \"host:port\" or \"[v6addr]:port\")"));
    }
    h = listen.substr(0, colon);
    p = listen.substr(colon + 1);
  }
  int port_value = -1;
  if (h.empty() || !absl::SimpleAtoi(p, &port_value) || port_value < 0 ||
      port_value > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid listen address \"", listen, "\" (host and port 0-65535)"));
  }
  *host = std::string(h);
  *port = port_value;
  return absl::OkStatus();
}

absl::Status ParseIpListenAddress(absl::string_view listen,
                                  sockaddr_storage* addr, socklen_t* len) {
  std::string host;
  int port = 0;
  if (absl::Status s = ParseListenAddress(listen, &host, &port); !s.ok()) {
    return s;
  }
  std::memset(addr, 0, sizeof(*addr));
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("host \"", host, "\" must be an IPv4 or IPv6 address"));
  }
  return absl::OkStatus();
}

std::string HostText(const sockaddr_storage& address) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
  } else if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
    }
  }
  return buf;
}

}  // namespace lufd
