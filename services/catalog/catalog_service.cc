#include "services/catalog/catalog_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/auth/grpc_auth.h"
#include "services/catalog/course_validation.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/raw_request.h"

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;

// Refuses the call unless the role table grants `method` to the caller.
// Declares `grant`, the caller's grant, held until the handler returns: it
// is one of the caller's in-flight calls (AuthOptions::limits.max_in_flight).
#define LL_AUTHORIZE(authorizer, ctx, method)                                            \
  absl::StatusOr<auth::AccessGrant> grant =                                              \
      auth::AuthorizeCall(authorizer, ctx, "/lifelong.v1.CourseCatalogService/" method); \
  if (!grant.ok()) return ToGrpcStatus(grant.status())

// Whom the caller reads the catalog as (catalog_store.h, Viewer): learners
// and kiosks are the public, for whom drafts do not exist. Every other role
// manages or consumes the whole catalog: operators and the loader write it,
// the trainer and the recommender copy it (and filter what they offer),
// teachers are staff who prepare the courses they will teach. With
// authentication off every caller is an operator (grpc_auth.h), as before.
Viewer ViewerOf(const auth::AccessGrant& grant) {
  switch (grant.principal().role) {
    case auth::Role::kLearner:
    case auth::Role::kKiosk:
      return Viewer::kPublic;
    case auth::Role::kTeacher:
    case auth::Role::kOperator:
    case auth::Role::kTrainer:
    case auth::Role::kRecommender:
    case auth::Role::kLoader:
      return Viewer::kStaff;
  }
  return Viewer::kPublic;  // a role added later sees what the public sees
}

lifelong::v1::CatalogBackup ToProto(const CatalogBackupInfo& b) {
  lifelong::v1::CatalogBackup out;
  out.set_backup_id(b.id);
  out.mutable_create_time()->set_seconds(b.created_us / 1000000);
  out.mutable_create_time()->set_nanos(static_cast<int32_t>(b.created_us % 1000000) * 1000);
  out.set_size_bytes(b.size_bytes);
  out.set_files(b.files);
  out.set_generation(static_cast<int64_t>(b.generation));
  out.set_course_count(static_cast<int64_t>(b.courses));
  out.set_archived_count(static_cast<int64_t>(b.archived));
  out.set_programme_count(static_cast<int64_t>(b.programmes));
  return out;
}

// FAILED_PRECONDITION when the server runs without backups.
absl::Status BackupsConfigured(const CatalogBackupManager* backups) {
  if (backups != nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError("backups are off on this server (catalog_server --backup_dir)");
}

}  // namespace

CatalogService::CatalogService(CatalogStore* store, auth::Authorizer* authorizer, CatalogBackupManager* backups)
    : store_(store), auth_(authorizer), backups_(backups) {
  RegisterMethods();
}

size_t CatalogService::MaxRequestBytes(absl::string_view method) {
  if (method == "CreateCourse" || method == "UpdateCourse" || method == "PutProgramme") {
    return kMaxCatalogWriteRequestBytes;
  }
  if (method == "BatchGetCourses") return kMaxBatchGetRequestBytes;
  return kMaxCatalogQueryRequestBytes;
}

grpc::Status CatalogService::GateRequest(grpc::ServerContext* ctx, absl::string_view method,
                                         const grpc::ByteBuffer& raw, google::protobuf::Message* request) const {
  // The caller, and whether their role may call the method at all: a
  // learner's 512 KiB CreateCourse is refused before it is parsed. The
  // handler then authorizes the call as ever (LL_AUTHORIZE: limits, scope).
  if (auth_ != nullptr && auth_->enabled()) {
    absl::StatusOr<auth::Principal> caller = auth_->Authenticate(auth::AuthorizationHeader(ctx));
    if (!caller.ok()) return ToGrpcStatus(caller.status());
    const std::string op = absl::StrCat("/lifelong.v1.CourseCatalogService/", method);
    if (absl::Status granted = auth_->CheckRoleGranted(*caller, op); !granted.ok()) return ToGrpcStatus(granted);
  }
  return ToGrpcStatus(ParseRawRequest(method, MaxRequestBytes(method), raw, request));
}

void CatalogService::RegisterMethods() {
  // In proto order. catalog_request_gate_test checks that every method of
  // the proto's service is served, and through the gate.
  auto unary = [this](const char* method, auto handler) {
    AddMethod(GatedUnaryMethod(method_paths_.Path(method), method, this, &CatalogService::GateRequest, handler));
  };
  unary("CreateCourse", &CatalogService::CreateCourse);
  unary("GetCourse", &CatalogService::GetCourse);
  unary("BatchGetCourses", &CatalogService::BatchGetCourses);
  unary("UpdateCourse", &CatalogService::UpdateCourse);
  unary("ListCourses", &CatalogService::ListCourses);
  unary("ArchiveCourse", &CatalogService::ArchiveCourse);
  unary("GetCatalogInfo", &CatalogService::GetCatalogInfo);
  unary("Echo", &CatalogService::Echo);
  unary("PutProgramme", &CatalogService::PutProgramme);
  unary("GetProgramme", &CatalogService::GetProgramme);
  unary("ListProgrammes", &CatalogService::ListProgrammes);
  unary("CreateBackup", &CatalogService::CreateBackup);
  unary("ListBackups", &CatalogService::ListBackups);
  unary("VerifyBackup", &CatalogService::VerifyBackup);
}

grpc::Status CatalogService::CreateCourse(grpc::ServerContext* ctx, const lifelong::v1::CreateCourseRequest* request,
                                          Course* response) {
  LL_AUTHORIZE(auth_, ctx, "CreateCourse");
  Course course = request->course();
  if (!request->course_id().empty()) {
    if (absl::Status id = ValidateCourseId("course_id", request->course_id()); !id.ok()) return ToGrpcStatus(id);
    if (!course.id().empty() && course.id() != request->course_id()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("course_id: '", request->course_id(), "' differs from course.id '", course.id(), "'")));
    }
    course.set_id(request->course_id());
  }
  return ReplyWith(store_->CreateCourse(course), response);
}

grpc::Status CatalogService::GetCourse(grpc::ServerContext* ctx, const lifelong::v1::GetCourseRequest* request,
                                       Course* response) {
  LL_AUTHORIZE(auth_, ctx, "GetCourse");
  const Viewer viewer = ViewerOf(*grant);
  return ReplyWith(store_->GetCourse(request->id(), viewer), response);
}

grpc::Status CatalogService::BatchGetCourses(grpc::ServerContext* ctx,
                                             const lifelong::v1::BatchGetCoursesRequest* request,
                                             lifelong::v1::BatchGetCoursesResponse* response) {
  LL_AUTHORIZE(auth_, ctx, "BatchGetCourses");
  const Viewer viewer = ViewerOf(*grant);
  const std::vector<std::string> ids(request->ids().begin(), request->ids().end());
  absl::StatusOr<std::vector<Course>> courses = store_->BatchGetCourses(ids, viewer);
  if (!courses.ok()) return ToGrpcStatus(courses.status());
  for (Course& course : *courses) *response->add_courses() = std::move(course);
  return grpc::Status::OK;
}

grpc::Status CatalogService::UpdateCourse(grpc::ServerContext* ctx, const lifelong::v1::UpdateCourseRequest* request,
                                          Course* response) {
  LL_AUTHORIZE(auth_, ctx, "UpdateCourse");
  return ReplyWith(store_->UpdateCourse(request->course(), request->update_mask()), response);
}

grpc::Status CatalogService::ListCourses(grpc::ServerContext* ctx, const lifelong::v1::ListCoursesRequest* request,
                                         lifelong::v1::ListCoursesResponse* response) {
  LL_AUTHORIZE(auth_, ctx, "ListCourses");
  const Viewer viewer = ViewerOf(*grant);
  return ReplyWith(store_->ListCourses(*request, viewer), response);
}

grpc::Status CatalogService::ArchiveCourse(grpc::ServerContext* ctx, const lifelong::v1::ArchiveCourseRequest* request,
                                           Course* response) {
  LL_AUTHORIZE(auth_, ctx, "ArchiveCourse");
  return ReplyWith(store_->ArchiveCourse(request->id(), request->etag()), response);
}

grpc::Status CatalogService::GetCatalogInfo(grpc::ServerContext* ctx, const lifelong::v1::GetCatalogInfoRequest*,
                                            lifelong::v1::CatalogInfo* response) {
  LL_AUTHORIZE(auth_, ctx, "GetCatalogInfo");
  const Viewer viewer = ViewerOf(*grant);
  return ReplyWith(store_->GetCatalogInfo(viewer), response);
}

grpc::Status CatalogService::Echo(grpc::ServerContext* ctx, const lifelong::v1::EchoRequest* request,
                                  lifelong::v1::EchoResponse* response) {
  LL_AUTHORIZE(auth_, ctx, "Echo");
  response->set_payload(request->payload());
  return grpc::Status::OK;
}

grpc::Status CatalogService::PutProgramme(grpc::ServerContext* ctx, const lifelong::v1::PutProgrammeRequest* request,
                                          lifelong::v1::Programme* response) {
  LL_AUTHORIZE(auth_, ctx, "PutProgramme");
  return ReplyWith(store_->PutProgramme(request->programme()), response);
}

grpc::Status CatalogService::GetProgramme(grpc::ServerContext* ctx, const lifelong::v1::GetProgrammeRequest* request,
                                          lifelong::v1::Programme* response) {
  LL_AUTHORIZE(auth_, ctx, "GetProgramme");
  return ReplyWith(store_->GetProgramme(request->id()), response);
}

grpc::Status CatalogService::ListProgrammes(grpc::ServerContext* ctx, const lifelong::v1::ListProgrammesRequest*,
                                            lifelong::v1::ListProgrammesResponse* response) {
  LL_AUTHORIZE(auth_, ctx, "ListProgrammes");
  absl::StatusOr<std::vector<lifelong::v1::Programme>> all = store_->ListProgrammes();
  if (!all.ok()) return ToGrpcStatus(all.status());
  for (lifelong::v1::Programme& p : *all) *response->add_programmes() = std::move(p);
  return grpc::Status::OK;
}

grpc::Status CatalogService::CreateBackup(grpc::ServerContext* ctx, const lifelong::v1::CreateCatalogBackupRequest*,
                                          lifelong::v1::CatalogBackup* response) {
  LL_AUTHORIZE(auth_, ctx, "CreateBackup");
  if (absl::Status on = BackupsConfigured(backups_); !on.ok()) return ToGrpcStatus(on);
  absl::StatusOr<CatalogBackupInfo> b = backups_->Create();
  if (!b.ok()) return ToGrpcStatus(b.status());
  LogInfo("backup_created", {{"backup_id", static_cast<int64_t>(b->id)},
                             {"generation", static_cast<int64_t>(b->generation)},
                             {"trigger", "rpc"}});
  *response = ToProto(*b);
  return grpc::Status::OK;
}

grpc::Status CatalogService::ListBackups(grpc::ServerContext* ctx, const lifelong::v1::ListCatalogBackupsRequest*,
                                         lifelong::v1::ListCatalogBackupsResponse* response) {
  LL_AUTHORIZE(auth_, ctx, "ListBackups");
  if (absl::Status on = BackupsConfigured(backups_); !on.ok()) return ToGrpcStatus(on);
  absl::StatusOr<std::vector<CatalogBackupInfo>> all = backups_->List();
  if (!all.ok()) return ToGrpcStatus(all.status());
  for (const CatalogBackupInfo& b : *all) *response->add_backups() = ToProto(b);
  return grpc::Status::OK;
}

grpc::Status CatalogService::VerifyBackup(grpc::ServerContext* ctx,
                                          const lifelong::v1::VerifyCatalogBackupRequest* request,
                                          lifelong::v1::CatalogBackup* response) {
  LL_AUTHORIZE(auth_, ctx, "VerifyBackup");
  if (request->backup_id() == 0) {
    return ToGrpcStatus(absl::InvalidArgumentError("backup_id: required (see ListBackups)"));
  }
  if (absl::Status on = BackupsConfigured(backups_); !on.ok()) return ToGrpcStatus(on);
  absl::StatusOr<CatalogBackupInfo> b = backups_->Verify(request->backup_id());
  if (!b.ok()) return ToGrpcStatus(b.status());
  *response = ToProto(*b);
  return grpc::Status::OK;
}

}  // namespace lifelong::catalog
