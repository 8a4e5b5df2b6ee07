// The gRPC face of the catalog: lifelong.v1.CourseCatalogService over a
// CatalogStore. Each handler maps the request onto one store call and the
// resulting absl::Status onto a grpc::Status (services/common/grpc_status.h);
// all rules live in the store and in course_validation.h. Reads pass the
// store the caller's Viewer, from its role (learners and kiosks: kPublic,
// who see no drafts; every other role, and every caller with authentication
// off: kStaff).
//
// Thread-safety: as thread-safe as the store (fully); the sync gRPC server
// calls handlers concurrently.
#ifndef LIFELONG_SERVICES_CATALOG_CATALOG_SERVICE_H_
#define LIFELONG_SERVICES_CATALOG_CATALOG_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/catalog/catalog_backups.h"
#include "services/catalog/catalog_store.h"

namespace lifelong::catalog {

// The largest request catalog_server accepts (gRPC refuses a larger one with
// RESOURCE_EXHAUSTED before any handler parses it). gRPC's default, 64 MiB,
// let a caller without credentials make the server parse 64 MiB of empty
// strings (some 2 GB in memory) before the handler refused it
// UNAUTHENTICATED. The largest request validation accepts, a CreateCourse or
// UpdateCourse with every capped field at its cap (a 20,000-character
// description and 500 sessions with 64-character rooms, 4-byte characters),
// is under 300 KB: 1 MiB leaves over 3x headroom
// (catalog_server_limits_test).
inline constexpr int kCatalogMaxReceiveBytes = 1 << 20;

class CatalogService final : public lifelong::v1::CourseCatalogService::Service {
 public:
  // `store` is not owned and must outlive the service. `authorizer` (not
  // owned) decides who may call what; nullptr trusts every caller.
  // `backups` (not owned) serves CreateBackup/ListBackups/VerifyBackup;
  // nullptr: they answer FAILED_PRECONDITION (backups off).
  explicit CatalogService(CatalogStore* store, auth::Authorizer* authorizer = nullptr,
                          CatalogBackupManager* backups = nullptr)
      : store_(store), auth_(authorizer), backups_(backups) {}

  grpc::Status CreateCourse(grpc::ServerContext* context, const lifelong::v1::CreateCourseRequest* request,
                            lifelong::v1::Course* response) override;
  grpc::Status GetCourse(grpc::ServerContext* context, const lifelong::v1::GetCourseRequest* request,
                         lifelong::v1::Course* response) override;
  grpc::Status BatchGetCourses(grpc::ServerContext* context, const lifelong::v1::BatchGetCoursesRequest* request,
                               lifelong::v1::BatchGetCoursesResponse* response) override;
  grpc::Status UpdateCourse(grpc::ServerContext* context, const lifelong::v1::UpdateCourseRequest* request,
                            lifelong::v1::Course* response) override;
  grpc::Status ListCourses(grpc::ServerContext* context, const lifelong::v1::ListCoursesRequest* request,
                           lifelong::v1::ListCoursesResponse* response) override;
  grpc::Status ArchiveCourse(grpc::ServerContext* context, const lifelong::v1::ArchiveCourseRequest* request,
                             lifelong::v1::Course* response) override;
  grpc::Status GetCatalogInfo(grpc::ServerContext* context, const lifelong::v1::GetCatalogInfoRequest* request,
                              lifelong::v1::CatalogInfo* response) override;
  grpc::Status Echo(grpc::ServerContext* context, const lifelong::v1::EchoRequest* request,
                    lifelong::v1::EchoResponse* response) override;

  grpc::Status PutProgramme(grpc::ServerContext* context, const lifelong::v1::PutProgrammeRequest* request,
                            lifelong::v1::Programme* response) override;
  grpc::Status GetProgramme(grpc::ServerContext* context, const lifelong::v1::GetProgrammeRequest* request,
                            lifelong::v1::Programme* response) override;
  grpc::Status ListProgrammes(grpc::ServerContext* context, const lifelong::v1::ListProgrammesRequest* request,
                              lifelong::v1::ListProgrammesResponse* response) override;

  grpc::Status CreateBackup(grpc::ServerContext* context, const lifelong::v1::CreateCatalogBackupRequest* request,
                            lifelong::v1::CatalogBackup* response) override;
  grpc::Status ListBackups(grpc::ServerContext* context, const lifelong::v1::ListCatalogBackupsRequest* request,
                           lifelong::v1::ListCatalogBackupsResponse* response) override;
  grpc::Status VerifyBackup(grpc::ServerContext* context, const lifelong::v1::VerifyCatalogBackupRequest* request,
                            lifelong::v1::CatalogBackup* response) override;

 private:
  CatalogStore* const store_;
  auth::Authorizer* const auth_;
  CatalogBackupManager* const backups_;
};

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_CATALOG_SERVICE_H_
