// The signals lufd acts on, handled synchronously: SIGTERM and SIGINT
// (drain and exit) and SIGHUP (reload the config). The main thread blocks
// them before any other thread starts (threads inherit the mask), then
// waits for them with sigtimedwait. No async-signal-safety concerns, and
// gRPC's threads never see the signals.
//
// Call BlockServerSignals() first thing in main(), before creating any
// thread; WaitForServerSignal() from exactly one thread.
#ifndef LUFD_SERVER_OPS_SIGNALS_H_
#define LUFD_SERVER_OPS_SIGNALS_H_

#include "absl/time/time.h"

namespace lufd {

void BlockServerSignals();

// Blocks until SIGTERM, SIGINT or SIGHUP arrives (returns its number) or
// `timeout` passes (returns 0; absl::InfiniteDuration() = no timeout).
int WaitForServerSignal(absl::Duration timeout = absl::InfiniteDuration());

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_SIGNALS_H_
