#include "services/common/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace lifelong {
namespace {

absl::Status ErrnoStatus(int err, const std::string& message) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::FailedPreconditionError(message);
  }
}

// Reads `path` (named by `flag`) into `out` when `path` is not empty.
absl::Status ReadPem(const char* flag, const std::string& path, std::string* out) {
  if (path.empty()) return absl::OkStatus();
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno == 0 ? ENOENT : errno;
    return ErrnoStatus(err, absl::StrCat("--", flag, ": cannot read \"", path, "\": ", std::strerror(err)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  if (!absl::StrContains(*out, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": \"", path, "\" holds no PEM block (-----BEGIN ...)"));
  }
  return absl::OkStatus();
}

// The oldest queued OpenSSL error as text (and the queue emptied).
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

}  // namespace

const char* ServingTlsMode(const TlsConfig& config) {
  if (!config.ServesTls()) return "off";
  return config.require_client_cert ? "mutual" : "tls";
}

absl::Status ValidateServingTls(const TlsConfig& config) {
  if (config.cert_file.empty() != config.key_file.empty()) {
    return absl::InvalidArgumentError(config.cert_file.empty()
                                          ? "--tls_key is set but --tls_cert is not: both or neither"
                                          : "--tls_cert is set but --tls_key is not: both or neither");
  }
  if (config.require_client_cert && config.cert_file.empty()) {
    return absl::InvalidArgumentError("--tls_require_client_cert needs TLS: set --tls_cert and --tls_key");
  }
  if (config.require_client_cert && config.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_require_client_cert needs --tls_ca (the CA that client certificates are "
        "verified against)");
  }
  return absl::OkStatus();
}

absl::Status ValidateCallingTls(const TlsConfig& config) {
  if (config.cert_file.empty() != config.key_file.empty()) {
    return absl::InvalidArgumentError(config.cert_file.empty()
                                          ? "--tls_key is set but --tls_cert is not: both or neither"
                                          : "--tls_cert is set but --tls_key is not: both or neither");
  }
  return absl::OkStatus();
}

absl::StatusOr<TlsPem> ReadTlsFiles(const TlsConfig& config) {
  TlsPem pem;
  if (absl::Status s = ReadPem("tls_cert", config.cert_file, &pem.cert); !s.ok()) return s;
  if (absl::Status s = ReadPem("tls_key", config.key_file, &pem.key); !s.ok()) return s;
  if (absl::Status s = ReadPem("tls_ca", config.ca_file, &pem.ca); !s.ok()) return s;
  return pem;
}

void SslCtxDeleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

absl::Status ConfigureServerSslCtx(const TlsConfig& config, SSL_CTX* ctx) {
  if (absl::Status s = ValidateServingTls(config); !s.ok()) return s;
  if (!config.ServesTls()) return absl::InvalidArgumentError("TLS serving needs --tls_cert");
  // Readable, PEM files first, for errors that name the flag.
  if (absl::StatusOr<TlsPem> pem = ReadTlsFiles(config); !pem.ok()) return pem.status();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Session resumption (TLS 1.2 session ids and TLS 1.3 tickets): OpenSSL
  // ties a cached session to a "session id context" and, when client
  // certificates are verified (SSL_VERIFY_PEER below) and no context is set,
  // answers every resumption attempt with a fatal internal_error alert
  // (SSL_R_SESSION_ID_CONTEXT_UNINITIALIZED). The context names the
  // verification mode, so a session established without a client
  // certificate never resumes where one is demanded (sessions and ticket keys
  // are per context already; this holds even if a cache were shared).
  // tests/security:tls_resumption_test.
  const std::string session_context =
      absl::StrCat("lifelong/", ServingTlsMode(config), config.ca_file.empty() ? "" : "/verify");
  if (SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(session_context.data()),
                                     static_cast<unsigned int>(session_context.size())) != 1) {
    return absl::InternalError(absl::StrCat("SSL_CTX_set_session_id_context: ", OpenSslError()));
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_cert: \"", config.cert_file, "\": ", OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_key: \"", config.key_file, "\": ", OpenSslError()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key: \"", config.key_file, "\" is not the key of --tls_cert \"", config.cert_file, "\""));
  }
  if (config.ca_file.empty()) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return absl::OkStatus();
  }
  if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_ca: \"", config.ca_file, "\": ", OpenSslError()));
  }
  // The CA names sent in the CertificateRequest (clients pick a matching
  // certificate by them).
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca_file.c_str())) {
    SSL_CTX_set_client_CA_list(ctx, names);
  }
  ERR_clear_error();
  SSL_CTX_set_verify(
      ctx, config.require_client_cert ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, nullptr);
  return absl::OkStatus();
}

absl::StatusOr<SslCtxPtr> NewServerSslCtx(const TlsConfig& config) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", OpenSslError()));
  if (absl::Status s = ConfigureServerSslCtx(config, ctx.get()); !s.ok()) return s;
  return ctx;
}

}  // namespace lifelong
