// RecordStore (record_store.h), the audit log: AppendAudit (replicated
// through the log when there is one; otherwise, or when the log is
// unavailable, kept locally so that no access goes unaudited) and ListAudit
// (newest first, with an opaque page token). Layout of the audit family in
// key_codec.h.
#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"
#include "services/records/column_families.h"
#include "services/records/record_store.h"

namespace lifelong::records {

absl::Status RecordStore::AppendAudit(const AuditEvent& e) {
  if (options_.log != nullptr) {
    // Replicated when this node may write; a follower (which serves reads,
    // and audits them) or a leader cut off from the log keeps the row in
    // its own store instead: an access is never left unaudited.
    absl::Status proposed = options_.log->ProposeAudit(e, options_.now_micros());
    if (proposed.code() != absl::StatusCode::kUnavailable) return proposed;
  }
  std::string key;
  PutU64(&key, static_cast<uint64_t>(e.time_us ? e.time_us : options_.now_micros()));
  PutU64(&key, audit_counter_.fetch_add(1, std::memory_order_relaxed));
  nlohmann::json j = {{"time", FormatTimestampMicros(e.time_us ? e.time_us : options_.now_micros())},
                      {"subject", e.subject},
                      {"role", e.role},
                      {"learner", e.learner},
                      {"operation", e.operation},
                      {"outcome", e.outcome},
                      {"detail", e.detail}};
  rocksdb::WriteOptions wo;
  wo.sync = false;
  return FromRocks(db_->Put(wo, cf(static_cast<int>(Cf::kAudit)), key,
                            j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)),
                   "append audit event");
}

absl::StatusOr<AuditPage> RecordStore::ListAudit(const AuditQuery& q) const {
  if (q.page_size < 1 || q.page_size > 1000) {
    return absl::InvalidArgumentError("page_size: must be between 1 and 1000");
  }
  std::string upper;
  if (!q.page_token.empty()) {
    if (!absl::WebSafeBase64Unescape(q.page_token, &upper) || upper.size() != 16) {
      return absl::InvalidArgumentError("page_token: malformed");
    }
  } else {
    PutU64(&upper, q.until_us ? static_cast<uint64_t>(std::max<int64_t>(0, *q.until_us)) : UINT64_MAX);
    upper.append(8, '\xff');
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kAudit))));
  it->SeekForPrev(upper);
  if (!q.page_token.empty() && it->Valid() && it->key() == rocksdb::Slice(upper)) it->Prev();
  AuditPage page;
  int scanned = 0;
  std::string last;
  for (; it->Valid() && static_cast<int>(page.events.size()) < q.page_size && scanned < 100000; it->Prev()) {
    ++scanned;
    if (it->key().size() != 16) return absl::InternalError("corrupt audit key");
    int64_t t = static_cast<int64_t>(GetU64(it->key().data()));
    if (q.since_us && t <= *q.since_us) break;
    last = it->key().ToString();
    nlohmann::json j = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (!j.is_object()) return absl::InternalError("corrupt audit event");
    AuditEvent e;
    e.time_us = t;
    e.subject = j.value("subject", "");
    e.role = j.value("role", "");
    e.learner = j.value("learner", "");
    e.operation = j.value("operation", "");
    e.outcome = j.value("outcome", "");
    e.detail = j.value("detail", "");
    if (!q.learner.empty() && e.learner != q.learner) continue;
    if (!q.subject.empty() && e.subject != q.subject) continue;
    page.events.push_back(std::move(e));
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan audit log"));
  bool at_end =
      !it->Valid() || (q.since_us && it->Valid() && static_cast<int64_t>(GetU64(it->key().data())) <= *q.since_us);
  if (!at_end && !last.empty()) page.next_page_token = absl::WebSafeBase64Escape(last);
  return page;
}

}  // namespace lifelong::records
