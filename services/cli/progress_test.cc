#include "services/cli/progress.h"

#include <sstream>

#include "gtest/gtest.h"

namespace lifelong::cli {
namespace {

TEST(WithThousands, GroupsDigits) {
  EXPECT_EQ(WithThousands(0), "0");
  EXPECT_EQ(WithThousands(999), "999");
  EXPECT_EQ(WithThousands(1000), "1,000");
  EXPECT_EQ(WithThousands(1234567), "1,234,567");
  EXPECT_EQ(WithThousands(-45000), "-45,000");
}

TEST(ShortDuration, Formats) {
  EXPECT_EQ(ShortDuration(absl::Seconds(3)), "3s");
  EXPECT_EQ(ShortDuration(absl::Seconds(125)), "2m05s");
  EXPECT_EQ(ShortDuration(absl::Seconds(3720)), "1h02m");
}

TEST(Progress, PrintsRateAndEtaAfterInterval) {
  std::ostringstream out;
  Progress p(out, "import", "lines", 1000, absl::ZeroDuration());
  p.Update(250, "note");
  const std::string line = out.str();
  EXPECT_NE(line.find("import: 250/1,000 lines ("), std::string::npos) << line;
  EXPECT_NE(line.find("ETA"), std::string::npos) << line;
  EXPECT_NE(line.find("note"), std::string::npos) << line;
}

TEST(Progress, StaysQuietWithinInterval) {
  std::ostringstream out;
  Progress p(out, "x", "items", 0, absl::Hours(1));
  p.Update(1);
  p.Update(2);
  EXPECT_EQ(out.str(), "");
  p.Finish(2);
  EXPECT_NE(out.str().find("x: 2 items in "), std::string::npos) << out.str();
}

}  // namespace
}  // namespace lifelong::cli
