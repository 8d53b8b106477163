// systemd's service notification protocol (sd_notify(3)), written out
// rather than linked from libsystemd: one datagram of "KEY=VALUE" lines to
// the unix socket named by $NOTIFY_SOCKET (a path, or "@name" for the
// abstract namespace). lufd sends
//   READY=1                       once both front doors serve,
//   RELOADING=1 + MONOTONIC_USEC  when a SIGHUP reload starts, READY=1 after,
//   STOPPING=1                    when draining starts,
//   WATCHDOG=1                    every WatchdogInterval() when the unit
//                                 sets WatchdogSec=.
// Without $NOTIFY_SOCKET (not started by systemd) every call is a no-op.
//
// Thread-safe (no state; one socket per call: a handful of messages per
// process lifetime, and WATCHDOG at most every few seconds).
#ifndef LUFD_SERVER_OPS_SD_NOTIFY_H_
#define LUFD_SERVER_OPS_SD_NOTIFY_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace lufd {

// Sends `state` ("READY=1", several lines allowed) to $NOTIFY_SOCKET.
// OK when sent or when the variable is unset; the error otherwise (a
// malformed address, a socket that is gone).
absl::Status SdNotify(absl::string_view state);

// "RELOADING=1\nMONOTONIC_USEC=<now>" (systemd 253+ wants the clock with it
// for Type=notify-reload; older versions ignore it).
absl::Status SdNotifyReloading();

// Half of $WATCHDOG_USEC when it is set for this process ($WATCHDOG_PID
// unset or ours), as sd_watchdog_enabled(3) says to ping; zero otherwise.
absl::Duration WatchdogInterval();

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_SD_NOTIFY_H_
