// Fuzz target: ListStatements page tokens (services/records/page_token.h), a
// string every client hands back. Decoded with a fixed key, three ways:
//  - the input as a token, as a client would send it;
//  - the input as the signed bytes, with a valid MAC appended (computed here as
//    the layout in page_token.h prescribes), so that what follows the MAC
//    check is reached too; once as given, once with the filter hash patched in;
//  - the input as a position, through Encode and Decode.
// Whatever decodes must re-encode to the same signed bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "services/records/page_token.h"
#include "tests/fuzz/fuzz_support.h"

namespace lifelong::records {
namespace {

const std::string& Key() {
  static const std::string* key = new std::string(32, 'k');
  return *key;
}

constexpr absl::string_view kFilters = "learner=u42;verb=;activity=";

// First 16 bytes of HMAC-SHA-256(key, body), as page_token.h documents.
std::string Mac(absl::string_view body) { return fuzz::Hmac16(Key(), body); }

void Decode(const PageTokenCodec& codec, absl::string_view token, bool ascending) {
  absl::StatusOr<PagePosition> pos = codec.Decode(kFilters, ascending, token);
  if (!pos.ok()) {
    FUZZ_CHECK(pos.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(pos->ascending == ascending);
  FUZZ_CHECK_SAME_TOKEN(token, codec.Encode(kFilters, *pos));
}

void DecodeSigned(const PageTokenCodec& codec, std::string body, bool ascending) {
  body += Mac(body);
  Decode(codec, absl::WebSafeBase64Escape(body), ascending);
}

}  // namespace
}  // namespace lifelong::records

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lifelong::records;
  static const PageTokenCodec* codec = new PageTokenCodec(Key());
  const absl::string_view input = lifelong::fuzz::AsView(data, size);
  const bool ascending = size > 0 && (data[0] & 1);

  Decode(*codec, input, ascending);
  Decode(*codec, input, !ascending);

  DecodeSigned(*codec, std::string(input), ascending);
  if (input.size() >= 10) {
    std::string patched(input);
    patched.replace(2, 8, Sha256(kFilters).substr(0, 8));
    DecodeSigned(*codec, patched, ascending);
  }

  if (input.size() >= 24) {
    PagePosition pos;
    pos.ascending = ascending;
    pos.seq = GetU64(input.data());
    std::memcpy(pos.id.data(), input.data() + 8, 16);
    absl::StatusOr<PagePosition> back = codec->Decode(kFilters, ascending, codec->Encode(kFilters, pos));
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(back->seq == pos.seq && back->id == pos.id && back->ascending == ascending);
    // Another sort order or other filters never accept it.
    FUZZ_CHECK(!codec->Decode(kFilters, !ascending, codec->Encode(kFilters, pos)).ok());
    FUZZ_CHECK(!codec->Decode("other", ascending, codec->Encode(kFilters, pos)).ok());
  }
  return 0;
}
