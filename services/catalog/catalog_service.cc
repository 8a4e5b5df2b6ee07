#include "services/catalog/catalog_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/auth/grpc_auth.h"
#include "services/catalog/course_validation.h"
#include "services/common/grpc_status.h"

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;

// Refuses the call unless the role table grants `method` to the caller.
#define LL_AUTHORIZE(authorizer, ctx, method)                                              \
  do {                                                                                     \
    absl::StatusOr<auth::AccessGrant> _grant =                                             \
        auth::AuthorizeCall(authorizer, ctx, "/lifelong.v1.CourseCatalogService/" method); \
    if (!_grant.ok()) return ToGrpcStatus(_grant.status());                                \
  } while (0)

}  // namespace

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
  return ReplyWith(store_->GetCourse(request->id()), response);
}

grpc::Status CatalogService::BatchGetCourses(grpc::ServerContext* ctx,
                                             const lifelong::v1::BatchGetCoursesRequest* request,
                                             lifelong::v1::BatchGetCoursesResponse* response) {
  LL_AUTHORIZE(auth_, ctx, "BatchGetCourses");
  const std::vector<std::string> ids(request->ids().begin(), request->ids().end());
  absl::StatusOr<std::vector<Course>> courses = store_->BatchGetCourses(ids);
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
  return ReplyWith(store_->ListCourses(*request), response);
}

grpc::Status CatalogService::ArchiveCourse(grpc::ServerContext* ctx, const lifelong::v1::ArchiveCourseRequest* request,
                                           Course* response) {
  LL_AUTHORIZE(auth_, ctx, "ArchiveCourse");
  return ReplyWith(store_->ArchiveCourse(request->id(), request->etag()), response);
}

grpc::Status CatalogService::GetCatalogInfo(grpc::ServerContext* ctx, const lifelong::v1::GetCatalogInfoRequest*,
                                            lifelong::v1::CatalogInfo* response) {
  LL_AUTHORIZE(auth_, ctx, "GetCatalogInfo");
  return ReplyWith(store_->GetCatalogInfo(), response);
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

}  // namespace lifelong::catalog
