#include "tests/testing/junk_requests.h"

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace lifelong::testing {

std::future<grpc::Status> StartRawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                                       const std::string& bytes, const std::string& token) {
  // The ClientContext holds a reference to the channel. Were the completion
  // callback the one to destroy it, it could drop the channel's last
  // reference on gRPC's callback thread (the test's fixture may have let go
  // of its own by then), and ~Channel releases gRPC's global callback queue,
  // whose last release deletes the queue that very thread then polls again:
  // `ref_counted.h:183 assertion failed: prior > 0` in
  // grpc_cq_internal_unref (gRPC 1.51, completion_queue_cc.cc,
  // CallbackAlternativeCQ::Unref). So the callback lets go of the call
  // before it answers, and the returned future owns the call, which it frees
  // on the caller's thread once it has been waited on.
  struct Call {
    grpc::ClientContext ctx;
    grpc::ByteBuffer req, resp;
  };
  auto call = std::make_shared<Call>();
  call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (!token.empty()) call->ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::Slice slice(bytes);
  call->req = grpc::ByteBuffer(&slice, 1);
  auto done = std::make_shared<std::promise<grpc::Status>>();
  std::future<grpc::Status> status = done->get_future();
  grpc::GenericStub(channel).UnaryCall(&call->ctx, path, grpc::StubOptions(), &call->req, &call->resp,
                                       [in_flight = call, done](grpc::Status st) mutable {
                                         in_flight.reset();  // not the last: the future holds the call
                                         done->set_value(std::move(st));
                                       });
  return std::async(std::launch::deferred,
                    [call = std::move(call), status = std::move(status)]() mutable { return status.get(); });
}

namespace {

// "/<service>/<method>".
std::string MethodPath(const google::protobuf::MethodDescriptor& m) {
  return absl::StrCat("/", m.service()->full_name(), "/", m.name());
}

// Field 1 announcing 5 bytes, 2 sent: bytes that are no request.
constexpr char kTruncated[] =
    "\x0a\x05"
    "ab";

}  // namespace

void ExpectGated(const std::shared_ptr<grpc::Channel>& channel, const google::protobuf::MethodDescriptor& m,
                 size_t bound, const std::string& token) {
  SCOPED_TRACE(m.name());
  const std::string path = MethodPath(m);
  const std::string over = UnknownEmptyFields(bound / 3 + 1);
  grpc::Status s = StartRawCall(channel, path, over, "").get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  s = StartRawCall(channel, path, kTruncated, "").get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  s = StartRawCall(channel, path, over, token).get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(s.error_message(),
            absl::StrCat("request: ", over.size(), " bytes, more than the ", bound, " bytes ", m.name(), " accepts"));
  s = StartRawCall(channel, path, kTruncated, token).get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message(), absl::StrCat("request: not a ", m.input_type()->full_name()));
}

void ExpectRoleRefusedBeforeParse(const std::shared_ptr<grpc::Channel>& channel,
                                  const google::protobuf::MethodDescriptor& m, size_t bound, const std::string& token) {
  SCOPED_TRACE(m.name());
  const std::string path = MethodPath(m);
  const std::string over = UnknownEmptyFields(bound / 3 + 1);
  grpc::Status refused_over = StartRawCall(channel, path, over, token).get();
  EXPECT_EQ(refused_over.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused_over.error_message();
  grpc::Status refused_junk = StartRawCall(channel, path, kTruncated, token).get();
  EXPECT_EQ(refused_junk.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused_junk.error_message();
  EXPECT_EQ(refused_over.error_message(), refused_junk.error_message());
}

}  // namespace lifelong::testing
