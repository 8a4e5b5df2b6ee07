// The bearer token a client (CLI, loader, trainer, the recommender's calls to
// other services) sends: --token_file, else the LIFELONG_TOKEN environment
// variable, else none.
#ifndef LIFELONG_SERVICES_AUTH_CLIENT_TOKEN_H_
#define LIFELONG_SERVICES_AUTH_CLIENT_TOKEN_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"

namespace lifelong::auth {

// "" when no token is configured; NOT_FOUND when --token_file is unreadable.
absl::StatusOr<std::string> ClientTokenFromFlags();

// Adds "authorization: Bearer <token>" to `ctx` (nothing for an empty token).
void AttachToken(const std::string& token, grpc::ClientContext* ctx);

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_CLIENT_TOKEN_H_
