// KioskPasses: one-time codes a learner shows at a community-centre kiosk to
// open a short kiosk session in their name (RecordsService CreateKioskPass /
// RedeemKioskPass).
//
// Codes are 8 decimal digits drawn from the kernel's cryptographic random
// source (getrandom(2), rejection-sampled so that every code is equally
// likely). Passes are stored in the record store's "meta" family (layout in
// key_codec.h), so they survive a restart and are visible to every process
// on the same store; only the SHA-256 of a code is stored. A learner has at
// most one live pass (creating one withdraws the previous), which bounds the
// number of live codes by the number of learners. Guessing is limited per
// kiosk: each kiosk (the authenticated subject redeeming) may get
// `max_failures` codes wrong in a burst, then one more per `failure_refill`;
// past that every redemption of that kiosk is refused with
// RESOURCE_EXHAUSTED without looking the code up.
//
// Thread-safe. Does not own the store.
#ifndef LIFELONG_SERVICES_RECORDS_KIOSK_PASSES_H_
#define LIFELONG_SERVICES_RECORDS_KIOSK_PASSES_H_

#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/records/failure_budget.h"
#include "services/records/record_store.h"

namespace lifelong::records {

// Meta-family key prefixes (see key_codec.h).
inline constexpr char kMetaKioskPassPrefix[] = "kiosk_pass/";
inline constexpr char kMetaKioskPassOfPrefix[] = "kiosk_pass_of/";

struct KioskPassOptions {
  absl::Duration ttl = absl::Minutes(2);
  // Wrong codes a kiosk may send in a burst, and the time that earns one more.
  int max_failures = 5;
  absl::Duration failure_refill = absl::Seconds(30);
  // Injectable for tests; defaults: absl::Now and getrandom(2).
  std::function<absl::Time()> now;
  std::function<std::string()> new_code;
};

struct KioskPass {
  std::string code;
  absl::Time expires;
};

class KioskPasses {
 public:
  explicit KioskPasses(RecordStore* store, KioskPassOptions options = {});

  // A fresh pass for `learner` (a canonical learner key), replacing the
  // learner's previous live pass. UNAVAILABLE when the store write fails.
  absl::StatusOr<KioskPass> Create(const std::string& learner);

  // Redeems `code` for the kiosk `kiosk` (its authenticated subject) and
  // returns the pass's learner; a pass is good once. INVALID_ARGUMENT when
  // the code is not 8 digits; NOT_FOUND when it is unknown, used or expired
  // (a failure for the kiosk); RESOURCE_EXHAUSTED when the kiosk has used up
  // its wrong guesses.
  absl::StatusOr<std::string> Redeem(const std::string& kiosk, const std::string& code);

  // Withdraws `learner`'s live pass, if any (erasure). UNAVAILABLE when the
  // store write fails.
  absl::Status EraseLearner(const std::string& learner);

  // 8 random digits from getrandom(2). Aborts if the kernel's random source
  // fails (it does not on Linux 3.17 and later).
  static std::string RandomCode();

 private:
  // Deletes expired passes, at most once a minute.
  absl::Status SweepExpired(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  RecordStore* store_;
  KioskPassOptions options_;
  absl::Mutex mu_;                              // serializes pass reads and writes (single use)
  FailureBudget guesses_ ABSL_GUARDED_BY(mu_);  // per kiosk
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_KIOSK_PASSES_H_
