// Anonymous clients that send gRPC requests slowly, against a real
// records_server process with authentication on. gRPC reads a request's
// bytes before any handler runs, so before the caller is authenticated: a
// client that opens many connections and on each sends most of a large
// request (the record service accepts 16 MiB), then holds, made gRPC keep
// all of it in memory for as long as it liked (the process grew by ~1 GB per
// 64 connections; enough of them, and the kernel kills it). With
// --grpc_memory_quota_mb gRPC bounds what it holds: past the quota it shrinks
// its flow-control windows and closes connections, and honest callers are
// still answered (docs/security.md "gRPC clients that send slowly"). And
// clients that connect and send nothing: each holds a file descriptor, so at
// a login shell's soft limit a few hundred of them locked every new client
// out; servers raise their soft limit to the hard one at start, and close
// connections idle past --grpc_max_connection_idle_seconds or not through
// their handshake within --grpc_handshake_timeout_seconds. And refused
// calls, whose access-log lines no longer fill the disk: the log file is
// rotated past --log_rotate_mb.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/token.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using testing::FreshTempDir;
using testing::ReadFile;
using testing::RunfilePath;
using testing::Subprocess;

constexpr char kKey[] = "security-suite-key-0123456789abcdefghijkl";

// One connection of the attack, over raw HTTP/2: the preface, SETTINGS, the
// HEADERS of a gRPC call to `path` (no credentials), then DATA frames of a
// message whose prefix claims `claim` bytes, `send` of them, within the
// windows the server grants; then it holds the connection open.
class SlowSender {
 public:
  SlowSender(int port, const std::string& path, uint32_t claim, int64_t send) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      closed_ = true;
      return;
    }
    Send(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + Frame(4, 0, 0, ""));
    reader_ = std::thread([this] { Read(); });
    std::string headers = Literal(":method", "POST") + Literal(":scheme", "http") + Literal(":path", path) +
                          Literal(":authority", "records") + Literal("content-type", "application/grpc") +
                          Literal("te", "trailers");
    Send(Frame(1, 4, 1, headers));  // END_HEADERS, stream 1
    std::string data(5, '\0');
    data[1] = static_cast<char>(claim >> 24);
    data[2] = static_cast<char>(claim >> 16);
    data[3] = static_cast<char>(claim >> 8);
    data[4] = static_cast<char>(claim);
    data.resize(static_cast<size_t>(send), '\n');
    size_t off = 0;
    while (off < data.size()) {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, std::chrono::seconds(3),
                        [&] { return closed_ || (window_ > 0 && stream_window_ > 0); })) {
        break;  // no window granted: hold what was sent
      }
      if (closed_) break;
      const size_t n = std::min<size_t>(
          {16384, static_cast<size_t>(window_), static_cast<size_t>(stream_window_), data.size() - off});
      window_ -= static_cast<int64_t>(n);
      stream_window_ -= static_cast<int64_t>(n);
      lock.unlock();
      Send(Frame(0, 0, 1, data.substr(off, n)));
      off += n;
    }
    sent_ = static_cast<int64_t>(off);
  }
  ~SlowSender() {
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
    if (fd_ >= 0) close(fd_);
  }
  int64_t sent() const { return sent_; }
  bool closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  static std::string Frame(int type, int flags, uint32_t stream, const std::string& payload) {
    std::string f;
    const uint32_t n = static_cast<uint32_t>(payload.size());
    f += static_cast<char>(n >> 16);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n);
    f += static_cast<char>(type);
    f += static_cast<char>(flags);
    for (int shift : {24, 16, 8, 0}) f += static_cast<char>(stream >> shift);
    return f + payload;
  }
  // HPACK "literal header field without indexing", new name, no Huffman.
  static std::string Literal(const std::string& name, const std::string& value) {
    return std::string(1, '\0') + static_cast<char>(name.size()) + name + static_cast<char>(value.size()) + value;
  }
  void Send(const std::string& bytes) {
    std::lock_guard<std::mutex> lock(send_mu_);
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  static uint32_t Be32(const std::string& s, size_t at) {
    return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
           (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
  }
  void Read() {
    std::string buf;
    char chunk[65536];
    while (true) {
      const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
      while (buf.size() >= 9) {
        const size_t len = (size_t(uint8_t(buf[0])) << 16) | (size_t(uint8_t(buf[1])) << 8) | uint8_t(buf[2]);
        if (buf.size() < 9 + len) break;
        const int type = uint8_t(buf[3]), flags = uint8_t(buf[4]);
        const uint32_t stream = Be32(buf, 5) & 0x7fffffff;
        const std::string payload = buf.substr(9, len);
        buf.erase(0, 9 + len);
        std::lock_guard<std::mutex> lock(mu_);
        if (type == 4 && !(flags & 1)) {  // SETTINGS: INITIAL_WINDOW_SIZE moves the stream's window
          for (size_t i = 0; i + 6 <= payload.size(); i += 6) {
            if (((uint8_t(payload[i]) << 8) | uint8_t(payload[i + 1])) == 4) {
              stream_window_ += int64_t{Be32(payload, i + 2)} - 65535;
            }
          }
          Send(Frame(4, 1, 0, ""));
        } else if (type == 8 && payload.size() == 4) {  // WINDOW_UPDATE
          (stream == 0 ? window_ : stream_window_) += Be32(payload, 0) & 0x7fffffff;
        } else if (type == 6 && !(flags & 1)) {  // PING
          Send(Frame(6, 1, 0, payload));
        } else if (type == 3 || type == 7) {  // RST_STREAM, GOAWAY
          closed_ = true;
        }
        cv_.notify_all();
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

  int fd_ = -1;
  std::thread reader_;
  std::mutex send_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t window_ = 65535;
  int64_t stream_window_ = 65535;
  bool closed_ = false;
  int64_t sent_ = 0;
};

int64_t RssMib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) / 1024;
  }
  return -1;
}

// A TCP connection to 127.0.0.1:`port` that sends HTTP/2's preface and
// SETTINGS, then nothing: an idle client. -1 on failure.
int IdleConnection(int port, bool send_preface = true) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  static const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
  if (send_preface && ::send(fd, kPreface, sizeof(kPreface) - 1, MSG_NOSIGNAL) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the server has closed connection `fd` (reads what it sent, e.g. its
// SETTINGS and GOAWAY, without waiting).
bool ClosedByServer(int fd) {
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return true;
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

// The soft limit of open files of process `pid` (/proc/PID/limits), or -1.
int64_t SoftOpenFileLimit(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) == 0) return std::stoll(line.substr(26));
  }
  return -1;
}

// records_server with authentication on, in a fresh directory `name`, run
// through `wrapper` (e.g. prlimit; none when empty) with `extra` flags.
struct RecordsProcess {
  std::unique_ptr<Subprocess> process;
  int port = 0;
  std::string log;
};
RecordsProcess StartRecords(const std::string& name, const std::vector<std::string>& wrapper,
                            const std::vector<std::string>& extra) {
  RecordsProcess r;
  const std::string dir = FreshTempDir(name);
  std::ofstream(dir + "/jwt.key") << kKey << "\n";
  std::ofstream(dir + "/revoked.txt") << "# none\n";
  std::vector<std::string> argv = wrapper;
  for (const std::string& a :
       {RunfilePath("services/records/records_server"), std::string("--port=0"), "--port_file=" + dir + "/port",
        std::string("--metrics_port=0"), std::string("--xapi_port=-1"), std::string("--warm_cache=false"),
        "--data_dir=" + dir + "/records", "--auth_key_file=" + dir + "/jwt.key",
        "--auth_revocation_file=" + dir + "/revoked.txt"}) {
    argv.push_back(a);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  r.log = dir + "/server.log";
  absl::StatusOr<Subprocess> p = Subprocess::Start(argv, r.log);
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return r;
  r.process = std::make_unique<Subprocess>(*std::move(p));
  absl::StatusOr<int> port = testing::WaitForPortFile(dir + "/port");
  EXPECT_TRUE(port.ok()) << ReadFile(r.log);
  if (port.ok()) r.port = *port;
  return r;
}

// Learner u100001 recording a statement about course c0000`n` on `channel`,
// with a bearer token.
// A bearer token of `subject` in `role`, signed with the suite's key.
std::string TokenFor(const std::string& subject, auth::Role role) {
  auth::Principal principal;
  principal.subject = subject;
  principal.role = role;
  principal.token_id = "jti-" + subject;
  auth::TokenOptions token_options;
  token_options.key = kKey;
  return *auth::MintToken(principal, absl::Minutes(10), token_options);
}

grpc::Status RecordOn(const std::shared_ptr<grpc::Channel>& channel, int n) {
  const std::string token = TokenFor("u100001", auth::Role::kLearner);
  auto stub = v1::LearningRecordService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::RecordStatementRequest req;
  req.set_statement_json(
      absl::StrCat(R"({"actor":{"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u100001"}},)",
                   R"("verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},)",
                   R"("object":{"id":"https://learn.dongcheng.gov.cn/courses/c0000)", n, R"("}})"));
  v1::Statement resp;
  return stub->RecordStatement(&ctx, req, &resp);
}

// A channel with a connection of its own (`n` keeps gRPC from sharing one).
std::shared_ptr<grpc::Channel> OwnChannel(int port, int n) {
  grpc::ChannelArguments args;
  args.SetInt("lifelong.test.connection", n);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args);
}

// RecordOn a channel of its own.
grpc::Status RecordAsLearner(int port, int n) { return RecordOn(OwnChannel(port, n), n); }

struct AttackResult {
  int64_t peak_rss_mib = 0;
  int64_t sent_mib = 0;
  int closed_by_server = 0;
  int honest_ok = 0;
  std::string honest_error;
};

// Starts records_server (authentication on) with `extra` flags, opens
// `connections` slow senders of 12 MB each while an authenticated learner
// records statements; returns the server's peak RSS and what the honest
// learner saw.
AttackResult RunAttack(const std::string& name, const std::vector<std::string>& extra, int connections) {
  AttackResult r;
  RecordsProcess server = StartRecords(name, {}, extra);
  if (server.port == 0) return r;
  std::vector<std::unique_ptr<SlowSender>> senders;
  for (int i = 0; i < connections; ++i) {
    senders.push_back(std::make_unique<SlowSender>(server.port, "/lifelong.v1.LearningRecordService/RecordStatements",
                                                   16u << 20, int64_t{12} << 20));
    r.peak_rss_mib = std::max(r.peak_rss_mib, RssMib(server.process->pid()));
  }
  for (int i = 0; i < 10; ++i) {
    grpc::Status s = RecordAsLearner(server.port, i);
    if (s.ok()) {
      ++r.honest_ok;
    } else {
      r.honest_error = absl::StrCat(s.error_code(), " ", s.error_message());
    }
    r.peak_rss_mib = std::max(r.peak_rss_mib, RssMib(server.process->pid()));
  }
  for (const auto& s : senders) {
    r.sent_mib += s->sent() >> 20;
    r.closed_by_server += s->closed() ? 1 : 0;
  }
  return r;
}

TEST(GrpcSlowSenders, TheMemoryQuotaBoundsWhatAnonymousSlowSendersHold) {
  // 40 connections x 12 MB: 480 MB of requests short of their end.
  // Without a bound (0) the server holds it all...
  AttackResult open = RunAttack("slow_senders_open", {"--grpc_memory_quota_mb=0"}, 40);
  EXPECT_GE(open.sent_mib, 400);
  EXPECT_GE(open.peak_rss_mib, 400) << "the attack's premise: gRPC holds the bytes";
  // ...with a quota of 64 MiB it holds about that, closing connections to
  // get memory back, and the learner's writes are answered throughout.
  AttackResult bounded = RunAttack("slow_senders_bounded", {"--grpc_memory_quota_mb=64"}, 40);
  EXPECT_LT(bounded.peak_rss_mib, 250) << "sent " << bounded.sent_mib << " MiB";
  EXPECT_GT(bounded.closed_by_server, 0);
  EXPECT_EQ(bounded.honest_ok, 10) << bounded.honest_error;
  std::printf("without a quota: peak RSS %lld MiB; with 64 MiB: %lld MiB, %d of 40 connections closed\n",
              static_cast<long long>(open.peak_rss_mib), static_cast<long long>(bounded.peak_rss_mib),
              bounded.closed_by_server);
}

// Each connection holds a file descriptor until its client closes it. Started
// as from a login shell (soft limit 256 here, 1024 usually; hard 8192), a
// server answered accept(2) with EMFILE once that many idle connections were
// open (anonymous: a TCP connect is enough), so no new client got in, and a
// store could not open its table files. The server raises its soft limit to
// the hard one at start, so the same 600 idle connections leave room.
TEST(GrpcSlowSenders, IdleConnectionsDoNotLockOutNewClients) {
  // The server's hard limit: 8192, or this machine's if lower; this process
  // opens the idle connections, so its own soft limit goes up to its hard one.
  rlimit own{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &own), 0);
  own.rlim_cur = own.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &own), 0);
  const int64_t hard = std::min<int64_t>(8192, own.rlim_max == RLIM_INFINITY ? 8192 : own.rlim_max);
  if (hard < 1024) GTEST_SKIP() << "this machine's hard limit of open files (" << hard << ") is below 1024";
  RecordsProcess server =
      StartRecords("idle_connections", {"/usr/bin/prlimit", absl::StrCat("--nofile=256:", hard)}, {});
  ASSERT_GT(server.port, 0);
  EXPECT_EQ(SoftOpenFileLimit(server.process->pid()), hard);
  EXPECT_NE(ReadFile(server.log).find("\"open_file_limit\""), std::string::npos);

  std::vector<int> idle;
  for (int i = 0; i < 600; ++i) {
    const int fd = IdleConnection(server.port);
    ASSERT_GE(fd, 0) << "connection " << i;
    idle.push_back(fd);
  }
  grpc::Status s = RecordAsLearner(server.port, 1);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  for (int fd : idle) close(fd);
}

// Connections with nothing to do are closed: one that finished its handshake
// and has had no call in progress for --grpc_max_connection_idle_seconds, and
// one that never finished its handshake (a bare TCP connect) within
// --grpc_handshake_timeout_seconds. Before, both were held until the client
// left, a file descriptor and buffers each, anonymous. A learner's channel
// that went idle is closed too, and its next call reconnects and succeeds.
TEST(GrpcSlowSenders, ConnectionsWithNothingToDoAreClosed) {
  RecordsProcess server =
      StartRecords("nothing_to_do", {}, {"--grpc_max_connection_idle_seconds=2", "--grpc_handshake_timeout_seconds=2"});
  ASSERT_GT(server.port, 0);
  const std::shared_ptr<grpc::Channel> learner = OwnChannel(server.port, 1);
  grpc::Status s = RecordOn(learner, 1);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  // The recommender's change-feed watcher: one call in progress, for as long
  // as it watches; its connection is not idle, however long the call.
  grpc::ClientContext watch_ctx;
  watch_ctx.AddMetadata("authorization", "Bearer " + TokenFor("recommend", auth::Role::kRecommender));
  auto watcher = v1::LearningRecordService::NewStub(OwnChannel(server.port, 2))->WatchLearnerChanges(&watch_ctx);
  v1::LearnerChanges change;
  ASSERT_TRUE(watcher->Read(&change));
  ASSERT_EQ(change.sequence(), 0) << "the live message";
  std::atomic<bool> stop_watching{false};
  std::atomic<bool> saw_later_write{false};
  std::thread watching([&] {
    v1::LearnerChanges m;
    while (!stop_watching.load() && watcher->Read(&m)) {
      for (const std::string& learner : m.learners()) saw_later_write = saw_later_write || learner == "u100001";
      v1::LearnerChangesAck ack;
      ack.set_sequence(m.sequence());
      if (!watcher->Write(ack)) break;
    }
  });

  const auto opened = std::chrono::steady_clock::now();
  std::vector<int> idle, silent;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(IdleConnection(server.port, /*send_preface=*/true));
    silent.push_back(IdleConnection(server.port, /*send_preface=*/false));
    ASSERT_GE(idle.back(), 0);
    ASSERT_GE(silent.back(), 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  int open_after_1s = 0;
  for (int fd : idle) open_after_1s += ClosedByServer(fd) ? 0 : 1;
  for (int fd : silent) open_after_1s += ClosedByServer(fd) ? 0 : 1;
  EXPECT_EQ(open_after_1s, 100) << "connections are closed for having nothing to do, not at once";

  int idle_open = 0, silent_open = 0;
  const auto deadline = opened + std::chrono::seconds(15);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    idle_open = 0;
    silent_open = 0;
    for (int fd : idle) idle_open += ClosedByServer(fd) ? 0 : 1;
    for (int fd : silent) silent_open += ClosedByServer(fd) ? 0 : 1;
  } while ((idle_open > 0 || silent_open > 0) && std::chrono::steady_clock::now() < deadline);
  const double waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - opened).count();
  EXPECT_EQ(idle_open, 0) << "of 50 connections idle after their handshake";
  EXPECT_EQ(silent_open, 0) << "of 50 connections that never sent a byte";
  std::printf("100 connections with nothing to do closed by the server within %.1f s\n", waited_s);
  for (int fd : idle) close(fd);
  for (int fd : silent) close(fd);

  // The learner's channel was idle as long: its next call reconnects. The
  // watcher, connected all along, hears of the write.
  s = RecordOn(learner, 2);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(saw_later_write.load()) << "the watcher's stream was cut";
  stop_watching = true;
  watch_ctx.TryCancel();
  watching.join();
}

// Every refused call is access-logged (errors are never sampled), so
// anonymous clients calling without credentials wrote ~300 bytes to the log
// file per call, without end, until the disk was full (the store's disk too,
// on a one-disk node). The file is rotated past --log_rotate_mb, keeping
// --log_keep files.
TEST(GrpcSlowSenders, RefusedAnonymousCallsDoNotFillTheDiskWithLogLines) {
  RecordsProcess server = StartRecords("log_flood", {}, {"--log_rotate_mb=1", "--log_keep=2"});
  ASSERT_GT(server.port, 0);
  std::atomic<int> refused{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      auto stub = v1::LearningRecordService::NewStub(OwnChannel(server.port, 10 + t));
      for (int i = 0; i < 3000; ++i) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::ListStatementsRequest req;
        req.set_learner("u100001");
        v1::ListStatementsResponse resp;
        // UNAUTHENTICATED, or RESOURCE_EXHAUSTED once the address is over
        // its rate of failed authentications: refused either way, and logged.
        const grpc::StatusCode code = stub->ListStatements(&ctx, req, &resp).error_code();
        if (code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(refused.load(), 12000);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the log's last batch
  int64_t total = 0;
  for (const std::string& f : {server.log, server.log + ".1", server.log + ".2"}) {
    std::error_code ec;
    const auto size = static_cast<int64_t>(std::filesystem::file_size(f, ec));
    EXPECT_FALSE(ec) << f << " missing";
    if (ec) continue;
    EXPECT_LE(size, (1 << 20) + (64 << 10)) << f;
    total += size;
  }
  EXPECT_FALSE(std::filesystem::exists(server.log + ".3")) << "only --log_keep files are kept";
  EXPECT_GE(total, 2 << 20) << "the flood wrote less than the files hold: the test proves nothing";
  EXPECT_TRUE(server.process->Running());
  grpc::Status s = RecordAsLearner(server.port, 3);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  // The log goes on in the newest file (or the one before, had that line
  // itself passed the limit).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_NE((ReadFile(server.log) + ReadFile(server.log + ".1")).find("/RecordStatement\""), std::string::npos);
}

}  // namespace
}  // namespace lifelong
