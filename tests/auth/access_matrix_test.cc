// Authorization end to end: the role x operation matrix of the role table
// (services/auth/permissions.cc) over real gRPC and HTTP connections to the
// record and catalog services; record-level scopes; bad credentials;
// revocation; rate limits; kiosk passes; the audit log.
#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/auth/permissions.h"
#include "services/auth/token.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/catalog_store.h"
#include "services/common/server.h"
#include "services/domain/vocabulary.h"
#include "services/records/backups.h"
#include "services/records/record_store.h"
#include "services/records/records_service.h"
#include "services/records/test_statements.h"
#include "services/xapi/credentials.h"
#include "services/xapi/document_store.h"
#include "services/xapi/xapi_handler.h"
#include "services/xapi/xapi_http_server.h"

namespace lifelong {
namespace {

using auth::Principal;
using auth::Role;
using records::testing::MakeStatement;
using records::testing::StatementSpec;
using records::testing::TestUuid;

constexpr char kKey[] = "access-matrix-test-key-0123456789abcdef";
constexpr char kVenue[] = "和平里社区学校";
// A well-formed learner card number (12 digits, Luhn check digit).
constexpr char kMatrixCard[] = "110100000774";

std::string TmpDir(const std::string& name) {
  std::string d = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

Principal Of(Role role) {
  Principal p;
  p.role = role;
  switch (role) {
    case Role::kLearner:
      p.subject = "u1";
      break;
    case Role::kKiosk:
      p.subject = "kiosk-hepingli-01";
      p.venue = kVenue;
      break;
    case Role::kTeacher:
      p.subject = "teacher-li";
      p.courses = {"c1"};
      break;
    case Role::kOperator:
      p.subject = "operator-wang";
      break;
    case Role::kTrainer:
      p.subject = "svc-trainer";
      break;
    case Role::kRecommender:
      p.subject = "svc-recommender";
      break;
    case Role::kLoader:
      p.subject = "svc-loader";
      break;
  }
  p.token_id = absl::StrCat("jti-", p.subject);
  return p;
}

class AccessMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = TmpDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    revocation_file_ = dir + "/revoked.txt";
    std::ofstream(revocation_file_) << "# none yet\n";
    auth::AuthOptions o;
    o.enabled = true;
    o.token.key = kKey;
    o.revocation_file = revocation_file_;
    o.limits.requests_per_second = 1000;
    o.limits.burst = 1000;
    authorizer_ = std::make_unique<auth::Authorizer>(o);

    store_ = std::move(*records::RecordStore::Open(dir + "/records"));
    docs_ = std::move(*xapi::DocumentStore::Open(dir + "/docs"));
    records::RecordsService::Options ro;
    ro.authorizer = authorizer_.get();
    ro.erase_hook = [this](const std::string& l) { return docs_->EraseLearner(l); };
    records::BackupManagerOptions bo;
    bo.backup_dir = dir + "/backups";
    bo.documents_db = [this] { return docs_->rocks_for_backup(); };
    backups_ = std::move(*records::BackupManager::Open(store_.get(), bo));
    ro.backups = backups_.get();
    records_ = std::make_unique<records::RecordsService>(store_.get(), ro);
    catalog_store_ = std::move(*catalog::CatalogStore::Open(dir + "/catalog"));
    catalog_ = std::make_unique<catalog::CatalogService>(catalog_store_.get(), authorizer_.get());
    auto server = StartGrpcServer(GrpcServerOptions{}, {records_.get(), catalog_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    rec_ = v1::LearningRecordService::NewStub(channel);
    cat_ = v1::CourseCatalogService::NewStub(channel);

    credentials_ = std::make_unique<xapi::Credentials>(
        *xapi::Credentials::Parse("feed:feed-secret role=loader\nu1app:u1-secret role=learner subject=u1\n"
                                  "u2app:u2-secret role=learner subject=u2\n"));
    handler_ = std::make_unique<xapi::XapiHandler>(store_.get(), docs_.get(), credentials_.get(), "/xapi", "2.0.0",
                                                   authorizer_.get());
    xapi::XapiHttpOptions xo;
    xo.port = 0;
    http_ = std::move(*xapi::XapiHttpServer::Start(xo, handler_.get()));

    // Fixtures: u1's statement in course c1, u2's in course c2 (by the loader).
    ASSERT_TRUE(Record(Role::kLoader, {.id = TestUuid(1), .learner = "u1", .course = "c1"}).ok());
    ASSERT_TRUE(Record(Role::kLoader, {.id = TestUuid(2), .learner = "u2", .course = "c2"}).ok());
  }

  std::string Token(const Principal& p, absl::Duration ttl = absl::Minutes(5)) {
    auth::TokenOptions o;
    o.key = kKey;
    return *auth::MintToken(p, ttl, o);
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const Principal& p) {
    auto c = std::make_unique<grpc::ClientContext>();
    c->AddMetadata("authorization", "Bearer " + Token(p));
    return c;
  }

  grpc::Status Record(Role role, const StatementSpec& spec) {
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement(spec));
    v1::Statement out;
    return rec_->RecordStatement(Ctx(Of(role)).get(), req, &out);
  }

  template <typename Stream>
  grpc::Status Drain(Stream reader) {
    v1::Statement s;
    while (reader->Read(&s)) {
    }
    return reader->Finish();
  }

  // Calls `method` as `role` with a request inside the role's scope.
  grpc::Status CallRecords(const std::string& method, Role role) {
    Principal p = Of(role);
    std::string self = role == Role::kLearner ? "u1" : "u2";
    // A kiosk reads a history or transcript only in a session of the learner
    // who signed in with a pass (bound-learner scope); here u1's.
    if (role == Role::kKiosk && (method == "ListStatements" || method == "GetTranscript")) p.learner = "u1";
    auto ctx = Ctx(p);
    if (method == "RecordStatement" || method == "RecordStatements") {
      StatementSpec spec{.learner = self, .course = role == Role::kTeacher ? "c1" : "c9"};
      if (role == Role::kKiosk) {
        spec.verb = "attended";
        spec.venue = kVenue;
      }
      if (method == "RecordStatement") {
        v1::RecordStatementRequest r;
        r.set_statement_json(MakeStatement(spec));
        v1::Statement out;
        return rec_->RecordStatement(ctx.get(), r, &out);
      }
      v1::RecordStatementsRequest r;
      r.add_statement_json(MakeStatement(spec));
      v1::RecordStatementsResponse out;
      return rec_->RecordStatements(ctx.get(), r, &out);
    }
    if (method == "GetStatement") {
      v1::GetStatementRequest r;
      r.set_id(TestUuid(1));  // u1's, course c1
      v1::Statement out;
      return rec_->GetStatement(ctx.get(), r, &out);
    }
    if (method == "ListStatements") {
      v1::ListStatementsRequest r;
      if (role == Role::kTeacher) {
        r.set_activity(vocab::CourseIri("c1"));
      } else {
        r.set_learner("u1");
      }
      v1::ListStatementsResponse out;
      return rec_->ListStatements(ctx.get(), r, &out);
    }
    if (method == "VoidStatement") {
      static int next = 100;
      std::string id = TestUuid(++next);
      EXPECT_TRUE(Record(Role::kLoader, {.id = id, .learner = "u1", .course = "c1"}).ok());
      v1::VoidStatementRequest r;
      r.set_id(id);
      v1::Statement out;
      return rec_->VoidStatement(ctx.get(), r, &out);
    }
    if (method == "GetTranscript") {
      v1::GetTranscriptRequest r;
      r.set_learner("u1");
      v1::Transcript out;
      return rec_->GetTranscript(ctx.get(), r, &out);
    }
    if (method == "ExportLearner") {
      v1::ExportLearnerRequest r;
      r.set_learner("u1");
      return Drain(rec_->ExportLearner(ctx.get(), r));
    }
    if (method == "EraseLearner") {
      v1::EraseLearnerRequest r;
      r.set_learner(role == Role::kLearner ? "u1" : "u-nobody");
      v1::EraseLearnerResponse out;
      return rec_->EraseLearner(ctx.get(), r, &out);
    }
    if (method == "ExportStatements") {
      v1::ExportStatementsRequest r;
      return Drain(rec_->ExportStatements(ctx.get(), r));
    }
    if (method == "GetErasureEpoch") {
      v1::ErasureEpoch out;
      return rec_->GetErasureEpoch(ctx.get(), v1::GetErasureEpochRequest(), &out);
    }
    if (method == "WatchLearnerChanges") {
      auto stream = rec_->WatchLearnerChanges(ctx.get());
      v1::LearnerChanges first;
      if (stream->Read(&first)) {  // granted: the "live" message, then hang up
        EXPECT_EQ(first.sequence(), 0);
        ctx->TryCancel();
      }
      grpc::Status s = stream->Finish();
      return s.error_code() == grpc::StatusCode::CANCELLED ? grpc::Status::OK : s;
    }
    if (method == "ListAuditEvents") {
      v1::ListAuditEventsRequest r;
      v1::ListAuditEventsResponse out;
      return rec_->ListAuditEvents(ctx.get(), r, &out);
    }
    if (method == "CreateKioskPass") {
      v1::CreateKioskPassRequest r;
      v1::KioskPass out;
      return rec_->CreateKioskPass(ctx.get(), r, &out);
    }
    if (method == "RedeemKioskPass") {
      v1::RedeemKioskPassRequest r;
      r.set_code("00000000");
      v1::KioskSession out;
      return rec_->RedeemKioskPass(ctx.get(), r, &out);
    }
    if (method == "BindLearnerCard") {
      v1::BindLearnerCardRequest r;
      r.set_card_number(kMatrixCard);
      r.set_learner("u2");
      r.set_pin("2580");
      v1::LearnerCard out;
      return rec_->BindLearnerCard(ctx.get(), r, &out);
    }
    if (method == "UnbindLearnerCard" || method == "GetLearnerCard") {
      v1::LearnerCard out;
      if (method == "GetLearnerCard") {
        v1::GetLearnerCardRequest r;
        r.set_card_number(kMatrixCard);
        return rec_->GetLearnerCard(ctx.get(), r, &out);
      }
      v1::UnbindLearnerCardRequest r;
      r.set_card_number(kMatrixCard);
      return rec_->UnbindLearnerCard(ctx.get(), r, &out);
    }
    if (method == "RedeemLearnerCard") {
      v1::RedeemLearnerCardRequest r;
      r.set_card_number(kMatrixCard);
      r.set_pin("9713");
      v1::KioskSession out;
      return rec_->RedeemLearnerCard(ctx.get(), r, &out);
    }
    if (method == "Echo") {
      v1::EchoRequest r;
      v1::EchoResponse out;
      return rec_->Echo(ctx.get(), r, &out);
    }
    if (method == "CreateBackup") {
      v1::CreateBackupRequest r;
      v1::Backup out;
      return rec_->CreateBackup(ctx.get(), r, &out);
    }
    if (method == "ListBackups") {
      v1::ListBackupsRequest r;
      v1::ListBackupsResponse out;
      return rec_->ListBackups(ctx.get(), r, &out);
    }
    if (method == "VerifyBackup") {
      v1::VerifyBackupRequest r;
      r.set_backup_id(1);
      v1::Backup out;
      return rec_->VerifyBackup(ctx.get(), r, &out);
    }
    ADD_FAILURE() << "no call for " << method;
    return grpc::Status::OK;
  }

  grpc::Status CallCatalog(const std::string& method, Role role) {
    auto ctx = Ctx(Of(role));
    if (method == "CreateCourse") {
      v1::CreateCourseRequest r;
      v1::Course out;
      return cat_->CreateCourse(ctx.get(), r, &out);
    }
    if (method == "UpdateCourse") {
      v1::UpdateCourseRequest r;
      v1::Course out;
      return cat_->UpdateCourse(ctx.get(), r, &out);
    }
    if (method == "ArchiveCourse") {
      v1::ArchiveCourseRequest r;
      v1::Course out;
      return cat_->ArchiveCourse(ctx.get(), r, &out);
    }
    if (method == "GetCourse") {
      v1::GetCourseRequest r;
      r.set_id("c1");
      v1::Course out;
      return cat_->GetCourse(ctx.get(), r, &out);
    }
    if (method == "BatchGetCourses") {
      v1::BatchGetCoursesRequest r;
      v1::BatchGetCoursesResponse out;
      return cat_->BatchGetCourses(ctx.get(), r, &out);
    }
    if (method == "ListCourses") {
      v1::ListCoursesRequest r;
      v1::ListCoursesResponse out;
      return cat_->ListCourses(ctx.get(), r, &out);
    }
    if (method == "GetCatalogInfo") {
      v1::GetCatalogInfoRequest r;
      v1::CatalogInfo out;
      return cat_->GetCatalogInfo(ctx.get(), r, &out);
    }
    if (method == "Echo") {
      v1::EchoRequest r;
      v1::EchoResponse out;
      return cat_->Echo(ctx.get(), r, &out);
    }
    if (method == "PutProgramme") {
      v1::PutProgrammeRequest r;
      v1::Programme out;
      return cat_->PutProgramme(ctx.get(), r, &out);
    }
    if (method == "GetProgramme") {
      v1::GetProgrammeRequest r;
      r.set_id("p1");
      v1::Programme out;
      return cat_->GetProgramme(ctx.get(), r, &out);
    }
    if (method == "ListProgrammes") {
      v1::ListProgrammesRequest r;
      v1::ListProgrammesResponse out;
      return cat_->ListProgrammes(ctx.get(), r, &out);
    }
    // The catalog here runs without backups: FAILED_PRECONDITION once allowed.
    if (method == "CreateBackup") {
      v1::CatalogBackup out;
      return cat_->CreateBackup(ctx.get(), v1::CreateCatalogBackupRequest(), &out);
    }
    if (method == "ListBackups") {
      v1::ListCatalogBackupsResponse out;
      return cat_->ListBackups(ctx.get(), v1::ListCatalogBackupsRequest(), &out);
    }
    if (method == "VerifyBackup") {
      v1::VerifyCatalogBackupRequest r;
      r.set_backup_id(1);
      v1::CatalogBackup out;
      return cat_->VerifyBackup(ctx.get(), r, &out);
    }
    ADD_FAILURE() << "no call for " << method;
    return grpc::Status::OK;
  }

  httplib::Result Xapi(const std::string& method, const std::string& path, const std::string& authorization,
                       const std::string& body = "") {
    httplib::Client c("127.0.0.1", http_->port());
    httplib::Headers h = {{"X-Experience-API-Version", "2.0.0"}, {"Authorization", authorization}};
    if (method == "POST") return c.Post(path.c_str(), h, body, "application/json");
    if (method == "PUT") return c.Put(path.c_str(), h, body, "application/json");
    return c.Get(path.c_str(), h);
  }

  // The HTTP status of calling xAPI `resource` ("xapi:GET /statements") as
  // `role` with a bearer token and a request inside the role's scope.
  int CallXapi(const std::string& resource, Role role) {
    Principal p = Of(role);
    std::string self = role == Role::kLearner ? "u1" : "u2";
    std::string agent = httplib::detail::encode_query_param(
        absl::StrCat(R"({"account":{"homePage":"https://id.dongcheng.gov.cn","name":")", self, R"("}})"));
    std::string activity = httplib::detail::encode_query_param(vocab::CourseIri("c1"));
    std::string bearer = "Bearer " + Token(p);
    StatementSpec spec{.learner = self, .course = "c1"};
    if (role == Role::kKiosk) {
      spec.verb = "attended";
      spec.venue = kVenue;
    }
    static int next = 500;
    auto status = [](const httplib::Result& res) { return res ? res->status : -1; };
    if (resource == "xapi:POST /statements") {
      return status(Xapi("POST", "/xapi/statements", bearer, MakeStatement(spec)));
    } else if (resource == "xapi:PUT /statements") {
      spec.id = TestUuid(++next);
      return status(Xapi("PUT", "/xapi/statements?statementId=" + spec.id, bearer, MakeStatement(spec)));
    } else if (resource == "xapi:GET /statements") {
      return status(Xapi(
          "GET", role == Role::kTeacher ? "/xapi/statements?activity=" + activity : "/xapi/statements?agent=" + agent,
          bearer));
    } else if (resource == "xapi:GET /activities") {
      return status(Xapi("GET", "/xapi/activities?activityId=" + activity, bearer));
    } else if (resource == "xapi:GET /agents") {
      return status(Xapi("GET", "/xapi/agents?agent=" + agent, bearer));
    } else if (resource == "xapi:* /activities/state") {
      return status(Xapi("GET", "/xapi/activities/state?stateId=s&activityId=" + activity + "&agent=" + agent, bearer));
    } else if (resource == "xapi:* /agents/profile") {
      return status(Xapi("GET", "/xapi/agents/profile?profileId=p&agent=" + agent, bearer));
    } else if (resource == "xapi:* /activities/profile") {
      return status(Xapi("GET", "/xapi/activities/profile?profileId=p&activityId=" + activity, bearer));
    } else if (resource == "xapi:GET /about") {
      return status(Xapi("GET", "/xapi/about", bearer));
    } else {
      ADD_FAILURE() << "no call for " << resource;
      return 0;
    }
  }

  static std::string Basic(const std::string& user, const std::string& pass) {
    return "Basic " + absl::Base64Escape(user + ":" + pass);
  }

  std::string revocation_file_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<records::RecordStore> store_;
  std::unique_ptr<xapi::DocumentStore> docs_;
  std::unique_ptr<records::BackupManager> backups_;
  std::unique_ptr<records::RecordsService> records_;
  std::unique_ptr<catalog::CatalogStore> catalog_store_;
  std::unique_ptr<catalog::CatalogService> catalog_;
  std::unique_ptr<RunningGrpcServer> server_;
  std::unique_ptr<v1::LearningRecordService::Stub> rec_;
  std::unique_ptr<v1::CourseCatalogService::Stub> cat_;
  std::unique_ptr<xapi::Credentials> credentials_;
  std::unique_ptr<xapi::XapiHandler> handler_;
  std::unique_ptr<xapi::XapiHttpServer> http_;
};

// Every method of both services, for every role: granted calls are not
// refused, all others get PERMISSION_DENIED. Methods come from the service
// descriptors, so a new RPC missing from the table fails here (default deny
// would refuse it for everyone, and the row check below names it).
TEST_F(AccessMatrixTest, EveryRoleAndEveryMethodOfRecordsAndCatalog) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const google::protobuf::ServiceDescriptor* services[] = {pool->FindServiceByName("lifelong.v1.LearningRecordService"),
                                                           pool->FindServiceByName("lifelong.v1.CourseCatalogService")};
  ASSERT_NE(services[0], nullptr);
  ASSERT_NE(services[1], nullptr);
  int checked = 0;
  for (const auto* service : services) {
    for (int m = 0; m < service->method_count(); ++m) {
      std::string method = service->method(m)->name();
      std::string op = absl::StrCat("/", service->full_name(), "/", method);
      bool listed = false;
      for (const auto& row : auth::PermissionTable()) listed |= row.operation == op;
      EXPECT_TRUE(listed) << op << " is not in the role table";
      for (Role role : auth::AllRoles()) {
        bool granted = auth::GrantOf(op, role) != auth::Scope::kDenied;
        grpc::Status s = service == services[0] ? CallRecords(method, role) : CallCatalog(method, role);
        SCOPED_TRACE(absl::StrCat(op, " as ", auth::RoleName(role), ": ", s.error_code(), " ", s.error_message()));
        EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
        if (granted) {
          EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        } else {
          EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        }
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 7 * 20);
}

// Every xAPI resource of the role table, for every role, over HTTP.
TEST_F(AccessMatrixTest, EveryRoleAndEveryXapiResource) {
  int checked = 0;
  for (const auto& row : auth::PermissionTable()) {
    if (row.operation.rfind("xapi:", 0) != 0) continue;
    for (Role role : auth::AllRoles()) {
      int status = CallXapi(row.operation, role);
      SCOPED_TRACE(absl::StrCat(row.operation, " as ", auth::RoleName(role), ": HTTP ", status));
      EXPECT_NE(status, 401);
      EXPECT_GT(status, 0);
      if (auth::GrantOf(row.operation, role) == auth::Scope::kDenied) {
        EXPECT_EQ(status, 403);
      } else {
        EXPECT_NE(status, 403);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 9 * 7);
}

// Backups hold every learner's records: only operators create, list and
// verify them; every other role is refused, and so is a call without a
// credential. The refused calls leave no backup behind.
TEST_F(AccessMatrixTest, BackupsAreOperatorsOnly) {
  v1::CreateBackupRequest create;
  v1::Backup backup;
  for (Role role : {Role::kLearner, Role::kTeacher, Role::kKiosk, Role::kTrainer, Role::kRecommender, Role::kLoader}) {
    SCOPED_TRACE(auth::RoleName(role));
    EXPECT_EQ(rec_->CreateBackup(Ctx(Of(role)).get(), create, &backup).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    v1::ListBackupsRequest list;
    v1::ListBackupsResponse listed;
    EXPECT_EQ(rec_->ListBackups(Ctx(Of(role)).get(), list, &listed).error_code(), grpc::StatusCode::PERMISSION_DENIED);
    v1::VerifyBackupRequest verify;
    verify.set_backup_id(1);
    EXPECT_EQ(rec_->VerifyBackup(Ctx(Of(role)).get(), verify, &backup).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext none;
    EXPECT_EQ(rec_->CreateBackup(&none, create, &backup).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext forged;
    forged.AddMetadata("authorization", "Bearer not-a-token");
    v1::ListBackupsResponse listed;
    EXPECT_EQ(rec_->ListBackups(&forged, v1::ListBackupsRequest(), &listed).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_TRUE(backups_->List()->empty());
  // The operator: create, list, verify; bad ids are named.
  grpc::Status s = rec_->CreateBackup(Ctx(Of(Role::kOperator)).get(), create, &backup);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(backup.backup_id(), 1u);
  EXPECT_EQ(backup.statements(), 2u);
  EXPECT_TRUE(backup.has_documents());
  v1::ListBackupsResponse listed;
  ASSERT_TRUE(rec_->ListBackups(Ctx(Of(Role::kOperator)).get(), v1::ListBackupsRequest(), &listed).ok());
  ASSERT_EQ(listed.backups_size(), 1);
  EXPECT_EQ(listed.backups(0).backup_id(), 1u);
  v1::VerifyBackupRequest verify;
  verify.set_backup_id(1);
  v1::Backup verified;
  ASSERT_TRUE(rec_->VerifyBackup(Ctx(Of(Role::kOperator)).get(), verify, &verified).ok());
  EXPECT_EQ(verified.statements(), 2u);
  verify.set_backup_id(0);
  s = rec_->VerifyBackup(Ctx(Of(Role::kOperator)).get(), verify, &verified);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("backup_id"), std::string::npos);
  verify.set_backup_id(7);
  s = rec_->VerifyBackup(Ctx(Of(Role::kOperator)).get(), verify, &verified);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("backup_id"), std::string::npos);
  // Audited as operations on every learner's records.
  v1::ListAuditEventsRequest q;
  q.set_subject("operator-wang");
  v1::ListAuditEventsResponse events;
  ASSERT_TRUE(rec_->ListAuditEvents(Ctx(Of(Role::kOperator)).get(), q, &events).ok());
  bool audited = false;
  for (const auto& e : events.events()) {
    audited |= e.operation() == "/lifelong.v1.LearningRecordService/CreateBackup" && e.outcome() == "OK";
  }
  EXPECT_TRUE(audited);
}

TEST_F(AccessMatrixTest, RecordScopesRefuseOtherPeoplesRecords) {
  // A learner: not another learner's history, transcript, statement or writes.
  v1::ListStatementsRequest list;
  list.set_learner("u2");
  v1::ListStatementsResponse lr;
  EXPECT_EQ(rec_->ListStatements(Ctx(Of(Role::kLearner)).get(), list, &lr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListStatementsRequest everyone;
  EXPECT_EQ(rec_->ListStatements(Ctx(Of(Role::kLearner)).get(), everyone, &lr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::GetStatementRequest get;
  get.set_id(TestUuid(2));
  v1::Statement st;
  EXPECT_EQ(rec_->GetStatement(Ctx(Of(Role::kLearner)).get(), get, &st).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Record(Role::kLearner, {.learner = "u2"}).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A kiosk: only attendance at its own venue.
  EXPECT_EQ(Record(Role::kKiosk, {.learner = "u3", .verb = "attended", .venue = "东四社区学校"}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Record(Role::kKiosk, {.learner = "u3", .verb = "completed", .venue = kVenue}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Record(Role::kKiosk, {.learner = "u3", .verb = "attended", .venue = kVenue}).ok());
  // A teacher: only their course.
  v1::ListStatementsRequest other_course;
  other_course.set_activity(vocab::CourseIri("c2"));
  EXPECT_EQ(rec_->ListStatements(Ctx(Of(Role::kTeacher)).get(), other_course, &lr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(rec_->GetStatement(Ctx(Of(Role::kTeacher)).get(), get, &st).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AccessMatrixTest, MissingExpiredForgedWrongAudienceAndRevokedCredentials) {
  v1::EchoRequest r;
  v1::EchoResponse out;
  grpc::ClientContext none;
  EXPECT_EQ(rec_->Echo(&none, r, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto with = [&](const std::string& token) {
    grpc::ClientContext c;
    c.AddMetadata("authorization", "Bearer " + token);
    return rec_->Echo(&c, r, &out).error_code();
  };
  auth::TokenOptions o;
  o.key = kKey;
  o.now = [] { return absl::Now() - absl::Hours(2); };
  EXPECT_EQ(with(*auth::MintToken(Of(Role::kLearner), absl::Minutes(5), o)), grpc::StatusCode::UNAUTHENTICATED);
  auth::TokenOptions forged;
  forged.key = "some-other-key-some-other-key-some-other";
  EXPECT_EQ(with(*auth::MintToken(Of(Role::kOperator), absl::Minutes(5), forged)), grpc::StatusCode::UNAUTHENTICATED);
  auth::TokenOptions aud;
  aud.key = kKey;
  aud.audience = "another-system";
  EXPECT_EQ(with(*auth::MintToken(Of(Role::kLearner), absl::Minutes(5), aud)), grpc::StatusCode::UNAUTHENTICATED);
  std::string kiosk = Token(Of(Role::kKiosk));
  EXPECT_EQ(with(kiosk), grpc::StatusCode::OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::ofstream(revocation_file_, std::ios::app) << "sub:kiosk-hepingli-01\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(with(kiosk), grpc::StatusCode::UNAUTHENTICATED) << "revoked without a restart";
  // xAPI: no or bad Basic credentials are 401, a bearer token works too.
  EXPECT_EQ(Xapi("GET", "/xapi/statements", "")->status, 401);
  EXPECT_EQ(Xapi("GET", "/xapi/statements", Basic("feed", "wrong"))->status, 401);
  EXPECT_EQ(Xapi("GET", "/xapi/statements", "Bearer " + Token(Of(Role::kLoader)))->status, 200);
}

// The revocation list covers xAPI Basic users as it covers bearer tokens:
// "jti:basic:<user>" or "sub:<subject>" cuts one off without a restart,
// others keep working, and a revoked user's right password does not count
// as a wrong one against the user or the address.
TEST_F(AccessMatrixTest, RevokedXapiBasicUsersAreRefusedWithoutARestart) {
  std::string u1_agent =
      httplib::detail::encode_query_param(R"({"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}})");
  std::string u2_agent =
      httplib::detail::encode_query_param(R"({"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u2"}})");
  const std::string u1_statements = "/xapi/statements?agent=" + u1_agent;
  const std::string u2_statements = "/xapi/statements?agent=" + u2_agent;
  auto status = [](const httplib::Result& res) { return res ? res->status : -1; };
  auto revoke = [&](const std::string& entry) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new mtime, past the 1 s check
    std::ofstream(revocation_file_, std::ios::app) << entry << "\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  };
  EXPECT_EQ(status(Xapi("GET", "/xapi/statements", Basic("feed", "feed-secret"))), 200);
  EXPECT_EQ(status(Xapi("GET", u1_statements, Basic("u1app", "u1-secret"))), 200);
  EXPECT_EQ(status(Xapi("GET", u2_statements, Basic("u2app", "u2-secret"))), 200);

  // A learner user (role=learner subject=u1), revoked by its subject.
  revoke("sub:u1");
  httplib::Result refused = Xapi("GET", u1_statements, Basic("u1app", "u1-secret"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401) << "revoked without a restart";
  EXPECT_NE(refused->body.find("revoked"), std::string::npos) << refused->body;
  // More tries than the user's (5) and the address's (20) free failures:
  // each is 401, never 429, and the feed from the same address is unaffected.
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(status(Xapi("GET", u1_statements, Basic("u1app", "u1-secret"))), 401) << i;
  }
  EXPECT_EQ(status(Xapi("GET", "/xapi/statements", Basic("feed", "feed-secret"))), 200);
  // The same subject's bearer token is refused too (as over gRPC).
  EXPECT_EQ(status(Xapi("GET", u1_statements, "Bearer " + Token(Of(Role::kLearner)))), 401);

  // The feed user, revoked by its token id "basic:<user>".
  revoke("jti:basic:feed");
  EXPECT_EQ(status(Xapi("GET", "/xapi/statements", Basic("feed", "feed-secret"))), 401);
  EXPECT_EQ(status(Xapi("GET", "/xapi/statements", Basic("feed", "wrong"))), 401);
  // Other credentials still work: another Basic user, a loader's token.
  EXPECT_EQ(status(Xapi("GET", u2_statements, Basic("u2app", "u2-secret"))), 200);
  EXPECT_EQ(status(Xapi("GET", "/xapi/statements", "Bearer " + Token(Of(Role::kLoader)))), 200);
}

TEST_F(AccessMatrixTest, XapiBasicCredentialsMapOntoRoles) {
  std::string u1_agent = R"({"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}})";
  std::string u2_agent = R"({"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u2"}})";
  auto q = [](const std::string& agent) {
    return "/xapi/statements?agent=" + httplib::detail::encode_query_param(agent);
  };
  // The feed (loader) reads everything; the learner only with agent=self.
  EXPECT_EQ(Xapi("GET", "/xapi/statements", Basic("feed", "feed-secret"))->status, 200);
  EXPECT_EQ(Xapi("GET", q(u1_agent), Basic("u1app", "u1-secret"))->status, 200);
  EXPECT_EQ(Xapi("GET", q(u2_agent), Basic("u1app", "u1-secret"))->status, 403);
  EXPECT_EQ(Xapi("GET", "/xapi/statements", Basic("u1app", "u1-secret"))->status, 403);
  EXPECT_EQ(Xapi("POST", "/xapi/statements", Basic("u1app", "u1-secret"), MakeStatement({.learner = "u1"}))->status,
            200);
  EXPECT_EQ(Xapi("POST", "/xapi/statements", Basic("u1app", "u1-secret"), MakeStatement({.learner = "u2"}))->status,
            403);
  // A kiosk token may not read statements at all.
  EXPECT_EQ(Xapi("GET", q(u1_agent), "Bearer " + Token(Of(Role::kKiosk)))->status, 403);
  // xAPI access is audited too, refusals included.
  absl::StatusOr<records::AuditPage> audit = store_->ListAudit({.learner = "u2"});
  ASSERT_TRUE(audit.ok());
  bool saw_refusal = false;
  for (const records::AuditEvent& e : audit->events) {
    saw_refusal |= e.subject == "u1" && e.operation == "xapi:GET /statements" && e.outcome == "HTTP 403";
  }
  EXPECT_TRUE(saw_refusal);
}

TEST_F(AccessMatrixTest, RateLimitIsPerPrincipal) {
  auth::AuthOptions o = authorizer_->options();
  o.limits.requests_per_second = 1;
  o.limits.burst = 3;
  auth::Authorizer strict(o);
  records::RecordsService::Options ro;
  ro.authorizer = &strict;
  records::RecordsService limited(store_.get(), ro);
  auto server = StartGrpcServer(GrpcServerOptions{}, {&limited});
  ASSERT_TRUE(server.ok());
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  v1::EchoRequest r;
  v1::EchoResponse out;
  int ok = 0, exhausted = 0;
  for (int i = 0; i < 8; ++i) {
    grpc::Status s = stub->Echo(Ctx(Of(Role::kLearner)).get(), r, &out);
    if (s.ok()) ++ok;
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++exhausted;
  }
  EXPECT_LE(ok, 4);
  EXPECT_GE(exhausted, 4);
  EXPECT_TRUE(stub->Echo(Ctx(Of(Role::kTeacher)).get(), r, &out).ok()) << "another principal is not starved";
}

TEST_F(AccessMatrixTest, KioskPassGivesAShortSessionForOneLearner) {
  v1::KioskPass pass;
  ASSERT_TRUE(rec_->CreateKioskPass(Ctx(Of(Role::kLearner)).get(), v1::CreateKioskPassRequest(), &pass).ok());
  EXPECT_EQ(pass.code().size(), 8u);
  v1::RedeemKioskPassRequest redeem;
  redeem.set_code(pass.code());
  v1::KioskSession session;
  ASSERT_TRUE(rec_->RedeemKioskPass(Ctx(Of(Role::kKiosk)).get(), redeem, &session).ok());
  EXPECT_EQ(session.learner(), "u1");
  absl::StatusOr<Principal> p = authorizer_->Authenticate("Bearer " + session.token());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->role, Role::kKiosk);
  EXPECT_EQ(p->learner, "u1");
  EXPECT_EQ(p->venue, kVenue);
  EXPECT_LE(p->expires_us, absl::ToUnixMicros(absl::Now() + absl::Minutes(6)));
  // The session is good for that learner's recommendations only.
  absl::StatusOr<auth::AccessGrant> g =
      authorizer_->AuthorizePrincipal(*p, "/lifelong.v1.RecommendationService/Recommend");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(auth::CheckLearner(*g, "u1", "learner").ok());
  EXPECT_FALSE(auth::CheckLearner(*g, "u2", "learner").ok());
  // At the kiosk the learner sees their own history and transcript, nobody else's.
  auto session_ctx = [&] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->AddMetadata("authorization", "Bearer " + session.token());
    return c;
  };
  for (const char* who : {"u1", "u2"}) {
    v1::GetTranscriptRequest t;
    t.set_learner(who);
    v1::Transcript tr;
    v1::ListStatementsRequest l;
    l.set_learner(who);
    v1::ListStatementsResponse lr;
    const grpc::StatusCode want = std::string(who) == "u1" ? grpc::StatusCode::OK : grpc::StatusCode::PERMISSION_DENIED;
    EXPECT_EQ(rec_->GetTranscript(session_ctx().get(), t, &tr).error_code(), want) << who;
    EXPECT_EQ(rec_->ListStatements(session_ctx().get(), l, &lr).error_code(), want) << who;
  }
  // Single use.
  EXPECT_EQ(rec_->RedeemKioskPass(Ctx(Of(Role::kKiosk)).get(), redeem, &session).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AccessMatrixTest, AuditLogRecordsWhoReadWhatAndIsOperatorsOnly) {
  v1::GetTranscriptRequest t;
  t.set_learner("u1");
  v1::Transcript tr;
  ASSERT_TRUE(rec_->GetTranscript(Ctx(Of(Role::kLearner)).get(), t, &tr).ok());
  v1::ListStatementsRequest denied;
  denied.set_learner("u1");
  v1::ListStatementsResponse lr;
  EXPECT_EQ(rec_->ListStatements(Ctx(Of(Role::kKiosk)).get(), denied, &lr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListAuditEventsRequest q;
  q.set_learner("u1");
  v1::ListAuditEventsResponse events;
  EXPECT_EQ(rec_->ListAuditEvents(Ctx(Of(Role::kLearner)).get(), q, &events).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(rec_->ListAuditEvents(Ctx(Of(Role::kOperator)).get(), q, &events).ok());
  bool saw_transcript = false;
  for (const v1::AuditEvent& e : events.events()) {
    if (e.operation() == "/lifelong.v1.LearningRecordService/GetTranscript" && e.subject() == "u1" &&
        e.role() == "learner" && e.outcome() == "OK") {
      saw_transcript = true;
    }
  }
  EXPECT_TRUE(saw_transcript);
  // The refused kiosk call is audited too (the learner is not known before
  // the refusal, so it is found by operation and outcome).
  v1::ListAuditEventsRequest all;
  ASSERT_TRUE(rec_->ListAuditEvents(Ctx(Of(Role::kOperator)).get(), all, &events).ok());
  bool saw_denied = false;
  for (const v1::AuditEvent& e : events.events()) {
    saw_denied |=
        e.operation() == "/lifelong.v1.LearningRecordService/ListStatements" && e.outcome() == "PERMISSION_DENIED";
  }
  EXPECT_TRUE(saw_denied);
  // The recommender names the end user it reads a history for.
  auto rctx = Ctx(Of(Role::kRecommender));
  rctx->AddMetadata("x-lifelong-on-behalf-of", "kiosk-hepingli-01");
  v1::ListStatementsRequest history;
  history.set_learner("u1");
  ASSERT_TRUE(rec_->ListStatements(rctx.get(), history, &lr).ok());
  ASSERT_TRUE(rec_->ListAuditEvents(Ctx(Of(Role::kOperator)).get(), q, &events).ok());
  bool saw_on_behalf = false;
  for (const v1::AuditEvent& e : events.events()) {
    saw_on_behalf |= e.subject() == "svc-recommender" && e.detail() == "on behalf of kiosk-hepingli-01";
  }
  EXPECT_TRUE(saw_on_behalf);
}

TEST_F(AccessMatrixTest, ErasureRemovesStatementsAndXapiDocuments) {
  // u1 keeps an xAPI State document.
  xapi::DocKey key;
  key.kind = xapi::DocKind::kState;
  key.activity = vocab::CourseIri("c1");
  key.learner = "u1";
  key.id = "bookmark";
  ASSERT_TRUE(docs_->Put(key, "application/json", R"({"page":3})", xapi::WriteCondition{}, 1).ok());
  v1::EraseLearnerRequest r;
  r.set_learner("u1");
  v1::EraseLearnerResponse out;
  ASSERT_TRUE(rec_->EraseLearner(Ctx(Of(Role::kLearner)).get(), r, &out).ok());
  EXPECT_GE(out.erased_statements(), 1);
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u1"), 0);
  EXPECT_EQ(docs_->Get(key).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lifelong
