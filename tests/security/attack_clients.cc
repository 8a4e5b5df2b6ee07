#include "tests/security/attack_clients.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace lifelong::security {
namespace {

// What a trickling connection sends, one byte at a time (never all of it).
std::string TricklePayload(bool tls) {
  if (tls) {
    // A handshake record header announcing 512 bytes, then a ClientHello
    // beginning: the server's TLS stack waits for the rest of the record.
    std::string s("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    s.append(4096, '\x00');
    return s;
  }
  return "POST /xapi/statements HTTP/1.1\r\nHost: lrs\r\nX-Experience-API-Version: 2.0.0\r\nX-Slow: " +
         std::string(1 << 16, 'a');
}

}  // namespace

int ConnectFrom(const std::string& source_ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  if (inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

absl::Status Attack::Open() {
  Close();  // a second Open starts over
  stop_.store(false);
  reopened_.store(0);
  const int total = options_.idle + options_.trickling;
  int connected = 0;
  for (int i = 0; i < total; ++i) {
    Conn c;
    c.trickle = i >= options_.idle;
    c.source = absl::StrCat("127.0.0.", 2 + i % options_.sources);
    c.fd = ConnectFrom(c.source, options_.port);
    if (c.fd >= 0) ++connected;
    conns_.push_back(c);
  }
  open_.store(connected);
  thread_ = std::thread([this] { Run(); });
  if (connected < total * 9 / 10) {
    return absl::UnavailableError(absl::StrCat("attack: only ", connected, " of ", total, " connected"));
  }
  return absl::OkStatus();
}

bool Attack::ServerClosed(int fd) const {
  char buf[512];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

void Attack::Run() {
  const std::string payload = TricklePayload(options_.tls);
  auto next_trickle = std::chrono::steady_clock::now();
  std::vector<pollfd> fds;
  while (!stop_.load()) {
    // One poll over every connection finds those the server closed (or
    // answered): the attacker's own CPU stays small next to the server's.
    fds.clear();
    for (const Conn& c : conns_) fds.push_back({c.fd, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 0);
    const bool trickle_now = std::chrono::steady_clock::now() >= next_trickle;
    if (trickle_now) next_trickle += options_.trickle_interval;
    int open = 0;
    for (size_t i = 0; i < conns_.size() && !stop_.load(); ++i) {
      Conn& c = conns_[i];
      bool closed = c.fd < 0 || (fds[i].revents != 0 && ServerClosed(c.fd));
      if (!closed && c.trickle && trickle_now) {
        closed = ::send(c.fd, &payload[c.sent % payload.size()], 1, MSG_NOSIGNAL) != 1;
        ++c.sent;
      }
      if (closed) {
        if (c.fd >= 0) ::close(c.fd);
        c.fd = ConnectFrom(c.source, options_.port);
        c.sent = 0;
        reopened_.fetch_add(1);
      }
      if (c.fd >= 0) ++open;
    }
    open_.store(open);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Attack::Close() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  for (Conn& c : conns_) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
  }
  conns_.clear();
  open_.store(0);
}

}  // namespace lifelong::security
