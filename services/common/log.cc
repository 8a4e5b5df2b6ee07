#include "services/common/log.h"

#include <unistd.h>

#include <mutex>

#include "absl/strings/str_cat.h"
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

std::string JsonQuote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x80) {
          // Log fields here are ASCII (method names, status codes, ids,
          // peers); anything else is escaped byte by byte, never passed on.
          static const char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

void LogRpc(std::string_view method, std::string_view code, double duration_ms, std::string_view request_id,
            std::string_view peer) {
  std::string svc;
  {
    std::lock_guard<std::mutex> lock(ServiceMu());
    svc = ServiceName();
  }
  // Keys in nlohmann::json's (sorted) order, as Log() writes them.
  std::string text = absl::StrCat(
      "{\"code\":", JsonQuote(code), ",\"duration_ms\":", duration_ms, ",\"event\":\"rpc\",\"level\":\"info\",\"method\":",
      JsonQuote(method), ",\"peer\":", JsonQuote(peer), ",\"request_id\":", JsonQuote(request_id),
      ",\"svc\":", JsonQuote(svc), ",\"ts\":\"",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), "\"}\n");
  ssize_t unused = ::write(STDERR_FILENO, text.data(), text.size());
  (void)unused;
}

}  // namespace lifelong
