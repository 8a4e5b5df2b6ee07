// Helpers shared by the fuzz targets in this folder: invariant checks that
// crash loudly (so libFuzzer and the replay tests report the input that broke
// them), and splitting one input into several fields for entry points that take
// more than one argument. Header-only, so that the clang fuzzing build
// (fuzz_smoke.sh) compiles nothing but the target's own sources.
#ifndef LIFELONG_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define LIFELONG_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

// Aborts with the failed condition when `cond` is false. Use it for properties
// the code under test promises (round trips, documented postconditions), not
// for outcomes that merely depend on the input.
#define FUZZ_CHECK(cond)                                            \
  do {                                                              \
    if (!(cond)) ::lifelong::fuzz::Fail(__FILE__, __LINE__, #cond); \
  } while (0)

namespace lifelong::fuzz {

// A target may tolerate a bug that is reported but not fixed yet (README.md,
// "Open findings"), so that fuzzing keeps looking for new bugs past it:
//   if (!(kTolerateKnownBugs && <the bug's trigger>)) FUZZ_CHECK(...);
// fuzz_run.sh builds with FUZZ_TOLERATE_KNOWN_BUGS; the replay tests do not,
// so they fail on the saved reproducer until the bug is fixed.
#ifdef FUZZ_TOLERATE_KNOWN_BUGS
inline constexpr bool kTolerateKnownBugs = true;
#else
inline constexpr bool kTolerateKnownBugs = false;
#endif

[[noreturn]] inline void Fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, what);
  std::fflush(stderr);
  std::abort();
}

inline absl::string_view AsView(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// Separates the fields of a multi-field input: a line holding "~~". Seed files
// stay readable, and the dictionaries offer it to the mutator.
inline constexpr absl::string_view kFieldSeparator = "\n~~\n";

// Splits `input` at its first `n - 1` separators into exactly `n` fields;
// missing fields are empty and the last field keeps any further separators.
inline std::vector<absl::string_view> SplitFields(absl::string_view input, size_t n) {
  std::vector<absl::string_view> fields;
  fields.reserve(n);
  while (fields.size() + 1 < n) {
    size_t at = input.find(kFieldSeparator);
    if (at == absl::string_view::npos) break;
    fields.push_back(input.substr(0, at));
    input.remove_prefix(at + kFieldSeparator.size());
  }
  fields.push_back(input);
  while (fields.size() < n) fields.push_back(absl::string_view());
  return fields;
}

// Page tokens (services/records/page_token.h, services/catalog/page_token.h)
// are web-safe base64 of a payload and the first 16 bytes of
// HMAC-SHA-256(key, payload). Computed here independently of the code under
// test, so that a target can sign any payload and reach the decoder behind
// the tag check.
inline std::string Hmac16(absl::string_view key, absl::string_view payload) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(payload.data()),
       payload.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), 16);
}

// A token that decoded must re-encode to the same bytes: compares the
// unescaped bytes, as base64 has more than one spelling of the same bytes.
#define FUZZ_CHECK_SAME_TOKEN(token, reencoded)                         \
  do {                                                                  \
    std::string fuzz_raw_, fuzz_again_;                                 \
    FUZZ_CHECK(absl::WebSafeBase64Unescape((token), &fuzz_raw_));       \
    FUZZ_CHECK(absl::WebSafeBase64Unescape((reencoded), &fuzz_again_)); \
    FUZZ_CHECK(fuzz_raw_ == fuzz_again_);                               \
  } while (0)

}  // namespace lifelong::fuzz

#endif  // LIFELONG_TESTS_FUZZ_FUZZ_SUPPORT_H_
