#include "services/cli/stable_id.h"

#include <openssl/evp.h>

#include <cstdio>
#include <string>

namespace lifelong::cli {
namespace {

// Namespace UUID of the district's tools: 6f1c2a9e-4b7d-5e21-9c3a-0d8e4f6a7b10.
constexpr unsigned char kNamespace[16] = {0x6f, 0x1c, 0x2a, 0x9e, 0x4b, 0x7d, 0x5e, 0x21,
                                          0x9c, 0x3a, 0x0d, 0x8e, 0x4f, 0x6a, 0x7b, 0x10};

}  // namespace

std::string StableUuid(absl::string_view name) {
  std::string input(reinterpret_cast<const char*>(kNamespace), sizeof(kNamespace));
  input.append(name.data(), name.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof(out), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", digest[0],
                digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7], digest[8], digest[9],
                digest[10], digest[11], digest[12], digest[13], digest[14], digest[15]);
  return out;
}

}  // namespace lifelong::cli
