// Test-only helpers for the recommendation service: in-process fakes of the
// record and catalog services (real gRPC servers on port 0), a small test
// catalog, and a model trained on tiny generated data with the real trainer
// and written with the real writer.
#ifndef LIFELONG_SERVICES_RECOMMEND_TEST_SUPPORT_H_
#define LIFELONG_SERVICES_RECOMMEND_TEST_SUPPORT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "models/interaction.h"
#include "models/trainer.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/server.h"
#include "services/records/learner_change_feed.h"

namespace lifelong::recommend::testing {

// LearningRecordService with ListStatements over in-memory statements (newest
// first). Other RPCs answer UNIMPLEMENTED. Thread-safe.
class FakeRecords final : public v1::LearningRecordService::Service {
 public:
  // Adds a statement and tells change-feed watchers (as the real service).
  // A completed/passed statement is marked verified (issued by an entitled
  // issuer, v1::Statement.verified) unless `self_reported`.
  void Add(const std::string& learner, absl::string_view verb, const std::string& course_id, absl::Time time,
           bool self_reported = false);
  // Every ListStatements sleeps this long first (to simulate a hung service).
  void set_delay(absl::Duration d);
  int64_t calls() const;
  // The deadline the last ListStatements call carried (InfiniteFuture: none).
  absl::Time last_deadline() const;

  grpc::Status ListStatements(grpc::ServerContext* ctx, const v1::ListStatementsRequest* request,
                              v1::ListStatementsResponse* response) override;
  // The real change feed: Add() returns once every watcher acknowledged.
  grpc::Status WatchLearnerChanges(
      grpc::ServerContext* ctx, grpc::ServerReaderWriter<v1::LearnerChanges, v1::LearnerChangesAck>* stream) override;
  records::LearnerChangeFeed& change_feed() { return feed_; }

 private:
  records::LearnerChangeFeed feed_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<v1::Statement>> by_learner_ ABSL_GUARDED_BY(mu_);
  absl::Duration delay_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  int64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// CourseCatalogService with ListCourses (pages of page_size, token = offset;
// archived courses only with show_archived, as the catalog service) and
// GetCatalogInfo over in-memory courses. Thread-safe.
class FakeCatalog final : public v1::CourseCatalogService::Service {
 public:
  // Inserts or replaces a course; bumps the generation.
  void Put(const v1::Course& course);
  // Removes every course; bumps the generation.
  void Clear();
  int64_t list_calls() const;

  grpc::Status ListCourses(grpc::ServerContext* ctx, const v1::ListCoursesRequest* request,
                           v1::ListCoursesResponse* response) override;
  grpc::Status GetCatalogInfo(grpc::ServerContext* ctx, const v1::GetCatalogInfoRequest* request,
                              v1::CatalogInfo* response) override;
  // In-memory programmes (no validation); Put bumps the generation.
  grpc::Status PutProgramme(grpc::ServerContext* ctx, const v1::PutProgrammeRequest* request,
                            v1::Programme* response) override;
  grpc::Status ListProgrammes(grpc::ServerContext* ctx, const v1::ListProgrammesRequest* request,
                              v1::ListProgrammesResponse* response) override;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, v1::Course> courses_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Programme> programmes_ ABSL_GUARDED_BY(mu_);
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t list_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// Starts `service` on 127.0.0.1:0.
std::unique_ptr<RunningGrpcServer> StartFake(grpc::Service* service);

// The test catalog (ids below), relative to `now`: every course OPEN with
// enrolment open [now-1d, now+7d) and one session at now+3d, except
//   c_closed (CLOSED), c_draft (DRAFT), c_full (capacity 10, 10 taken),
//   c_later (enrolment opens at now+2d), c_sf1b (series of c_sf1),
//   c_new (in the catalog, not in the trained model).
// Venues: v_hpl 和平里街道 (39.9580, 116.4170), v_dzm 东直门街道
// (39.9410, 116.4340), v_js 景山街道 (39.9250, 116.3970); online courses
// have no venue.
std::vector<v1::Course> TestCatalog(absl::Time now);

// Interactions of generated learners: 书法 learners take c_sf1 -> c_sf2 ->
// c_sf3, 绘画 learners c_gh1 -> c_gh2, 健身 learners c_tj1 -> c_tj2 (the most
// popular), IT learners c_py1 -> c_py2, and a few cross-overs. `seed` varies
// the counts a little.
std::vector<models::Interaction> TestInteractions(int seed = 0);

// Trains on TestInteractions(seed) with the text of TestCatalog (all but
// c_new) and writes the next version under `model_root`. Returns its number.
absl::StatusOr<int64_t> WriteTestModel(const std::string& model_root, int seed = 0);
// The same with other training options (content_dim is set to 64 as above),
// e.g. a small dense_max_items for a sparse (format-2) version.
absl::StatusOr<int64_t> WriteTestModelWith(const std::string& model_root, int seed, models::TrainOptions options);

// A fresh directory under TEST_TMPDIR.
std::string NewTempDir(const std::string& name);

}  // namespace lifelong::recommend::testing

#endif  // LIFELONG_SERVICES_RECOMMEND_TEST_SUPPORT_H_
