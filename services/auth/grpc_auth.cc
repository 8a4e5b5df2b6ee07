#include "services/auth/grpc_auth.h"

namespace lifelong::auth {

absl::string_view AuthorizationHeader(const grpc::ServerContextBase* ctx) {
  if (ctx == nullptr) return absl::string_view();
  auto it = ctx->client_metadata().find("authorization");
  return it == ctx->client_metadata().end() ? absl::string_view()
                                            : absl::string_view(it->second.data(), it->second.size());
}

absl::StatusOr<AccessGrant> AuthorizeCall(Authorizer* authorizer, const grpc::ServerContextBase* ctx,
                                          absl::string_view operation) {
  static Authorizer* const trust_everyone = new Authorizer(AuthOptions{});
  Authorizer* a = authorizer != nullptr ? authorizer : trust_everyone;
  return a->Authorize(AuthorizationHeader(ctx), operation);
}

}  // namespace lifelong::auth
