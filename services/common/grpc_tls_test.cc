// gRPC over TLS and mutual TLS with certificates from ops/dev-ca.sh: who is
// let in, and that plaintext is refused when TLS is required.
#include "services/common/grpc_tls.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/server.h"
#include "services/common/tls_testing.h"

namespace lifelong {
namespace {

using ::testing::HasSubstr;

class EchoOnly final : public v1::LearningRecordService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest* req, v1::EchoResponse* resp) override {
    resp->set_payload(req->payload());
    return grpc::Status::OK;
  }
};

class GrpcTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("grpc_tls_ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = new testing::TestCa(*std::move(ca));
    // A second, unrelated CA: its certificates must not be accepted.
    absl::StatusOr<testing::TestCa> other = testing::TestCa::Create("grpc_tls_other_ca");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ca_ = new testing::TestCa(*std::move(other));
  }
  static void TearDownTestSuite() {
    delete ca_;
    delete other_ca_;
  }

  // Starts an Echo server secured by `tls`; returns its port.
  int Serve(const TlsConfig& tls) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = ServerCredentialsFor(tls);
    EXPECT_TRUE(creds.ok()) << creds.status();
    GrpcServerOptions options;
    options.credentials = *creds;
    absl::StatusOr<std::unique_ptr<RunningGrpcServer>> server = StartGrpcServer(options, {&service_});
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    return server_->port();
  }

  // One Echo call to 127.0.0.1:`port` (or `host`:`port`) as `tls` configures.
  static grpc::Status Echo(int port, const TlsConfig& tls, const std::string& host = "127.0.0.1") {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = ChannelCredentialsFor(tls);
    if (!creds.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, creds.status().ToString());
    auto stub = v1::LearningRecordService::NewStub(grpc::CreateChannel(host + ":" + std::to_string(port), *creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::EchoRequest req;
    req.set_payload("ping");
    v1::EchoResponse resp;
    grpc::Status status = stub->Echo(&ctx, req, &resp);
    if (status.ok() && resp.payload() != "ping") {
      return grpc::Status(grpc::StatusCode::INTERNAL, "wrong payload " + resp.payload());
    }
    return status;
  }

  static TlsConfig Plaintext() { return TlsConfig{}; }

  static testing::TestCa* ca_;
  static testing::TestCa* other_ca_;
  EchoOnly service_;
  std::unique_ptr<RunningGrpcServer> server_;
};
testing::TestCa* GrpcTlsTest::ca_ = nullptr;
testing::TestCa* GrpcTlsTest::other_ca_ = nullptr;

TEST_F(GrpcTlsTest, EmptyConfigurationIsPlaintext) {
  const int port = Serve(Plaintext());
  EXPECT_TRUE(Echo(port, Plaintext()).ok());
  EXPECT_EQ(Echo(port, ca_->Client("")).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, TlsServerAcceptsTlsClientAndRefusesPlaintext) {
  TlsConfig tls = ca_->Server("records", false);
  tls.ca_file.clear();  // server-side TLS only
  const int port = Serve(tls);
  grpc::Status ok = Echo(port, ca_->Client(""));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_TRUE(Echo(port, ca_->Client(""), "localhost").ok());  // SAN DNS:localhost
  EXPECT_EQ(Echo(port, Plaintext()).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, ClientRefusesServerFromAnotherCa) {
  const int port = Serve(ca_->Server("records", false));
  EXPECT_EQ(Echo(port, other_ca_->Client("")).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, MutualTlsAcceptsClientCertificates) {
  const int port = Serve(ca_->Server("records", true));
  grpc::Status client = Echo(port, ca_->Client("client"));
  EXPECT_TRUE(client.ok()) << client.error_message();
  // A service's certificate is also its client identity (recommend -> records).
  grpc::Status service = Echo(port, ca_->Client("recommend"));
  EXPECT_TRUE(service.ok()) << service.error_message();
}

TEST_F(GrpcTlsTest, MutualTlsRefusesClientWithoutCertificate) {
  const int port = Serve(ca_->Server("records", true));
  EXPECT_EQ(Echo(port, ca_->Client("")).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, MutualTlsRefusesPlaintext) {
  const int port = Serve(ca_->Server("records", true));
  EXPECT_EQ(Echo(port, Plaintext()).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, MutualTlsRefusesCertificateFromAnotherCa) {
  const int port = Serve(ca_->Server("records", true));
  TlsConfig stranger = other_ca_->Client("client");
  stranger.ca_file = ca_->File("ca.pem");  // trusts the server, but is not trusted by it
  EXPECT_EQ(Echo(port, stranger).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, OptionalClientCertificatesLetBothKindsIn) {
  const int port = Serve(ca_->Server("records", false));  // CA set, not required
  EXPECT_TRUE(Echo(port, ca_->Client("client")).ok());
  EXPECT_TRUE(Echo(port, ca_->Client("")).ok());
}

TEST_F(GrpcTlsTest, UnreadableFilesAreReportedNotServedInsecurely) {
  TlsConfig tls = ca_->Server("records", true);
  tls.cert_file = ca_->File("missing.pem");
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> server = ServerCredentialsFor(tls);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("--tls_cert"));
  TlsConfig client = ca_->Client("client");
  client.key_file = ca_->File("missing.key");
  EXPECT_EQ(ChannelCredentialsFor(client).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lifelong
