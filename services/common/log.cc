#include "services/common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace lifelong {
namespace {

// The "svc" value; replaced (and the old one leaked) by SetLogService, which
// runs once or twice per process, so readers need no lock.
std::atomic<const std::string*> g_service{new std::string("lifelong")};

std::atomic<uint64_t> g_written{0};
std::atomic<uint64_t> g_dropped{0};
std::atomic<uint64_t> g_sampled_out{0};
std::atomic<int> g_access_sample{1};
std::atomic<double> g_access_slow_ms{250};

// Rotation of stderr's file (LogConfig::rotate_bytes). `written` counts the
// bytes that went into the current file; the thread whose write passes the
// limit rotates, under `mu`, and every write(2) goes to the old file or the
// new one whole (dup2 replaces descriptor 2 atomically).
struct Rotation {
  absl::Mutex mu;
  std::string path ABSL_GUARDED_BY(mu);  // stderr's file; empty: none
  int keep ABSL_GUARDED_BY(mu) = 4;
  std::atomic<int64_t> max_bytes{0};  // 0: no rotation
  std::atomic<int64_t> written{0};
  std::atomic<uint64_t> rotations{0};
};
Rotation& TheRotation() {
  static auto* rotation = new Rotation;
  return *rotation;
}

bool SameFile(int a, int b) {
  struct stat sa, sb;
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Sets up rotation for stderr's file, or turns it off (max_bytes 0, or
// stderr is no regular file). Its path is read from /proc/self/fd/2.
void ConfigureRotation(int64_t max_bytes, int keep) {
  Rotation& r = TheRotation();
  absl::MutexLock lock(&r.mu);
  r.keep = keep;
  r.max_bytes.store(0, std::memory_order_relaxed);
  r.path.clear();
  struct stat st;
  if (max_bytes <= 0 || fstat(STDERR_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) return;
  char target[PATH_MAX];
  const ssize_t n = readlink("/proc/self/fd/2", target, sizeof(target) - 1);
  if (n <= 0 || target[0] != '/') return;
  std::string path(target, static_cast<size_t>(n));
  if (absl::EndsWith(path, " (deleted)")) return;
  r.path = std::move(path);
  r.written.store(static_cast<int64_t>(st.st_size), std::memory_order_relaxed);
  r.max_bytes.store(max_bytes, std::memory_order_relaxed);
}

// FILE -> FILE.1 -> ... -> FILE.<keep>, then a new FILE on descriptor 2 (and
// 1 when it was the same file). Failures leave the current file in use; the
// next write past the limit tries again.
void RotateLocked(Rotation& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r.mu) {
  for (int i = r.keep - 1; i >= 1; --i) {
    std::rename(absl::StrCat(r.path, ".", i).c_str(), absl::StrCat(r.path, ".", i + 1).c_str());
  }
  if (std::rename(r.path.c_str(), (r.path + ".1").c_str()) != 0 && errno != ENOENT) return;
  const int fd = open(r.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const bool stdout_too = SameFile(STDOUT_FILENO, STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  if (stdout_too) dup2(fd, STDOUT_FILENO);
  close(fd);
  r.written.store(0, std::memory_order_relaxed);
  r.rotations.fetch_add(1, std::memory_order_relaxed);
}

// Counts `bytes` written to stderr, rotating its file past the limit.
void NoteWritten(size_t bytes) {
  Rotation& r = TheRotation();
  const int64_t max = r.max_bytes.load(std::memory_order_relaxed);
  if (max <= 0) return;
  if (r.written.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed) + static_cast<int64_t>(bytes) < max) {
    return;
  }
  absl::MutexLock lock(&r.mu);
  if (r.path.empty() || r.written.load(std::memory_order_relaxed) < max) return;  // rotated meanwhile
  RotateLocked(r);
}

// Writes all of `data` to stderr (retrying short writes and EINTR); false
// when write(2) fails.
bool WriteAll(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

size_t CountLines(std::string_view data) {
  size_t n = 0;
  for (char c : data) n += c == '\n';
  return n;
}

void WriteCounted(std::string_view text, size_t lines) {
  if (WriteAll(text)) {
    g_written.fetch_add(lines, std::memory_order_relaxed);
    NoteWritten(text.size());
  } else {
    g_dropped.fetch_add(lines, std::memory_order_relaxed);
  }
}

// The asynchronous queue and its writer thread (log.h). Never destroyed once
// published (threads may still hold the pointer); Stop() ends the thread and
// makes later lines synchronous, written under the queue's lock so that they
// follow what was queued.
class AsyncWriter {
 public:
  explicit AsyncWriter(size_t queue_bytes)
      : limit_(queue_bytes), wake_bytes_(std::min(kLogBatchBytes, queue_bytes / 4)) {
    pending_.reserve(kLogBatchBytes * 2);
    thread_ = std::thread([this] { Run(); });
  }

  // Queues `line` (one or more complete lines), or drops and counts it when
  // the queue is full: ordinary lines may fill 3/4 of it, important ones all.
  // The queue's position after the line (for FlushUntil); 0 when it was
  // dropped or written at once (after Stop).
  uint64_t Enqueue(std::string_view line, bool important) {
    absl::MutexLock lock(&mu_);
    if (exited_) {
      WriteCounted(line, CountLines(line));
      return 0;
    }
    const size_t limit = important ? limit_ : limit_ / 4 * 3;
    if (pending_.size() + line.size() > limit) {
      g_dropped.fetch_add(CountLines(line), std::memory_order_relaxed);
      return 0;
    }
    const bool was_empty = pending_.empty();
    pending_.append(line.data(), line.size());
    queued_bytes_ += line.size();
    // The writer waits without a deadline for the first line, then up to
    // kLogBatchDelay for the batch to fill: wake it at those two points only.
    if (was_empty || (pending_.size() >= wake_bytes_ && pending_.size() - line.size() < wake_bytes_)) {
      work_.Signal();
    }
    return queued_bytes_;
  }

  // Waits until everything queued so far is written.
  void Flush() { FlushUntil(0); }

  // Waits until the queue's bytes up to `position` (0: all queued so far)
  // are written (or dropped on a write error), asking the writer not to wait
  // for a fuller batch.
  void FlushUntil(uint64_t position) {
    absl::MutexLock lock(&mu_);
    const uint64_t target = position == 0 ? queued_bytes_ : position;
    if (done_bytes_ >= target || exited_) return;
    ++flush_waiters_;
    work_.Signal();
    while (done_bytes_ < target && !exited_) done_.Wait(&mu_);
    --flush_waiters_;
  }

  // Writes what is queued and ends the thread; idempotent.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      stop_ = true;
      work_.Signal();
    }
    thread_.join();
  }

 private:
  void Run() {
    std::string batch;
    batch.reserve(kLogBatchBytes * 2);
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        while (pending_.empty() && !stop_) work_.Wait(&mu_);
        if (pending_.empty()) {  // stop_ and nothing left
          exited_ = true;
          done_.SignalAll();
          return;
        }
        const absl::Time deadline = absl::Now() + kLogBatchDelay;
        while (pending_.size() < wake_bytes_ && !stop_ && flush_waiters_ == 0) {
          if (work_.WaitWithDeadline(&mu_, deadline)) break;  // timed out
        }
        batch.swap(pending_);
      }
      WriteCounted(batch, CountLines(batch));
      const size_t n = batch.size();
      batch.clear();
      absl::MutexLock lock(&mu_);
      done_bytes_ += n;
      done_.SignalAll();
    }
  }

  absl::Mutex mu_;
  absl::CondVar work_;  // the writer waits here
  absl::CondVar done_;  // Flush waits here
  std::string pending_ ABSL_GUARDED_BY(mu_);
  const size_t limit_;
  // A batch is written at once from this size on (kLogBatchBytes, or a
  // quarter of a smaller queue, so that it never fills while the writer
  // waits for more).
  const size_t wake_bytes_;
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // ever queued
  uint64_t done_bytes_ ABSL_GUARDED_BY(mu_) = 0;    // ever written or dropped by the writer
  int flush_waiters_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool exited_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

std::atomic<AsyncWriter*> g_writer{nullptr};
std::mutex g_config_mu;  // serializes ConfigureLogging

void StopWriterAtExit() {
  AsyncWriter* writer = g_writer.load(std::memory_order_acquire);
  if (writer != nullptr) writer->Stop();
}

// Hands one or more complete lines to the writer, or writes them; with
// `wait`, returns once they are written.
void Emit(std::string_view text, bool important, bool wait) {
  AsyncWriter* writer = g_writer.load(std::memory_order_acquire);
  if (writer != nullptr) {
    const uint64_t position = writer->Enqueue(text, important);
    if (wait && position != 0) writer->FlushUntil(position);
  } else {
    WriteCounted(text, CountLines(text));
  }
}

// Appends "2026-11-28T10:00:00.123Z" for `now`; the part up to the seconds is
// formatted once per second and thread (absl::FormatTime was a visible part
// of the access log's cost).
void AppendTimestamp(std::string* out, absl::Time now) {
  thread_local int64_t cached_second = INT64_MIN;
  thread_local std::string cached_prefix;
  const int64_t micros = absl::ToUnixMicros(now);
  int64_t second = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --second;
  }
  if (second != cached_second) {
    cached_prefix = absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second), absl::UTCTimeZone());
    cached_second = second;
  }
  const int millis = static_cast<int>(rest / 1000);
  out->append(cached_prefix);
  const char frac[6] = {'.',
                        static_cast<char>('0' + millis / 100),
                        static_cast<char>('0' + millis / 10 % 10),
                        static_cast<char>('0' + millis % 10),
                        'Z',
                        '\0'};
  out->append(frac, 5);
}

}  // namespace

absl::Status ConfigureLogging(const LogConfig& config) {
  if (config.queue_bytes < 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue_bytes: ", config.queue_bytes, " is below the minimum of 4096"));
  }
  if (config.access_sample < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("access_sample: ", config.access_sample, " is negative (1: every call, 0: none)"));
  }
  if (!(config.access_slow_ms >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("access_slow_ms: ", config.access_slow_ms, " is negative"));
  }
  if (config.rotate_bytes < 0) {
    return absl::InvalidArgumentError(absl::StrCat("rotate_bytes: ", config.rotate_bytes, " is negative (0: never)"));
  }
  if (config.rotate_keep < 1 || config.rotate_keep > 100) {
    return absl::InvalidArgumentError(absl::StrCat("rotate_keep: ", config.rotate_keep, " is outside 1..100"));
  }
  std::lock_guard<std::mutex> lock(g_config_mu);
  ConfigureRotation(config.rotate_bytes, config.rotate_keep);
  g_access_sample.store(config.access_sample, std::memory_order_relaxed);
  g_access_slow_ms.store(config.access_slow_ms, std::memory_order_relaxed);
  AsyncWriter* old = g_writer.load(std::memory_order_acquire);
  if (!config.async) {
    if (old != nullptr) {
      // Drained first: lines that still reach it afterwards are written
      // under its lock, after what it held, so each thread's order holds.
      old->Stop();
      g_writer.store(nullptr, std::memory_order_release);
    }
    return absl::OkStatus();
  }
  // A new queue (the size may differ); the old one, if any, drains first.
  // Leaked: threads may still hold the pointer.
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit(&StopWriterAtExit); });
  auto* writer = new AsyncWriter(config.queue_bytes);
  if (old != nullptr) old->Stop();
  g_writer.store(writer, std::memory_order_release);
  return absl::OkStatus();
}

void FlushLogs() {
  AsyncWriter* writer = g_writer.load(std::memory_order_acquire);
  if (writer != nullptr) writer->Flush();
}

LogStats LogStatistics() {
  LogStats s;
  s.written_lines = g_written.load(std::memory_order_relaxed);
  s.dropped_lines = g_dropped.load(std::memory_order_relaxed);
  s.sampled_out = g_sampled_out.load(std::memory_order_relaxed);
  s.rotations = TheRotation().rotations.load(std::memory_order_relaxed);
  return s;
}

void SetLogService(const std::string& service) {
  // The previous name is leaked: another thread may be formatting with it.
  g_service.store(new std::string(service), std::memory_order_release);
}

void Log(const char* level, const std::string& event, const nlohmann::json& fields) {
  nlohmann::json line = nlohmann::json::object();
  std::string ts;
  AppendTimestamp(&ts, absl::Now());
  line["ts"] = std::move(ts);
  line["level"] = level;
  line["svc"] = *g_service.load(std::memory_order_acquire);
  line["event"] = event;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  // Event lines are rare and someone may be waiting for them (a "serving"
  // line, an error before exit): each is written before Log returns, in
  // order with the access lines queued before it.
  Emit(text, /*important=*/true, /*wait=*/true);
}

AccessLogVerdict JudgeAccessLog(bool ok, double duration_ms) {
  if (!ok || duration_ms >= g_access_slow_ms.load(std::memory_order_relaxed)) {
    return AccessLogVerdict::kWriteImportant;
  }
  const int every = g_access_sample.load(std::memory_order_relaxed);
  if (every == 1) return AccessLogVerdict::kWrite;
  thread_local uint32_t calls = 0;
  if (every > 0 && calls++ % static_cast<uint32_t>(every) == 0) return AccessLogVerdict::kWrite;
  g_sampled_out.fetch_add(1, std::memory_order_relaxed);
  return AccessLogVerdict::kSkip;
}

void AppendJsonQuoted(std::string* out, std::string_view text) {
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c >= 0x80) {
          // Log fields here are ASCII (method names, status codes, ids,
          // peers); anything else is escaped byte by byte, never passed on.
          static const char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string JsonQuote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  AppendJsonQuoted(&out, text);
  return out;
}

void LogRpc(std::string_view method, std::string_view code, double duration_ms, std::string_view request_id,
            std::string_view peer, bool important) {
  // One buffer per thread, reused: no allocation per line once it has grown.
  thread_local std::string text;
  text.clear();
  // Keys in nlohmann::json's (sorted) order, as Log() writes them.
  text.append("{\"code\":");
  AppendJsonQuoted(&text, code);
  absl::StrAppend(&text, ",\"duration_ms\":", duration_ms, ",\"event\":\"rpc\",\"level\":\"info\",\"method\":");
  AppendJsonQuoted(&text, method);
  text.append(",\"peer\":");
  AppendJsonQuoted(&text, peer);
  text.append(",\"request_id\":");
  AppendJsonQuoted(&text, request_id);
  text.append(",\"svc\":");
  AppendJsonQuoted(&text, *g_service.load(std::memory_order_acquire));
  text.append(",\"ts\":\"");
  AppendTimestamp(&text, absl::Now());
  text.append("\"}\n");
  Emit(text, important, /*wait=*/false);
}

}  // namespace lifelong
