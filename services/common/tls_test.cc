#include "services/common/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <fstream>

#include "services/common/tls_testing.h"

namespace lifelong {
namespace {

using ::testing::HasSubstr;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("tls_test_ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = new testing::TestCa(*std::move(ca));
  }
  static void TearDownTestSuite() { delete ca_; }
  static testing::TestCa* ca_;
};
testing::TestCa* TlsTest::ca_ = nullptr;

TEST(TlsConfig, EmptyMeansPlaintextBothWays) {
  TlsConfig c;
  EXPECT_FALSE(c.ServesTls());
  EXPECT_FALSE(c.CallsWithTls());
  EXPECT_TRUE(ValidateServingTls(c).ok());
  EXPECT_TRUE(ValidateCallingTls(c).ok());
  c.ca_file = "ca.pem";  // a client that verifies servers
  EXPECT_FALSE(c.ServesTls());
  EXPECT_TRUE(c.CallsWithTls());
}

TEST(TlsConfig, IncompleteServingConfigurationsNameTheFlags) {
  TlsConfig cert_only;
  cert_only.cert_file = "a.pem";
  absl::Status s = ValidateServingTls(cert_only);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--tls_key"));
  EXPECT_EQ(ValidateCallingTls(cert_only).code(), absl::StatusCode::kInvalidArgument);

  TlsConfig key_only;
  key_only.key_file = "a.key";
  EXPECT_THAT(std::string(ValidateServingTls(key_only).message()), HasSubstr("--tls_cert"));

  TlsConfig mutual_without_ca;
  mutual_without_ca.cert_file = "a.pem";
  mutual_without_ca.key_file = "a.key";
  mutual_without_ca.require_client_cert = true;
  s = ValidateServingTls(mutual_without_ca);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--tls_ca"));

  TlsConfig mutual_without_cert;
  mutual_without_cert.ca_file = "ca.pem";
  mutual_without_cert.require_client_cert = true;
  s = ValidateServingTls(mutual_without_cert);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--tls_cert"));
}

TEST_F(TlsTest, ReadsTheFilesOfAConfiguration) {
  absl::StatusOr<TlsPem> pem = ReadTlsFiles(ca_->Server("records", true));
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_THAT(pem->cert, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(pem->key, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  EXPECT_THAT(pem->ca, HasSubstr("-----BEGIN CERTIFICATE-----"));
}

TEST_F(TlsTest, MissingFileIsNotFoundNamingFlagAndPath) {
  TlsConfig c = ca_->Server("records", false);
  c.ca_file = ca_->File("no-such-ca.pem");
  absl::StatusOr<TlsPem> pem = ReadTlsFiles(c);
  EXPECT_EQ(pem.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(pem.status().message()), HasSubstr("--tls_ca"));
  EXPECT_THAT(std::string(pem.status().message()), HasSubstr("no-such-ca.pem"));
}

TEST_F(TlsTest, FileWithoutPemIsInvalidArgument) {
  const std::string junk = ca_->File("junk.pem");
  std::ofstream(junk) << "not a certificate\n";
  TlsConfig c = ca_->Server("records", false);
  c.cert_file = junk;
  absl::StatusOr<TlsPem> pem = ReadTlsFiles(c);
  EXPECT_EQ(pem.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(pem.status().message()), HasSubstr("--tls_cert"));
  EXPECT_EQ(NewServerSslCtx(c).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsTest, KeyOfAnotherCertificateIsInvalidArgument) {
  TlsConfig c = ca_->Server("records", false);
  c.key_file = ca_->File("catalog.key");
  absl::StatusOr<SslCtxPtr> ctx = NewServerSslCtx(c);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ctx.status().message()), HasSubstr("--tls_key"));
}

TEST_F(TlsTest, ServerContextVerifiesClientsAsConfigured) {
  absl::StatusOr<SslCtxPtr> mutual = NewServerSslCtx(ca_->Server("records", true));
  ASSERT_TRUE(mutual.ok()) << mutual.status();
  EXPECT_EQ(SSL_CTX_get_verify_mode(mutual->get()), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(mutual->get()), TLS1_2_VERSION);

  absl::StatusOr<SslCtxPtr> optional = NewServerSslCtx(ca_->Server("records", false));
  ASSERT_TRUE(optional.ok()) << optional.status();
  EXPECT_EQ(SSL_CTX_get_verify_mode(optional->get()), SSL_VERIFY_PEER);

  TlsConfig no_ca = ca_->Server("records", false);
  no_ca.ca_file.clear();
  absl::StatusOr<SslCtxPtr> server_only = NewServerSslCtx(no_ca);
  ASSERT_TRUE(server_only.ok()) << server_only.status();
  EXPECT_EQ(SSL_CTX_get_verify_mode(server_only->get()), SSL_VERIFY_NONE);
}

}  // namespace
}  // namespace lifelong
