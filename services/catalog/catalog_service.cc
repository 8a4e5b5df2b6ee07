#include "services/catalog/catalog_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/status_util.h"

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;

// Stores the value of `result` in `*out`, or returns its error.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status CatalogService::CreateCourse(grpc::ServerContext*,
                                          const lifelong::v1::CreateCourseRequest* request,
                                          Course* response) {
  Course course = request->course();
  if (!request->course_id().empty()) {
    if (!course.id().empty() && course.id() != request->course_id()) {
      return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
          "course_id: '", request->course_id(), "' differs from course.id '", course.id(), "'")));
    }
    course.set_id(request->course_id());
  }
  return Reply(store_->CreateCourse(course), response);
}

grpc::Status CatalogService::GetCourse(grpc::ServerContext*,
                                       const lifelong::v1::GetCourseRequest* request,
                                       Course* response) {
  return Reply(store_->GetCourse(request->id()), response);
}

grpc::Status CatalogService::BatchGetCourses(grpc::ServerContext*,
                                             const lifelong::v1::BatchGetCoursesRequest* request,
                                             lifelong::v1::BatchGetCoursesResponse* response) {
  const std::vector<std::string> ids(request->ids().begin(), request->ids().end());
  absl::StatusOr<std::vector<Course>> courses = store_->BatchGetCourses(ids);
  if (!courses.ok()) return ToGrpcStatus(courses.status());
  for (Course& course : *courses) *response->add_courses() = std::move(course);
  return grpc::Status::OK;
}

grpc::Status CatalogService::UpdateCourse(grpc::ServerContext*,
                                          const lifelong::v1::UpdateCourseRequest* request,
                                          Course* response) {
  return Reply(store_->UpdateCourse(request->course(), request->update_mask()), response);
}

grpc::Status CatalogService::ListCourses(grpc::ServerContext*,
                                         const lifelong::v1::ListCoursesRequest* request,
                                         lifelong::v1::ListCoursesResponse* response) {
  return Reply(store_->ListCourses(*request), response);
}

grpc::Status CatalogService::ArchiveCourse(grpc::ServerContext*,
                                           const lifelong::v1::ArchiveCourseRequest* request,
                                           Course* response) {
  return Reply(store_->ArchiveCourse(request->id(), request->etag()), response);
}

grpc::Status CatalogService::GetCatalogInfo(grpc::ServerContext*,
                                            const lifelong::v1::GetCatalogInfoRequest*,
                                            lifelong::v1::CatalogInfo* response) {
  return Reply(store_->GetCatalogInfo(), response);
}

grpc::Status CatalogService::Echo(grpc::ServerContext*, const lifelong::v1::EchoRequest* request,
                                  lifelong::v1::EchoResponse* response) {
  response->set_payload(request->payload());
  return grpc::Status::OK;
}

}  // namespace lifelong::catalog
