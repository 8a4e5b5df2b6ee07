#include "services/storage/backup_scheduler.h"

namespace lifelong::storage {

BackupLoop::BackupLoop(absl::Duration interval, std::function<int64_t()> last_success_us, std::function<void()> round)
    : interval_(interval), last_success_us_(std::move(last_success_us)), round_(std::move(round)) {}

BackupLoop::~BackupLoop() { Stop(); }

void BackupLoop::Start() {
  thread_ = std::thread([this] {
    absl::MutexLock lock(&mu_);
    absl::Time not_before = absl::InfinitePast();  // at most one round per interval
    while (true) {
      // Due `interval` after the newest backup (at once when there is none,
      // or when the server was down past the time).
      const int64_t last = last_success_us_();
      const absl::Time due = std::max(last == 0 ? absl::Now() : absl::FromUnixMicros(last) + interval_, not_before);
      while (!stop_ && absl::Now() < due) mu_.AwaitWithDeadline(absl::Condition(&stop_), due);
      if (stop_) return;
      mu_.Unlock();
      round_();
      mu_.Lock();
      not_before = absl::Now() + interval_;
    }
  });
}

void BackupLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace lifelong::storage
