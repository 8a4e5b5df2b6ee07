#include "tests/testing/records_fixture.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/auth/token.h"

namespace lifelong::testing {

std::unique_ptr<auth::Authorizer> TestAuthorizer(const std::string& key) {
  auth::AuthOptions o;
  o.enabled = true;
  o.token.key = key;
  o.limits.requests_per_second = 1000;
  o.limits.burst = 1000;
  return std::make_unique<auth::Authorizer>(o);
}

auth::Principal TestPrincipal(auth::Role role, const std::string& subject, const std::string& venue,
                              const std::vector<std::string>& courses) {
  auth::Principal p;
  p.role = role;
  p.subject = subject;
  if (role == auth::Role::kKiosk) p.venue = venue;
  if (role == auth::Role::kTeacher) p.courses = courses;
  p.token_id = "jti-" + subject;
  return p;
}

absl::StatusOr<std::unique_ptr<TestRecordsServer>> TestRecordsServer::Start(const std::string& dir,
                                                                            TestRecordsServerOptions options) {
  std::unique_ptr<TestRecordsServer> t(new TestRecordsServer());
  t->key_ = options.key;
  t->authorizer_ = TestAuthorizer(options.key);
  records::RecordsServerOptions o;
  o.data_dir = dir + "/records";
  o.block_cache_bytes = size_t{8} << 20;
  o.service = std::move(options.service);
  o.service.authorizer = t->authorizer_.get();
  if (!options.xapi_credentials.empty()) {
    const std::string file = dir + "/xapi-credentials.txt";
    std::ofstream(file) << options.xapi_credentials;
    o.xapi_documents_dir = dir + "/docs";
    records::RecordsXapiOptions x;
    x.http.port = 0;
    x.credentials_file = file;
    o.xapi = std::move(x);
  }
  o.shutdown_grace = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<records::RecordsServer>> server = records::RecordsServer::Start(std::move(o));
  if (!server.ok()) return server.status();
  t->server_ = std::move(*server);
  t->stub_ = v1::LearningRecordService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", t->server_->port()), grpc::InsecureChannelCredentials()));
  return t;
}

std::string TestRecordsServer::Token(const auth::Principal& p) const {
  auth::TokenOptions o;
  o.key = key_;
  absl::StatusOr<std::string> token = auth::MintToken(p, absl::Minutes(5), o);
  if (!token.ok()) {
    std::fprintf(stderr, "MintToken(%s): %s\n", p.subject.c_str(), token.status().ToString().c_str());
    std::abort();
  }
  return *token;
}

std::unique_ptr<grpc::ClientContext> TestRecordsServer::BearerContext(const std::string& token) {
  auto c = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
  return c;
}

}  // namespace lifelong::testing
