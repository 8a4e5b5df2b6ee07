// Non-blocking reads and writes on a connection that is a plain socket or an
// OpenSSL session over one, for the event loop of HttpServer
// (services/common/http_server.cc: the metrics ports and xAPI). Stateless;
// a connection is used by one thread at a time.
#ifndef LIFELONG_SERVICES_COMMON_SOCKET_IO_H_
#define LIFELONG_SERVICES_COMMON_SOCKET_IO_H_

#include <openssl/ssl.h>

#include <cstddef>

namespace lifelong {

// Outcome of one read or write attempt on a connection.
enum class SocketIo { kDone, kWouldBlock, kClosed };

// A connection's socket and, for TLS, its session (null for plain TCP).
// `tls_wants` receives what to poll for (POLLIN/POLLOUT) when OpenSSL waits
// for the socket.
struct SocketRef {
  int fd = -1;
  SSL* ssl = nullptr;
  short* tls_wants = nullptr;
};

// After an SSL_* call on `s.ssl` returned `ret` <= 0: kWouldBlock (and what
// to poll for in *s.tls_wants) when OpenSSL waits for the socket, else
// kClosed (close_notify, handshake failure, reset; the error queue cleared).
SocketIo TlsOutcome(const SocketRef& s, int ret);

// Reads up to `size` bytes into `buf`; `*n` is set on kDone.
SocketIo ReceiveSome(const SocketRef& s, char* buf, size_t size, size_t* n);

// Writes up to `size` bytes of `data` (at most 1 MiB per call over TLS);
// `*n` is set on kDone. Never raises SIGPIPE on a plain socket.
SocketIo TransmitSome(const SocketRef& s, const char* data, size_t size, size_t* n);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_SOCKET_IO_H_
