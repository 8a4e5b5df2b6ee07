// Test helper: the set-up that tests of the record service share.
//
//  - FakeClock, FreshStore, OpenStore: test_store.h.
//  - TestAuthorizer(key): authentication on, tokens signed with `key`, rate
//    limits high enough that no test meets them by accident.
//  - TestRecordsServer: a whole record server in this process
//    (records::RecordsServer: store, gRPC on port 0, optionally xAPI on port
//    0) behind TestAuthorizer, with a stub and bearer-token contexts:
//
//      TestRecordsServerOptions o;
//      o.key = kKey;
//      o.service.learner_cards.pbkdf2_iterations = 100;
//      auto records = TestRecordsServer::Start(FreshTempDir("name"), o);
//      records->stub().GetTranscript(records->Context(principal).get(), ...);
//
// Not thread-safe to set up; the server itself serves from any thread.
#ifndef LIFELONG_TESTS_TESTING_RECORDS_FIXTURE_H_
#define LIFELONG_TESTS_TESTING_RECORDS_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/records/record_store.h"
#include "services/records/records_server.h"
#include "services/records/records_service.h"
#include "tests/testing/test_store.h"

namespace lifelong::testing {

// Authentication on with HS256 tokens signed with `key`; 1000 calls a second
// per principal (burst 1000).
std::unique_ptr<auth::Authorizer> TestAuthorizer(const std::string& key);

struct TestRecordsServerOptions {
  // The token signing key of the authorizer and of Token()/Context().
  std::string key;
  // Contents of the xAPI credentials file (credentials.h lines); empty: no
  // xAPI endpoint (and no xAPI document store).
  std::string xapi_credentials;
  // Kiosk passes, learner cards, audit sampling, ...; the authorizer is the
  // server's own (TestAuthorizer(key)).
  records::RecordsService::Options service;
};

// A principal as a test's tokens name it: `role` and `subject`, token id
// "jti-<subject>"; a kiosk at `venue`, a teacher running `courses`.
auth::Principal TestPrincipal(auth::Role role, const std::string& subject, const std::string& venue = "和平里社区学校",
                              const std::vector<std::string>& courses = {"c1"});

class TestRecordsServer {
 public:
  // Starts a server with its data under `dir`. The errors of
  // RecordsServer::Start.
  static absl::StatusOr<std::unique_ptr<TestRecordsServer>> Start(const std::string& dir,
                                                                  TestRecordsServerOptions options);

  auth::Authorizer& authorizer() { return *authorizer_; }
  records::RecordStore& store() { return server_->store(); }
  records::RecordsServer& server() { return *server_; }
  v1::LearningRecordService::Stub& stub() { return *stub_; }
  int port() const { return server_->port(); }
  // -1 without xAPI credentials.
  int xapi_port() const { return server_->xapi_port(); }

  // A bearer token for `p`, valid for five minutes.
  std::string Token(const auth::Principal& p) const;
  // A client context that presents `token` ("" : none).
  static std::unique_ptr<grpc::ClientContext> BearerContext(const std::string& token);
  // BearerContext(Token(p)).
  std::unique_ptr<grpc::ClientContext> Context(const auth::Principal& p) const { return BearerContext(Token(p)); }

 private:
  TestRecordsServer() = default;

  std::string key_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<records::RecordsServer> server_;
  std::unique_ptr<v1::LearningRecordService::Stub> stub_;
};

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_TESTING_RECORDS_FIXTURE_H_
