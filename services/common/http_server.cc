// The epoll connection loop of HttpServer (http_server.h), with cpp-httplib
// as the parser of whole requests, and the operational endpoints on it
// (routes, StartMetricsHttpServer).
#include "services/common/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/http_request_framing.h"
#include "services/common/log.h"
#include "services/common/socket_io.h"

namespace lifelong {
namespace {

constexpr absl::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// How long Stop() lets requests at a worker finish and their responses go out.
constexpr absl::Duration kStopGrace = absl::Seconds(2);
// After an error response that closes the connection, the rest of the
// client's request is read and dropped for up to this long, so that closing
// with unread input (a TCP reset) does not destroy the response in flight.
constexpr absl::Duration kDrainTime = absl::Seconds(2);
constexpr size_t kMaxDrainBytes = 64 << 20;

// httplib::Server with its request processing reachable: the connection loop
// owns the sockets; a worker hands one buffered request to this parser and
// router, which writes one response.
class RequestProcessor : public httplib::Server {
 public:
  using httplib::Server::process_request;
};

// One buffered request as cpp-httplib reads it, and the response it writes.
class MemoryStream : public httplib::Stream {
 public:
  MemoryStream(std::string request, const std::string& remote_ip, int remote_port)
      : request_(std::move(request)), remote_ip_(remote_ip), remote_port_(remote_port) {}

  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, request_.size() - read_);
    std::memcpy(ptr, request_.data() + read_, n);
    read_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = 0;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

  std::string& out() { return out_; }

 private:
  const std::string request_;
  size_t read_ = 0;
  const std::string remote_ip_;
  const int remote_port_;
  std::string out_;
};

// The server's connection counters; each may be absent.
struct Metrics {
  HttpConnectionMetrics m;

  void Opened(double delta) const {
    if (m.open != nullptr) m.open->Add(delta);
  }
  void Held(size_t bytes) const {
    if (m.held_bytes != nullptr) m.held_bytes->Set(static_cast<double>(bytes));
  }
  void Closed(const char* reason) const {
    if (m.closed == nullptr) return;
    if (absl::StatusOr<metrics::Counter*> c = m.closed->WithLabels({reason}); c.ok()) (*c)->Increment();
  }
  void Refused(const char* reason) const {
    if (m.refused == nullptr) return;
    if (absl::StatusOr<metrics::Counter*> c = m.refused->WithLabels({reason}); c.ok()) {
      (*c)->Increment();
    }
  }
};

// The status code of a serialized response ("HTTP/1.1 400 ..." -> 400).
int StatusOf(absl::string_view response) {
  if (response.size() < 12 || !absl::StartsWith(response, "HTTP/1.")) return 0;
  int status = 0;
  for (char c : response.substr(9, 3)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return 0;
    status = status * 10 + (c - '0');
  }
  return status;
}

const char* Reason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string ErrorResponse(int status, absl::string_view message) {
  // The message may quote the client's bytes: JSON-escaped, invalid UTF-8 replaced.
  const std::string body =
      nlohmann::json({{"error", std::string(message)}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  return absl::StrCat("HTTP/1.1 ", status, " ", Reason(status),
                      "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                      status == 503 ? "\r\nRetry-After: 1" : "", "\r\nConnection: close\r\n\r\n", body);
}

using Io = SocketIo;

// The PROXY protocol (haproxy.org/download/2.0/doc/proxy-protocol.txt), as
// HAProxy's send-proxy (v1, a text line) and send-proxy-v2 (binary) write it.
constexpr absl::string_view kProxyV1Prefix = "PROXY ";
constexpr absl::string_view kProxyV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr size_t kMaxProxyV1Bytes = 107;  // the specification's bound, CRLF included
// 16 bytes of fixed header, then addresses (36 bytes for IPv6) and TLVs;
// HAProxy's longest (unique id, TLS details) stays well under this.
constexpr size_t kMaxProxyV2Bytes = 16 + 512;

struct ProxyHeader {
  enum class State { kIncomplete, kDone, kError };
  State state = State::kIncomplete;
  size_t length = 0;      // kDone: the header's bytes
  std::string client_ip;  // kDone: empty when it names no address (LOCAL, UNKNOWN)
  int client_port = 0;
  std::string error;  // kError
};

// The numeric address `text` of `family`, as inet_ntop writes it; "" when it
// is not one.
std::string NormalizeIp(int family, const std::string& text) {
  unsigned char bytes[sizeof(in6_addr)];
  char out[INET6_ADDRSTRLEN] = "";
  if (inet_pton(family, text.c_str(), bytes) != 1 || inet_ntop(family, bytes, out, sizeof(out)) == nullptr) return "";
  return out;
}

// Parses the PROXY header at the start of `in` (v1 or v2): kIncomplete while
// `in` is a prefix of one that is within bounds; kError for anything else.
ProxyHeader ParseProxyHeader(absl::string_view in) {
  ProxyHeader h;
  auto fail = [&h](std::string error) {
    h.state = ProxyHeader::State::kError;
    h.error = std::move(error);
    return h;
  };
  if (in.empty()) return h;
  if (in[0] == kProxyV1Prefix[0]) {
    if (!absl::StartsWith(kProxyV1Prefix, in.substr(0, kProxyV1Prefix.size()))) return fail("no PROXY header");
    const size_t eol = in.find("\r\n");
    if (eol == absl::string_view::npos || eol + 2 > kMaxProxyV1Bytes) {
      if (in.size() >= kMaxProxyV1Bytes) return fail("PROXY v1 header over 107 bytes");
      return h;
    }
    const std::vector<std::string> fields =
        absl::StrSplit(in.substr(kProxyV1Prefix.size(), eol - kProxyV1Prefix.size()), ' ');
    h.length = eol + 2;
    if (fields[0] == "UNKNOWN") {  // the rest of the line is ignored
      h.state = ProxyHeader::State::kDone;
      return h;
    }
    const int family = fields[0] == "TCP4" ? AF_INET : fields[0] == "TCP6" ? AF_INET6 : AF_UNSPEC;
    if (family == AF_UNSPEC || fields.size() != 5) return fail("malformed PROXY v1 header");
    int src_port = 0, dst_port = 0;
    const std::string src = NormalizeIp(family, fields[1]);
    if (src.empty() || NormalizeIp(family, fields[2]).empty() || fields[3].size() > 5 || fields[4].size() > 5 ||
        !absl::SimpleAtoi(fields[3], &src_port) || !absl::SimpleAtoi(fields[4], &dst_port) ||
        !absl::ascii_isdigit(static_cast<unsigned char>(fields[3][0])) ||
        !absl::ascii_isdigit(static_cast<unsigned char>(fields[4][0])) || src_port > 65535 || dst_port > 65535) {
      return fail("malformed PROXY v1 header");
    }
    h.state = ProxyHeader::State::kDone;
    h.client_ip = src;
    h.client_port = src_port;
    return h;
  }
  if (in[0] == kProxyV2Signature[0]) {
    if (!absl::StartsWith(kProxyV2Signature, in.substr(0, kProxyV2Signature.size()))) return fail("no PROXY header");
    if (in.size() < 16) return h;
    const auto byte = [&in](size_t i) { return static_cast<unsigned char>(in[i]); };
    const int version = byte(12) >> 4, command = byte(12) & 0xF, family = byte(13);
    const size_t length = 16 + (size_t{byte(14)} << 8 | byte(15));
    if (version != 2 || command > 1) return fail("malformed PROXY v2 header");
    if (length > kMaxProxyV2Bytes) return fail(absl::StrCat("PROXY v2 header over ", kMaxProxyV2Bytes, " bytes"));
    if (in.size() < length) return h;
    h.length = length;
    h.state = ProxyHeader::State::kDone;
    if (command == 0 || family == 0x00) return h;  // LOCAL (the proxy's own health check), or UNSPEC
    char ip[INET6_ADDRSTRLEN] = "";
    if (family == 0x11 && length >= 16 + 12) {  // TCP over IPv4: source, destination, ports
      inet_ntop(AF_INET, in.data() + 16, ip, sizeof(ip));
      h.client_port = byte(16 + 8) << 8 | byte(16 + 9);
    } else if (family == 0x21 && length >= 16 + 36) {  // TCP over IPv6
      inet_ntop(AF_INET6, in.data() + 16, ip, sizeof(ip));
      h.client_port = byte(16 + 32) << 8 | byte(16 + 33);
    } else {
      return fail("PROXY v2 header of an unsupported address family");
    }
    h.client_ip = ip;
    return h;
  }
  return fail("no PROXY header");
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpRequestHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        metrics_{options_.connection_metrics != nullptr ? *options_.connection_metrics : HttpConnectionMetrics{}} {}
  ~Impl() { Stop(); }

  absl::Status Init();
  int port() const { return port_; }
  void Stop();

 private:
  enum class Phase { kProxyHeader, kHandshake, kReading, kProcessing, kWriting, kDraining };
  struct Conn {
    uint64_t id = 0;
    int fd = -1;
    SSL* ssl = nullptr;  // HTTPS only (owned)
    short tls_wants = POLLIN;
    Phase phase = Phase::kReading;
    std::string ip;
    int port = 0;
    std::string in;
    ChunkedProgress framing;  // of the request at the start of `in`; {} when that changes
    std::string out;
    size_t sent = 0;
    std::string unsent_continue;  // the rest of a "100 Continue" not yet written
    bool close_after_write = false;
    bool headers_seen = false;  // of the request being read
    bool continued = false;     // "100 Continue" sent for it
    int served = 0;
    absl::Time since;  // start of the current phase (idle: end of the last response)
    absl::Time deadline = absl::InfiniteFuture();
    const char* deadline_reason = "";
    size_t drained = 0;
    uint32_t interest = 0;      // epoll events registered (0: not in the epoll set)
    size_t job_bytes = 0;       // its whole request at a worker (queued or running)
    size_t held = 0;            // what of `in`, `job_bytes` and `out` the held total counts
    size_t held_here = 0;       // what its address's held bytes count (`out` at most half the budget)
    absl::Time write_deadline;  // of the response being written, however steadily it goes out
    std::string proxy_in;       // the PROXY header read so far (kProxyHeader)
    bool counted = false;       // in per_address_ (from the accept; behind a proxy, from its header)
  };
  struct Job {
    uint64_t id;
    std::string request;
    std::string ip;
    int port;
    bool close_connection;
  };
  struct Done {
    uint64_t id;
    std::string response;
    bool close;
  };

  static constexpr uint64_t kWakeId = 0;    // epoll data of the wake pipe
  static constexpr uint64_t kListenId = 1;  // ... and of the listening socket
  void Loop();
  static uint32_t InterestOf(const Conn& c);
  void UpdateInterest(Conn& c);
  void Work();
  void Accept(absl::Time now);
  // Runs one connection forward after poll said it is ready (or it may have
  // buffered input). Returns false when it is closed.
  bool Step(Conn& c, absl::Time now);
  bool ReadRequest(Conn& c, absl::Time now);
  bool Write(Conn& c, absl::Time now);
  bool Drain(Conn& c, absl::Time now);
  // kProxyHeader: reads the PROXY header and nothing past it (what follows
  // may be a TLS handshake), then takes the client's address from it.
  bool ReadProxyHeader(Conn& c, absl::Time now);
  bool TrustedProxy(const std::string& ip) const;
  // A connection over the per-address cap: counted, and told why when it is
  // plaintext (best effort); the caller closes it.
  void RefuseOverAddressCap(int fd);
  void StartWriting(Conn& c, std::string response, bool close, absl::Time now);
  void ToIdle(Conn& c, absl::Time now);
  // The connection as services/common/socket_io.h reads and writes it.
  static SocketRef Ref(Conn& c) { return SocketRef{c.fd, c.ssl, &c.tls_wants}; }
  void Close(Conn& c, const char* reason);
  void Wake();
  // The held-bytes budget (max_held_bytes*): Hold brings the totals in line
  // with the connection's `in`, `job_bytes` and `out` (none once it is
  // closed); WouldPassBudget says whether `more` request bytes for it would
  // pass a limit, ResponseWouldPassBudget whether a response of `size`
  // would (one is let through when nothing else of its address is held, or
  // nothing at all: it is in memory already, and a page larger than the
  // per-address budget must still reach an honest client).
  void Hold(Conn& c);
  bool WouldPassBudget(const Conn& c, size_t more) const;
  bool ResponseWouldPassBudget(const Conn& c, size_t size) const;
  size_t HeldBy(const std::string& ip) const;

  const HttpServerOptions options_;
  const HttpRequestHandler handler_;
  const Metrics metrics_;
  FramingLimits limits_;
  RequestProcessor processor_;
  SslCtxPtr ssl_ctx_;
  int listen_fd_ = -1;
  int wake_read_ = -1;
  int wake_write_ = -1;
  int epoll_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;  // serializes Stop()

  // Loop thread only.
  std::map<uint64_t, Conn> conns_;
  std::map<std::string, int> per_address_;
  size_t held_total_ = 0;
  std::map<std::string, size_t> held_per_address_;
  std::set<std::string> proxies_;  // proxy_protocol_from, normalized (const after Init)
  uint64_t next_id_ = 2;           // after kWakeId and kListenId

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Job> jobs_;       // guarded by mu_
  std::vector<Done> done_;     // guarded by mu_
  bool workers_stop_ = false;  // guarded by mu_
  std::thread loop_;
  std::vector<std::thread> workers_;
};

absl::Status HttpServer::Impl::Init() {
  const HttpServerOptions& o = options_;
  if (o.port < 0 || o.port > 65535)
    return absl::InvalidArgumentError(absl::StrCat("port: ", o.port, " is out of range"));
  if (o.threads < 1 || o.header_timeout_seconds < 1 || o.io_timeout_seconds < 1 || o.keep_alive_timeout_seconds < 1 ||
      o.max_keep_alive_requests < 1 || o.max_connections < 1 || o.max_connections_per_address < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(o.name,
                     " options: threads, timeouts, max_keep_alive_requests and connection limits must be "
                     "at least 1"));
  }
  limits_.max_body_bytes = o.max_body_bytes;
  const size_t largest_request = limits_.max_header_bytes + o.max_body_bytes;
  if (o.max_held_bytes_per_address < largest_request || o.max_held_bytes < o.max_held_bytes_per_address) {
    return absl::InvalidArgumentError(
        absl::StrCat(o.name, " options: max_held_bytes_per_address must hold the largest request (", largest_request,
                     " bytes) and max_held_bytes at least as much as max_held_bytes_per_address"));
  }
  if (o.min_write_bytes_per_second < 1) {
    return absl::InvalidArgumentError(absl::StrCat(o.name, " options: min_write_bytes_per_second must be at least 1"));
  }
  for (const std::string& proxy : o.proxy_protocol_from) {
    std::string ip = NormalizeIp(AF_INET, proxy);
    if (ip.empty()) ip = NormalizeIp(AF_INET6, proxy);
    if (ip.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(o.name, " options: proxy_protocol_from: \"", proxy, "\" is not a numeric IPv4 or IPv6 address"));
    }
    proxies_.insert(ip);
  }
  if (o.tls.ServesTls() || o.tls.require_client_cert) {
    absl::StatusOr<SslCtxPtr> ctx = NewServerSslCtx(o.tls);
    if (!ctx.ok()) return ctx.status();
    ssl_ctx_ = *std::move(ctx);
  }

  // Routing: every method to one catch-all handler (cpp-httplib reads the
  // body before method handlers run).
  const HttpRequestHandler* handler = &handler_;
  auto route = [handler](const httplib::Request& req, httplib::Response& res) {
    HttpServerRequest in;
    in.method = req.method;
    in.path = req.path;
    in.target = req.target;
    for (const auto& [k, v] : req.headers) {
      // cpp-httplib adds the peer address as pseudo headers; they are not the client's.
      if (k == "REMOTE_ADDR" || k == "REMOTE_PORT" || k == "LOCAL_ADDR" || k == "LOCAL_PORT") continue;
      in.headers.emplace_back(k, v);
    }
    in.remote_addr = req.remote_addr;
    in.body = req.body;
    HttpServerResponse out = (*handler)(in);
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    if (!out.body.empty() || !out.content_type.empty()) res.set_content(out.body, out.content_type.c_str());
  };
  processor_.Get(".*", route);  // also serves HEAD
  processor_.Post(".*", route);
  processor_.Put(".*", route);
  processor_.Delete(".*", route);
  processor_.Patch(".*", route);
  processor_.Options(".*", route);
  processor_.set_keep_alive_timeout(o.keep_alive_timeout_seconds);
  processor_.set_keep_alive_max_count(static_cast<size_t>(o.max_keep_alive_requests));
  processor_.set_payload_max_length(o.max_body_bytes);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (o.resolve_host ? 0 : AI_NUMERICHOST);
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(o.port);
  if (int rc = getaddrinfo(o.host.c_str(), port_text.c_str(), &hints, &res); rc != 0 || res == nullptr) {
    if (!o.resolve_host) {
      return absl::InvalidArgumentError(absl::StrCat("host: \"", o.host, "\" is not a numeric IPv4 or IPv6 address"));
    }
    return absl::InvalidArgumentError(absl::StrCat("host: \"", o.host, "\" does not resolve: ", gai_strerror(rc)));
  }
  int fd = -1;
  std::string bind_error = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) break;
    bind_error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(o.name, ": cannot listen on ", o.host, ":", o.port, ": ", bind_error));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  int wake[2];
  if (::pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    return absl::UnavailableError(absl::StrCat(o.name, ": pipe: ", std::strerror(errno)));
  }
  wake_read_ = wake[0];
  wake_write_ = wake[1];
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::UnavailableError(absl::StrCat(o.name, ": epoll: ", std::strerror(errno)));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_read_, &ev);
  ev.data.u64 = kListenId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  for (int i = 0; i < o.threads; ++i) workers_.emplace_back([this] { Work(); });
  loop_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void HttpServer::Impl::Wake() {
  const char byte = 1;
  ssize_t unused = ::write(wake_write_, &byte, 1);
  (void)unused;
}

void HttpServer::Impl::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (loop_.joinable()) {
    stopping_.store(true);
    Wake();
    loop_.join();
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    workers_stop_ = true;
    jobs_.clear();  // not started: their connections are closed already
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  for (int* fd : {&listen_fd_, &wake_read_, &wake_write_, &epoll_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void HttpServer::Impl::Work() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [this] { return workers_stop_ || !jobs_.empty(); });
      if (workers_stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    MemoryStream stream(std::move(job.request), job.ip, job.port);
    bool connection_closed = false;
    const bool ok = processor_.process_request(stream, job.close_connection, connection_closed, nullptr);
    std::string response = std::move(stream.out());
    // The loop answers "Expect: 100-continue" itself, before the body arrives.
    if (absl::StartsWith(response, kContinue)) response.erase(0, kContinue.size());
    const int status = StatusOf(response);
    const bool close = !ok || connection_closed || job.close_connection || status == 0 || status == 400;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(Done{job.id, std::move(response), close});
    }
    Wake();
  }
}

void HttpServer::Impl::Hold(Conn& c) {
  const size_t want = c.fd < 0 ? 0 : c.in.size() + c.job_bytes + c.out.size();
  // Per address, a response counts for at most half the address's budget: a
  // lone page larger than the budget (let through, ResponseWouldPassBudget)
  // leaves the address room for its other requests while it is read.
  const size_t want_here =
      c.fd < 0 ? 0 : c.in.size() + c.job_bytes + std::min(c.out.size(), options_.max_held_bytes_per_address / 2);
  if (want == c.held && want_here == c.held_here) return;
  size_t& mine = held_per_address_[c.ip];
  held_total_ = held_total_ - c.held + want;
  mine = mine - c.held_here + want_here;
  c.held = want;
  c.held_here = want_here;
  if (mine == 0) held_per_address_.erase(c.ip);
  metrics_.Held(held_total_);
}

size_t HttpServer::Impl::HeldBy(const std::string& ip) const {
  auto it = held_per_address_.find(ip);
  return it == held_per_address_.end() ? 0 : it->second;
}

bool HttpServer::Impl::WouldPassBudget(const Conn& c, size_t more) const {
  if (held_total_ + more > options_.max_held_bytes) return true;
  return HeldBy(c.ip) + more > options_.max_held_bytes_per_address;
}

bool HttpServer::Impl::ResponseWouldPassBudget(const Conn& c, size_t size) const {
  if (held_total_ > 0 && held_total_ + size > options_.max_held_bytes) return true;
  const size_t mine = HeldBy(c.ip);
  return mine > 0 && mine + size > options_.max_held_bytes_per_address;
}

void HttpServer::Impl::Close(Conn& c, const char* reason) {
  if (reason != nullptr) metrics_.Closed(reason);
  if (c.ssl != nullptr) SSL_free(c.ssl);
  c.ssl = nullptr;
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  Hold(c);  // releases what it held
  if (c.counted) {
    auto it = per_address_.find(c.ip);
    if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
    c.counted = false;
  }
  metrics_.Opened(-1);
}

void HttpServer::Impl::StartWriting(Conn& c, std::string response, bool close, absl::Time now) {
  c.phase = Phase::kWriting;
  c.out = std::move(c.unsent_continue);
  c.unsent_continue.clear();
  c.out += response;
  c.sent = 0;
  c.close_after_write = close || stopping_.load();
  c.since = now;
  // Taken at min_write_bytes_per_second, with io_timeout_seconds to spare;
  // and no io_timeout_seconds without progress (Write moves that on).
  const absl::Duration io = absl::Seconds(options_.io_timeout_seconds);
  c.write_deadline = now + io + absl::Seconds(static_cast<double>(c.out.size()) / options_.min_write_bytes_per_second);
  c.deadline = std::min(c.write_deadline, now + io);
  c.deadline_reason = "write_timeout";
  Hold(c);
}

void HttpServer::Impl::ToIdle(Conn& c, absl::Time now) {
  c.phase = Phase::kReading;
  c.headers_seen = false;
  c.continued = false;
  c.since = now;
  if (c.in.empty()) {
    c.deadline = c.served == 0 ? now + absl::Seconds(options_.header_timeout_seconds)
                               : now + absl::Seconds(options_.keep_alive_timeout_seconds);
    c.deadline_reason = c.served == 0 ? "header_timeout" : "idle";
  } else {  // a pipelined request is already buffered
    c.deadline = now + absl::Seconds(options_.header_timeout_seconds);
    c.deadline_reason = "header_timeout";
  }
}

// Reads what is available and, once a request is whole, hands it to a
// worker. Returns false when the connection was closed.
bool HttpServer::Impl::ReadRequest(Conn& c, absl::Time now) {
  const size_t cap = limits_.max_header_bytes + limits_.max_body_bytes + (64 << 10);
  char buf[16 << 10];
  bool eof = false;
  bool over_budget = false;
  while (c.in.size() < cap) {
    size_t n = 0;
    const Io io = ReceiveSome(Ref(c), buf, sizeof(buf), &n);
    if (io == Io::kWouldBlock) break;
    if (io == Io::kClosed) {
      eof = true;
      break;
    }
    if (WouldPassBudget(c, n)) {
      over_budget = true;
      break;
    }
    if (c.in.empty() && c.served > 0 && c.deadline_reason == std::string("idle")) {
      // The first byte of the next request on a kept-alive connection.
      c.since = now;
      c.deadline = now + absl::Seconds(options_.header_timeout_seconds);
      c.deadline_reason = "header_timeout";
    }
    c.in.append(buf, n);
    Hold(c);
  }
  if (over_budget) {
    metrics_.Closed("bytes_held");
    c.in.clear();
    c.framing = {};
    Hold(c);
    StartWriting(c, ErrorResponse(503, "server busy: too many request bytes in flight; try again"), /*close=*/true,
                 now);
    return Write(c, now);
  }
  if (c.in.empty()) {
    if (eof) {
      Close(c, nullptr);
      return false;
    }
    return true;
  }
  RequestFrame frame = FrameRequest(c.in, limits_, &c.framing);
  if (frame.state == RequestFrame::State::kIncomplete && c.in.size() >= cap) {
    // Not whole at the most a request may take raw: chunk framing (long
    // extensions on tiny chunks) that outgrows the decoded-body limit. Reading
    // stopped at the cap, so waiting would only spin on a readable socket.
    frame.state = RequestFrame::State::kError;
    frame.error_status = 413;
    frame.error = absl::StrCat("request over ", cap, " bytes with its framing");
  }
  if (frame.state == RequestFrame::State::kError) {
    c.in.clear();
    c.framing = {};
    Hold(c);
    StartWriting(c, ErrorResponse(frame.error_status, frame.error), /*close=*/true, now);
    return Write(c, now);
  }
  if (frame.header_bytes > 0 && !c.headers_seen) {
    c.headers_seen = true;
    c.deadline = now + absl::Seconds(options_.io_timeout_seconds);
    c.deadline_reason = "body_timeout";
  }
  if (frame.state == RequestFrame::State::kIncomplete) {
    if (eof) {
      Close(c, nullptr);
      return false;
    }
    if (frame.header_bytes > 0 && frame.expect_continue && !c.continued) {
      c.continued = true;
      size_t n = 0;
      std::string line(kContinue);
      if (TransmitSome(Ref(c), line.data(), line.size(), &n) == Io::kDone) line.erase(0, n);
      c.unsent_continue = line;  // prefixed to the response when not all went out
    }
    return true;
  }
  // Whole: to a worker. Input after it (a pipelined request) waits its turn.
  Job job{c.id, c.in.substr(0, frame.total_bytes), c.ip, c.port,
          c.served + 1 >= options_.max_keep_alive_requests || eof || stopping_.load()};
  c.in.erase(0, frame.total_bytes);
  c.framing = {};
  c.job_bytes = frame.total_bytes;
  Hold(c);
  c.phase = Phase::kProcessing;
  c.deadline = absl::InfiniteFuture();
  c.deadline_reason = "";
  const size_t max_queue = static_cast<size_t>(options_.threads) * 256;
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (jobs_.size() < max_queue) {
      jobs_.push_back(std::move(job));
      queued = true;
    }
  }
  if (!queued) {
    c.job_bytes = 0;
    Hold(c);
    StartWriting(c, ErrorResponse(503, "server busy: try again"), /*close=*/true, now);
    return Write(c, now);
  }
  work_cv_.notify_one();
  return true;
}

bool HttpServer::Impl::Write(Conn& c, absl::Time now) {
  while (c.sent < c.out.size()) {
    size_t n = 0;
    const Io io = TransmitSome(Ref(c), c.out.data() + c.sent, c.out.size() - c.sent, &n);
    if (io == Io::kWouldBlock) return true;
    if (io == Io::kClosed) {
      Close(c, nullptr);
      return false;
    }
    c.sent += n;
    if (n > 0) c.deadline = std::min(c.write_deadline, now + absl::Seconds(options_.io_timeout_seconds));
  }
  c.out.clear();
  c.out.shrink_to_fit();
  c.sent = 0;
  Hold(c);
  ++c.served;
  if (c.close_after_write) {
    // Half-close and read the rest of what the client sends, so the
    // response is not lost to a reset (an error answered before its body).
    if (c.ssl != nullptr) {
      SSL_shutdown(c.ssl);  // close_notify, best effort
    } else {
      ::shutdown(c.fd, SHUT_WR);
    }
    c.phase = Phase::kDraining;
    c.since = now;
    c.drained = 0;
    c.in.clear();
    c.framing = {};
    Hold(c);
    c.deadline = now + std::min(kDrainTime, absl::Seconds(options_.io_timeout_seconds));
    c.deadline_reason = "";
    return Drain(c, now);
  }
  ToIdle(c, now);
  if (!c.in.empty()) return ReadRequest(c, now);  // pipelined
  // TLS may hold decrypted input that poll cannot see.
  if (c.ssl != nullptr && SSL_pending(c.ssl) > 0) return ReadRequest(c, now);
  return true;
}

bool HttpServer::Impl::Drain(Conn& c, absl::Time now) {
  (void)now;
  char buf[16 << 10];
  while (c.drained < kMaxDrainBytes) {
    size_t n = 0;
    const Io io = ReceiveSome(Ref(c), buf, sizeof(buf), &n);
    if (io == Io::kWouldBlock) return true;
    if (io == Io::kClosed) break;
    c.drained += n;
  }
  Close(c, nullptr);
  return false;
}

void HttpServer::Impl::RefuseOverAddressCap(int fd) {
  metrics_.Refused("per_address_limit");
  if (ssl_ctx_ == nullptr) {  // a plaintext client learns why (best effort)
    const std::string r = ErrorResponse(503, "too many connections from this address");
    ssize_t unused = ::send(fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)unused;
  }
}

bool HttpServer::Impl::TrustedProxy(const std::string& ip) const {
  if (proxies_.count(ip) > 0) return true;
  // An IPv4 peer of a dual-stack listener.
  return absl::StartsWith(ip, "::ffff:") && ip.find('.') != std::string::npos && proxies_.count(ip.substr(7)) > 0;
}

bool HttpServer::Impl::ReadProxyHeader(Conn& c, absl::Time now) {
  char buf[kMaxProxyV2Bytes];
  ProxyHeader h;
  while (h.state == ProxyHeader::State::kIncomplete) {
    // Peek, then take only the header's bytes: what follows is the client's.
    const ssize_t n = ::recv(c.fd, buf, kMaxProxyV2Bytes - c.proxy_in.size(), MSG_PEEK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) {  // closed before its header was whole
      Close(c, nullptr);
      return false;
    }
    const std::string seen = c.proxy_in + std::string(buf, static_cast<size_t>(n));
    h = ParseProxyHeader(seen);
    if (h.state == ProxyHeader::State::kError) {
      Close(c, "proxy_header");  // unanswered: whatever sent it is not the proxy we know
      return false;
    }
    const size_t take = h.state == ProxyHeader::State::kDone ? h.length - c.proxy_in.size() : static_cast<size_t>(n);
    if (::recv(c.fd, buf, take, 0) != static_cast<ssize_t>(take)) {
      Close(c, nullptr);
      return false;
    }
    c.proxy_in.append(buf, take);
  }
  c.proxy_in.clear();
  c.proxy_in.shrink_to_fit();
  if (!h.client_ip.empty()) {  // else LOCAL or UNKNOWN: the proxy's own connection
    c.ip = h.client_ip;
    c.port = h.client_port;
  }
  // The client's address now counts for the per-address cap, as at accept.
  int& from_ip = per_address_[c.ip];
  if (from_ip >= options_.max_connections_per_address) {
    RefuseOverAddressCap(c.fd);
    Close(c, nullptr);
    return false;
  }
  ++from_ip;
  c.counted = true;
  c.phase = c.ssl != nullptr ? Phase::kHandshake : Phase::kReading;
  return Step(c, now);  // the handshake or request may be buffered already
}

bool HttpServer::Impl::Step(Conn& c, absl::Time now) {
  switch (c.phase) {
    case Phase::kProxyHeader:
      return ReadProxyHeader(c, now);
    case Phase::kHandshake: {
      const int r = SSL_accept(c.ssl);
      if (r == 1) {
        c.phase = Phase::kReading;
        return ReadRequest(c, now);  // the request may be buffered already
      }
      if (TlsOutcome(Ref(c), r) == Io::kClosed) {
        Close(c, nullptr);  // not TLS, or no acceptable client certificate
        return false;
      }
      return true;
    }
    case Phase::kReading:
      return ReadRequest(c, now);
    case Phase::kProcessing:
      return true;
    case Phase::kWriting:
      return Write(c, now);
    case Phase::kDraining:
      return Drain(c, now);
  }
  return true;
}

void HttpServer::Impl::Accept(absl::Time now) {
  while (true) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error (EMFILE...): poll again
    char ip[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (peer.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&peer);
      inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
      port = ntohs(a->sin6_port);
    } else {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&peer);
      inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
      port = ntohs(a->sin_port);
    }
    // Behind a proxy (proxy_protocol_from), only the proxies may connect,
    // and their connections count under the client address their PROXY
    // header names (ReadProxyHeader).
    const bool via_proxy = !proxies_.empty();
    if (via_proxy && !TrustedProxy(ip)) {
      metrics_.Refused("untrusted_peer");
      ::close(fd);  // unanswered
      continue;
    }
    if (!via_proxy && per_address_[ip] >= options_.max_connections_per_address) {
      RefuseOverAddressCap(fd);
      ::close(fd);
      if (per_address_[ip] == 0) per_address_.erase(ip);
      continue;
    }
    if (static_cast<int>(conns_.size()) >= options_.max_connections) {
      // Make room by closing the connection idle the longest (waiting for a
      // request); with every one busy, refuse the new one.
      auto oldest = conns_.end();
      for (auto it = conns_.begin(); it != conns_.end(); ++it) {
        const Conn& o = it->second;
        const bool idle = (o.phase == Phase::kReading && o.in.empty()) || o.phase == Phase::kHandshake ||
                          o.phase == Phase::kProxyHeader;
        if (idle && (oldest == conns_.end() || o.since < oldest->second.since)) oldest = it;
      }
      if (oldest == conns_.end()) {
        metrics_.Refused("capacity");
        ::close(fd);
        if (!via_proxy && per_address_[ip] == 0) per_address_.erase(ip);
        continue;
      }
      Close(oldest->second, "evicted");
      conns_.erase(oldest);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Conn c;
    c.id = next_id_++;
    c.fd = fd;
    c.ip = ip;
    c.port = port;
    if (!via_proxy) {
      ++per_address_[c.ip];
      c.counted = true;
    }
    metrics_.Opened(1);
    c.since = now;
    c.deadline = now + absl::Seconds(options_.header_timeout_seconds);
    c.deadline_reason = "header_timeout";
    if (ssl_ctx_ != nullptr) {
      c.ssl = SSL_new(ssl_ctx_.get());
      if (c.ssl == nullptr || SSL_set_fd(c.ssl, fd) != 1) {
        ERR_clear_error();
        Close(c, nullptr);
        continue;
      }
      c.phase = Phase::kHandshake;
      c.tls_wants = POLLIN;
    }
    if (via_proxy) c.phase = Phase::kProxyHeader;  // then the handshake, or the request
    UpdateInterest(conns_.emplace(c.id, std::move(c)).first->second);
  }
}

uint32_t HttpServer::Impl::InterestOf(const Conn& c) {
  const uint32_t tls = c.tls_wants == POLLOUT ? EPOLLOUT : EPOLLIN;
  switch (c.phase) {
    case Phase::kProxyHeader:
      return EPOLLIN;
    case Phase::kHandshake:
      return tls;
    case Phase::kReading:
    case Phase::kDraining:
      return c.ssl != nullptr ? tls : EPOLLIN;
    case Phase::kWriting:
      return c.ssl != nullptr ? tls : EPOLLOUT;
    case Phase::kProcessing:
      // Not watched at all while a worker has the request: epoll reports
      // a hang-up even unasked, and would wake the loop on every pass.
      return 0;
  }
  return 0;
}

void HttpServer::Impl::UpdateInterest(Conn& c) {
  if (c.fd < 0) return;
  const uint32_t want = InterestOf(c);
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.id;
  if (want == 0) {
    if (c.interest != 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, &ev);
  } else if (c.interest == 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev);
  } else if (want != c.interest) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  }
  c.interest = want;
}

void HttpServer::Impl::Loop() {
  // SSL_write to a peer that went away raises SIGPIPE in this thread; blocked,
  // it stays pending here instead of ending the process.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);

  // epoll, not poll: the loop's work per wake-up follows the connections that
  // are ready, not all that are open (with 1,064 attack connections open,
  // poll's rescans cost a third of the honest write rate on two cores).
  // Deadlines are swept every kSweep instead of being polled for.
  constexpr absl::Duration kSweep = absl::Milliseconds(100);
  std::vector<epoll_event> events(256);
  absl::Time stop_deadline = absl::InfiniteFuture();
  absl::Time next_sweep = absl::Now() + kSweep;
  while (true) {
    absl::Time now = absl::Now();
    if (stopping_.load() && stop_deadline == absl::InfiniteFuture()) {
      stop_deadline = now + kStopGrace;
      if (listen_fd_ >= 0) ::close(listen_fd_);  // also leaves the epoll set
      listen_fd_ = -1;
      // Waiting connections go now; requests at a worker get their answer.
      for (auto it = conns_.begin(); it != conns_.end();) {
        Conn& c = it->second;
        if (c.phase == Phase::kProcessing || c.phase == Phase::kWriting) {
          c.close_after_write = true;
          ++it;
        } else {
          Close(c, nullptr);
          it = conns_.erase(it);
        }
      }
    }
    if (stopping_.load() && (conns_.empty() || now >= stop_deadline)) break;

    const int timeout_ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(next_sweep - now) + 1));
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) {
      LogError(absl::StrCat(absl::AsciiStrToLower(options_.name), "_epoll_failed"), {{"error", std::strerror(errno)}});
      break;
    }
    now = absl::Now();
    bool accept_ready = false;
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == kWakeId) {
        char drain[256];
        while (::read(wake_read_, drain, sizeof(drain)) > 0) {
        }
        continue;
      }
      if (id == kListenId) {
        accept_ready = true;
        continue;
      }
      auto it = conns_.find(id);
      if (it == conns_.end() || it->second.phase == Phase::kProcessing) continue;
      if (!Step(it->second, now)) {
        conns_.erase(it);
        continue;
      }
      UpdateInterest(it->second);
    }
    // Finished requests: their responses go out.
    std::vector<Done> done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done.swap(done_);
    }
    for (Done& d : done) {
      auto it = conns_.find(d.id);
      if (it == conns_.end()) continue;  // closed meanwhile (Stop)
      Conn& c = it->second;
      c.job_bytes = 0;
      Hold(c);
      if (ResponseWouldPassBudget(c, d.response.size())) {
        // Unread responses (a client that asks and does not read) would
        // take more than the budget: this one is dropped for a 503.
        metrics_.Closed("response_bytes_held");
        d.response = ErrorResponse(503, "server busy: too many response bytes not yet taken; try again");
        d.close = true;
      }
      StartWriting(c, std::move(d.response), d.close, now);
      if (!Write(it->second, now)) {
        conns_.erase(it);
        continue;
      }
      UpdateInterest(it->second);
    }
    if (accept_ready && listen_fd_ >= 0) Accept(now);
    if (now >= next_sweep) {
      next_sweep = now + kSweep;
      for (auto it = conns_.begin(); it != conns_.end();) {
        Conn& c = it->second;
        if (now >= c.deadline) {
          Close(c, c.deadline_reason[0] != '\0' ? c.deadline_reason : nullptr);
          it = conns_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (auto& [id, c] : conns_) Close(c, nullptr);
  conns_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::StartWithHandler(HttpServerOptions options,
                                                                         HttpRequestHandler handler) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

namespace {

HttpServerResponse Text(int status, std::string body) {
  HttpServerResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                              std::map<std::string, HttpHandler> routes) {
  auto handler = [routes = std::move(routes)](const HttpServerRequest& req) {
    if (req.method != "GET" && req.method != "HEAD") {
      HttpServerResponse r = Text(405, "method not allowed\n");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    auto it = routes.find(req.path);
    if (it == routes.end()) return Text(404, "not found\n");
    HttpResponse out = it->second();
    HttpServerResponse r;
    r.status = out.status;
    r.content_type = out.content_type;
    r.body = std::move(out.body);
    return r;
  };
  return StartWithHandler(std::move(options), std::move(handler));
}

int HttpServer::port() const { return impl_->port(); }

void HttpServer::Shutdown() {
  if (impl_) impl_->Stop();
}

HttpServer::~HttpServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<HttpServer>> StartMetricsHttpServer(HttpServerOptions options,
                                                                   const metrics::MetricsRegistry* registry,
                                                                   std::function<bool()> healthy,
                                                                   std::map<std::string, HttpHandler> extra_routes) {
  std::map<std::string, HttpHandler> routes = std::move(extra_routes);
  routes["/metrics"] = [registry] {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = registry->Render();
    return r;
  };
  routes["/healthz"] = [healthy = std::move(healthy)] {
    HttpResponse r;
    if (healthy && !healthy()) {
      r.status = 503;
      r.body = "unhealthy\n";
    } else {
      r.body = "ok\n";
    }
    return r;
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
