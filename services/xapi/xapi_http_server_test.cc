// The xAPI endpoint through real HTTP connections, and across protocols:
// what is written over xAPI is read over gRPC and back.
#include "services/xapi/xapi_http_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "services/common/server.h"
#include "services/common/tls_testing.h"
#include "services/records/records_service.h"
#include "services/records/test_statements.h"

namespace lifelong::xapi {
namespace {

using records::testing::MakeStatement;
using records::testing::TestUuid;

class XapiHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string dir =
        std::string(base ? base : "/tmp") + "/xapi_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir);
    store_ = std::move(*records::RecordStore::Open(dir));
    creds_ = std::make_unique<Credentials>(*Credentials::Parse("lrs:s3cret\n"));
    std::filesystem::remove_all(dir + "_docs");
    docs_ = std::move(*DocumentStore::Open(dir + "_docs"));
    handler_ = std::make_unique<XapiHandler>(store_.get(), docs_.get(), creds_.get(), "/xapi");
    XapiHttpOptions options;
    options.port = 0;
    options.io_timeout_seconds = 2;
    http_ = std::move(*XapiHttpServer::Start(options, handler_.get()));
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_->port());
    client_->set_read_timeout(5, 0);
    headers_ = {{"Authorization", "Basic " + absl::Base64Escape("lrs:s3cret")}, {"X-Experience-API-Version", "2.0.0"}};

    grpc_service_ = std::make_unique<records::RecordsService>(store_.get());
    grpc_ = std::move(*StartGrpcServer(GrpcServerOptions{}, {grpc_service_.get()}));
    stub_ = v1::LearningRecordService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    client_.reset();
    http_.reset();
    grpc_.reset();
    store_.reset();
  }

  httplib::Result Post(const std::string& path, const std::string& body) {
    return client_->Post(path.c_str(), headers_, body, "application/json");
  }
  httplib::Result Put(const std::string& path, const std::string& body) {
    return client_->Put(path.c_str(), headers_, body, "application/json");
  }
  httplib::Result Get(const std::string& path) { return client_->Get(path.c_str(), headers_); }

  std::unique_ptr<records::RecordStore> store_;
  std::unique_ptr<Credentials> creds_;
  std::unique_ptr<DocumentStore> docs_;
  std::unique_ptr<XapiHandler> handler_;
  std::unique_ptr<XapiHttpServer> http_;
  std::unique_ptr<httplib::Client> client_;
  httplib::Headers headers_;
  std::unique_ptr<records::RecordsService> grpc_service_;
  std::unique_ptr<RunningGrpcServer> grpc_;
  std::unique_ptr<v1::LearningRecordService::Stub> stub_;
};

TEST_F(XapiHttpTest, AboutIsPublic) {
  auto r = client_->Get("/xapi/about");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["version"][0], "2.0.0");
}

TEST_F(XapiHttpTest, MissingOrBadCredentialsAre401) {
  auto r = client_->Get("/xapi/statements", httplib::Headers{{"X-Experience-API-Version", "2.0.0"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(r->has_header("WWW-Authenticate"));
  r = client_->Get("/xapi/statements", httplib::Headers{{"X-Experience-API-Version", "2.0.0"},
                                                        {"Authorization", "Basic " + absl::Base64Escape("lrs:no")}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST_F(XapiHttpTest, VersionHeaderRequired) {
  auto r = client_->Get("/xapi/statements",
                        httplib::Headers{{"Authorization", "Basic " + absl::Base64Escape("lrs:s3cret")}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(XapiHttpTest, PutPostGetAndConflicts) {
  std::string s1 = MakeStatement({.id = TestUuid(1), .learner = "u1", .course = "c1"});
  auto r = Put("/xapi/statements?statementId=" + TestUuid(1), s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204) << r->body;
  EXPECT_EQ(r->get_header_value("X-Experience-API-Version"), "2.0.0");
  // Same again: fine. Different content under the same id: 409.
  EXPECT_EQ(Put("/xapi/statements?statementId=" + TestUuid(1), s1)->status, 204);
  EXPECT_EQ(Put("/xapi/statements?statementId=" + TestUuid(1),
                MakeStatement({.id = TestUuid(1), .learner = "u1", .course = "c2"}))
                ->status,
            409);
  // Id mismatch between parameter and body.
  EXPECT_EQ(Put("/xapi/statements?statementId=" + TestUuid(9), s1)->status, 400);

  std::string batch =
      "[" + MakeStatement({.id = TestUuid(2), .learner = "u1"}) + "," + MakeStatement({.learner = "u2"}) + "]";
  r = Post("/xapi/statements", batch);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto ids = nlohmann::json::parse(r->body);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], TestUuid(2));

  r = Get("/xapi/statements?statementId=" + TestUuid(1));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body)["id"], TestUuid(1));
  EXPECT_TRUE(r->has_header("X-Experience-API-Consistent-Through"));
  EXPECT_EQ(Get("/xapi/statements?statementId=" + TestUuid(77))->status, 404);
}

TEST_F(XapiHttpTest, BadInputIsRejectedAndChangesNothing) {
  EXPECT_EQ(Post("/xapi/statements", "{not json")->status, 400);
  EXPECT_EQ(
      Post("/xapi/statements", R"({"actor":{"mbox":"mailto:a@b.cn"},"verb":{"id":"x"},"object":{"id":"http://a"}})")
          ->status,
      400);
  // A batch with one bad statement stores none of them.
  std::string batch = "[" + MakeStatement({.id = TestUuid(5)}) + R"(,{"actor":{}}])";
  EXPECT_EQ(Post("/xapi/statements", batch)->status, 400);
  EXPECT_EQ(Get("/xapi/statements?statementId=" + TestUuid(5))->status, 404);
  // Duplicate ids in one batch.
  std::string dup = "[" + MakeStatement({.id = TestUuid(6)}) + "," + MakeStatement({.id = TestUuid(6)}) + "]";
  EXPECT_EQ(Post("/xapi/statements", dup)->status, 400);
  EXPECT_EQ(Get("/xapi/statements?foo=bar")->status, 400);
  EXPECT_EQ(Get("/xapi/statements?limit=-1")->status, 400);
  EXPECT_EQ(Get("/xapi/statements?since=yesterday")->status, 400);
  EXPECT_EQ(Get("/xapi/statements?more=forged")->status, 400);
  auto wrong_type = client_->Post("/xapi/statements", headers_, MakeStatement({}), "text/plain");
  EXPECT_EQ(wrong_type->status, 400);
  std::string huge(kMaxBodyBytes + 10, ' ');
  auto big = Post("/xapi/statements", huge);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
}

TEST_F(XapiHttpTest, QueryFiltersAndMoreLink) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Post("/xapi/statements", MakeStatement({.id = TestUuid(i), .learner = "u1", .course = "c1"}))->status,
              200);
  }
  ASSERT_EQ(Post("/xapi/statements", MakeStatement({.id = TestUuid(9), .learner = "u2", .course = "c2"}))->status, 200);
  std::string agent = absl::StrCat(
      "%7B%22account%22%3A%7B%22homePage%22%3A%22https%3A%2F%2Fid.dongcheng.gov.cn%22%2C%22name%22%3A%22u1%22%7D%7D");
  auto r = Get("/xapi/statements?limit=2&agent=" + agent);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto page = nlohmann::json::parse(r->body);
  EXPECT_EQ(page["statements"].size(), 2u);
  std::string more = page["more"];
  ASSERT_FALSE(more.empty());
  int total = 2;
  while (!more.empty()) {
    r = Get(more);
    ASSERT_EQ(r->status, 200) << r->body;
    page = nlohmann::json::parse(r->body);
    total += page["statements"].size();
    more = page["more"];
  }
  EXPECT_EQ(total, 5);
  r = Get("/xapi/statements?activity=https%3A%2F%2Flifelong.dongcheng.edu.cn%2Fcourses%2Fc2");
  page = nlohmann::json::parse(r->body);
  ASSERT_EQ(page["statements"].size(), 1u);
  EXPECT_EQ(page["statements"][0]["id"], TestUuid(9));
  r = Get("/xapi/statements?format=ids&statementId=" + TestUuid(9));
  auto ids_view = nlohmann::json::parse(r->body);
  EXPECT_FALSE(ids_view["object"].contains("definition"));
}

TEST_F(XapiHttpTest, VoidedStatementsOnlyByVoidedStatementId) {
  ASSERT_EQ(Post("/xapi/statements", MakeStatement({.id = TestUuid(1)}))->status, 200);
  ASSERT_EQ(
      Post("/xapi/statements", MakeStatement({.id = TestUuid(2), .verb = "voided", .course = TestUuid(1)}))->status,
      200);
  EXPECT_EQ(Get("/xapi/statements?statementId=" + TestUuid(1))->status, 404);
  auto r = Get("/xapi/statements?voidedStatementId=" + TestUuid(1));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Get("/xapi/statements?voidedStatementId=" + TestUuid(2))->status, 404);
}

TEST_F(XapiHttpTest, CrossProtocolSameStore) {
  // Written over xAPI, read over gRPC.
  ASSERT_EQ(
      Put("/xapi/statements?statementId=" + TestUuid(1), MakeStatement({.id = TestUuid(1), .learner = "u5"}))->status,
      204);
  grpc::ClientContext c1;
  v1::GetStatementRequest get;
  get.set_id(TestUuid(1));
  v1::Statement st;
  ASSERT_TRUE(stub_->GetStatement(&c1, get, &st).ok());
  EXPECT_EQ(st.learner(), "u5");
  // Written over gRPC, read over xAPI; voided over gRPC, hidden over xAPI.
  grpc::ClientContext c2;
  v1::RecordStatementRequest rec;
  rec.set_statement_json(MakeStatement({.id = TestUuid(2), .learner = "u5"}));
  ASSERT_TRUE(stub_->RecordStatement(&c2, rec, &st).ok());
  EXPECT_EQ(Get("/xapi/statements?statementId=" + TestUuid(2))->status, 200);
  grpc::ClientContext c3;
  v1::VoidStatementRequest v;
  v.set_id(TestUuid(2));
  ASSERT_TRUE(stub_->VoidStatement(&c3, v, &st).ok());
  EXPECT_EQ(Get("/xapi/statements?statementId=" + TestUuid(2))->status, 404);
  // Erased over gRPC, gone over xAPI.
  grpc::ClientContext c4;
  v1::EraseLearnerRequest erase;
  erase.set_learner("u5");
  v1::EraseLearnerResponse er;
  ASSERT_TRUE(stub_->EraseLearner(&c4, erase, &er).ok());
  EXPECT_EQ(Get("/xapi/statements?statementId=" + TestUuid(1))->status, 404);
}

TEST_F(XapiHttpTest, StateDocumentsWithEtags) {
  const std::string agent = "%7B%22mbox%22%3A%22mailto%3Aa%40example.cn%22%7D";
  const std::string path = "/xapi/activities/state?activityId=http%3A%2F%2Fa%2F1&agent=" + agent + "&stateId=s1";
  auto r = client_->Put(path.c_str(), headers_, R"({"step":1})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204) << r->body;
  r = Get(path);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"step":1})");
  std::string etag = r->get_header_value("ETag");
  ASSERT_EQ(etag.front(), '"');
  // Overwrite without If-Match: 409; wrong ETag: 412; right ETag: 204.
  EXPECT_EQ(client_->Put(path.c_str(), headers_, R"({"step":2})", "application/json")->status, 409);
  httplib::Headers wrong = headers_;
  wrong.emplace("If-Match", "\"nope\"");
  EXPECT_EQ(client_->Put(path.c_str(), wrong, R"({"step":2})", "application/json")->status, 412);
  httplib::Headers right = headers_;
  right.emplace("If-Match", etag);
  EXPECT_EQ(client_->Put(path.c_str(), right, R"({"step":2})", "application/json")->status, 204);
  // POST merges JSON objects.
  EXPECT_EQ(client_->Post(path.c_str(), headers_, R"({"score":9})", "application/json")->status, 204);
  EXPECT_EQ(nlohmann::json::parse(Get(path)->body), nlohmann::json::parse(R"({"step":2,"score":9})"));
  // The id list, then delete.
  r = Get("/xapi/activities/state?activityId=http%3A%2F%2Fa%2F1&agent=" + agent);
  EXPECT_EQ(r->body, R"(["s1"])");
  EXPECT_EQ(client_->Delete(path.c_str(), headers_)->status, 204);
  EXPECT_EQ(Get(path)->status, 404);
  // Missing required parameters.
  EXPECT_EQ(Get("/xapi/activities/state?activityId=http%3A%2F%2Fa%2F1")->status, 400);
  EXPECT_EQ(Get("/xapi/agents/profile?agent=%7B%7D")->status, 400);
}

TEST_F(XapiHttpTest, AlternateRequestSyntax) {
  // xAPI 1.0.3: a PUT sent as a form POST, credentials and version inside.
  std::string form = "statementId=" + TestUuid(3) +
                     "&Authorization=" + UrlEncode(headers_.find("Authorization")->second) +
                     "&X-Experience-API-Version=1.0.3&Content-Type=application%2Fjson&content=" +
                     UrlEncode(MakeStatement({.id = TestUuid(3)}));
  auto r = client_->Post("/xapi/statements?method=PUT", form, "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204) << r->body;
  EXPECT_EQ(Get("/xapi/statements?statementId=" + TestUuid(3))->status, 200);
  r = client_->Post("/xapi/statements?method=PUT&statementId=x", form, "application/x-www-form-urlencoded");
  EXPECT_EQ(r->status, 400);
}

TEST_F(XapiHttpTest, StalledClientDoesNotBlockOthers) {
  // A client that connects and sends half a request.
  httplib::Client stalled("127.0.0.1", http_->port());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(http_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char partial[] = "POST /xapi/statements HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
  ASSERT_GT(write(fd, partial, sizeof(partial) - 1), 0);
  auto r = client_->Get("/xapi/about");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  close(fd);
}

// Raw HTTP over one connection: sends `request` (in pieces when `pause_ms`),
// returns what comes back until the server closes or 3 s pass.
std::string Exchange(int port, const std::vector<std::string>& pieces, int pause_ms = 0) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return "connect failed";
  timeval tv{0, 200 * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string got;
  char buf[8192];
  for (const std::string& piece : pieces) {
    if (send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) < 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) got.append(buf, n);
  }
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < end) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n > 0) got.append(buf, n);
  }
  close(fd);
  return got;
}

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1)) ++n;
  return n;
}

TEST_F(XapiHttpTest, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  const std::string get = "GET /xapi/about HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string last = "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string got = Exchange(http_->port(), {get + get + last});
  EXPECT_EQ(Count(got, "HTTP/1.1 200"), 2) << got;
  EXPECT_NE(got.find("HTTP/1.1 404"), std::string::npos) << got;
  EXPECT_GT(got.find("HTTP/1.1 404"), got.rfind("HTTP/1.1 200"));
}

TEST_F(XapiHttpTest, ExpectContinueChunkedAndSplitBodies) {
  const std::string auth = "Authorization: Basic " + absl::Base64Escape("lrs:s3cret") +
                           "\r\nX-Experience-API-Version: 2.0.0\r\nContent-Type: application/json\r\n";
  const std::string body = MakeStatement({.id = TestUuid(40), .learner = "u40"});
  // Expect: 100-continue: the interim response comes before the body is sent.
  std::string got =
      Exchange(http_->port(),
               {"POST /xapi/statements HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\n" + auth +
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n",
                body},
               300);
  EXPECT_EQ(got.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", 0), 0u) << got;
  EXPECT_EQ(Count(got, "100 Continue"), 1) << got;
  // A chunked body, in pieces.
  const std::string body2 = MakeStatement({.id = TestUuid(41), .learner = "u41"});
  char size_hex[16];
  snprintf(size_hex, sizeof(size_hex), "%zx", body2.size() - 10);
  got = Exchange(http_->port(),
                 {"POST /xapi/statements HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n" +
                      auth + "\r\n" + size_hex + "\r\n" + body2.substr(0, body2.size() - 10) + "\r\n",
                  "a\r\n" + body2.substr(body2.size() - 10) + "\r\n", "0\r\n\r\n"},
                 100);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  EXPECT_EQ(Get("/xapi/statements?statementId=" + TestUuid(40))->status, 200);
  EXPECT_EQ(Get("/xapi/statements?statementId=" + TestUuid(41))->status, 200);
}

TEST_F(XapiHttpTest, AmbiguousFramingIsRefusedBeforeTheBody) {
  // Content-Length and Transfer-Encoding together (request smuggling).
  std::string got = Exchange(http_->port(), {"POST /xapi/statements HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"});
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_NE(got.find("Transfer-Encoding"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  // An announced body over the limit is refused without reading it.
  got = Exchange(http_->port(), {"PUT /xapi/statements HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"});
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
  got = Exchange(http_->port(), {"GET /xapi/about HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n"});
  EXPECT_EQ(got.rfind("HTTP/1.1 431", 0), 0u) << got;
  // The client's bytes quoted in the error stay valid JSON.
  got = Exchange(http_->port(), {"POST /xapi/statements HTTP/1.1\r\nContent-Length: \"\xff\\\r\n\r\n"});
  ASSERT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  nlohmann::json error = nlohmann::json::parse(got.substr(got.find("\r\n\r\n") + 4), nullptr, false);
  ASSERT_FALSE(error.is_discarded()) << got;
  EXPECT_NE(error["error"].get<std::string>().find("Content-Length"), std::string::npos);
}

// --- HTTPS (certificates from ops/dev-ca.sh).

class XapiHttpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("xapi_tls_ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = new testing::TestCa(*std::move(ca));
  }
  static void TearDownTestSuite() { delete ca_; }

  void Start(bool require_client_cert) {
    const std::string dir = ca_->dir() + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    store_ = std::move(*records::RecordStore::Open(dir + "/records"));
    docs_ = std::move(*DocumentStore::Open(dir + "/docs"));
    creds_ = std::make_unique<Credentials>(*Credentials::Parse("lrs:s3cret\n"));
    handler_ = std::make_unique<XapiHandler>(store_.get(), docs_.get(), creds_.get(), "/xapi");
    XapiHttpOptions options;
    options.port = 0;
    options.io_timeout_seconds = 2;
    options.tls = ca_->Server("records", require_client_cert);
    auto http = XapiHttpServer::Start(options, handler_.get());
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
  }

  // GET /xapi/about over HTTPS, verifying the server against the test CA,
  // with the client certificate of `identity` unless empty.
  httplib::Result About(const std::string& identity = "") {
    std::unique_ptr<httplib::SSLClient> client =
        identity.empty() ? std::make_unique<httplib::SSLClient>("127.0.0.1", http_->port())
                         : std::make_unique<httplib::SSLClient>(
                               "127.0.0.1", http_->port(), ca_->File(identity + ".pem"), ca_->File(identity + ".key"));
    client->set_ca_cert_path(ca_->File("ca.pem").c_str());
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(3, 0);
    client->set_read_timeout(3, 0);
    return client->Get("/xapi/about");
  }

  httplib::Result PlainAbout() {
    httplib::Client client("127.0.0.1", http_->port());
    client.set_connection_timeout(3, 0);
    client.set_read_timeout(3, 0);
    return client.Get("/xapi/about");
  }

  void TearDown() override {
    http_.reset();
    store_.reset();
  }

  static testing::TestCa* ca_;
  std::unique_ptr<records::RecordStore> store_;
  std::unique_ptr<DocumentStore> docs_;
  std::unique_ptr<Credentials> creds_;
  std::unique_ptr<XapiHandler> handler_;
  std::unique_ptr<XapiHttpServer> http_;
};
testing::TestCa* XapiHttpsTest::ca_ = nullptr;

TEST_F(XapiHttpsTest, ServesOverTlsAndRefusesPlainHttp) {
  Start(/*require_client_cert=*/false);
  httplib::Result r = About();
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body)["version"][0], "2.0.0");
  EXPECT_FALSE(PlainAbout());
}

TEST_F(XapiHttpsTest, MutualTlsDemandsAClientCertificate) {
  Start(/*require_client_cert=*/true);
  EXPECT_FALSE(About());
  EXPECT_FALSE(PlainAbout());
  httplib::Result r = About("client");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
}

TEST_F(XapiHttpsTest, UnusableKeyFailsStart) {
  XapiHttpOptions options;
  options.port = 0;
  options.tls = ca_->Server("records", false);
  options.tls.key_file = ca_->File("catalog.key");  // not the certificate's key
  EXPECT_EQ(XapiHttpServer::Start(options, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lifelong::xapi
