// The ceiling a service is measured against: a bare gRPC C++ server on the
// callback API with one generic service that answers every method by echoing
// the request bytes. No health, reflection, interceptors, protobuf parsing or
// handler threads — only gRPC's own transport and call machinery. Since
// lifelong.v1.EchoRequest and EchoResponse are wire-identical (`bytes payload
// = 1`), the typed Echo stubs of every service can call it unchanged; so can
// any other unary method whose response type parses the request's bytes.
#ifndef LIFELONG_SERVICES_COMMON_BARE_ECHO_SERVER_H_
#define LIFELONG_SERVICES_COMMON_BARE_ECHO_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace lifelong {

struct BareEchoOptions {
  // "host:port"; port 0 picks a free port (tests, benchmarks).
  std::string address = "127.0.0.1:0";
  // Largest request accepted; larger ones fail with RESOURCE_EXHAUSTED.
  int max_receive_bytes = 4 << 20;
  // Null: plaintext. Set (e.g. grpc::SslServerCredentials) to measure the
  // ceiling of a TLS setup.
  std::shared_ptr<grpc::ServerCredentials> credentials;
};

// A started bare echo server. Thread-safe; Shutdown() is idempotent and also
// runs on destruction.
class BareEchoServer {
 public:
  ~BareEchoServer();

  int port() const { return port_; }
  // Calls answered with the request bytes so far.
  int64_t echoed() const { return service_->echoed.load(std::memory_order_relaxed); }

  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  class Service final : public grpc::CallbackGenericService {
   public:
    grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;
    std::atomic<int64_t> echoed{0};
  };
  friend absl::StatusOr<std::unique_ptr<BareEchoServer>> StartBareEchoServer(const BareEchoOptions&);
  BareEchoServer() : service_(std::make_unique<Service>()) {}

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

// UNAVAILABLE when the address cannot be bound.
absl::StatusOr<std::unique_ptr<BareEchoServer>> StartBareEchoServer(const BareEchoOptions& options);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_BARE_ECHO_SERVER_H_
