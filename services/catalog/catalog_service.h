// The gRPC face of the catalog: lifelong.v1.CourseCatalogService over a
// CatalogStore. Each handler maps the request onto one store call and the
// resulting absl::Status onto a grpc::Status (services/common/grpc_status.h);
// all rules live in the store and in course_validation.h. Reads pass the
// store the caller's Viewer, from its role (learners and kiosks: kPublic,
// who see no drafts; every other role, and every caller with authentication
// off: kStaff).
//
// No request is parsed before its caller has proved who they are, nor past
// its method's size bound (MaxRequestBytes): parsing costs memory, 20 to 30
// bytes a wire byte for a message of empty or unknown fields, and gRPC would
// parse every request before any handler runs. So the service registers its
// methods itself (RegisterMethods) instead of deriving from the generated
// CourseCatalogService::Service: the same names and kinds, each request
// received as raw bytes and let through GateRequest, which authenticates the
// caller (with authentication on: UNAUTHENTICATED as before), then checks
// the size (RESOURCE_EXHAUSTED naming the method and its bound), and only
// then parses (INVALID_ARGUMENT "request: not a lifelong.v1.X"). The
// handlers then authorize the call as ever. In-process callers call the
// methods directly, with parsed requests.
//
// Thread-safety: as thread-safe as the store (fully); the sync gRPC server
// calls handlers concurrently.
#ifndef LIFELONG_SERVICES_CATALOG_CATALOG_SERVICE_H_
#define LIFELONG_SERVICES_CATALOG_CATALOG_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/catalog/catalog_backups.h"
#include "services/catalog/catalog_store.h"
#include "services/common/raw_request.h"

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

// The largest request of the course and programme writes (CreateCourse,
// UpdateCourse, PutProgramme), checked before the request is parsed. The
// largest valid course (every capped field at its cap, in 4-byte
// characters) is 228,710 bytes, the largest valid programme 89,837 bytes
// (catalog_request_gate_test, RequestsUnderTheBoundsAreServed): 512 KiB
// leaves over twice the room.
inline constexpr size_t kMaxCatalogWriteRequestBytes = 512 << 10;
// The largest BatchGetCourses request: kMaxBatchGet ids of 64 bytes are
// 66,000 bytes on the wire.
inline constexpr size_t kMaxBatchGetRequestBytes = 128 << 10;
// The largest request of every other method (ids, filters, a page token, an
// Echo payload: under a kilobyte in practice).
inline constexpr size_t kMaxCatalogQueryRequestBytes = 64 << 10;

class CatalogService final : public grpc::Service {
 public:
  // `store` is not owned and must outlive the service. `authorizer` (not
  // owned) decides who may call what; nullptr trusts every caller.
  // `backups` (not owned) serves CreateBackup/ListBackups/VerifyBackup;
  // nullptr: they answer FAILED_PRECONDITION (backups off).
  explicit CatalogService(CatalogStore* store, auth::Authorizer* authorizer = nullptr,
                          CatalogBackupManager* backups = nullptr);

  // The largest request `method` (its short name, e.g. "GetCourse")
  // accepts: one of the bounds above, each under kCatalogMaxReceiveBytes so
  // that the gate, not the transport, answers a request over it.
  static size_t MaxRequestBytes(absl::string_view method);

  grpc::Status CreateCourse(grpc::ServerContext* context, const lifelong::v1::CreateCourseRequest* request,
                            lifelong::v1::Course* response);
  grpc::Status GetCourse(grpc::ServerContext* context, const lifelong::v1::GetCourseRequest* request,
                         lifelong::v1::Course* response);
  grpc::Status BatchGetCourses(grpc::ServerContext* context, const lifelong::v1::BatchGetCoursesRequest* request,
                               lifelong::v1::BatchGetCoursesResponse* response);
  grpc::Status UpdateCourse(grpc::ServerContext* context, const lifelong::v1::UpdateCourseRequest* request,
                            lifelong::v1::Course* response);
  grpc::Status ListCourses(grpc::ServerContext* context, const lifelong::v1::ListCoursesRequest* request,
                           lifelong::v1::ListCoursesResponse* response);
  grpc::Status ArchiveCourse(grpc::ServerContext* context, const lifelong::v1::ArchiveCourseRequest* request,
                             lifelong::v1::Course* response);
  grpc::Status GetCatalogInfo(grpc::ServerContext* context, const lifelong::v1::GetCatalogInfoRequest* request,
                              lifelong::v1::CatalogInfo* response);
  grpc::Status Echo(grpc::ServerContext* context, const lifelong::v1::EchoRequest* request,
                    lifelong::v1::EchoResponse* response);

  grpc::Status PutProgramme(grpc::ServerContext* context, const lifelong::v1::PutProgrammeRequest* request,
                            lifelong::v1::Programme* response);
  grpc::Status GetProgramme(grpc::ServerContext* context, const lifelong::v1::GetProgrammeRequest* request,
                            lifelong::v1::Programme* response);
  grpc::Status ListProgrammes(grpc::ServerContext* context, const lifelong::v1::ListProgrammesRequest* request,
                              lifelong::v1::ListProgrammesResponse* response);

  grpc::Status CreateBackup(grpc::ServerContext* context, const lifelong::v1::CreateCatalogBackupRequest* request,
                            lifelong::v1::CatalogBackup* response);
  grpc::Status ListBackups(grpc::ServerContext* context, const lifelong::v1::ListCatalogBackupsRequest* request,
                           lifelong::v1::ListCatalogBackupsResponse* response);
  grpc::Status VerifyBackup(grpc::ServerContext* context, const lifelong::v1::VerifyCatalogBackupRequest* request,
                            lifelong::v1::CatalogBackup* response);

 private:
  // The gate in front of every method (class comment): authenticates the
  // caller when authentication is on, then parses `raw` into `request`
  // within MaxRequestBytes(method). Not OK: the call's answer.
  grpc::Status GateRequest(grpc::ServerContext* ctx, absl::string_view method, const grpc::ByteBuffer& raw,
                           google::protobuf::Message* request) const;
  // The service's methods, as the generated Service would add them but for
  // their requests, raw bytes until GateRequest has passed them.
  void RegisterMethods();

  CatalogStore* const store_;
  auth::Authorizer* const auth_;
  CatalogBackupManager* const backups_;
  MethodPaths method_paths_{"lifelong.v1.CourseCatalogService"};
};

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_CATALOG_SERVICE_H_
