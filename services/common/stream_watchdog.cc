#include "services/common/stream_watchdog.h"

#include <algorithm>
#include <utility>

#include "services/common/log.h"

namespace lifelong {

StreamWatchdog::StreamWatchdog(absl::Duration stall_timeout, absl::Duration tick)
    : stall_timeout_(stall_timeout), tick_(tick), thread_([this] { Loop(); }) {}

StreamWatchdog::~StreamWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.Signal();
  }
  thread_.join();
}

std::unique_ptr<StreamWatchdog::Stream> StreamWatchdog::Watch(grpc::ServerContextBase* ctx, std::string method,
                                                              absl::Time hard_end) {
  absl::MutexLock lock(&mu_);
  streams_.emplace_back();
  Entry& e = streams_.back();
  e.ctx = ctx;
  e.method = std::move(method);
  e.hard_end = hard_end;
  if (streams_.size() == 1) cv_.Signal();
  return std::unique_ptr<Stream>(new Stream(this, std::prev(streams_.end())));
}

void StreamWatchdog::Unregister(std::list<Entry>::iterator it) {
  absl::MutexLock lock(&mu_);
  streams_.erase(it);
}

void StreamWatchdog::Stream::Began() {
  it_->write_began_ns.store(std::max<int64_t>(1, absl::ToUnixNanos(absl::Now())), std::memory_order_relaxed);
}

void StreamWatchdog::Stream::Ended() { it_->write_began_ns.store(0, std::memory_order_relaxed); }

StreamWatchdog::Verdict StreamWatchdog::Stream::verdict() const {
  absl::MutexLock lock(&owner_->mu_);
  return it_->verdict;
}

StreamWatchdog::Stats StreamWatchdog::stats() const {
  Stats s;
  s.cancelled_stalled = cancelled_stalled_.load(std::memory_order_relaxed);
  s.cancelled_too_long = cancelled_too_long_.load(std::memory_order_relaxed);
  return s;
}

void StreamWatchdog::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    // Asleep while no stream is registered; a look every tick otherwise.
    if (streams_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    cv_.WaitWithTimeout(&mu_, tick_);
    if (stop_) break;
    const absl::Time now = absl::Now();
    for (Entry& e : streams_) {
      const int64_t began_ns = e.write_began_ns.load(std::memory_order_relaxed);
      if (e.verdict != Verdict::kNone || began_ns == 0) continue;
      const absl::Time write_began = absl::FromUnixNanos(began_ns);
      const bool stalled = now - write_began > stall_timeout_;
      const bool too_long = e.hard_end != absl::InfiniteFuture() && now - e.hard_end > stall_timeout_;
      if (!stalled && !too_long) continue;
      // The handler is blocked in this Write: cancelling the call makes the
      // Write return false. The context is alive, as the entry is
      // (unregistered under this lock before the handler returns).
      e.verdict = stalled ? Verdict::kStalled : Verdict::kTooLong;
      (stalled ? cancelled_stalled_ : cancelled_too_long_).fetch_add(1, std::memory_order_relaxed);
      LogWarn("grpc_stream_cancelled", {{"method", e.method},
                                        {"reason", stalled ? "stalled: the client neither read nor answered"
                                                           : "past the server's limit of a stream"},
                                        {"write_waited_seconds", absl::ToDoubleSeconds(now - write_began)},
                                        {"peer", e.ctx->peer()}});
      e.ctx->TryCancel();
    }
  }
}

}  // namespace lifelong
