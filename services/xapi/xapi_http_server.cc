#include "services/xapi/xapi_http_server.h"

#include <httplib.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/log.h"

namespace lifelong::xapi {

absl::StatusOr<std::unique_ptr<XapiHttpServer>> XapiHttpServer::Start(const XapiHttpOptions& options,
                                                                       const XapiHandler* handler) {
  std::unique_ptr<XapiHttpServer> s(new XapiHttpServer());
  if (options.tls.ServesTls() || options.tls.require_client_cert) {
    absl::Status tls_status;
    auto ssl = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
      tls_status = ConfigureServerSslCtx(options.tls, &ctx);
      return tls_status.ok();
    });
    if (!tls_status.ok()) return tls_status;
    if (!ssl->is_valid()) return absl::InternalError("xAPI: cannot set up TLS");
    s->server_ = std::move(ssl);
  } else {
    s->server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& svr = *s->server_;
  const int threads = options.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_read_timeout(options.io_timeout_seconds, 0);
  svr.set_write_timeout(options.io_timeout_seconds, 0);
  svr.set_keep_alive_timeout(5);
  svr.set_keep_alive_max_count(100);  // connections rotate through the worker pool
  svr.set_payload_max_length(kMaxBodyBytes);
  // Small responses on keep-alive connections: without TCP_NODELAY, Nagle and
  // delayed ACKs add ~40 ms to every request.
  svr.set_tcp_nodelay(true);
  std::string base = options.base_path;
  // Bodies are read before method handlers run (not before pre-routing
  // handlers), so every method is routed to one catch-all handler.
  auto route = [handler, base](const httplib::Request& req, httplib::Response& res) {
    if (!absl::StartsWith(req.path, base)) {
      res.status = 404;
      return;
    }
    HttpRequest in;
    in.method = req.method;
    in.path = req.path.substr(base.size());
    if (in.path.empty()) in.path = "/";
    // Query parameters only: cpp-httplib also merges form bodies into
    // req.params, which must stay the body (alternate request syntax).
    size_t q = req.target.find('?');
    if (q != std::string::npos) in.params = ParseFormUrlEncoded(req.target.substr(q + 1));
    for (const auto& [k, v] : req.headers) in.headers[absl::AsciiStrToLower(k)] = v;
    in.body = req.body;
    HttpResponse out = handler->Handle(in);
    res.status = out.status;
    // RFC 7231 Date header (clients compare it with Consistent-Through).
    res.set_header("Date", absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::Now(), absl::UTCTimeZone()));
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    if (!out.body.empty() || !out.content_type.empty()) {
      res.set_content(out.body, out.content_type.empty() ? "application/json" : out.content_type.c_str());
    }
  };
  svr.Get(".*", route);  // also serves HEAD
  svr.Post(".*", route);
  svr.Put(".*", route);
  svr.Delete(".*", route);
  int port = options.port == 0 ? svr.bind_to_any_port(options.host) : (svr.bind_to_port(options.host, options.port)
                                                                           ? options.port
                                                                           : -1);
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat("xAPI: cannot listen on ", options.host, ":", options.port));
  }
  s->port_ = port;
  httplib::Server* raw = s->server_.get();
  s->listener_ = std::thread([raw] { raw->listen_after_bind(); });
  return s;
}

void XapiHttpServer::Stop() {
  if (!server_) return;
  server_->stop();
  if (listener_.joinable()) listener_.join();
  server_.reset();
}

XapiHttpServer::~XapiHttpServer() { Stop(); }

}  // namespace lifelong::xapi
