#include "services/common/bare_echo_server.h"

#include "absl/strings/str_cat.h"

namespace lifelong {
namespace {

// One call: read the single request message, write the same bytes back and
// finish. A client that half-closes without sending a message gets
// INVALID_ARGUMENT; a second request message is never read (the call is
// finished after the first), which is what a unary client expects.
class EchoReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit EchoReactor(std::atomic<int64_t>* echoed) : echoed_(echoed) { StartRead(&buffer_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "request: no message before the half-close"));
      return;
    }
    echoed_->fetch_add(1, std::memory_order_relaxed);
    StartWriteAndFinish(&buffer_, grpc::WriteOptions(), grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  std::atomic<int64_t>* echoed_;
  grpc::ByteBuffer buffer_;
};

}  // namespace

grpc::ServerGenericBidiReactor* BareEchoServer::Service::CreateReactor(grpc::GenericCallbackServerContext*) {
  return new EchoReactor(&echoed);
}

BareEchoServer::~BareEchoServer() { Shutdown(std::chrono::seconds(5)); }

void BareEchoServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

absl::StatusOr<std::unique_ptr<BareEchoServer>> StartBareEchoServer(const BareEchoOptions& options) {
  auto bare = std::unique_ptr<BareEchoServer>(new BareEchoServer());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address,
                           options.credentials ? options.credentials : grpc::InsecureServerCredentials(), &bare->port_);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  builder.RegisterCallbackGenericService(bare->service_.get());
  bare->server_ = builder.BuildAndStart();
  if (bare->server_ == nullptr || bare->port_ == 0) {
    bare->shut_down_ = true;  // nothing to shut down
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address, " (address in use?)"));
  }
  return bare;
}

}  // namespace lifelong
