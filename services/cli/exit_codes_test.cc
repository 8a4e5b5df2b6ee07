#include "services/cli/exit_codes.h"

#include "gtest/gtest.h"

namespace lifelong::cli {
namespace {

TEST(ExitCodeFor, MapsDocumentedCodes) {
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kOk), 0);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kNotFound), 3);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInvalidArgument), 4);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kOutOfRange), 4);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnavailable), 5);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kDeadlineExceeded), 5);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kAlreadyExists), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kFailedPrecondition), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInternal), 1);
}

}  // namespace
}  // namespace lifelong::cli
