// gRPC credentials from a TlsConfig (services/common/tls.h): what every
// server listens with and what every client dials with.
#ifndef LIFELONG_SERVICES_COMMON_GRPC_TLS_H_
#define LIFELONG_SERVICES_COMMON_GRPC_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/statusor.h"
#include "services/common/tls.h"

namespace lifelong {

// Insecure credentials when `config` serves no TLS (no cert_file); otherwise
// TLS with the certificate and key, and client certificates verified against
// ca_file: demanded when require_client_cert (a client without one, or with
// one from another CA, fails its handshake), verified when presented
// otherwise. Errors as ValidateServingTls and ReadTlsFiles.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const TlsConfig& config);

// Insecure credentials when `config` calls without TLS (neither ca_file nor
// cert_file); otherwise TLS that verifies the server against ca_file (the
// system roots when empty) and the target's host name or IP address, and
// presents cert_file / key_file as the client certificate when set. Errors as
// ValidateCallingTls and ReadTlsFiles.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(const TlsConfig& config);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_GRPC_TLS_H_
