// Eventually: the one way unit tests wait for something another thread (or
// process) makes true: it polls a condition until it holds or a deadline
// passes, instead of sleeping a guessed time and hoping.
//
//   EXPECT_TRUE(Eventually([&] { return signer->IsSigner(); }));
//   ASSERT_TRUE(Eventually(absl::Seconds(5), [&] { return Lookup(...).ok();
//   }));
//
// The result is a ::testing::AssertionResult: true as soon as the condition
// holds, otherwise false with a message saying how long and how often it was
// polled. The timeout only bounds a failing test; a passing one returns as
// soon as the condition holds, so generous timeouts cost nothing. Polls
// start at 1 ms and back off to 100 ms, so a condition that needs an RPC or
// a Store read is not hammered while the machine is busy.
//
// Thread-safety: the condition runs on the calling thread only; whatever it
// reads must be safe to read while other threads write it (atomics, locked
// accessors). Header-only; no state.
#ifndef LUFD_TESTS_UNIT_TESTING_EVENTUALLY_H_
#define LUFD_TESTS_UNIT_TESTING_EVENTUALLY_H_

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace lufd::testing {

// Long enough for a loaded, shared CI machine; only a failure waits it out.
inline constexpr absl::Duration kEventuallyTimeout = absl::Seconds(20);

// Polls `condition` (callable as bool()) until it returns true or `timeout`
// has passed; the condition is always tried at least once more after the
// deadline, so a slow last poll does not turn into a failure.
template <typename Condition>
::testing::AssertionResult Eventually(absl::Duration timeout,
                                      Condition&& condition) {
  const absl::Time start = absl::Now();
  const absl::Time end = start + timeout;
  absl::Duration pause = absl::Milliseconds(1);
  int polls = 0;
  while (absl::Now() < end) {
    ++polls;
    if (condition()) return ::testing::AssertionSuccess();
    absl::SleepFor(
        std::min(pause, std::max(end - absl::Now(), absl::ZeroDuration())));
    pause = std::min(pause * 2, absl::Milliseconds(100));
  }
  ++polls;
  if (condition()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "condition still false after " << (absl::Now() - start) << " ("
         << polls << " polls, timeout " << timeout << ")";
}

template <typename Condition>
::testing::AssertionResult Eventually(Condition&& condition) {
  return Eventually(kEventuallyTimeout, std::forward<Condition>(condition));
}

}  // namespace lufd::testing

#endif  // LUFD_TESTS_UNIT_TESTING_EVENTUALLY_H_
