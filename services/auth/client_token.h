// The bearer token a client (CLI, loader, trainer, the recommender's calls to
// other services) sends: --token_file, else the LIFELONG_TOKEN environment
// variable, else none. Short-lived tools read it once (ClientTokenFromFlags);
// servers follow the file (OutgoingTokenFromFlags: re-read when replaced).
#ifndef LIFELONG_SERVICES_AUTH_CLIENT_TOKEN_H_
#define LIFELONG_SERVICES_AUTH_CLIENT_TOKEN_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "services/auth/outgoing_token.h"
#include "services/auth/token_file.h"

namespace lifelong::auth {

// "" when no token is configured; NOT_FOUND when --token_file is unreadable.
absl::StatusOr<std::string> ClientTokenFromFlags();

// The same for a process that outlives its token: --token_file is followed
// (TokenFile with `options`: the file's current token, re-read when the file
// is replaced), $LIFELONG_TOKEN is fixed. The errors of TokenFile::Open.
absl::StatusOr<OutgoingToken> OutgoingTokenFromFlags(TokenFile::Options options = TokenFile::Options());

// Adds "authorization: Bearer <token>" to `ctx` (nothing for an empty token).
void AttachToken(const std::string& token, grpc::ClientContext* ctx);

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_CLIENT_TOKEN_H_
