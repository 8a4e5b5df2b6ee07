// Fuzz target: multipart/mixed request bodies and JWS statement signatures
// (services/xapi/multipart.h), as the xAPI endpoint receives them with
// statements that carry attachments.
//
// Input: six fields separated by lines holding "~~" (fuzz_support.h):
//   0 Content-Type header   1 body   2 JWS header JSON   3 JWS payload JSON
//   4 signature bytes       5 statement JSON
// The body is split with the boundary of field 0 (or field 0 itself when it
// has none), and every part after the first is checked as a signature of the
// first, as the endpoint does. Parts that all carry headers must survive
// BuildMultipart and a second parse unchanged. JWS strings are assembled from
// fields 2-5 (base64url here, so that the mutator works on the JSON), once
// with the statement itself as the payload so the certificate path is reached.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/xapi/multipart.h"
#include "tests/fuzz/fuzz_support.h"

namespace lifelong::xapi {
namespace {

void CheckSignature(absl::string_view jws, absl::string_view statement) {
  absl::Status status = CheckStatementSignature(jws, statement);
  FUZZ_CHECK(status.ok() || status.code() == absl::StatusCode::kInvalidArgument);
}

std::string Jws(absl::string_view header, absl::string_view payload, absl::string_view signature) {
  return absl::StrCat(absl::WebSafeBase64Escape(header), ".", absl::WebSafeBase64Escape(payload), ".",
                      absl::WebSafeBase64Escape(signature));
}

void FuzzMultipart(absl::string_view content_type, absl::string_view body) {
  absl::StatusOr<std::string> boundary = MultipartBoundary(content_type);
  if (boundary.ok()) {
    FUZZ_CHECK(!boundary->empty() && boundary->size() <= 200);
  } else {
    FUZZ_CHECK(boundary.status().code() == absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<std::vector<MultipartPart>> parts =
      ParseMultipart(boundary.ok() ? *boundary : std::string(content_type), body);
  if (!parts.ok()) {
    FUZZ_CHECK(parts.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  bool all_have_headers = true;
  for (const MultipartPart& part : *parts) {
    all_have_headers &= !part.headers.empty();
    for (const auto& [name, value] : part.headers) FUZZ_CHECK(absl::AsciiStrToLower(name) == name);
  }
  for (size_t i = 1; i < parts->size() && i < 4; ++i) {
    CheckSignature((*parts)[i].body, (*parts)[0].body);
  }
  if (!all_have_headers) return;
  std::string built_type;
  const std::string built = BuildMultipart(*parts, &built_type);
  absl::StatusOr<std::string> built_boundary = MultipartBoundary(built_type);
  FUZZ_CHECK(built_boundary.ok());
  absl::StatusOr<std::vector<MultipartPart>> again = ParseMultipart(*built_boundary, built);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->size() == parts->size());
  for (size_t i = 0; i < parts->size(); ++i) {
    FUZZ_CHECK((*again)[i].headers == (*parts)[i].headers);
    FUZZ_CHECK((*again)[i].body == (*parts)[i].body);
  }
}

}  // namespace
}  // namespace lifelong::xapi

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lifelong::xapi;
  const std::vector<absl::string_view> f = lifelong::fuzz::SplitFields(lifelong::fuzz::AsView(data, size), 6);
  FuzzMultipart(f[0], f[1]);
  CheckSignature(Jws(f[2], f[3], f[4]), f[5]);
  CheckSignature(Jws(f[2], f[5], f[4]), f[5]);
  CheckSignature(f[2], f[5]);
  return 0;
}
