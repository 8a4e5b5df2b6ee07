// Signed page tokens for ListCourses. A token is the storage kit's signed
// envelope (services/storage/signed_token.h)
//   base64url_nopad( payload || first 16 bytes of HMAC-SHA256(key, payload) )
// where `payload` is codec::EncodePageTokenPayload (layout in catalog_codec.h)
// and `key` is the database's 32-byte secret (meta kPageTokenSecret), so a
// token is valid only for the database that issued it and cannot be forged or
// edited. Thread-safe (immutable after construction).
#ifndef LIFELONG_SERVICES_CATALOG_PAGE_TOKEN_H_
#define LIFELONG_SERVICES_CATALOG_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/lifelong/v1/catalog.pb.h"
#include "services/catalog/catalog_codec.h"
#include "services/storage/signed_token.h"

namespace lifelong::catalog {

class PageTokenSigner {
 public:
  // `key` is the HMAC key (any length; the store uses 32 random bytes).
  explicit PageTokenSigner(std::string key) : envelope_(std::move(key)) {}

  // The token for `payload` (whose last_id must be a valid course id).
  std::string Sign(const codec::PageTokenPayload& payload) const;

  // The payload of a token this signer (same key) issued. INVALID_ARGUMENT
  // "page_token: ..." when the token is not base64url, is too short, its tag
  // does not match, or its payload does not decode.
  absl::StatusOr<codec::PageTokenPayload> Verify(absl::string_view token) const;

 private:
  const storage::SignedTokenCodec envelope_;
};

// A fingerprint of the filters of `request`: equal for requests that differ
// only in page_size and page_token, different (with overwhelming
// probability) otherwise. First 8 bytes of SHA-256 over the deterministic
// serialization of the request with page_size and page_token cleared.
uint64_t ListFilterFingerprint(const lifelong::v1::ListCoursesRequest& request);

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_PAGE_TOKEN_H_
