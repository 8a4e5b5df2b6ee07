// FillRecommendResponse / FillSimilarResponse into a message that holds an
// earlier answer (every field set, more or fewer recommendations) must give
// the same bytes as filling a fresh message; and AppendRecommendResponseBytes
// (memoized course summaries) gives exactly the filled response's bytes,
// whatever the time and the catalog snapshot.
#include "services/recommend/response_fill.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "gtest/gtest.h"

namespace lifelong::recommend {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Sets every field of `m` (recursively, repeated fields to `repeat`
// elements) to a value that is not the default, so that a field that a
// Fill* forgets to overwrite shows in the bytes.
void SetEveryField(Message* m, int repeat, int depth = 0) {
  const Reflection* r = m->GetReflection();
  const auto* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const int n = f->is_repeated() ? repeat : 1;
    for (int k = 0; k < n; ++k) {
      const std::string text = absl::StrCat("旧的", f->name(), "-", k, std::string(40, 'x'));
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r->AddInt32(m, f, 7 + k) : r->SetInt32(m, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          f->is_repeated() ? r->AddInt64(m, f, 7 + k) : r->SetInt64(m, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          f->is_repeated() ? r->AddUInt32(m, f, 7 + k) : r->SetUInt32(m, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          f->is_repeated() ? r->AddUInt64(m, f, 7 + k) : r->SetUInt64(m, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          f->is_repeated() ? r->AddDouble(m, f, 7.5 + k) : r->SetDouble(m, f, 7.5);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          f->is_repeated() ? r->AddFloat(m, f, 7.5f + k) : r->SetFloat(m, f, 7.5f);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          f->is_repeated() ? r->AddBool(m, f, true) : r->SetBool(m, f, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* e = f->enum_type();
          const int v = e->value(e->value_count() - 1)->number();
          f->is_repeated() ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING:
          f->is_repeated() ? r->AddString(m, f, text) : r->SetString(m, f, text);
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth < 4)
            SetEveryField(f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f), repeat, depth + 1);
          break;
      }
    }
  }
}

class ResponseFillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = absl::FromUnixSeconds(1790000000);
    for (int i = 0; i < 12; ++i) {
      Course c;
      c.id = absl::StrCat("dc-course-", i);
      c.title = absl::StrCat("东城区书法入门（第", i, "期）");
      c.category = i % 2 == 0 ? "书法" : "戏曲";
      c.mode = i % 3 == 0 ? "online" : "offline";
      if (i % 4 != 1) c.audiences = {"adults", "seniors"};
      c.xuequ = i % 5 == 0 ? "" : "和平里学区";
      c.jiedao = i % 2 == 0 ? "和平里街道" : "";
      c.venue_id = i % 3 == 0 ? "" : absl::StrCat("venue-", i);
      c.venue_name = "东城区社区学院";
      // Every third course has no session to come (no next_session_start).
      if (i % 3 != 2) c.sessions.push_back({now_ + absl::Hours(24 * (i + 1)), now_ + absl::Hours(24 * (i + 1) + 2)});
      c.enrol_from = now_ - absl::Hours(1);
      c.enrol_to = i % 2 == 0 ? now_ + absl::Hours(100) : now_ - absl::Minutes(1);
      c.capacity = i % 2 == 0 ? 30 : 0;
      c.seats_taken = i;
      c.credits = i % 3 == 0 ? 0 : 1.5;
      c.level = i % 4 == 0 ? "" : "intermediate";
      courses_.push_back(c);
    }
  }

  // A result of `n` courses starting at `first`, with varied reasons,
  // distances and missing prerequisites (some none).
  RecommendResult Result(int first, int n, bool cold) const {
    RecommendResult r;
    r.model_version = 40 + first;
    r.cold_start = cold;
    for (int i = 0; i < n; ++i) {
      const Course& c = courses_[(first + i) % courses_.size()];
      ScoredCourse s;
      s.course = &c;
      s.score = 0.9 - 0.01 * i;
      s.reason = i % 4 == 3 ? "" : absl::StrCat("因为你完成了 ", c.title);
      s.reason_kind = static_cast<ReasonKind>(i % 10);
      s.distance_km = i % 2 == 0 ? -1 : 1.25 * i;
      if (i % 3 == 1) s.missing_prerequisites = {"dc-course-0", absl::StrCat("dc-course-", i)};
      r.items.push_back(s);
    }
    return r;
  }

  absl::Time now_;
  std::vector<Course> courses_;
};

TEST_F(ResponseFillTest, RefillingAUsedResponseGivesTheBytesOfAFreshOne) {
  for (int n : {0, 1, 3, 10, 12}) {
    for (int used : {0, 1, 5, 10, 14}) {
      for (bool cold : {false, true}) {
        SCOPED_TRACE(absl::StrCat("items ", n, ", used response with ", used, ", cold ", cold));
        const RecommendResult result = Result(n % 5, n, cold);
        v1::RecommendResponse fresh;
        FillRecommendResponse(result, now_, &fresh);
        ASSERT_EQ(fresh.recommendations_size(), n);

        v1::RecommendResponse reused;
        SetEveryField(&reused, used);
        ASSERT_EQ(reused.recommendations_size(), used);
        FillRecommendResponse(result, now_, &reused);
        EXPECT_EQ(reused.SerializeAsString(), fresh.SerializeAsString());
        EXPECT_EQ(reused.DebugString(), fresh.DebugString());

        // And an earlier real answer (other courses, other time) refilled.
        v1::RecommendResponse earlier;
        FillRecommendResponse(Result(7, used, !cold), now_ - absl::Hours(24 * 30), &earlier);
        FillRecommendResponse(result, now_, &earlier);
        EXPECT_EQ(earlier.SerializeAsString(), fresh.SerializeAsString());

        v1::SimilarCoursesResponse similar_fresh, similar_reused;
        FillSimilarResponse(result, now_, &similar_fresh);
        SetEveryField(&similar_reused, used);
        FillSimilarResponse(result, now_, &similar_reused);
        EXPECT_EQ(similar_reused.SerializeAsString(), similar_fresh.SerializeAsString());
      }
    }
  }
}

TEST_F(ResponseFillTest, SummaryFieldsFollowTheCourseAndTheTime) {
  v1::CourseSummary s;
  SetEveryField(&s, 3);
  const Course& no_session = courses_[2];  // i % 3 == 2: nothing to come
  FillCourseSummary(no_session, now_, &s);
  EXPECT_FALSE(s.has_next_session_start());
  EXPECT_EQ(s.course_id(), "dc-course-2");
  EXPECT_EQ(s.seats_left(), 28);
  EXPECT_TRUE(s.enrolment_open());
  EXPECT_EQ(s.audiences_size(), 2);
  const Course& later = courses_[1];
  FillCourseSummary(later, now_, &s);
  ASSERT_TRUE(s.has_next_session_start());
  EXPECT_EQ(s.next_session_start().seconds(), absl::ToUnixSeconds(now_ + absl::Hours(48)));
  EXPECT_EQ(s.audiences_size(), 0);
  EXPECT_EQ(s.seats_left(), -1);
  EXPECT_FALSE(s.enrolment_open());
  EXPECT_EQ(s.jiedao(), "");
}

// A result of `n` of `catalog`'s courses starting at `first`, varied as
// ResponseFillTest::Result's.
RecommendResult ResultIn(const CatalogSnapshot& catalog, int first, int n, bool cold) {
  RecommendResult r;
  // 0 (no version field written), negative, and long versions too.
  r.model_version = first == 0 ? 0 : first == 1 ? -7 : first == 2 ? int64_t{1} << 62 : 40 + first;
  r.cold_start = cold;
  const std::vector<Course>& courses = catalog.courses();
  for (int i = 0; i < n; ++i) {
    const Course& c = courses[(first + i) % courses.size()];
    ScoredCourse s;
    s.course = &c;
    s.score = i == 2 ? -0.0 : 0.9 - 0.01 * i;
    s.reason = i % 4 == 3 ? "" : absl::StrCat("因为你完成了 ", c.title);
    s.reason_kind = static_cast<ReasonKind>(i % 10);
    s.distance_km = i % 2 == 0 ? -1 : (i == 3 ? 0 : 1.25 * i);
    if (i % 3 == 1) s.missing_prerequisites = {"dc-course-0", absl::StrCat("dc-course-", i)};
    if (i == 4) s.missing_prerequisites = {"", "先修课程"};  // an empty id is still written
    r.items.push_back(s);
  }
  return r;
}

std::string FilledBytes(const RecommendResult& result, absl::Time now) {
  v1::RecommendResponse fresh;
  FillRecommendResponse(result, now, &fresh);
  return fresh.SerializeAsString();
}

std::string AppendedBytes(const RecommendResult& result, const CatalogSnapshot& catalog, absl::Time now) {
  std::string out = "prefix";  // appended to, never cleared
  AppendRecommendResponseBytes(result, catalog, now, &out);
  EXPECT_EQ(out.substr(0, 6), "prefix");
  return out.substr(6);
}

TEST_F(ResponseFillTest, AppendedBytesEqualTheFilledResponsesSerializationWithAndWithoutMemos) {
  const CatalogSnapshot catalog("v1", courses_);
  // The times cross sessions' starts (course i's at now + 24 (i + 1) h) and
  // the enrolment windows' ends (now + 100 h, now - 1 min) and start (now - 1 h),
  // and come back: each time a memo built at another time is met.
  const absl::Time times[] = {now_, now_ + absl::Hours(30),      now_ - absl::Hours(2),  now_ + absl::Hours(101),
                              now_, now_ + absl::Hours(24 * 30), now_ + absl::Seconds(1)};
  for (int round = 0; round < 2; ++round) {
    for (absl::Time t : times) {
      for (int n : {0, 1, 3, 10, 12}) {
        for (bool cold : {false, true}) {
          SCOPED_TRACE(absl::StrCat("round ", round, ", t ", absl::FormatTime(t), ", items ", n, ", cold ", cold));
          const RecommendResult result = ResultIn(catalog, n % 5, n, cold);
          const std::string want = FilledBytes(result, t);
          EXPECT_EQ(AppendedBytes(result, catalog, t), want);
          // Again, every summary now from a memo built at this time.
          EXPECT_EQ(AppendedBytes(result, catalog, t), want);
          v1::RecommendResponse parsed;
          ASSERT_TRUE(parsed.ParseFromString(want));
          EXPECT_EQ(parsed.recommendations_size(), n);
        }
      }
    }
  }
}

TEST_F(ResponseFillTest, SummaryMemosAreReusedUntilTheTimeChangesTheSummary) {
  const CatalogSnapshot catalog("v1", courses_);
  const Course& c = catalog.courses()[1];  // a session at now + 48 h; enrolment closed since now - 1 min
  const auto first = CourseSummaryBytes(c, &catalog, now_);
  // Same next session and enrolment state: the same memo, not rebuilt.
  EXPECT_EQ(CourseSummaryBytes(c, &catalog, now_ + absl::Hours(47)), first);
  EXPECT_EQ(catalog.LoadSummaryMemo(1), first);
  // Past the session's start: a new summary (no next session), stored.
  const auto later = CourseSummaryBytes(c, &catalog, now_ + absl::Hours(49));
  EXPECT_NE(later, first);
  EXPECT_NE(later->bytes, first->bytes);
  EXPECT_EQ(catalog.LoadSummaryMemo(1), later);
  v1::CourseSummary want;
  FillCourseSummary(c, now_ + absl::Hours(49), &want);
  EXPECT_EQ(later->bytes, want.SerializeAsString());
  // Before the enrolment window opened (now - 1 h): enrolment_open changes.
  const Course& open = catalog.courses()[0];
  const auto open_now = CourseSummaryBytes(open, &catalog, now_);
  const auto before_window = CourseSummaryBytes(open, &catalog, now_ - absl::Hours(2));
  EXPECT_NE(before_window->bytes, open_now->bytes);
  FillCourseSummary(open, now_ - absl::Hours(2), &want);
  EXPECT_EQ(before_window->bytes, want.SerializeAsString());
  EXPECT_FALSE(want.enrolment_open());
  // The memo's bytes outlive a later store to the slot.
  const std::string kept = first->bytes;
  (void)CourseSummaryBytes(c, &catalog, now_);
  EXPECT_EQ(first->bytes, kept);
}

// A snapshot keeps at most 4 memos per course; a course whose summary keeps
// changing (times on either side of its session's start, alternately) is
// answered right once its memos are spent, from the thread's scratch.
TEST_F(ResponseFillTest, PastTheBoundOnMemosAnswersAreStillExact) {
  const CatalogSnapshot catalog("v1", {courses_[0]});  // a session at now + 24 h
  const RecommendResult result = ResultIn(catalog, 0, 1, false);
  for (int i = 0; i < 12; ++i) {
    const absl::Time t = i % 2 == 0 ? now_ : now_ + absl::Hours(25);
    SCOPED_TRACE(i);
    EXPECT_EQ(AppendedBytes(result, catalog, t), FilledBytes(result, t));
  }
  EXPECT_NE(FilledBytes(result, now_), FilledBytes(result, now_ + absl::Hours(25)));
}

TEST_F(ResponseFillTest, ANewCatalogSnapshotStartsWithoutTheOldOnesMemos) {
  const CatalogSnapshot first("v1", courses_);
  const RecommendResult old_result = ResultIn(first, 0, 10, false);
  ASSERT_EQ(AppendedBytes(old_result, first, now_), FilledBytes(old_result, now_));
  // The same course ids with other facts (seats taken, title, venue): the
  // new snapshot's answers show the new facts.
  std::vector<Course> changed = courses_;
  for (Course& c : changed) {
    c.seats_taken += 1;
    c.title += "（调整）";
    c.venue_name = "东城区第二社区学院";
  }
  const CatalogSnapshot second("v2", changed);
  for (size_t i = 0; i < second.courses().size(); ++i) EXPECT_EQ(second.LoadSummaryMemo(i), nullptr);
  const RecommendResult new_result = ResultIn(second, 0, 10, false);
  const std::string got = AppendedBytes(new_result, second, now_);
  EXPECT_EQ(got, FilledBytes(new_result, now_));
  EXPECT_NE(got, FilledBytes(old_result, now_));
  v1::RecommendResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(got));
  EXPECT_EQ(parsed.recommendations(0).course().title(), absl::StrCat(courses_[0].title, "（调整）"));
  // The old snapshot's memos are its own: still its answers.
  EXPECT_EQ(AppendedBytes(old_result, first, now_), FilledBytes(old_result, now_));
}

TEST_F(ResponseFillTest, CoursesOutsideTheSnapshotAreSerializedAfreshEveryTime) {
  const CatalogSnapshot catalog("v1", courses_);
  // Result() points into the fixture's own vector, not the snapshot's.
  const RecommendResult result = Result(0, 10, true);
  for (const ScoredCourse& s : result.items) EXPECT_EQ(catalog.IndexOf(s.course), -1);
  EXPECT_EQ(AppendedBytes(result, catalog, now_), FilledBytes(result, now_));
  for (size_t i = 0; i < catalog.courses().size(); ++i) EXPECT_EQ(catalog.LoadSummaryMemo(i), nullptr);
  // And a copy changed afterwards shows its change.
  Course copy = catalog.courses()[4];
  copy.seats_taken = 0;
  const auto bytes = CourseSummaryBytes(copy, &catalog, now_);
  v1::CourseSummary want;
  FillCourseSummary(copy, now_, &want);
  EXPECT_EQ(bytes->bytes, want.SerializeAsString());
  EXPECT_EQ(CourseSummaryBytes(copy, nullptr, now_)->bytes, want.SerializeAsString());
}

}  // namespace
}  // namespace lifelong::recommend
