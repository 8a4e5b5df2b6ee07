#include "services/common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <httplib.h>
#include <openssl/ssl.h>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/metrics.h"
#include "services/common/tls_testing.h"

namespace lifelong {
namespace {

// A connected client socket with a 3 s receive timeout, or -1.
int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until EOF; "<timeout>" when the server kept the socket open for 3 s.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      out.append(buf, n);
    } else if (n == 0) {
      return out;
    } else {
      return errno == EAGAIN || errno == EWOULDBLOCK ? "<timeout>" : out;
    }
  }
}

std::string Request(int port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return "<connect failed>";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response = ReadAll(fd);
  ::close(fd);
  return response;
}

std::string Get(int port, const std::string& path) {
  return Request(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

class MetricsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    counter_ = *registry_.AddCounter("test_scrapes_total", "A counter.");
    counter_->Increment(7);
    HttpServerOptions options;
    options.header_timeout_seconds = 2;
    options.io_timeout_seconds = 2;
    options.max_connections = 4;
    auto server = StartMetricsHttpServer(options, &registry_, [this] { return healthy_.load(); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
  }

  metrics::MetricsRegistry registry_;
  metrics::Counter* counter_ = nullptr;
  std::atomic<bool> healthy_{true};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(MetricsEndpointTest, GetMetricsReturnsExposition) {
  const std::string response = Get(server_->port(), "/metrics");
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK\r\n")) << response;
  EXPECT_TRUE(absl::StrContains(response, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  const std::string body = registry_.Render();
  EXPECT_TRUE(absl::StrContains(response, "Content-Length: " + std::to_string(body.size())));
  EXPECT_TRUE(absl::EndsWith(response, "\r\n\r\n" + body)) << response;
  EXPECT_TRUE(absl::StrContains(response, "test_scrapes_total 7\n"));
}

TEST_F(MetricsEndpointTest, QueryStringIsIgnoredAndHeadHasNoBody) {
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/metrics?x=1"), "HTTP/1.1 200 OK"));
  const std::string head = Request(server_->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 200 OK")) << head;
  EXPECT_TRUE(absl::EndsWith(head, "\r\n\r\n")) << head;
}

TEST_F(MetricsEndpointTest, UnknownPathIs404) {
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/nope"), "HTTP/1.1 404 Not Found\r\n"));
}

TEST_F(MetricsEndpointTest, OtherMethodsAre405AndGarbageIs400) {
  EXPECT_TRUE(absl::StartsWith(Request(server_->port(), "POST /metrics HTTP/1.1\r\n\r\n"),
                               "HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_TRUE(absl::StartsWith(Request(server_->port(), "hello\r\n\r\n"), "HTTP/1.1 400 Bad Request\r\n"));
}

TEST_F(MetricsEndpointTest, PatchAndOptionsAre405WithAllow) {
  for (const char* method : {"PATCH", "OPTIONS", "PUT", "DELETE"}) {
    const std::string r = Request(server_->port(), std::string(method) + " /metrics HTTP/1.1\r\n\r\n");
    EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 405 Method Not Allowed\r\n")) << method << ": " << r;
    EXPECT_TRUE(absl::StrContains(r, "Allow: GET, HEAD\r\n")) << method << ": " << r;
  }
}

TEST_F(MetricsEndpointTest, Http10HealthCheckAsHaproxySendsIt) {
  // ops/cluster.sh: "http-check send meth GET uri /leader" is an HTTP/1.0
  // request without headers.
  const std::string r = Request(server_->port(), "GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\nok\n")) << r;
}

TEST_F(MetricsEndpointTest, OversizedBodyIs413BeforeItIsSent) {
  // Only the headers go out: the answer comes without the 1 MB body.
  const std::string r = Request(server_->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 413 ")) << r;
}

TEST_F(MetricsEndpointTest, OversizedRequestIs431) {
  const std::string huge = "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_TRUE(absl::StartsWith(Request(server_->port(), huge), "HTTP/1.1 431 "));
}

TEST_F(MetricsEndpointTest, HealthzFollowsHealthCallback) {
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/healthz"), "HTTP/1.1 200 OK"));
  healthy_ = false;
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/healthz"), "HTTP/1.1 503 "));
}

TEST_F(MetricsEndpointTest, SilentClientDoesNotBlockOtherScrapes) {
  const int silent = Connect(server_->port());
  ASSERT_GE(silent, 0);
  const int partial = Connect(server_->port());
  ASSERT_GE(partial, 0);
  ::send(partial, "GET /met", 8, MSG_NOSIGNAL);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/metrics"), "HTTP/1.1 200 OK"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  ::close(silent);
  ::close(partial);
}

TEST_F(MetricsEndpointTest, SilentClientIsDisconnectedAfterIoTimeout) {
  const int silent = Connect(server_->port());
  ASSERT_GE(silent, 0);
  // the header timeout is 2 s and the read timeout 3 s: EOF ("") proves the server
  // closed it.
  EXPECT_EQ(ReadAll(silent), "");
  ::close(silent);
}

TEST_F(MetricsEndpointTest, ConnectionFloodEvictsOldestIdleConnection) {
  std::vector<int> idle;
  for (int i = 0; i < 10; ++i) {  // max_connections is 4
    const int fd = Connect(server_->port());
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(absl::StartsWith(Get(server_->port(), "/metrics"), "HTTP/1.1 200 OK"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  for (int fd : idle) ::close(fd);
}

TEST_F(MetricsEndpointTest, ShutdownWithOpenConnectionIsPromptAndIdempotent) {
  const int silent = Connect(server_->port());
  ASSERT_GE(silent, 0);
  const int port = server_->port();
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  server_->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  EXPECT_EQ(ReadAll(silent), "");  // closed by the server
  ::close(silent);
  EXPECT_EQ(Get(port, "/metrics"), "<connect failed>");
}

TEST(HttpServer, ConnectionsOverThePerAddressLimitGet503) {
  HttpServerOptions options;
  options.max_connections_per_address = 2;
  auto server = HttpServer::Start(options, {{"/x", [] { return HttpResponse{}; }}});
  ASSERT_TRUE(server.ok()) << server.status();
  const int a = Connect((*server)->port()), b = Connect((*server)->port());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // The accept of a third connection from 127.0.0.1 answers 503 and closes
  // (read without sending: a request sent to the closed socket could reset it).
  const int c = Connect((*server)->port());
  ASSERT_GE(c, 0);
  EXPECT_TRUE(absl::StartsWith(ReadAll(c), "HTTP/1.1 503 "));
  ::close(c);
  ::close(a);
  ::close(b);
}

// A client socket bound to `from` (any 127.x.y.z is this machine) with
// `timeout_s` send and receive timeouts and, when `rcvbuf` > 0, that receive
// buffer; or -1.
int ConnectFrom(int port, const char* from, int timeout_s = 3, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, from, &local.sin_addr);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Slow uploads hold memory: request bytes read and not yet answered are
// bounded per client address and in all. A read past either limit gets 503
// with Retry-After; other addresses go on while there is room; the bytes are
// released when the uploads are answered.
TEST(HttpServer, RequestBytesHeldAreBoundedPerAddressAndInAll) {
  HttpServerOptions options;
  options.max_body_bytes = 1 << 20;
  options.max_held_bytes_per_address = (2 << 20) + (64 << 10);
  options.max_held_bytes = (5 << 20) / 2;
  options.max_connections = 16;
  options.io_timeout_seconds = 10;
  auto server = HttpServer::StartWithHandler(options, [](const HttpServerRequest& req) {
    HttpServerResponse r;
    r.body = std::to_string(req.body.size());
    r.content_type = "text/plain";
    return r;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  const size_t kBody = 1 << 20, kSent = 1000000;  // of each upload, sent before it stalls
  const std::string head = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n";
  const std::string part(kSent, 'x');
  auto start_upload = [&](const char* from) {
    int fd = ConnectFrom(port, from);
    EXPECT_GE(fd, 0) << from;
    std::string first = head + part;
    EXPECT_EQ(::send(fd, first.data(), first.size(), MSG_NOSIGNAL), static_cast<ssize_t>(first.size()));
    absl::SleepFor(absl::Milliseconds(300));  // read by the server
    return fd;
  };
  auto finish_upload = [&](int fd) {
    std::string rest(kBody - kSent, 'y');
    ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    std::string r = ReadAll(fd);
    ::close(fd);
    return r;
  };
  const int a = start_upload("127.0.0.1");
  const int b = start_upload("127.0.0.1");
  // A third from the same address passes its 2 MiB: refused.
  const int c = ConnectFrom(port, "127.0.0.1");
  ASSERT_GE(c, 0);
  std::string third = head + std::string(400000, 'z');
  ::send(c, third.data(), third.size(), MSG_NOSIGNAL);
  const std::string refused = ReadAll(c);
  ::close(c);
  EXPECT_TRUE(absl::StartsWith(refused, "HTTP/1.1 503 ")) << refused.substr(0, 200);
  EXPECT_TRUE(absl::StrContains(refused, "Retry-After: 1\r\n")) << refused.substr(0, 200);
  // Another address still gets small requests through...
  const int small = ConnectFrom(port, "127.0.0.2");
  ASSERT_GE(small, 0);
  const std::string post = "POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  ::send(small, post.data(), post.size(), MSG_NOSIGNAL);
  const std::string ok = ReadAll(small);
  ::close(small);
  EXPECT_TRUE(absl::StartsWith(ok, "HTTP/1.1 200 ")) << ok;
  EXPECT_TRUE(absl::EndsWith(ok, "\r\n\r\n5")) << ok;
  // ... but not a third large upload in all (2.5 MiB for every address).
  const int d = ConnectFrom(port, "127.0.0.2");
  ASSERT_GE(d, 0);
  ::send(d, third.data(), third.size(), MSG_NOSIGNAL);
  std::string more(600000, 'w');
  ::send(d, more.data(), more.size(), MSG_NOSIGNAL);
  const std::string refused_in_all = ReadAll(d);
  ::close(d);
  EXPECT_TRUE(absl::StartsWith(refused_in_all, "HTTP/1.1 503 ")) << refused_in_all.substr(0, 200);
  // The held uploads complete, and their bytes are released once answered.
  EXPECT_TRUE(absl::EndsWith(finish_upload(a), "\r\n\r\n" + std::to_string(kBody)));
  EXPECT_TRUE(absl::EndsWith(finish_upload(b), "\r\n\r\n" + std::to_string(kBody)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::EndsWith(finish_upload(start_upload("127.0.0.1")), "\r\n\r\n" + std::to_string(kBody))) << i;
  }
}

// Chunk extensions make a body's framing outgrow its decoded size: past the
// most a request may take raw, the answer is 413 at once (reading stopped
// there; before, the loop spun on the readable socket until the body timeout).
TEST(HttpServer, ChunkFramingPastTheRawCapIs413) {
  HttpServerOptions options;
  options.max_body_bytes = 64 << 10;
  options.io_timeout_seconds = 30;
  auto server = HttpServer::StartWithHandler(options, [](const HttpServerRequest& req) {
    HttpServerResponse r;
    r.body = std::to_string(req.body.size());
    r.content_type = "text/plain";
    return r;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  std::string upload = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk = "1;" + std::string(1000, 'e') + "\r\nX\r\n";  // 1 byte of body, ~1 KB of framing
  while (upload.size() < (64 << 10) + (16 << 10) + (64 << 10) + 4096) upload += chunk;
  const absl::Time start = absl::Now();
  const std::string r = Request((*server)->port(), upload);
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 413 ")) << r.substr(0, 200);
  EXPECT_LT(absl::Now() - start, absl::Seconds(20)) << "answered before the body timeout";
}

// A connection from `from` to 127.0.0.1:`port` whose receive buffer is
// small (so that the server, not the kernel, holds what the client has not
// read), with 5 s send and receive timeouts; or -1.
int ConnectSmallBuffer(int port, const char* from) { return ConnectFrom(port, from, 5, 16 << 10); }

// The first `n` bytes the server sent on `fd` ("" when it closed first).
std::string ReadSome(int fd, size_t n) {
  std::string out(n, '\0');
  const ssize_t got = ::recv(fd, out.data(), n, MSG_WAITALL);
  out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return out;
}

// A server's connection counters and held-bytes gauge, readable by tests.
struct TestConnectionMetrics {
  TestConnectionMetrics() {
    m.open = *registry.AddGauge("test_open", "open");
    m.held_bytes = *registry.AddGauge("test_held_bytes", "held");
    m.closed = *registry.AddCounterFamily("test_closed_total", "closed", {"reason"});
    m.refused = *registry.AddCounterFamily("test_refused_total", "refused", {"reason"});
  }
  uint64_t Closed(const std::string& reason) { return (*m.closed->WithLabels({reason}))->Value(); }
  uint64_t Refused(const std::string& reason) { return (*m.refused->WithLabels({reason}))->Value(); }

  metrics::MetricsRegistry registry;
  HttpConnectionMetrics m;
};

// A handler whose GET /big answers `size` bytes; any other path, the
// client's address.
HttpRequestHandler BigOrAddress(size_t size) {
  return [size](const HttpServerRequest& req) {
    HttpServerResponse r;
    r.content_type = "text/plain";
    r.body = req.path == "/big" ? std::string(size, 'b') : req.remote_addr;
    return r;
  };
}

// Response bytes count against the held-bytes budget until the client has
// taken them: clients that ask for large responses and never read them got
// all of them held (10 s each, 256 connections an address: ~40 GiB of xAPI
// attachment pages). Now a response past the per-address or the total budget
// is answered 503 with Retry-After, and what is held stays within the budget.
TEST(HttpServer, UnreadResponsesAreBoundedPerAddressAndInAll) {
  constexpr size_t kBig = 4 << 20;
  TestConnectionMetrics metrics;
  HttpServerOptions options;
  options.threads = 4;
  options.max_connections = 64;
  options.io_timeout_seconds = 10;
  options.max_held_bytes_per_address = 9 << 20;  // two responses
  options.max_held_bytes = 13 << 20;             // three
  options.connection_metrics = &metrics.m;
  auto server = HttpServer::StartWithHandler(options, BigOrAddress(kBig));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  const std::string get = "GET /big HTTP/1.1\r\nHost: h\r\n\r\n";
  std::vector<int> clients;
  std::map<std::string, std::vector<std::string>> statuses;  // by address, in order
  for (const char* from :
       {"127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.3"}) {
    const int fd = ConnectSmallBuffer(port, from);
    ASSERT_GE(fd, 0) << from;
    ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get.size()));
    clients.push_back(fd);
    // The head of the answer, and no more: the rest of a 200 stays unread.
    const std::string head = ReadSome(fd, 200);
    statuses[from].push_back(head.substr(0, 12));
    if (absl::StartsWith(head, "HTTP/1.1 503")) {
      EXPECT_TRUE(absl::StrContains(head, "Retry-After: 1\r\n")) << head;
    }
    EXPECT_LE(metrics.m.held_bytes->Value(), options.max_held_bytes);
  }
  EXPECT_GE(metrics.m.held_bytes->Value(), 3.0 * kBig) << "the three admitted responses are held until read";
  // 127.0.0.1: two fit its 9 MiB; 127.0.0.2: one more fits the 13 MiB in
  // all; 127.0.0.3 holds nothing, but the total is full.
  using V = std::vector<std::string>;
  const std::string ok = "HTTP/1.1 200", busy = "HTTP/1.1 503";
  EXPECT_EQ(statuses["127.0.0.1"], (V{ok, ok, busy, busy, busy}));
  EXPECT_EQ(statuses["127.0.0.2"], (V{ok, busy}));
  EXPECT_EQ(statuses["127.0.0.3"], (V{busy}));
  EXPECT_EQ(metrics.Closed("response_bytes_held"), 5u);
  EXPECT_LE(metrics.m.held_bytes->Value(), options.max_held_bytes);
  // Requests from a full address are refused before a worker runs them.
  const int more = ConnectSmallBuffer(port, "127.0.0.1");
  ASSERT_GE(more, 0);
  ::send(more, get.data(), get.size(), MSG_NOSIGNAL);
  EXPECT_TRUE(absl::StartsWith(ReadSome(more, 12), busy));
  ::close(more);
  // Closing the unread connections releases their bytes.
  for (int fd : clients) ::close(fd);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (metrics.m.held_bytes->Value() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(metrics.m.held_bytes->Value(), 0);
  const std::string r = Get(port, "/big");
  EXPECT_TRUE(absl::StartsWith(r, ok)) << r.substr(0, 200);
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\n" + std::string(kBig, 'b')));
}

// A lone response larger than its address's budget is let through (an
// honest client's large page), and while it is read, counts for half the
// budget: other requests from that address (another user behind the same
// NAT) are still answered, where all of them got 503 until the page was read;
// a second large response is still refused.
TEST(HttpServer, ALoneLargeResponseLeavesItsAddressRoomForOtherRequests) {
  constexpr size_t kBig = 6 << 20;
  TestConnectionMetrics metrics;
  HttpServerOptions options;
  options.io_timeout_seconds = 10;
  options.max_held_bytes_per_address = 4 << 20;
  options.connection_metrics = &metrics.m;
  auto server = HttpServer::StartWithHandler(options, BigOrAddress(kBig));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  const int reader = ConnectSmallBuffer(port, "127.0.0.1");
  ASSERT_GE(reader, 0);
  const std::string get = "GET /big HTTP/1.1\r\nHost: h\r\n\r\n";
  ::send(reader, get.data(), get.size(), MSG_NOSIGNAL);
  EXPECT_TRUE(absl::StartsWith(ReadSome(reader, 200), "HTTP/1.1 200")) << "a lone large page is let through";
  EXPECT_GE(metrics.m.held_bytes->Value(), 4 << 20) << "the rest of the page is held, unread";
  const std::string small = Get(port, "/small");
  EXPECT_TRUE(absl::StartsWith(small, "HTTP/1.1 200")) << small.substr(0, 200);
  EXPECT_TRUE(absl::EndsWith(small, "127.0.0.1"));
  const int second = ConnectSmallBuffer(port, "127.0.0.1");
  ASSERT_GE(second, 0);
  ::send(second, get.data(), get.size(), MSG_NOSIGNAL);
  EXPECT_TRUE(absl::StartsWith(ReadSome(second, 12), "HTTP/1.1 503")) << "a second large page is refused";
  ::close(second);
  ::close(reader);
}

// The write deadline follows the response's size (io_timeout plus the size
// at min_write_bytes_per_second) and its progress: an honest client reading
// a large response at 2 MiB/s gets all of it, where a fixed io_timeout cut it
// off; a client that reads nothing is still dropped io_timeout after the
// last progress, not at the end of that longer deadline.
TEST(HttpServer, SlowReaderOfALargeResponseGetsAllOfIt) {
  constexpr size_t kBig = 6 << 20;
  TestConnectionMetrics metrics;
  HttpServerOptions options;
  options.io_timeout_seconds = 1;  // the deadline: 1 s + 6 s at 1 MiB/s
  options.max_held_bytes_per_address = 32 << 20;
  options.connection_metrics = &metrics.m;
  auto server = HttpServer::StartWithHandler(options, BigOrAddress(kBig));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  const std::string get = "GET /big HTTP/1.1\r\nHost: h\r\n\r\n";

  const int silent = ConnectSmallBuffer(port, "127.0.0.2");
  ASSERT_GE(silent, 0);
  ::send(silent, get.data(), get.size(), MSG_NOSIGNAL);

  const int slow = ConnectSmallBuffer(port, "127.0.0.1");
  ASSERT_GE(slow, 0);
  ::send(slow, get.data(), get.size(), MSG_NOSIGNAL);
  const absl::Time start = absl::Now();
  std::string got;
  char buf[16 << 10];
  absl::Time silent_dropped = absl::InfiniteFuture();
  while (true) {  // at 2 MiB/s
    const ssize_t n = ::recv(slow, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (silent_dropped == absl::InfiniteFuture() && metrics.Closed("write_timeout") > 0) silent_dropped = absl::Now();
    absl::SleepFor(start + absl::Seconds(static_cast<double>(got.size()) / (2 << 20)) - absl::Now());
  }
  const absl::Duration took = absl::Now() - start;
  ::close(slow);
  const size_t body = got.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos) << got.substr(0, 200);
  EXPECT_EQ(got.size() - body - 4, kBig) << "after " << took;
  EXPECT_GT(took, absl::Seconds(2)) << "the reader was slower than io_timeout";
  // The silent one (its response written as far as the socket buffers
  // took it, then no progress) went after about io_timeout.
  EXPECT_LT(silent_dropped - start, absl::Seconds(4)) << "dropped long before its 7 s deadline";
  EXPECT_EQ(metrics.Closed("write_timeout"), 1u);
  ::close(silent);
}

// --- The PROXY protocol (proxy_protocol_from).

// A PROXY v2 header: PROXY command over TCP, `family` 0x11 (IPv4: 4-byte
// addresses) or 0x21 (IPv6: 16), with `src` and source port 4242; or the
// LOCAL command with no addresses when `src` is empty.
std::string ProxyV2(int family, const std::string& src) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  if (src.empty()) {
    h += std::string("\x20\x00\x00\x00", 4);
    return h;
  }
  const int af = family == 0x11 ? AF_INET : AF_INET6;
  const size_t n = af == AF_INET ? 4 : 16;
  unsigned char a[16] = {};
  inet_pton(af, src.c_str(), a);
  std::string addrs(reinterpret_cast<char*>(a), n);
  addrs += std::string(n, '\x01');              // destination
  addrs += std::string("\x10\x92\x1f\x90", 4);  // ports 4242, 8080
  h += static_cast<char>(0x21);
  h += static_cast<char>(family);
  h += static_cast<char>(addrs.size() >> 8);
  h += static_cast<char>(addrs.size() & 0xff);
  return h + addrs;
}

class ProxyProtocolTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> proxies, int max_per_address = 32) {
    HttpServerOptions options;
    options.header_timeout_seconds = 1;
    options.max_connections_per_address = max_per_address;
    options.max_keep_alive_requests = 1;
    options.proxy_protocol_from = std::move(proxies);
    options.connection_metrics = &metrics_.m;
    auto server = HttpServer::StartWithHandler(options, BigOrAddress(1));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  // Sends `parts` from `from`, 50 ms apart; what came back until EOF.
  std::string Send(const std::vector<std::string>& parts, const char* from = "127.0.0.1") {
    const int fd = ConnectFrom(server_->port(), from);
    if (fd < 0) return "<connect failed>";
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) absl::SleepFor(absl::Milliseconds(50));
      ::send(fd, parts[i].data(), parts[i].size(), MSG_NOSIGNAL);
    }
    std::string r = ReadAll(fd);
    ::close(fd);
    return r;
  }
  static std::string BodyOf(const std::string& r) {
    if (!absl::StartsWith(r, "HTTP/1.1 200 ")) return "<" + r.substr(0, 100) + ">";
    return r.substr(r.find("\r\n\r\n") + 4);
  }

  TestConnectionMetrics metrics_;
  std::unique_ptr<HttpServer> server_;
  const std::string get_ = "GET /who HTTP/1.1\r\nHost: h\r\n\r\n";
};

TEST_F(ProxyProtocolTest, TheHeaderNamesTheClientInOnePacketOrSplit) {
  Start({"127.0.0.1"});
  EXPECT_EQ(BodyOf(Send({"PROXY TCP4 203.0.113.7 10.0.0.1 5555 8080\r\n" + get_})), "203.0.113.7");
  EXPECT_EQ(BodyOf(Send({"PROXY TCP4 203.0.113.8 10.0.0.1 5", "555 8080\r", "\nGET /who HT", "TP/1.1\r\n\r\n"})),
            "203.0.113.8");
  EXPECT_EQ(BodyOf(Send({"PROXY TCP4 203.0.113.9 10.0.0.1 5555 8080\r\n", get_})), "203.0.113.9");
  EXPECT_EQ(BodyOf(Send({"PROXY TCP6 2001:db8:0:0::1 2001:db8::2 5555 8080\r\n" + get_})), "2001:db8::1");
  EXPECT_EQ(BodyOf(Send({"PROXY UNKNOWN\r\n" + get_})), "127.0.0.1") << "the proxy's own connection";
  EXPECT_EQ(BodyOf(Send({ProxyV2(0x11, "198.51.100.4") + get_})), "198.51.100.4");
  const std::string v2 = ProxyV2(0x21, "2001:db8::44");
  EXPECT_EQ(BodyOf(Send({v2.substr(0, 5), v2.substr(5, 20), v2.substr(25) + "GET /who", " HTTP/1.1\r\n\r\n"})),
            "2001:db8::44");
  EXPECT_EQ(BodyOf(Send({ProxyV2(0x11, "") + get_})), "127.0.0.1") << "LOCAL: a health check";
  EXPECT_EQ(metrics_.Closed("proxy_header"), 0u);
}

TEST_F(ProxyProtocolTest, MissingMalformedOrOversizedHeadersAreClosedUnanswered) {
  Start({"127.0.0.1"});
  std::string v2_long = ProxyV2(0x11, "198.51.100.4");
  v2_long[14] = '\x7f';  // 32 KiB of addresses and TLVs
  std::string v2_udp = ProxyV2(0x11, "198.51.100.4");
  v2_udp[13] = '\x12';
  const std::vector<std::string> bad = {
      get_,                                                    // no header
      "PROXY TCP4 203.0.113.7 10.0.0.1 5555\r\n" + get_,       // a field missing
      "PROXY TCP4 203.0.113.777 10.0.0.1 5555 80\r\n" + get_,  // not an address
      "PROXY TCP4 2001:db8::1 10.0.0.1 5555 80\r\n" + get_,    // not IPv4
      "PROXY TCP4 203.0.113.7 10.0.0.1 5555 99999\r\n" + get_,
      "PROXY TCP4  203.0.113.7 10.0.0.1 5555 80\r\n" + get_,  // two spaces
      "PROXY TCP4 203.0.113.7 10.0.0.1 -1 80\r\n" + get_,
      "PROXY TCP5 203.0.113.7 10.0.0.1 5555 80\r\n" + get_,
      "PROXY " + std::string(200, 'x') + "\r\n" + get_,  // over 107 bytes
      "proxy TCP4 203.0.113.7 10.0.0.1 5555 80\r\n" + get_,
      v2_long + get_,
      v2_udp + get_,
      std::string("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c", 16) + std::string(12, '\x01') + get_,
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(Send({bad[i]}), "") << i << ": " << bad[i];
  }
  EXPECT_EQ(metrics_.Closed("proxy_header"), bad.size());
  // A header that never ends goes at the header timeout (1 s), unanswered.
  const absl::Time start = absl::Now();
  EXPECT_EQ(Send({"PROXY TCP4 203.0.113.7"}), "");
  EXPECT_LT(absl::Now() - start, absl::Seconds(2.5));
  EXPECT_EQ(metrics_.Closed("header_timeout"), 1u);
  // And the server carries on.
  EXPECT_EQ(BodyOf(Send({"PROXY TCP4 203.0.113.7 10.0.0.1 5555 8080\r\n" + get_})), "203.0.113.7");
}

TEST_F(ProxyProtocolTest, OnlyTheNamedProxiesMayConnect) {
  Start({"127.0.0.2", "::1"});
  const std::string request = "PROXY TCP4 203.0.113.7 10.0.0.1 5555 8080\r\n" + get_;
  EXPECT_EQ(Send({request}, "127.0.0.1"), "") << "not a proxy: closed unanswered";
  EXPECT_EQ(metrics_.Refused("untrusted_peer"), 1u);
  EXPECT_EQ(BodyOf(Send({request}, "127.0.0.2")), "203.0.113.7");
}

TEST_F(ProxyProtocolTest, PerAddressLimitsCountTheClientTheHeaderNames) {
  Start({"127.0.0.1"}, /*max_per_address=*/2);
  const int port = server_->port();
  std::vector<int> open;
  for (int i = 0; i < 2; ++i) {  // two of client A's connections, waiting for a request
    open.push_back(ConnectFrom(port, "127.0.0.1"));
    const std::string h = "PROXY TCP4 203.0.113.7 10.0.0.1 5555 8080\r\n";
    ::send(open.back(), h.data(), h.size(), MSG_NOSIGNAL);
  }
  absl::SleepFor(absl::Milliseconds(200));
  const std::string third = Send({"PROXY TCP4 203.0.113.7 10.0.0.1 5555 8080\r\n"});
  EXPECT_TRUE(absl::StartsWith(third, "HTTP/1.1 503 ")) << third;
  EXPECT_EQ(metrics_.Refused("per_address_limit"), 1u);
  // Another client through the same proxy is not held to A's count.
  EXPECT_EQ(BodyOf(Send({"PROXY TCP4 203.0.113.8 10.0.0.1 5555 8080\r\n" + get_})), "203.0.113.8");
  for (int fd : open) ::close(fd);
}

TEST(HttpServer, ProxyProtocolFromMustBeNumericAddresses) {
  HttpServerOptions options;
  options.proxy_protocol_from = {"127.0.0.1", "haproxy.local"};
  EXPECT_EQ(HttpServer::Start(options, {}).status().code(), absl::StatusCode::kInvalidArgument);
  options.proxy_protocol_from = {"10.0.0.1", "fd00::1"};
  EXPECT_TRUE(HttpServer::Start(options, {}).ok());
}

TEST(HttpServer, OptionsMustLetTheLargestRequestBeHeld) {
  HttpServerOptions options;
  options.max_body_bytes = 1 << 20;
  options.max_held_bytes_per_address = 1 << 20;  // no room for the headers
  EXPECT_EQ(HttpServer::Start(options, {}).status().code(), absl::StatusCode::kInvalidArgument);
  options.max_held_bytes_per_address = 2 << 20;
  options.max_held_bytes = 1 << 20;
  EXPECT_EQ(HttpServer::Start(options, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HttpServer, HandlerSeesTheWholeRequest) {
  HttpServerRequest seen;
  std::mutex mu;
  auto server = HttpServer::StartWithHandler(HttpServerOptions{}, [&](const HttpServerRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    seen = req;
    HttpServerResponse r;
    r.status = 201;
    r.headers.emplace_back("X-Reply", "yes");
    r.content_type = "application/json";
    r.body = "{}";
    return r;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string r = Request((*server)->port(),
                                "POST /a%20b?q=1&r=2 HTTP/1.1\r\nHost: h\r\nX-Thing: v\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 201 ")) << r;
  EXPECT_TRUE(absl::StrContains(r, "X-Reply: yes\r\n")) << r;
  EXPECT_TRUE(absl::StrContains(r, "Content-Type: application/json\r\n")) << r;
  EXPECT_TRUE(absl::StrContains(r, "Connection: close\r\n")) << r;  // max_keep_alive_requests 1
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\n{}")) << r;
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/a b");
  EXPECT_EQ(seen.target, "/a%20b?q=1&r=2");
  EXPECT_EQ(seen.body, "abcde");
  EXPECT_EQ(seen.remote_addr, "127.0.0.1");
  bool thing = false;
  for (const auto& [k, v] : seen.headers) {
    EXPECT_NE(k, "REMOTE_ADDR");  // the parser's pseudo headers are not passed on
    if (k == "X-Thing") thing = v == "v";
  }
  EXPECT_TRUE(thing);
}

TEST(HttpServer, RejectsBadHostAndBusyPort) {
  HttpServerOptions options;
  options.host = "localhost";  // names are not resolved
  EXPECT_EQ(HttpServer::Start(options, {}).status().code(), absl::StatusCode::kInvalidArgument);
  options.host = "127.0.0.1";
  auto first = HttpServer::Start(options, {});
  ASSERT_TRUE(first.ok());
  options.port = (*first)->port();
  EXPECT_EQ(HttpServer::Start(options, {}).status().code(), absl::StatusCode::kUnavailable);
}

// --- HTTPS (certificates from ops/dev-ca.sh).

class HttpsMetricsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("http_server_tls_ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = new testing::TestCa(*std::move(ca));
  }
  static void TearDownTestSuite() { delete ca_; }

  void Start(bool require_client_cert) {
    (void)*registry_.AddCounter("test_scrapes_total", "A counter.");
    HttpServerOptions options;
    options.header_timeout_seconds = 2;
    options.io_timeout_seconds = 2;
    options.max_connections = 4;
    options.tls = ca_->Server("records", require_client_cert);
    auto server = StartMetricsHttpServer(options, &registry_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // GET `path` over HTTPS, verifying the server against the test CA, with
  // the client certificate of `identity` unless empty.
  httplib::Result HttpsGet(const std::string& path, const std::string& identity = "") {
    std::unique_ptr<httplib::SSLClient> client =
        identity.empty()
            ? std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port())
            : std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port(), ca_->File(identity + ".pem"),
                                                   ca_->File(identity + ".key"));
    client->set_ca_cert_path(ca_->File("ca.pem").c_str());
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(3, 0);
    client->set_read_timeout(3, 0);
    return client->Get(path.c_str());
  }

  static testing::TestCa* ca_;
  metrics::MetricsRegistry registry_;
  std::unique_ptr<HttpServer> server_;
};
testing::TestCa* HttpsMetricsTest::ca_ = nullptr;

TEST_F(HttpsMetricsTest, ServesMetricsOverTls) {
  Start(/*require_client_cert=*/false);
  httplib::Result r = HttpsGet("/metrics");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(absl::StrContains(r->body, "test_scrapes_total 0")) << r->body;
  r = HttpsGet("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ok\n");
}

TEST_F(HttpsMetricsTest, PlainHttpToTheTlsPortGetsNoResponse) {
  Start(/*require_client_cert=*/false);
  EXPECT_EQ(Get(server_->port(), "/metrics"), "");  // handshake fails, connection closed
  EXPECT_TRUE(HttpsGet("/metrics"));                // and the server carries on
}

TEST_F(HttpsMetricsTest, MutualTlsDemandsAClientCertificate) {
  Start(/*require_client_cert=*/true);
  EXPECT_FALSE(HttpsGet("/metrics"));
  EXPECT_EQ(Get(server_->port(), "/metrics"), "");
  httplib::Result r = HttpsGet("/metrics", "client");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpsMetricsTest, SilentClientDoesNotStallTheHandshakeOfOthers) {
  Start(/*require_client_cert=*/false);
  const int silent = Connect(server_->port());  // connects, never says hello
  ASSERT_GE(silent, 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(HttpsGet("/metrics"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  EXPECT_EQ(ReadAll(silent), "");  // dropped after the header timeout
  ::close(silent);
}

// Behind HAProxy (TCP mode, TLS passed through) the PROXY header comes
// before the TLS handshake; the server reads the header and no further.
TEST_F(HttpsMetricsTest, TheProxyHeaderPrecedesTheTlsHandshake) {
  HttpServerOptions options;
  options.header_timeout_seconds = 2;
  options.proxy_protocol_from = {"127.0.0.1"};
  options.tls = ca_->Server("records", /*require_client_cert=*/false);
  auto server = HttpServer::StartWithHandler(options, BigOrAddress(1));
  ASSERT_TRUE(server.ok()) << server.status();
  const int fd = Connect((*server)->port());
  ASSERT_GE(fd, 0);
  const std::string header = "PROXY TCP4 203.0.113.7 10.0.0.1 5555 8080\r\n";
  ::send(fd, header.data(), header.size(), MSG_NOSIGNAL);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  ASSERT_EQ(SSL_connect(ssl), 1);
  const std::string get = "GET /who HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_EQ(SSL_write(ssl, get.data(), static_cast<int>(get.size())), static_cast<int>(get.size()));
  std::string r;
  char buf[4096];
  int n;
  while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) r.append(buf, n);
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 ")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\n203.0.113.7")) << r;
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
}

TEST_F(HttpsMetricsTest, UnusableCertificateFailsStart) {
  HttpServerOptions options;
  options.tls = ca_->Server("records", false);
  options.tls.cert_file = ca_->File("missing.pem");
  EXPECT_EQ(StartMetricsHttpServer(options, &registry_).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lifelong
