#include "services/common/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/log.h"
#include "services/common/socket_io.h"

namespace lifelong {
namespace {

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string Serialize(const HttpResponse& response, bool include_body,
                      absl::string_view extra_headers = "") {
  std::string out = absl::StrCat("HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status),
                                 "\r\nContent-Type: ", response.content_type,
                                 "\r\nContent-Length: ", response.body.size(),
                                 "\r\nConnection: close\r\n", extra_headers, "\r\n");
  if (include_body) out += response.body;
  return out;
}

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

void CloseFd(int fd) {
  if (fd >= 0) ::close(fd);
}

struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;           // HTTPS only (owned)
  bool handshaking = false;     // HTTPS only: SSL_accept has not finished
  short tls_wants = POLLIN;     // HTTPS only: what OpenSSL waits for
  absl::Time deadline;
  absl::Time accepted;
  std::string in;
  std::string out;
  size_t sent = 0;
  bool writing = false;
};

void CloseConnection(Connection& c) {
  if (c.ssl != nullptr) SSL_free(c.ssl);
  c.ssl = nullptr;
  CloseFd(c.fd);
  c.fd = -1;
}

using Io = SocketIo;

// The connection as socket_io.h reads and writes it.
SocketRef Ref(Connection& c) { return SocketRef{c.fd, c.ssl, &c.tls_wants}; }

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, std::map<std::string, HttpHandler> routes) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port: ", options.port, " is out of range"));
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("max_connections: must be at least 1");
  }
  SslCtxPtr ssl_ctx;
  if (options.tls.ServesTls() || options.tls.require_client_cert) {
    absl::StatusOr<SslCtxPtr> ctx = NewServerSslCtx(options.tls);
    if (!ctx.ok()) return ctx.status();
    ssl_ctx = *std::move(ctx);
  }
  sockaddr_storage addr;
  std::memset(&addr, 0, sizeof(addr));
  socklen_t addr_len = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, options.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(options.port));
    addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, options.host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(options.port));
    addr_len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("host: \"", options.host, "\" is not a numeric IPv4 or IPv6 address"));
  }

  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 || ::listen(fd, 64) != 0) {
    const int err = errno;
    CloseFd(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.host, ":", options.port,
                                               ": ", std::strerror(err)));
  }
  sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  const int port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  int wake[2];
  if (::pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    const int err = errno;
    CloseFd(fd);
    return absl::UnavailableError(absl::StrCat("pipe: ", std::strerror(err)));
  }
  auto server = std::unique_ptr<HttpServer>(
      new HttpServer(std::move(options), std::move(routes), fd, wake[0], wake[1], port,
                     std::move(ssl_ctx)));
  server->thread_ = std::thread([s = server.get()] { s->Loop(); });
  return server;
}

HttpServer::HttpServer(HttpServerOptions options, std::map<std::string, HttpHandler> routes,
                       int listen_fd, int wake_read_fd, int wake_write_fd, int port,
                       SslCtxPtr ssl_ctx)
    : options_(std::move(options)),
      routes_(std::move(routes)),
      listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      port_(port),
      ssl_ctx_(std::move(ssl_ctx)) {}

HttpServer::~HttpServer() {
  Shutdown();
  CloseFd(listen_fd_);
  CloseFd(wake_read_fd_);
  CloseFd(wake_write_fd_);
}

void HttpServer::Shutdown() {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (!thread_.joinable()) return;
  stopping_.store(true);
  const char byte = 1;
  ssize_t unused = ::write(wake_write_fd_, &byte, 1);
  (void)unused;
  thread_.join();
  CloseFd(listen_fd_);
  listen_fd_ = -1;
}

std::string HttpServer::Respond(const std::string& request) const {
  const size_t line_end = request.find('\n');
  absl::string_view line(request.data(), line_end == std::string::npos ? 0 : line_end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == absl::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == absl::string_view::npos || !absl::StartsWith(line.substr(sp2 + 1), "HTTP/1.")) {
    return Serialize(Text(400, "bad request\n"), true);
  }
  const absl::string_view method = line.substr(0, sp1);
  absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    return Serialize(Text(405, "method not allowed\n"), true, "Allow: GET, HEAD\r\n");
  }
  target = target.substr(0, target.find('?'));
  auto it = routes_.find(std::string(target));
  if (it == routes_.end()) return Serialize(Text(404, "not found\n"), !head);
  return Serialize(it->second(), !head);
}

void HttpServer::Loop() {
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  const size_t max_request = options_.max_request_bytes;
  if (ssl_ctx_ != nullptr) {
    // SSL_write to a peer that went away raises SIGPIPE in this thread;
    // blocked, it stays pending here instead of ending the process.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  }
  while (!stopping_.load()) {
    absl::Time now = absl::Now();
    absl::Duration wait = absl::Seconds(1);
    for (const Connection& c : conns) wait = std::min(wait, c.deadline - now);
    const int timeout_ms =
        static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(wait) + 1));

    fds.clear();
    fds.push_back({wake_read_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Connection& c : conns) {
      const short events = c.ssl != nullptr ? c.tls_wants : c.writing ? POLLOUT : POLLIN;
      fds.push_back({c.fd, events, 0});
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) break;  // Shutdown()
    now = absl::Now();

    for (size_t i = 0; i < conns.size(); ++i) {
      Connection& c = conns[i];
      const bool ready = (fds[i + 2].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR)) != 0;
      if (c.handshaking && ready) {
        const int r = SSL_accept(c.ssl);
        if (r == 1) {
          c.handshaking = false;  // and read at once: the request may be buffered already
        } else if (TlsOutcome(Ref(c), r) == Io::kClosed) {
          CloseConnection(c);  // not TLS, or no acceptable client certificate
          continue;
        }
      }
      if (!c.handshaking && !c.writing && ready) {
        char buf[4096];
        bool closed = false;
        while (c.in.size() <= max_request) {
          size_t n = 0;
          const Io io = ReceiveSome(Ref(c), buf, sizeof(buf), &n);
          if (io == Io::kDone) {
            c.in.append(buf, n);
          } else {
            closed = io == Io::kClosed;
            break;
          }
        }
        const bool complete =
            c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos;
        if (complete) {
          c.out = Respond(c.in);
          c.writing = true;
        } else if (c.in.size() > max_request) {
          c.out = Serialize(Text(431, "request too large\n"), true);
          c.writing = true;
        } else if (closed) {
          CloseConnection(c);
          continue;
        }
      }
      if (c.writing) {
        while (c.sent < c.out.size()) {
          size_t n = 0;
          const Io io = TransmitSome(Ref(c), c.out.data() + c.sent, c.out.size() - c.sent, &n);
          if (io == Io::kDone) {
            c.sent += n;
          } else {
            if (io == Io::kWouldBlock) break;
            c.sent = c.out.size();  // peer gone: give up on this one
          }
        }
        if (c.sent >= c.out.size()) {
          if (c.ssl != nullptr) SSL_shutdown(c.ssl);  // close_notify, best effort
          CloseConnection(c);
          continue;
        }
      }
      if (now >= c.deadline) CloseConnection(c);
    }
    conns.erase(
        std::remove_if(conns.begin(), conns.end(), [](const Connection& c) { return c.fd < 0; }),
        conns.end());

    if (fds[1].revents & POLLIN) {
      while (true) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;  // EAGAIN, or a transient error: poll again
        if (static_cast<int>(conns.size()) >= options_.max_connections) {
          // Make room by dropping the oldest connection still waiting for
          // its request; if every one is being answered, refuse the new one.
          auto oldest = conns.end();
          for (auto it = conns.begin(); it != conns.end(); ++it) {
            if (!it->writing && (oldest == conns.end() || it->accepted < oldest->accepted)) {
              oldest = it;
            }
          }
          if (oldest == conns.end()) {
            CloseFd(fd);
            continue;
          }
          CloseConnection(*oldest);
          conns.erase(oldest);
        }
        Connection c;
        c.fd = fd;
        if (ssl_ctx_ != nullptr) {
          c.ssl = SSL_new(ssl_ctx_.get());
          if (c.ssl == nullptr || SSL_set_fd(c.ssl, fd) != 1) {
            ERR_clear_error();
            CloseConnection(c);
            continue;
          }
          c.handshaking = true;
          c.tls_wants = POLLIN;
        }
        c.accepted = now;
        c.deadline = now + options_.io_timeout;
        conns.push_back(std::move(c));
      }
    }
  }
  for (Connection& c : conns) CloseConnection(c);
}

absl::StatusOr<std::unique_ptr<HttpServer>> StartMetricsHttpServer(
    HttpServerOptions options, const metrics::MetricsRegistry* registry,
    std::function<bool()> healthy, std::map<std::string, HttpHandler> extra_routes) {
  std::map<std::string, HttpHandler> routes = std::move(extra_routes);
  routes["/metrics"] = [registry] {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = registry->Render();
    return r;
  };
  routes["/healthz"] = [healthy = std::move(healthy)] {
    if (healthy && !healthy()) return Text(503, "unhealthy\n");
    return Text(200, "ok\n");
  };
  return HttpServer::Start(std::move(options), std::move(routes));
}

std::unique_ptr<HttpServer> StartMetricsHttpServerOrLog(HttpServerOptions options,
                                                        const metrics::MetricsRegistry* registry,
                                                        std::function<bool()> healthy,
                                                        std::map<std::string, HttpHandler> extra_routes) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      StartMetricsHttpServer(std::move(options), registry, std::move(healthy), std::move(extra_routes));
  if (!server.ok()) {
    LogError("metrics_listen_failed", {{"error", server.status().ToString()}});
    return nullptr;
  }
  return std::move(*server);
}

}  // namespace lifelong
