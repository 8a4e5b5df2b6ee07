#include "services/auth/client_token.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, token_file, "",
          "file holding the bearer token to call the services with (default: $LIFELONG_TOKEN)");

namespace lifelong::auth {

absl::StatusOr<std::string> ClientTokenFromFlags() {
  std::string file = absl::GetFlag(FLAGS_token_file);
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrCat("--token_file: cannot read ", file));
    std::stringstream ss;
    ss << in.rdbuf();
    return std::string(absl::StripAsciiWhitespace(ss.str()));
  }
  const char* env = std::getenv("LIFELONG_TOKEN");
  return std::string(env ? absl::StripAsciiWhitespace(env) : "");
}

void AttachToken(const std::string& token, grpc::ClientContext* ctx) {
  if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

}  // namespace lifelong::auth
