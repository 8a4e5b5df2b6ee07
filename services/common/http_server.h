// HttpServer: a tiny HTTP/1.1 server for operational endpoints (/metrics,
// /healthz) on its own port, next to a service's gRPC port.
//
// Why our own and not cpp-httplib or Beast: the whole job is "answer a few
// GET requests from Prometheus"; one poll(2) loop over non-blocking sockets
// is ~300 lines, adds no dependency, and makes the failure modes explicit:
//   - a single thread serves every connection, so no client can tie up a
//     worker: a client that connects and sends nothing (or sends slowly)
//     only holds its own socket until `io_timeout`;
//   - at most `max_connections` are open; when full, the oldest connection
//     still waiting for its request is closed to make room;
//   - requests larger than `max_request_bytes` get 431 and are closed;
//   - one request per connection (`Connection: close`), GET and HEAD only;
//   - HTTPS when `options.tls` has a certificate (non-blocking OpenSSL in the
//     same loop; the handshake counts against `io_timeout` like the
//     request), with client certificates demanded when
//     `tls.require_client_cert` (docs/security.md).
// Handlers run on the loop thread, so they must be quick (rendering the
// metrics registry is); a slow handler delays other scrapes, never the
// service's gRPC traffic.
//
// Thread-safety: Start/port/Shutdown may be called from any thread;
// Shutdown is idempotent and also runs on destruction; it returns after the
// loop thread has exited and every socket is closed.
#ifndef LIFELONG_SERVICES_COMMON_HTTP_SERVER_H_
#define LIFELONG_SERVICES_COMMON_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/metrics.h"
#include "services/common/tls.h"

namespace lifelong {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Produces the response for a GET/HEAD of the path it is registered under.
using HttpHandler = std::function<HttpResponse()>;

struct HttpServerOptions {
  // Numeric IPv4 or IPv6 address; 127.0.0.1 keeps the endpoint off the
  // network (use 0.0.0.0 only behind a firewall).
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port
  int max_connections = 32;
  absl::Duration io_timeout = absl::Seconds(5);  // per connection, from accept
  size_t max_request_bytes = 8192;
  // HTTPS when tls.cert_file is set; plaintext HTTP otherwise.
  TlsConfig tls;
};

class HttpServer {
 public:
  // Binds, listens and starts the loop thread serving `routes` (exact paths;
  // the query string is ignored). Unknown paths get 404, other methods 405.
  // INVALID_ARGUMENT for a host that is not a numeric address or a bad port;
  // UNAVAILABLE when the address cannot be bound; the errors of
  // NewServerSslCtx (tls.h) for an unusable TLS configuration.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, std::map<std::string, HttpHandler> routes);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port.
  int port() const { return port_; }

  // Stops the loop, closes the listener and every connection. Idempotent.
  void Shutdown();

 private:
  HttpServer(HttpServerOptions options, std::map<std::string, HttpHandler> routes, int listen_fd,
             int wake_read_fd, int wake_write_fd, int port, SslCtxPtr ssl_ctx);
  void Loop();
  std::string Respond(const std::string& request) const;

  const HttpServerOptions options_;
  const std::map<std::string, HttpHandler> routes_;
  int listen_fd_;  // -1 once Shutdown() closed it
  const int wake_read_fd_;
  const int wake_write_fd_;
  const int port_;
  const SslCtxPtr ssl_ctx_;  // null: plaintext
  std::atomic<bool> stopping_{false};
  std::mutex shutdown_mu_;  // serializes Shutdown()
  std::thread thread_;      // joined by Shutdown()
};

// Starts an HttpServer with GET /metrics (the exposition text of `registry`,
// Content-Type text/plain; version=0.0.4) and GET /healthz (200 "ok" while
// `healthy` returns true or is empty, 503 "unhealthy" otherwise), plus
// `extra_routes` (a service's own operational endpoints, e.g. the record
// service's GET /replication and /leader; /metrics and /healthz win a clash).
absl::StatusOr<std::unique_ptr<HttpServer>> StartMetricsHttpServer(
    HttpServerOptions options, const metrics::MetricsRegistry* registry,
    std::function<bool()> healthy = nullptr, std::map<std::string, HttpHandler> extra_routes = {});

// StartMetricsHttpServer for a service's main, where the endpoint is not
// worth failing for: on error it logs `metrics_listen_failed` and returns
// null, and the service serves on without /metrics.
std::unique_ptr<HttpServer> StartMetricsHttpServerOrLog(HttpServerOptions options,
                                                        const metrics::MetricsRegistry* registry,
                                                        std::function<bool()> healthy = nullptr,
                                                        std::map<std::string, HttpHandler> extra_routes = {});

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_HTTP_SERVER_H_
