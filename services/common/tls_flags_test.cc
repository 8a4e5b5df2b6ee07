#include "services/common/tls_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"

ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(bool, tls_require_client_cert);

namespace lifelong {
namespace {

using ::testing::HasSubstr;

void SetFlags(const std::string& cert, const std::string& key, const std::string& ca, bool require) {
  absl::SetFlag(&FLAGS_tls_cert, cert);
  absl::SetFlag(&FLAGS_tls_key, key);
  absl::SetFlag(&FLAGS_tls_ca, ca);
  absl::SetFlag(&FLAGS_tls_require_client_cert, require);
}

TEST(TlsFlags, DefaultsArePlaintext) {
  SetFlags("", "", "", false);
  absl::StatusOr<TlsConfig> serving = ServingTlsFromFlags();
  ASSERT_TRUE(serving.ok()) << serving.status();
  EXPECT_FALSE(serving->ServesTls());
  absl::StatusOr<TlsConfig> calling = CallingTlsFromFlags();
  ASSERT_TRUE(calling.ok()) << calling.status();
  EXPECT_FALSE(calling->CallsWithTls());
}

TEST(TlsFlags, MutualTlsConfiguration) {
  SetFlags("s.pem", "s.key", "ca.pem", true);
  absl::StatusOr<TlsConfig> serving = ServingTlsFromFlags();
  ASSERT_TRUE(serving.ok()) << serving.status();
  EXPECT_EQ(serving->cert_file, "s.pem");
  EXPECT_EQ(serving->key_file, "s.key");
  EXPECT_EQ(serving->ca_file, "ca.pem");
  EXPECT_TRUE(serving->require_client_cert);
  absl::StatusOr<TlsConfig> calling = CallingTlsFromFlags();
  ASSERT_TRUE(calling.ok()) << calling.status();
  EXPECT_FALSE(calling->require_client_cert);  // a serving-only setting
  EXPECT_TRUE(calling->CallsWithTls());
}

TEST(TlsFlags, IncompleteCombinationsAreInvalid) {
  SetFlags("s.pem", "s.key", "", true);
  absl::StatusOr<TlsConfig> serving = ServingTlsFromFlags();
  EXPECT_EQ(serving.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(serving.status().message()), HasSubstr("--tls_ca"));
  SetFlags("c.pem", "", "ca.pem", false);
  EXPECT_EQ(CallingTlsFromFlags().status().code(), absl::StatusCode::kInvalidArgument);
  SetFlags("", "", "", false);
}

}  // namespace
}  // namespace lifelong
