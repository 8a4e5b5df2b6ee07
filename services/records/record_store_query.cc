// RecordStore (record_store.h), reads: Get and LoadRecord by id, List (the
// most selective index, post-filters, StatementRef matches, signed page
// tokens bound to the filters), the learner and stored-order scans
// (ForEachOfLearner, ForEachAfter), CountLearnerIndexEntries and the
// block-cache warm-up. Reads never take the write queue; they see committed
// groups whole.
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"
#include "services/records/column_families.h"
#include "services/records/record_store.h"
#include "services/records/record_store_internal.h"
#include "services/records/statement.h"

namespace lifelong::records {

using internal::IdKey;
using internal::RefTargetOf;

absl::StatusOr<std::optional<StatementRecord>> RecordStore::LoadRecord(const Uuid& id) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kStatements)), IdKey(id), &value);
  if (s.IsNotFound()) return std::optional<StatementRecord>();
  LL_RETURN_IF_ERROR(FromRocks(s, "read statement"));
  LL_ASSIGN_OR_RETURN(StatementRecord r, DecodeStatementRecord(absl::string_view(value.data(), value.size())));
  return std::optional<StatementRecord>(std::move(r));
}

absl::StatusOr<RecordStore::StoredReferrers> RecordStore::ReadReferrers(const Uuid& target) const {
  StoredReferrers out;
  const std::string marker = EncodeTargetKey(target);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kByTarget)), marker, &value);
  if (s.IsNotFound()) return out;
  LL_RETURN_IF_ERROR(FromRocks(s, "read referrers"));
  out.marker = true;
  LL_ASSIGN_OR_RETURN(out.listed, DecodeReferrers(absl::string_view(value.data(), value.size())));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kByTarget))));
  for (it->Seek(marker); it->Valid() && it->key().starts_with(marker); it->Next()) {
    if (it->key().size() == marker.size()) continue;  // the marker itself
    LL_ASSIGN_OR_RETURN(Uuid referrer, DecodeReferrerKey(absl::string_view(it->key().data(), it->key().size())));
    out.keyed.push_back(referrer);
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan referrers"));
  return out;
}

absl::StatusOr<StoredStatement> RecordStore::Get(const Uuid& id) const {
  LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> r, LoadRecord(id));
  if (!r) return absl::NotFoundError(absl::StrCat("statement ", FormatUuid(id), " not found"));
  return StoredStatement{id, std::move(*r)};
}

namespace {

// A canonical description of a query's filters, bound into its page tokens.
std::string FilterFingerprint(const StatementQuery& q) {
  std::string f = absl::StrCat(
      "l=", q.learner.size(), ":", q.learner, ";v=", q.verb.size(), ":", q.verb, ";a=", q.activity.size(), ":",
      q.activity, ";r=", q.registration ? FormatUuid(*q.registration) : "",
      ";s=", q.since_us ? absl::StrCat(*q.since_us) : "", ";u=", q.until_us ? absl::StrCat(*q.until_us) : "",
      ";x=", q.extra_filter_id, q.include_references ? ";refs" : "", q.learner_as_object ? ";obj" : "");
  return f;
}

// Whether `rec` itself satisfies the non-time filters of `q`.
bool MatchesFilters(const StatementRecord& rec, const StatementQuery& q) {
  if (!q.verb.empty() && rec.verb != q.verb) return false;
  if (!q.activity.empty() && rec.activity != q.activity) return false;
  if (q.registration && (!rec.Has(RecordFlag::kHasRegistration) || rec.registration != *q.registration)) {
    return false;
  }
  if (!q.learner.empty() && std::find(rec.learners.begin(), rec.learners.end(), q.learner) == rec.learners.end() &&
      !(q.learner_as_object && rec.Has(RecordFlag::kNamesOthers) && ObjectNamesLearner(rec.json, q.learner))) {
    return false;
  }
  return !q.extra_filter || q.extra_filter(rec);
}

// The index entries List() walks: one index's iterator, or (a query with
// learner_as_object) the learner index and the mention index of one learner
// merged in key order. Both share the key prefix, so keys compare as
// (seq, id, reference marker); on equal keys (a statement in both indexes)
// the learner index's entry comes first, and the duplicate follows at once.
// Moves in one direction: forward after Seek, backward after SeekForPrev.
class IndexCursor {
 public:
  IndexCursor(std::unique_ptr<rocksdb::Iterator> primary, std::unique_ptr<rocksdb::Iterator> secondary)
      : primary_(std::move(primary)), secondary_(std::move(secondary)), current_(primary_.get()) {}

  void Seek(const rocksdb::Slice& key) {
    forward_ = true;
    primary_->Seek(key);
    if (secondary_) secondary_->Seek(key);
    Pick();
  }
  void SeekForPrev(const rocksdb::Slice& key) {
    forward_ = false;
    primary_->SeekForPrev(key);
    if (secondary_) secondary_->SeekForPrev(key);
    Pick();
  }
  bool Valid() const { return current_->Valid(); }
  void Next() {
    current_->Next();
    Pick();
  }
  void Prev() {
    current_->Prev();
    Pick();
  }
  rocksdb::Slice key() const { return current_->key(); }
  rocksdb::Slice value() const { return current_->value(); }
  // Whether the current entry is the primary index's (the learner index:
  // its own entries hold a covering copy of the record).
  bool on_primary() const { return current_ == primary_.get(); }
  rocksdb::Status status() const {
    if (!primary_->status().ok() || !secondary_) return primary_->status();
    return secondary_->status();
  }

 private:
  void Pick() {
    current_ = primary_.get();
    if (!secondary_ || !secondary_->Valid()) return;
    if (!primary_->Valid()) {
      current_ = secondary_.get();
      return;
    }
    int c = secondary_->key().compare(primary_->key());
    if (forward_ ? c < 0 : c > 0) current_ = secondary_.get();
  }

  std::unique_ptr<rocksdb::Iterator> primary_;
  std::unique_ptr<rocksdb::Iterator> secondary_;  // null: one index
  rocksdb::Iterator* current_;
  bool forward_ = true;
};

}  // namespace

absl::StatusOr<StatementPage> RecordStore::List(const StatementQuery& q) const {
  if (q.page_size < 1 || q.page_size > 1000) {
    return absl::InvalidArgumentError("page_size: must be between 1 and 1000");
  }
  std::string filters = FilterFingerprint(q);
  std::optional<PagePosition> after;
  if (!q.page_token.empty()) {
    LL_ASSIGN_OR_RETURN(PagePosition p, tokens_->Decode(filters, q.ascending, q.page_token));
    after = p;
  }

  // Pick the most selective index; the other filters are checked per record.
  Cf family = Cf::kByStored;
  std::string prefix;
  if (!q.learner.empty()) {
    family = Cf::kByLearner;
    prefix = EncodeStringPrefix(q.learner);
  } else if (q.registration) {
    family = Cf::kByRegistration;
    prefix = EncodeRegistrationPrefix(*q.registration);
  } else if (!q.activity.empty()) {
    family = Cf::kByActivity;
    prefix = EncodeStringPrefix(q.activity);
  } else if (!q.verb.empty()) {
    family = Cf::kByVerb;
    prefix = EncodeStringPrefix(q.verb);
  }

  std::string lower = prefix, upper = prefix;
  PutU64(&lower, q.since_us ? static_cast<uint64_t>(std::max<int64_t>(0, *q.since_us)) + 1 : 0);
  if (q.until_us && *q.until_us < 0) return StatementPage{};
  PutU64(&upper, q.until_us ? static_cast<uint64_t>(*q.until_us) : UINT64_MAX);
  upper.append(17, '\xff');  // id, and the reference marker
  std::string upper_exclusive = upper;
  upper_exclusive.push_back('\0');  // iterate_upper_bound is exclusive

  rocksdb::ReadOptions ro;
  rocksdb::Slice lower_slice(lower), upper_slice(upper_exclusive);
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  if (!prefix.empty()) ro.prefix_same_as_start = true;
  // xAPI `agent`: the learner as actor (learner index) or object (mention
  // index; MatchesFilters keeps those whose object names them).
  const bool merged = family == Cf::kByLearner && q.learner_as_object;
  auto it = std::make_unique<IndexCursor>(
      std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro, cf(static_cast<int>(family)))),
      merged ? std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByMention))))
             : nullptr);

  if (after) {
    std::string key = prefix;
    PutU64(&key, after->seq);
    key.append(reinterpret_cast<const char*>(after->id.data()), 16);
    // Skip the entries of the statement at the position (its own entry and
    // a reference entry may both be there).
    if (q.ascending) {
      it->Seek(key);
      while (it->Valid() && it->key().starts_with(key)) it->Next();
    } else {
      it->SeekForPrev(key);
      while (it->Valid() && it->key().starts_with(key)) it->Prev();
    }
  } else if (q.ascending) {
    it->Seek(lower);
  } else {
    it->SeekForPrev(upper);
  }

  // Bound the work of one page when post-filters reject most entries; the
  // page then comes back short, with a token to continue. Records are read
  // in chunks with MultiGet (one sorted pass over the block cache).
  const int max_scanned = options_.max_scanned_per_page;
  // Reference entries a query without include_references passes over are
  // counted apart: each costs a key decode only (no value, no read by id),
  // and anyone who knows a statement's id can file references to it in its
  // learners' indexes (StatementRef), so under the common budget 20,000 of
  // them emptied the victim's first page.
  const int max_skipped_references = options_.max_skipped_references_per_page;
  StatementPage page;
  int scanned = 0;
  int skipped_references = 0;
  IndexEntry last{};
  bool more = false;
  size_t page_bytes = 0;            // stored JSON of the statements in the page
  bool full = false;                // the next statement would pass max_page_json_bytes
  IndexEntry consumed{};            // the last candidate taken or passed over
  std::optional<Uuid> previous_id;  // own and reference entries of one statement are adjacent
  struct Candidate {
    IndexEntry entry;
    // The record, decoded straight from the learner index's covering copy
    // while the iterator is on it; unset when it must be read by id.
    std::optional<StatementRecord> covered;
  };
  std::vector<Candidate> chunk;
  auto matches = [&](const StatementRecord& rec) -> absl::StatusOr<bool> {
    if (MatchesFilters(rec, q)) return true;
    if (!q.include_references || !rec.Has(RecordFlag::kReferencesStatement)) return false;
    // xAPI: a statement that refers (through StatementRefs) to a statement
    // matching the filters is returned too.
    std::optional<Uuid> target = RefTargetOf(rec);
    for (int depth = 0; target && depth < kMaxReferenceDepth; ++depth) {
      LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> t, LoadRecord(*target));
      if (!t) return false;
      if (MatchesFilters(*t, q)) return true;
      target = RefTargetOf(*t);
    }
    return false;
  };
  while (true) {
    chunk.clear();
    size_t need = static_cast<size_t>(q.page_size) - page.statements.size();
    for (; it->Valid() && chunk.size() < need && scanned < max_scanned && skipped_references < max_skipped_references;
         q.ascending ? it->Next() : it->Prev()) {
      LL_ASSIGN_OR_RETURN(IndexEntry entry,
                          DecodeIndexEntry(absl::string_view(it->key().data(), it->key().size()), prefix.size()));
      last = entry;
      if (entry.is_reference && !q.include_references) {
        ++skipped_references;
        continue;
      }
      ++scanned;
      if (previous_id && *previous_id == entry.id) continue;
      previous_id = entry.id;
      Candidate c{entry, std::nullopt};
      if (family == Cf::kByLearner && it->on_primary() && !entry.is_reference) {
        LL_ASSIGN_OR_RETURN(c.covered,
                            DecodeStatementRecord(absl::string_view(it->value().data(), it->value().size())));
      }
      chunk.push_back(std::move(c));
    }
    std::vector<std::string> keys;
    for (const Candidate& c : chunk) {
      if (!c.covered) keys.push_back(IdKey(c.entry.id));
    }
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(slices.size());
    std::vector<rocksdb::Status> statuses(slices.size());
    if (!slices.empty()) {
      db_->MultiGet(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kStatements)), slices.size(), slices.data(),
                    values.data(), statuses.data());
    }
    size_t fetched = 0;
    for (Candidate& c : chunk) {
      if (!c.covered) {
        size_t k = fetched++;
        if (statuses[k].IsNotFound()) {  // erased between index scan and read
          consumed = c.entry;
          continue;
        }
        LL_RETURN_IF_ERROR(FromRocks(statuses[k], "read statement"));
        LL_ASSIGN_OR_RETURN(c.covered, DecodeStatementRecord(absl::string_view(values[k].data(), values[k].size())));
      }
      StatementRecord& rec = *c.covered;
      bool ok = false;
      if (!rec.Has(RecordFlag::kVoided)) {
        LL_ASSIGN_OR_RETURN(ok, matches(rec));
      }
      if (ok) {
        if (!q.with_json) {
          rec.json.clear();
          rec.json.shrink_to_fit();
        } else if (q.max_page_json_bytes > 0 && !page.statements.empty() &&
                   page_bytes + rec.json.size() > q.max_page_json_bytes) {
          // The page ends before this statement: the next one starts after
          // the last candidate taken or passed over (the rest of this chunk
          // is scanned again).
          full = true;
          break;
        }
        page_bytes += rec.json.size();
        page.statements.push_back({c.entry.id, std::move(rec)});
      }
      consumed = c.entry;
    }
    if (full) {
      more = true;
      last = consumed;
      break;
    }
    if (!it->Valid()) break;
    if (static_cast<int>(page.statements.size()) >= q.page_size || scanned >= max_scanned ||
        skipped_references >= max_skipped_references) {
      more = true;
      break;
    }
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan index"));
  if (more) {
    PagePosition p;
    p.ascending = q.ascending;
    p.seq = last.seq;
    p.id = last.id;
    page.next_page_token = tokens_->Encode(filters, p);
  }
  return page;
}

absl::Status RecordStore::ForEachOfLearner(const std::string& learner,
                                           const std::function<bool(const StoredStatement&)>& fn) const {
  std::string prefix = EncodeStringPrefix(learner);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByLearner))));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    LL_ASSIGN_OR_RETURN(IndexEntry pos,
                        DecodeIndexEntry(absl::string_view(it->key().data(), it->key().size()), prefix.size()));
    if (pos.is_reference) continue;  // another learner's statement referring to this one's
    LL_ASSIGN_OR_RETURN(StatementRecord rec,
                        DecodeStatementRecord(absl::string_view(it->value().data(), it->value().size())));
    if (!fn(StoredStatement{pos.id, std::move(rec)})) break;
  }
  return FromRocks(it->status(), "scan learner index");
}

absl::Status RecordStore::ForEachAfter(uint64_t after_seq, int64_t limit,
                                       const std::function<bool(const StoredStatement&)>& fn) const {
  std::string start;
  PutU64(&start, after_seq == UINT64_MAX ? after_seq : after_seq + 1);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kByStored))));
  int64_t n = 0;
  it->Seek(start);
  // Records are read in sorted chunks with MultiGet.
  constexpr size_t kChunk = 256;
  std::vector<IndexPosition> chunk;
  std::vector<std::string> keys;
  while (it->Valid() && (limit <= 0 || n < limit)) {
    chunk.clear();
    keys.clear();
    for (; it->Valid() && chunk.size() < kChunk; it->Next()) {
      LL_ASSIGN_OR_RETURN(IndexPosition pos, DecodeIndexTail(absl::string_view(it->key().data(), it->key().size()), 0));
      if (pos.seq <= after_seq) continue;
      chunk.push_back(pos);
      keys.push_back(IdKey(pos.id));
    }
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(slices.size());
    std::vector<rocksdb::Status> statuses(slices.size());
    db_->MultiGet(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kStatements)), slices.size(), slices.data(),
                  values.data(), statuses.data());
    for (size_t k = 0; k < chunk.size(); ++k) {
      if (limit > 0 && n >= limit) return absl::OkStatus();
      if (statuses[k].IsNotFound()) continue;  // erased meanwhile
      LL_RETURN_IF_ERROR(FromRocks(statuses[k], "read statement"));
      LL_ASSIGN_OR_RETURN(StatementRecord rec,
                          DecodeStatementRecord(absl::string_view(values[k].data(), values[k].size())));
      ++n;
      if (!fn(StoredStatement{chunk[k].id, std::move(rec)})) return absl::OkStatus();
    }
  }
  return FromRocks(it->status(), "scan stored index");
}

absl::StatusOr<int64_t> RecordStore::CountLearnerIndexEntries(const std::string& learner) const {
  std::string prefix = EncodeStringPrefix(learner);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByLearner))));
  int64_t n = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan learner index"));
  return n;
}

absl::StatusOr<uint64_t> RecordStore::WarmLearnerIndex(const std::atomic<bool>* stop) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = true;
  ro.readahead_size = 2 << 20;  // sequential pass: read ahead
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByLearner))));
  uint64_t bytes = 0, n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    bytes += it->key().size() + it->value().size();
    if ((++n & 4095) == 0 && stop != nullptr && stop->load()) break;
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "warm learner index"));
  return bytes;
}

}  // namespace lifelong::records
