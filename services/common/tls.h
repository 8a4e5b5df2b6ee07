// TLS settings shared by every port of every service (gRPC, xAPI HTTP,
// /metrics) and by the clients (CLI, demo loader, trainer, the recommender's
// calls to records and catalog). docs/security.md, section "TLS".
//
// One TlsConfig describes both directions of a process:
//   - serving: TLS when `cert_file` is set (with `key_file`); client
//     certificates are verified against `ca_file` when one is given, and
//     demanded when `require_client_cert` is set (mutual TLS);
//   - calling: TLS when `ca_file` or `cert_file` is set; the peer is verified
//     against `ca_file` (the system roots when empty), and `cert_file` /
//     `key_file`, when set, are presented as the client certificate.
// A service thus uses its own certificate as its client identity towards the
// other services; the development CA (ops/dev-ca.sh) issues certificates valid
// for both serverAuth and clientAuth.
//
// This library has no gRPC in it (services/common/grpc_tls.h builds gRPC
// credentials from a TlsConfig); it reads PEM files and builds OpenSSL server
// contexts for the HTTP endpoints.
#ifndef LIFELONG_SERVICES_COMMON_TLS_H_
#define LIFELONG_SERVICES_COMMON_TLS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace lifelong {

struct TlsConfig {
  std::string cert_file;  // PEM certificate (chain) this process presents
  std::string key_file;   // PEM private key of cert_file
  std::string ca_file;    // PEM CA certificate(s) that peers are verified against
  // Serving only: refuse clients without a certificate signed by ca_file.
  bool require_client_cert = false;

  // True when this process serves TLS (a certificate is configured).
  bool ServesTls() const { return !cert_file.empty(); }
  // True when this process calls its peers over TLS.
  bool CallsWithTls() const { return !ca_file.empty() || !cert_file.empty(); }
};

// The contents of the files of a TlsConfig (empty where no file is named).
struct TlsPem {
  std::string cert;
  std::string key;
  std::string ca;
};

// "off", "tls" or "mutual": how a server with `config` serves, for logs.
const char* ServingTlsMode(const TlsConfig& config);

// Checks that a serving configuration is complete: INVALID_ARGUMENT when
// cert_file and key_file are not both set or both empty, or when
// require_client_cert is set without ca_file (or without cert_file). The
// messages name the flags (--tls_cert, --tls_key, --tls_ca,
// --tls_require_client_cert).
absl::Status ValidateServingTls(const TlsConfig& config);

// Checks a calling configuration: INVALID_ARGUMENT when exactly one of
// cert_file and key_file is set.
absl::Status ValidateCallingTls(const TlsConfig& config);

// Reads every file named in `config`. NOT_FOUND (or the errno's code) with a
// message naming the flag and the path when a file cannot be read;
// INVALID_ARGUMENT when a file holds no PEM block.
absl::StatusOr<TlsPem> ReadTlsFiles(const TlsConfig& config);

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const;
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// Configures `ctx` (a fresh server context) from a serving configuration
// (ValidateServingTls must pass): TLS 1.2 or newer, the certificate and key
// (checked to match), and client-certificate verification against ca_file
// (demanded when require_client_cert; verified when presented otherwise).
// Errors as ReadTlsFiles, plus INVALID_ARGUMENT when OpenSSL rejects a file.
absl::Status ConfigureServerSslCtx(const TlsConfig& config, SSL_CTX* ctx);

// A new server context configured as ConfigureServerSslCtx does.
absl::StatusOr<SslCtxPtr> NewServerSslCtx(const TlsConfig& config);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_TLS_H_
