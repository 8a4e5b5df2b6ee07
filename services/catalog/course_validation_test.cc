#include "services/catalog/course_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;
using lifelong::v1::ListCoursesRequest;
using ::testing::HasSubstr;
using ::testing::StartsWith;

Course ValidCourse() {
  Course c;
  c.set_id("c0001");
  c.set_title("书法入门");
  c.set_description("从握笔开始学习楷书。\n每周一次。");
  c.set_category("书法");
  c.add_tags("毛笔");
  c.mutable_provider()->set_name("和平里社区学校");
  c.mutable_provider()->set_kind(lifelong::v1::Provider::COMMUNITY_SCHOOL);
  c.set_mode(Course::OFFLINE);
  c.mutable_venue()->set_id("v-hpl");
  c.mutable_venue()->set_name("和平里社区活动中心");
  c.mutable_venue()->set_xuequ("和平里学区");
  c.mutable_venue()->set_jiedao("和平里街道");
  c.mutable_venue()->mutable_location()->set_latitude(39.958);
  c.mutable_venue()->mutable_location()->set_longitude(116.417);
  auto* session = c.add_sessions();
  session->mutable_start_time()->set_seconds(1796000000);
  session->mutable_end_time()->set_seconds(1796005400);
  session->set_room("201");
  c.mutable_enrollment_open_time()->set_seconds(1795000000);
  c.mutable_enrollment_close_time()->set_seconds(1795900000);
  c.set_capacity(30);
  c.set_seats_taken(12);
  c.set_credits(1.5);
  c.set_hours(12);
  c.set_level(Course::BEGINNER);
  c.add_audiences(Course::SENIORS);
  c.set_language("zh-CN");
  c.set_state(Course::OPEN);
  c.set_url("https://lifelong.dongcheng.edu.cn/c/0001");
  return c;
}

// Expects INVALID_ARGUMENT whose message starts with "<field>:".
void ExpectInvalid(const absl::Status& status, const std::string& field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(field + ":")) << status;
}

struct Rule {
  std::string name;
  std::function<void(Course*)> mutate;
  std::string field;
};

TEST(CourseValidation, AcceptsAValidCourse) {
  EXPECT_TRUE(ValidateCourse(ValidCourse()).ok()) << ValidateCourse(ValidCourse());
  Course online = ValidCourse();
  online.set_mode(Course::ONLINE);
  online.clear_venue();
  online.set_capacity(0);  // no limit
  online.set_seats_taken(5000);
  online.clear_enrollment_close_time();
  EXPECT_TRUE(ValidateCourse(online).ok()) << ValidateCourse(online);
}

TEST(CourseValidation, EachRuleRejectsNamingTheField) {
  const double nan = std::nan("");
  const std::vector<Rule> rules = {
      {"empty id", [](Course* c) { c->clear_id(); }, "course.id"},
      {"upper-case id", [](Course* c) { c->set_id("C0001"); }, "course.id"},
      {"id with slash", [](Course* c) { c->set_id("c/1"); }, "course.id"},
      {"long id", [](Course* c) { c->set_id(std::string(65, 'a')); }, "course.id"},
      {"empty title", [](Course* c) { c->clear_title(); }, "course.title"},
      {"blank title", [](Course* c) { c->set_title(" \u3000 "); }, "course.title"},
      {"long title", [](Course* c) { c->set_title(std::string(201 * 3, 'x')); }, "course.title"},
      {"title control char", [](Course* c) { c->set_title("a\nb"); }, "course.title"},
      {"title C1 next line", [](Course* c) { c->set_title("书法\u0085入门"); }, "course.title"},
      {"title bidi override", [](Course* c) { c->set_title("\u202e门入法书"); }, "course.title"},
      {"title bidi isolate", [](Course* c) { c->set_title("书法\u2066入门"); }, "course.title"},
      {"title left-to-right mark", [](Course* c) { c->set_title("书法\u200e入门"); }, "course.title"},
      {"title right-to-left mark", [](Course* c) { c->set_title("\u200f书法入门"); }, "course.title"},
      {"title Arabic letter mark", [](Course* c) { c->set_title("书法入门\u061c"); }, "course.title"},
      {"description right-to-left mark", [](Course* c) { c->set_description("第一行\n\u200f第二行"); },
       "course.description"},
      {"tag left-to-right mark", [](Course* c) { c->add_tags("\u200e楷书"); }, "course.tags[1]"},
      {"description line separator", [](Course* c) { c->set_description("第一行\u2028第二行"); }, "course.description"},
      {"title of wide spaces", [](Course* c) { c->set_title("\u2003\u2003"); }, "course.title"},
      {"title of zero-width spaces", [](Course* c) { c->set_title("\u200b\ufeff\u200b"); }, "course.title"},
      {"title of Hangul fillers", [](Course* c) { c->set_title("\u3164\u115f\u1160\uffa0"); }, "course.title"},
      {"title of blank Braille", [](Course* c) { c->set_title("\u2800\u2800"); }, "course.title"},
      {"title of soft hyphens", [](Course* c) { c->set_title("\u00ad"); }, "course.title"},
      {"title of invisible operators", [](Course* c) { c->set_title("\u2061\u2062\u2063\u2064"); }, "course.title"},
      {"title of deprecated format characters", [](Course* c) { c->set_title("\u206a\u206f"); }, "course.title"},
      {"title of variation selectors", [](Course* c) { c->set_title("\ufe00\ufe0f\U000e0100"); }, "course.title"},
      {"title of tags", [](Course* c) { c->set_title("\U000e0001\U000e0041\U000e007f"); }, "course.title"},
      {"provider name of fillers", [](Course* c) { c->mutable_provider()->set_name("\u3164 \u2800"); },
       "course.provider.name"},
      {"bad utf-8 title", [](Course* c) { c->set_title("\xe4\xb9"); }, "course.title"},
      {"long description",
       [](Course* c) {
         std::string d;
         for (int i = 0; i < 20001; ++i) d += "字";
         c->set_description(d);
       },
       "course.description"},
      {"description nul", [](Course* c) { c->set_description(std::string("a\0b", 3)); }, "course.description"},
      {"long category", [](Course* c) { c->set_category(std::string(65, 'x')); }, "course.category"},
      {"empty tag", [](Course* c) { c->add_tags(""); }, "course.tags[1]"},
      {"repeated tag", [](Course* c) { c->add_tags("毛笔"); }, "course.tags[1]"},
      {"too many tags",
       [](Course* c) {
         for (int i = 0; i < 40; ++i) c->add_tags("t" + std::to_string(i));
       },
       "course.tags"},
      {"no provider name", [](Course* c) { c->mutable_provider()->clear_name(); }, "course.provider.name"},
      {"no provider kind", [](Course* c) { c->mutable_provider()->clear_kind(); }, "course.provider.kind"},
      {"unknown provider kind",
       [](Course* c) { c->mutable_provider()->set_kind(static_cast<lifelong::v1::Provider::Kind>(99)); },
       "course.provider.kind"},
      {"no mode", [](Course* c) { c->clear_mode(); }, "course.mode"},
      {"offline without venue", [](Course* c) { c->clear_venue(); }, "course.venue.id"},
      {"bad venue id", [](Course* c) { c->mutable_venue()->set_id("场馆"); }, "course.venue.id"},
      {"long address", [](Course* c) { c->mutable_venue()->set_address(std::string(257, 'a')); },
       "course.venue.address"},
      {"long xuequ", [](Course* c) { c->mutable_venue()->set_xuequ(std::string(65, 'a')); }, "course.venue.xuequ"},
      {"latitude too big", [](Course* c) { c->mutable_venue()->mutable_location()->set_latitude(90.5); },
       "course.venue.location.latitude"},
      {"latitude nan", [nan](Course* c) { c->mutable_venue()->mutable_location()->set_latitude(nan); },
       "course.venue.location.latitude"},
      {"longitude too small", [](Course* c) { c->mutable_venue()->mutable_location()->set_longitude(-180.1); },
       "course.venue.location.longitude"},
      {"session end before start",
       [](Course* c) { c->mutable_sessions(0)->mutable_end_time()->set_seconds(1795999999); },
       "course.sessions[0].end_time"},
      {"session end equals start",
       [](Course* c) { c->mutable_sessions(0)->mutable_end_time()->set_seconds(1796000000); },
       "course.sessions[0].end_time"},
      {"session without start", [](Course* c) { c->mutable_sessions(0)->clear_start_time(); },
       "course.sessions[0].start_time"},
      {"session bad nanos", [](Course* c) { c->mutable_sessions(0)->mutable_start_time()->set_nanos(-1); },
       "course.sessions[0].start_time"},
      {"window closes before it opens", [](Course* c) { c->mutable_enrollment_close_time()->set_seconds(1794000000); },
       "course.enrollment_close_time"},
      {"window timestamp out of range",
       [](Course* c) { c->mutable_enrollment_open_time()->set_seconds(std::numeric_limits<int64_t>::max()); },
       "course.enrollment_open_time"},
      {"negative capacity", [](Course* c) { c->set_capacity(-1); }, "course.capacity"},
      {"negative seats", [](Course* c) { c->set_seats_taken(-1); }, "course.seats_taken"},
      {"capacity below seats taken", [](Course* c) { c->set_seats_taken(31); }, "course.capacity"},
      {"negative credits", [](Course* c) { c->set_credits(-0.5); }, "course.credits"},
      {"infinite credits", [](Course* c) { c->set_credits(std::numeric_limits<double>::infinity()); },
       "course.credits"},
      {"negative hours", [](Course* c) { c->set_hours(-1); }, "course.hours"},
      {"unknown level", [](Course* c) { c->set_level(static_cast<Course::Level>(7)); }, "course.level"},
      {"unspecified audience", [](Course* c) { c->add_audiences(Course::AUDIENCE_UNSPECIFIED); },
       "course.audiences[1]"},
      {"repeated audience", [](Course* c) { c->add_audiences(Course::SENIORS); }, "course.audiences[1]"},
      {"bad language", [](Course* c) { c->set_language("中文"); }, "course.language"},
      {"self prerequisite", [](Course* c) { c->add_prerequisite_ids("c0001"); }, "course.prerequisite_ids[0]"},
      {"bad prerequisite id", [](Course* c) { c->add_prerequisite_ids("C 2"); }, "course.prerequisite_ids[0]"},
      {"repeated prerequisite",
       [](Course* c) {
         c->add_prerequisite_ids("c2");
         c->add_prerequisite_ids("c2");
       },
       "course.prerequisite_ids[1]"},
      {"too many prerequisites",
       [](Course* c) {
         for (int i = 0; i < 33; ++i) c->add_prerequisite_ids("p" + std::to_string(i));
       },
       "course.prerequisite_ids"},
      {"archived state", [](Course* c) { c->set_state(Course::ARCHIVED); }, "course.state"},
      {"unknown state", [](Course* c) { c->set_state(static_cast<Course::State>(42)); }, "course.state"},
      {"ftp url", [](Course* c) { c->set_url("ftp://x"); }, "course.url"},
      {"url with space", [](Course* c) { c->set_url("https://a b"); }, "course.url"},
      {"url with C1 next line", [](Course* c) { c->set_url("https://a\u0085b"); }, "course.url"},
      {"url with line separator", [](Course* c) { c->set_url("https://a\u2028b"); }, "course.url"},
      {"url with bidi override", [](Course* c) { c->set_url("https://a\u202egnp.exe"); }, "course.url"},
      {"url with right-to-left mark", [](Course* c) { c->set_url("https://a\u200fb"); }, "course.url"},
      {"url with zero-width space", [](Course* c) { c->set_url("https://a\u200bb.cn"); }, "course.url"},
      {"url with ideographic space", [](Course* c) { c->set_url("https://a\u3000b"); }, "course.url"},
      {"url with Hangul filler", [](Course* c) { c->set_url("https://a\u3164b"); }, "course.url"},
      {"url with tag character", [](Course* c) { c->set_url("https://a\U000e0041b"); }, "course.url"},
      {"url not UTF-8", [](Course* c) { c->set_url("https://a\xe4\xb9"); }, "course.url"},
  };
  for (const Rule& rule : rules) {
    SCOPED_TRACE(rule.name);
    Course c = ValidCourse();
    rule.mutate(&c);
    ExpectInvalid(ValidateCourse(c), rule.field);
  }
}

// The invisible characters make a text blank only on their own, and a URL
// may hold non-ASCII that shows (an IRI's Chinese path).
TEST(CourseValidation, InvisiblesAmongTextAndNonAsciiUrlsAreAccepted) {
  Course c = ValidCourse();
  c.set_title("书法\u00ad入门 \u2764\ufe0f");  // a soft hyphen; a heart with its emoji selector
  c.set_url("https://lifelong.dongcheng.edu.cn/课程/书法?级=初");
  EXPECT_TRUE(ValidateCourse(c).ok()) << ValidateCourse(c);
}

TEST(CourseValidation, LimitsAreInclusive) {
  Course c = ValidCourse();
  std::string title;
  for (int i = 0; i < kMaxTitleChars; ++i) title += "课";  // 200 Chinese characters
  c.set_title(title);
  c.set_id(std::string(64, 'z'));
  c.set_seats_taken(30);  // == capacity
  c.set_credits(kMaxCredits);
  c.mutable_venue()->mutable_location()->set_latitude(-90);
  c.mutable_venue()->mutable_location()->set_longitude(180);
  EXPECT_TRUE(ValidateCourse(c).ok()) << ValidateCourse(c);
}

// A stored catalog for ValidatePrerequisites: id -> prerequisite ids.
PrerequisiteLookup LookupIn(const std::map<std::string, std::vector<std::string>>& graph) {
  return [graph](const std::string& id) -> absl::StatusOr<std::vector<std::string>> {
    auto it = graph.find(id);
    if (it == graph.end()) return absl::NotFoundError(id);
    return it->second;
  };
}

TEST(CourseValidation, PrerequisitesMustExist) {
  Course c = ValidCourse();
  c.add_prerequisite_ids("c1");
  c.add_prerequisite_ids("c9");
  absl::Status s = ValidatePrerequisites(c, LookupIn({{"c1", {}}}));
  ExpectInvalid(s, "course.prerequisite_ids[1]");
  EXPECT_THAT(std::string(s.message()), HasSubstr("'c9'"));
}

TEST(CourseValidation, PrerequisiteCycleIsRejectedWithItsPath) {
  // Stored: c2 requires c3, c3 requires c0001. Making c0001 require c2 closes a cycle.
  Course c = ValidCourse();
  c.add_prerequisite_ids("c1");
  c.add_prerequisite_ids("c2");
  absl::Status s = ValidatePrerequisites(c, LookupIn({{"c0001", {}}, {"c1", {}}, {"c2", {"c3"}}, {"c3", {"c0001"}}}));
  ExpectInvalid(s, "course.prerequisite_ids");
  EXPECT_THAT(std::string(s.message()), HasSubstr("c0001 -> c2 -> c3 -> c0001"));
}

TEST(CourseValidation, PrerequisiteDagIsAccepted) {
  // A diamond: c0001 -> {c1, c2} -> c3. No cycle.
  Course c = ValidCourse();
  c.add_prerequisite_ids("c1");
  c.add_prerequisite_ids("c2");
  EXPECT_TRUE(ValidatePrerequisites(c, LookupIn({{"c1", {"c3"}}, {"c2", {"c3"}}, {"c3", {}}, {"c0001", {"c3"}}})).ok());
}

TEST(CourseValidation, PrerequisiteLookupErrorsPropagate) {
  Course c = ValidCourse();
  c.add_prerequisite_ids("c1");
  absl::Status s = ValidatePrerequisites(
      c, [](const std::string&) { return absl::StatusOr<std::vector<std::string>>(absl::UnavailableError("disk")); });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
}

TEST(CourseValidation, UpdateMaskPaths) {
  google::protobuf::FieldMask mask;
  EXPECT_TRUE(ValidateUpdateMask(mask).ok());
  mask.add_paths("title");
  mask.add_paths("venue.xuequ");
  mask.add_paths("sessions");
  EXPECT_TRUE(ValidateUpdateMask(mask).ok());
  mask.add_paths("no_such_field");
  ExpectInvalid(ValidateUpdateMask(mask), "update_mask.paths[3]");
  google::protobuf::FieldMask through_repeated;
  through_repeated.add_paths("sessions.room");
  ExpectInvalid(ValidateUpdateMask(through_repeated), "update_mask.paths[0]");
  google::protobuf::FieldMask star;
  star.add_paths("*");
  EXPECT_TRUE(ValidateUpdateMask(star).ok());
}

TEST(CourseValidation, ListRequestRules) {
  ListCoursesRequest r;
  EXPECT_TRUE(ValidateListCoursesRequest(r).ok());
  r.set_page_size(1000);
  EXPECT_TRUE(ValidateListCoursesRequest(r).ok());
  r.set_page_size(1001);
  ExpectInvalid(ValidateListCoursesRequest(r), "page_size");
  r.set_page_size(-1);
  ExpectInvalid(ValidateListCoursesRequest(r), "page_size");
  r.set_page_size(10);
  r.set_mode(static_cast<Course::Mode>(9));
  ExpectInvalid(ValidateListCoursesRequest(r), "mode");
  r.clear_mode();
  r.set_venue_id("Bad Id");
  ExpectInvalid(ValidateListCoursesRequest(r), "venue_id");
  r.clear_venue_id();
  r.mutable_enrollment_open_at()->set_nanos(2000000000);
  ExpectInvalid(ValidateListCoursesRequest(r), "enrollment_open_at");
}

TEST(CourseValidation, Utf8Length) {
  EXPECT_EQ(Utf8Length(""), 0);
  EXPECT_EQ(Utf8Length("abc"), 3);
  EXPECT_EQ(Utf8Length("书法"), 2);
  EXPECT_EQ(Utf8Length("\xf0\x9f\x98\x80"), 1);  // U+1F600
  EXPECT_EQ(Utf8Length("\xc0\xaf"), -1);         // overlong
  EXPECT_EQ(Utf8Length("\xed\xa0\x80"), -1);     // surrogate
  EXPECT_EQ(Utf8Length("\xe4\xb9"), -1);         // truncated
}

}  // namespace
}  // namespace lifelong::catalog
