#include "services/cli/args.h"

#include "absl/strings/str_cat.h"
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

// Audit: `record --credits nan` exited 0 and stored "credits": null; hex
// was read as a number.
TEST(ParseDoubleFlag, AcceptsOnlyFinitePlainDecimals) {
  for (const char* text : {"nan", "inf", "-inf", "NaN", "1e999", "0x10", "0x1p3", " 1", "1 ", "1.2.3", "e5", "."}) {
    auto r = ParseDoubleFlag("credits", text);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(r.status().message(), absl::StrCat("--credits: not a number: '", text, "'")) << text;
  }
  EXPECT_DOUBLE_EQ(*ParseDoubleFlag("credits", "-5"), -5);  // range is the caller's (BuildStatementJson)
  EXPECT_DOUBLE_EQ(*ParseDoubleFlag("credits", ".5"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseDoubleFlag("credits", "1e3"), 1000);
  EXPECT_DOUBLE_EQ(*ParseDoubleFlag("credits", "+2.25E-1"), 0.225);
}

// The check ParseDoubleFlag and the import's numeric fields share.
TEST(ParsePlainDecimal, AcceptsOnlyFinitePlainDecimals) {
  for (const char* text : {"nan", "inf", "1e999", "0x10", "0x0.4", " 1", "1 ", "1x", "", "."}) {
    EXPECT_EQ(ParsePlainDecimal(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_DOUBLE_EQ(*ParsePlainDecimal("-2.5e1"), -25);
  EXPECT_DOUBLE_EQ(*ParsePlainDecimal("0.25"), 0.25);
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
