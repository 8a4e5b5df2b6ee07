// LearnerCards: the registry binding learner cards to learners, and the kiosk
// sign-in with a card (RecordsService BindLearnerCard / UnbindLearnerCard /
// GetLearnerCard / RedeemLearnerCard).
//
// A learner card carries a 12-digit number printed on it; anyone who sees the
// card can read it, so the number alone is not a credential. An operator or a
// loader binds a card number to a learner together with a PIN of 4 to 6
// digits chosen at the counter; a kiosk signs a learner in with the card
// number and the PIN, and gets the same 5-minute kiosk session as with a pass
// code (kiosk_passes.h).
//
// Card numbers: 12 decimal digits, the last a Luhn check digit over the first
// 11 (so one mistyped digit or two swapped neighbours are caught before any
// look-up). Spaces and hyphens typed between digit groups are ignored.
// PINs: 4 to 6 digits, not all one digit and not a run (1234, 987654), which
// are the first guesses of anyone.
//
// Storage: the record store's "meta" family (layout in key_codec.h), so
// bindings and lockouts survive a restart and every process on the store sees
// them. A PIN is stored only as PBKDF2-HMAC-SHA256 over a 16-byte random salt
// (`pbkdf2_iterations` rounds, recorded per card so that the count can be
// raised later). With the store's files in hand a 6-digit PIN falls to an
// offline search in any case; what protects a card is the online limits:
//   - per card: `lock_after` wrong PINs in a row lock the card for `lockout`
//     (RESOURCE_EXHAUSTED, the PIN not even checked); `block_after` wrong PINs
//     in a row without a correct one block it until it is bound again with a
//     new PIN (FAILED_PRECONDITION). A correct PIN resets the count. Counts
//     are persisted with every failure, so restarting does not reset them.
//   - per kiosk (the authenticated subject): `kiosk_max_failures` failed
//     sign-ins (unknown card or wrong PIN) in a burst, then one more per
//     `kiosk_failure_refill`; past that RESOURCE_EXHAUSTED without a look-up
//     (in memory, as for pass codes).
// An unknown card and a wrong PIN give the same NOT_FOUND message, and both
// pay one PIN hash (an unknown number hashes the PIN with a fixed salt and the
// rounds of new cards), so neither the message nor its timing tells a kiosk
// which numbers are bound. What remains: a wrong PIN also writes its count
// (one store write, replicated in a cluster; less than the hash but not
// nothing), and a locked or blocked card says so.
//
// One card per learner: binding a card to a learner who holds another card
// unbinds the old one (a lost card replaced). A card bound to one learner is
// not silently moved to another: ALREADY_EXISTS until it is unbound. Binding a
// card again to the same learner sets a new PIN and clears a lock or block.
//
// Thread-safe (one mutex; PBKDF2 runs under it). Does not own the store.
#ifndef LIFELONG_SERVICES_RECORDS_LEARNER_CARDS_H_
#define LIFELONG_SERVICES_RECORDS_LEARNER_CARDS_H_

#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/records/failure_budget.h"
#include "services/records/record_store.h"

namespace lifelong::records {

// Meta-family key prefixes (see key_codec.h).
inline constexpr char kMetaLearnerCardPrefix[] = "learner_card/";
inline constexpr char kMetaLearnerCardOfPrefix[] = "learner_card_of/";

inline constexpr int kCardNumberDigits = 12;

struct LearnerCardOptions {
  // PBKDF2-HMAC-SHA256 rounds for new PINs. 20,000 took 3.7 ms on an idle
  // core of this project's 2-core machines and 15 ms (median of 20) with the
  // load average at 8 (OpenSSL through Python's hashlib, 2026-12-02 23:12 UTC);
  // a kiosk sign-in or a binding pays it once, under the registry's mutex.
  int pbkdf2_iterations = 20000;
  int lock_after = 5;
  absl::Duration lockout = absl::Minutes(15);
  int block_after = 10;
  int kiosk_max_failures = 5;
  absl::Duration kiosk_failure_refill = absl::Seconds(30);
  // Injectable for tests; defaults: absl::Now and getrandom(2).
  std::function<absl::Time()> now;
  std::function<std::string()> new_salt;  // 16 bytes
};

// A binding as an operator sees it (never the PIN or its hash).
struct LearnerCardStatus {
  std::string card_number;  // normalized: 12 digits
  std::string learner;
  absl::Time bound = absl::InfinitePast();
  int failed_attempts = 0;                         // wrong PINs in a row
  absl::Time locked_until = absl::InfinitePast();  // in the past: not locked
  bool blocked = false;                            // until bound again
};

class LearnerCards {
 public:
  explicit LearnerCards(RecordStore* store, LearnerCardOptions options = {});

  // The 12 digits of `text` with spaces and hyphens removed.
  // INVALID_ARGUMENT naming `field` when it is empty, not 12 digits, or its
  // check digit does not match.
  static absl::StatusOr<std::string> NormalizeCardNumber(absl::string_view text,
                                                         absl::string_view field = "card_number");
  // INVALID_ARGUMENT naming `field` unless `pin` is 4 to 6 digits, not all one
  // digit and not a run up or down.
  static absl::Status CheckPin(absl::string_view pin, absl::string_view field = "pin");
  // The Luhn check digit ('0'..'9') of a string of digits.
  static char LuhnDigit(absl::string_view digits);

  // Binds `card_number` to `learner` (a canonical learner key) with `pin`.
  // INVALID_ARGUMENT for a malformed number or PIN; ALREADY_EXISTS when the
  // card is bound to another learner; UNAVAILABLE when the store write fails.
  absl::StatusOr<LearnerCardStatus> Bind(absl::string_view card_number, const std::string& learner,
                                         absl::string_view pin);
  // Removes the binding and returns what it was. NOT_FOUND when the card is
  // not bound.
  absl::StatusOr<LearnerCardStatus> Unbind(absl::string_view card_number);
  // The binding. NOT_FOUND when the card is not bound.
  absl::StatusOr<LearnerCardStatus> Get(absl::string_view card_number);
  // The card of `learner`. NOT_FOUND when they have none.
  absl::StatusOr<LearnerCardStatus> OfLearner(const std::string& learner);

  // Signs in at the kiosk `kiosk` (its authenticated subject) with a card and
  // PIN; returns the card's learner. INVALID_ARGUMENT for a malformed number
  // or PIN (not counted); RESOURCE_EXHAUSTED when the kiosk has used up its
  // failures or the card is locked; FAILED_PRECONDITION when the card is
  // blocked; NOT_FOUND for an unknown card or a wrong PIN (both counted for
  // the kiosk, the latter also for the card). `holder`, when not null, is set
  // to the card's learner whenever the card is bound (for the audit log, also
  // on failures; never shown to the kiosk).
  absl::StatusOr<std::string> Redeem(const std::string& kiosk, absl::string_view card_number, absl::string_view pin,
                                     std::string* holder = nullptr);

  // Removes `learner`'s card binding, if any (erasure).
  absl::Status EraseLearner(const std::string& learner);

 private:
  absl::StatusOr<LearnerCardStatus> GetLocked(const std::string& number) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  RecordStore* store_;
  LearnerCardOptions options_;
  absl::Mutex mu_;
  FailureBudget guesses_ ABSL_GUARDED_BY(mu_);  // per kiosk
};

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_LEARNER_CARDS_H_
