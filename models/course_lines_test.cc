#include "models/course_lines.h"

#include "gtest/gtest.h"

namespace lifelong::models {
namespace {

TEST(CourseIdOf, TakesTheFirstKeyPresentAsIntegerOrString) {
  auto a = CourseIdOf(nlohmann::json::parse(R"({"course_idx2": 17, "id": "x"})"), {"course_idx2", "id"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, "17");
  auto b = CourseIdOf(nlohmann::json::parse(R"({"course": "c00042"})"), {"id", "course_idx2", "course"});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, "c00042");
}

TEST(CourseIdOf, NamesTheKeysItLookedFor) {
  auto s = CourseIdOf(nlohmann::json::parse(R"({"title": "太极拳"})"), {"id", "course_idx2", "course"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "no \"id\", \"course_idx2\" or \"course\"");
}

TEST(CourseIdOf, RefusesEmptyAndNonScalarIds) {
  for (const char* text : {R"({"id": ""})", R"({"id": 1.5})", R"({"id": [1]})", R"({"id": null})"}) {
    auto s = CourseIdOf(nlohmann::json::parse(text), {"id"});
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(s.status().message(), "course id: not an integer or a non-empty string") << text;
  }
}

}  // namespace
}  // namespace lifelong::models
