// Test helper: the clients of a slow-client attack (slowloris) on an HTTP or
// HTTPS port on loopback. Idle connections send nothing; trickling ones send
// a request header (or, against TLS, a ClientHello record) one byte at a time.
// Connections come from several loopback source addresses (127.0.0.2 and up),
// as a botnet would, so a per-address cap does not simply refuse them all.
// A connection the server closes is opened again, so the pressure holds.
//
// Thread-safety: Open/Close from one thread; open_connections from any.
#ifndef LIFELONG_TESTS_SECURITY_ATTACK_CLIENTS_H_
#define LIFELONG_TESTS_SECURITY_ATTACK_CLIENTS_H_

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace lifelong::security {

// A blocking TCP connection from `source_ip` (any 127.0.0.0/8 address) to
// 127.0.0.1:`port`; -1 on failure.
int ConnectFrom(const std::string& source_ip, int port);

struct AttackOptions {
  int port = 0;
  int idle = 0;       // connections that never send a byte
  int trickling = 0;  // connections sending one byte every trickle_interval
  std::chrono::milliseconds trickle_interval{2000};
  bool tls = false;  // trickle a TLS record instead of an HTTP request
  int sources = 8;   // source addresses 127.0.0.2 .. 127.0.0.(1 + sources)
};

class Attack {
 public:
  explicit Attack(AttackOptions options) : options_(options) {}
  ~Attack() { Close(); }
  Attack(const Attack&) = delete;
  Attack& operator=(const Attack&) = delete;

  // Opens every connection, then starts the thread that trickles and reopens
  // (after a Close, or again: starts over). UNAVAILABLE when fewer than 90%
  // could be connected.
  absl::Status Open();
  // Stops the thread and closes every connection. Idempotent.
  void Close();

  // Connections currently open (as last seen by the attack thread).
  int open_connections() const { return open_.load(); }
  // Connections the server closed (and the attack reopened) so far.
  int reopened() const { return reopened_.load(); }

 private:
  struct Conn {
    int fd = -1;
    bool trickle = false;
    size_t sent = 0;
    std::string source;
  };
  void Run();
  bool ServerClosed(int fd) const;

  const AttackOptions options_;
  std::vector<Conn> conns_;  // owned by the attack thread once started
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> open_{0};
  std::atomic<int> reopened_{0};
};

}  // namespace lifelong::security

#endif  // LIFELONG_TESTS_SECURITY_ATTACK_CLIENTS_H_
