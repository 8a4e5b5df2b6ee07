#include "services/records/kiosk_passes.h"

#include <openssl/sha.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"
#include "services/records/key_codec.h"

namespace lifelong::records {
namespace {

constexpr uint8_t kPassFormat = 1;
constexpr absl::Duration kSweepInterval = absl::Minutes(1);

std::string PassKey(const std::string& code) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(code.data()), code.size(), digest);
  return absl::StrCat(kMetaKioskPassPrefix, absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string LearnerKey(const std::string& learner) { return absl::StrCat(kMetaKioskPassOfPrefix, learner); }

std::string EncodePass(int64_t expires_us, const std::string& learner) {
  std::string v(1, static_cast<char>(kPassFormat));
  PutU64(&v, static_cast<uint64_t>(expires_us));
  v.append(learner);
  return v;
}

struct StoredPass {
  int64_t expires_us = 0;
  std::string learner;
};

absl::StatusOr<StoredPass> DecodePass(absl::string_view v) {
  if (v.size() < 10 || static_cast<uint8_t>(v[0]) != kPassFormat) {
    return absl::InternalError("corrupt kiosk pass record");
  }
  return StoredPass{static_cast<int64_t>(GetU64(v.data() + 1)), std::string(v.substr(9))};
}

bool IsCode(const std::string& code) {
  return code.size() == 8 && std::all_of(code.begin(), code.end(), [](char c) { return absl::ascii_isdigit(c); });
}

}  // namespace

std::string KioskPasses::RandomCode() {
  // Rejection sampling: 4294967296 is not a multiple of 10^8, so values at
  // or above the largest multiple would make low codes more likely.
  constexpr uint64_t kCodes = 100000000;
  constexpr uint64_t kLimit = (uint64_t{1} << 32) / kCodes * kCodes;
  for (;;) {
    uint32_t r = 0;
    ssize_t n = getrandom(&r, sizeof(r), 0);
    if (n != static_cast<ssize_t>(sizeof(r))) {
      if (n < 0 && errno == EINTR) continue;
      LogError("kiosk_pass_random_failed", {{"errno", errno}});
      std::abort();
    }
    if (r < kLimit) return absl::StrFormat("%08d", static_cast<int>(r % kCodes));
  }
}

KioskPasses::KioskPasses(RecordStore* store, KioskPassOptions options)
    : store_(store), options_(std::move(options)), guesses_(options_.max_failures, options_.failure_refill) {
  if (!options_.now) options_.now = [] { return absl::Now(); };
  if (!options_.new_code) options_.new_code = &KioskPasses::RandomCode;
}

absl::Status KioskPasses::SweepExpired(absl::Time now) {
  if (now - last_sweep_ < kSweepInterval) return absl::OkStatus();
  last_sweep_ = now;
  std::map<std::string, std::string> expired;  // pass key -> learner
  LL_RETURN_IF_ERROR(store_->ForEachMeta(kMetaKioskPassPrefix, [&](absl::string_view key, absl::string_view value) {
    absl::StatusOr<StoredPass> p = DecodePass(value);
    if (!p.ok() || absl::FromUnixMicros(p->expires_us) <= now) {
      expired[std::string(key)] = p.ok() ? p->learner : "";
    }
    return expired.size() < 10000;  // the rest at the next sweep
  }));
  if (expired.empty()) return absl::OkStatus();
  std::vector<std::pair<std::string, std::optional<std::string>>> edits;
  for (const auto& [key, learner] : expired) {
    edits.emplace_back(key, std::nullopt);
    if (learner.empty()) continue;
    // The learner's pointer goes only if it still names the expired pass.
    absl::StatusOr<std::string> current = store_->GetMeta(LearnerKey(learner));
    if (current.ok() && *current == key) edits.emplace_back(LearnerKey(learner), std::nullopt);
  }
  return store_->WriteMeta(edits);
}

absl::StatusOr<KioskPass> KioskPasses::Create(const std::string& learner) {
  absl::MutexLock lock(&mu_);
  absl::Time now = options_.now();
  if (absl::Status s = SweepExpired(now); !s.ok())
    LogError("kiosk_pass_sweep_failed", {{"error", std::string(s.message())}});
  std::string code, key;
  for (int attempt = 0;; ++attempt) {
    if (attempt == 32) return absl::UnavailableError("kiosk pass: no free code found; retry");
    code = options_.new_code();
    key = PassKey(code);
    absl::StatusOr<std::string> existing = store_->GetMeta(key);
    if (existing.status().code() == absl::StatusCode::kNotFound) break;
    LL_RETURN_IF_ERROR(existing.status());
    absl::StatusOr<StoredPass> p = DecodePass(*existing);
    if (!p.ok() || absl::FromUnixMicros(p->expires_us) <= now) break;  // an expired pass: overwritten
  }
  absl::Time expires = now + options_.ttl;
  std::vector<std::pair<std::string, std::optional<std::string>>> edits;
  absl::StatusOr<std::string> previous = store_->GetMeta(LearnerKey(learner));
  if (previous.ok()) {
    if (*previous != key) edits.emplace_back(*previous, std::nullopt);  // one live pass per learner
  } else if (previous.status().code() != absl::StatusCode::kNotFound) {
    return previous.status();
  }
  edits.emplace_back(key, EncodePass(absl::ToUnixMicros(expires), learner));
  edits.emplace_back(LearnerKey(learner), key);
  LL_RETURN_IF_ERROR(store_->WriteMeta(edits));
  return KioskPass{code, expires};
}

absl::Status KioskPasses::EraseLearner(const std::string& learner) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> current = store_->GetMeta(LearnerKey(learner));
  if (current.status().code() == absl::StatusCode::kNotFound) return absl::OkStatus();
  LL_RETURN_IF_ERROR(current.status());
  return store_->WriteMeta({{*current, std::nullopt}, {LearnerKey(learner), std::nullopt}});
}

absl::StatusOr<std::string> KioskPasses::Redeem(const std::string& kiosk, const std::string& code) {
  if (code.empty()) return absl::InvalidArgumentError("code: required");
  if (!IsCode(code)) return absl::InvalidArgumentError("code: must be the 8 digits of a kiosk pass");
  absl::MutexLock lock(&mu_);
  absl::Time now = options_.now();
  if (!guesses_.MayGuess(kiosk, now)) {
    return absl::ResourceExhaustedError(absl::StrCat("code: too many wrong codes from kiosk ", kiosk, "; retry in ",
                                                     absl::FormatDuration(options_.failure_refill)));
  }
  std::string key = PassKey(code);
  absl::StatusOr<std::string> value = store_->GetMeta(key);
  std::optional<StoredPass> pass;
  if (value.ok()) {
    LL_ASSIGN_OR_RETURN(StoredPass p, DecodePass(*value));
    pass = std::move(p);
  } else if (value.status().code() != absl::StatusCode::kNotFound) {
    return value.status();
  }
  if (!pass || absl::FromUnixMicros(pass->expires_us) <= now) {
    guesses_.Failed(kiosk);
    if (pass) {  // expired: clean it up on the way
      std::vector<std::pair<std::string, std::optional<std::string>>> edits = {{key, std::nullopt}};
      absl::StatusOr<std::string> current = store_->GetMeta(LearnerKey(pass->learner));
      if (current.ok() && *current == key) edits.emplace_back(LearnerKey(pass->learner), std::nullopt);
      (void)store_->WriteMeta(edits);
    }
    return absl::NotFoundError("code: unknown, used or expired");
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> edits = {{key, std::nullopt}};
  absl::StatusOr<std::string> current = store_->GetMeta(LearnerKey(pass->learner));
  if (current.ok() && *current == key) edits.emplace_back(LearnerKey(pass->learner), std::nullopt);
  LL_RETURN_IF_ERROR(store_->WriteMeta(edits));  // single use: gone before the session is minted
  return pass->learner;
}

}  // namespace lifelong::records
