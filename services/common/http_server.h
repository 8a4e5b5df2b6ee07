// HttpServer: the one HTTP/1.1 server of the tree. It serves the xAPI
// endpoint (services/xapi/xapi_http_server.h) and every service's
// operational endpoints on their own port (/metrics, /healthz, and the record
// service's /replication and /leader: StartMetricsHttpServer below).
//
// Why one, and why this one: the tree had two (a poll(2) loop for /metrics,
// and the xAPI server's epoll loop with cpp-httplib as parser). The xAPI loop
// is the one that carries the defences an exposed port needs (docs/security.md,
// "Slow and idle clients"), so the operational endpoints now get them too.
//
// Connection model: one event-loop thread (epoll) owns every socket:
// accepting, the TLS handshake (non-blocking OpenSSL), reading requests,
// writing responses. A pool of `threads` workers runs the handler on
// requests that have arrived whole (http_request_framing.h). So a connection
// that is idle, or sends its request a byte at a time, costs a socket and a
// buffer, never a worker. cpp-httplib (Debian's libcpp-httplib-dev) parses a
// whole request handed to it through an in-memory stream and writes the
// response; it stays inside http_server.cc.
//
// Defences, each an option below:
//   - the header block must arrive within `header_timeout_seconds` of the
//     request's first byte (of the accept, for a connection's first request,
//     TLS handshake included), however steadily it trickles in;
//   - the body within `io_timeout_seconds` of the end of the headers; a
//     response must be taken by the client within `io_timeout_seconds` plus
//     its size at `min_write_bytes_per_second` (a 160 MiB page: 170 s), and
//     with no `io_timeout_seconds` in which none of it is taken (a client
//     that reads nothing is dropped then, whatever the size);
//   - a kept-alive connection idle for `keep_alive_timeout_seconds` is closed;
//     after `max_keep_alive_requests` the connection is closed
//     ("Connection: close"; 1: one request per connection);
//   - at most `max_connections_per_address` connections per client IP address
//     (a new one over it gets 503 and is closed), and `max_connections` in
//     all (when full, the connection idle the longest is closed for a new
//     one; with none idle, the new one is refused);
//   - header blocks over 16 KiB get 431, bodies over `max_body_bytes` 413,
//     ambiguous framing (request smuggling) 400, before the body is read;
//   - bytes held at most `max_held_bytes` in all and
//     `max_held_bytes_per_address` per client IP address, counting request
//     bytes read and not yet answered (partial requests, and whole ones
//     queued or at a worker) and response bytes from when the worker has
//     produced them until the client has taken the last of them: a read that
//     would pass either limit gets 503 (with Retry-After) and the connection
//     is closed, so many slow uploads cannot take the process's memory; a
//     response that would pass either is dropped for such a 503 (unless
//     nothing else of its address, or nothing at all, is held), so clients
//     that ask for large pages and never read them cannot either. (What
//     workers are building is not counted: at most `threads` responses.)
//   - with `proxy_protocol_from`, only those peers (a load balancer) may
//     connect, each connection starting with a PROXY protocol header (v1 or
//     v2, at most 107 / 528 bytes, within `header_timeout_seconds` of the
//     accept) that names the client: its address is the one the per-address
//     limits count and handlers see. Other peers, and a connection whose
//     header is missing, malformed or too long, are closed unanswered;
//   - HTTPS when `tls` has a certificate, with client certificates demanded
//     when `tls.require_client_cert` (docs/security.md).
//
// Thread-safety: port() and Shutdown() may be called from any thread.
// Shutdown() (also run by the destructor) is idempotent: it stops accepting,
// closes connections waiting for a request at once, lets requests already at
// a worker finish and their responses go out (for up to 2 s), closes every
// connection and joins the threads.
#ifndef LIFELONG_SERVICES_COMMON_HTTP_SERVER_H_
#define LIFELONG_SERVICES_COMMON_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/metrics.h"
#include "services/common/tls.h"

namespace lifelong {

// One whole request, as the server hands it to a handler.
struct HttpServerRequest {
  // As sent: GET, HEAD (answered like GET; the server drops the body), POST,
  // PUT, DELETE, PATCH, OPTIONS. Other methods get 400 from the parser.
  std::string method;
  std::string path;    // percent-decoded, without the query
  std::string target;  // as sent: path and query
  // As sent, in cpp-httplib's order (by name, case-insensitively).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // de-chunked
  // The client's IP address: the peer of the accept, or behind a proxy
  // (proxy_protocol_from) the one its PROXY header names.
  std::string remote_addr;
};

// The handler's answer. The server adds Content-Length and Connection.
struct HttpServerResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  // With a non-empty body or content_type, the body is sent with this
  // Content-Type; with both empty, no body and no Content-Type.
  std::string content_type;
  std::string body;
};

// Runs on a worker thread, concurrently with other requests.
using HttpRequestHandler = std::function<HttpServerResponse(const HttpServerRequest&)>;

// Connection counters a server reports (any may be null): open connections,
// and connections closed before their request was whole or refused at
// accept, labelled by reason.
struct HttpConnectionMetrics {
  metrics::Gauge* open = nullptr;
  metrics::CounterFamily* closed = nullptr;   // header_timeout, body_timeout, write_timeout, idle, evicted,
                                              // bytes_held, response_bytes_held (max_held_bytes*),
                                              // proxy_header (missing or malformed)
  metrics::CounterFamily* refused = nullptr;  // per_address_limit, capacity, untrusted_peer (proxy_protocol_from)
  metrics::Gauge* held_bytes = nullptr;       // request and response bytes held (max_held_bytes)
};

// The defaults suit operational endpoints (a few GETs from Prometheus, a
// load balancer's health checks, an operator); the xAPI server sets its own.
struct HttpServerOptions {
  // 127.0.0.1 keeps the endpoint off the network (use 0.0.0.0 only behind a
  // firewall). A numeric IPv4 or IPv6 address unless `resolve_host`.
  std::string host = "127.0.0.1";
  bool resolve_host = false;
  int port = 0;  // 0 picks a free port
  int threads = 2;
  int header_timeout_seconds = 5;
  int io_timeout_seconds = 5;  // request body, and response write
  int keep_alive_timeout_seconds = 5;
  int max_keep_alive_requests = 1;
  int max_connections = 32;
  int max_connections_per_address = 32;
  size_t max_body_bytes = 8192;
  // Request and response bytes held at once, in all and per client address
  // (see above); each at least one largest request (max_body_bytes + 16 KiB
  // of headers).
  size_t max_held_bytes = 64 << 20;
  size_t max_held_bytes_per_address = 16 << 20;
  // The slowest a client may take a response (see above); at least 1.
  size_t min_write_bytes_per_second = 1 << 20;
  // Numeric addresses of the proxies that send the PROXY protocol (see
  // above); empty: off, the peer of the accept is the client.
  std::vector<std::string> proxy_protocol_from;
  // HTTPS when tls.cert_file is set; plaintext HTTP otherwise.
  TlsConfig tls;
  // In error messages ("<name>: cannot listen on ...") and log events
  // ("<lowercase name>_epoll_failed").
  std::string name = "HTTP";
  const HttpConnectionMetrics* connection_metrics = nullptr;  // not owned; must outlive the server
};

// A response with a text body (Content-Type text/plain; charset=utf-8).
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Produces the response for a GET/HEAD of the path it is registered under.
using HttpHandler = std::function<HttpResponse()>;

class HttpServer {
 public:
  // Binds, listens and starts the loop and worker threads; every request
  // goes to `handler`, which must outlive the server.
  // INVALID_ARGUMENT for an option out of range or a host that is not a
  // numeric address (or, with resolve_host, does not resolve); UNAVAILABLE
  // when the address cannot be bound; the errors of NewServerSslCtx (tls.h)
  // for an unusable TLS configuration.
  static absl::StatusOr<std::unique_ptr<HttpServer>> StartWithHandler(HttpServerOptions options,
                                                                      HttpRequestHandler handler);

  // StartWithHandler serving `routes` (exact paths; the query string is
  // ignored) to GET and HEAD. Unknown paths get 404, other methods 405
  // (with "Allow: GET, HEAD").
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                           std::map<std::string, HttpHandler> routes);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port.
  int port() const;

  // Stops the server (see the file comment). Idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Starts an HttpServer with GET /metrics (the exposition text of `registry`,
// Content-Type text/plain; version=0.0.4) and GET /healthz (200 "ok" while
// `healthy` returns true or is empty, 503 "unhealthy" otherwise), plus
// `extra_routes` (a service's own operational endpoints, e.g. the record
// service's GET /replication and /leader; /metrics and /healthz win a clash).
absl::StatusOr<std::unique_ptr<HttpServer>> StartMetricsHttpServer(
    HttpServerOptions options, const metrics::MetricsRegistry* registry, std::function<bool()> healthy = nullptr,
    std::map<std::string, HttpHandler> extra_routes = {});

// StartMetricsHttpServer for a service's main, where the endpoint is not
// worth failing for: on error it logs `metrics_listen_failed` and returns
// null, and the service serves on without /metrics.
std::unique_ptr<HttpServer> StartMetricsHttpServerOrLog(HttpServerOptions options,
                                                        const metrics::MetricsRegistry* registry,
                                                        std::function<bool()> healthy = nullptr,
                                                        std::map<std::string, HttpHandler> extra_routes = {});

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_HTTP_SERVER_H_
