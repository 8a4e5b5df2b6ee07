#include "services/common/tls_testing.h"

#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tests/testing/subprocess.h"

namespace lifelong::testing {

absl::StatusOr<TestCa> TestCa::Create(const std::string& name) {
  const std::string dir = FreshTempDir(name);
  const std::string log = dir + ".log";
  absl::StatusOr<Subprocess> script = Subprocess::Start({"/bin/bash", RunfilePath("ops/dev-ca.sh"), dir}, log);
  if (!script.ok()) return script.status();
  absl::StatusOr<int> status = script->Wait(std::chrono::seconds(60));
  if (!status.ok()) return status.status();
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    std::ifstream in(log);
    std::ostringstream text;
    text << in.rdbuf();
    return absl::InternalError(absl::StrCat("ops/dev-ca.sh ", dir, " failed: ", text.str()));
  }
  return TestCa(dir);
}

TlsConfig TestCa::Server(const std::string& service, bool require_client_cert) const {
  TlsConfig c;
  c.cert_file = File(service + ".pem");
  c.key_file = File(service + ".key");
  c.ca_file = File("ca.pem");
  c.require_client_cert = require_client_cert;
  return c;
}

TlsConfig TestCa::Client(const std::string& identity) const {
  TlsConfig c;
  c.ca_file = File("ca.pem");
  if (!identity.empty()) {
    c.cert_file = File(identity + ".pem");
    c.key_file = File(identity + ".key");
  }
  return c;
}

}  // namespace lifelong::testing
