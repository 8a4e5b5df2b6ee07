#include "services/auth/grpc_auth.h"

namespace lifelong::auth {

absl::StatusOr<AccessGrant> AuthorizeCall(Authorizer* authorizer, const grpc::ServerContext* ctx,
                                          absl::string_view operation) {
  static Authorizer* const trust_everyone = new Authorizer(AuthOptions{});
  Authorizer* a = authorizer != nullptr ? authorizer : trust_everyone;
  std::string authorization;
  if (ctx != nullptr) {
    auto it = ctx->client_metadata().find("authorization");
    if (it != ctx->client_metadata().end()) authorization.assign(it->second.data(), it->second.size());
  }
  return a->Authorize(authorization, operation);
}

}  // namespace lifelong::auth
