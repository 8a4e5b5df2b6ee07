#include "services/auth/outgoing_token.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace lifelong::auth {
OutgoingToken::OutgoingToken(std::string token) : fixed_(std::move(token)) {}

OutgoingToken::OutgoingToken(const char* token) : OutgoingToken(std::string(token == nullptr ? "" : token)) {}

OutgoingToken::OutgoingToken(std::shared_ptr<const TokenFile> file) : file_(std::move(file)) {}

std::string OutgoingToken::Current() const { return file_ != nullptr ? file_->Token() : fixed_; }

void OutgoingToken::AttachTo(grpc::ClientContext* ctx) const {
  std::string token = Current();
  if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

}  // namespace lifelong::auth
