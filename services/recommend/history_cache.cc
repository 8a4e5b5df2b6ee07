#include "services/recommend/history_cache.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "services/common/log.h"

namespace lifelong::recommend {

LearnerHistoryCache::LearnerHistoryCache(std::shared_ptr<grpc::Channel> channel, Options options)
    : stub_(v1::LearningRecordService::NewStub(std::move(channel))), options_(std::move(options)) {
  watcher_ = std::thread([this] { WatchLoop(); });
}

LearnerHistoryCache::~LearnerHistoryCache() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (current_ != nullptr) current_->TryCancel();
  }
  watcher_.join();
}

LearnerHistoryCache::HistoryPtr LearnerHistoryCache::Lookup(const std::string& learner, absl::Time wait_until) {
  absl::MutexLock lock(&mu_);
  return LookupLocked(learner, wait_until);
}

LearnerHistoryCache::HistoryPtr LearnerHistoryCache::LookupOrBeginFetch(const std::string& learner, uint64_t* ticket,
                                                                        absl::Time wait_until) {
  absl::MutexLock lock(&mu_);
  HistoryPtr found = LookupLocked(learner, wait_until);
  if (found == nullptr) {
    ++inflight_[learner];
    *ticket = epoch_;
  }
  return found;
}

LearnerHistoryCache::HistoryPtr LearnerHistoryCache::Peek(const std::string& learner) {
  absl::MutexLock lock(&mu_);
  if (!Serving()) return nullptr;
  auto it = cache_.find(learner);
  if (it == cache_.end()) return nullptr;
  ++stats_.hits;
  return it->second.history;
}

LearnerHistoryCache::HistoryPtr LearnerHistoryCache::LookupLocked(const std::string& learner, absl::Time wait_until) {
  if (!Serving()) return nullptr;
  auto it = cache_.find(learner);
  const absl::Duration wait = std::min(options_.join_wait, wait_until - absl::Now());
  if (it == cache_.end() && wait > absl::ZeroDuration() && inflight_.contains(learner)) {
    // Another request is reading this learner: wait for its result.
    auto read_ended = [this, &learner]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || !live_ || !inflight_.contains(learner) || cache_.contains(learner);
    };
    ++stats_.waiting;
    mu_.AwaitWithTimeout(absl::Condition(&read_ended), wait);
    --stats_.waiting;
    it = Serving() ? cache_.find(learner) : cache_.end();
    if (it != cache_.end()) ++stats_.joined;
  }
  if (it == cache_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  return it->second.history;
}

uint64_t LearnerHistoryCache::BeginFetch(const std::string& learner) {
  absl::MutexLock lock(&mu_);
  ++inflight_[learner];
  return epoch_;
}

void LearnerHistoryCache::EndFetch(const std::string& learner, uint64_t ticket, HistoryPtr history, size_t statements) {
  absl::MutexLock lock(&mu_);
  bool changed_since = false;
  if (auto c = changed_at_.find(learner); c != changed_at_.end()) changed_since = c->second >= ticket;
  if (auto f = inflight_.find(learner); f != inflight_.end() && --f->second <= 0) {
    inflight_.erase(f);
    changed_at_.erase(learner);
  }
  if (history == nullptr || !live_ || ticket <= last_reset_ || changed_since) return;
  if (statements > options_.max_facts || options_.max_learners == 0) return;
  EraseLocked(learner);
  while (!cache_.empty() && (cache_.size() >= options_.max_learners || facts_ + statements > options_.max_facts)) {
    EraseLocked(cache_.begin()->first);
  }
  facts_ += statements;
  cache_[learner] = Entry{std::move(history), statements};
}

bool LearnerHistoryCache::EraseLocked(const std::string& learner) {
  auto it = cache_.find(learner);
  if (it == cache_.end()) return false;
  facts_ -= it->second.statements;
  cache_.erase(it);
  return true;
}

bool LearnerHistoryCache::WaitLive(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  // Live and serving: the first heartbeat's acknowledgement starts the lease.
  auto live = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Serving(); };
  return mu_.AwaitWithTimeout(absl::Condition(&live), timeout);
}

LearnerHistoryCache::Stats LearnerHistoryCache::stats() const {
  absl::MutexLock lock(&mu_);
  Stats s = stats_;
  s.learners = cache_.size();
  s.facts = facts_;
  s.live = live_;
  return s;
}

void LearnerHistoryCache::WatchLoop() {
  absl::Duration backoff = options_.reconnect_min;
  bool warned = false;
  for (;;) {
    grpc::ClientContext ctx;
    options_.token.AttachTo(&ctx);  // the current token at each (re)connection
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      current_ = &ctx;
    }
    std::unique_ptr<grpc::ClientReaderWriter<v1::LearnerChangesAck, v1::LearnerChanges>> stream =
        stub_->WatchLearnerChanges(&ctx);
    v1::LearnerChanges message;
    if (stream->Read(&message) && message.sequence() == 0) {
      {
        absl::MutexLock lock(&mu_);
        live_ = true;
        ++epoch_;  // reads begun while the feed was down are not cached
        ++stats_.feed_connects;
      }
      LogInfo("history_cache_live");
      warned = false;
      backoff = options_.reconnect_min;
      while (stream->Read(&message)) {
        {
          absl::MutexLock lock(&mu_);
          ++epoch_;
          for (const std::string& learner : message.learners()) {
            if (EraseLocked(learner)) ++stats_.invalidations;
            if (inflight_.contains(learner)) changed_at_[learner] = epoch_;
          }
          // A change or a heartbeat applied: the feed has our previous
          // acknowledgement, and the lease runs from when it was sent; this
          // one's time is taken before it is sent (the feed counts from its
          // arrival, later).
          if (last_ack_sent_ != std::chrono::steady_clock::time_point{}) {
            lease_until_ = last_ack_sent_ + absl::ToChronoNanoseconds(options_.lease);
          }
          last_ack_sent_ = std::chrono::steady_clock::now();
        }
        v1::LearnerChangesAck ack;
        ack.set_sequence(message.sequence());
        if (!stream->Write(ack)) break;
      }
    }
    bool was_live;
    {
      absl::MutexLock lock(&mu_);
      was_live = live_;
      live_ = false;
      lease_until_ = {};
      last_ack_sent_ = {};
      cache_.clear();
      facts_ = 0;
      last_reset_ = ++epoch_;
      current_ = nullptr;
    }
    ctx.TryCancel();  // the stream may still be open (a failed acknowledgement)
    grpc::Status status = stream->Finish();
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (was_live || !warned) {  // once per outage
      warned = true;
      LogWarn("history_cache_feed_down",
              {{"error", status.error_message()},
               {"code", static_cast<int>(status.error_code())},
               {"effect", "histories are read from the record service on every request until it is back"}});
    }
    mu_.AwaitWithTimeout(absl::Condition(this, &LearnerHistoryCache::Stopping), backoff);
    if (stopping_) return;
    backoff = std::min(backoff * 2, options_.reconnect_max);
  }
}

}  // namespace lifelong::recommend
