#include "services/auth/client_token.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

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

absl::StatusOr<OutgoingToken> OutgoingTokenFromFlags(TokenFile::Options options) {
  std::string file = absl::GetFlag(FLAGS_token_file);
  if (!file.empty()) {
    absl::StatusOr<std::shared_ptr<TokenFile>> token_file = TokenFile::Open(std::move(file), std::move(options));
    if (!token_file.ok()) return token_file.status();
    return OutgoingToken(std::shared_ptr<const TokenFile>(*std::move(token_file)));
  }
  const char* env = std::getenv("LIFELONG_TOKEN");
  return OutgoingToken(std::string(env ? absl::StripAsciiWhitespace(env) : ""));
}

void AttachToken(const std::string& token, grpc::ClientContext* ctx) {
  if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

}  // namespace lifelong::auth
