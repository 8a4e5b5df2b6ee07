// Authorizing a gRPC call: reads the "authorization" metadata and asks the
// Authorizer (nullptr: trust the caller, scope "any").
#ifndef LIFELONG_SERVICES_AUTH_GRPC_AUTH_H_
#define LIFELONG_SERVICES_AUTH_GRPC_AUTH_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/auth/authorizer.h"

namespace lifelong::auth {

// The call's "authorization" metadata, or "" (none, or no context).
absl::string_view AuthorizationHeader(const grpc::ServerContextBase* ctx);

// Authorizes the call of `operation` (sync or callback API).
absl::StatusOr<AccessGrant> AuthorizeCall(Authorizer* authorizer, const grpc::ServerContextBase* ctx,
                                          absl::string_view operation);

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_GRPC_AUTH_H_
