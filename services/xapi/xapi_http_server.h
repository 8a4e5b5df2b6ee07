// The HTTP/1.1 side of the xAPI endpoint. Every request under the base path
// goes to XapiHandler; nothing else is served.
//
// Connection model (issue #13 item 3; docs/security.md, "Slow and idle
// clients"): one event-loop thread (epoll) owns every socket — accepting, the TLS
// handshake (non-blocking OpenSSL), reading requests, writing responses — and
// a pool of `threads` workers runs handlers on requests that have arrived
// whole (http_request_framing.h). So a connection that is idle, or sends its
// request a byte at a time, costs a socket and a buffer, never a worker:
// honest clients are answered while thousands of such connections are open.
// cpp-httplib (Debian's libcpp-httplib-dev) stays the request parser and
// router: a worker hands it the buffered request through an in-memory stream.
//
// Defences, each an option below:
//   - the header block must arrive within `header_timeout_seconds` of the
//     request's first byte (of the accept, for a connection's first request,
//     TLS handshake included), however steadily it trickles in;
//   - the body within `io_timeout_seconds` of the end of the headers, and a
//     response must be taken by the client within `io_timeout_seconds`;
//   - a kept-alive connection idle for `keep_alive_timeout_seconds` is closed;
//   - at most `max_connections_per_address` connections per client IP address
//     (a new one over it gets 503 and is closed), and `max_connections` in
//     all (when full, the connection idle the longest is closed for a new
//     one; with none idle, the new one is refused);
//   - header blocks over 16 KiB get 431, bodies over kMaxBodyBytes 413,
//     ambiguous framing (request smuggling) 400, before the body is read.
#ifndef LIFELONG_SERVICES_XAPI_XAPI_HTTP_SERVER_H_
#define LIFELONG_SERVICES_XAPI_XAPI_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/tls.h"
#include "services/xapi/xapi_handler.h"

namespace lifelong::xapi {

struct XapiHttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks a free port
  std::string base_path = "/xapi";
  int threads = 32;  // workers running handlers (RocksDB reads and writes)
  int header_timeout_seconds = 10;
  int io_timeout_seconds = 10;  // request body, and response write
  int keep_alive_timeout_seconds = 5;
  int max_keep_alive_requests = 1000;  // then "Connection: close"
  int max_connections = 8192;
  int max_connections_per_address = 256;
  // HTTPS when tls.cert_file is set (client certificates demanded when
  // tls.require_client_cert); plaintext HTTP otherwise. docs/security.md.
  TlsConfig tls;
};

// A running server. Stop() (also run by the destructor) stops accepting,
// lets requests already at a worker finish and their responses go out (for
// up to 2 s), closes every connection and joins the threads.
//
// Thread-safety: port() and Stop() may be called from any thread.
class XapiHttpServer {
 public:
  // INVALID_ARGUMENT for an option out of range or a host that does not
  // resolve; UNAVAILABLE when the address cannot be bound; the errors of
  // ConfigureServerSslCtx (tls.h) for an unusable TLS configuration.
  // `handler` must outlive the server.
  static absl::StatusOr<std::unique_ptr<XapiHttpServer>> Start(const XapiHttpOptions& options,
                                                               const XapiHandler* handler);
  ~XapiHttpServer();
  XapiHttpServer(const XapiHttpServer&) = delete;
  XapiHttpServer& operator=(const XapiHttpServer&) = delete;

  int port() const;
  void Stop();

  class Impl;

 private:
  explicit XapiHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_XAPI_HTTP_SERVER_H_
