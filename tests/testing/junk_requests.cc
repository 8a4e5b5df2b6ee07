#include "tests/testing/junk_requests.h"

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

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
