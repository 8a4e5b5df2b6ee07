#include "services/records/audit_log.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "services/common/log.h"

namespace lifelong::records {
namespace {

constexpr size_t kMaxAddressesPerSummary = 100;

}  // namespace

std::string AddressOfPeer(absl::string_view peer) {
  std::string p = absl::StrReplaceAll(peer, {{"%5B", "["}, {"%5D", "]"}, {"%5b", "["}, {"%5d", "]"}});
  absl::string_view v = p;
  if (absl::StartsWith(v, "ipv4:") || absl::StartsWith(v, "ipv6:")) {
    v.remove_prefix(5);
  } else {
    return std::string(v.substr(0, 200));  // unix sockets and the like: as given
  }
  if (!v.empty() && v.front() == '[') {
    size_t close = v.find(']');
    if (close == absl::string_view::npos) return std::string(v.substr(0, 200));
    return std::string(v.substr(1, close - 1));
  }
  size_t colon = v.rfind(':');
  if (colon != absl::string_view::npos && v.find(':') == colon) v = v.substr(0, colon);  // host:port
  return std::string(v.substr(0, 200));
}

AuditLog::AuditLog(RecordStore* store, AuditLogOptions options) : store_(store), options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return absl::Now(); };
}

AuditLog::~AuditLog() { Flush(); }

void AuditLog::Write(const AuditEvent& e) {
  absl::Status s = store_->AppendAudit(e);
  if (!s.ok()) {
    LogError("audit_append_failed", {{"error", std::string(s.message())}});
    return;
  }
  absl::MutexLock lock(&mu_);
  ++stats_.rows_written;
}

AuditEvent AuditLog::Summary(const Window& w, absl::Time end) {
  AuditEvent e;
  e.time_us = absl::ToUnixMicros(end);
  e.subject = w.subject;
  e.role = w.role;
  e.operation = kSampledOperation;
  e.outcome = w.outcome;
  std::vector<std::pair<int64_t, std::string>> top;
  for (const auto& [address, n] : w.by_address) top.emplace_back(n, address);
  std::sort(top.rbegin(), top.rend());
  std::string addresses;
  for (size_t i = 0; i < top.size() && i < 5; ++i) {
    absl::StrAppend(&addresses, i == 0 ? "" : ", ", top[i].second.empty() ? "(unknown)" : top[i].second, " (",
                    top[i].first, ")");
  }
  e.detail = absl::StrCat(w.suppressed, " more refused calls between ", absl::FormatTime(w.since), " and ",
                          absl::FormatTime(end), "; by address: ", addresses);
  return e;
}

bool AuditLog::Sample(const std::string& key, const AuditEvent& event, absl::string_view address, absl::Time now,
                      std::vector<AuditEvent>* out) {
  auto it = windows_.find(key);
  if (it != windows_.end() && now - it->second.start >= options_.window) {
    if (it->second.suppressed > 0) out->push_back(Summary(it->second, now));
    windows_.erase(it);
    it = windows_.end();
  }
  if (it == windows_.end()) {
    // Closed windows of other keys are summarized on their next refusal or
    // on Flush(); drop the ones with nothing to report.
    for (auto w = windows_.begin(); w != windows_.end();) {
      if (now - w->second.start >= options_.window && w->second.suppressed == 0) {
        w = windows_.erase(w);
      } else {
        ++w;
      }
    }
    Window w;
    w.start = w.since = now;
    w.subject = event.subject;
    w.role = event.role;
    w.outcome = event.outcome;
    it = windows_.emplace(key, std::move(w)).first;
  }
  Window& w = it->second;
  if (w.written < options_.sampled_per_window) {
    ++w.written;
    return true;
  }
  ++w.suppressed;
  ++stats_.refusals_sampled_out;
  std::string a(address);
  if (w.by_address.count(a) || w.by_address.size() < kMaxAddressesPerSummary) ++w.by_address[a];
  return false;
}

void AuditLog::Record(AuditEvent event) {
  std::vector<AuditEvent> rows;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = options_.now();
    if (event.time_us == 0) event.time_us = absl::ToUnixMicros(now);
    bool own_row = true;
    if (event.outcome == "RESOURCE_EXHAUSTED") {
      own_row = Sample(absl::StrCat("limited:", event.role, ":", event.subject), event, "", now, &rows);
    }
    if (own_row) rows.push_back(std::move(event));
  }
  for (const AuditEvent& e : rows) Write(e);
}

void AuditLog::RecordCall(const auth::Principal& who, absl::string_view operation, absl::string_view learner,
                          absl::string_view outcome, absl::string_view detail) {
  AuditEvent e;
  e.subject = who.subject;
  e.role = std::string(auth::RoleName(who.role));
  e.learner = std::string(learner);
  e.operation = std::string(operation);
  e.outcome = std::string(outcome);
  e.detail = std::string(detail);
  Record(std::move(e));
}

void AuditLog::RecordUnauthenticated(absl::string_view address, absl::string_view operation,
                                     const absl::Status& refusal) {
  AuditEvent e;
  e.subject = kUnauthenticatedSubject;
  e.operation = std::string(operation);
  e.outcome = std::string(absl::StatusCodeToString(refusal.code()));
  e.detail =
      absl::StrCat(address.empty() ? "" : absl::StrCat("from ", address, ": "), refusal.message().substr(0, 200));
  std::vector<AuditEvent> rows;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.unauthenticated;
    absl::Time now = options_.now();
    e.time_us = absl::ToUnixMicros(now);
    if (Sample("unauthenticated", e, address, now, &rows)) rows.push_back(std::move(e));
  }
  for (const AuditEvent& r : rows) Write(r);
}

bool AuditLog::AllowUnauthenticated(absl::string_view address) {
  absl::MutexLock lock(&mu_);
  absl::Time now = options_.now();
  auto refill = [&](Bucket& b) {
    b.tokens = std::min(options_.unauthenticated_burst,
                        b.tokens + absl::ToDoubleSeconds(now - b.refilled) * options_.unauthenticated_per_second);
    b.refilled = now;
  };
  if (addresses_.size() >= options_.max_tracked_addresses && addresses_.count(std::string(address)) == 0) {
    for (auto it = addresses_.begin(); it != addresses_.end();) {
      refill(it->second);
      it = it->second.tokens >= options_.unauthenticated_burst ? addresses_.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = addresses_.try_emplace(std::string(address));
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = options_.unauthenticated_burst;
    b.refilled = now;
  }
  refill(b);
  if (b.tokens < 1) {
    ++stats_.address_limited;
    return false;
  }
  b.tokens -= 1;
  return true;
}

void AuditLog::Flush() {
  std::vector<AuditEvent> rows;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = options_.now();
    for (auto& [key, w] : windows_) {
      if (w.suppressed == 0) continue;
      rows.push_back(Summary(w, now));
      // The window goes on (its sample stays spent), its count starting over.
      w.suppressed = 0;
      w.by_address.clear();
      w.since = now;
    }
  }
  for (const AuditEvent& e : rows) Write(e);
}

AuditLog::Stats AuditLog::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace lifelong::records
