#include "services/common/status_macros.h"

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

absl::Status FirstError(absl::Status a, absl::Status b, int* reached) {
  LL_RETURN_IF_ERROR(a);
  ++*reached;
  LL_RETURN_IF_ERROR(b);
  ++*reached;
  return absl::OkStatus();
}

TEST(StatusMacros, AssignOrReturnPropagatesError) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  absl::Status s = Quarter(6, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "x: must be even");
}

TEST(StatusMacros, ReturnIfErrorStopsAtTheFirstError) {
  int reached = 0;
  absl::Status s = FirstError(absl::OkStatus(), absl::NotFoundError("b"), &reached);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reached, 1);
  reached = 0;
  EXPECT_TRUE(FirstError(absl::OkStatus(), absl::OkStatus(), &reached).ok());
  EXPECT_EQ(reached, 2);
}

}  // namespace
}  // namespace lifelong
