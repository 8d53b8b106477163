#include "server/ops/signals.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cerrno>

#include "absl/time/clock.h"

namespace lufd {
namespace {

sigset_t ServerSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockServerSignals() {
  sigset_t set = ServerSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForServerSignal(absl::Duration timeout) {
  const sigset_t set = ServerSignals();
  const bool forever = timeout == absl::InfiniteDuration();
  const absl::Time deadline =
      forever ? absl::InfiniteFuture() : absl::Now() + timeout;
  while (true) {
    int sig = -1;
    if (forever) {
      sig = sigwaitinfo(&set, nullptr);
    } else {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return 0;
      const timespec ts = absl::ToTimespec(left);
      sig = sigtimedwait(&set, nullptr, &ts);
    }
    if (sig > 0) return sig;
    if (errno == EAGAIN) return 0;  // Timed out.
    // EINTR (another signal, e.g. a debugger): wait again, to the same
    // deadline.
  }
}

}  // namespace lufd
