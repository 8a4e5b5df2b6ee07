#include "services/xapi/credentials.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace lifelong::xapi {

absl::StatusOr<Credentials> Credentials::Parse(absl::string_view text) {
  Credentials c;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line == kDevelopmentOnlyMarker) c.development_only_ = true;
    if (line.empty() || line[0] == '#') continue;
    // "user:password" then optional whitespace-separated key=value fields.
    std::vector<std::string> fields = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    size_t colon = fields[0].find(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("credentials line ", line_no, ": want user:password [role=R] [subject=S] [venue=V]"));
    }
    std::string user = fields[0].substr(0, colon);
    Entry e;
    e.password = fields[0].substr(colon + 1);
    e.principal.role = auth::Role::kLoader;
    e.principal.subject = user;
    for (size_t i = 1; i < fields.size(); ++i) {
      size_t eq = fields[i].find('=');
      std::string k = fields[i].substr(0, eq), v = eq == std::string::npos ? "" : fields[i].substr(eq + 1);
      if (k == "role") {
        std::optional<auth::Role> role = auth::RoleFromName(v);
        if (!role) return absl::InvalidArgumentError(absl::StrCat("credentials line ", line_no, ": unknown role ", v));
        e.principal.role = *role;
      } else if (k == "subject" && !v.empty()) {
        e.principal.subject = v;
      } else if (k == "venue") {
        e.principal.venue = v;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("credentials line ", line_no, ": unknown field ", fields[i]));
      }
    }
    e.principal.token_id = absl::StrCat("basic:", user);
    c.users_[user] = std::move(e);
  }
  return c;
}

absl::StatusOr<Credentials> Credentials::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("credentials file ", path, " not found"));
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str());
}

Credentials::Backoff::Backoff(PasswordBackoffOptions options) : options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return absl::Now(); };
}

const Credentials::Failures* Credentials::Backoff::FindLocked(const std::string& key) const {
  auto it = pinned_.find(key);
  if (it != pinned_.end()) return &it->second;
  it = failures_.find(key);
  return it == failures_.end() ? nullptr : &it->second;
}

absl::Duration Credentials::Backoff::WaitLocked(const std::string& key, int free_failures) const {
  const Failures* f = FindLocked(key);
  if (f == nullptr || f->count < free_failures) return absl::ZeroDuration();
  int doublings = std::min(f->count - free_failures, 30);
  absl::Duration delay = std::min(options_.max_delay, options_.base_delay * (int64_t{1} << doublings));
  absl::Duration left = f->last + delay - options_.now();
  return left > absl::ZeroDuration() ? left : absl::ZeroDuration();
}

int Credentials::Backoff::CountLocked(const std::string& key) const {
  const Failures* f = FindLocked(key);
  if (f == nullptr) return 0;
  return options_.now() - f->last > options_.max_delay ? 0 : f->count;
}

void Credentials::Backoff::FailedLocked(const std::string& key, bool pinned) {
  absl::Time now = options_.now();
  if (!pinned && failures_.size() >= options_.max_tracked && failures_.count(key) == 0) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      it = now - it->second.last > options_.max_delay ? failures_.erase(it) : std::next(it);
    }
    if (failures_.size() >= options_.max_tracked) failures_.erase(failures_.begin());
  }
  Failures& f = pinned ? pinned_[key] : failures_[key];
  if (f.count > 0 && now - f.last > options_.max_delay) f.count = 0;  // forgotten
  ++f.count;
  f.last = now;
}

absl::Duration Credentials::Backoff::Begin(const std::vector<Key>& keys) {
  absl::MutexLock lock(&mu_);
  while (true) {
    absl::Duration wait = absl::ZeroDuration();
    bool behind_others = false;
    for (const Key& k : keys) {
      wait = std::max(wait, WaitLocked(k.name, k.free_failures));
      auto in = in_flight_.find(k.name);
      if (in != in_flight_.end() && CountLocked(k.name) + in->second >= k.free_failures) behind_others = true;
    }
    if (wait > absl::ZeroDuration()) return wait;
    if (!behind_others) break;
    finished_.Wait(&mu_);
  }
  for (const Key& k : keys) ++in_flight_[k.name];
  return absl::ZeroDuration();
}

void Credentials::Backoff::Finish(const std::vector<Key>& keys, bool failed) {
  absl::MutexLock lock(&mu_);
  for (const Key& k : keys) {
    auto in = in_flight_.find(k.name);
    if (in != in_flight_.end() && --in->second <= 0) in_flight_.erase(in);
    if (failed) {
      FailedLocked(k.name, k.pinned);
    } else if (k.reset_on_success) {
      failures_.erase(k.name);
      pinned_.erase(k.name);
    }
  }
  finished_.SignalAll();
}

void Credentials::SetBackoff(PasswordBackoffOptions options) {
  backoff_ = std::make_shared<Backoff>(std::move(options));
}

absl::StatusOr<std::string> Credentials::Check(absl::string_view authorization, absl::string_view address) const {
  if (!absl::StartsWithIgnoreCase(authorization, "Basic ")) {
    return absl::UnauthenticatedError("Basic authentication required");
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(authorization.substr(6)), &decoded)) {
    return absl::UnauthenticatedError("malformed Basic credentials");
  }
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return absl::UnauthenticatedError("malformed Basic credentials");
  std::string user = decoded.substr(0, colon);
  std::string pass = decoded.substr(colon + 1);
  auto it = users_.find(user);
  const int free_failures = backoff_->free_failures();
  std::vector<Backoff::Key> keys = {{absl::StrCat("user:", user), free_failures, /*pinned=*/it != users_.end(),
                                     /*reset_on_success=*/true}};
  if (!address.empty()) {
    keys.push_back({absl::StrCat("address:", address), 4 * free_failures, /*pinned=*/false,
                    /*reset_on_success=*/false});
  }
  const absl::Duration wait = backoff_->Begin(keys);
  if (wait > absl::ZeroDuration()) {
    return absl::ResourceExhaustedError(absl::StrCat("too many wrong passwords for user \"", user.substr(0, 100),
                                                     "\" or from this address; retry in ",
                                                     absl::FormatDuration(absl::Ceil(wait, absl::Seconds(1)))));
  }
  const bool wrong = it == users_.end() || it->second.password.size() != pass.size() ||
                     CRYPTO_memcmp(it->second.password.data(), pass.data(), pass.size()) != 0;
  backoff_->Finish(keys, /*failed=*/wrong);
  if (wrong) return absl::UnauthenticatedError("unknown user or wrong password");
  return user;
}

absl::StatusOr<auth::Principal> Credentials::CheckToken(
    absl::string_view address, const std::function<absl::StatusOr<auth::Principal>()>& verify) const {
  if (address.empty()) return verify();
  const std::vector<Backoff::Key> keys = {{absl::StrCat("address:", address), 4 * backoff_->free_failures(),
                                           /*pinned=*/false, /*reset_on_success=*/false}};
  const absl::Duration wait = backoff_->Begin(keys);
  if (wait > absl::ZeroDuration()) {
    return absl::ResourceExhaustedError(absl::StrCat("too many invalid credentials from this address; retry in ",
                                                     absl::FormatDuration(absl::Ceil(wait, absl::Seconds(1)))));
  }
  absl::StatusOr<auth::Principal> principal = verify();
  backoff_->Finish(keys, /*failed=*/!principal.ok());
  return principal;
}

absl::Status Credentials::CheckUsableWithAuthentication() const {
  if (development_only_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the file is marked \"", kDevelopmentOnlyMarker,
                     "\" (its passwords are in the repository): with authentication on, pass a file of your "
                     "own (ops/stack.sh generates one)"));
  }
  for (const auto& [user, entry] : users_) {
    for (absl::string_view published : kRepositoryPasswords) {
      if (entry.password == published) {
        return absl::FailedPreconditionError(
            absl::StrCat("user \"", user,
                         "\" has a password committed to the repository: with authentication "
                         "on, choose another"));
      }
    }
  }
  return absl::OkStatus();
}

auth::Principal Credentials::PrincipalOf(const std::string& user) const {
  auto it = users_.find(user);
  return it == users_.end() ? auth::Principal{} : it->second.principal;
}

}  // namespace lifelong::xapi
