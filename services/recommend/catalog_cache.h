// CatalogCache: an in-memory copy of the course catalog (courses and
// programmes), refreshed in the
// background from CourseCatalogService. Change detection: GetCatalogInfo's
// generation; the full listing (ListCourses, every page, archived courses
// included: show_archived) is read again only when it changed. Every call
// carries a deadline. Archived courses stay in the snapshot (state
// kArchived) for resolving learners' histories; they are never recommended
// or planned (course.h). The listing has DRAFT courses too (the recommender
// reads the catalog as staff), but the snapshot leaves them out: nothing
// the recommender answers finds or names a draft (course.h CatalogSnapshot).
//
// Requests read Current(): a snapshot no older than `max_staleness` since the
// last successful check, else UNAVAILABLE (the catalog service is down and
// seats/states may have changed since). Seats and states in a snapshot may
// lag the catalog by up to `refresh_interval`.
//
// Thread-safety: every method may be called from any thread.
#ifndef LIFELONG_SERVICES_RECOMMEND_CATALOG_CACHE_H_
#define LIFELONG_SERVICES_RECOMMEND_CATALOG_CACHE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "services/auth/outgoing_token.h"
#include "services/recommend/course.h"

namespace lifelong::recommend {

// The recommender's view of a catalog course.
Course CourseFromProto(const v1::Course& course);
// The recommender's view of a catalog programme.
Programme ProgrammeFromProto(const v1::Programme& programme);

class CatalogCache {
 public:
  struct Options {
    std::string target;  // "host:port", for messages
    absl::Duration call_deadline = absl::Seconds(2);
    absl::Duration refresh_interval = absl::Seconds(2);
    absl::Duration max_staleness = absl::Seconds(30);
    int page_size = 1000;
    std::function<absl::Time()> clock;  // default absl::Now
    auth::OutgoingToken token;          // bearer token for the catalog (default none)
  };

  CatalogCache(std::shared_ptr<grpc::Channel> channel, Options options);
  ~CatalogCache();  // stops the refresher

  // Checks the generation and re-reads the catalog when it changed.
  // UNAVAILABLE when the catalog service cannot be reached in time (the
  // previous snapshot is kept).
  absl::Status RefreshOnce();
  void Start();  // background RefreshOnce every refresh_interval
  void Stop();

  // The snapshot to serve with, or UNAVAILABLE naming the catalog service
  // and the last error when there is none or it is too stale.
  absl::StatusOr<CatalogPtr> Current() const;

 private:
  absl::StatusOr<CatalogPtr> ListAll(int64_t generation);

  std::unique_ptr<v1::CourseCatalogService::Stub> stub_;
  const Options options_;
  absl::Mutex refresh_mu_;  // one refresh at a time
  mutable absl::Mutex mu_;
  CatalogPtr snapshot_ ABSL_GUARDED_BY(mu_);
  int64_t generation_ ABSL_GUARDED_BY(mu_) = -1;
  absl::Time checked_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread refresher_;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_CATALOG_CACHE_H_
