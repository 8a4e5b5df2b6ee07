#include "services/catalog/catalog_store.h"

#include <openssl/rand.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/field_mask_util.h"
#include "services/catalog/catalog_codec.h"
#include "services/catalog/column_families.h"
#include "services/catalog/course_validation.h"
#include "services/common/rocks_logger.h"
#include "services/common/rocks_status.h"

namespace lifelong::catalog {
namespace {

using google::protobuf::FieldMask;
using google::protobuf::Timestamp;
using google::protobuf::util::FieldMaskUtil;
using lifelong::v1::CatalogInfo;
using lifelong::v1::Course;
using lifelong::v1::ListCoursesRequest;
using lifelong::v1::ListCoursesResponse;

constexpr int kCourses = static_cast<int>(Cf::kCourses);
constexpr int kIndex = static_cast<int>(Cf::kCourseIndex);
constexpr int kMeta = static_cast<int>(Cf::kMeta);
constexpr int kProgrammes = static_cast<int>(Cf::kProgrammes);

// Fields the service sets; ignored in input and in update masks.
constexpr absl::string_view kOutputOnlyFields[] = {"id", "revision", "etag", "create_time", "update_time"};

bool IsOutputOnlyPath(absl::string_view path) {
  const absl::string_view top = path.substr(0, path.find('.'));
  return std::find(std::begin(kOutputOnlyFields), std::end(kOutputOnlyFields), top) != std::end(kOutputOnlyFields);
}

absl::Status Closed() { return absl::UnavailableError("catalog store is closed"); }

absl::Status ReadOnly() {
  return absl::FailedPreconditionError("catalog store is open read-only (the check of a restored copy)");
}

// Microsecond precision everywhere, so stored times round-trip exactly.
absl::Time Micros(absl::Time t) { return absl::FromUnixMicros(absl::ToUnixMicros(t)); }

Timestamp ToProto(absl::Time t) {
  Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return ts;
}

bool Before(const Timestamp& a, const Timestamp& b) {
  return std::make_pair(a.seconds(), a.nanos()) < std::make_pair(b.seconds(), b.nanos());
}

// A course's etag: its revision and the microsecond of the write that made
// it. The revision alone repeats after a backup restore (the restored course
// is at an older revision, and as many edits again reach the same number
// with other contents); the write time does not, so a client's etag read
// before a restore never matches a course written after it. Computed once,
// when a write is planned: in log mode the entry carries the course with it
// (docs/catalog.md, "Replication"), so every node stores the same etag.
// Etags of the earlier form (the decimal revision) stay in their courses and
// match until the next write of each.
std::string EtagOf(int64_t revision, absl::Time update_time) {
  return absl::StrCat(revision, "-", absl::ToUnixMicros(update_time));
}

absl::Status CourseNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("course '", id, "' not found"));
}

// The visibility rule (catalog_store.h, Viewer): a DRAFT exists for staff only.
bool VisibleTo(const Course& course, Viewer viewer) {
  return viewer == Viewer::kStaff || course.state() != Course::DRAFT;
}

bool Matches(const Course& c, const ListCoursesRequest& r) {
  if (r.state() != Course::STATE_UNSPECIFIED) {
    if (c.state() != r.state()) return false;
  } else if (!r.show_archived() && c.state() == Course::ARCHIVED) {
    return false;
  }
  if (r.mode() != Course::MODE_UNSPECIFIED && c.mode() != r.mode()) return false;
  if (r.level() != Course::LEVEL_UNSPECIFIED && c.level() != r.level()) return false;
  if (!r.category().empty() && c.category() != r.category()) return false;
  if (!r.xuequ().empty() && c.venue().xuequ() != r.xuequ()) return false;
  if (!r.jiedao().empty() && c.venue().jiedao() != r.jiedao()) return false;
  if (!r.venue_id().empty() && c.venue().id() != r.venue_id()) return false;
  if (r.audience() != Course::AUDIENCE_UNSPECIFIED &&
      std::find(c.audiences().begin(), c.audiences().end(), r.audience()) == c.audiences().end()) {
    return false;
  }
  if (!r.tag().empty() && std::find(c.tags().begin(), c.tags().end(), r.tag()) == c.tags().end()) {
    return false;
  }
  if (r.has_enrollment_open_at()) {
    const Timestamp& t = r.enrollment_open_at();
    if (c.state() != Course::OPEN) return false;
    if (c.has_enrollment_open_time() && Before(t, c.enrollment_open_time())) return false;
    if (c.has_enrollment_close_time() && !Before(t, c.enrollment_close_time())) return false;
  }
  if (r.has_available_seats() && c.capacity() > 0 && c.seats_taken() >= c.capacity()) {
    return false;
  }
  return true;
}

// The index run that drives a listing: the most selective filter given, or
// none (scan every course). Returns the index key prefix, or nullopt.
std::optional<std::string> DrivingPrefix(const ListCoursesRequest& r) {
  using codec::IndexKind;
  using codec::IndexPrefix;
  if (!r.venue_id().empty()) return IndexPrefix(IndexKind::kVenue, r.venue_id());
  if (!r.jiedao().empty()) return IndexPrefix(IndexKind::kJiedao, r.jiedao());
  if (!r.xuequ().empty()) return IndexPrefix(IndexKind::kXuequ, r.xuequ());
  if (!r.tag().empty()) return IndexPrefix(IndexKind::kTag, r.tag());
  if (!r.category().empty()) return IndexPrefix(IndexKind::kCategory, r.category());
  if (r.level() != Course::LEVEL_UNSPECIFIED) {
    return IndexPrefix(IndexKind::kLevel, codec::EnumTerm(r.level()));
  }
  if (r.audience() != Course::AUDIENCE_UNSPECIFIED) {
    return IndexPrefix(IndexKind::kAudience, codec::EnumTerm(r.audience()));
  }
  if (r.mode() != Course::MODE_UNSPECIFIED) {
    return IndexPrefix(IndexKind::kMode, codec::EnumTerm(r.mode()));
  }
  if (r.state() != Course::STATE_UNSPECIFIED) {
    return IndexPrefix(IndexKind::kState, codec::EnumTerm(r.state()));
  }
  if (r.has_enrollment_open_at()) {
    return IndexPrefix(IndexKind::kState, codec::EnumTerm(Course::OPEN));
  }
  return std::nullopt;
}

// Applies `source` onto `target` as UpdateCourseRequest documents.
void ApplyUpdateMask(const Course& source, const FieldMask& mask, Course* target) {
  if (mask.paths_size() == 1 && mask.paths(0) == "*") {
    Course merged = source;
    merged.set_id(target->id());
    merged.set_revision(target->revision());
    merged.set_etag(target->etag());
    *merged.mutable_create_time() = target->create_time();
    *merged.mutable_update_time() = target->update_time();
    *target = std::move(merged);
    return;
  }
  FieldMask effective;
  if (mask.paths_size() == 0) {
    std::vector<const google::protobuf::FieldDescriptor*> fields;
    source.GetReflection()->ListFields(source, &fields);
    for (const auto* field : fields) effective.add_paths(field->name());
  } else {
    effective = mask;
  }
  FieldMask writable;
  for (const std::string& path : effective.paths()) {
    if (!IsOutputOnlyPath(path)) writable.add_paths(path);
  }
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(source, writable, options, target);
}

absl::StatusOr<uint64_t> ReadU64(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::ReadOptions& ro,
                                 codec::MetaKey key) {
  std::string value;
  rocksdb::Status s = db->Get(ro, cf, codec::MetaKeyBytes(key), &value);
  if (s.IsNotFound()) return 0;
  if (!s.ok()) return FromRocks(s, "read catalog metadata");
  return codec::DecodeU64Value(value);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CatalogStore>> CatalogStore::Open(const std::string& path, CatalogStoreOptions options) {
  if (options.max_page_bytes < 1) return absl::InvalidArgumentError("max_page_bytes: must be at least 1");
  if (options.max_scan_per_page < 1) {
    return absl::InvalidArgumentError("max_scan_per_page: must be at least 1");
  }
  if (options.read_only && options.log != nullptr) {
    return absl::InvalidArgumentError("read_only: a read-only store takes no log");
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = !options.read_only;
  db_options.create_missing_column_families = true;
  // RocksDB's info log goes to the service log, not a LOG file on the data
  // disk (services/common/rocks_logger.h: a full disk would abort the process).
  db_options.info_log = NewStructuredRocksLogger("catalog");

  std::vector<std::string> existing;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, path, &existing);
  if (listed.ok()) {
    const std::vector<std::string> unknown = storage::UnknownColumnFamilies(kColumnFamilies, existing);
    if (!unknown.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("catalog database ", path, " has unknown column family '",
                                                        unknown.front(), "' (written by a newer version?)"));
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const ColumnFamilySpec& family : kColumnFamilies) {
    descriptors.emplace_back(std::string(family.name), rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw); !s.ok()) {
    return FromRocks(s, absl::StrCat("open catalog database ", path));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  auto fail = [&](absl::Status status) {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    db->Close();
    return status;
  };
  rocksdb::ColumnFamilyHandle* meta = handles[kMeta];
  const rocksdb::ReadOptions ro;

  // Format version and page-token secret: written once, on first open.
  std::string version_value;
  rocksdb::Status s = db->Get(ro, meta, codec::MetaKeyBytes(codec::MetaKey::kFormatVersion), &version_value);
  std::string secret;
  if (s.IsNotFound() && options.read_only) {
    return fail(absl::FailedPreconditionError(absl::StrCat("catalog database ", path, " holds no catalog")));
  }
  if (s.IsNotFound()) {
    secret.resize(codec::kPageTokenSecretBytes);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&secret[0]), static_cast<int>(secret.size())) != 1) {
      return fail(absl::InternalError("cannot draw a random page-token secret"));
    }
    rocksdb::WriteBatch batch;
    batch.Put(meta, codec::MetaKeyBytes(codec::MetaKey::kFormatVersion),
              codec::EncodeU32Value(codec::kCurrentFormatVersion));
    batch.Put(meta, codec::MetaKeyBytes(codec::MetaKey::kPageTokenSecret), secret);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto ws = db->Write(wo, &batch); !ws.ok()) {
      return fail(FromRocks(ws, "initialize catalog metadata"));
    }
  } else if (!s.ok()) {
    return fail(FromRocks(s, "read catalog format version"));
  } else {
    absl::StatusOr<uint32_t> version = codec::DecodeU32Value(version_value);
    if (!version.ok()) return fail(version.status());
    if (*version != codec::kCurrentFormatVersion) {
      return fail(
          absl::FailedPreconditionError(absl::StrCat("catalog database ", path, " has format version ", *version,
                                                     "; this build reads version ", codec::kCurrentFormatVersion)));
    }
    s = db->Get(ro, meta, codec::MetaKeyBytes(codec::MetaKey::kPageTokenSecret), &secret);
    if (!s.ok()) return fail(FromRocks(s, "read page-token secret"));
    if (secret.size() != codec::kPageTokenSecretBytes) {
      return fail(absl::DataLossError("page-token secret has the wrong length"));
    }
  }

  Counters counters;
  for (auto [key, field] : {std::make_pair(codec::MetaKey::kGeneration, &counters.generation),
                            std::make_pair(codec::MetaKey::kCourseCount, &counters.course_count),
                            std::make_pair(codec::MetaKey::kArchivedCount, &counters.archived_count)}) {
    absl::StatusOr<uint64_t> v = ReadU64(db.get(), meta, ro, key);
    if (!v.ok()) return fail(v.status());
    *field = *v;
  }
  absl::StatusOr<uint64_t> applied = ReadU64(db.get(), meta, ro, codec::MetaKey::kAppliedLogSeq);
  if (!applied.ok()) return fail(applied.status());
  counters.applied_log_seq = *applied;
  if (options.log == nullptr && !options.read_only && counters.applied_log_seq > 0) {
    // Writes here would exist on this node only, and the node could never
    // apply the log again without diverging from the others.
    return fail(absl::FailedPreconditionError(absl::StrCat(
        "catalog database ", path, " is a node of a replicated catalog (it applied log position ",
        counters.applied_log_seq, "): start it with --replication_nats (docs/catalog.md, \"Replication\")")));
  }
  {
    // Drafts are not a stored counter: their run of the state index (a
    // handful of courses in work) is counted here.
    const std::string drafts = codec::IndexPrefix(codec::IndexKind::kState, codec::EnumTerm(Course::DRAFT));
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, handles[kIndex]));
    for (it->Seek(drafts); it->Valid() && it->key().starts_with(drafts); it->Next()) ++counters.draft_count;
    if (auto st = FromRocks(it->status(), "count draft courses"); !st.ok()) return fail(st);
  }
  std::string time_value;
  s = db->Get(ro, meta, codec::MetaKeyBytes(codec::MetaKey::kUpdateTime), &time_value);
  if (s.ok()) {
    absl::StatusOr<absl::Time> t = codec::DecodeTimeValue(time_value);
    if (!t.ok()) return fail(t.status());
    counters.update_time = *t;
  } else if (!s.IsNotFound()) {
    return fail(FromRocks(s, "read catalog update time"));
  }
  return std::unique_ptr<CatalogStore>(
      new CatalogStore(std::move(options), std::move(db), std::move(handles), std::move(secret), counters));
}

CatalogStore::CatalogStore(CatalogStoreOptions options, std::unique_ptr<rocksdb::DB> db,
                           std::vector<rocksdb::ColumnFamilyHandle*> handles, std::string token_key, Counters counters)
    : options_(std::move(options)),
      signer_(std::make_shared<const PageTokenSigner>(std::move(token_key))),
      db_(std::move(db)),
      handles_(std::move(handles)),
      counters_(counters) {}

CatalogStore::~CatalogStore() { Close().IgnoreError(); }

absl::Status CatalogStore::Close() {
  absl::MutexLock write_lock(&write_mu_);
  absl::WriterMutexLock lock(&db_mu_);
  if (db_ == nullptr) return absl::OkStatus();
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  rocksdb::Status s = db_->Close();
  db_.reset();
  return FromRocks(s, "close catalog database");
}

absl::StatusOr<Course> CatalogStore::ReadCourse(absl::string_view id, const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string value;
  rocksdb::Status s = db_->Get(ro, Cf(kCourses), codec::CourseKey(id), &value);
  if (s.IsNotFound()) return CourseNotFound(id);
  if (!s.ok()) return FromRocks(s, "read course");
  return codec::DecodeCourseValue(value);
}

absl::Status CatalogStore::CheckPrerequisites(const Course& course) const {
  return ValidatePrerequisites(course, [this](const std::string& id) -> absl::StatusOr<std::vector<std::string>> {
    db_mu_.AssertReaderHeld();
    absl::StatusOr<Course> stored = ReadCourse(id, nullptr);
    if (!stored.ok()) return stored.status();
    return std::vector<std::string>(stored->prerequisite_ids().begin(), stored->prerequisite_ids().end());
  });
}

absl::Status CatalogStore::WriteCourse(const Course* previous, Course* next, Pending* pending) {
  const absl::Time now = Micros(options_.clock());
  next->set_revision(previous == nullptr ? 1 : previous->revision() + 1);
  next->set_etag(EtagOf(next->revision(), now));
  *next->mutable_update_time() = ToProto(now);
  if (previous == nullptr) {
    *next->mutable_create_time() = ToProto(now);
  } else {
    *next->mutable_create_time() = previous->create_time();
  }
  if (pending == nullptr) return CommitCourse(previous, *next, now, std::nullopt);
  pending->kind = CatalogLogEntry::kCourse;
  pending->payload = codec::EncodeCourseValue(*next);
  pending->at = AppliedLogSeq();
  return absl::OkStatus();
}

absl::Status CatalogStore::CommitCourse(const Course* previous, const Course& next, absl::Time now,
                                        std::optional<uint64_t> log_seq) {
  rocksdb::WriteBatch batch;
  batch.Put(Cf(kCourses), codec::CourseKey(next.id()), codec::EncodeCourseValue(next));
  const std::vector<std::string> new_keys = codec::CourseIndexKeys(next);
  std::vector<std::string> old_keys;
  if (previous != nullptr) old_keys = codec::CourseIndexKeys(*previous);
  std::vector<std::string> removed, added;
  std::set_difference(old_keys.begin(), old_keys.end(), new_keys.begin(), new_keys.end(), std::back_inserter(removed));
  std::set_difference(new_keys.begin(), new_keys.end(), old_keys.begin(), old_keys.end(), std::back_inserter(added));
  for (const std::string& key : removed) batch.Delete(Cf(kIndex), key);
  for (const std::string& key : added) batch.Put(Cf(kIndex), key, rocksdb::Slice());

  Counters updated;
  {
    absl::MutexLock lock(&counters_mu_);
    updated = counters_;
  }
  updated.generation += 1;
  if (previous == nullptr) updated.course_count += 1;
  const bool was_archived = previous != nullptr && previous->state() == Course::ARCHIVED;
  const bool is_archived = next.state() == Course::ARCHIVED;
  if (is_archived && !was_archived) updated.archived_count += 1;
  if (!is_archived && was_archived) updated.archived_count -= 1;
  const bool was_draft = previous != nullptr && previous->state() == Course::DRAFT;
  const bool is_draft = next.state() == Course::DRAFT;
  if (is_draft && !was_draft) updated.draft_count += 1;
  if (!is_draft && was_draft) updated.draft_count -= 1;
  updated.update_time = now;
  if (log_seq) updated.applied_log_seq = *log_seq;
  batch.Put(Cf(kMeta), codec::MetaKeyBytes(codec::MetaKey::kCourseCount), codec::EncodeU64Value(updated.course_count));
  batch.Put(Cf(kMeta), codec::MetaKeyBytes(codec::MetaKey::kArchivedCount),
            codec::EncodeU64Value(updated.archived_count));
  PutCounters(updated, &batch);

  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = FromRocks(db_->Write(wo, &batch), "write course"); !s.ok()) return s;
  absl::MutexLock lock(&counters_mu_);
  counters_ = updated;
  return absl::OkStatus();
}

void CatalogStore::PutCounters(const Counters& updated, rocksdb::WriteBatch* batch) const {
  batch->Put(Cf(kMeta), codec::MetaKeyBytes(codec::MetaKey::kGeneration), codec::EncodeU64Value(updated.generation));
  if (updated.update_time) {
    batch->Put(Cf(kMeta), codec::MetaKeyBytes(codec::MetaKey::kUpdateTime),
               codec::EncodeTimeValue(*updated.update_time));
  }
  if (updated.applied_log_seq > 0) {
    batch->Put(Cf(kMeta), codec::MetaKeyBytes(codec::MetaKey::kAppliedLogSeq),
               codec::EncodeU64Value(updated.applied_log_seq));
  }
}

absl::Status CatalogStore::CommitProgramme(const v1::Programme& programme, absl::Time now,
                                           std::optional<uint64_t> log_seq) {
  Counters updated;
  {
    absl::MutexLock counters_lock(&counters_mu_);
    updated = counters_;
  }
  updated.generation += 1;
  updated.update_time = now;
  if (log_seq) updated.applied_log_seq = *log_seq;
  rocksdb::WriteBatch batch;
  batch.Put(Cf(kProgrammes), codec::ProgrammeKey(programme.id()), codec::EncodeProgrammeValue(programme));
  PutCounters(updated, &batch);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = FromRocks(db_->Write(wo, &batch), "write programme"); !s.ok()) return s;
  absl::MutexLock counters_lock(&counters_mu_);
  counters_ = updated;
  return absl::OkStatus();
}

template <typename T>
absl::StatusOr<T> CatalogStore::RunWrite(const std::function<absl::StatusOr<T>(Pending*)>& step) {
  if (options_.read_only) return ReadOnly();
  if (options_.log == nullptr) return step(nullptr);
  bool caught_up = false;
  for (int attempt = 1;; ++attempt) {
    Pending pending;
    absl::StatusOr<T> result = step(&pending);
    if (!result.ok() && !caught_up && !absl::IsUnavailable(result.status())) {
      // This node may be behind the log: what refused the write (an etag
      // newer than this copy's, a course or prerequisite created on another
      // node) may be answered otherwise at the log's end. Decide there, once.
      caught_up = true;
      if (options_.log->CatchUp().ok()) continue;
      return result;
    }
    if (!result.ok() || pending.payload.empty()) return result;
    absl::StatusOr<bool> landed = options_.log->Append(pending.kind, pending.payload, pending.at);
    if (!landed.ok()) return landed.status();
    if (*landed) return result;
    if (attempt >= options_.max_write_attempts) {
      return absl::AbortedError(
          absl::StrCat("catalog: other writes landed first ", attempt, " times in a row; retry the call"));
    }
  }
}

absl::Status CatalogStore::RaiseGeneration(uint64_t floor) {
  if (options_.read_only) return ReadOnly();
  if (options_.log != nullptr) {
    return absl::FailedPreconditionError("catalog store is replicated: its generation follows the log");
  }
  absl::MutexLock write_lock(&write_mu_);
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_ == nullptr) return Closed();
  Counters updated;
  {
    absl::MutexLock counters_lock(&counters_mu_);
    updated = counters_;
  }
  if (updated.generation >= floor) return absl::OkStatus();
  updated.generation = floor;
  rocksdb::WriteBatch batch;
  PutCounters(updated, &batch);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = FromRocks(db_->Write(wo, &batch), "raise the catalog generation"); !s.ok()) return s;
  absl::MutexLock counters_lock(&counters_mu_);
  counters_ = updated;
  return absl::OkStatus();
}

uint64_t CatalogStore::AppliedLogSeq() const {
  absl::MutexLock lock(&counters_mu_);
  return counters_.applied_log_seq;
}

uint64_t CatalogStore::UnloggedWrites() const {
  absl::MutexLock lock(&counters_mu_);
  return counters_.applied_log_seq == 0 ? counters_.generation : 0;
}

std::shared_ptr<const PageTokenSigner> CatalogStore::Signer() const {
  absl::MutexLock lock(&signer_mu_);
  return signer_;
}

absl::Status CatalogStore::ApplyLogged(uint64_t seq, CatalogLogEntry kind, absl::string_view payload) {
  absl::MutexLock write_lock(&write_mu_);
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_ == nullptr) return Closed();
  if (options_.read_only) return ReadOnly();
  if (seq <= AppliedLogSeq()) return absl::OkStatus();
  const auto bad = [seq](const absl::Status& s) {
    return absl::DataLossError(absl::StrCat("catalog log entry ", seq, ": ", s.message()));
  };
  switch (kind) {
    case CatalogLogEntry::kInit: {
      if (payload.size() != codec::kPageTokenSecretBytes) {
        return bad(absl::InvalidArgumentError("the page-token secret has the wrong length"));
      }
      Counters updated;
      {
        absl::MutexLock counters_lock(&counters_mu_);
        updated = counters_;
      }
      updated.applied_log_seq = seq;
      rocksdb::WriteBatch batch;
      batch.Put(Cf(kMeta), codec::MetaKeyBytes(codec::MetaKey::kPageTokenSecret),
                rocksdb::Slice(payload.data(), payload.size()));
      PutCounters(updated, &batch);
      rocksdb::WriteOptions wo;
      wo.sync = true;
      if (auto s = FromRocks(db_->Write(wo, &batch), "write the log's page-token secret"); !s.ok()) return s;
      {
        absl::MutexLock counters_lock(&counters_mu_);
        counters_ = updated;
      }
      absl::MutexLock signer_lock(&signer_mu_);
      signer_ = std::make_shared<const PageTokenSigner>(std::string(payload));
      return absl::OkStatus();
    }
    case CatalogLogEntry::kCourse: {
      absl::StatusOr<Course> course = codec::DecodeCourseValue(payload);
      if (!course.ok()) return bad(course.status());
      if (auto s = ValidateCourseId("course.id", course->id()); !s.ok()) return bad(s);
      absl::StatusOr<Course> previous = ReadCourse(course->id(), nullptr);
      if (!previous.ok() && !absl::IsNotFound(previous.status())) return previous.status();
      const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(
          absl::FromUnixSeconds(course->update_time().seconds()) + absl::Nanoseconds(course->update_time().nanos())));
      return CommitCourse(previous.ok() ? &*previous : nullptr, *course, now, seq);
    }
    case CatalogLogEntry::kProgramme: {
      absl::StatusOr<v1::Programme> programme = codec::DecodeProgrammeValue(payload);
      if (!programme.ok()) return bad(programme.status());
      if (auto s = ValidateCourseId("programme.id", programme->id()); !s.ok()) return bad(s);
      const absl::Time now =
          absl::FromUnixMicros(absl::ToUnixMicros(absl::FromUnixSeconds(programme->update_time().seconds()) +
                                                  absl::Nanoseconds(programme->update_time().nanos())));
      return CommitProgramme(*programme, now, seq);
    }
  }
  return bad(absl::InvalidArgumentError("unknown entry kind"));
}

absl::StatusOr<v1::Programme> CatalogStore::PutProgramme(const v1::Programme& input) {
  v1::Programme programme = input;
  programme.clear_update_time();
  if (auto s = ValidateProgramme(programme); !s.ok()) return s;
  return RunWrite<v1::Programme>([&](Pending* pending) -> absl::StatusOr<v1::Programme> {
    absl::MutexLock write_lock(&write_mu_);
    absl::ReaderMutexLock lock(&db_mu_);
    if (db_ == nullptr) return Closed();
    for (int i = 0; i < programme.required_course_ids_size(); ++i) {
      absl::StatusOr<Course> c = ReadCourse(programme.required_course_ids(i), nullptr);
      if (absl::IsNotFound(c.status())) {
        return absl::InvalidArgumentError(absl::StrCat("programme.required_course_ids[", i, "]: no course with id '",
                                                       programme.required_course_ids(i), "'"));
      }
      if (!c.ok()) return c.status();
    }
    std::string existing;
    rocksdb::Status got =
        db_->Get(rocksdb::ReadOptions(), Cf(kProgrammes), codec::ProgrammeKey(programme.id()), &existing);
    if (got.IsNotFound()) {
      absl::StatusOr<std::vector<v1::Programme>> all = ListProgrammesLocked();
      if (!all.ok()) return all.status();
      if (static_cast<int>(all->size()) >= kMaxProgrammes) {
        return absl::ResourceExhaustedError(
            absl::StrCat("programme.id: the catalog already holds ", kMaxProgrammes, " programmes"));
      }
    } else if (!got.ok()) {
      return FromRocks(got, "read programme");
    }
    const absl::Time now = Micros(options_.clock());
    v1::Programme stored = programme;
    *stored.mutable_update_time() = ToProto(now);
    if (pending != nullptr) {
      pending->kind = CatalogLogEntry::kProgramme;
      pending->payload = codec::EncodeProgrammeValue(stored);
      pending->at = AppliedLogSeq();
      return stored;
    }
    if (auto s = CommitProgramme(stored, now, std::nullopt); !s.ok()) return s;
    return stored;
  });
}

absl::StatusOr<v1::Programme> CatalogStore::GetProgramme(absl::string_view id) const {
  if (auto s = ValidateCourseId("id", id); !s.ok()) return s;
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_ == nullptr) return Closed();
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Cf(kProgrammes), codec::ProgrammeKey(id), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("programme '", id, "' not found"));
  if (!s.ok()) return FromRocks(s, "read programme");
  return codec::DecodeProgrammeValue(value);
}

absl::StatusOr<std::vector<v1::Programme>> CatalogStore::ListProgrammes() const {
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_ == nullptr) return Closed();
  return ListProgrammesLocked();
}

absl::StatusOr<std::vector<v1::Programme>> CatalogStore::ListProgrammesLocked() const {
  std::vector<v1::Programme> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Cf(kProgrammes)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::StatusOr<v1::Programme> p =
        codec::DecodeProgrammeValue(absl::string_view(it->value().data(), it->value().size()));
    if (!p.ok()) return p.status();
    out.push_back(*std::move(p));
  }
  if (auto s = FromRocks(it->status(), "list programmes"); !s.ok()) return s;
  return out;
}

absl::StatusOr<Course> CatalogStore::CreateCourse(const Course& input) {
  Course course = input;
  course.clear_revision();
  course.clear_etag();
  course.clear_create_time();
  course.clear_update_time();
  if (course.state() == Course::STATE_UNSPECIFIED) course.set_state(Course::DRAFT);
  if (auto s = ValidateCourse(course); !s.ok()) return s;

  return RunWrite<Course>([&](Pending* pending) -> absl::StatusOr<Course> {
    absl::MutexLock write_lock(&write_mu_);
    absl::ReaderMutexLock lock(&db_mu_);
    if (db_ == nullptr) return Closed();
    absl::StatusOr<Course> existing = ReadCourse(course.id(), nullptr);
    if (existing.ok()) {
      return absl::AlreadyExistsError(absl::StrCat("course '", course.id(), "' already exists"));
    }
    if (!absl::IsNotFound(existing.status())) return existing.status();
    if (auto s = CheckPrerequisites(course); !s.ok()) return s;
    Course stored = course;
    if (auto s = WriteCourse(nullptr, &stored, pending); !s.ok()) return s;
    return stored;
  });
}

absl::StatusOr<Course> CatalogStore::GetCourse(absl::string_view id, Viewer viewer) const {
  if (auto s = ValidateCourseId("id", id); !s.ok()) return s;
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_ == nullptr) return Closed();
  absl::StatusOr<Course> course = ReadCourse(id, nullptr);
  if (course.ok() && !VisibleTo(*course, viewer)) return CourseNotFound(id);
  return course;
}

absl::StatusOr<std::vector<Course>> CatalogStore::BatchGetCourses(absl::Span<const std::string> ids,
                                                                  Viewer viewer) const {
  if (ids.empty() || ids.size() > static_cast<size_t>(kMaxBatchGet)) {
    return absl::InvalidArgumentError(absl::StrCat("ids: must hold 1..", kMaxBatchGet, " ids"));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (auto s = ValidateCourseId(absl::StrCat("ids[", i, "]"), ids[i]); !s.ok()) return s;
  }
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_ == nullptr) return Closed();
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  std::vector<Course> courses;
  absl::Status status;
  size_t reply_bytes = 0;  // encoded size of `courses`, as a list page counts it
  for (size_t i = 0; i < ids.size() && status.ok(); ++i) {
    absl::StatusOr<Course> course = ReadCourse(ids[i], snapshot);
    if (absl::IsNotFound(course.status()) || (course.ok() && !VisibleTo(*course, viewer))) {
      status = absl::NotFoundError(absl::StrCat("ids[", i, "]: course '", ids[i], "' not found"));
    } else if (!course.ok()) {
      status = course.status();
    } else {
      // The same budget as a list page (repeats count each time): refused
      // here, before the reply grows past it.
      const size_t size = course->ByteSizeLong();
      if (!courses.empty() && reply_bytes + size > options_.max_page_bytes) {
        status = absl::InvalidArgumentError(absl::StrCat("ids: the courses asked for pass ", options_.max_page_bytes,
                                                         " bytes encoded, the most one reply carries (reached at ids[",
                                                         i, "]); ask for fewer ids"));
      } else {
        reply_bytes += size;
        courses.push_back(*std::move(course));
      }
    }
  }
  db_->ReleaseSnapshot(snapshot);
  if (!status.ok()) return status;
  return courses;
}

absl::StatusOr<Course> CatalogStore::UpdateCourse(const Course& course, const FieldMask& mask) {
  if (auto s = ValidateCourseId("course.id", course.id()); !s.ok()) return s;
  if (course.etag().empty()) {
    return absl::InvalidArgumentError("course.etag: required (the etag of the course as last read)");
  }
  if (auto s = ValidateUpdateMask(mask); !s.ok()) return s;

  return RunWrite<Course>([&](Pending* pending) -> absl::StatusOr<Course> {
    absl::MutexLock write_lock(&write_mu_);
    absl::ReaderMutexLock lock(&db_mu_);
    if (db_ == nullptr) return Closed();
    absl::StatusOr<Course> current = ReadCourse(course.id(), nullptr);
    if (!current.ok()) return current.status();
    if (current->state() == Course::ARCHIVED) {
      return absl::FailedPreconditionError(
          absl::StrCat("course '", course.id(), "' is archived and cannot be updated"));
    }
    if (course.etag() != current->etag()) {
      return absl::AbortedError(absl::StrCat("course.etag: '", course.etag(), "' is stale (current etag is '",
                                             current->etag(), "'); read the course again and retry"));
    }
    Course next = *current;
    ApplyUpdateMask(course, mask, &next);
    if (next.state() == Course::STATE_UNSPECIFIED) {
      return absl::InvalidArgumentError("course.state: must be set");
    }
    if (auto s = ValidateCourse(next); !s.ok()) return s;
    if (auto s = CheckPrerequisites(next); !s.ok()) return s;
    if (auto s = WriteCourse(&*current, &next, pending); !s.ok()) return s;
    return next;
  });
}

absl::StatusOr<Course> CatalogStore::ArchiveCourse(absl::string_view id, absl::string_view etag) {
  if (auto s = ValidateCourseId("id", id); !s.ok()) return s;
  return RunWrite<Course>([&](Pending* pending) -> absl::StatusOr<Course> {
    absl::MutexLock write_lock(&write_mu_);
    absl::ReaderMutexLock lock(&db_mu_);
    if (db_ == nullptr) return Closed();
    absl::StatusOr<Course> current = ReadCourse(id, nullptr);
    if (!current.ok()) return current.status();
    if (!etag.empty() && etag != current->etag()) {
      return absl::AbortedError(
          absl::StrCat("etag: '", etag, "' is stale (current etag is '", current->etag(), "'); read the course again"));
    }
    if (current->state() == Course::ARCHIVED) return current;
    // An archived course is readable by everyone, and nothing takes it back:
    // archiving a draft (staff work that learners and kiosks must not see,
    // "Drafts" in docs/catalog.md) would publish it.
    if (current->state() == Course::DRAFT) {
      return absl::FailedPreconditionError(absl::StrCat(
          "id: course \"", id,
          "\" is a DRAFT, never published: archiving it would publish it (archived courses are readable by "
          "everyone); an unwanted draft can stay a draft, which only catalog staff see"));
    }
    Course next = *current;
    next.set_state(Course::ARCHIVED);
    if (auto s = WriteCourse(&*current, &next, pending); !s.ok()) return s;
    return next;
  });
}

absl::StatusOr<ListCoursesResponse> CatalogStore::ListCourses(const ListCoursesRequest& request, Viewer viewer) const {
  if (auto s = ValidateListCoursesRequest(request); !s.ok()) return s;
  if (viewer == Viewer::kPublic && request.state() == Course::DRAFT) {
    return absl::PermissionDeniedError("state: DRAFT courses are listed to catalog staff only");
  }
  const int page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  const uint64_t fingerprint = ListFilterFingerprint(request);
  const absl::Time now = options_.clock();
  std::string after_id;
  if (!request.page_token().empty()) {
    absl::StatusOr<codec::PageTokenPayload> token = Signer()->Verify(request.page_token());
    if (!token.ok()) return token.status();
    if (token->filter_fingerprint != fingerprint) {
      return absl::InvalidArgumentError(
          "page_token: issued for a request with other filters; repeat the filters of the "
          "first request, or start without a token");
    }
    if (now - token->issue_time > options_.page_token_ttl) {
      return absl::InvalidArgumentError("page_token: expired; start the listing again");
    }
    after_id = token->last_id;
  }

  absl::ReaderMutexLock lock(&db_mu_);
  if (db_ == nullptr) return Closed();
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  struct SnapshotReleaser {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snapshot;
    ~SnapshotReleaser() { db->ReleaseSnapshot(snapshot); }
  } releaser{db_.get(), snapshot};
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;

  ListCoursesResponse response;
  absl::StatusOr<uint64_t> generation = ReadU64(db_.get(), Cf(kMeta), ro, codec::MetaKey::kGeneration);
  if (!generation.ok()) return generation.status();
  response.set_catalog_generation(static_cast<int64_t>(*generation));

  const std::optional<std::string> index_prefix = DrivingPrefix(request);
  const std::string prefix = index_prefix.value_or("");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, index_prefix ? Cf(kIndex) : Cf(kCourses)));
  it->Seek(prefix + after_id);

  std::string next_after;  // the id the next page starts after; empty: done
  std::string last_examined;
  int examined = 0;
  size_t page_bytes = 0;  // encoded size of the courses in the page
  for (; it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (!key.starts_with(prefix)) break;
    const absl::string_view id(key.data() + prefix.size(), key.size() - prefix.size());
    if (!after_id.empty() && id <= after_id) continue;
    absl::StatusOr<Course> course =
        index_prefix ? ReadCourse(id, snapshot)
                     : codec::DecodeCourseValue(absl::string_view(it->value().data(), it->value().size()));
    if (absl::IsNotFound(course.status())) {
      return absl::DataLossError(absl::StrCat("index entry for missing course '", id, "'"));
    }
    if (!course.ok()) return course.status();
    // A course the viewer may not see is not there: it neither counts
    // against the scan budget nor becomes the id a page token carries.
    if (!VisibleTo(*course, viewer)) continue;
    if (examined == options_.max_scan_per_page) {
      next_after = last_examined;
      break;
    }
    ++examined;
    if (Matches(*course, request)) {
      const size_t size = course->ByteSizeLong();
      if (response.courses_size() == page_size ||
          (response.courses_size() > 0 && page_bytes + size > options_.max_page_bytes)) {
        next_after = response.courses(response.courses_size() - 1).id();
        break;
      }
      page_bytes += size;
      *response.add_courses() = *std::move(course);
    }
    last_examined = std::string(id);
  }
  if (auto s = FromRocks(it->status(), "list courses"); !s.ok()) return s;
  if (!next_after.empty()) {
    codec::PageTokenPayload payload;
    payload.issue_time = now;
    payload.filter_fingerprint = fingerprint;
    payload.last_id = next_after;
    response.set_next_page_token(Signer()->Sign(payload));
  }
  return response;
}

absl::Status CatalogStore::WithDatabaseForBackup(
    const std::function<absl::Status(rocksdb::DB*, const BackupCounts&)>& fn) const {
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_ == nullptr) return Closed();
  BackupCounts counts;
  {
    absl::MutexLock counters_lock(&counters_mu_);
    counts.generation = counters_.generation;
    counts.courses = counters_.course_count;
    counts.archived = counters_.archived_count;
    counts.applied_log_seq = counters_.applied_log_seq;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Cf(kProgrammes)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++counts.programmes;
  if (auto s = FromRocks(it->status(), "count programmes"); !s.ok()) return s;
  it.reset();
  return fn(db_.get(), counts);
}

absl::StatusOr<CatalogInfo> CatalogStore::GetCatalogInfo(Viewer viewer) const {
  {
    absl::ReaderMutexLock lock(&db_mu_);
    if (db_ == nullptr) return Closed();
  }
  absl::MutexLock lock(&counters_mu_);
  CatalogInfo info;
  info.set_generation(static_cast<int64_t>(counters_.generation));
  const uint64_t hidden = viewer == Viewer::kPublic ? counters_.draft_count : 0;
  info.set_course_count(static_cast<int64_t>(counters_.course_count - hidden));
  info.set_archived_count(static_cast<int64_t>(counters_.archived_count));
  if (counters_.update_time) *info.mutable_update_time() = ToProto(*counters_.update_time);
  return info;
}

}  // namespace lifelong::catalog
