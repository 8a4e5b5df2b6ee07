// OutgoingToken: the bearer token a client sends with each call: none, a
// fixed token, or the current token of a TokenFile (token_file.h), so that a
// long-running client (the recommender's calls to records and catalog, the
// CLI's `train --every`) keeps working when its token file is re-minted.
// Cheap to copy (copies share the file). Thread-safe.
#ifndef LIFELONG_SERVICES_AUTH_OUTGOING_TOKEN_H_
#define LIFELONG_SERVICES_AUTH_OUTGOING_TOKEN_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "services/auth/token_file.h"

namespace lifelong::auth {

class OutgoingToken {
 public:
  OutgoingToken() = default;  // none
  // A fixed token ("" none). Implicit, so that tests and tools can pass a
  // token string where an OutgoingToken is taken.
  OutgoingToken(std::string token);  // NOLINT(google-explicit-constructor)
  OutgoingToken(const char* token);  // NOLINT(google-explicit-constructor)
  // The current token of `file` (nullptr: none).
  OutgoingToken(std::shared_ptr<const TokenFile> file);  // NOLINT(google-explicit-constructor)

  // The token to send now ("" none).
  std::string Current() const;
  // Adds "authorization: Bearer <Current()>" to `ctx`; nothing when "".
  void AttachTo(grpc::ClientContext* ctx) const;
  // The file followed, or nullptr for a fixed token.
  const std::shared_ptr<const TokenFile>& file() const { return file_; }

 private:
  std::string fixed_;
  std::shared_ptr<const TokenFile> file_;
};

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_OUTGOING_TOKEN_H_
