#include "server/ops/signals.h"

#include <pthread.h>
#include <signal.h>

namespace lufd {
namespace {

sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSet();
  int sig = 0;
  // sigwait only fails for an invalid set; loop is bounded by signal arrival.
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace lufd
