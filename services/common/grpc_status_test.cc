#include "services/common/grpc_status.h"

#include <gtest/gtest.h>

#include <string>

namespace lifelong {
namespace {

TEST(GrpcStatus, MappingKeepsCodeAndMessage) {
  const absl::StatusCode codes[] = {absl::StatusCode::kInvalidArgument,   absl::StatusCode::kNotFound,
                                    absl::StatusCode::kAlreadyExists,     absl::StatusCode::kFailedPrecondition,
                                    absl::StatusCode::kUnavailable,       absl::StatusCode::kInternal,
                                    absl::StatusCode::kPermissionDenied,  absl::StatusCode::kUnauthenticated,
                                    absl::StatusCode::kResourceExhausted, absl::StatusCode::kDataLoss};
  for (absl::StatusCode code : codes) {
    absl::Status in(code, "field: why");
    grpc::Status g = ToGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "field: why");
    EXPECT_EQ(FromGrpcStatus(g), in);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatus, FromGrpcStatusNamesTheCall) {
  grpc::Status g(grpc::StatusCode::UNAVAILABLE, "connection refused");
  absl::Status s = FromGrpcStatus(g, "ListStatements");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "ListStatements: connection refused");
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "ListStatements").ok());
}

TEST(GrpcStatus, ReplyWithStoresValueOrReturnsError) {
  std::string out = "untouched";
  grpc::Status g = ReplyWith(absl::StatusOr<std::string>(absl::NotFoundError("id: no such course")), &out);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(g.error_message(), "id: no such course");
  EXPECT_EQ(out, "untouched");
  g = ReplyWith(absl::StatusOr<std::string>("value"), &out);
  EXPECT_TRUE(g.ok());
  EXPECT_EQ(out, "value");
}

}  // namespace
}  // namespace lifelong
