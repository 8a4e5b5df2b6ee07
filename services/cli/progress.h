// A progress line for long-running tools (import, export, the demo load):
// "import: 120,000/1,000,000 statements (41,250/s, ETA 21s)" written at most
// once per interval, and a closing summary. Thread-safe.
#ifndef LIFELONG_SERVICES_CLI_PROGRESS_H_
#define LIFELONG_SERVICES_CLI_PROGRESS_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lifelong::cli {

// "1,234,567".
std::string WithThousands(int64_t n);
// "3s", "2m05s", "1h02m".
std::string ShortDuration(absl::Duration d);

class Progress {
 public:
  // `what` prefixes every line; `unit` names the counted things; `total` 0
  // means unknown (no ETA). Writes to `out`, which must outlive this object.
  Progress(std::ostream& out, std::string what, std::string unit, int64_t total,
           absl::Duration interval = absl::Seconds(1));

  void set_total(int64_t total);
  // Reports `done` so far (and an optional note such as "learner 12,000");
  // prints when the interval has passed since the last line.
  void Update(int64_t done, const std::string& note = "");
  // Prints "what: done unit in 12.3s (rate/s)" plus `note`; returns the rate.
  double Finish(int64_t done, const std::string& note = "");

  absl::Duration Elapsed() const { return absl::Now() - start_; }

 private:
  std::ostream& out_;
  const std::string what_;
  const std::string unit_;
  const absl::Duration interval_;
  const absl::Time start_;
  absl::Mutex mu_;
  int64_t total_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_PROGRESS_H_
