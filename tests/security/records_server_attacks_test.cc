// Attacks on a real records_server process with authentication on:
//   - the revocation file is removed under the running service (issue #13
//     item 4): revoked tokens must stay revoked, and /metrics must show it;
//   - the revocation file is missing at start-up: the service refuses to start;
//   - credentials committed to the repository (ops/xapi/dev-credentials.txt,
//     or its password copied into another file) against the xAPI endpoint
//     (item 5): the service refuses to start with them, and a service with
//     credentials of its own answers the repository password with 401.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/token.h"
#include "tests/testing/alert_metrics.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using testing::FreshTempDir;
using testing::ReadFile;
using testing::RunfilePath;
using testing::Subprocess;

constexpr char kKey[] = "security-suite-key-0123456789abcdefghijkl";

// The first log line (JSON) of `event` in `log`, or null.
nlohmann::json LogEvent(const std::string& log, const std::string& event) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("event", "") == event) return j;
  }
  return nullptr;
}

std::string Token(const std::string& subject, auth::Role role = auth::Role::kLearner) {
  auth::Principal p;
  p.subject = subject;
  p.role = role;
  if (role == auth::Role::kKiosk) p.venue = "和平里社区学校";
  p.token_id = "jti-" + subject;
  auth::TokenOptions o;
  o.key = kKey;
  return *auth::MintToken(p, absl::Minutes(10), o);
}

class RecordsServerAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::ofstream(dir_ + "/jwt.key") << kKey << "\n";
    revocation_file_ = dir_ + "/revoked.txt";
    std::ofstream(revocation_file_) << "# revoked\nsub:u-revoked\n";
    own_credentials_ = dir_ + "/xapi-credentials.txt";
    std::ofstream(own_credentials_) << "lms:generated-Zq3xV9-per-stack role=loader\n";
    log_ = dir_ + "/server.log";
  }

  std::vector<std::string> Argv(const std::string& credentials) {
    std::vector<std::string> argv = {RunfilePath("services/records/records_server"),
                                     "--port=0",
                                     "--port_file=" + dir_ + "/port",
                                     "--metrics_port=0",
                                     "--data_dir=" + dir_ + "/records",
                                     "--xapi_port=0",
                                     "--xapi_documents_dir=" + dir_ + "/documents",
                                     "--auth_key_file=" + dir_ + "/jwt.key",
                                     "--auth_revocation_file=" + revocation_file_};
    if (!credentials.empty()) argv.push_back("--xapi_credentials=" + credentials);
    argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
    return argv;
  }

  // Starts the server and waits until it serves; fills the ports.
  void StartServing(const std::string& credentials) {
    absl::StatusOr<Subprocess> p = Subprocess::Start(Argv(credentials), log_);
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = std::make_unique<Subprocess>(*std::move(p));
    absl::StatusOr<int> port = testing::WaitForPortFile(dir_ + "/port");
    ASSERT_TRUE(port.ok()) << port.status() << "\n" << ReadFile(log_);
    grpc_port_ = *port;
    for (int i = 0; i < 100 && metrics_port_ == 0; ++i) {
      const std::string log = ReadFile(log_);
      nlohmann::json xapi = LogEvent(log, "xapi_serving");
      nlohmann::json serving = LogEvent(log, "serving");
      if (!xapi.is_null() && !serving.is_null()) {
        xapi_port_ = xapi["port"];
        metrics_port_ = serving["metrics_port"];
      }
      if (metrics_port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GT(xapi_port_, 0) << ReadFile(log_);
    ASSERT_GT(metrics_port_, 0) << ReadFile(log_);
  }

  // Runs the server expecting it to refuse to start; returns its log.
  std::string ExpectRefusesToStart(const std::vector<std::string>& argv) {
    absl::StatusOr<Subprocess> p = Subprocess::Start(argv, log_);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return "";
    absl::StatusOr<int> status = p->Wait(std::chrono::seconds(20));
    EXPECT_TRUE(status.ok()) << "still running: " << ReadFile(log_);
    if (status.ok()) {
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << ReadFile(log_);
    }
    return ReadFile(log_);
  }

  grpc::Status Echo(const std::string& token) {
    auto stub = v1::LearningRecordService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::EchoRequest req;
    req.set_payload("ping");
    v1::EchoResponse resp;
    return stub->Echo(&ctx, req, &resp);
  }

  std::unique_ptr<v1::LearningRecordService::Stub> Stub() {
    return v1::LearningRecordService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_), grpc::InsecureChannelCredentials()));
  }
  static std::unique_ptr<grpc::ClientContext> Bearer(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return ctx;
  }

  int XapiStatus(const std::string& user_pass) {
    httplib::Client c("127.0.0.1", xapi_port_);
    c.set_read_timeout(5, 0);
    httplib::Result r = c.Get("/xapi/statements?limit=1", {{"Authorization", "Basic " + absl::Base64Escape(user_pass)},
                                                           {"X-Experience-API-Version", "2.0.0"}});
    return r ? r->status : -1;
  }

  std::string Metrics() {
    httplib::Client c("127.0.0.1", metrics_port_);
    httplib::Result r = c.Get("/metrics");
    return r ? r->body : "";
  }

  std::string dir_, revocation_file_, own_credentials_, log_;
  std::vector<std::string> extra_flags_;  // appended to Argv's
  std::unique_ptr<Subprocess> server_;
  int grpc_port_ = 0, xapi_port_ = 0, metrics_port_ = 0;
};

TEST_F(RecordsServerAttackTest, RemovingTheRevocationFileDoesNotReviveRevokedTokens) {
  StartServing(own_credentials_);
  const std::string revoked = Token("u-revoked");
  const std::string honest = Token("u-honest");
  grpc::Status s = Echo(revoked);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_TRUE(Echo(honest).ok());

  ASSERT_EQ(std::remove(revocation_file_.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the 1 s re-check
  s = Echo(revoked);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << "the revoked token was accepted once the revocation file was removed";
  EXPECT_NE(s.error_message().find("revoked"), std::string::npos) << s.error_message();
  EXPECT_TRUE(Echo(honest).ok());
  const std::string metrics = Metrics();
  EXPECT_NE(metrics.find("lifelong_auth_revocation_file_ok 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("lifelong_auth_revocation_load_errors_total"), std::string::npos);
  // The revocation alert (ops/prometheus/alerts.yml) uses only these metrics.
  absl::StatusOr<std::set<std::string>> alert_names =
      testing::AlertMetricNames(testing::RunfilePath(testing::kAlertRulesPath));
  ASSERT_TRUE(alert_names.ok()) << alert_names.status();
  EXPECT_THAT(testing::UndeclaredMetrics(*alert_names, {"lifelong_auth_revocation_"}, {metrics}), ::testing::IsEmpty());
  EXPECT_NE(ReadFile(log_).find("auth_revocation_file_unreadable"), std::string::npos);

  // An emptied (not removed) file is a deliberate change: it takes effect.
  std::ofstream(revocation_file_) << "# nothing revoked\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(Echo(revoked).ok());
  EXPECT_NE(Metrics().find("lifelong_auth_revocation_file_ok 1"), std::string::npos);
}

TEST_F(RecordsServerAttackTest, ARevokedLearnerGetsNoKioskSession) {
  // sub:u-revoked is on the list: the learner's own tokens are refused, and
  // so must be a kiosk session for them, obtained with their learner card
  // (a lost card and PIN, an account closed) or used after the revocation.
  StartServing(own_credentials_);
  auto stub = Stub();
  v1::BindLearnerCardRequest bind;
  bind.set_card_number("110100000428");
  bind.set_learner("u-revoked");
  bind.set_pin("2580");
  v1::LearnerCard card;
  grpc::Status s = stub->BindLearnerCard(Bearer(Token("desk", auth::Role::kOperator)).get(), bind, &card);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string kiosk = Token("kiosk-hepingli-01", auth::Role::kKiosk);
  v1::RedeemLearnerCardRequest redeem;
  redeem.set_card_number("110100000428");
  redeem.set_pin("2580");
  v1::KioskSession session;
  s = stub->RedeemLearnerCard(Bearer(kiosk).get(), redeem, &session);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_TRUE(session.token().empty());
  // A session minted for them (by a server without the list, or before the
  // revocation) is refused too.
  auth::Principal minted;
  minted.subject = "kiosk-hepingli-01";
  minted.role = auth::Role::kKiosk;
  minted.venue = "和平里社区学校";
  minted.learner = "u-revoked";
  auth::TokenOptions o;
  o.key = kKey;
  v1::GetTranscriptRequest tr;
  tr.set_learner("u-revoked");
  v1::Transcript t;
  s = stub->GetTranscript(Bearer(*auth::MintToken(minted, absl::Minutes(5), o)).get(), tr, &t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  // The kiosk itself, and sessions of other learners, are unaffected.
  EXPECT_TRUE(Echo(kiosk).ok());
  minted.learner = "u-honest";
  tr.set_learner("u-honest");
  s = stub->GetTranscript(Bearer(*auth::MintToken(minted, absl::Minutes(5), o)).get(), tr, &t);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// Public-key tokens on a real server: with the Ed25519 private key the record
// service accepts the tokens of its pair only (not an HS256 token, not one
// MACed with the public key's text, not another pair's) and mints EdDSA kiosk
// sessions; given the public key alone it verifies the same tokens and
// cannot mint a session.
TEST_F(RecordsServerAttackTest, EdDsaKeysAcceptTheirPairsTokensOnly) {
  ASSERT_TRUE(auth::WriteEd25519KeyPair(dir_ + "/jwt.key", dir_ + "/jwt-verify.pem").ok());
  ASSERT_TRUE(auth::WriteEd25519KeyPair(dir_ + "/other.key", dir_ + "/other.pem").ok());
  auto mint = [&](const std::string& key_file, const std::string& subject, auth::Role role) {
    auth::Principal p;
    p.subject = subject;
    p.role = role;
    if (role == auth::Role::kKiosk) p.venue = "和平里社区学校";
    auth::TokenOptions o;
    o.key = *auth::LoadKeyFile(key_file);
    return *auth::MintToken(p, absl::Minutes(10), o);
  };
  const std::string learner = mint(dir_ + "/jwt.key", "u-honest", auth::Role::kLearner);
  const std::string operator_token = mint(dir_ + "/jwt.key", "desk", auth::Role::kOperator);
  const std::string kiosk = mint(dir_ + "/jwt.key", "kiosk-hepingli-01", auth::Role::kKiosk);
  // An HS256 token whose secret is the public key file's text.
  const std::string public_text = *auth::LoadKeyFile(dir_ + "/jwt-verify.pem");
  std::vector<std::string> refused = {Token("u-honest"), mint(dir_ + "/other.key", "u-honest", auth::Role::kLearner)};
  {
    std::vector<std::string> parts = absl::StrSplit(learner, '.');
    const std::string header = absl::WebSafeBase64Escape(R"({"alg":"HS256","typ":"JWT"})");
    const std::string input = absl::StrCat(header, ".", parts[1]);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), public_text.data(), static_cast<int>(public_text.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
    refused.push_back(
        absl::StrCat(input, ".", absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(mac), mac_len))));
  }

  StartServing(own_credentials_);
  EXPECT_TRUE(Echo(learner).ok());
  for (const std::string& t : refused) EXPECT_EQ(Echo(t).error_code(), grpc::StatusCode::UNAUTHENTICATED) << t;
  auto stub = Stub();
  v1::BindLearnerCardRequest bind;
  bind.set_card_number("110100000428");
  bind.set_learner("u-honest");
  bind.set_pin("2580");
  v1::LearnerCard card;
  grpc::Status s = stub->BindLearnerCard(Bearer(operator_token).get(), bind, &card);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::RedeemLearnerCardRequest redeem;
  redeem.set_card_number("110100000428");
  redeem.set_pin("2580");
  v1::KioskSession session;
  s = stub->RedeemLearnerCard(Bearer(kiosk).get(), redeem, &session);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::string header;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(session.token().substr(0, session.token().find('.')), &header));
  EXPECT_NE(header.find("EdDSA"), std::string::npos) << header;
  v1::GetTranscriptRequest tr;
  tr.set_learner("u-honest");
  v1::Transcript t;
  s = stub->GetTranscript(Bearer(session.token()).get(), tr, &t);
  EXPECT_TRUE(s.ok()) << s.error_message();

  // The same store, the public key alone.
  server_.reset();
  std::remove((dir_ + "/port").c_str());
  std::rename((dir_ + "/jwt-verify.pem").c_str(), (dir_ + "/jwt.key").c_str());
  log_ = dir_ + "/server-public.log";
  grpc_port_ = xapi_port_ = metrics_port_ = 0;
  StartServing(own_credentials_);
  EXPECT_NE(ReadFile(log_).find("Ed25519 public key"), std::string::npos) << "auth_key_loaded names the kind";
  EXPECT_TRUE(Echo(learner).ok());
  for (const std::string& t : refused) EXPECT_EQ(Echo(t).error_code(), grpc::StatusCode::UNAUTHENTICATED) << t;
  stub = Stub();
  s = stub->RedeemLearnerCard(Bearer(kiosk).get(), redeem, &session);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("cannot sign"), std::string::npos) << s.error_message();

  // The stack's setup: the public key and the kiosk-session private key. The
  // server mints sessions (under the session key's "kid") that it and every
  // service with the session public key accept, and nothing else.
  server_.reset();
  std::remove((dir_ + "/port").c_str());
  ASSERT_TRUE(auth::WriteEd25519KeyPair(dir_ + "/kiosk-session.key", dir_ + "/kiosk-session.pem").ok());
  extra_flags_ = {"--auth_session_key_file=" + dir_ + "/kiosk-session.key"};
  log_ = dir_ + "/server-session.log";
  grpc_port_ = xapi_port_ = metrics_port_ = 0;
  StartServing(own_credentials_);
  EXPECT_NE(ReadFile(log_).find("auth_session_key_loaded"), std::string::npos) << ReadFile(log_);
  stub = Stub();
  s = stub->RedeemLearnerCard(Bearer(kiosk).get(), redeem, &session);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(absl::WebSafeBase64Unescape(session.token().substr(0, session.token().find('.')), &header));
  EXPECT_NE(header.find(R"("kid":"kiosk-session")"), std::string::npos) << header;
  s = stub->GetTranscript(Bearer(session.token()).get(), tr, &t);
  EXPECT_TRUE(s.ok()) << s.error_message();
  auth::TokenOptions service;
  service.key = *auth::LoadKeyFile(dir_ + "/jwt.key");  // the public key (renamed above)
  service.session_key = *auth::LoadKeyFile(dir_ + "/kiosk-session.pem");
  absl::StatusOr<auth::Principal> verified = auth::TokenVerifier(service).Verify(session.token());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->learner, "u-honest");
  // The session's learner only: another learner's transcript is refused.
  tr.set_learner("u-other");
  s = stub->GetTranscript(Bearer(session.token()).get(), tr, &t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  // A session key that is an HS256 secret, or no main key: refused at start.
  server_.reset();
  std::ofstream(dir_ + "/secret.key") << kKey << "\n";
  extra_flags_ = {"--auth_session_key_file=" + dir_ + "/secret.key"};
  std::string refusal = ExpectRefusesToStart(Argv(own_credentials_));
  EXPECT_NE(refusal.find("--auth_session_key_file: must be an Ed25519 key"), std::string::npos) << refusal;
}

TEST_F(RecordsServerAttackTest, MissingRevocationFileAtStartRefusesToStart) {
  std::remove(revocation_file_.c_str());
  const std::string log = ExpectRefusesToStart(Argv(own_credentials_));
  EXPECT_NE(log.find("--auth_revocation_file"), std::string::npos) << log;
}

TEST_F(RecordsServerAttackTest, RepositoryCredentialsFileIsRefusedWithAuthOn) {
  // Named explicitly, and as the flag's default (ops/xapi/dev-credentials.txt
  // relative to the working directory, the runfiles tree here).
  for (const std::string& credentials : {RunfilePath("ops/xapi/dev-credentials.txt"), std::string()}) {
    const std::string log = ExpectRefusesToStart(Argv(credentials));
    EXPECT_NE(log.find("xapi_credentials"), std::string::npos) << log;
    EXPECT_NE(log.find("development-only"), std::string::npos) << log;
  }
}

TEST_F(RecordsServerAttackTest, RepositoryPasswordCopiedIntoAnotherFileIsRefused) {
  const std::string copied = dir_ + "/copied.txt";
  // Every password of the repository's file, under another user name.
  std::ofstream out(copied);
  std::istringstream lines(ReadFile(RunfilePath("ops/xapi/dev-credentials.txt")));
  std::string line;
  int users = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    out << "feed" << users++ << line.substr(line.find(':')) << "\n";
  }
  out.close();
  ASSERT_GT(users, 0);
  const std::string log = ExpectRefusesToStart(Argv(copied));
  EXPECT_NE(log.find("committed to the repository"), std::string::npos) << log;
}

TEST_F(RecordsServerAttackTest, OwnCredentialsServeAndTheRepositoryPasswordIsUnauthorized) {
  StartServing(own_credentials_);
  EXPECT_EQ(XapiStatus("lms:generated-Zq3xV9-per-stack"), 200);
  EXPECT_EQ(XapiStatus("lifelong:lifelong-dev"), 401);
  EXPECT_EQ(XapiStatus("lms:lifelong-dev"), 401);
}

}  // namespace
}  // namespace lifelong
