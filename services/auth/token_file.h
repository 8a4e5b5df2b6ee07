// TokenFile: a bearer token kept in a file that is replaced while the
// process runs. Service tokens expire (ops/stack.sh mints them for 30 days
// and its token refresher mints them again every day, writing a new file
// and renaming it over the old one), so a process that runs for longer than
// a token lives must send the file's current token, not the one it read at
// start (docs/security.md, "Service tokens").
//
// Token() returns the current token. It looks at the file (stat) at most
// once per check_interval and reads it again only when its device, inode,
// size or modification time changed. A read that fails (the file missing,
// unreadable, larger than kMaxBytes) or that finds the file empty keeps the
// token held and logs a warning ("token_file_reload_failed", with the path
// and the reason, never the token) once per state of the file; a token read
// again is logged as "token_file_reloaded".
//
// Thread-safety: every method may be called from any thread. A check (a
// stat, and at most one small read) runs under the lock, so callers that
// arrive during one wait for it; between checks Token() copies a string.
#ifndef LIFELONG_SERVICES_AUTH_TOKEN_FILE_H_
#define LIFELONG_SERVICES_AUTH_TOKEN_FILE_H_

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace lifelong::auth {

struct TokenFileOptions {
  // How often the file is looked at, at most: a file replaced now is in use
  // by the calls made from check_interval later on. 0: at every call.
  absl::Duration check_interval = absl::Seconds(2);
  std::function<absl::Time()> clock;  // default absl::Now (tests inject)
};

class TokenFile {
 public:
  // The largest token file read (a JWT is a few hundred bytes).
  static constexpr int64_t kMaxBytes = 64 << 10;

  using Options = TokenFileOptions;

  // Reads `path` now. The token is the file's text without surrounding
  // whitespace; an empty file is an empty token (callers then send none).
  // NOT_FOUND "--token_file: cannot read <path>: <reason>" when the file
  // cannot be read, INVALID_ARGUMENT when it is larger than kMaxBytes.
  static absl::StatusOr<std::shared_ptr<TokenFile>> Open(std::string path, Options options = Options());

  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;

  // The token to send now: the file's, re-read if it changed since the last
  // check and check_interval has passed; else the token held.
  std::string Token() const;

  const std::string& path() const { return path_; }

 private:
  // What tells one version of the file from another.
  struct Identity {
    uint64_t device = 0;
    uint64_t inode = 0;
    int64_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const Identity& o) const {
      return device == o.device && inode == o.inode && size == o.size && mtime_ns == o.mtime_ns;
    }
    bool operator!=(const Identity& o) const { return !(*this == o); }
  };

  TokenFile(std::string path, Options options) : path_(std::move(path)), options_(std::move(options)) {}

  // The identity of the file version that `st` (stat or fstat) describes.
  static Identity IdentityOf(const struct stat& st);

  // Opens and reads the file: its identity (fstat of what was opened) and
  // its token. The errors of Open.
  absl::Status Read(Identity* identity, std::string* token) const;
  // Stats the file and re-reads it when it changed; keeps the token on a failure.
  void CheckLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Logs a failed check once per `reason` (a new file state gives a new reason).
  void ReportFailureLocked(const std::string& reason) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const Options options_;
  mutable absl::Mutex mu_;
  mutable std::string token_ ABSL_GUARDED_BY(mu_);
  mutable Identity held_ ABSL_GUARDED_BY(mu_);  // the file version token_ came from
  mutable absl::Time last_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  mutable std::string last_failure_ ABSL_GUARDED_BY(mu_);  // "" after a good check
};

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_TOKEN_FILE_H_
