// gtest_main_with_stack: a test that crashes says which signal and where.
#include <gtest/gtest.h>

#include <cstdlib>

#include "absl/base/attributes.h"

namespace lifelong::testing {
namespace {

ABSL_ATTRIBUTE_NOINLINE void CrashInTestBody() { std::abort(); }

TEST(GtestMainWithStack, ACrashPrintsTheSignalAndTheStack) {
  // The death test's child runs this binary's main(), handler installed.
  EXPECT_DEATH(CrashInTestBody(), "SIGABRT(.|\n)*CrashInTestBody");
}

}  // namespace
}  // namespace lifelong::testing
