// LearnerHistoryCache: the recommender's cache of learner histories, kept
// exact by the record service's change feed (WatchLearnerChanges).
//
// Contract: Lookup() answers only while the feed is live and the lease from
// the cache's last acknowledgement runs (Options::lease; the feed's
// heartbeats renew it, records/learner_change_feed.h). The record service
// answers a write only after this cache acknowledged the change, and the
// cache forgets the learner before acknowledging; so a Recommend that follows
// an answered write never sees the history from before it. A read of the
// record service that overlaps a change of the same learner is not cached
// (BeginFetch/EndFetch). A lookup that misses while another request's read
// of the same learner is in flight waits for that read (up to
// Options::join_wait) and takes its result when it is cached, i.e. when no
// change of the learner overlapped it: concurrent requests for one learner
// make one read, not one each. While the feed is down the cache is empty and
// unused (every request reads the record service, as without a cache); it
// reconnects with backoff. Thread-safe.
//
// Keys are canonical learner keys (domain::CanonicalLearnerKey), the form
// the feed uses. An entry is the learner's history as BuildLearnerHistory
// made it from the statements read (immutable and shared: a hit copies
// nothing and builds nothing). Bounded in learners and in statements read:
// when full, arbitrary entries make room.
#ifndef LIFELONG_SERVICES_RECOMMEND_HISTORY_CACHE_H_
#define LIFELONG_SERVICES_RECOMMEND_HISTORY_CACHE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/outgoing_token.h"
#include "services/recommend/learner_history.h"

namespace lifelong::recommend {

class LearnerHistoryCache {
 public:
  struct Options {
    size_t max_learners = 100000;
    // Bound on the statements held across all learners (a history is up to
    // 1,000 of them; ~150 bytes each).
    size_t max_facts = 2000000;
    auth::OutgoingToken token;  // bearer token for the record service (default none)
    // How long a lookup waits for another request's read of the same
    // learner (the record service's deadline is a good bound); 0: never.
    absl::Duration join_wait = absl::Milliseconds(500);
    // The watcher's lease (records/learner_change_feed.h): the cache answers
    // only until this long after its last acknowledgement of the feed (the
    // feed's heartbeats renew it), so a stalled feed stops it within the
    // lease, before the record service answers a write it did not
    // acknowledge. At most the record service's kWatcherLease (400 ms).
    absl::Duration lease = absl::Milliseconds(400);
    absl::Duration reconnect_min = absl::Milliseconds(100);
    absl::Duration reconnect_max = absl::Seconds(5);
  };
  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;
    // Hits that waited for another request's read of the learner (counted
    // in hits too).
    int64_t joined = 0;
    int waiting = 0;            // lookups waiting for another request's read now
    int64_t invalidations = 0;  // learners dropped on a change message
    int64_t feed_connects = 0;  // times the feed became live
    size_t learners = 0;
    size_t facts = 0;
    bool live = false;
  };

  // Starts watching the record service behind `channel`.
  LearnerHistoryCache(std::shared_ptr<grpc::Channel> channel, Options options);
  ~LearnerHistoryCache();
  LearnerHistoryCache(const LearnerHistoryCache&) = delete;
  LearnerHistoryCache& operator=(const LearnerHistoryCache&) = delete;

  using HistoryPtr = std::shared_ptr<const LearnerHistory>;

  // `learner`'s cached history; nullptr when not cached or the feed is not
  // live. Waits up to join_wait, and never past `wait_until` (the caller's
  // deadline), when a read of `learner` is in flight (see above); the caller
  // then reads the record service itself.
  HistoryPtr Lookup(const std::string& learner, absl::Time wait_until = absl::InfiniteFuture());
  // Lookup, and when it returns nullptr, BeginFetch in the same step (*ticket
  // is then set): a request that misses a moment later joins this read.
  HistoryPtr LookupOrBeginFetch(const std::string& learner, uint64_t* ticket,
                                absl::Time wait_until = absl::InfiniteFuture());
  // `learner`'s cached history without waiting: nullptr when not cached, the
  // feed is not live, or a read of `learner` is in flight. Counts a hit when
  // it finds one and nothing otherwise (the caller then does a Lookup, which
  // counts the miss). Never blocks beyond the cache's own lock.
  HistoryPtr Peek(const std::string& learner);

  // Around a read of the record service for `learner`: BeginFetch returns a
  // ticket; EndFetch caches `history`, built from `statements` statements
  // (nullptr: the read failed), unless the learner changed or the feed went
  // down since the ticket was taken.
  uint64_t BeginFetch(const std::string& learner);
  void EndFetch(const std::string& learner, uint64_t ticket, HistoryPtr history, size_t statements);

  bool WaitLive(absl::Duration timeout) const;
  Stats stats() const;

 private:
  void WatchLoop();
  HistoryPtr LookupLocked(const std::string& learner, absl::Time wait_until) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `learner` was cached.
  bool EraseLocked(const std::string& learner) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Stopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; }

  std::unique_ptr<v1::LearningRecordService::Stub> stub_;
  const Options options_;

  mutable absl::Mutex mu_;
  struct Entry {
    HistoryPtr history;
    size_t statements = 0;  // read to build it (the bound max_facts counts these)
  };
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
  // Reads in flight per learner, and the epoch of the last change of a
  // learner that has one (entries live only while reads are in flight).
  absl::flat_hash_map<std::string, int> inflight_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> changed_at_ ABSL_GUARDED_BY(mu_);
  size_t facts_ ABSL_GUARDED_BY(mu_) = 0;  // statements held in cache_
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t last_reset_ ABSL_GUARDED_BY(mu_) = 1;  // epoch when the feed last went down
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  // The lease (a steady clock). A message arriving means the feed has the
  // acknowledgement before it (one message is outstanding at a time), so the
  // lease runs from when that acknowledgement was sent, never from the
  // message's arrival: the feed counts from the acknowledgements it has.
  std::chrono::steady_clock::time_point lease_until_ ABSL_GUARDED_BY(mu_){};
  std::chrono::steady_clock::time_point last_ack_sent_ ABSL_GUARDED_BY(mu_){};  // the epoch: none yet
  // The feed is live and the lease runs: the cache may answer.
  bool Serving() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return live_ && std::chrono::steady_clock::now() < lease_until_;
  }
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread watcher_;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_HISTORY_CACHE_H_
