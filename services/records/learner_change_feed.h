// LearnerChangeFeed: tells watchers (the recommender's learner-history
// cache) whose records changed, before the writes that changed them are
// answered.
//
// Contract: the record store calls Publish() after a write is durable and
// before its writers are answered. Publish() returns once every watcher has
// acknowledged a sequence number that covers these changes, or has been
// dropped for not doing so within `ack_timeout` (a dropped watcher's stream
// ends; it must then forget everything it cached). So a watcher that applies
// each message before acknowledging it never holds a history older than a
// write that has been answered. With no watchers Publish() costs one lock.
//
// Wire protocol (LearningRecordService.WatchLearnerChanges, served by
// ServeLearnerChanges): the server first sends sequence 0 with no learners
// ("live from here on"), then LearnerChanges messages with increasing
// sequence numbers; the client answers each with a LearnerChangesAck of the
// same sequence, after applying it. One message is outstanding at a time;
// changes published meanwhile are merged into the next message.
//
// The watcher's lease: a watcher answers from its cache only until
// kWatcherLease after it sent its last acknowledgement. While there are no
// changes the server sends a heartbeat every kFeedHeartbeat (a message of
// the last sequence sent, no learners; acknowledged like any other), so a
// live watcher's lease never runs out, and one whose stream or thread is
// stalled stops answering from its cache within the lease. When a watcher is
// dropped for not acknowledging a change, Publish() returns no sooner than
// kWatcherLease after that watcher's last acknowledgement arrived: by then
// the watcher has stopped using what it cached, so an answered write (an
// erasure) is never followed by an answer from a cache that predates it.
#ifndef LIFELONG_SERVICES_RECORDS_LEARNER_CHANGE_FEED_H_
#define LIFELONG_SERVICES_RECORDS_LEARNER_CHANGE_FEED_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/stream_watchdog.h"

namespace lifelong::records {

// The wire protocol's times (see above). The recommender keeps its own copy
// of kWatcherLease (LearnerHistoryCache::Options::lease), at most this.
inline constexpr absl::Duration kWatcherLease = absl::Milliseconds(400);
inline constexpr absl::Duration kFeedHeartbeat = absl::Milliseconds(100);

class LearnerChangeFeed {
 public:
  class Watcher;

  explicit LearnerChangeFeed(absl::Duration ack_timeout = absl::Milliseconds(500));
  LearnerChangeFeed(const LearnerChangeFeed&) = delete;
  LearnerChangeFeed& operator=(const LearnerChangeFeed&) = delete;

  // See the contract above. Thread-safe; the store calls it from one writer
  // at a time.
  void Publish(const std::vector<std::string>& learners);

  // Registers a watcher; `cancel` is called (outside any lock) when the feed
  // drops it, to unblock the stream read that waits for its acknowledgement
  // (the client then sees CANCELLED).
  std::shared_ptr<Watcher> Watch(std::function<void()> cancel);
  void Unwatch(const std::shared_ptr<Watcher>& watcher);

  // Ends every stream and refuses new watchers (server shutdown).
  void Close();

  int watchers() const;
  int64_t dropped_watchers() const;

 private:
  friend class Watcher;
  const absl::Duration ack_timeout_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class LearnerChangeFeed::Watcher {
 public:
  // Waits up to `wait` for changes not yet sent. True with the merged
  // changes and the sequence to acknowledge; false on timeout or when the
  // watcher was dropped or the feed closed (see ended()).
  bool Next(absl::Duration wait, int64_t* sequence, std::vector<std::string>* learners);
  // An acknowledgement of `sequence` (a heartbeat's too) arrived.
  void Ack(int64_t sequence);
  // Why the stream must end, or OK while it may continue.
  absl::Status ended() const;

 private:
  friend class LearnerChangeFeed;
  explicit Watcher(LearnerChangeFeed* feed, std::function<void()> cancel) : feed_(feed), cancel_(std::move(cancel)) {}
  LearnerChangeFeed* const feed_;
  const std::function<void()> cancel_;
  // Guarded by feed_->mu_.
  std::vector<std::string> pending_;
  int64_t pending_sequence_ = 0;  // highest sequence merged into pending_
  int64_t acked_ = 0;
  // When the last acknowledgement arrived (a steady clock: a step of the
  // wall clock must not shorten a lease); none yet: the epoch.
  std::chrono::steady_clock::time_point last_ack_{};
  absl::Status ended_;
};

// The largest acknowledgement a watcher may send (a sequence number: a few
// bytes; room for a newer client's fields).
inline constexpr size_t kMaxLearnerChangesAckBytes = 1024;

// Serves one WatchLearnerChanges stream from `feed` until the client goes
// away, the feed drops it or closes. Returns the status to end the call with.
// `Ack`: v1::LearnerChangesAck (gRPC parses each acknowledgement), or
// grpc::ByteBuffer: each is parsed here, only within
// kMaxLearnerChangesAckBytes (else RESOURCE_EXHAUSTED; bytes that are no
// acknowledgement: INVALID_ARGUMENT), so that a watcher's megabytes of junk
// cost their bytes, not a parse (records_server). With a `watchdog`, every
// Write and every wait for an acknowledgement is watched: a watcher that
// stops reading or acknowledging (even while nothing changes, when no
// Publish would drop it) is cancelled after the watchdog's stall timeout,
// and its handler thread freed.
template <typename Ack>
absl::Status ServeLearnerChanges(LearnerChangeFeed* feed, grpc::ServerContext* ctx,
                                 grpc::ServerReaderWriter<v1::LearnerChanges, Ack>* stream,
                                 StreamWatchdog* watchdog = nullptr);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_LEARNER_CHANGE_FEED_H_
