// Cancels server streams whose client stopped taking messages.
//
// A sync server's ServerWriter::Write blocks while HTTP/2 flow control holds
// the message back, that is while the client does not read. A client that
// opens a stream (an export) and then reads nothing, yet keeps its
// connection open, would keep the handler thread (counted against the
// server's max_concurrent_calls), the caller's in-flight slot and whatever
// the handler holds (a store iterator, pinning files) for as long as it
// likes: a few such clients stop the service for everyone. The server-side
// deadline of a stream does not help, since it is checked between writes.
//
// Each stream registers while its handler runs (Watch) and writes through
// its Stream. One background thread cancels (ServerContext::TryCancel) a
// stream whose current Write has been pending for longer than the stall
// timeout, or is still pending a stall timeout after the stream's hard end
// (a handler checks its own deadline between writes, and ends there with a
// status of its own; this catches the one blocked in a Write, or a reader so
// slow that the handler's next check is far away); the blocked Write then
// returns false and the handler ends. A slow reader that keeps taking
// messages, however slowly, is never cut for that: only a single Write that
// waits longer than the stall timeout is.
//
// Thread-safety: every method may be called from any thread. A Stream must
// be destroyed before its call's handler returns (it is unregistered then,
// under the watchdog's lock, so the context is never touched afterwards).
#ifndef LIFELONG_SERVICES_COMMON_STREAM_WATCHDOG_H_
#define LIFELONG_SERVICES_COMMON_STREAM_WATCHDOG_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace lifelong {

class StreamWatchdog {
 public:
  // Why a stream was cancelled.
  enum class Verdict { kNone, kStalled, kTooLong };

  struct Stats {
    int64_t cancelled_stalled = 0;
    int64_t cancelled_too_long = 0;
  };

  class Stream;

  // stall_timeout > 0. `tick` is how often the watchdog looks (while any
  // stream is registered; it sleeps otherwise).
  explicit StreamWatchdog(absl::Duration stall_timeout, absl::Duration tick = absl::Milliseconds(100));
  ~StreamWatchdog();
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  // Registers the stream of `ctx` (method named for the log) until the
  // returned Stream is destroyed. It is cancelled once a Write has waited
  // longer than the stall timeout, or when a Write is still waiting a stall
  // timeout after `hard_end` (absl::InfiniteFuture(): no hard end).
  std::unique_ptr<Stream> Watch(grpc::ServerContextBase* ctx, std::string method, absl::Time hard_end);

  absl::Duration stall_timeout() const { return stall_timeout_; }
  Stats stats() const;

 private:
  struct Entry {
    grpc::ServerContextBase* ctx;
    std::string method;
    absl::Time hard_end;
    // When the pending Write began (absl::ToUnixNanos), 0: none. Set by the
    // stream's thread without the lock (two stores a Write), read by the
    // watchdog's: at worst it cancels a stream whose Write, stalled a whole
    // timeout, completed during that look.
    std::atomic<int64_t> write_began_ns{0};
    Verdict verdict = Verdict::kNone;
  };
  void Loop();
  void Unregister(std::list<Entry>::iterator it);

  const absl::Duration stall_timeout_;
  const absl::Duration tick_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;  // a stream registered, or stopping
  std::list<Entry> streams_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> cancelled_stalled_{0};
  std::atomic<int64_t> cancelled_too_long_{0};
  std::thread thread_;

 public:
  // One registered stream.
  class Stream {
   public:
    ~Stream() { owner_->Unregister(it_); }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // writer->Write(message), watched; returns its result (false once the
    // stream is cancelled or the client went away).
    template <typename Writer, typename Message>
    bool Write(Writer* writer, const Message& message) {
      return Call([&] { return writer->Write(message); });
    }
    // fn(), a blocking step of the stream (a Write, or a Read of the
    // client's next message where the client must answer), watched as a
    // Write is: cancelled once it waits longer than the stall timeout.
    template <typename Fn>
    bool Call(Fn fn) {
      Began();
      const bool ok = fn();
      Ended();
      return ok;
    }
    // Whether, and why, the watchdog cancelled this stream.
    Verdict verdict() const;

   private:
    friend class StreamWatchdog;
    Stream(StreamWatchdog* owner, std::list<Entry>::iterator it) : owner_(owner), it_(it) {}
    void Began();
    void Ended();
    StreamWatchdog* const owner_;
    const std::list<Entry>::iterator it_;
  };
};

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_STREAM_WATCHDOG_H_
