#include "services/recommend/recommender.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/domain/vocabulary.h"
#include "services/recommend/diversity.h"
#include "services/recommend/exact_scorer.h"
#include "services/recommend/ranking_kernels.h"
#include "services/recommend/reasons.h"

namespace lifelong::recommend {
namespace {

// Over the shorter of the two: DotInOrder (ranking_kernels.h), the sum that
// DotEachInOrder gives for the pool's candidates.
float Dot(absl::Span<const float> a, absl::Span<const float> b) {
  return DotInOrder(a.subspan(0, std::min(a.size(), b.size())), b.data());
}

float Norm(absl::Span<const float> a) { return std::sqrt(Dot(a, a)); }

bool IsZero(const std::vector<float>& v) {
  for (float x : v) {
    if (x != 0) return false;
  }
  return true;
}

void Normalize(std::vector<float>* v) {
  const float n = Norm(*v);
  if (n > 0) {
    for (float& x : *v) x /= n;
  }
}

// Cheap pre-check for HaversineKm(...) <= km: the latitude/longitude box.
bool WithinBox(double lat1, double lng1, double lat2, double lng2, double km) {
  const double dlat = std::abs(lat1 - lat2) * 111.0;
  if (dlat > km * 1.01) return false;
  const double c = std::cos(lat1 * M_PI / 180.0);
  return std::abs(lng1 - lng2) * 111.3 * c <= km * 1.01 + 0.01 || c < 0.05;
}

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string AudienceName(const std::string& audience) {
  if (audience == "children") return "少儿";
  if (audience == "teens") return "青少年";
  if (audience == "adults") return "成年人";
  if (audience == "seniors") return "老年人";
  return audience;
}

// One candidate while ranking.
struct Cand {
  int course = -1;  // catalog index
  int row = -1;     // model row, -1 for courses the model does not know
  bool has_cf = false;
  float cf = 0;       // collaborative score (inner product) / cosine
  float content = 0;  // content cosine
  double score = 0;
  double distance_km = -1;
  bool interest = false;
  bool audience = false;
  // The completed prerequisite this course is the next level of (nullptr if
  // none; points into the request's LearnerHistory): every prerequisite of it
  // is completed.
  const std::string* next_step_from = nullptr;
  // Readiness (Options::readiness): a prerequisite is missing; the failed
  // course (in the request's LearnerHistory) this is the same level of, or a
  // gentler course on the subject of.
  bool blocked = false;
  const std::string* retry_of = nullptr;
  const std::string* foundation_for = nullptr;
};

// 0 for no level, 1 入门, 2 进阶, 3 提高.
int LevelRank(const std::string& level) {
  if (level == "beginner") return 1;
  if (level == "intermediate") return 2;
  if (level == "advanced") return 3;
  return 0;
}

// Where each catalog course stands in one request's candidate pool: not
// looked at yet, rejected, or at a pool position. A dense array for catalogs
// up to kDenseMax courses, a hash map above that. The dense array is the
// thread's, reused from request to request: every entry is kUnseen between
// requests (the destructor resets the entries this request set, a few
// hundred, instead of each request allocating and filling one entry per
// catalog course: ~12k instructions a call for 3,000 courses). A second
// PoolSlots alive on the same thread gets an array of its own.
class PoolSlots {
 public:
  static constexpr int kUnseen = -1;
  static constexpr int kRejected = -2;

  explicit PoolSlots(size_t courses) : dense_(courses <= kDenseMax) {
    if (!dense_) return;
    Scratch& s = ThreadScratch();
    if (s.in_use) {
      own_.assign(courses, kUnseen);
      slots_ = own_.data();
      return;
    }
    s.in_use = true;
    scratch_ = &s;
    if (s.slots.size() < courses) s.slots.resize(courses, kUnseen);
    slots_ = s.slots.data();
  }
  ~PoolSlots() {
    if (scratch_ == nullptr) return;
    for (int ci : scratch_->touched) scratch_->slots[ci] = kUnseen;
    scratch_->touched.clear();
    scratch_->in_use = false;
  }
  PoolSlots(const PoolSlots&) = delete;
  PoolSlots& operator=(const PoolSlots&) = delete;

  int Get(int ci) const {
    if (dense_) return slots_[ci];
    auto it = map_.find(ci);
    return it == map_.end() ? kUnseen : it->second;
  }
  void Set(int ci, int slot) {
    if (dense_) {
      if (scratch_ != nullptr && slots_[ci] == kUnseen) scratch_->touched.push_back(ci);
      slots_[ci] = slot;
    } else {
      map_[ci] = slot;
    }
  }

 private:
  struct Scratch {
    std::vector<int> slots;    // all kUnseen while not in use
    std::vector<int> touched;  // entries set by the request using it
    bool in_use = false;
  };
  static Scratch& ThreadScratch() {
    thread_local Scratch scratch;
    return scratch;
  }

  static constexpr size_t kDenseMax = 1 << 16;
  const bool dense_;
  Scratch* scratch_ = nullptr;  // the thread's array, when this one uses it
  std::vector<int> own_;        // else this one's own
  int* slots_ = nullptr;
  absl::flat_hash_map<int, int> map_;
};

}  // namespace

struct Recommender::Joined {
  std::weak_ptr<const models::ModelBundle> model_ref;
  const models::ModelBundle* model = nullptr;
  std::weak_ptr<const CatalogSnapshot> catalog_ref;
  const CatalogSnapshot* catalog = nullptr;

  // by_popularity, by_category, next_levels and venues hold no archived
  // course (candidates only); by_series and new_courses do.
  std::vector<int> row_of;                                         // catalog index -> model row or -1
  std::vector<int> course_of_row;                                  // model row -> catalog index or -1
  std::vector<int> by_popularity;                                  // catalog indices, most popular first
  absl::flat_hash_map<std::string, std::vector<int>> by_category;  // by popularity
  // Course id -> catalog indices of the courses that list it as prerequisite.
  absl::flat_hash_map<std::string, std::vector<int>> next_levels;
  // Series id (Facts::series) -> catalog indices of its sections.
  absl::flat_hash_map<int, std::vector<int>> by_series;
  struct Venue {
    bool has_location = false;
    double lat = 0;
    double lng = 0;
    std::vector<int> courses;  // by popularity
  };
  absl::flat_hash_map<std::string, Venue> venues;
  std::vector<int> new_courses;    // catalog indices not in the model
  std::vector<int> new_pos;        // catalog index -> position in new_courses or -1
  std::vector<float> new_content;  // new_courses.size() x content_dim
  // What ranking reads of every candidate, packed per catalog index: a
  // request touches a few hundred courses, and each Course is ~0.5 KB of
  // strings (a cache miss per field read in the profile).
  struct Facts {
    absl::Time enrol_from;
    absl::Time enrol_to;
    int series = 0;    // dense id of Course::series (equal ids = equal strings)
    int category = 0;  // dense id of Course::category
    // Excluded whatever the time: not OPEN, or no seats left (ExclusionOf
    // without the enrolment end, which depends on `now`).
    bool closed = false;
    bool online = false;  // mode "online"
    // The model's Popularity / CompletionRate of the course's row (0 for a
    // course the model does not know), read by BlendScores for every
    // candidate.
    float popularity = 0;
    float completion = 0;
  };
  std::vector<Facts> facts;
  // Exact candidate search on the request thread (small flat-index models,
  // see Options::exact_scan_max_floats); nullptr: search_ (the batcher).
  // Shared between the joins of one model.
  std::shared_ptr<const ExactScorer> exact;

  absl::Span<const float> NewContent(int pos, int dim) const {
    return absl::MakeConstSpan(new_content.data() + static_cast<size_t>(pos) * dim, dim);
  }
};

Recommender::Recommender(SearchFn search, Options options) : search_(std::move(search)), options_(options) {}

std::string Recommender::CourseText(const Course& course) {
  // The same text the trainer embeds for catalog-dump courses
  // (models/interaction_file.cc ReadCatalogFile): title, category, each tag,
  // one a line, then the description.
  std::string text = absl::StrCat(course.title, "\n", course.category, "\n");
  for (const std::string& tag : course.tags) absl::StrAppend(&text, tag, "\n");
  absl::StrAppend(&text, course.description);
  return text;
}

std::shared_ptr<const Recommender::Joined> Recommender::GetJoined(
    const std::shared_ptr<const models::ModelBundle>& model, const CatalogPtr& catalog) const {
  // Fast path without the mutex: the pair most requests use.
  std::shared_ptr<const Joined> last = std::atomic_load(&last_joined_);
  if (last != nullptr && last->model == model.get() && last->catalog == catalog.get() && !last->model_ref.expired() &&
      !last->catalog_ref.expired()) {
    return last;
  }
  absl::MutexLock lock(&mu_);
  for (const auto& j : joined_) {
    if (j->model == model.get() && j->catalog == catalog.get() && !j->model_ref.expired() &&
        !j->catalog_ref.expired()) {
      std::atomic_store(&last_joined_, j);
      return j;
    }
  }
  // Built under the lock: concurrent requests for the same new pair wait for
  // one build instead of each building it.
  auto j = std::make_shared<Joined>();
  j->model_ref = model;
  j->model = model.get();
  j->catalog_ref = catalog;
  j->catalog = catalog.get();
  const auto& courses = catalog->courses();
  {
    absl::flat_hash_map<absl::string_view, int> series_ids;
    absl::flat_hash_map<absl::string_view, int> category_ids;
    j->facts.reserve(courses.size());
    for (const Course& c : courses) {
      Joined::Facts f;
      f.enrol_from = c.enrol_from;
      f.enrol_to = c.enrol_to;
      f.series = series_ids.try_emplace(c.series, series_ids.size()).first->second;
      f.category = category_ids.try_emplace(c.category, category_ids.size()).first->second;
      f.closed = c.state != CourseState::kOpen || c.SeatsLeft() == 0;
      f.online = c.mode == "online";
      j->facts.push_back(f);
    }
  }
  const int64_t scan_floats = static_cast<int64_t>(model->index_info().indexed_items) * model->dim();
  // A sparse bundle has no FAISS index; its exact scan costs |history| x
  // entries per row whatever the catalog size (ExactScorer).
  if (options_.exact_scan_max_floats > 0 &&
      (model->sparse_item_matrix() ||
       (model->index_info().kind == "flat" &&
        (scan_floats <= options_.exact_scan_max_floats ||
         (model->identity_query() && scan_floats <= options_.exact_identity_scan_max_floats))))) {
    for (const auto& other : joined_) {
      if (other->model == model.get() && !other->model_ref.expired()) j->exact = other->exact;
    }
    if (j->exact == nullptr) j->exact = std::make_shared<const ExactScorer>(*model);
  }
  j->row_of.assign(courses.size(), -1);
  j->course_of_row.assign(model->num_items(), -1);
  j->new_pos.assign(courses.size(), -1);
  for (size_t i = 0; i < courses.size(); ++i) {
    std::optional<int> row = model->Row(courses[i].id);
    if (row) {
      j->row_of[i] = *row;
      j->course_of_row[*row] = static_cast<int>(i);
      j->facts[i].popularity = model->Popularity(*row);
      j->facts[i].completion = model->CompletionRate(*row);
    }
    // Not in the model, or in it without interactions (content only, not in
    // the collaborative index): reached through content vectors.
    if (!row || model->InteractionCount(*row) <= 0) {
      j->new_pos[i] = static_cast<int>(j->new_courses.size());
      j->new_courses.push_back(static_cast<int>(i));
    }
  }
  // Archived courses are in the catalog for histories only (exclusions,
  // prerequisites, content of what the learner took; course.h): the lists
  // candidates come from leave them out, so that they take no place in the
  // scan budgets of AddList.
  auto archived = [&](int ci) { return courses[ci].state == CourseState::kArchived; };
  for (int row : model->PopularRows()) {
    const int ci = j->course_of_row[row];
    if (ci >= 0 && j->new_pos[ci] < 0 && !archived(ci)) j->by_popularity.push_back(ci);
  }
  for (int ci : j->new_courses) {
    if (!archived(ci)) j->by_popularity.push_back(ci);
  }
  for (int ci = 0; ci < static_cast<int>(courses.size()); ++ci) {
    if (!archived(ci)) {
      for (const std::string& p : courses[ci].prerequisites) j->next_levels[p].push_back(ci);
    }
    j->by_series[j->facts[ci].series].push_back(ci);
  }
  for (int ci : j->by_popularity) {
    const Course& c = courses[ci];
    j->by_category[c.category].push_back(ci);
    if (!c.venue_id.empty()) {
      Joined::Venue& v = j->venues[c.venue_id];
      if (c.has_location && !v.has_location) {
        v.has_location = true;
        v.lat = c.lat;
        v.lng = c.lng;
      }
      v.courses.push_back(ci);
    }
  }
  const int cdim = model->content_dim();
  j->new_content.resize(j->new_courses.size() * static_cast<size_t>(cdim));
  for (size_t p = 0; p < j->new_courses.size(); ++p) {
    const int ci = j->new_courses[p];
    std::vector<float> v;
    if (j->row_of[ci] >= 0 && model->HasContent(j->row_of[ci])) {
      absl::Span<const float> cv = model->ContentVector(j->row_of[ci]);
      v.assign(cv.begin(), cv.end());
    } else {
      v = model->EmbedText(CourseText(courses[ci]));
    }
    std::copy(v.begin(), v.begin() + std::min<size_t>(v.size(), cdim), j->new_content.begin() + p * cdim);
  }
  joined_.insert(joined_.begin(), j);
  if (joined_.size() > 2) joined_.resize(2);
  std::atomic_store(&last_joined_, std::shared_ptr<const Joined>(j));
  return j;
}

// One Recommend call: its inputs, the candidate pool and the steps that fill,
// score and rank it. Recommender::Recommend runs the steps in order; each
// step reads what the ones before it set.
class Recommender::Request {
 public:
  Request(const Recommender& recommender, const std::shared_ptr<const models::ModelBundle>& model_ptr,
          const CatalogPtr& catalog_ptr, const LearnerHistory& history, const RecommendQuery& query, absl::Time now)
      : options_(recommender.options_),
        search_(recommender.search_),
        model_ptr_(model_ptr),
        model_(*model_ptr),
        catalog_(*catalog_ptr),
        courses_(catalog_.courses()),
        joined_(recommender.GetJoined(model_ptr, catalog_ptr)),
        j_(*joined_),
        history_(history),
        query_(query),
        ctx_(query.context),
        now_(now),
        cdim_(model_.content_dim()),
        filtered_(!FilterIsEmpty(query.filter)),
        slots_(courses_.size()) {
    pool_.reserve(static_cast<size_t>(options_.popular_candidates) + options_.min_candidates + j_.new_courses.size() +
                  64);
  }

  // History: where the learner is (kiosk venue, else the given location).
  void LocateLearner();
  // History: the learner vector, and the content centroid of the history.
  void BuildHistoryVectors();
  // History: the courses it excludes (completed, passed, registered, and the
  // other sections of a completed series).
  void CollectExclusions();

  // Candidates. Each course passes the hard constraints (exclusions and the
  // filter) on its way into the pool.
  // The model's top courses for the learner vector: ExactScorer on the
  // request thread, else `search` (the batcher and FAISS). Warm only.
  absl::Status AddIndexCandidates();
  // Popular courses, or the courses of the filter's venues / categories /
  // neighbourhood, so that restrictive filters do not starve the pool.
  void AddFilterListCandidates();
  // Courses of the stated interests.
  void AddInterestCandidates();
  // Courses of the venues nearest to the learner.
  void AddNearbyCandidates();
  // Courses the model does not know (scored through content vectors).
  void AddContentCandidates();
  // The next level of what the learner finished.
  void AddNextLevelCandidates();
  // Readiness: after a failure, the same level again or a gentler course.
  void AddRetryCandidates();
  // Readiness: marks the courses that are not ready and adds their missing
  // prerequisites.
  void MarkNotReady();

  // Scoring: the blend's features per candidate (collaborative and content
  // scores, interest, audience, distance).
  void ComputeFeatures();
  // Scoring: the served blend (models::ServedBlend).
  void BlendScores();
  // Ranking: ready courses first, then by score, under the diversity and
  // category caps (diversity.h). Pool positions of the chosen courses.
  std::vector<size_t> RankDiverse();
  // The response: the chosen courses with their reasons.
  RecommendResult Respond(const std::vector<size_t>& chosen) const;

 private:
  // A prerequisite is done when it, or another section of its series, was
  // completed or passed.
  bool PrerequisiteDone(const std::string& id) const;
  // Course::EnrolmentOpenAt(now).
  bool OpenNow(int ci) const;
  // The pool entry for catalog course `ci`, added when it passes the hard
  // constraints; nullptr when it does not.
  Cand* Consider(int ci);
  // Adds up to `limit` passing courses from `list`, scanning at most 20x.
  void AddList(const std::vector<int>& list, int limit);
  // The reason shown for a chosen candidate: the strongest signal a person
  // can check; for a course that is not ready, what comes first.
  // `shown_max_cf`: the largest collaborative score among the courses shown
  // (a "because you ..." reason needs at least 0.3 of it, so that a strong
  // candidate that is not shown, e.g. a next level not yet ready, does not
  // silence the model's reasons for everything that is).
  void Explain(const Cand& c, float shown_max_cf, ScoredCourse* out) const;

  const Options& options_;
  const SearchFn& search_;
  const std::shared_ptr<const models::ModelBundle>& model_ptr_;
  const models::ModelBundle& model_;
  const CatalogSnapshot& catalog_;
  const std::vector<Course>& courses_;
  const std::shared_ptr<const Joined> joined_;
  const Joined& j_;
  const LearnerHistory& history_;
  const RecommendQuery& query_;
  const RecommendContext& ctx_;
  const absl::Time now_;
  const int cdim_;
  const bool filtered_;  // query.filter restricts

  // LocateLearner.
  bool has_origin_ = false;
  double olat_ = 0;
  double olng_ = 0;
  // BuildHistoryVectors.
  std::vector<float> learner_;
  bool warm_ = false;
  std::vector<float> history_content_;
  // Warm learners of a version carrying a GRU: ModelBundle::ScoreAllServed
  // for every row (the collaborative score, GRU blended in); else empty and
  // the collaborative score is <learner_, item vector>.
  std::vector<float> served_cf_;
  // Explain: the weighted history rows of the learner vector (ModelBundle::
  // HistoryRowWeights, most recent first) and, for each, the history index of
  // its most recent event: ModelBundle::TopContributor's decomposition, made
  // once per request (when a reason first needs it) instead of once per
  // explained course.
  void WeighHistoryRows() const;
  mutable bool history_rows_weighed_ = false;
  mutable std::vector<std::pair<int, double>> history_rows_;
  mutable std::vector<int> history_row_event_;
  // history_rows_' row ids, and ItemToItem from each to one shown course.
  mutable std::vector<int> history_row_ids_;
  mutable std::vector<float> item_to_item_;
  // Explain's "new course" reason: the history's catalog courses, each once
  // (oldest first), with their content vectors; collected when a reason
  // first needs them, instead of walking every history event (a learner may
  // have hundreds of statements about one course) for every shown course.
  void CollectHistoryCourses() const;
  mutable bool history_courses_collected_ = false;
  mutable std::vector<std::pair<const Course*, absl::Span<const float>>> history_courses_;
  // CollectExclusions (the excluded courses themselves are kRejected in
  // slots_).
  absl::flat_hash_set<int> completed_series_;
  // The candidate pool.
  std::vector<Cand> pool_;
  PoolSlots slots_;
  // ComputeFeatures: the largest collaborative score in the pool.
  float max_cf_ = 0;
};

absl::StatusOr<RecommendResult> Recommender::Recommend(const std::shared_ptr<const models::ModelBundle>& model_ptr,
                                                       const CatalogPtr& catalog_ptr, const LearnerHistory& history,
                                                       const RecommendQuery& query, absl::Time now) const {
  Request r(*this, model_ptr, catalog_ptr, history, query, now);
  // History.
  r.LocateLearner();
  r.BuildHistoryVectors();
  r.CollectExclusions();
  // Candidates (hard constraints applied on the way in).
  if (absl::Status s = r.AddIndexCandidates(); !s.ok()) return s;
  r.AddFilterListCandidates();
  r.AddInterestCandidates();
  r.AddNearbyCandidates();
  r.AddContentCandidates();
  r.AddNextLevelCandidates();
  if (options_.readiness) {
    r.AddRetryCandidates();
    r.MarkNotReady();
  }
  // Served-blend scoring.
  r.ComputeFeatures();
  r.BlendScores();
  // Diversity and category cap, then reasons.
  return r.Respond(r.RankDiverse());
}

void Recommender::Request::LocateLearner() {
  if (!ctx_.kiosk_venue_id.empty()) {
    has_origin_ = catalog_.VenueLocation(ctx_.kiosk_venue_id, &olat_, &olng_);
  }
  if (!has_origin_ && ctx_.has_location) {
    has_origin_ = true;
    olat_ = ctx_.lat;
    olng_ = ctx_.lng;
  }
}

void Recommender::Request::BuildHistoryVectors() {
  if (history_.empty()) return;
  learner_ = model_.LearnerVector(history_.events);
  warm_ = !IsZero(learner_);
  if (warm_ && model_.sequence_model() != nullptr) {
    // ScoreAllServed = BlendSequence(ScoreAll); ScoreAll from the exact
    // scorer's transposed copy where it has one (the same floats).
    if (j_.exact != nullptr && j_.exact->scores_all()) {
      served_cf_ =
          model_.BlendSequence(j_.exact->ScoreAll(model_, model_.HistoryRowWeights(history_.events)), history_.events);
    } else {
      served_cf_ = model_.ScoreAllServed(history_.events);
    }
  }
  history_content_.assign(cdim_, 0.0f);
  for (const models::HistoryEvent& e : history_.events) {
    if (std::optional<int> row = model_.Row(e.course_id); row && model_.HasContent(*row)) {
      absl::Span<const float> v = model_.ContentVector(*row);
      for (int d = 0; d < cdim_; ++d) history_content_[d] += e.weight * v[d];
    } else if (const Course* c = catalog_.Find(e.course_id)) {
      const int pos = j_.new_pos[c - courses_.data()];
      if (pos >= 0) {
        absl::Span<const float> v = j_.NewContent(pos, cdim_);
        for (int d = 0; d < cdim_; ++d) history_content_[d] += e.weight * v[d];
      }
    }
  }
  Normalize(&history_content_);
  if (IsZero(history_content_)) history_content_.clear();
}

void Recommender::Request::WeighHistoryRows() const {
  if (history_rows_weighed_) return;
  history_rows_weighed_ = true;
  history_rows_ = model_.HistoryRowWeights(history_.events);
  history_row_ids_.clear();
  for (const auto& [row, weight] : history_rows_) history_row_ids_.push_back(row);
  item_to_item_.assign(history_rows_.size(), 0.0f);
  // A row's event is its most recent one with a positive weight, as in
  // ModelBundle::TopContributor. Few rows (at most the model's max_history):
  // a linear search.
  history_row_event_.assign(history_rows_.size(), -1);
  size_t found = 0;
  for (int i = static_cast<int>(history_.events.size()) - 1; i >= 0 && found < history_rows_.size(); --i) {
    const models::HistoryEvent& e = history_.events[i];
    if (!(e.weight > 0)) continue;
    std::optional<int> row = model_.Row(e.course_id);
    if (!row) continue;
    for (size_t r = 0; r < history_rows_.size(); ++r) {
      if (history_rows_[r].first == *row) {
        if (history_row_event_[r] < 0) {
          history_row_event_[r] = i;
          ++found;
        }
        break;
      }
    }
  }
}

void Recommender::Request::CollectHistoryCourses() const {
  if (history_courses_collected_) return;
  history_courses_collected_ = true;
  // Each course once, at its first (oldest) event: a course's events all
  // give the same content score, and only the first of equal scores can be
  // the strict maximum Explain keeps, so the reason is the one a walk over
  // every event would give. A course with neither vector scores 0, which
  // never beats Explain's starting 0: left out.
  absl::flat_hash_set<absl::string_view> seen;
  for (const models::HistoryEvent& e : history_.events) {
    if (!seen.insert(e.course_id).second) continue;
    const Course* hc = catalog_.Find(e.course_id);
    if (hc == nullptr) continue;
    if (std::optional<int> row = model_.Row(e.course_id)) {
      history_courses_.push_back({hc, model_.ContentVector(*row)});
    } else if (const int pos = j_.new_pos[hc - courses_.data()]; pos >= 0) {
      history_courses_.push_back({hc, j_.NewContent(pos, cdim_)});
    }
  }
}

void Recommender::Request::CollectExclusions() {
  // Completed, passed or registered courses are never recommended, and other
  // sections of a series the learner completed count as completed.
  // They are marked rejected in the pool's slots here, once, so that
  // Consider (a few hundred courses a request) needs no lookup for them.
  for (const std::string& id : history_.completed) {
    if (const Course* c = catalog_.Find(id)) {
      const int ci = static_cast<int>(c - courses_.data());
      slots_.Set(ci, PoolSlots::kRejected);
      completed_series_.insert(j_.facts[ci].series);
    }
  }
  for (const std::string& id : history_.enrolled) {
    if (const Course* c = catalog_.Find(id)) slots_.Set(static_cast<int>(c - courses_.data()), PoolSlots::kRejected);
  }
  for (int series : completed_series_) {
    if (auto it = j_.by_series.find(series); it != j_.by_series.end()) {
      for (int ci : it->second) slots_.Set(ci, PoolSlots::kRejected);
    }
  }
}

bool Recommender::Request::PrerequisiteDone(const std::string& id) const {
  if (history_.completed.contains(id)) return true;
  const Course* p = catalog_.Find(id);
  return p != nullptr && completed_series_.contains(j_.facts[p - courses_.data()].series);
}

bool Recommender::Request::OpenNow(int ci) const {
  return j_.facts[ci].enrol_from <= now_ && now_ < j_.facts[ci].enrol_to;
}

Cand* Recommender::Request::Consider(int ci) {
  if (ci < 0) return nullptr;
  const int slot = slots_.Get(ci);
  if (slot >= 0) return &pool_[slot];
  if (slot == PoolSlots::kRejected) return nullptr;
  const Joined::Facts& f = j_.facts[ci];
  // ExclusionOf(course, now) != kNone, the filter (the history's exclusions
  // are already kRejected: CollectExclusions).
  if (f.closed || f.enrol_to <= now_ || (filtered_ && !MatchesFilter(courses_[ci], query_.filter, now_))) {
    slots_.Set(ci, PoolSlots::kRejected);
    return nullptr;
  }
  slots_.Set(ci, static_cast<int>(pool_.size()));
  Cand cand;
  cand.course = ci;
  cand.row = j_.row_of[ci];
  pool_.push_back(cand);
  return &pool_.back();
}

void Recommender::Request::AddList(const std::vector<int>& list, int limit) {
  int added = 0;
  const size_t scan = std::min<size_t>(list.size(), static_cast<size_t>(limit) * 20 + 200);
  for (size_t i = 0; i < scan && added < limit; ++i) {
    const size_t before = pool_.size();
    if (Consider(list[i]) != nullptr && pool_.size() > before) ++added;
  }
}

absl::Status Recommender::Request::AddIndexCandidates() {
  if (!warm_) return absl::OkStatus();
  const int excluded = static_cast<int>(history_.completed.size() + history_.enrolled.size());
  const int n =
      std::min(model_.num_items(), std::max(options_.min_candidates, query_.k * options_.candidate_factor) + excluded);
  // The exact scan writes into a per-thread buffer (no allocation per call);
  // the batcher answers with a vector of its own.
  thread_local std::vector<models::Candidate> scanned;
  absl::StatusOr<std::vector<models::Candidate>> found;
  const std::vector<models::Candidate>* candidates = &scanned;
  if (!served_cf_.empty()) {
    // A GRU blend: the top n of the served scores over the indexed rows
    // (those with interactions), every row scored (ScoreAllServed); by the
    // exact scorer's selection where there is one (the same rows).
    if (j_.exact != nullptr) {
      j_.exact->TopOfRowScores(served_cf_, n, &scanned);
    } else {
      scanned.clear();
      for (int row = 0; row < model_.num_items(); ++row) {
        if (model_.InteractionCount(row) > 0) scanned.push_back({row, served_cf_[row]});
      }
      auto better = [](const models::Candidate& a, const models::Candidate& b) {
        return a.score > b.score || (a.score == b.score && a.row < b.row);
      };
      if (static_cast<int>(scanned.size()) > n) {
        std::nth_element(scanned.begin(), scanned.begin() + n, scanned.end(), better);
        scanned.resize(n);
      }
    }
  } else if (j_.exact != nullptr) {
    // Unordered: the pool's ranking (RankDiverse) is a total order, so the
    // order candidates enter the pool in changes nothing but positions.
    j_.exact->SearchUnordered(learner_, n, &scanned);
  } else {
    found = search_(model_ptr_, learner_, n);
    if (!found.ok()) return found.status();
    candidates = &*found;
  }
  for (const models::Candidate& m : *candidates) {
    if (m.row < 0 || m.row >= model_.num_items()) continue;
    if (Cand* c = Consider(j_.course_of_row[m.row])) {
      c->has_cf = true;
      c->cf = m.score;
    }
  }
  return absl::OkStatus();
}

void Recommender::Request::AddFilterListCandidates() {
  const CourseFilter& f = query_.filter;
  if (!f.venue_ids.empty()) {
    for (const std::string& v : f.venue_ids) {
      if (auto it = j_.venues.find(v); it != j_.venues.end()) {
        AddList(it->second.courses, options_.popular_candidates);
      }
    }
  } else if (!f.categories.empty()) {
    for (const std::string& cat : f.categories) {
      if (auto it = j_.by_category.find(cat); it != j_.by_category.end()) {
        AddList(it->second, options_.popular_candidates);
      }
    }
  } else if (f.has_near) {
    for (const auto& [id, v] : j_.venues) {
      if (v.has_location && WithinBox(f.near_lat, f.near_lng, v.lat, v.lng, f.within_km) &&
          HaversineKm(f.near_lat, f.near_lng, v.lat, v.lng) <= f.within_km) {
        AddList(v.courses, options_.per_list_candidates);
      }
    }
  } else {
    AddList(j_.by_popularity, options_.popular_candidates);
  }
}

void Recommender::Request::AddInterestCandidates() {
  for (const std::string& interest : ctx_.interests) {
    if (auto it = j_.by_category.find(interest); it != j_.by_category.end()) {
      AddList(it->second, options_.per_list_candidates);
    }
  }
}

void Recommender::Request::AddNearbyCandidates() {
  if (!has_origin_) return;
  // Nearest venues first, per_list_candidates courses in all.
  std::vector<std::pair<double, const Joined::Venue*>> near;
  for (const auto& [id, v] : j_.venues) {
    if (!v.has_location || !WithinBox(olat_, olng_, v.lat, v.lng, options_.nearby_km)) continue;
    const double d = HaversineKm(olat_, olng_, v.lat, v.lng);
    if (d <= options_.nearby_km) near.emplace_back(d, &v);
  }
  std::sort(near.begin(), near.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const size_t start = pool_.size();
  for (const auto& [d, v] : near) {
    const int left = options_.per_list_candidates - static_cast<int>(pool_.size() - start);
    if (left <= 0) break;
    AddList(v->courses, std::min(left, 20));
  }
}

void Recommender::Request::AddContentCandidates() {
  for (int ci : j_.new_courses) Consider(ci);
}

void Recommender::Request::AddNextLevelCandidates() {
  // The next level of what the learner finished (入门 -> 进阶 -> 提高): courses
  // all of whose prerequisites are completed, at least one of them directly.
  // Credited to the most recent completion that leads there.
  if (!warm_ || history_.completed.empty()) return;
  for (const std::string& done : history_.completed_newest_first) {
    auto next = j_.next_levels.find(done);
    if (next == j_.next_levels.end()) continue;
    for (int ci : next->second) {
      bool all = true;
      for (const std::string& p : courses_[ci].prerequisites) all &= PrerequisiteDone(p);
      if (!all) continue;
      if (Cand* cand = Consider(ci); cand != nullptr && cand->next_step_from == nullptr) cand->next_step_from = &done;
    }
  }
}

void Recommender::Request::AddRetryCandidates() {
  // After a failure: the same course again, another section of it, or a
  // gentler course (a lower level) on the same subject; credited to the most
  // recent failure that leads there.
  for (const std::string& failed : history_.failed_newest_first) {
    const Course* fc = catalog_.Find(failed);
    if (fc == nullptr) continue;
    const int fi = static_cast<int>(fc - courses_.data());
    if (auto it = j_.by_series.find(j_.facts[fi].series); it != j_.by_series.end()) {
      for (int ci : it->second) {
        if (Cand* cand = Consider(ci); cand != nullptr && cand->retry_of == nullptr) cand->retry_of = &failed;
      }
    }
    const int rank = LevelRank(fc->level);
    if (rank <= 1) continue;
    if (auto it = j_.by_category.find(fc->category); it != j_.by_category.end()) {
      int added = 0;
      for (size_t i = 0; i < it->second.size() && added < 20; ++i) {
        const int ci = it->second[i];
        const int r = LevelRank(courses_[ci].level);
        if (r == 0 || r >= rank) continue;
        if (Cand* cand = Consider(ci); cand != nullptr && cand->retry_of == nullptr) {
          cand->foundation_for = &failed;
          ++added;
        }
      }
    }
  }
}

void Recommender::Request::MarkNotReady() {
  // A course that is not ready brings its missing prerequisites into the
  // pool (the step that comes first), which are checked in turn (the loop
  // runs over the growing pool).
  for (size_t i = 0; i < pool_.size(); ++i) {
    const int ci = pool_[i].course;
    for (const std::string& p : courses_[ci].prerequisites) {
      if (PrerequisiteDone(p)) continue;
      pool_[i].blocked = true;
      if (const Course* pc = catalog_.Find(p)) Consider(static_cast<int>(pc - courses_.data()));
    }
  }
}

void Recommender::Request::ComputeFeatures() {
  // The dot products, four candidates at a time (DotEachInOrder: the same
  // floats as one at a time): collaborative scores of the candidates the
  // index search did not score, content scores of the courses the model
  // does not know.
  thread_local std::vector<const float*> vectors;
  thread_local std::vector<Cand*> of;
  thread_local std::vector<float> dots;
  if (warm_ && !model_.sparse_item_matrix() && served_cf_.empty()) {
    vectors.clear();
    of.clear();
    for (Cand& c : pool_) {
      if (c.row < 0 || c.has_cf) continue;
      absl::Span<const float> v = model_.ItemVector(c.row);
      if (v.size() != learner_.size()) continue;  // Dot below
      vectors.push_back(v.data());
      of.push_back(&c);
    }
    dots.resize(vectors.size());
    if (model_.identity_query()) {
      // One coordinate per history course: the sums over those only
      // (DotEachAtInOrder, the same floats), not over every course.
      thread_local std::vector<int> nonzero;
      nonzero.clear();
      for (size_t d = 0; d < learner_.size(); ++d) {
        if (learner_[d] != 0.0f) nonzero.push_back(static_cast<int>(d));
      }
      DotEachAtInOrder(learner_, nonzero, vectors, dots.data());
    } else {
      DotEachInOrder(learner_, vectors, dots.data());
    }
    for (size_t i = 0; i < of.size(); ++i) {
      of[i]->cf = dots[i];
      of[i]->has_cf = true;
    }
  }
  const bool content = !history_content_.empty();
  if (content) {
    vectors.clear();
    of.clear();
    for (Cand& c : pool_) {
      if (j_.new_pos[c.course] < 0) continue;
      vectors.push_back(j_.NewContent(j_.new_pos[c.course], cdim_).data());
      of.push_back(&c);
    }
    dots.resize(vectors.size());
    DotEachInOrder(history_content_, vectors, dots.data());
    for (size_t i = 0; i < of.size(); ++i) of[i]->content = dots[i];
  }
  for (Cand& c : pool_) {
    const Course& course = courses_[c.course];
    if (warm_ && c.row >= 0 && !c.has_cf) {
      if (!served_cf_.empty()) {
        c.cf = served_cf_[c.row];
      } else {
        c.cf =
            model_.sparse_item_matrix() ? model_.ItemScore(learner_, c.row) : Dot(learner_, model_.ItemVector(c.row));
      }
      c.has_cf = true;
    }
    if (c.has_cf) max_cf_ = std::max(max_cf_, c.cf);
    c.interest = !ctx_.interests.empty() && Contains(ctx_.interests, course.category);
    c.audience = !ctx_.age_group.empty() && Contains(course.audiences, ctx_.age_group);
    if (has_origin_ && course.has_location) {
      c.distance_km = HaversineKm(olat_, olng_, course.lat, course.lng);
    }
  }
}

void Recommender::Request::BlendScores() {
  // Weights: models::ServedBlend (models/served_blend.h, docs/recommend.md
  // "Re-ranking blend"), shared with the replay's recomputation.
  const models::ServedBlend& w = options_.blend;
  for (Cand& c : pool_) {
    const Joined::Facts& f = j_.facts[c.course];
    const double pop = f.popularity;
    const double completion = f.completion;
    double proximity = 0;
    if (has_origin_) {
      if (c.distance_km >= 0) {
        proximity = 1.0 / (1.0 + c.distance_km / w.proximity_half_km);
      } else if (f.online) {
        proximity = w.online_proximity;  // reachable from anywhere
      }
    }
    const double interest = c.interest ? 1.0 : 0.0;
    const double audience = c.audience ? 1.0 : 0.0;
    if (warm_) {
      double cf = (c.has_cf && max_cf_ > 0) ? std::max(0.0f, c.cf) / max_cf_ : 0.0;
      if (j_.new_pos[c.course] >= 0) {
        cf = w.new_course_content * std::max(0.0f, c.content);  // content stands in
      }
      const double next_step = c.next_step_from == nullptr ? 0.0 : 1.0;
      c.score = w.cf * cf + w.popularity * pop + w.completion * completion + w.interest * interest +
                w.proximity * proximity + w.audience * audience + w.open_now * (OpenNow(c.course) ? 1.0 : 0.0) +
                w.next_step * next_step;
    } else {
      // Cold start: popular, well-completed courses near the learner that
      // match stated interests and age group.
      c.score = w.cold_popularity * pop + w.cold_pop_completion * pop * completion + w.cold_interest * interest +
                w.cold_proximity * proximity + w.cold_audience * audience +
                w.cold_open_now * (OpenNow(c.course) ? 1.0 : 0.0);
    }
    // The same level again after a failure comes first, like a next level.
    if (c.retry_of != nullptr) c.score += w.retry_bonus;
    if (c.foundation_for != nullptr) c.score += w.foundation_bonus;
  }
}

std::vector<size_t> Recommender::Request::RankDiverse() {
  // Ready courses first (Options::readiness), then by score. A total order
  // (course ids are unique in the pool), so sorting small keys that point
  // back into the pool ranks exactly as sorting the pool itself would, with
  // fewer bytes moved, and SortFirst's selection puts the same courses in
  // the same order as a partial sort.
  struct Ranked {
    double score;
    uint32_t pos;  // in pool_
    bool blocked;
  };
  auto better = [&](const Ranked& a, const Ranked& b) {
    if (a.blocked != b.blocked) return b.blocked;
    if (a.score != b.score) return a.score > b.score;
    return courses_[pool_[a.pos].course].id < courses_[pool_[b.pos].course].id;
  };
  // Per-thread scratch: no allocation per call.
  thread_local std::vector<Ranked> order;
  thread_local std::vector<DiversityIds> keys;
  order.clear();
  order.reserve(pool_.size());
  for (size_t i = 0; i < pool_.size(); ++i) {
    order.push_back({pool_[i].score, static_cast<uint32_t>(i), pool_[i].blocked});
  }
  // Diversity rarely looks past the first few k; sort only those, and the
  // rest when that was not enough.
  std::vector<size_t> chosen;
  size_t sorted = std::min(order.size(), static_cast<size_t>(query_.k) * 5 + 20);
  // Usually diversity's first pass alone fills k among the first 2k + 5,
  // and then that is its answer on the first 5k + 20 as well (DiversityOptions
  // ::relax): sort only those first.
  if (const size_t quick = std::min(sorted, static_cast<size_t>(query_.k) * 2 + 5); quick < sorted) {
    SortFirst(order.begin(), order.begin() + quick, order.end(), better);
    keys.clear();
    for (size_t i = 0; i < quick; ++i) {
      const Joined::Facts& f = j_.facts[pool_[order[i].pos].course];
      keys.push_back({f.series, f.category});
    }
    DiversityOptions first_pass;
    first_pass.relax = false;
    chosen = SelectDiverse(keys, query_.k, first_pass);
    if (static_cast<int>(chosen.size()) >= query_.k) {
      for (size_t& c : chosen) c = order[c].pos;
      return chosen;
    }
  }
  while (true) {
    SortFirst(order.begin(), order.begin() + sorted, order.end(), better);
    keys.clear();
    for (size_t i = 0; i < sorted; ++i) {
      const Joined::Facts& f = j_.facts[pool_[order[i].pos].course];
      keys.push_back({f.series, f.category});
    }
    chosen = SelectDiverse(keys, query_.k);
    if (static_cast<int>(chosen.size()) >= query_.k || sorted == order.size()) break;
    sorted = order.size();
  }
  for (size_t& c : chosen) c = order[c].pos;
  return chosen;
}

RecommendResult Recommender::Request::Respond(const std::vector<size_t>& chosen) const {
  RecommendResult result;
  result.model_version = model_.version();
  result.cold_start = !warm_;
  result.items.reserve(chosen.size());
  float shown_max_cf = 0;
  for (size_t idx : chosen) {
    if (pool_[idx].has_cf) shown_max_cf = std::max(shown_max_cf, pool_[idx].cf);
  }
  for (size_t idx : chosen) {
    const Cand& c = pool_[idx];
    ScoredCourse out;
    out.course = &courses_[c.course];
    out.score = c.score;
    out.distance_km = c.distance_km;
    Explain(c, shown_max_cf, &out);
    result.items.push_back(std::move(out));
  }
  return result;
}

void Recommender::Request::Explain(const Cand& c, float shown_max_cf, ScoredCourse* out) const {
  const Course& course = courses_[c.course];
  if (c.blocked) {
    std::vector<std::string> titles;
    for (const std::string& p : course.prerequisites) {
      if (PrerequisiteDone(p)) continue;
      out->missing_prerequisites.push_back(p);
      const Course* pc = catalog_.Find(p);
      titles.push_back(pc != nullptr ? pc->title : p);
    }
    out->reason = PrerequisitesFirstReason(titles);
    out->reason_kind = ReasonKind::kPrerequisitesFirst;
  }
  if (out->reason.empty() && c.retry_of != nullptr) {
    if (const Course* from = catalog_.Find(*c.retry_of)) {
      out->reason = RetryReason(from->title);
      out->reason_kind = ReasonKind::kRetry;
    }
  }
  if (out->reason.empty() && c.foundation_for != nullptr) {
    if (const Course* from = catalog_.Find(*c.foundation_for)) {
      out->reason = FoundationReason(from->title);
      out->reason_kind = ReasonKind::kFoundation;
    }
  }
  if (out->reason.empty() && c.next_step_from != nullptr) {
    if (const Course* from = catalog_.Find(*c.next_step_from)) {
      out->reason = BecauseReason(vocab::kCompleted, from->title);
      out->reason_kind = ReasonKind::kBecauseYouCompleted;
    }
  }
  if (out->reason.empty() && warm_ && c.row >= 0 && c.has_cf && shown_max_cf > 0 && c.cf >= 0.3f * shown_max_cf) {
    // ModelBundle::TopContributor(history_.events, c.row), on the rows
    // weighed once per request (same order, same arithmetic).
    WeighHistoryRows();
    int best_row = -1;  // position in history_rows_ of the top contributor
    float best = 0;
    model_.ItemToItemEach(history_row_ids_, c.row, absl::MakeSpan(item_to_item_));
    for (size_t i = 0; i < history_rows_.size(); ++i) {
      const float share = static_cast<float>(history_rows_[i].second * item_to_item_[i]);
      if (share > 0 && (best_row < 0 || share > best)) {
        best_row = static_cast<int>(i);
        best = share;
      }
    }
    const int top = best_row < 0 ? -1 : history_row_event_[best_row];  // its history index
    if (top >= 0) {
      const Course* from = catalog_.Find(history_.events[top].course_id);
      if (from != nullptr && top < static_cast<int>(history_.verbs.size())) {
        out->reason = BecauseReason(history_.verbs[top], from->title);
        out->reason_kind = ReasonKind::kBecauseYouCompleted;
      }
    }
  }
  if (out->reason.empty() && j_.new_pos[c.course] >= 0 && c.content >= 0.15f) {
    // The history course closest in content.
    const float* v = j_.NewContent(j_.new_pos[c.course], cdim_).data();
    float best = 0;
    const Course* best_course = nullptr;
    CollectHistoryCourses();
    for (const auto& [hc, content] : history_courses_) {
      const float s = Dot(content, absl::MakeConstSpan(v, cdim_));
      if (s > best) {
        best = s;
        best_course = hc;
      }
    }
    if (best_course != nullptr) {
      out->reason = NewCourseReason(best_course->title);
      out->reason_kind = ReasonKind::kNewCourse;
    }
  }
  if (out->reason.empty() && c.interest) {
    out->reason = InterestReason(course.category);
    out->reason_kind = ReasonKind::kMatchesInterest;
  }
  if (out->reason.empty() && c.distance_km >= 0 && c.distance_km <= options_.nearby_km) {
    std::string area = course.jiedao.empty() ? course.venue_name : course.jiedao;
    out->reason = PopularNearbyReason(area);
    out->reason_kind = ReasonKind::kPopularNearby;
  }
  if (out->reason.empty() && c.audience) {
    out->reason = AudienceReason(AudienceName(ctx_.age_group));
    out->reason_kind = ReasonKind::kPopular;
  }
  if (out->reason.empty()) {
    out->reason = PopularReason();
    out->reason_kind = ReasonKind::kPopular;
  }
}

absl::StatusOr<RecommendResult> Recommender::Similar(const std::shared_ptr<const models::ModelBundle>& model_ptr,
                                                     const CatalogPtr& catalog_ptr, const std::string& course_id, int k,
                                                     const CourseFilter& filter, absl::Time now) const {
  const models::ModelBundle& model = *model_ptr;
  const CatalogSnapshot& catalog = *catalog_ptr;
  const auto& courses = catalog.courses();
  const Course* source = catalog.Find(course_id);
  const std::optional<int> source_row = model.Row(course_id);
  // A draft does not exist (course.h CatalogSnapshot), though the model may
  // have a row for it: the same answer as a missing id.
  if ((source == nullptr && !source_row) || catalog.IsDraft(course_id)) {
    return absl::NotFoundError(absl::StrCat("course_id: no course \"", course_id, "\""));
  }
  std::shared_ptr<const Joined> joined = GetJoined(model_ptr, catalog_ptr);
  const Joined& j = *joined;
  const int cdim = model.content_dim();
  const int n = std::min(model.num_items(), std::max(50, k * 10));

  std::vector<Cand> pool;
  absl::flat_hash_map<int, size_t> in_pool;
  auto consider = [&](int ci) -> Cand* {
    if (ci < 0) return nullptr;
    if (auto it = in_pool.find(ci); it != in_pool.end()) return &pool[it->second];
    const Course& c = courses[ci];
    if (c.id == course_id || ExclusionOf(c, now) != Exclusion::kNone || !MatchesFilter(c, filter, now)) {
      return nullptr;
    }
    in_pool.emplace(ci, pool.size());
    Cand cand;
    cand.course = ci;
    cand.row = j.row_of[ci];
    pool.push_back(cand);
    return &pool.back();
  };

  std::vector<float> content_query;
  // Item vectors of a sparse bundle are columns of M held sparse:
  // DenseItemVector / ItemNorm / ItemScore read them.
  const bool sparse = model.sparse_item_matrix();
  auto item_norm = [&](int row) { return sparse ? model.ItemNorm(row) : Norm(model.ItemVector(row)); };
  if (source_row) {
    const std::vector<float> q = model.DenseItemVector(*source_row);
    const float qn = Norm(q);
    if (qn > 0) {
      absl::StatusOr<std::vector<models::Candidate>> found;
      if (j.exact != nullptr) {
        found = j.exact->Search(q, n + 1);
      } else {
        found = search_(model_ptr, q, n + 1);
      }
      if (!found.ok()) return found.status();
      for (const models::Candidate& m : *found) {
        if (m.row < 0 || m.row >= model.num_items() || m.row == *source_row) continue;
        const float vn = item_norm(m.row);
        if (Cand* c = consider(j.course_of_row[m.row]); c != nullptr && vn > 0) {
          c->has_cf = true;
          c->cf = m.score / (qn * vn);
        }
      }
    }
    if (model.HasContent(*source_row)) {
      absl::Span<const float> cv = model.ContentVector(*source_row);
      content_query.assign(cv.begin(), cv.end());
      for (const models::Candidate& m : model.SimilarCourses(*source_row, n)) {
        if (m.row < 0 || m.row >= model.num_items()) continue;
        if (Cand* c = consider(j.course_of_row[m.row])) c->content = m.score;
      }
    }
  }
  if (content_query.empty() && source != nullptr) {
    content_query = model.EmbedText(CourseText(*source));
    if (IsZero(content_query)) {
      content_query.clear();
    } else {
      absl::StatusOr<std::vector<std::vector<models::Candidate>>> found = model.SearchContentBatch(content_query, 1, n);
      if (!found.ok()) return found.status();
      for (const models::Candidate& m : (*found)[0]) {
        if (m.row < 0 || m.row >= model.num_items()) continue;
        if (Cand* c = consider(j.course_of_row[m.row])) c->content = m.score;
      }
    }
  }
  if (!content_query.empty()) {
    for (size_t p = 0; p < j.new_courses.size(); ++p) {
      if (j.facts[j.new_courses[p]].closed) continue;  // `consider` rejects it (archived ones, among others)
      const float s = Dot(content_query, j.NewContent(static_cast<int>(p), cdim));
      if (s <= 0) continue;
      if (Cand* c = consider(j.new_courses[p])) c->content = std::max(c->content, s);
    }
  }
  // Collaborative cosine for content-found items that the index search missed.
  if (source_row) {
    const std::vector<float> q = model.DenseItemVector(*source_row);
    const float qn = Norm(q);
    for (Cand& c : pool) {
      if (!c.has_cf && c.row >= 0 && qn > 0) {
        const float vn = item_norm(c.row);
        if (vn > 0) {
          c.cf = (sparse ? model.ItemScore(q, c.row) : Dot(q, model.ItemVector(c.row))) / (qn * vn);
        }
        c.has_cf = true;
      }
    }
  }
  // Weights: models::ServedBlend's similar_* (docs/recommend.md
  // "Re-ranking blend").
  const models::ServedBlend& w = options_.blend;
  for (Cand& c : pool) {
    const double pop = c.row >= 0 ? model.Popularity(c.row) : 0.0;
    c.score = w.similar_cf * std::max(0.0f, c.cf) + w.similar_content * std::max(0.0f, c.content) +
              w.similar_popularity * pop;
  }
  std::sort(pool.begin(), pool.end(), [&](const Cand& a, const Cand& b) {
    if (a.score != b.score) return a.score > b.score;
    return courses[a.course].id < courses[b.course].id;
  });
  std::vector<DiversityIds> keys;
  keys.reserve(pool.size());
  for (const Cand& c : pool) keys.push_back({j.facts[c.course].series, j.facts[c.course].category});
  // Other sections of the same series are what "similar" should not fill
  // the list with; the category cap is off (similar courses share one).
  DiversityOptions div;
  div.max_per_category = k;
  std::vector<size_t> chosen = SelectDiverse(keys, k, div);
  const std::string source_title = source != nullptr ? source->title : course_id;
  RecommendResult result;
  result.model_version = model.version();
  for (size_t idx : chosen) {
    const Cand& c = pool[idx];
    ScoredCourse out;
    out.course = &courses[c.course];
    out.score = c.score;
    if (c.has_cf && c.cf > c.content) {
      out.reason = AlsoLearnedReason(source_title);
    } else {
      out.reason = SimilarContentReason(source_title);
    }
    out.reason_kind = ReasonKind::kSimilarCourse;
    result.items.push_back(std::move(out));
  }
  return result;
}

}  // namespace lifelong::recommend
