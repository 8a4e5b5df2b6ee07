#include "services/records/page_token.h"

#include <cstring>

namespace lifelong::records {
namespace {
constexpr size_t kBodyLen = 34;
}  // namespace

std::string PageTokenCodec::Encode(absl::string_view filters, const PagePosition& pos) const {
  std::string body;
  body.push_back(1);
  body.push_back(pos.ascending ? 1 : 0);
  body.append(Sha256(filters).substr(0, 8));
  PutU64(&body, pos.seq);
  body.append(reinterpret_cast<const char*>(pos.id.data()), 16);
  return envelope_.Seal(body);
}

absl::StatusOr<PagePosition> PageTokenCodec::Decode(absl::string_view filters, bool ascending,
                                                    absl::string_view token) const {
  storage::SignedTokenCodec::Opened opened = envelope_.Open(token);
  if (opened.refusal == storage::SignedTokenCodec::Refusal::kForged) {
    return absl::InvalidArgumentError("page_token: not issued by this service");
  }
  const std::string& raw = opened.payload;
  if (!opened.ok() || raw.size() != kBodyLen || raw[0] != 1) {
    return absl::InvalidArgumentError("page_token: malformed");
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
