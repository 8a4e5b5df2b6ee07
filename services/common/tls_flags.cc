#include "services/common/tls_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate of this process: serve TLS with it, and present it as the client "
          "certificate when calling other services (empty: plaintext)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificate(s) that peers are verified against; outgoing calls use TLS when set");
ABSL_FLAG(bool, tls_require_client_cert, false,
          "servers: mutual TLS, refuse clients without a certificate signed by --tls_ca");

namespace lifelong {
namespace {

TlsConfig FromFlags() {
  TlsConfig c;
  c.cert_file = absl::GetFlag(FLAGS_tls_cert);
  c.key_file = absl::GetFlag(FLAGS_tls_key);
  c.ca_file = absl::GetFlag(FLAGS_tls_ca);
  return c;
}

}  // namespace

absl::StatusOr<TlsConfig> ServingTlsFromFlags() {
  TlsConfig c = FromFlags();
  c.require_client_cert = absl::GetFlag(FLAGS_tls_require_client_cert);
  if (absl::Status s = ValidateServingTls(c); !s.ok()) return s;
  return c;
}

absl::StatusOr<TlsConfig> CallingTlsFromFlags() {
  TlsConfig c = FromFlags();
  if (absl::Status s = ValidateCallingTls(c); !s.ok()) return s;
  return c;
}

}  // namespace lifelong
