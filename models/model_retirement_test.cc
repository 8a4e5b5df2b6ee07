#include "models/model_retirement.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "models/model_bundle.h"
#include "models/model_writer.h"
#include "models/trainer.h"

namespace lifelong::models {
namespace {

std::string FreshRoot(const std::string& name) {
  std::string d = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

ModelArrays SmallModel() {
  std::vector<Interaction> data;
  for (int l = 0; l < 6; ++l) {
    for (int c = 0; c < 3; ++c) data.push_back({absl::StrCat("u", l), absl::StrCat("c", (l + c) % 5), c, 1.0f});
  }
  return *TrainModel(data, {}, TrainOptions());
}

// Writes the next version with `epoch` (or none) in its manifest.
int64_t Write(const std::string& root, std::optional<uint64_t> epoch) {
  nlohmann::json extra = nlohmann::json::object();
  if (epoch) SetErasureEpoch(&extra, *epoch);
  absl::StatusOr<int64_t> v = WriteModelVersion(root, SmallModel(), extra);
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

TEST(ModelRetirement, ManifestEpochRoundTrip) {
  nlohmann::json m = {{"trainer", "x"}};
  EXPECT_FALSE(ErasureEpochOf(m).has_value());
  SetErasureEpoch(&m, 7);
  EXPECT_EQ(*ErasureEpochOf(m), 7u);
  EXPECT_FALSE(ErasureEpochOf(nlohmann::json::parse(R"({"records_export":{"erasure_epoch":-1}})")).has_value());
  EXPECT_FALSE(ErasureEpochOf(nlohmann::json::parse(R"({"records_export":{"erasure_epoch":"3"}})")).has_value());
  EXPECT_FALSE(ErasureEpochOf(nlohmann::json::parse(R"({"records_export":[]})")).has_value());
  EXPECT_FALSE(ErasureEpochOf(nlohmann::json::parse("[]")).has_value());
}

TEST(ModelRetirement, NothingIsRetiredUntilAVersionTrainedAfterAnErasureExists) {
  std::string root = FreshRoot("retire_none");
  Write(root, std::nullopt);
  Write(root, 0);
  Write(root, 0);
  EXPECT_TRUE(RetiredVersions(root)->empty());
  EXPECT_EQ(*PlanRetirement(root)->latest_epoch, 0u);
  EXPECT_EQ(RetiredVersions(root + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(ModelRetirement, VersionsTrainedBeforeTheLatestKnownErasureAreRetiredAndDeleted) {
  std::string root = FreshRoot("retire_some");
  int64_t unknown = Write(root, std::nullopt);
  int64_t before = Write(root, 0);
  int64_t after = Write(root, 1);
  int64_t during = Write(root, 0);  // an export that started before erasure 1 but finished later
  EXPECT_EQ(*RetiredVersions(root), (std::set<int64_t>{unknown, before, during}));
  // The largest number stays on disk (retired), the others go.
  absl::StatusOr<std::vector<int64_t>> deleted = DeleteRetiredVersions(root);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, (std::vector<int64_t>{unknown, before}));
  EXPECT_EQ(*ListCompleteVersions(root), (std::vector<int64_t>{after, during}));
  EXPECT_FALSE(std::filesystem::exists(VersionPath(root, before)));
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    EXPECT_EQ(e.path().filename().string().rfind(".tmp-retired", 0), std::string::npos) << e.path();
  }
  // The next version gets a fresh number.
  EXPECT_EQ(Write(root, 1), during + 1);
  EXPECT_EQ(*DeleteRetiredVersions(root), (std::vector<int64_t>{during}));
  EXPECT_EQ(*ListCompleteVersions(root), (std::vector<int64_t>{after, during + 1}));
}

}  // namespace
}  // namespace lifelong::models
