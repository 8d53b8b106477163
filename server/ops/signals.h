// Termination signals (SIGTERM, SIGINT) handled synchronously: the main
// thread blocks them before any other thread starts (threads inherit the
// mask), then waits for one with sigwait. No async-signal-safety concerns,
// and gRPC's threads never see the signal.
//
// Call BlockTerminationSignals() first thing in main(), before creating any
// thread; WaitForTerminationSignal() from exactly one thread.
#ifndef LUFD_SERVER_OPS_SIGNALS_H_
#define LUFD_SERVER_OPS_SIGNALS_H_

namespace lufd {

void BlockTerminationSignals();

// Blocks until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_SIGNALS_H_
