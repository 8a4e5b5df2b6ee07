#include "services/auth/token_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace lifelong::auth {

TokenFile::Identity TokenFile::IdentityOf(const struct stat& st) {
  Identity identity;
  identity.device = static_cast<uint64_t>(st.st_dev);
  identity.inode = static_cast<uint64_t>(st.st_ino);
  identity.size = static_cast<int64_t>(st.st_size);
  identity.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  return identity;
}

absl::StatusOr<std::shared_ptr<TokenFile>> TokenFile::Open(std::string path, Options options) {
  if (!options.clock) options.clock = [] { return absl::Now(); };
  std::shared_ptr<TokenFile> file(new TokenFile(std::move(path), std::move(options)));
  absl::MutexLock lock(&file->mu_);
  if (absl::Status s = file->Read(&file->held_, &file->token_); !s.ok()) return s;
  file->last_check_ = file->options_.clock();
  return file;
}

absl::Status TokenFile::Read(Identity* identity, std::string* token) const {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("--token_file: cannot read ", path_, ": ", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::NotFoundError(absl::StrCat("--token_file: cannot read ", path_, ": ", std::strerror(err)));
  }
  if (st.st_size > kMaxBytes) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("--token_file: ", path_, " holds ", st.st_size, " bytes, not a token (at most ", kMaxBytes, ")"));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return absl::NotFoundError(absl::StrCat("--token_file: cannot read ", path_, ": ", std::strerror(err)));
    }
    text.append(buf, static_cast<size_t>(n));
    if (static_cast<int64_t>(text.size()) > kMaxBytes) {
      ::close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat("--token_file: ", path_, " holds more than ", kMaxBytes, " bytes, not a token"));
    }
  }
  ::close(fd);
  *identity = IdentityOf(st);
  *token = std::string(absl::StripAsciiWhitespace(text));
  return absl::OkStatus();
}

std::string TokenFile::Token() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = options_.clock();
  if (now - last_check_ >= options_.check_interval) {
    last_check_ = now;
    CheckLocked();
  }
  return token_;
}

void TokenFile::CheckLocked() const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    ReportFailureLocked(absl::StrCat("cannot stat the file: ", std::strerror(errno)));
    return;
  }
  if (IdentityOf(st) == held_) {
    last_failure_.clear();
    return;
  }
  Identity read_identity;
  std::string token;
  if (absl::Status s = Read(&read_identity, &token); !s.ok()) {
    ReportFailureLocked(std::string(s.message()));
    return;
  }
  if (token.empty()) {
    // A file being written in place (not through a rename), or a failed
    // mint: the token held is still good until it expires.
    ReportFailureLocked("the file is empty");
    return;
  }
  const bool changed = token != token_;
  token_ = std::move(token);
  held_ = read_identity;
  last_failure_.clear();
  if (changed) LogInfo("token_file_reloaded", {{"path", path_}});
}

void TokenFile::ReportFailureLocked(const std::string& reason) const {
  if (reason == last_failure_) return;
  last_failure_ = reason;
  LogWarn("token_file_reload_failed",
          {{"path", path_}, {"reason", reason}, {"keeping", token_.empty() ? "no token" : "the token read before"}});
}

}  // namespace lifelong::auth
