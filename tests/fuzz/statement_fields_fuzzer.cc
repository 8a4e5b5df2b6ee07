// Fuzz target: the small parsers of statement.h that take outside input on
// their own (query parameters and gRPC request fields), each run on the whole
// input:
//  - LearnerKeyFromAgentJson (the xAPI `agent` parameter) and
//    CanonicalLearnerKey (learner keys in gRPC requests): a key derived from an
//    Agent must be a canonical key of the same identifier type, so that the
//    gRPC side finds what the xAPI side filed, and never another identity's;
//  - ParseTimestampMicros: in range, and round-trips through
//    FormatTimestampMicros;
//  - ParseIsoDurationSeconds: a finite, non-negative number of seconds;
//  - ParseUuid / FormatUuid, IsAbsoluteIri, IsLanguageTag.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "services/records/key_codec.h"
#include "services/records/statement.h"
#include "tests/fuzz/fuzz_support.h"

namespace lifelong::records {
namespace {

// Microseconds of 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z.
constexpr int64_t kMinMicros = -62135596800LL * 1000000;
constexpr int64_t kEndMicros = 253402300800LL * 1000000;

void FuzzAgentKey(absl::string_view input) {
  absl::StatusOr<std::string> key = LearnerKeyFromAgentJson(input, "agent");
  if (!key.ok()) {
    FUZZ_CHECK(key.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(!key->empty());
  // The form of the key follows the identifier the Agent/Group carries
  // (validation allows exactly one; presence does not depend on which of
  // duplicate members a JSON parser keeps).
  const nlohmann::json agent = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(agent.is_object());
  if (agent.contains("account")) {
    // "account:<homePage>|<name>", or the bare name of a district account,
    // which must not read as any other form.
    FUZZ_CHECK(absl::StartsWith(*key, "account:") || key->find(':') == std::string::npos);
  } else if (agent.contains("mbox")) {
    FUZZ_CHECK(absl::StartsWith(*key, "mailto:"));
  } else if (agent.contains("mbox_sha1sum")) {
    FUZZ_CHECK(absl::StartsWith(*key, "sha1:"));
  } else {
    FUZZ_CHECK(agent.contains("openid") && absl::StartsWith(*key, "openid:"));
  }
  // gRPC callers name learners by the same key.
  absl::StatusOr<std::string> canonical = CanonicalLearnerKey(*key, "learner");
  FUZZ_CHECK(canonical.ok());
  FUZZ_CHECK(*canonical == *key);
}

void FuzzCanonicalKey(absl::string_view input) {
  absl::StatusOr<std::string> key = CanonicalLearnerKey(input, "learner");
  if (!key.ok()) {
    FUZZ_CHECK(key.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(!key->empty());
  absl::StatusOr<std::string> again = CanonicalLearnerKey(*key, "learner");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *key);
}

void FuzzTimestamp(absl::string_view input) {
  absl::StatusOr<int64_t> micros = ParseTimestampMicros(input);
  if (!micros.ok()) {
    FUZZ_CHECK(micros.status().code() == absl::StatusCode::kInvalidArgument);
  } else {
    FUZZ_CHECK(*micros >= kMinMicros && *micros < kEndMicros);
    absl::StatusOr<int64_t> back = ParseTimestampMicros(FormatTimestampMicros(*micros));
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(*back == *micros);
  }
  // Formatting any time in range and parsing it back is exact.
  if (input.size() == sizeof(int64_t)) {
    int64_t v;
    std::memcpy(&v, input.data(), sizeof(v));
    if (v >= kMinMicros && v < kEndMicros) {
      absl::StatusOr<int64_t> back = ParseTimestampMicros(FormatTimestampMicros(v));
      FUZZ_CHECK(back.ok());
      FUZZ_CHECK(*back == v);
    } else {
      (void)FormatTimestampMicros(v);
    }
  }
}

void FuzzDuration(absl::string_view input) {
  absl::StatusOr<double> seconds = ParseIsoDurationSeconds(input);
  if (!seconds.ok()) {
    FUZZ_CHECK(seconds.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(std::isfinite(*seconds));
  FUZZ_CHECK(*seconds >= 0);
}

void FuzzUuid(absl::string_view input) {
  absl::StatusOr<Uuid> uuid = ParseUuid(input);
  if (!uuid.ok()) return;
  FUZZ_CHECK(FormatUuid(*uuid) == absl::AsciiStrToLower(input));
}

}  // namespace
}  // namespace lifelong::records

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lifelong::records;
  const absl::string_view input = lifelong::fuzz::AsView(data, size);
  FuzzAgentKey(input);
  FuzzCanonicalKey(input);
  FuzzTimestamp(input);
  FuzzDuration(input);
  FuzzUuid(input);
  (void)IsAbsoluteIri(input);
  (void)IsLanguageTag(input);
  return 0;
}
