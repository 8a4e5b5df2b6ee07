#include "services/common/rocks_logger.h"

#include <cstdarg>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "services/common/log.h"

namespace lifelong {
namespace {

class StructuredRocksLogger final : public rocksdb::Logger {
 public:
  explicit StructuredRocksLogger(std::string store)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), store_(std::move(store)) {}

  using rocksdb::Logger::Logv;
  // Messages without a level are INFO (RocksDB's own default): dropped.
  void Logv(const char* /*format*/, va_list /*ap*/) override {}

  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < rocksdb::InfoLogLevel::WARN_LEVEL || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    if (!Admit()) return;
    char buffer[1024];
    va_list copy;
    va_copy(copy, ap);
    const int n = std::vsnprintf(buffer, sizeof(buffer), format, copy);
    va_end(copy);
    if (n < 0) return;
    std::string message(buffer, static_cast<size_t>(n) < sizeof(buffer) ? static_cast<size_t>(n) : sizeof(buffer) - 1);
    const char* name = level == rocksdb::InfoLogLevel::WARN_LEVEL ? "warn" : "error";
    Log(name, "rocksdb", {{"store", store_}, {"message", message}});
  }

 private:
  // At most kRocksLogLinesPerWindow lines a window: on a full disk RocksDB
  // reports every failed write and retries its recovery in a loop, and the
  // service log may sit on that same disk. The first line of a later window
  // is preceded by the count of those left out.
  bool Admit() {
    const absl::Time now = absl::Now();
    int64_t suppressed = 0;
    {
      absl::MutexLock lock(&mu_);
      if (now - window_start_ >= kRocksLogWindow) {
        suppressed = suppressed_;
        suppressed_ = 0;
        lines_ = 0;
        window_start_ = now;
      }
      if (lines_ >= kRocksLogLinesPerWindow) {
        ++suppressed_;
        return false;
      }
      ++lines_;
    }
    if (suppressed > 0) {
      Log("warn", "rocksdb_lines_suppressed",
          {{"store", store_}, {"count", suppressed}, {"window_s", absl::ToDoubleSeconds(kRocksLogWindow)}});
    }
    return true;
  }

  const std::string store_;
  absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int lines_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewStructuredRocksLogger(std::string store) {
  return std::make_shared<StructuredRocksLogger>(std::move(store));
}

}  // namespace lifelong
