#include "services/common/server_flags.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"

namespace lifelong {
namespace {

TEST(ServerFlags, DefaultsApplyTheMeasuredLimit) {
  GrpcServerOptions options;
  options.max_pollers = 8;
  ASSERT_TRUE(ApplyServerFlags(&options).ok());
  EXPECT_EQ(options.max_concurrent_calls, kDefaultMaxConcurrentCalls);
  EXPECT_EQ(options.overload_retry_after_ms, 50);
  EXPECT_EQ(options.memory_quota_bytes, int64_t{kDefaultGrpcMemoryQuotaMb} << 20);
  EXPECT_EQ(options.max_connection_idle_ms, kDefaultGrpcMaxConnectionIdleSeconds * 1000);
  EXPECT_EQ(options.handshake_timeout_ms, kDefaultGrpcHandshakeTimeoutSeconds * 1000);
}

TEST(ServerFlags, ConnectionTimeoutsInSecondsOutOfRangeAreRefused) {
  GrpcServerOptions options;
  absl::SetFlag(&FLAGS_grpc_max_connection_idle_seconds, 0);
  absl::SetFlag(&FLAGS_grpc_handshake_timeout_seconds, 3);
  ASSERT_TRUE(ApplyServerFlags(&options).ok());
  EXPECT_EQ(options.max_connection_idle_ms, 0);
  EXPECT_EQ(options.handshake_timeout_ms, 3000);
  const auto refused = [&](const std::string& flag) {
    options = GrpcServerOptions{};
    options.max_connection_idle_ms = 7;
    absl::Status s = ApplyServerFlags(&options);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_NE(s.message().find(flag), absl::string_view::npos) << s.message();
    EXPECT_EQ(options.max_connection_idle_ms, 7) << "nothing is applied";
  };
  absl::SetFlag(&FLAGS_grpc_max_connection_idle_seconds, -1);
  refused("--grpc_max_connection_idle_seconds");
  absl::SetFlag(&FLAGS_grpc_max_connection_idle_seconds, 86401);
  refused("--grpc_max_connection_idle_seconds");
  absl::SetFlag(&FLAGS_grpc_max_connection_idle_seconds, kDefaultGrpcMaxConnectionIdleSeconds);
  absl::SetFlag(&FLAGS_grpc_handshake_timeout_seconds, 0);
  refused("--grpc_handshake_timeout_seconds");
  absl::SetFlag(&FLAGS_grpc_handshake_timeout_seconds, kDefaultGrpcHandshakeTimeoutSeconds);
}

TEST(ServerFlags, MemoryQuotaInMibZeroMeansNoBoundNegativeIsRefused) {
  GrpcServerOptions options;
  absl::SetFlag(&FLAGS_grpc_memory_quota_mb, 64);
  ASSERT_TRUE(ApplyServerFlags(&options).ok());
  EXPECT_EQ(options.memory_quota_bytes, int64_t{64} << 20);
  absl::SetFlag(&FLAGS_grpc_memory_quota_mb, 0);
  ASSERT_TRUE(ApplyServerFlags(&options).ok());
  EXPECT_EQ(options.memory_quota_bytes, 0);
  absl::SetFlag(&FLAGS_grpc_memory_quota_mb, -1);
  absl::Status s = ApplyServerFlags(&options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--grpc_memory_quota_mb"), absl::string_view::npos);
  absl::SetFlag(&FLAGS_grpc_memory_quota_mb, kDefaultGrpcMemoryQuotaMb);
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

TEST(ServerFlags, LogFlagsBecomeTheLogConfig) {
  absl::StatusOr<LogConfig> config = LogConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->async);
  EXPECT_EQ(config->queue_bytes, 4096u * 1024);
  EXPECT_EQ(config->access_sample, 1);
  EXPECT_EQ(config->access_slow_ms, 250);
  EXPECT_EQ(config->rotate_bytes, int64_t{256} << 20);
  EXPECT_EQ(config->rotate_keep, 4);
  absl::SetFlag(&FLAGS_log_rotate_mb, 0);
  absl::SetFlag(&FLAGS_log_keep, 9);
  config = LogConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rotate_bytes, 0);
  EXPECT_EQ(config->rotate_keep, 9);
  absl::SetFlag(&FLAGS_log_rotate_mb, 256);
  absl::SetFlag(&FLAGS_log_keep, 4);
  absl::SetFlag(&FLAGS_log_async, false);
  absl::SetFlag(&FLAGS_access_log_sample, 10);
  config = LogConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->async);
  EXPECT_EQ(config->access_sample, 10);
  absl::SetFlag(&FLAGS_log_async, true);
  absl::SetFlag(&FLAGS_access_log_sample, 1);
}

TEST(ServerFlags, BadLogFlagsAreInvalidArgumentNamingTheFlag) {
  GrpcServerOptions options;
  const std::pair<std::function<void()>, std::string> cases[] = {
      {[] { absl::SetFlag(&FLAGS_log_queue_kib, 3); }, "--log_queue_kib"},
      {[] { absl::SetFlag(&FLAGS_access_log_sample, -1); }, "--access_log_sample"},
      {[] { absl::SetFlag(&FLAGS_access_log_slow_ms, -0.5); }, "--access_log_slow_ms"},
      {[] { absl::SetFlag(&FLAGS_log_rotate_mb, -1); }, "--log_rotate_mb"},
      {[] { absl::SetFlag(&FLAGS_log_keep, 0); }, "--log_keep"},
      {[] { absl::SetFlag(&FLAGS_log_keep, 101); }, "--log_keep"},
  };
  for (const auto& [set, flag] : cases) {
    set();
    absl::Status s = ApplyServerFlags(&options);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_NE(s.message().find(flag), absl::string_view::npos) << s;
    absl::SetFlag(&FLAGS_log_queue_kib, 4096);
    absl::SetFlag(&FLAGS_access_log_sample, 1);
    absl::SetFlag(&FLAGS_access_log_slow_ms, 250);
    absl::SetFlag(&FLAGS_log_rotate_mb, 256);
    absl::SetFlag(&FLAGS_log_keep, 4);
  }
}

}  // namespace
}  // namespace lifelong
