// Periodic backups of one store, shared by the records' and the catalog's
// backup managers (services/records/backups.h,
// services/catalog/catalog_backups.h).
#ifndef LIFELONG_SERVICES_STORAGE_BACKUP_SCHEDULER_H_
#define LIFELONG_SERVICES_STORAGE_BACKUP_SCHEDULER_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace lifelong::storage {

// Calls `round` on its own thread whenever the newest backup
// (`last_success_us()`, Unix microseconds; 0: none) is `interval` old: at
// once after Start when there is none, or when the server was down past its
// time; at most once per `interval` (a failed round is retried one interval
// later). Thread-safe; Stop (or the destructor) waits for a round in
// progress.
class BackupLoop {
 public:
  BackupLoop(absl::Duration interval, std::function<int64_t()> last_success_us, std::function<void()> round);
  ~BackupLoop();
  BackupLoop(const BackupLoop&) = delete;
  BackupLoop& operator=(const BackupLoop&) = delete;
  void Start();
  void Stop();

 private:
  const absl::Duration interval_;
  const std::function<int64_t()> last_success_us_;
  const std::function<void()> round_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

template <typename Info>
struct BackupSchedulerOptions {
  absl::Duration interval = absl::Hours(6);  // > 0
  int keep = 7;                              // retention, >= 1
  // Called after each attempt (metrics, logs).
  std::function<void(const absl::StatusOr<Info>&)> on_result;
};

// Takes a backup with `Manager::Create()` whenever the newest one in the
// directory is `interval` old (BackupLoop), then purges to `keep` with
// `Manager::Purge(int)`. `Manager::stats().last_success_us` says when the
// newest backup started. Never blocks the store's writers (the managers'
// contract). Thread-safe; the manager must outlive the scheduler.
template <typename Manager, typename Info>
class BackupScheduler {
 public:
  BackupScheduler(Manager* manager, BackupSchedulerOptions<Info> options)
      : manager_(manager),
        options_(std::move(options)),
        loop_(
            options_.interval, [manager] { return manager->stats().last_success_us; },
            [this] { RunOnce().IgnoreError(); }) {}  // reported through on_result
  void Start() { loop_.Start(); }
  void Stop() { loop_.Stop(); }
  // One scheduled round now (backup + purge), on the caller's thread.
  absl::StatusOr<Info> RunOnce() {
    absl::StatusOr<Info> b = manager_->Create();
    if (b.ok()) {
      absl::StatusOr<int> purged = manager_->Purge(std::max(1, options_.keep));
      if (!purged.ok()) b = purged.status();
    }
    if (options_.on_result) options_.on_result(b);
    return b;
  }

 private:
  Manager* const manager_;
  const BackupSchedulerOptions<Info> options_;
  BackupLoop loop_;
};

}  // namespace lifelong::storage

#endif  // LIFELONG_SERVICES_STORAGE_BACKUP_SCHEDULER_H_
