#include "services/catalog/page_token.h"

#include <openssl/sha.h>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace lifelong::catalog {

std::string PageTokenSigner::Sign(const codec::PageTokenPayload& payload) const {
  return envelope_.Seal(codec::EncodePageTokenPayload(payload));
}

absl::StatusOr<codec::PageTokenPayload> PageTokenSigner::Verify(absl::string_view token) const {
  const storage::SignedTokenCodec::Opened opened = envelope_.Open(token);
  switch (opened.refusal) {
    case storage::SignedTokenCodec::Refusal::kNone:
      break;
    case storage::SignedTokenCodec::Refusal::kMalformed:
      return absl::InvalidArgumentError("page_token: not a token issued by this service");
    case storage::SignedTokenCodec::Refusal::kForged:
      return absl::InvalidArgumentError(
          "page_token: not a token issued by this service (forged, altered or from another "
          "catalog)");
  }
  absl::StatusOr<codec::PageTokenPayload> decoded = codec::DecodePageTokenPayload(opened.payload);
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
