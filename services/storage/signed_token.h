// The one HMAC-signed token envelope of the stores (records' ListStatements
// and catalog's ListCourses page tokens; any future cursor). A token is
//
//   base64url_nopad( payload || first 16 bytes of HMAC-SHA-256(key, payload) )
//
// where `payload` is the store's own byte layout (documented with the store's
// codec) and `key` is the database's secret (32 random bytes kept in its meta
// family), so a token is valid only for the database that issued it and
// cannot be forged or edited. The envelope knows nothing about the payload:
// its layout, version byte and length are checked by the store's codec after
// Open succeeds.
//
// Thread-safe: immutable after construction.
#ifndef LIFELONG_SERVICES_STORAGE_SIGNED_TOKEN_H_
#define LIFELONG_SERVICES_STORAGE_SIGNED_TOKEN_H_

#include <cstddef>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace lifelong::storage {

// Bytes of the truncated HMAC tag appended to the payload.
inline constexpr size_t kTokenTagBytes = 16;
// Bytes of a key drawn by NewTokenKey.
inline constexpr size_t kTokenKeyBytes = 32;

class SignedTokenCodec {
 public:
  // Why Open refused a token.
  enum class Refusal {
    kNone = 0,
    kMalformed = 1,  // not base64url, or too short to hold a tag
    kForged = 2,     // the tag does not verify: forged, altered, or another key's
  };

  struct Opened {
    Refusal refusal = Refusal::kNone;
    std::string payload;  // set when refusal == kNone
    bool ok() const { return refusal == Refusal::kNone; }
  };

  // `key` is the HMAC key (any length; the stores use kTokenKeyBytes random
  // bytes).
  explicit SignedTokenCodec(std::string key) : key_(std::move(key)) {}

  // The token carrying `payload`.
  std::string Seal(absl::string_view payload) const;

  // The payload of a token Sealed with the same key, or the refusal. The tag
  // is compared in constant time. An empty payload is never valid.
  Opened Open(absl::string_view token) const;

 private:
  std::string Tag(absl::string_view payload) const;

  const std::string key_;
};

// kTokenKeyBytes cryptographically random bytes; aborts when the system has
// no entropy (a store cannot run safely without it).
std::string NewTokenKey();

// SHA-256 of `data`, the raw 32 bytes (for filter fingerprints in payloads).
std::string Sha256(absl::string_view data);

}  // namespace lifelong::storage

#endif  // LIFELONG_SERVICES_STORAGE_SIGNED_TOKEN_H_
