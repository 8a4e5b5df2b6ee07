#ifndef LIFELONG_TESTS_TESTING_BOUNDED_WAIT_H_
#define LIFELONG_TESTS_TESTING_BOUNDED_WAIT_H_

// Bounded waits for tests that hold a thread of the code under test (a hook
// that blocks until the test lets it go) or wait for one to arrive.
//
// An unbounded wait turns a test's early return (an ASSERT that failed
// before the release) into a hang until Bazel's timeout: the fixture's
// destructor joins the held thread, which waits forever. These waits give up
// after kTestWaitLimit, fail the test naming what they waited for, and return
// false, so the held thread goes on and the test ends within a minute.

#include <type_traits>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace lifelong::testing {

inline constexpr absl::Duration kTestWaitLimit = absl::Seconds(60);

// Waits with `mu` held (the caller holds it) until `done` holds: a predicate
// (`done()`) or a pointer to a flag guarded by `mu`. Returns false, and fails
// the test, when it did not within `limit`.
template <typename Predicate>
bool AwaitOrFail(absl::Mutex* mu, const Predicate& done, absl::string_view what,
                 absl::Duration limit = kTestWaitLimit) {
  bool came;
  if constexpr (std::is_pointer_v<Predicate>) {
    came = mu->AwaitWithTimeout(absl::Condition(static_cast<const bool*>(done)), limit);
  } else {
    came = mu->AwaitWithTimeout(absl::Condition(&done), limit);
  }
  if (!came) ADD_FAILURE() << "gave up after " << limit << " waiting for " << what;
  return came;
}

// Waits for `n` to be notified; false, and a test failure, past `limit`.
inline bool WaitOrFail(const absl::Notification& n, absl::string_view what, absl::Duration limit = kTestWaitLimit) {
  if (n.WaitForNotificationWithTimeout(limit)) return true;
  ADD_FAILURE() << "gave up after " << limit << " waiting for " << what;
  return false;
}

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_TESTING_BOUNDED_WAIT_H_
