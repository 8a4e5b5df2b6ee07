#include "services/xapi/xapi_http_server.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/metrics.h"

namespace lifelong::xapi {
namespace {

// The connection counters of the xAPI port (the metrics port has none).
const HttpConnectionMetrics* XapiMetrics() {
  static const HttpConnectionMetrics m = [] {
    HttpConnectionMetrics out;
    metrics::MetricsRegistry& r = metrics::DefaultRegistry();
    if (auto g = r.AddGauge("lifelong_xapi_connections_open", "Open xAPI HTTP connections."); g.ok()) {
      out.open = *g;
    }
    if (auto f = r.AddCounterFamily("lifelong_xapi_connections_closed_total",
                                    "xAPI connections closed by the server before their "
                                    "request was answered, by reason (header_timeout, "
                                    "body_timeout, write_timeout, idle, evicted, bytes_held, "
                                    "response_bytes_held, proxy_header).",
                                    {"reason"});
        f.ok()) {
      out.closed = *f;
    }
    if (auto f = r.AddCounterFamily("lifelong_xapi_connections_refused_total",
                                    "xAPI connections refused at accept, by reason "
                                    "(per_address_limit, capacity, untrusted_peer).",
                                    {"reason"});
        f.ok()) {
      out.refused = *f;
    }
    if (auto g = r.AddGauge("lifelong_xapi_held_bytes",
                            "xAPI request bytes read and not yet answered plus response bytes not yet "
                            "taken by clients (--xapi_max_held_mib bounds it).");
        g.ok()) {
      out.held_bytes = *g;
    }
    return out;
  }();
  return &m;
}

// An xAPI request as XapiHandler reads it, answered as HttpServer writes it.
HttpServerResponse Route(const XapiHandler* handler, const std::string& base, const HttpServerRequest& req) {
  HttpServerResponse res;
  // Before the one server (http_server.h) routed them, PATCH and OPTIONS
  // reached no handler here: cpp-httplib answered 404, as this does.
  if (req.method == "PATCH" || req.method == "OPTIONS" || !absl::StartsWith(req.path, base)) {
    res.status = 404;
    return res;
  }
  HttpRequest in;
  in.method = req.method;
  in.path = req.path.substr(base.size());
  if (in.path.empty()) in.path = "/";
  // Query parameters only: cpp-httplib also merges form bodies into its
  // params, which must stay the body (alternate request syntax).
  size_t q = req.target.find('?');
  if (q != std::string::npos) in.params = ParseFormUrlEncoded(req.target.substr(q + 1));
  for (const auto& [k, v] : req.headers) in.headers[absl::AsciiStrToLower(k)] = v;
  // The client's address (the peer of the accept, or behind a proxy the one
  // its PROXY header names), under a name the handler reads for per-address
  // limits; a client header of that name is overwritten here.
  in.headers["remote_addr"] = req.remote_addr;
  in.body = req.body;
  HttpResponse out = handler->Handle(in);
  res.status = out.status;
  // RFC 7231 Date header (clients compare it with Consistent-Through).
  res.headers.emplace_back("Date", absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::Now(), absl::UTCTimeZone()));
  for (const auto& [k, v] : out.headers) res.headers.emplace_back(k, v);
  if (!out.body.empty() || !out.content_type.empty()) {
    res.content_type = out.content_type.empty() ? "application/json" : out.content_type;
    res.body = std::move(out.body);
  }
  return res;
}

}  // namespace

XapiHttpServer::XapiHttpServer(std::unique_ptr<HttpServer> server) : server_(std::move(server)) {}

absl::StatusOr<std::unique_ptr<XapiHttpServer>> XapiHttpServer::Start(const XapiHttpOptions& options,
                                                                      const XapiHandler* handler) {
  HttpServerOptions o;
  o.host = options.host;
  o.resolve_host = true;
  o.port = options.port;
  o.threads = options.threads;
  o.header_timeout_seconds = options.header_timeout_seconds;
  o.io_timeout_seconds = options.io_timeout_seconds;
  o.keep_alive_timeout_seconds = options.keep_alive_timeout_seconds;
  o.max_keep_alive_requests = options.max_keep_alive_requests;
  o.max_connections = options.max_connections;
  o.max_connections_per_address = options.max_connections_per_address;
  o.max_body_bytes = kMaxBodyBytes;
  o.max_held_bytes = options.max_held_bytes;
  o.max_held_bytes_per_address = options.max_held_bytes_per_address;
  o.min_write_bytes_per_second = options.min_write_bytes_per_second;
  o.proxy_protocol_from = options.proxy_protocol_from;
  o.tls = options.tls;
  o.name = "xAPI";
  o.connection_metrics = XapiMetrics();
  const std::string base = options.base_path;
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::StartWithHandler(
      std::move(o), [handler, base](const HttpServerRequest& req) { return Route(handler, base, req); });
  if (!server.ok()) return server.status();
  return std::unique_ptr<XapiHttpServer>(new XapiHttpServer(*std::move(server)));
}

int XapiHttpServer::port() const { return server_->port(); }

void XapiHttpServer::Stop() {
  if (server_) server_->Shutdown();
}

XapiHttpServer::~XapiHttpServer() { Stop(); }

}  // namespace lifelong::xapi
