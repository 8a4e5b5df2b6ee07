// The TLS command-line flags shared by the servers, the demo loader and the
// trainer (docs/security.md, "TLS"):
//
//   --tls_cert=FILE  --tls_key=FILE   this process's certificate and key: the
//                                     servers serve TLS with them; every
//                                     process presents them as its client
//                                     certificate when calling others
//   --tls_ca=FILE                     CA that peers are verified against; a
//                                     client calls with TLS when it is set
//   --tls_require_client_cert         servers only: mutual TLS, refuse clients
//                                     without a certificate from --tls_ca
//
// Every flag empty (the default) means plaintext, as before.
#ifndef LIFELONG_SERVICES_COMMON_TLS_FLAGS_H_
#define LIFELONG_SERVICES_COMMON_TLS_FLAGS_H_

#include "absl/status/statusor.h"
#include "services/common/tls.h"

namespace lifelong {

// The flags as a TlsConfig for serving; INVALID_ARGUMENT (naming the flags)
// for an incomplete combination (ValidateServingTls).
absl::StatusOr<TlsConfig> ServingTlsFromFlags();

// The flags as a TlsConfig for outgoing calls (require_client_cert false);
// INVALID_ARGUMENT as ValidateCallingTls.
absl::StatusOr<TlsConfig> CallingTlsFromFlags();

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_TLS_FLAGS_H_
