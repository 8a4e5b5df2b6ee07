// Fuzz target: ListCourses page tokens (services/catalog/page_token.h), a
// string every client hands back. Verified with a fixed key, three ways:
//  - the input as a token, as a client would send it;
//  - the input as the signed payload, with a valid tag appended (computed here
//    as page_token.h prescribes), so that the payload decoder
//    (codec::DecodePageTokenPayload) is reached with any bytes;
//  - the input as a payload (time, fingerprint, course id), through Sign and
//    Verify.
// Whatever verifies must re-sign to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "services/catalog/catalog_codec.h"
#include "services/catalog/page_token.h"
#include "tests/fuzz/fuzz_support.h"

namespace lifelong::catalog {
namespace {

const std::string& Key() {
  static const std::string* key = new std::string(32, 'k');
  return *key;
}

std::string Tag(absl::string_view payload) { return fuzz::Hmac16(Key(), payload); }

void Verify(const PageTokenSigner& signer, absl::string_view token) {
  absl::StatusOr<codec::PageTokenPayload> payload = signer.Verify(token);
  if (!payload.ok()) {
    FUZZ_CHECK(payload.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(codec::IsValidCourseId(payload->last_id));
  FUZZ_CHECK_SAME_TOKEN(token, signer.Sign(*payload));
}

}  // namespace
}  // namespace lifelong::catalog

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lifelong::catalog;
  static const PageTokenSigner* signer = new PageTokenSigner(Key());
  const absl::string_view input = lifelong::fuzz::AsView(data, size);

  Verify(*signer, input);
  Verify(*signer, absl::WebSafeBase64Escape(std::string(input) + Tag(input)));

  if (input.size() >= 16) {
    codec::PageTokenPayload payload;
    int64_t micros;
    std::memcpy(&micros, input.data(), 8);
    payload.issue_time = absl::FromUnixMicros(micros);
    std::memcpy(&payload.filter_fingerprint, input.data() + 8, 8);
    payload.last_id = std::string(input.substr(16));
    if (codec::IsValidCourseId(payload.last_id)) {
      absl::StatusOr<codec::PageTokenPayload> back = signer->Verify(signer->Sign(payload));
      FUZZ_CHECK(back.ok());
      FUZZ_CHECK(back->issue_time == payload.issue_time);
      FUZZ_CHECK(back->filter_fingerprint == payload.filter_fingerprint);
      FUZZ_CHECK(back->last_id == payload.last_id);
    }
  }
  return 0;
}
