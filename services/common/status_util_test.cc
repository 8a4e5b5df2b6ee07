#include "services/common/status_util.h"

#include <gtest/gtest.h>

namespace lifelong {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("x: must be even");
  return x / 2;
}

absl::Status Quarter(int x, int* out) {
  LL_ASSIGN_OR_RETURN(int h, Half(x));
  LL_ASSIGN_OR_RETURN(*out, Half(h));
  return absl::OkStatus();
}

TEST(StatusUtil, AssignOrReturnPropagatesError) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  absl::Status s = Quarter(6, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "x: must be even");
}

TEST(StatusUtil, GrpcMappingKeepsCodeAndMessage) {
  const absl::StatusCode codes[] = {
      absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
      absl::StatusCode::kAlreadyExists, absl::StatusCode::kFailedPrecondition,
      absl::StatusCode::kUnavailable, absl::StatusCode::kInternal,
      absl::StatusCode::kPermissionDenied, absl::StatusCode::kUnauthenticated,
      absl::StatusCode::kResourceExhausted};
  for (absl::StatusCode code : codes) {
    absl::Status in(code, "field: why");
    grpc::Status g = ToGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "field: why");
    EXPECT_EQ(FromGrpcStatus(g), in);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace lifelong
