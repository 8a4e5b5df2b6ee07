#include "services/records/learner_cards.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"
#include "services/domain/learner_card.h"
#include "services/records/key_codec.h"

namespace lifelong::records {
namespace {

constexpr uint8_t kCardFormat = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr uint8_t kFlagBlocked = 1 << 0;
// format | iterations | salt | hash | bound | failures | locked_until | flags
constexpr size_t kFixedBytes = 1 + 4 + kSaltBytes + kHashBytes + 8 + 4 + 8 + 1;

using Edits = std::vector<std::pair<std::string, std::optional<std::string>>>;

std::string CardKey(absl::string_view number) { return absl::StrCat(kMetaLearnerCardPrefix, number); }
std::string LearnerKey(absl::string_view learner) { return absl::StrCat(kMetaLearnerCardOfPrefix, learner); }

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

absl::Time FromMicros(int64_t us) { return us == 0 ? absl::InfinitePast() : absl::FromUnixMicros(us); }

struct StoredCard {
  uint32_t iterations = 0;
  std::string salt;
  std::string hash;
  int64_t bound_us = 0;
  uint32_t failures = 0;
  int64_t locked_until_us = 0;
  uint8_t flags = 0;
  std::string learner;
};

std::string EncodeCard(const StoredCard& c) {
  std::string v(1, static_cast<char>(kCardFormat));
  PutU32(&v, c.iterations);
  v.append(c.salt);
  v.append(c.hash);
  PutU64(&v, static_cast<uint64_t>(c.bound_us));
  PutU32(&v, c.failures);
  PutU64(&v, static_cast<uint64_t>(c.locked_until_us));
  v.push_back(static_cast<char>(c.flags));
  v.append(c.learner);
  return v;
}

absl::StatusOr<StoredCard> DecodeCard(absl::string_view v) {
  if (v.size() <= kFixedBytes || static_cast<uint8_t>(v[0]) != kCardFormat) {
    return absl::InternalError("corrupt learner card record");
  }
  StoredCard c;
  const char* p = v.data() + 1;
  c.iterations = GetU32(p);
  p += 4;
  c.salt.assign(p, kSaltBytes);
  p += kSaltBytes;
  c.hash.assign(p, kHashBytes);
  p += kHashBytes;
  c.bound_us = static_cast<int64_t>(GetU64(p));
  p += 8;
  c.failures = GetU32(p);
  p += 4;
  c.locked_until_us = static_cast<int64_t>(GetU64(p));
  p += 8;
  c.flags = static_cast<uint8_t>(*p++);
  c.learner.assign(p, v.data() + v.size() - p);
  if (c.iterations == 0) return absl::InternalError("corrupt learner card record: zero iterations");
  return c;
}

LearnerCardStatus StatusOf(const std::string& number, const StoredCard& c) {
  LearnerCardStatus s;
  s.card_number = number;
  s.learner = c.learner;
  s.bound = FromMicros(c.bound_us);
  s.failed_attempts = static_cast<int>(c.failures);
  s.locked_until = FromMicros(c.locked_until_us);
  s.blocked = (c.flags & kFlagBlocked) != 0;
  return s;
}

std::string PinHash(absl::string_view pin, const std::string& salt, uint32_t iterations) {
  unsigned char out[kHashBytes];
  if (PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()), reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(), sizeof(out),
                        out) != 1) {
    LogError("learner_card_pbkdf2_failed", {});
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

std::string RandomSalt() {
  std::string salt(kSaltBytes, '\0');
  size_t got = 0;
  while (got < salt.size()) {
    ssize_t n = getrandom(salt.data() + got, salt.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      LogError("learner_card_random_failed", {{"errno", errno}});
      std::abort();
    }
    got += static_cast<size_t>(n);
  }
  return salt;
}

bool AllDigits(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

}  // namespace

char LearnerCards::LuhnDigit(absl::string_view digits) { return domain::LuhnCheckDigit(digits); }

absl::StatusOr<std::string> LearnerCards::NormalizeCardNumber(absl::string_view text, absl::string_view field) {
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (text.size() > 64)
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be the 12 digits of a learner card"));
  std::string digits;
  for (char c : text) {
    if (c == ' ' || c == '-') continue;
    if (!absl::ascii_isdigit(c)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": must be the 12 digits of a learner card"));
    }
    digits.push_back(c);
  }
  if (digits.size() != kCardNumberDigits) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be the 12 digits of a learner card, got ", digits.size()));
  }
  if (LuhnDigit(absl::string_view(digits).substr(0, kCardNumberDigits - 1)) != digits.back()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": check digit does not match (a digit mistyped?)"));
  }
  return digits;
}

absl::Status LearnerCards::CheckPin(absl::string_view pin, absl::string_view field) {
  if (pin.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (pin.size() < 4 || pin.size() > 6 || !AllDigits(pin)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be 4 to 6 digits"));
  }
  if (domain::IsWeakPin(pin)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": too easy to guess (one digit repeated, or a run like 1234)"));
  }
  return absl::OkStatus();
}

LearnerCards::LearnerCards(RecordStore* store, LearnerCardOptions options)
    : store_(store),
      options_(std::move(options)),
      guesses_(options_.kiosk_max_failures, options_.kiosk_failure_refill) {
  if (!options_.now) options_.now = [] { return absl::Now(); };
  if (!options_.new_salt) options_.new_salt = &RandomSalt;
  options_.pbkdf2_iterations = std::max(1, options_.pbkdf2_iterations);
  options_.lock_after = std::max(1, options_.lock_after);
  options_.block_after = std::max(options_.lock_after, options_.block_after);
}

absl::StatusOr<LearnerCardStatus> LearnerCards::Bind(absl::string_view card_number, const std::string& learner,
                                                     absl::string_view pin) {
  LL_ASSIGN_OR_RETURN(std::string number, NormalizeCardNumber(card_number));
  if (learner.empty()) return absl::InvalidArgumentError("learner: required");
  LL_RETURN_IF_ERROR(CheckPin(pin));
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> existing = store_->GetMeta(CardKey(number));
  if (existing.ok()) {
    LL_ASSIGN_OR_RETURN(StoredCard c, DecodeCard(*existing));
    if (c.learner != learner) {
      return absl::AlreadyExistsError(
          absl::StrCat("card_number: card ", number, " is bound to another learner; unbind it first"));
    }
  } else if (existing.status().code() != absl::StatusCode::kNotFound) {
    return existing.status();
  }
  Edits edits;
  absl::StatusOr<std::string> previous = store_->GetMeta(LearnerKey(learner));
  if (previous.ok()) {
    if (*previous != number) edits.emplace_back(CardKey(*previous), std::nullopt);  // one card per learner
  } else if (previous.status().code() != absl::StatusCode::kNotFound) {
    return previous.status();
  }
  StoredCard c;
  c.iterations = static_cast<uint32_t>(options_.pbkdf2_iterations);
  c.salt = options_.new_salt();
  if (c.salt.size() != kSaltBytes) return absl::InternalError("learner card: salt must be 16 bytes");
  c.hash = PinHash(pin, c.salt, c.iterations);
  c.bound_us = absl::ToUnixMicros(options_.now());
  c.learner = learner;
  edits.emplace_back(CardKey(number), EncodeCard(c));
  edits.emplace_back(LearnerKey(learner), number);
  LL_RETURN_IF_ERROR(store_->WriteMeta(edits));
  return StatusOf(number, c);
}

absl::StatusOr<LearnerCardStatus> LearnerCards::GetLocked(const std::string& number) {
  absl::StatusOr<std::string> v = store_->GetMeta(CardKey(number));
  if (v.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("card_number: card ", number, " is not bound to a learner"));
  }
  LL_RETURN_IF_ERROR(v.status());
  LL_ASSIGN_OR_RETURN(StoredCard c, DecodeCard(*v));
  return StatusOf(number, c);
}

absl::StatusOr<LearnerCardStatus> LearnerCards::Get(absl::string_view card_number) {
  LL_ASSIGN_OR_RETURN(std::string number, NormalizeCardNumber(card_number));
  absl::MutexLock lock(&mu_);
  return GetLocked(number);
}

absl::StatusOr<LearnerCardStatus> LearnerCards::OfLearner(const std::string& learner) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> number = store_->GetMeta(LearnerKey(learner));
  if (number.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("learner: ", learner, " has no learner card"));
  }
  LL_RETURN_IF_ERROR(number.status());
  return GetLocked(*number);
}

absl::StatusOr<LearnerCardStatus> LearnerCards::Unbind(absl::string_view card_number) {
  LL_ASSIGN_OR_RETURN(std::string number, NormalizeCardNumber(card_number));
  absl::MutexLock lock(&mu_);
  LL_ASSIGN_OR_RETURN(LearnerCardStatus status, GetLocked(number));
  Edits edits = {{CardKey(number), std::nullopt}};
  absl::StatusOr<std::string> current = store_->GetMeta(LearnerKey(status.learner));
  if (current.ok() && *current == number) edits.emplace_back(LearnerKey(status.learner), std::nullopt);
  LL_RETURN_IF_ERROR(store_->WriteMeta(edits));
  return status;
}

absl::Status LearnerCards::EraseLearner(const std::string& learner) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> number = store_->GetMeta(LearnerKey(learner));
  if (number.status().code() == absl::StatusCode::kNotFound) return absl::OkStatus();
  LL_RETURN_IF_ERROR(number.status());
  Edits edits = {{LearnerKey(learner), std::nullopt}};
  absl::StatusOr<std::string> v = store_->GetMeta(CardKey(*number));
  if (v.ok()) {
    absl::StatusOr<StoredCard> c = DecodeCard(*v);
    if (!c.ok() || c->learner == learner) edits.emplace_back(CardKey(*number), std::nullopt);
  }
  return store_->WriteMeta(edits);
}

absl::StatusOr<std::string> LearnerCards::Redeem(const std::string& kiosk, absl::string_view card_number,
                                                 absl::string_view pin, std::string* holder) {
  LL_ASSIGN_OR_RETURN(std::string number, NormalizeCardNumber(card_number));
  if (pin.empty()) return absl::InvalidArgumentError("pin: required");
  if (pin.size() < 4 || pin.size() > 6 || !AllDigits(pin)) {
    return absl::InvalidArgumentError("pin: must be 4 to 6 digits");
  }
  absl::MutexLock lock(&mu_);
  absl::Time now = options_.now();
  if (!guesses_.MayGuess(kiosk, now)) {
    return absl::ResourceExhaustedError(absl::StrCat("card_number: too many failed card sign-ins from kiosk ", kiosk,
                                                     "; retry in ",
                                                     absl::FormatDuration(options_.kiosk_failure_refill)));
  }
  static constexpr char kNoMatch[] = "card_number or pin: no learner card with this number and PIN";
  absl::StatusOr<std::string> v = store_->GetMeta(CardKey(number));
  if (v.status().code() == absl::StatusCode::kNotFound) {
    // The same PIN hash as a bound card's (new cards' rounds, a fixed salt),
    // so that the answer's timing does not say whether the number is bound.
    // The result is thrown away.
    (void)PinHash(pin, std::string(kSaltBytes, '\0'), static_cast<uint32_t>(options_.pbkdf2_iterations));
    guesses_.Failed(kiosk);
    return absl::NotFoundError(kNoMatch);
  }
  LL_RETURN_IF_ERROR(v.status());
  LL_ASSIGN_OR_RETURN(StoredCard c, DecodeCard(*v));
  if (holder != nullptr) *holder = c.learner;
  if ((c.flags & kFlagBlocked) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("card_number: this card is blocked after ", c.failures,
                     " wrong PINs in a row; the staff at the counter can set a new PIN (bind it again)"));
  }
  if (c.locked_until_us != 0 && absl::FromUnixMicros(c.locked_until_us) > now) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "card_number: this card is locked after too many wrong PINs; retry in ",
        absl::FormatDuration(absl::Ceil(absl::FromUnixMicros(c.locked_until_us) - now, absl::Seconds(1)))));
  }
  std::string hash = PinHash(pin, c.salt, c.iterations);
  if (CRYPTO_memcmp(hash.data(), c.hash.data(), kHashBytes) != 0) {
    guesses_.Failed(kiosk);
    c.failures += 1;
    if (static_cast<int>(c.failures) >= options_.block_after) {
      c.flags |= kFlagBlocked;
      LogWarn("learner_card_blocked", {{"card", number.substr(kCardNumberDigits - 4)}, {"kiosk", kiosk}});
    } else if (c.failures % static_cast<uint32_t>(options_.lock_after) == 0) {
      c.locked_until_us = absl::ToUnixMicros(now + options_.lockout);
    }
    LL_RETURN_IF_ERROR(store_->WriteMeta({{CardKey(number), EncodeCard(c)}}));  // before answering: no free retries
    return absl::NotFoundError(kNoMatch);
  }
  if (c.failures != 0 || c.locked_until_us != 0) {
    c.failures = 0;
    c.locked_until_us = 0;
    LL_RETURN_IF_ERROR(store_->WriteMeta({{CardKey(number), EncodeCard(c)}}));
  }
  return c.learner;
}

}  // namespace lifelong::records
