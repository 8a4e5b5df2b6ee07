#include "services/common/server_flags.h"

#include <gtest/gtest.h>

#include "absl/flags/flag.h"

namespace lifelong {
namespace {

TEST(ServerFlags, DefaultsApplyTheMeasuredLimit) {
  GrpcServerOptions options;
  options.max_pollers = 8;
  ASSERT_TRUE(ApplyServerFlags(&options).ok());
  EXPECT_EQ(options.max_concurrent_calls, kDefaultMaxConcurrentCalls);
  EXPECT_EQ(options.overload_retry_after_ms, 50);
}

TEST(ServerFlags, LimitBelowPollersIsRaisedAndZeroMeansNoLimit) {
  GrpcServerOptions options;
  options.max_pollers = 64;
  absl::SetFlag(&FLAGS_max_concurrent_calls, 16);
  ASSERT_TRUE(ApplyServerFlags(&options).ok());
  EXPECT_EQ(options.max_concurrent_calls, 64);
  absl::SetFlag(&FLAGS_max_concurrent_calls, 0);
  ASSERT_TRUE(ApplyServerFlags(&options).ok());
  EXPECT_EQ(options.max_concurrent_calls, 0);
  absl::SetFlag(&FLAGS_max_concurrent_calls, kDefaultMaxConcurrentCalls);
}

TEST(ServerFlags, BadValuesAreInvalidArgumentNamingTheFlag) {
  GrpcServerOptions options;
  absl::SetFlag(&FLAGS_max_concurrent_calls, -5);
  absl::Status s = ApplyServerFlags(&options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--max_concurrent_calls"), absl::string_view::npos);
  absl::SetFlag(&FLAGS_max_concurrent_calls, kDefaultMaxConcurrentCalls);
  absl::SetFlag(&FLAGS_overload_retry_after_ms, 0);
  s = ApplyServerFlags(&options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--overload_retry_after_ms"), absl::string_view::npos);
  absl::SetFlag(&FLAGS_overload_retry_after_ms, 50);
}

}  // namespace
}  // namespace lifelong
