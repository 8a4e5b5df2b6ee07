// TLS session resumption on the HTTPS ports (issue #13 item 6): the xAPI
// endpoint and /metrics, each configured as ops/stack.sh runs them with
// STACK_TLS=1 (client certificates verified against the development CA; the
// /metrics port demands one). A client makes a full handshake, keeps the
// session (TLS 1.2 session id, TLS 1.3 ticket), and connects again offering
// it: the second handshake must resume and the request succeed. Before the
// fix (services/common/tls.cc sets a session id context) the server answered
// the resumption with a fatal internal_error alert.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "services/common/http_server.h"
#include "services/common/metrics.h"
#include "services/common/tls_testing.h"
#include "services/records/record_store.h"
#include "services/xapi/credentials.h"
#include "services/xapi/document_store.h"
#include "services/xapi/xapi_handler.h"
#include "services/xapi/xapi_http_server.h"

namespace lifelong {
namespace {

struct Fetch {
  bool handshake_ok = false;
  bool resumed = false;
  std::string response;
  std::string error;
  SSL_SESSION* session = nullptr;  // owned by the caller when set
};

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&out, buf, "; ");
  }
  return out;
}

// GET `path` over a new TLS connection to 127.0.0.1:`port`, offering
// `session` for resumption when not null.
Fetch Get(SSL_CTX* ctx, int port, const std::string& path, SSL_SESSION* session) {
  Fetch f;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    f.error = "connect failed";
    ::close(fd);
    return f;
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (session != nullptr) SSL_set_session(ssl, session);
  ERR_clear_error();
  if (SSL_connect(ssl) != 1) {
    f.error = "handshake: " + OpenSslErrors();
  } else {
    f.handshake_ok = true;
    f.resumed = SSL_session_reused(ssl) == 1;
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (SSL_write(ssl, request.data(), static_cast<int>(request.size())) <= 0) {
      f.error = "write: " + OpenSslErrors();
    }
    char buf[16384];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) f.response.append(buf, n);
    if (SSL_get_error(ssl, n) != SSL_ERROR_ZERO_RETURN && f.response.empty()) {
      f.error = "read: " + OpenSslErrors();
    }
    // After the response: a TLS 1.3 ticket has arrived by now.
    f.session = SSL_get1_session(ssl);
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ::close(fd);
  return f;
}

class TlsResumptionTest : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("tls_resumption_ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = new testing::TestCa(*std::move(ca));
  }
  static void TearDownTestSuite() { delete ca_; }

  // A client context for TLS version GetParam(), trusting the test CA, with
  // the "client" certificate.
  void SetUp() override {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, GetParam());
    SSL_CTX_set_max_proto_version(ctx_, GetParam());
    ASSERT_EQ(SSL_CTX_load_verify_locations(ctx_, ca_->File("ca.pem").c_str(), nullptr), 1);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(ctx_, ca_->File("client.pem").c_str()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx_, ca_->File("client.key").c_str(), SSL_FILETYPE_PEM), 1);
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT);
  }
  void TearDown() override { SSL_CTX_free(ctx_); }

  // A full handshake, then a resumed one; both must serve `path` with 200.
  void ExpectResumes(int port, const std::string& path) {
    Fetch first = Get(ctx_, port, path, nullptr);
    ASSERT_TRUE(first.handshake_ok) << first.error;
    EXPECT_FALSE(first.resumed);
    EXPECT_EQ(first.response.rfind("HTTP/1.1 200", 0), 0u) << first.response << first.error;
    ASSERT_NE(first.session, nullptr);
    EXPECT_EQ(SSL_SESSION_is_resumable(first.session), 1);
    // Each connection offers the newest session, as clients do (TLS 1.3
    // tickets are meant for one use, RFC 8446 appendix C.4).
    SSL_SESSION* session = first.session;
    for (int i = 0; i < 3; ++i) {
      Fetch again = Get(ctx_, port, path, session);
      EXPECT_TRUE(again.handshake_ok) << "resumption " << i << ": " << again.error;
      EXPECT_TRUE(again.resumed) << "resumption " << i << ": a full handshake instead";
      EXPECT_EQ(again.response.rfind("HTTP/1.1 200", 0), 0u) << again.response << again.error;
      if (again.session == nullptr) break;
      SSL_SESSION_free(session);
      session = again.session;
    }
    SSL_SESSION_free(session);
  }

  static testing::TestCa* ca_;
  SSL_CTX* ctx_ = nullptr;
};
testing::TestCa* TlsResumptionTest::ca_ = nullptr;

TEST_P(TlsResumptionTest, XapiPortResumesSessions) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/xapi_", GetParam());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = std::move(*records::RecordStore::Open(dir + "/records"));
  auto docs = std::move(*xapi::DocumentStore::Open(dir + "/docs"));
  auto creds = *xapi::Credentials::Parse("lrs:s3cret\n");
  xapi::XapiHandler handler(store.get(), docs.get(), &creds, "/xapi");
  xapi::XapiHttpOptions o;
  o.port = 0;
  o.tls = ca_->Server("records", /*require_client_cert=*/false);  // as ops/stack.sh: CA set
  auto http = xapi::XapiHttpServer::Start(o, &handler);
  ASSERT_TRUE(http.ok()) << http.status();
  ExpectResumes((*http)->port(), "/xapi/about");
}

TEST_P(TlsResumptionTest, MetricsPortResumesSessions) {
  metrics::MetricsRegistry registry;
  HttpServerOptions o;
  o.tls = ca_->Server("records", /*require_client_cert=*/true);  // as ops/stack.sh
  auto server = StartMetricsHttpServer(o, &registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ExpectResumes((*server)->port(), "/metrics");
}

TEST_P(TlsResumptionTest, KeepAliveClientNeverSeesAFailedRequest) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/keepalive_", GetParam());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = std::move(*records::RecordStore::Open(dir + "/records"));
  auto docs = std::move(*xapi::DocumentStore::Open(dir + "/docs"));
  auto creds = *xapi::Credentials::Parse("lrs:s3cret\n");
  xapi::XapiHandler handler(store.get(), docs.get(), &creds, "/xapi");
  xapi::XapiHttpOptions o;
  o.port = 0;
  o.max_keep_alive_requests = 4;  // the server rotates connections often
  o.tls = ca_->Server("records", false);
  auto http = xapi::XapiHttpServer::Start(o, &handler);
  ASSERT_TRUE(http.ok()) << http.status();
  httplib::SSLClient client("127.0.0.1", (*http)->port());
  client.set_ca_cert_path(ca_->File("ca.pem").c_str());
  client.enable_server_certificate_verification(true);
  client.set_keep_alive(true);
  client.set_read_timeout(5, 0);
  for (int i = 0; i < 30; ++i) {
    httplib::Result r = client.Get("/xapi/about");
    ASSERT_TRUE(r) << "request " << i << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
  }
}

INSTANTIATE_TEST_SUITE_P(TlsVersions, TlsResumptionTest, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == TLS1_2_VERSION ? std::string("Tls12") : std::string("Tls13");
                         });

}  // namespace
}  // namespace lifelong
