#include "services/storage/signed_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>

#include "absl/strings/escaping.h"

namespace lifelong::storage {

std::string SignedTokenCodec::Tag(absl::string_view payload) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(payload.data()),
       payload.size(), digest, &digest_len);
  return std::string(reinterpret_cast<const char*>(digest), kTokenTagBytes);
}

std::string SignedTokenCodec::Seal(absl::string_view payload) const {
  std::string bytes(payload);
  bytes += Tag(payload);
  return absl::WebSafeBase64Escape(bytes);
}

SignedTokenCodec::Opened SignedTokenCodec::Open(absl::string_view token) const {
  Opened out;
  std::string bytes;
  if (!absl::WebSafeBase64Unescape(token, &bytes) || bytes.size() <= kTokenTagBytes) {
    out.refusal = Refusal::kMalformed;
    return out;
  }
  const absl::string_view payload(bytes.data(), bytes.size() - kTokenTagBytes);
  const std::string expected = Tag(payload);
  if (CRYPTO_memcmp(expected.data(), bytes.data() + payload.size(), kTokenTagBytes) != 0) {
    out.refusal = Refusal::kForged;
    return out;
  }
  out.payload = std::string(payload);
  return out;
}

std::string NewTokenKey() {
  unsigned char buf[kTokenKeyBytes];
  if (RAND_bytes(buf, sizeof(buf)) != 1) std::abort();  // no entropy: cannot run safely
  return std::string(reinterpret_cast<char*>(buf), sizeof(buf));
}

std::string Sha256(absl::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

}  // namespace lifelong::storage
