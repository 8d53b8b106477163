#include "server/ops/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lufd {

absl::Status SdNotify(absl::string_view state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || env[0] == '\0') return absl::OkStatus();
  const std::string path = env;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') || path.size() < 2 ||
      path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("NOTIFY_SOCKET \"", path, "\" is not a unix socket"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  // "@name": Linux's abstract namespace, whose names start with a NUL.
  if (path[0] == '@') addr.sun_path[0] = '\0';
  const socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "NOTIFY_SOCKET: socket");
  }
  const ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                              reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = errno;
  close(fd);
  if (sent < 0) {
    return absl::ErrnoToStatus(err, absl::StrCat("NOTIFY_SOCKET ", path));
  }
  return absl::OkStatus();
}

absl::Status SdNotifyReloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000u +
                        static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  return SdNotify(absl::StrCat("RELOADING=1\nMONOTONIC_USEC=", usec));
}

absl::Duration WatchdogInterval() {
  const char* usec_text = std::getenv("WATCHDOG_USEC");
  uint64_t usec = 0;
  if (usec_text == nullptr || !absl::SimpleAtoi(usec_text, &usec) ||
      usec == 0) {
    return absl::ZeroDuration();
  }
  // Set for another process (a parent's watchdog inherited): not ours.
  if (const char* pid_text = std::getenv("WATCHDOG_PID"); pid_text != nullptr) {
    int64_t pid = 0;
    if (!absl::SimpleAtoi(pid_text, &pid) || pid != getpid()) {
      return absl::ZeroDuration();
    }
  }
  return absl::Microseconds(usec) / 2;
}

}  // namespace lufd
