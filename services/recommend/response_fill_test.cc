// FillRecommendResponse / FillSimilarResponse into a message that holds an
// earlier answer (every field set, more or fewer recommendations) must give
// the same bytes as filling a fresh message; and RecycledRecommendMessages
// hands pairs out again once released, up to its bound.
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

TEST(RecycledRecommendMessagesTest, ReleasedPairsAreHandedOutAgainUpToTheBound) {
  RecycledRecommendMessages pool(/*max_free=*/2);
  auto* a = pool.AllocateMessages();
  auto* b = pool.AllocateMessages();
  auto* c = pool.AllocateMessages();
  EXPECT_EQ(pool.allocated(), 3u);
  EXPECT_NE(a->response(), b->response());
  a->response()->set_model_version("7");
  a->Release();
  b->Release();
  c->Release();  // past the bound: freed
  EXPECT_EQ(pool.free_pairs(), 2u);
  EXPECT_EQ(pool.allocated(), 2u);
  auto* again = pool.AllocateMessages();
  EXPECT_TRUE(again == a || again == b);
  EXPECT_EQ(pool.free_pairs(), 1u);
  EXPECT_EQ(pool.allocated(), 2u);
  // An oversized request (far past what validation accepts) is not kept.
  again->request()->set_learner(std::string(64 * 1024, 'x'));
  again->Release();
  EXPECT_EQ(pool.free_pairs(), 1u);
  EXPECT_EQ(pool.allocated(), 1u);
}

}  // namespace
}  // namespace lifelong::recommend
