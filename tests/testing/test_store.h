// Test helper: a record store on disk and a hand-moved clock, the set-up
// that the record service's unit tests (kiosk passes, learner cards, ...)
// and records_fixture.h share.
//
//  - FakeClock: a clock the test moves by hand, for the options of the
//    parts that take one (kiosk passes, learner cards, the audit log).
//  - FreshStore(name): a RecordStore on disk in an emptied directory under
//    TEST_TMPDIR; OpenStore(dir) opens (or re-opens, for restart tests) one.
#ifndef LIFELONG_TESTS_TESTING_TEST_STORE_H_
#define LIFELONG_TESTS_TESTING_TEST_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "services/records/record_store.h"

namespace lifelong::testing {

// A clock that stands still until the test moves `now`.
struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1790000000);
  // The clock as the options of KioskPasses, LearnerCards and AuditLog take
  // it; the FakeClock must outlive whoever holds it.
  std::function<absl::Time()> fn() {
    return [this] { return now; };
  }
};

// Opens (creating) the store in `dir`; the test fails fatally (abort with
// the error) when it cannot.
std::unique_ptr<records::RecordStore> OpenStore(const std::string& dir);
// OpenStore of an emptied directory TEST_TMPDIR/<name>.
std::unique_ptr<records::RecordStore> FreshStore(const std::string& name);

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_TESTING_TEST_STORE_H_
