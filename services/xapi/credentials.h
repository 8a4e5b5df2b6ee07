// xAPI HTTP Basic credentials, loaded from a file (never from code):
//   # comment
//   username:password [role=<role>] [subject=<subject>] [venue=<venue>]
// one a line (the password may contain ':' but no whitespace). The optional
// fields map the user onto
// the same principals as bearer tokens (auth/principal.h): role defaults to
// "loader" (a trusted feed: may write and read every record), subject to the
// user name. Thread-safe after loading (the users are immutable; the
// password backoff below has its own lock and is shared by copies).
//
// Password backoff: wrong passwords are slowed down per user name and per
// client address. After `free_failures` wrong passwords for a user name
// (since its last success), or 4x that many from one address (invalid bearer
// tokens count there too, CheckToken; successes do not reset an address),
// the next attempt must wait base_delay, then 2x, 4x,
// ... up to max_delay after the last failure; until then Check() refuses with
// RESOURCE_EXHAUSTED without comparing the password (so guessing costs time
// even with the right password in the batch). Guesses sent at once gain
// nothing: the wait is checked and the attempt recorded in one critical
// section, so no more attempts are compared together than the failures left
// before a wait, and one at a time while a wait is due (Backoff::Begin).
// A count is forgotten once
// max_delay passes without a failure. (Someone who knows a user name can
// thereby hold that user off for up to max_delay at a time; the trade-off
// every lock-out makes.) The counts of configured users are kept apart and
// never dropped for room: failures under made-up names and from many
// addresses cannot push a real user's count out of the bounded table.
#ifndef LIFELONG_SERVICES_XAPI_CREDENTIALS_H_
#define LIFELONG_SERVICES_XAPI_CREDENTIALS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/auth/principal.h"

namespace lifelong::xapi {

struct PasswordBackoffOptions {
  int free_failures = 5;
  absl::Duration base_delay = absl::Seconds(1);
  absl::Duration max_delay = absl::Minutes(5);
  // Largest number of keys tracked besides the configured users' own; past
  // it, keys whose wait is over are forgotten, then the oldest.
  size_t max_tracked = 100000;
  std::function<absl::Time()> now;  // default absl::Now
};
// The marker line of a credentials file for development without
// authentication.
inline constexpr absl::string_view kDevelopmentOnlyMarker = "# lifelong: development-only";
// Passwords of the credential files committed to this repository.
inline constexpr absl::string_view kRepositoryPasswords[] = {"lifelong-dev"};

class Credentials {
 public:
  // NOT_FOUND when the file is missing; INVALID_ARGUMENT naming the line
  // when a line has no ':' or an empty user name.
  static absl::StatusOr<Credentials> LoadFile(const std::string& path);
  static absl::StatusOr<Credentials> Parse(absl::string_view text);

  // The user name when `authorization` ("Basic base64(user:pass)") matches a
  // configured pair; UNAUTHENTICATED otherwise; RESOURCE_EXHAUSTED (naming
  // the wait) while the user name or the client `address` ("" if unknown)
  // is backing off after wrong passwords.
  absl::StatusOr<std::string> Check(absl::string_view authorization, absl::string_view address = "") const;
  // One bearer-token check from the client `address`: invalid tokens count
  // against the address like wrong passwords (the same per-address budget
  // and waits). RESOURCE_EXHAUSTED naming the wait, without calling
  // `verify`, while `address` backs off; else what `verify` returns, an
  // error counting as one more invalid credential from `address` (a
  // principal counts as nothing). The wait is checked and the attempt
  // recorded as one (Backoff::Begin), so tokens sent together are verified
  // no more at once than the failures the address has left before a wait.
  // "" (unknown address) is never limited.
  absl::StatusOr<auth::Principal> CheckToken(absl::string_view address,
                                             const std::function<absl::StatusOr<auth::Principal>()>& verify) const;
  // Replaces the backoff settings (and forgets past failures).
  void SetBackoff(PasswordBackoffOptions options);
  size_t size() const { return users_.size(); }

  // Whether these credentials may be used with authentication on (issue #13
  // item 5): FAILED_PRECONDITION when the file is marked development-only
  // (a "# lifelong: development-only" line, as ops/xapi/dev-credentials.txt)
  // or when a user's password is one committed to this repository
  // (kRepositoryPasswords): whoever reads the repository could log in with
  // it. Services with --auth_key_file refuse to start on this error; a
  // stack with authentication on generates its own file (ops/stack.sh).
  absl::Status CheckUsableWithAuthentication() const;
  // The principal of a user Check() accepted.
  auth::Principal PrincipalOf(const std::string& user) const;

 private:
  struct Entry {
    std::string password;
    auth::Principal principal;
  };
  struct Failures {
    int count = 0;
    absl::Time last;
  };
  class Backoff {
   public:
    // A key an attempt counts under: it may fail `free_failures` times
    // before it waits; `pinned`: a configured user's key, kept apart from
    // the bounded table (their number is that of the credential file's
    // users); `reset_on_success`: a success forgets its failures.
    struct Key {
      std::string name;
      int free_failures = 0;
      bool pinned = false;
      bool reset_on_success = false;
    };
    explicit Backoff(PasswordBackoffOptions options);
    int free_failures() const { return options_.free_failures; }

    // One password comparison (or bearer-token verification, CheckToken),
    // checked and recorded in one critical section (before, 32 guesses
    // arriving together all saw "no wait" and were all compared). Begin
    // returns the longest remaining wait of `keys`; zero means go on: the
    // attempt is then in flight under each key until Finish(keys, failed),
    // which must follow. An attempt whose key has attempts in flight that,
    // failing, would make it wait (its failures plus those in flight reach
    // free_failures) waits for them first (a comparison: microseconds) and
    // is decided on their outcome. So at most `free_failures` minus the
    // failures so far are compared at once, and one at a time once a wait
    // is due; concurrent right passwords (no failures) are compared
    // `free_failures` at a time and never refused.
    absl::Duration Begin(const std::vector<Key>& keys);
    void Finish(const std::vector<Key>& keys, bool failed);

   private:
    // The failures recorded under `key` (a configured user's or the bounded
    // table's), or null.
    const Failures* FindLocked(const std::string& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
    absl::Duration WaitLocked(const std::string& key, int free_failures) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
    // Failures of `key` not yet forgotten.
    int CountLocked(const std::string& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
    void FailedLocked(const std::string& key, bool pinned) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

    PasswordBackoffOptions options_;
    mutable absl::Mutex mu_;
    absl::CondVar finished_;  // signalled by Finish
    std::map<std::string, Failures> failures_ ABSL_GUARDED_BY(mu_);
    std::map<std::string, Failures> pinned_ ABSL_GUARDED_BY(mu_);
    // Attempts between Begin and Finish, by key (none: absent).
    std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
  };
  std::map<std::string, Entry> users_;
  std::shared_ptr<Backoff> backoff_ = std::make_shared<Backoff>(PasswordBackoffOptions{});
  bool development_only_ = false;
};

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_CREDENTIALS_H_
