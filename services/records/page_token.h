// Opaque, signed page tokens for ListStatements.
//
// Layout before signing (34 bytes):
//   [0]      u8   format = 1
//   [1]      u8   1 = ascending, 0 = descending
//   [2..9]   8B   first 8 bytes of SHA-256 over the query's filters
//   [10..17] u64  stored sequence of the last returned entry
//   [18..33] 16B  id of the last returned entry
// sealed in the storage kit's signed envelope (services/storage/signed_token.h:
// followed by the first 16 bytes of HMAC-SHA-256(key, those 34 bytes); the
// whole is base64url without padding). A token whose MAC does not verify
// (forged, truncated) or whose filter hash differs from the request's (a token
// reused with other filters) is rejected with INVALID_ARGUMENT.
#ifndef LIFELONG_SERVICES_RECORDS_PAGE_TOKEN_H_
#define LIFELONG_SERVICES_RECORDS_PAGE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/records/key_codec.h"
#include "services/storage/signed_token.h"

namespace lifelong::records {

struct PagePosition {
  bool ascending = false;
  uint64_t seq = 0;
  Uuid id{};
};

// Thread-safe (immutable after construction).
class PageTokenCodec {
 public:
  // `key`: the secret (32 bytes from the store's meta family).
  explicit PageTokenCodec(std::string key) : envelope_(std::move(key)) {}

  // `filters`: a canonical description of the query's filters.
  std::string Encode(absl::string_view filters, const PagePosition& pos) const;

  // INVALID_ARGUMENT "page_token: ..." when forged, malformed, or issued for
  // other filters or another sort order.
  absl::StatusOr<PagePosition> Decode(absl::string_view filters, bool ascending, absl::string_view token) const;

 private:
  storage::SignedTokenCodec envelope_;
};

// SHA-256 of `data`, raw 32 bytes.
using storage::Sha256;
// 32 cryptographically random bytes (the store's page-token secret).
inline std::string RandomKey() { return storage::NewTokenKey(); }

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_PAGE_TOKEN_H_
