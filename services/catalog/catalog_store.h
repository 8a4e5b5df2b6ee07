// The course catalog's domain and storage layer over RocksDB (no gRPC here).
//
// A course is stored in the "courses" family under its id, and one entry per
// indexed field value in "course_index" (layouts in catalog_codec.h). Every
// write puts the course, its index changes and the catalog counters in one
// WriteBatch written with sync=true: a write is all there or not at all, and
// durable once it returns OK.
//
// Thread-safety: every method is safe to call concurrently. Reads run in
// parallel and each sees one consistent snapshot; writes (create, update,
// archive) are serialized by a mutex so that revision checks, prerequisite
// checks and counters are exact.
//
// Replicated (options.log set; catalog_log.h): writes are planned here and
// reach the database only through ApplyLogged, in log order, with the log
// position (meta kAppliedLogSeq) in the same batch.
#ifndef LIFELONG_SERVICES_CATALOG_CATALOG_STORE_H_
#define LIFELONG_SERVICES_CATALOG_CATALOG_STORE_H_

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/field_mask.pb.h"
#include "proto/lifelong/v1/catalog.pb.h"
#include "services/catalog/catalog_log.h"
#include "services/catalog/page_token.h"

namespace lifelong::catalog {

// Whom a read is for: the catalog's one visibility rule (docs/catalog.md,
// "Drafts"). A DRAFT course is staff work in progress: for kPublic it does not
// exist. The service maps a caller's role onto a Viewer (catalog_service.cc).
enum class Viewer {
  // Every course: the roles that manage or consume the whole catalog
  // (operator, loader, teacher, trainer, recommender), and every caller when
  // authentication is off. What callers inside the process read as.
  kStaff,
  // Learners and kiosks: DRAFT courses are left out as if they did not exist
  // (the same NOT_FOUND as a missing id, absent from listings, page tokens
  // and counts).
  kPublic,
};

struct CatalogStoreOptions {
  // Source of create/update times and of page-token issue times.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Page tokens older than this are rejected (INVALID_ARGUMENT).
  absl::Duration page_token_ttl = absl::Hours(1);
  // Most courses one ListCourses call examines; when reached, the page is
  // returned with what matched so far and a token to continue. At least 1.
  int max_scan_per_page = 10000;
  // Most bytes of courses one ListCourses page carries (their encoded size):
  // a page that would pass it ends early with a token, so that a page of
  // large courses (a course may be ~170 KB: long descriptions, 500 sessions)
  // stays under gRPC's default 4 MiB message limit. A page always holds at
  // least one course. At least 1. BatchGetCourses refuses a reply that would
  // pass it.
  size_t max_page_bytes = size_t{3} << 20;
  // The replicated log writes go through (catalog_log.h); null: writes go
  // straight to the database (a single catalog node).
  CatalogLog* log = nullptr;
  // Log mode: how often a write is planned again when other writes keep
  // landing first (then ABORTED).
  int max_write_attempts = 20;
  // For reading a copy (the check of a restored backup): the database must
  // exist and be initialised, may have applied a replicated log although
  // `log` is null (a node's backup), and every write fails with
  // FAILED_PRECONDITION. Not with `log`.
  bool read_only = false;
};

class CatalogStore {
 public:
  // Opens (creating if missing) the catalog database in directory `path`.
  // FAILED_PRECONDITION when the directory holds a column family this version
  // does not know or an unsupported format version, or when it applied a
  // replicated log and options.log is null (unless options.read_only), or
  // when options.read_only and it holds no catalog; UNAVAILABLE when another
  // process holds the database; DATA_LOSS on corrupt catalog metadata;
  // INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<CatalogStore>> Open(const std::string& path, CatalogStoreOptions options = {});

  CatalogStore(const CatalogStore&) = delete;
  CatalogStore& operator=(const CatalogStore&) = delete;
  // Closes the database if Close() was not called.
  ~CatalogStore();

  // Stores a new course under `course.id()`. Output-only fields are ignored;
  // STATE_UNSPECIFIED becomes DRAFT. Returns the stored course (revision 1).
  // INVALID_ARGUMENT when validation fails (course_validation.h), including
  // unknown prerequisites; ALREADY_EXISTS when the id is taken.
  absl::StatusOr<lifelong::v1::Course> CreateCourse(const lifelong::v1::Course& course);

  // The course with id `id` (archived ones included) as `viewer` sees it.
  // INVALID_ARGUMENT for a malformed id, NOT_FOUND when there is none (for
  // kPublic also when it is a DRAFT, with the same message).
  absl::StatusOr<lifelong::v1::Course> GetCourse(absl::string_view id, Viewer viewer = Viewer::kStaff) const;

  // The courses with the given ids (1..1000, repeats allowed), in order, from
  // one snapshot. INVALID_ARGUMENT for a bad count or id ("ids[3]: ..."), and
  // naming `ids` and the limit when the courses pass options.max_page_bytes
  // encoded (a reply always holds the first course; the reply is never built
  // past the limit, so 1,000 repeats of a 200 KB course cost one page, not
  // 200 MB); NOT_FOUND naming the first missing id (for kPublic a DRAFT is
  // missing).
  absl::StatusOr<std::vector<lifelong::v1::Course>> BatchGetCourses(absl::Span<const std::string> ids,
                                                                    Viewer viewer = Viewer::kStaff) const;

  // Replaces the fields of the stored course `course.id()` that `update_mask`
  // selects (semantics in catalog.proto's UpdateCourseRequest) with those of
  // `course`, if `course.etag()` is the stored etag. Returns the stored result
  // (revision + 1). INVALID_ARGUMENT for a bad id, missing etag, bad mask, or
  // a result that fails validation (state may not become ARCHIVED or
  // UNSPECIFIED); NOT_FOUND; FAILED_PRECONDITION when the course is archived;
  // ABORTED when the etag is stale.
  absl::StatusOr<lifelong::v1::Course> UpdateCourse(const lifelong::v1::Course& course,
                                                    const google::protobuf::FieldMask& update_mask);

  // One page of the courses matching `request`'s filters, ordered by id, and
  // the catalog generation of the snapshot it was read from. INVALID_ARGUMENT
  // for bad filters or page size, and for a page token that is malformed,
  // forged, from another catalog, issued for other filters, or expired.
  // kPublic: DRAFT courses are skipped without counting against
  // options.max_scan_per_page, so a page token never names one (a listing
  // pays for the drafts between two published courses, a handful at a
  // time); PERMISSION_DENIED naming `state` when the request filters on
  // state DRAFT.
  absl::StatusOr<lifelong::v1::ListCoursesResponse> ListCourses(const lifelong::v1::ListCoursesRequest& request,
                                                                Viewer viewer = Viewer::kStaff) const;

  // Moves the course to ARCHIVED (revision + 1); an archived course is
  // returned unchanged. When `etag` is not empty it must be the stored etag
  // (ABORTED otherwise). INVALID_ARGUMENT for a malformed id; NOT_FOUND.
  absl::StatusOr<lifelong::v1::Course> ArchiveCourse(absl::string_view id, absl::string_view etag);

  // Creates or replaces the programme `programme.id()` (update_time set
  // here, other output fields ignored) and grows the generation, in one
  // synced batch. INVALID_ARGUMENT when ValidateProgramme fails or a required
  // course does not exist ("programme.required_course_ids[i]: no course with
  // id 'x'"); RESOURCE_EXHAUSTED when the catalog already holds
  // kMaxProgrammes others.
  absl::StatusOr<lifelong::v1::Programme> PutProgramme(const lifelong::v1::Programme& programme);

  // The programme `id`. INVALID_ARGUMENT for a malformed id, NOT_FOUND when
  // there is none.
  absl::StatusOr<lifelong::v1::Programme> GetProgramme(absl::string_view id) const;

  // Every programme, by id, from one snapshot.
  absl::StatusOr<std::vector<lifelong::v1::Programme>> ListProgrammes() const;

  // Generation, counts and last write time. Never fails while open. For
  // kPublic, course_count leaves DRAFT courses out (the generation still
  // grows with every write, drafts' included: it says that something
  // changed, not what).
  absl::StatusOr<lifelong::v1::CatalogInfo> GetCatalogInfo(Viewer viewer = Viewer::kStaff) const;

  // For a restore of a single-node catalog (catalog_backups.h): raises the
  // generation to `floor` when it is lower (one synced write of the meta
  // family; nothing else changes), so that a restored catalog never serves a
  // generation it served before with other contents. FAILED_PRECONDITION in
  // log mode (every node's generation follows the log) or read-only;
  // UNAVAILABLE after Close.
  absl::Status RaiseGeneration(uint64_t floor);

  // What a backup records of the catalog at its start (catalog_backups.h).
  struct BackupCounts {
    uint64_t generation = 0;
    uint64_t courses = 0;  // archived included
    uint64_t archived = 0;
    uint64_t programmes = 0;
    uint64_t applied_log_seq = 0;  // a node's log position (0: single node)
  };
  // For backups: reads the counts (generation and course counters, then the
  // programmes) and calls `fn` with them and the open database, which stays
  // open until `fn` returns (Close waits). Writers are not blocked: a write
  // during `fn` may or may not be in what `fn` copies. UNAVAILABLE after
  // Close; otherwise `fn`'s status.
  absl::Status WithDatabaseForBackup(const std::function<absl::Status(rocksdb::DB*, const BackupCounts&)>& fn) const;

  // Log mode (catalog_log.h). The log position this database has applied
  // (0: none).
  uint64_t AppliedLogSeq() const;
  // Nonzero when the database was written without a log and applied no log
  // entry (a catalog that was single-node): its generation, which counts
  // those writes (a restore raises it, RaiseGeneration). Such a database
  // cannot join a log.
  uint64_t UnloggedWrites() const;
  // Applies log entry `seq` of `kind` (the applier, in log order): its
  // effects and the position in one synced batch. OK without effect when
  // `seq` is already applied; DATA_LOSS when the payload does not decode
  // (the applier must stop: never skip an entry); UNAVAILABLE after Close;
  // FAILED_PRECONDITION when opened read_only.
  absl::Status ApplyLogged(uint64_t seq, CatalogLogEntry kind, absl::string_view payload);

  // Waits for calls in progress, then closes the database. Later calls fail
  // with UNAVAILABLE. Idempotent.
  absl::Status Close();

 private:
  struct Counters {
    uint64_t generation = 0;
    uint64_t course_count = 0;
    uint64_t archived_count = 0;
    // Courses in state DRAFT: not stored, counted from the state index on
    // open and kept by every course write.
    uint64_t draft_count = 0;
    std::optional<absl::Time> update_time;
    uint64_t applied_log_seq = 0;  // meta kAppliedLogSeq
  };
  // Log mode: the entry a planned write appends, and the position it was
  // planned at. An empty payload: nothing to write.
  struct Pending {
    CatalogLogEntry kind = CatalogLogEntry::kCourse;
    std::string payload;
    uint64_t at = 0;
  };

  CatalogStore(CatalogStoreOptions options, std::unique_ptr<rocksdb::DB> db,
               std::vector<rocksdb::ColumnFamilyHandle*> handles, std::string token_key, Counters counters);

  rocksdb::ColumnFamilyHandle* Cf(int id) const { return handles_[id]; }

  // The stored course `id` as of `snapshot` (latest when null). NOT_FOUND.
  absl::StatusOr<lifelong::v1::Course> ReadCourse(absl::string_view id, const rocksdb::Snapshot* snapshot) const
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);

  absl::StatusOr<std::vector<lifelong::v1::Programme>> ListProgrammesLocked() const ABSL_SHARED_LOCKS_REQUIRED(db_mu_);

  // Writes the generation and update time of `updated` into `batch`.
  void PutCounters(const Counters& updated, rocksdb::WriteBatch* batch) const;

  // Checks prerequisites of `course` against the latest stored catalog.
  absl::Status CheckPrerequisites(const lifelong::v1::Course& course) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);

  // Fills revision, etag and times of `next` (from `previous`, absent for a
  // new course). Without a log (`pending` null) writes it at once
  // (CommitCourse); with one, fills `pending` instead.
  absl::Status WriteCourse(const lifelong::v1::Course* previous, lifelong::v1::Course* next, Pending* pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  // Writes `next` as stored (with the index changes from `previous`) and the
  // counters in one synced batch, with `log_seq` as the applied position when
  // set; updates counters_ on success.
  absl::Status CommitCourse(const lifelong::v1::Course* previous, const lifelong::v1::Course& next, absl::Time now,
                            std::optional<uint64_t> log_seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  absl::Status CommitProgramme(const lifelong::v1::Programme& programme, absl::Time now,
                               std::optional<uint64_t> log_seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  // Runs `step` (which takes the write locks itself) with a Pending to fill
  // in log mode, appends what it planned and plans again while other writes
  // land first. Without a log, `step` gets null and writes itself.
  template <typename T>
  absl::StatusOr<T> RunWrite(const std::function<absl::StatusOr<T>(Pending*)>& step);
  std::shared_ptr<const PageTokenSigner> Signer() const;

  const CatalogStoreOptions options_;
  // Replaced once in log mode, by the log's init entry.
  mutable absl::Mutex signer_mu_;
  std::shared_ptr<const PageTokenSigner> signer_ ABSL_GUARDED_BY(signer_mu_);

  // Serializes writers. Acquired before db_mu_.
  absl::Mutex write_mu_;
  // Shared by every call using the database, exclusive in Close().
  mutable absl::Mutex db_mu_ ABSL_ACQUIRED_AFTER(write_mu_);
  std::unique_ptr<rocksdb::DB> db_ ABSL_GUARDED_BY(db_mu_);
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // indexed by Cf

  mutable absl::Mutex counters_mu_;
  Counters counters_ ABSL_GUARDED_BY(counters_mu_);
};

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_CATALOG_STORE_H_
