// Fuzz target: the query-string and form-body decoder of the xAPI endpoint
// (xapi::ParseFormUrlEncoded in services/xapi/http_types.h), which every xAPI
// request's parameters and the 1.0.3 alternate request syntax go through.
//
// Checks that decoding never grows the text (each byte decodes to at most one
// byte) and that a pair without escapes decodes to itself.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "services/xapi/http_types.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::multimap<std::string, std::string> params = lifelong::xapi::ParseFormUrlEncoded(text);
  size_t decoded = 0;
  for (const auto& [name, value] : params) decoded += name.size() + value.size();
  FUZZ_CHECK(decoded <= text.size());
  FUZZ_CHECK(params.size() <= text.size());
  if (text.find_first_of("%+") == std::string::npos && text.find('&') == std::string::npos && !text.empty()) {
    FUZZ_CHECK(params.size() == 1);
    const size_t eq = text.find('=');
    FUZZ_CHECK(params.begin()->first == text.substr(0, eq));
    FUZZ_CHECK(params.begin()->second == (eq == std::string::npos ? "" : text.substr(eq + 1)));
  }
  return 0;
}
