#include "services/catalog/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace lifelong::catalog {
namespace {

constexpr size_t kTagBytes = 16;

}  // namespace

std::string PageTokenSigner::Mac(absl::string_view payload) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest, &digest_len);
  return std::string(reinterpret_cast<const char*>(digest), kTagBytes);
}

std::string PageTokenSigner::Sign(const codec::PageTokenPayload& payload) const {
  std::string bytes = codec::EncodePageTokenPayload(payload);
  bytes += Mac(bytes);
  return absl::WebSafeBase64Escape(bytes);
}

absl::StatusOr<codec::PageTokenPayload> PageTokenSigner::Verify(absl::string_view token) const {
  std::string bytes;
  if (!absl::WebSafeBase64Unescape(token, &bytes)) {
    return absl::InvalidArgumentError("page_token: not a token issued by this service");
  }
  if (bytes.size() <= kTagBytes) {
    return absl::InvalidArgumentError("page_token: not a token issued by this service");
  }
  const absl::string_view payload(bytes.data(), bytes.size() - kTagBytes);
  const std::string expected = Mac(payload);
  if (CRYPTO_memcmp(expected.data(), bytes.data() + payload.size(), kTagBytes) != 0) {
    return absl::InvalidArgumentError(
        "page_token: not a token issued by this service (forged, altered or from another "
        "catalog)");
  }
  absl::StatusOr<codec::PageTokenPayload> decoded = codec::DecodePageTokenPayload(payload);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  return decoded;
}

uint64_t ListFilterFingerprint(const lifelong::v1::ListCoursesRequest& request) {
  lifelong::v1::ListCoursesRequest filters = request;
  filters.clear_page_size();
  filters.clear_page_token();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    filters.SerializeToCodedStream(&coded);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  uint64_t fingerprint = 0;
  for (int i = 0; i < 8; ++i) fingerprint = (fingerprint << 8) | digest[i];
  return fingerprint;
}

}  // namespace lifelong::catalog
