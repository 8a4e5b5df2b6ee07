// The HTTP/1.1 side of the xAPI endpoint, on cpp-httplib (Debian's
// libcpp-httplib-dev): chosen for keep-alive, a bounded worker pool, read and
// write timeouts (a stalled client cannot hold a worker for long) and a
// payload limit, in one well-kept header. Every request under the base path
// goes to XapiHandler; nothing else is served.
#ifndef LIFELONG_SERVICES_XAPI_XAPI_HTTP_SERVER_H_
#define LIFELONG_SERVICES_XAPI_XAPI_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "services/common/tls.h"
#include "services/xapi/xapi_handler.h"

namespace httplib {
class Server;
}

namespace lifelong::xapi {

struct XapiHttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks a free port
  std::string base_path = "/xapi";
  int threads = 32;
  int io_timeout_seconds = 10;  // read and write timeouts per request
  // HTTPS when tls.cert_file is set (client certificates demanded when
  // tls.require_client_cert); plaintext HTTP otherwise. docs/security.md.
  TlsConfig tls;
};

// A running server. Stop() (also run by the destructor) stops accepting,
// finishes in-flight requests and joins the listener thread.
class XapiHttpServer {
 public:
  // UNAVAILABLE when the address cannot be bound; the errors of
  // ConfigureServerSslCtx (tls.h) for an unusable TLS configuration.
  // `handler` must outlive it.
  static absl::StatusOr<std::unique_ptr<XapiHttpServer>> Start(const XapiHttpOptions& options,
                                                               const XapiHandler* handler);
  ~XapiHttpServer();
  int port() const { return port_; }
  void Stop();

 private:
  XapiHttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  int port_ = 0;
};

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_XAPI_HTTP_SERVER_H_
