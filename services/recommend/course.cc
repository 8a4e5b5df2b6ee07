#include "services/recommend/course.h"

#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

namespace lifelong::recommend {
namespace {

// Characters that may make up a section/term number.
bool IsNumberish(absl::string_view s) {
  static const char* kNumerals[] = {"一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "零"};
  while (!s.empty()) {
    if (absl::ascii_isdigit(s[0])) {
      s.remove_prefix(1);
      continue;
    }
    bool matched = false;
    for (const char* n : kNumerals) {
      if (absl::ConsumePrefix(&s, n)) {
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  return true;
}

// Strips one trailing marker; returns false when there was none.
bool StripMarker(std::string* title) {
  absl::string_view t = absl::StripTrailingAsciiWhitespace(*title);
  // Bracketed suffix: "（...）" or "(...)" holding a number, 期, 班, 级 or 季.
  for (auto [open, close] : {std::pair<absl::string_view, absl::string_view>{"（", "）"},
                             std::pair<absl::string_view, absl::string_view>{"(", ")"}}) {
    if (absl::EndsWith(t, close)) {
      size_t pos = t.rfind(open);
      if (pos != absl::string_view::npos && pos > 0) {
        *title = std::string(absl::StripTrailingAsciiWhitespace(t.substr(0, pos)));
        return true;
      }
    }
  }
  // "第N期" / "第N班" / "N期" / "N班" / trailing number.
  for (absl::string_view unit : {"期", "班", "季", "级"}) {
    absl::string_view u = t;
    if (absl::ConsumeSuffix(&u, unit)) {
      // Find the start of the number.
      size_t cut = u.size();
      while (cut > 0) {
        size_t prev = cut - 1;
        while (prev > 0 && (static_cast<unsigned char>(u[prev]) & 0xC0) == 0x80) --prev;
        if (!IsNumberish(u.substr(prev, cut - prev))) break;
        cut = prev;
      }
      if (cut == u.size()) continue;
      absl::string_view head = u.substr(0, cut);
      absl::ConsumeSuffix(&head, "第");
      head = absl::StripTrailingAsciiWhitespace(head);
      if (head.empty()) continue;
      *title = std::string(head);
      return true;
    }
  }
  size_t cut = t.size();
  while (cut > 0 && absl::ascii_isdigit(t[cut - 1])) --cut;
  if (cut < t.size() && cut > 0) {
    absl::string_view head = absl::StripTrailingAsciiWhitespace(t.substr(0, cut));
    if (!head.empty()) {
      *title = std::string(head);
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Time Course::NextSessionStart(absl::Time now) const {
  absl::Time best = absl::InfiniteFuture();
  for (const CourseSession& s : sessions) {
    if (s.start >= now && s.start < best) best = s.start;
  }
  return best;
}

std::string SeriesKey(const std::string& title) {
  std::string key(absl::StripAsciiWhitespace(title));
  for (int i = 0; i < 3 && StripMarker(&key); ++i) {
  }
  return key;
}

CatalogSnapshot::CatalogSnapshot(std::string version, std::vector<Course> courses, std::vector<Programme> programmes)
    : version_(std::move(version)), programmes_(std::move(programmes)) {
  // The last copy of each id, in first-seen order; then the drafts out.
  std::vector<Course> last;
  last.reserve(courses.size());
  for (Course& c : courses) {
    auto it = by_id_.find(c.id);
    if (it != by_id_.end()) {
      last[it->second] = std::move(c);
    } else {
      by_id_.emplace(c.id, last.size());
      last.push_back(std::move(c));
    }
  }
  by_id_.clear();
  courses_.reserve(last.size());
  for (Course& c : last) {
    if (c.state == CourseState::kDraft) {
      draft_ids_.insert(std::move(c.id));
      continue;
    }
    if (c.series.empty()) c.series = SeriesKey(c.title);
    by_id_.emplace(c.id, courses_.size());
    courses_.push_back(std::move(c));
  }
  for (size_t i = 0; i < courses_.size(); ++i) {
    const Course& c = courses_[i];
    if (!c.venue_id.empty() && c.has_location) by_venue_.try_emplace(c.venue_id, i);
  }
  for (size_t i = 0; i < courses_.size(); ++i) {
    const Course& c = courses_[i];
    if (!c.venue_id.empty()) by_venue_.try_emplace(c.venue_id, i);
    by_series_[c.series].push_back(static_cast<int>(i));
    by_category_[c.category].push_back(static_cast<int>(i));
  }
  summary_memos_ = std::make_unique<SummaryMemos>(courses_.size());
}

ptrdiff_t CatalogSnapshot::IndexOf(const Course* c) const {
  const std::less<const Course*> before;
  if (courses_.empty() || before(c, courses_.data()) || !before(c, courses_.data() + courses_.size())) return -1;
  return c - courses_.data();
}

struct CatalogSnapshot::SummaryMemos {
  explicit SummaryMemos(size_t courses) : slots(new std::atomic<const SummaryMemo*>[courses]), max_kept(4 * courses) {
    for (size_t i = 0; i < courses; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
  }
  std::unique_ptr<std::atomic<const SummaryMemo*>[]> slots;
  const size_t max_kept;
  absl::Mutex mu;
  std::vector<std::unique_ptr<const SummaryMemo>> kept ABSL_GUARDED_BY(mu);
};

CatalogSnapshot::~CatalogSnapshot() = default;
CatalogSnapshot::CatalogSnapshot(CatalogSnapshot&&) noexcept = default;
CatalogSnapshot& CatalogSnapshot::operator=(CatalogSnapshot&&) noexcept = default;

const CatalogSnapshot::SummaryMemo* CatalogSnapshot::LoadSummaryMemo(ptrdiff_t index) const {
  return summary_memos_->slots[static_cast<size_t>(index)].load(std::memory_order_acquire);
}

const CatalogSnapshot::SummaryMemo* CatalogSnapshot::StoreSummaryMemo(ptrdiff_t index,
                                                                      std::unique_ptr<const SummaryMemo>&& memo) const {
  const SummaryMemo* const m = memo.get();
  {
    absl::MutexLock lock(&summary_memos_->mu);
    if (summary_memos_->kept.size() >= summary_memos_->max_kept) return nullptr;
    summary_memos_->kept.push_back(std::move(memo));
  }
  summary_memos_->slots[static_cast<size_t>(index)].store(m, std::memory_order_release);
  return m;
}

const std::vector<int>& CatalogSnapshot::SeriesCourses(const std::string& series) const {
  static const std::vector<int> kNone;
  auto it = by_series_.find(series);
  return it == by_series_.end() ? kNone : it->second;
}

const std::vector<int>& CatalogSnapshot::CategoryCourses(const std::string& category) const {
  static const std::vector<int> kNone;
  auto it = by_category_.find(category);
  return it == by_category_.end() ? kNone : it->second;
}

const Course* CatalogSnapshot::Find(const std::string& course_id) const {
  auto it = by_id_.find(course_id);
  return it == by_id_.end() ? nullptr : &courses_[it->second];
}

const Programme* CatalogSnapshot::FindProgramme(const std::string& programme_id) const {
  for (const Programme& p : programmes_) {
    if (p.id == programme_id) return &p;
  }
  return nullptr;
}

bool CatalogSnapshot::VenueLocation(const std::string& venue_id, double* lat, double* lng) const {
  auto it = by_venue_.find(venue_id);
  if (it == by_venue_.end() || !courses_[it->second].has_location) return false;
  *lat = courses_[it->second].lat;
  *lng = courses_[it->second].lng;
  return true;
}

std::string CatalogSnapshot::VenueArea(const std::string& venue_id) const {
  auto it = by_venue_.find(venue_id);
  if (it == by_venue_.end()) return "";
  const Course& c = courses_[it->second];
  return !c.jiedao.empty() ? c.jiedao : c.venue_name;
}

}  // namespace lifelong::recommend
