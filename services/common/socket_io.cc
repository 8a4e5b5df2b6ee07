#include "services/common/socket_io.h"

#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace lifelong {

SocketIo TlsOutcome(const SocketRef& s, int ret) {
  switch (SSL_get_error(s.ssl, ret)) {
    case SSL_ERROR_WANT_READ:
      if (s.tls_wants != nullptr) *s.tls_wants = POLLIN;
      return SocketIo::kWouldBlock;
    case SSL_ERROR_WANT_WRITE:
      if (s.tls_wants != nullptr) *s.tls_wants = POLLOUT;
      return SocketIo::kWouldBlock;
    default:  // close_notify, handshake failure (no or bad client certificate), reset
      ERR_clear_error();
      return SocketIo::kClosed;
  }
}

SocketIo ReceiveSome(const SocketRef& s, char* buf, size_t size, size_t* n) {
  if (s.ssl != nullptr) {
    const int r = SSL_read(s.ssl, buf, static_cast<int>(std::min<size_t>(size, 1 << 20)));
    if (r <= 0) return TlsOutcome(s, r);
    *n = static_cast<size_t>(r);
    return SocketIo::kDone;
  }
  while (true) {
    const ssize_t r = ::recv(s.fd, buf, size, 0);
    if (r > 0) {
      *n = static_cast<size_t>(r);
      return SocketIo::kDone;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return SocketIo::kWouldBlock;
    return SocketIo::kClosed;
  }
}

SocketIo TransmitSome(const SocketRef& s, const char* data, size_t size, size_t* n) {
  if (s.ssl != nullptr) {
    const int r = SSL_write(s.ssl, data, static_cast<int>(std::min<size_t>(size, 1 << 20)));
    if (r <= 0) return TlsOutcome(s, r);
    *n = static_cast<size_t>(r);
    return SocketIo::kDone;
  }
  while (true) {
    const ssize_t r = ::send(s.fd, data, size, MSG_NOSIGNAL);
    if (r > 0) {
      *n = static_cast<size_t>(r);
      return SocketIo::kDone;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return SocketIo::kWouldBlock;
    return SocketIo::kClosed;
  }
}

}  // namespace lifelong
