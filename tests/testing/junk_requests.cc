#include "tests/testing/junk_requests.h"

#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <utility>

namespace lifelong::testing {

std::future<grpc::Status> StartRawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                                       const std::string& bytes, const std::string& token) {
  struct Call {
    grpc::ClientContext ctx;
    grpc::ByteBuffer req, resp;
    std::promise<grpc::Status> done;
  };
  auto call = std::make_shared<Call>();
  call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (!token.empty()) call->ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::Slice slice(bytes);
  call->req = grpc::ByteBuffer(&slice, 1);
  std::future<grpc::Status> result = call->done.get_future();
  grpc::GenericStub(channel).UnaryCall(&call->ctx, path, grpc::StubOptions(), &call->req, &call->resp,
                                       [call](grpc::Status st) { call->done.set_value(std::move(st)); });
  return result;
}

}  // namespace lifelong::testing
