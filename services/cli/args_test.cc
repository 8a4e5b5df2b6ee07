#include "services/cli/args.h"

#include "gtest/gtest.h"

namespace lifelong::cli {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"learner", true, "learner"},
    {"k", true, "count", 'k'},
    {"json", false, "json output"},
};

TEST(ParseArgs, AcceptsBothValueForms) {
  auto a = ParseArgs({"u1", "--learner=u2", "-k", "5", "--json", "rest"}, kSpecs);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->Get("learner"), "u2");
  EXPECT_EQ(a->Get("k"), "5");
  EXPECT_TRUE(a->GetBool("json"));
  EXPECT_EQ(a->positional, (std::vector<std::string>{"u1", "rest"}));
  auto b = ParseArgs({"--learner", "u3", "--k=7", "--json=false"}, kSpecs);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->Get("learner"), "u3");
  EXPECT_EQ(b->Get("k"), "7");
  EXPECT_FALSE(b->GetBool("json"));
}

TEST(ParseArgs, DoubleDashEndsFlags) {
  auto a = ParseArgs({"--json", "--", "--tune=false", "-x"}, kSpecs);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->positional, (std::vector<std::string>{"--tune=false", "-x"}));
}

TEST(ParseArgs, RejectsUnknownFlag) {
  auto a = ParseArgs({"--lerner=u1"}, kSpecs);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.status().message(), "unknown flag --lerner");
  EXPECT_EQ(ParseArgs({"-q"}, kSpecs).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseArgs, RejectsMissingValue) {
  auto a = ParseArgs({"--learner"}, kSpecs);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.status().message(), "flag --learner needs a value");
}

TEST(ParseArgs, RejectsValueOnBooleanFlag) {
  EXPECT_EQ(ParseArgs({"--json=yes"}, kSpecs).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseFlags, ValidatesNumbersAndDurations) {
  EXPECT_EQ(*ParseIntFlag("k", "12"), 12);
  EXPECT_EQ(ParseIntFlag("k", "12x").status().message(), "--k: not an integer: '12x'");
  EXPECT_DOUBLE_EQ(*ParseDoubleFlag("credits", "1.5"), 1.5);
  EXPECT_EQ(ParseDoubleFlag("credits", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseDurationMsFlag("timeout", "2s"), 2000);
  EXPECT_EQ(*ParseDurationMsFlag("timeout", "250ms"), 250);
  EXPECT_EQ(ParseDurationMsFlag("timeout", "0s").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDurationMsFlag("timeout", "ten").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lifelong::cli
