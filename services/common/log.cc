#include "services/common/log.h"

#include <unistd.h>

#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lifelong {
namespace {
std::mutex& ServiceMu() {
  static std::mutex mu;
  return mu;
}
std::string& ServiceName() {
  static std::string name = "lifelong";
  return name;
}
}  // namespace

void SetLogService(const std::string& service) {
  std::lock_guard<std::mutex> lock(ServiceMu());
  ServiceName() = service;
}

void Log(const char* level, const std::string& event, const nlohmann::json& fields) {
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line["level"] = level;
  {
    std::lock_guard<std::mutex> lock(ServiceMu());
    line["svc"] = ServiceName();
  }
  line["event"] = event;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  ssize_t unused = ::write(STDERR_FILENO, text.data(), text.size());
  (void)unused;
}

}  // namespace lifelong
