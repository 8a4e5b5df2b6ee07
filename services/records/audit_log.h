// AuditLog: what the record service writes to the store's audit family, made
// so that a flood of bad calls cannot flood the log or hide who was refused.
//
//  - A call with a verified principal is written with its subject and role,
//    granted or refused (PERMISSION_DENIED for its role, RESOURCE_EXHAUSTED
//    for its rate): RecordCall() (gRPC and xAPI calls), Record().
//  - Refusals that an attacker can repeat without limit are sampled: calls
//    without a valid credential (one bucket for all of them) and rate-limited
//    calls (one bucket per principal). In each `window` the first
//    `sampled_per_window` refusals of a bucket are written one row each; the
//    rest are counted and written as one summary row (operation
//    kSampledOperation, outcome the status code, detail "N more ... by
//    address ...") when the window closes — on the next refusal after it, on
//    Flush(), or on destruction.
//  - Calls without a valid credential are also limited per client address
//    (a token bucket, `unauthenticated_burst` then `unauthenticated_per_second`):
//    AllowUnauthenticated() says whether an address still has budget;
//    callers refuse the rest with RESOURCE_EXHAUSTED. Valid credentials from
//    the same address are not affected.
//
// Rows are stamped with the injected clock (`now`). The record service and
// its xAPI endpoint write through one AuditLog (records_server.h).
//
// Thread-safe. Does not own the store.
#ifndef LIFELONG_SERVICES_RECORDS_AUDIT_LOG_H_
#define LIFELONG_SERVICES_RECORDS_AUDIT_LOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/auth/principal.h"
#include "services/records/record_store.h"

namespace lifelong::records {

inline constexpr char kUnauthenticatedSubject[] = "(unauthenticated)";
inline constexpr char kSampledOperation[] = "(refusals counted, not logged one by one)";

struct AuditLogOptions {
  absl::Duration window = absl::Minutes(1);
  int sampled_per_window = 10;
  double unauthenticated_burst = 50;
  double unauthenticated_per_second = 5;
  // Largest number of client addresses tracked; past it, addresses whose
  // bucket is full again are forgotten.
  size_t max_tracked_addresses = 100000;
  std::function<absl::Time()> now;  // default absl::Now
};

class AuditLog {
 public:
  explicit AuditLog(RecordStore* store, AuditLogOptions options = {});
  // Writes the summaries of the open windows.
  ~AuditLog();

  // One row for a call whose principal was verified (granted or refused);
  // rate-limited refusals (outcome RESOURCE_EXHAUSTED) are sampled per
  // subject and role. Write failures are logged, not returned.
  void Record(AuditEvent event);
  // Record() of the row of a call by `who` to `operation` (a gRPC method or
  // "xapi:<METHOD> <path>") about `learner`'s records ("" : several or
  // none), which ended with `outcome` ("OK", a status code name, "HTTP
  // 404"); `detail` as given (callers cut error messages to 200 bytes).
  void RecordCall(const auth::Principal& who, absl::string_view operation, absl::string_view learner,
                  absl::string_view outcome, absl::string_view detail);
  // A call refused before a principal was verified, from `address` (an IP
  // address, or "" when unknown): sampled, see the file comment.
  void RecordUnauthenticated(absl::string_view address, absl::string_view operation, const absl::Status& refusal);
  // Takes one unit of `address`'s budget for calls without a valid
  // credential; false when it has none left.
  bool AllowUnauthenticated(absl::string_view address);
  // Writes the summary rows of every window with uncounted refusals.
  void Flush();

  struct Stats {
    uint64_t rows_written = 0;
    uint64_t refusals_sampled_out = 0;  // counted into summaries instead
    uint64_t unauthenticated = 0;
    uint64_t address_limited = 0;
  };
  Stats stats() const;

 private:
  struct Window {
    absl::Time start;
    absl::Time since;  // start of the count (the window's start or the last Flush)
    int written = 0;
    int64_t suppressed = 0;
    std::string subject, role, outcome;
    std::map<std::string, int64_t> by_address;  // suppressed calls per address (at most 100 kept)
  };
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };
  // Whether `event` gets its own row in the window of `key`; closes the
  // window first if it is over (queueing its summary in `out`).
  bool Sample(const std::string& key, const AuditEvent& event, absl::string_view address, absl::Time now,
              std::vector<AuditEvent>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static AuditEvent Summary(const Window& w, absl::Time end);
  void Write(const AuditEvent& e);

  RecordStore* store_;
  AuditLogOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Bucket> addresses_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

// "127.0.0.1" from gRPC's peer string "ipv4:127.0.0.1:5555" ("[::1]" style
// and "ipv6:[::1]:5555" give "::1"); "" when there is none.
std::string AddressOfPeer(absl::string_view peer);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_AUDIT_LOG_H_
