// The HTTP/1.1 side of the xAPI endpoint. Every request under the base path
// goes to XapiHandler; nothing else is served.
//
// The connection loop, its defences and TLS are the tree's one HTTP server,
// services/common/http_server.h (one event-loop thread, handlers on a pool
// of `threads` workers, requests read whole before a worker sees them); the
// options below are its limits for this port (docs/security.md, "Slow and
// idle clients"). Bodies over kMaxBodyBytes get 413. Connection counters:
// lifelong_xapi_connections_{open,closed_total,refused_total}; bytes held:
// lifelong_xapi_held_bytes.
#ifndef LIFELONG_SERVICES_XAPI_XAPI_HTTP_SERVER_H_
#define LIFELONG_SERVICES_XAPI_XAPI_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/http_server.h"
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
  // Request bytes read and not yet answered, and response bytes not yet
  // taken by the client (HttpServerOptions): in all, and per client address
  // (8 of the largest requests at once; a response larger than this, a page
  // of attachments, is let through while the address holds nothing else).
  size_t max_held_bytes = size_t{1} << 30;
  size_t max_held_bytes_per_address = size_t{128} << 20;
  // A response must be taken within io_timeout_seconds plus its size at
  // this rate (and with progress every io_timeout_seconds).
  size_t min_write_bytes_per_second = size_t{1} << 20;
  // Numeric addresses of the load balancers that send the PROXY protocol
  // (HAProxy's send-proxy): when set, only they may connect and the client
  // address (per-address limits, password backoff, logs) is the one their
  // header names (HttpServerOptions::proxy_protocol_from; docs/xapi.md).
  std::vector<std::string> proxy_protocol_from;
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

 private:
  explicit XapiHttpServer(std::unique_ptr<HttpServer> server);
  std::unique_ptr<HttpServer> server_;
};

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_XAPI_HTTP_SERVER_H_
