// A token bucket of failed guesses per key (a kiosk): each key may fail
// `max_failures` times in a row, and earns one more failure every `refill`.
// Kiosk pass codes and learner-card PINs both limit guessing with it.
// Not thread-safe: the owner calls it under its own lock.
#ifndef LIFELONG_SERVICES_RECORDS_FAILURE_BUDGET_H_
#define LIFELONG_SERVICES_RECORDS_FAILURE_BUDGET_H_

#include <map>
#include <string>

#include "absl/time/time.h"

namespace lifelong::records {

class FailureBudget {
 public:
  FailureBudget(int max_failures, absl::Duration refill) : max_failures_(max_failures), refill_(refill) {}

  // Whether `key` may guess at `now` (earns what the time since its last
  // guess refilled first). A key never seen has the full budget.
  bool MayGuess(const std::string& key, absl::Time now);
  // Spends one failure of `key` (after a wrong guess).
  void Failed(const std::string& key) { buckets_[key].tokens -= 1; }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };
  const int max_failures_;
  const absl::Duration refill_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_FAILURE_BUDGET_H_
