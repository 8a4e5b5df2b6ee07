#include "services/records/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>

#include "absl/strings/escaping.h"

namespace lifelong::records {
namespace {
constexpr size_t kBodyLen = 34;
constexpr size_t kMacLen = 16;
}  // namespace

std::string Sha256(absl::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

std::string RandomKey() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof(buf)) != 1) abort();  // no entropy: cannot run safely
  return std::string(reinterpret_cast<char*>(buf), sizeof(buf));
}

std::string PageTokenCodec::Mac(absl::string_view data) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), kMacLen);
}

std::string PageTokenCodec::Encode(absl::string_view filters, const PagePosition& pos) const {
  std::string body;
  body.push_back(1);
  body.push_back(pos.ascending ? 1 : 0);
  body.append(Sha256(filters).substr(0, 8));
  PutU64(&body, pos.seq);
  body.append(reinterpret_cast<const char*>(pos.id.data()), 16);
  body.append(Mac(body));
  return absl::WebSafeBase64Escape(body);
}

absl::StatusOr<PagePosition> PageTokenCodec::Decode(absl::string_view filters, bool ascending,
                                                    absl::string_view token) const {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() != kBodyLen + kMacLen || raw[0] != 1) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  absl::string_view body(raw.data(), kBodyLen);
  std::string mac = Mac(body);
  if (CRYPTO_memcmp(mac.data(), raw.data() + kBodyLen, kMacLen) != 0) {
    return absl::InvalidArgumentError("page_token: not issued by this service");
  }
  if (raw[1] != (ascending ? 1 : 0) || Sha256(filters).substr(0, 8) != raw.substr(2, 8)) {
    return absl::InvalidArgumentError("page_token: issued for different filters or order");
  }
  PagePosition pos;
  pos.ascending = ascending;
  pos.seq = GetU64(raw.data() + 10);
  std::memcpy(pos.id.data(), raw.data() + 18, 16);
  return pos;
}

}  // namespace lifelong::records
