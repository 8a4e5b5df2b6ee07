#include "services/records/failure_budget.h"

#include <algorithm>

namespace lifelong::records {

bool FailureBudget::MayGuess(const std::string& key, absl::Time now) {
  Bucket& b = buckets_[key];
  if (b.refilled == absl::Time()) {
    b.tokens = max_failures_;
    b.refilled = now;
  }
  const double earned = absl::FDivDuration(now - b.refilled, refill_);
  b.tokens = std::min<double>(max_failures_, b.tokens + std::max(0.0, earned));
  b.refilled = now;
  return b.tokens >= 1;
}

}  // namespace lifelong::records
