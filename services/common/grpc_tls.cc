#include "services/common/grpc_tls.h"

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

namespace lifelong {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const TlsConfig& config) {
  if (absl::Status s = ValidateServingTls(config); !s.ok()) return s;
  if (!config.ServesTls()) return grpc::InsecureServerCredentials();
  absl::StatusOr<TlsPem> pem = ReadTlsFiles(config);
  if (!pem.ok()) return pem.status();
  grpc::SslServerCredentialsOptions options(pem->ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                            : config.require_client_cert
                                                ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = pem->ca;
  options.pem_key_cert_pairs.push_back({pem->key, pem->cert});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(const TlsConfig& config) {
  if (absl::Status s = ValidateCallingTls(config); !s.ok()) return s;
  if (!config.CallsWithTls()) return grpc::InsecureChannelCredentials();
  absl::StatusOr<TlsPem> pem = ReadTlsFiles(config);
  if (!pem.ok()) return pem.status();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pem->ca;
  options.pem_private_key = pem->key;
  options.pem_cert_chain = pem->cert;
  return grpc::SslCredentials(options);
}

}  // namespace lifelong
