#include "services/common/request_context.h"

#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace lifelong {
namespace {

TEST(RequestContext, ScopedIdNestsAndRestores) {
  EXPECT_EQ(CurrentRequestId(), "");
  {
    ScopedRequestId outer("outer-1");
    EXPECT_EQ(CurrentRequestId(), "outer-1");
    {
      ScopedRequestId inner("inner-2");
      EXPECT_EQ(CurrentRequestId(), "inner-2");
    }
    EXPECT_EQ(CurrentRequestId(), "outer-1");
  }
  EXPECT_EQ(CurrentRequestId(), "");
}

TEST(RequestContext, IdIsPerThread) {
  ScopedRequestId id("main-thread");
  std::string seen = "unset";
  std::thread([&seen] { seen = CurrentRequestId(); }).join();
  EXPECT_EQ(seen, "");
  EXPECT_EQ(CurrentRequestId(), "main-thread");
}

TEST(RequestContext, SetReturnsPrevious) {
  EXPECT_EQ(SetCurrentRequestId("a"), "");
  EXPECT_EQ(SetCurrentRequestId("b"), "a");
  EXPECT_EQ(SetCurrentRequestId(""), "b");
  EXPECT_EQ(CurrentRequestId(), "");
}

TEST(RequestContext, NewIdsAreValidHexAndDistinct) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ASSERT_TRUE(IsValidRequestId(id));
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(RequestContext, ValidationRejectsUnsafeIds) {
  EXPECT_TRUE(IsValidRequestId("req-42_a.b:c"));
  EXPECT_TRUE(IsValidRequestId(std::string(128, 'a')));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId(std::string(129, 'a')));
  EXPECT_FALSE(IsValidRequestId("has space"));
  EXPECT_FALSE(IsValidRequestId("quote\""));
  EXPECT_FALSE(IsValidRequestId("line\nbreak"));
  EXPECT_FALSE(IsValidRequestId("课程"));
}

}  // namespace
}  // namespace lifelong
