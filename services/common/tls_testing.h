// Test helper: throwaway certificates from ops/dev-ca.sh (the script the
// stack uses), issued into a fresh directory under TEST_TMPDIR. Tests that
// use it list "//ops:dev-ca.sh" in `data` and need the openssl command.
#ifndef LIFELONG_SERVICES_COMMON_TLS_TESTING_H_
#define LIFELONG_SERVICES_COMMON_TLS_TESTING_H_

#include <string>

#include "absl/status/statusor.h"
#include "services/common/tls.h"

namespace lifelong::testing {

// A development CA and its certificates in one directory.
class TestCa {
 public:
  // Runs ops/dev-ca.sh into TEST_TMPDIR/<name> (emptied first). INTERNAL with
  // the script's output when it fails.
  static absl::StatusOr<TestCa> Create(const std::string& name);

  const std::string& dir() const { return dir_; }
  std::string File(const std::string& file) const { return dir_ + "/" + file; }

  // Serving with `service`'s certificate ("records", "catalog", "recommend"),
  // client certificates verified against this CA, demanded when `require`.
  TlsConfig Server(const std::string& service, bool require_client_cert) const;
  // Calling with this CA as the root; with the certificate of `identity`
  // ("client", or a service name) when not empty.
  TlsConfig Client(const std::string& identity) const;

 private:
  explicit TestCa(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace lifelong::testing

#endif  // LIFELONG_SERVICES_COMMON_TLS_TESTING_H_
