// ModelManager: watches a model directory of numbered versions (see
// models/model_bundle.h), loads new versions off the request path and
// publishes them with an atomic std::shared_ptr<const ModelBundle> swap.
//
// Policy:
//   - unpinned: serve the largest COMPLETE version that loads; a version that
//     fails to load (corrupt) is remembered as rejected and never retried by
//     the watcher, and the model serving at the time keeps serving;
//   - pinned (Pin): serve exactly that version until Unpin(), whatever newer
//     versions appear (rollback);
//   - directories being written (".tmp*", no manifest yet) are not complete
//     and are ignored until they are;
//   - RETIRED versions (models/model_retirement.h: trained before an erasure
//     that a newer version was trained after) are never loaded or pinned:
//     Pin refuses them with FAILED_PRECONDITION, a pin on a version that
//     becomes retired is dropped, and the policy picks the newest version
//     that is not retired. (Should no such version load, the serving model
//     keeps serving and Status().last_error says so.)
// Requests call Current() and keep the returned pointer for the whole
// request, so an in-flight request finishes on the version it started with
// and a swap never exposes a half-loaded model.
//
// Thread-safety: every method may be called from any thread. Loads are
// serialised (one at a time); Current() never blocks on a load.
#ifndef LIFELONG_SERVICES_RECOMMEND_MODEL_MANAGER_H_
#define LIFELONG_SERVICES_RECOMMEND_MODEL_MANAGER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "models/model_bundle.h"

namespace lifelong::recommend {

using ModelPtr = std::shared_ptr<const models::ModelBundle>;

// What GetModelStatus reports.
struct ModelManagerStatus {
  int64_t version = 0;  // 0: nothing loaded
  absl::Time loaded_at = absl::InfinitePast();
  int64_t item_count = 0;
  int dimension = 0;
  std::string index_kind;  // "flat", "ivf", "sparse" (exact CSR scan) or "none"
  int ivf_nlist = 0;
  int ivf_nprobe = 0;
  double ivf_recall_at_10 = 0;
  bool pinned = false;
  std::vector<int64_t> available_versions;  // complete versions on disk
  std::vector<int64_t> retired_versions;    // of those, the retired ones
  std::string last_error;
  int64_t last_error_version = 0;
  std::string model_dir;
};

class ModelManager {
 public:
  using Loader = std::function<absl::StatusOr<ModelPtr>(const std::string& version_dir)>;
  using Lister = std::function<absl::StatusOr<std::vector<int64_t>>(const std::string& root)>;
  using RetiredLister = std::function<absl::StatusOr<std::set<int64_t>>(const std::string& root)>;

  struct Options {
    std::string model_dir;
    absl::Duration poll_interval = absl::Seconds(2);
    // Defaults: models::LoadModelBundle(dir, build_options) and
    // models::ListCompleteVersions.
    Loader loader;
    models::BuildOptions build_options;
    Lister lister;
    // Default: models::RetiredVersions. An error retires nothing (logged).
    RetiredLister retired;
    // Called after every successful swap, with the new model (e.g. to set
    // health to SERVING). Runs on the loading thread.
    std::function<void(const ModelPtr&)> on_swap;
  };

  explicit ModelManager(Options options);
  // Stops the watcher thread; in-flight holders of Current() keep theirs.
  ~ModelManager();

  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // The model serving now; nullptr until the first successful load.
  ModelPtr Current() const { return std::atomic_load(&current_); }

  // Checks the directory once and loads what the policy says should serve.
  // Outcomes: OK when the serving model is the one the policy wants
  // (possibly after a swap); the error of the first load that failed during
  // this call (DATA_LOSS for a corrupt version; the old model keeps
  // serving); NOT_FOUND when the directory has no complete, loadable
  // version. Versions rejected by an earlier call are skipped silently.
  absl::Status PollOnce();

  // Starts the background watcher: PollOnce now, then every poll_interval.
  void Start();
  // Stops it; idempotent.
  void Stop();

  // Serves `version` from now on. NOT_FOUND when the directory has no such
  // complete version; FAILED_PRECONDITION when it is retired, or (with the
  // load error) when it fails to load — the current model keeps serving and
  // nothing is pinned.
  absl::Status Pin(int64_t version);
  // Returns to the newest loadable version (loads it before returning).
  absl::Status Unpin();

  ModelManagerStatus Status() const;

 private:
  // Loads `version` and swaps it in. Requires load_mu_.
  absl::Status LoadAndSwap(int64_t version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(load_mu_);
  absl::Status PollLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(load_mu_);
  // The retired versions now (empty on error, which is logged).
  std::set<int64_t> Retired() ABSL_EXCLUSIVE_LOCKS_REQUIRED(load_mu_);

  const Options options_;
  ModelPtr current_;  // accessed only through std::atomic_load/atomic_store

  absl::Mutex load_mu_;     // serialises loads, pins and polls
  mutable absl::Mutex mu_;  // guards the status fields below
  absl::Time loaded_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool pinned_ ABSL_GUARDED_BY(mu_) = false;
  int64_t pinned_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, std::string> rejected_ ABSL_GUARDED_BY(mu_);  // version -> error
  std::vector<int64_t> available_ ABSL_GUARDED_BY(mu_);
  std::set<int64_t> retired_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  int64_t last_error_version_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Notification stop_;
  std::thread watcher_;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_MODEL_MANAGER_H_
