#include "services/records/learner_change_feed.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/raw_request.h"

namespace lifelong::records {

LearnerChangeFeed::LearnerChangeFeed(absl::Duration ack_timeout) : ack_timeout_(ack_timeout) {}

void LearnerChangeFeed::Publish(const std::vector<std::string>& learners) {
  if (learners.empty()) return;
  std::vector<std::function<void()>> cancels;
  std::chrono::steady_clock::time_point leases_end{};  // of the watchers dropped
  {
    absl::MutexLock lock(&mu_);
    if (watchers_.empty()) return;
    const int64_t sequence = ++next_sequence_;
    for (const std::shared_ptr<Watcher>& w : watchers_) {
      if (!w->ended_.ok()) continue;
      w->pending_.insert(w->pending_.end(), learners.begin(), learners.end());
      w->pending_sequence_ = sequence;
    }
    auto all_acked = [this, sequence]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const std::shared_ptr<Watcher>& w : watchers_) {
        if (w->ended_.ok() && w->acked_ < sequence) return false;
      }
      return true;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&all_acked), ack_timeout_)) {
      for (const std::shared_ptr<Watcher>& w : watchers_) {
        if (w->ended_.ok() && w->acked_ < sequence) {
          w->ended_ = absl::DeadlineExceededError(absl::StrCat("change not acknowledged within ",
                                                               absl::FormatDuration(ack_timeout_),
                                                               "; the watcher must discard its cache and watch again"));
          ++dropped_;
          cancels.push_back(w->cancel_);
          if (w->last_ack_ != std::chrono::steady_clock::time_point{}) {
            leases_end = std::max(leases_end, w->last_ack_ + absl::ToChronoNanoseconds(kWatcherLease));
          }
        }
      }
    }
  }
  for (auto& cancel : cancels) {
    if (cancel) cancel();
  }
  // A dropped watcher may answer from its cache until its lease ends.
  if (const auto now = std::chrono::steady_clock::now(); leases_end > now)
    std::this_thread::sleep_for(leases_end - now);
}

std::shared_ptr<LearnerChangeFeed::Watcher> LearnerChangeFeed::Watch(std::function<void()> cancel) {
  std::shared_ptr<Watcher> w(new Watcher(this, std::move(cancel)));
  absl::MutexLock lock(&mu_);
  if (closed_) {
    w->ended_ = absl::UnavailableError("the record service is shutting down");
  } else {
    // Nothing published before now concerns this watcher: it starts empty.
    w->acked_ = next_sequence_;
    w->pending_sequence_ = next_sequence_;
    watchers_.push_back(w);
  }
  return w;
}

void LearnerChangeFeed::Unwatch(const std::shared_ptr<Watcher>& watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(std::remove(watchers_.begin(), watchers_.end(), watcher), watchers_.end());
}

void LearnerChangeFeed::Close() {
  // No cancel: a stream waiting in Next() wakes up and ends with this status;
  // one waiting for an acknowledgement ends when it arrives (or when the
  // server's shutdown deadline cancels it).
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (const std::shared_ptr<Watcher>& w : watchers_) {
    if (w->ended_.ok()) w->ended_ = absl::UnavailableError("the record service is shutting down");
  }
}

int LearnerChangeFeed::watchers() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(watchers_.size());
}

int64_t LearnerChangeFeed::dropped_watchers() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

bool LearnerChangeFeed::Watcher::Next(absl::Duration wait, int64_t* sequence, std::vector<std::string>* learners) {
  absl::Mutex& mu = feed_->mu_;
  absl::MutexLock lock(&mu);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(feed_->mu_) { return !pending_.empty() || !ended_.ok(); };
  mu.AwaitWithTimeout(absl::Condition(&ready), wait);
  if (!ended_.ok() || pending_.empty()) return false;
  *sequence = pending_sequence_;
  learners->swap(pending_);
  pending_.clear();
  return true;
}

void LearnerChangeFeed::Watcher::Ack(int64_t sequence) {
  absl::MutexLock lock(&feed_->mu_);
  acked_ = std::max(acked_, std::min(sequence, pending_sequence_));
  last_ack_ = std::chrono::steady_clock::now();
}

absl::Status LearnerChangeFeed::Watcher::ended() const {
  absl::MutexLock lock(&feed_->mu_);
  return ended_;
}

namespace {
// The next acknowledgement into *ack: false when the stream ended, else
// *status says whether it was one.
bool ReadAck(grpc::ServerReaderWriter<v1::LearnerChanges, v1::LearnerChangesAck>* stream, v1::LearnerChangesAck* ack,
             absl::Status* status) {
  *status = absl::OkStatus();
  return stream->Read(ack);
}
bool ReadAck(grpc::ServerReaderWriter<v1::LearnerChanges, grpc::ByteBuffer>* stream, v1::LearnerChangesAck* ack,
             absl::Status* status) {
  grpc::ByteBuffer raw;
  if (!stream->Read(&raw)) return false;
  *status = ParseRawRequest("WatchLearnerChanges", kMaxLearnerChangesAckBytes, raw, ack);
  return true;
}
}  // namespace

template <typename Ack>
absl::Status ServeLearnerChanges(LearnerChangeFeed* feed, grpc::ServerContext* ctx,
                                 grpc::ServerReaderWriter<v1::LearnerChanges, Ack>* stream, StreamWatchdog* watchdog) {
  std::unique_ptr<StreamWatchdog::Stream> watched =
      watchdog != nullptr ? watchdog->Watch(ctx, "WatchLearnerChanges", absl::InfiniteFuture()) : nullptr;
  auto step = [&watched](auto fn) { return watched != nullptr ? watched->Call(fn) : fn(); };
  auto stalled = [&watched] { return watched != nullptr && watched->verdict() == StreamWatchdog::Verdict::kStalled; };
  std::shared_ptr<LearnerChangeFeed::Watcher> w = feed->Watch([ctx] { ctx->TryCancel(); });
  struct Unwatch {
    LearnerChangeFeed* feed;
    std::shared_ptr<LearnerChangeFeed::Watcher> w;
    ~Unwatch() { feed->Unwatch(w); }
  } unwatch{feed, w};
  if (absl::Status s = w->ended(); !s.ok()) return s;
  v1::LearnerChanges message;
  message.set_sequence(0);  // live from here on
  if (!step([&] { return stream->Write(message); })) return absl::CancelledError("watcher went away");
  std::vector<std::string> learners;
  int64_t last_sent = 0;
  for (;;) {
    int64_t sequence = 0;
    if (!w->Next(kFeedHeartbeat, &sequence, &learners)) {
      if (absl::Status s = w->ended(); !s.ok()) return s;
      if (ctx->IsCancelled()) return absl::CancelledError("watcher went away");
      sequence = last_sent;  // a heartbeat: nothing changed; renews the watcher's lease
      learners.clear();
    }
    last_sent = sequence;
    message.Clear();
    message.set_sequence(sequence);
    for (std::string& l : learners) message.add_learners(std::move(l));
    learners.clear();
    v1::LearnerChangesAck ack;
    absl::Status read;
    if (!step([&] { return stream->Write(message); }) || !step([&] { return ReadAck(stream, &ack, &read); })) {
      if (absl::Status s = w->ended(); !s.ok()) return s;
      if (stalled()) {
        return absl::DeadlineExceededError(absl::StrCat("watcher cancelled: no acknowledgement for ",
                                                        absl::FormatDuration(watchdog->stall_timeout())));
      }
      return absl::CancelledError("watcher went away");
    }
    if (!read.ok()) return read;
    if (ack.sequence() != sequence) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence: acknowledged ", ack.sequence(), ", expected ", sequence));
    }
    w->Ack(sequence);
  }
}

template absl::Status ServeLearnerChanges(LearnerChangeFeed*, grpc::ServerContext*,
                                          grpc::ServerReaderWriter<v1::LearnerChanges, v1::LearnerChangesAck>*,
                                          StreamWatchdog*);
template absl::Status ServeLearnerChanges(LearnerChangeFeed*, grpc::ServerContext*,
                                          grpc::ServerReaderWriter<v1::LearnerChanges, grpc::ByteBuffer>*,
                                          StreamWatchdog*);

}  // namespace lifelong::records
