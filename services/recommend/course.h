// The recommender's view of a catalog course, and an immutable snapshot of
// the catalog. Built from CourseCatalogService answers by catalog_client; the
// ranking code sees only these types (no protobuf, no gRPC).
#ifndef LIFELONG_SERVICES_RECOMMEND_COURSE_H_
#define LIFELONG_SERVICES_RECOMMEND_COURSE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"

namespace lifelong::recommend {

struct CourseSession {
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfinitePast();
};

// Only kOpen courses are ever recommended or planned. kArchived courses are
// in a snapshot for learners' histories only: a completed archived course
// still excludes the other sections of its series, satisfies prerequisites,
// earns its credits and counts as a programme's required course done
// (docs/recommend.md "Archived courses"). kDraft courses (staff work in
// progress) are never in a snapshot: CatalogSnapshot leaves them out.
enum class CourseState { kDraft, kOpen, kClosed, kArchived };

struct Course {
  std::string id;
  std::string title;
  // Courses of one series (several sections or terms of the same course)
  // share this key; diversity allows few of them per answer. Filled by
  // SeriesKey(title) when the catalog has no series of its own.
  std::string series;
  std::string category;
  std::string mode;  // "online" | "offline" | "blended"
  // "children" | "teens" | "adults" | "seniors"
  std::vector<std::string> audiences;
  std::string description;
  std::vector<std::string> tags;
  std::string xuequ;
  std::string jiedao;
  std::string venue_id;
  std::string venue_name;
  bool has_location = false;
  double lat = 0;
  double lng = 0;
  std::vector<CourseSession> sessions;
  // Enrolment window [enrol_from, enrol_to).
  absl::Time enrol_from = absl::InfinitePast();
  absl::Time enrol_to = absl::InfiniteFuture();
  int32_t capacity = 0;  // 0: no limit
  int32_t seats_taken = 0;
  double credits = 0;
  std::string level;  // "" | "beginner" | "intermediate" | "advanced"
  std::vector<std::string> prerequisites;
  CourseState state = CourseState::kOpen;

  // -1 when there is no limit.
  int32_t SeatsLeft() const {
    if (capacity <= 0) return -1;
    return capacity > seats_taken ? capacity - seats_taken : 0;
  }
  bool EnrolmentOpenAt(absl::Time now) const { return enrol_from <= now && now < enrol_to; }
  // The first session starting at or after `now`; InfiniteFuture when none.
  absl::Time NextSessionStart(absl::Time now) const;
};

// The series key of a title: the title without a trailing section/term
// marker, so "书法入门（第二期）", "书法入门(2)" and "书法入门 第3期" share
// "书法入门".
std::string SeriesKey(const std::string& title);

struct CreditRequirement {
  std::string category;  // a catalog category, e.g. "传统文化"
  double credits = 0;    // at least this many credits in it
};

// A named goal with its rules (lifelong.v1.Programme): what PathPlanner
// (path_planner.h) plans toward.
struct Programme {
  std::string id;
  std::string name;                              // e.g. "社区教育证书"
  double credits = 0;                            // total credits required
  std::vector<CreditRequirement> by_category;    // minimums per category
  std::vector<std::string> required_courses;     // course ids (a section of the series counts)
  absl::Time deadline = absl::InfiniteFuture();  // every course ends by then
};

// An immutable catalog snapshot. Thread-safe (const after construction).
//
// DRAFT courses are left out: for learners and kiosks a draft does not exist
// (docs/catalog.md "Drafts"), and the recommender answers every caller as
// it would a learner (it has no per-caller view), so nothing it says names
// a draft, finds one or offers one. The recommender reads the catalog as
// staff, so its listing holds drafts; a snapshot built from it answers for
// a draft's id exactly as for a missing id (Find: nullptr), and remembers
// only that the id is a draft (IsDraft), for ids that come from elsewhere:
// the model (the trainer's dump has drafts), programmes and prerequisites
// (which may name a draft by id).
class CatalogSnapshot {
 public:
  // `version` identifies the catalog state it was built from (change
  // detection); `courses` with duplicate ids keep the last, and a course
  // whose last copy is a kDraft is left out (IsDraft).
  CatalogSnapshot(std::string version, std::vector<Course> courses, std::vector<Programme> programmes = {});
  ~CatalogSnapshot();
  CatalogSnapshot(CatalogSnapshot&&) noexcept;
  CatalogSnapshot& operator=(CatalogSnapshot&&) noexcept;

  const std::string& version() const { return version_; }
  const std::vector<Course>& courses() const { return courses_; }
  // nullptr when the catalog has no such course, or it is a draft.
  const Course* Find(const std::string& course_id) const;
  // Whether `course_id` is a DRAFT course of the catalog (not in courses()).
  // Only to answer for it as for a missing id; never to name it.
  bool IsDraft(const std::string& course_id) const { return draft_ids_.contains(course_id); }
  size_t draft_count() const { return draft_ids_.size(); }
  // The catalog's programmes (ListProgrammes order: by id).
  const std::vector<Programme>& programmes() const { return programmes_; }
  // nullptr when the catalog has no such programme.
  const Programme* FindProgramme(const std::string& programme_id) const;
  // Indices into courses() of the sections of `series` / the courses of
  // `category`, ascending; empty when none.
  const std::vector<int>& SeriesCourses(const std::string& series) const;
  const std::vector<int>& CategoryCourses(const std::string& category) const;
  // Venue location by venue id (from any course held there).
  bool VenueLocation(const std::string& venue_id, double* lat, double* lng) const;
  // The venue's 社区 name for reasons (jiedao, else venue name); "" if unknown.
  std::string VenueArea(const std::string& venue_id) const;

  // The position of `c` in courses(); -1 when `c` is not one of this
  // snapshot's courses (a Course of another snapshot, or a copy).
  ptrdiff_t IndexOf(const Course* c) const;

  // A per-course memo for the answer layer (response_fill.h: the course's
  // serialized CourseSummary, with the two values of it that depend on the
  // time, as they were when it was built). One slot per course, empty when
  // the snapshot is built, so every catalog version starts without memos.
  // Thread-safe. Load: the slot's memo or nullptr, one atomic load (no lock,
  // no reference count: the answer path reads it for every shown course).
  // Store: the snapshot takes the memo and puts it in the slot; a memo it
  // replaces stays alive, with the snapshot, for readers that loaded it.
  // The snapshot keeps at most 4 memos per course (a memo is replaced when
  // the course's next session passes or its enrolment opens or closes);
  // past that Store keeps none, returns nullptr and leaves `memo` to the
  // caller. index: IndexOf's, >= 0.
  struct SummaryMemo {
    absl::Time next_session_start = absl::InfiniteFuture();
    bool enrolment_open = false;
    std::string bytes;
  };
  const SummaryMemo* LoadSummaryMemo(ptrdiff_t index) const;
  const SummaryMemo* StoreSummaryMemo(ptrdiff_t index, std::unique_ptr<const SummaryMemo>&& memo) const;

 private:
  std::string version_;
  std::vector<Course> courses_;
  std::vector<Programme> programmes_;
  absl::flat_hash_map<std::string, size_t> by_id_;
  absl::flat_hash_set<std::string> draft_ids_;
  absl::flat_hash_map<std::string, size_t> by_venue_;
  absl::flat_hash_map<std::string, std::vector<int>> by_series_;
  absl::flat_hash_map<std::string, std::vector<int>> by_category_;
  // The summary memos: the slots (one per course) and every memo stored.
  struct SummaryMemos;
  std::unique_ptr<SummaryMemos> summary_memos_;
};

using CatalogPtr = std::shared_ptr<const CatalogSnapshot>;

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_COURSE_H_
