#include "services/recommend/model_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "models/model_retirement.h"
#include "models/model_writer.h"
#include "models/sequence_model.h"
#include "models/trainer.h"

namespace lifelong::recommend {
namespace {

std::string FreshRoot(const std::string& name) {
  std::string d = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

int64_t Write(const std::string& root, std::optional<uint64_t> epoch,
              const models::TrainOptions& options = models::TrainOptions()) {
  std::vector<models::Interaction> data;
  for (int l = 0; l < 6; ++l) {
    for (int c = 0; c < 3; ++c) data.push_back({absl::StrCat("u", l), absl::StrCat("c", (l + c) % 5), c, 1.0f});
  }
  nlohmann::json extra = nlohmann::json::object();
  if (epoch) models::SetErasureEpoch(&extra, *epoch);
  absl::StatusOr<int64_t> v = models::WriteModelVersion(root, *models::TrainModel(data, {}, options), extra);
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

ModelManager::Options OptionsFor(const std::string& root) {
  ModelManager::Options o;
  o.model_dir = root;
  return o;
}

TEST(ModelManager, ServesAndPinsAnyVersionWhileNoErasureIsKnown) {
  std::string root = FreshRoot("mm_no_erasure");
  int64_t v1 = Write(root, 0);
  int64_t v2 = Write(root, 0);
  ModelManager m(OptionsFor(root));
  ASSERT_TRUE(m.PollOnce().ok());
  EXPECT_EQ(m.Current()->version(), v2);
  ASSERT_TRUE(m.Pin(v1).ok());
  EXPECT_EQ(m.Current()->version(), v1);
  EXPECT_TRUE(m.Status().retired_versions.empty());
}

// The model_loaded log line says whether the version blends in a GRU
// (models/sequence_blend.h) and with what weight: what an operator checks
// after a retraining.
TEST(ModelManager, TheLoadLogSaysWhetherAGruIsBlendedIn) {
  std::string root = FreshRoot("mm_gru_log");
  std::vector<models::Interaction> data;
  for (int l = 0; l < 6; ++l) {
    for (int c = 0; c < 3; ++c) data.push_back({absl::StrCat("u", l), absl::StrCat("c", (l + c) % 5), c, 1.0f});
  }
  absl::StatusOr<models::ModelArrays> arrays = models::TrainModel(data, {}, models::TrainOptions());
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  ASSERT_TRUE(models::WriteModelVersion(root, *arrays, nlohmann::json::object()).ok());
  models::SequenceModelOptions so;
  so.dim = 4;
  so.hidden = 4;
  absl::StatusOr<models::SequenceModel> gru = models::SequenceModel::Create(data, so);
  ASSERT_TRUE(gru.ok()) << gru.status();
  arrays->sequence_model = gru->Encode();
  arrays->sequence_blend_w = 2.5;
  ASSERT_TRUE(models::WriteModelVersion(root, *arrays, nlohmann::json::object()).ok());

  ModelManager m(OptionsFor(root));
  testing::internal::CaptureStderr();
  ASSERT_TRUE(m.PollOnce().ok());
  const std::string with_gru = testing::internal::GetCapturedStderr();
  EXPECT_NE(with_gru.find("\"gru\":true"), std::string::npos) << with_gru;
  EXPECT_NE(with_gru.find("\"gru_blend_w\":2.5"), std::string::npos) << with_gru;
  ASSERT_NE(m.Current()->sequence_model(), nullptr);
  testing::internal::CaptureStderr();
  ASSERT_TRUE(m.Pin(1).ok());
  const std::string linear = testing::internal::GetCapturedStderr();
  EXPECT_NE(linear.find("\"gru\":false"), std::string::npos) << linear;
}

TEST(ModelManager, RetiredVersionsAreNeitherServedNorPinnable) {
  std::string root = FreshRoot("mm_retired");
  int64_t v1 = Write(root, 0);
  ModelManager m(OptionsFor(root));
  ASSERT_TRUE(m.Pin(v1).ok());
  // A version trained after an erasure appears; v1 was trained before it.
  int64_t v2 = Write(root, 1);
  // Even a higher-numbered version trained on an older export is refused.
  int64_t v3 = Write(root, 0);
  ASSERT_TRUE(m.PollOnce().ok());
  EXPECT_EQ(m.Current()->version(), v2) << "the pin on a retired version is dropped";
  ModelManagerStatus st = m.Status();
  EXPECT_FALSE(st.pinned);
  EXPECT_EQ(st.retired_versions, (std::vector<int64_t>{v1, v3}));
  for (int64_t v : {v1, v3}) {
    absl::Status s = m.Pin(v);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << v;
    EXPECT_NE(s.message().find("retired"), absl::string_view::npos) << s;
    EXPECT_EQ(m.Current()->version(), v2);
  }
  ASSERT_TRUE(m.Pin(v2).ok());
  ASSERT_TRUE(m.Unpin().ok());
  EXPECT_EQ(m.Current()->version(), v2);
}

TEST(ModelManager, AServingVersionIsReplacedOnceItIsRetired) {
  std::string root = FreshRoot("mm_replace");
  Write(root, std::nullopt);  // trained before epochs were recorded
  ModelManager m(OptionsFor(root));
  ASSERT_TRUE(m.PollOnce().ok());
  ASSERT_EQ(m.Current()->version(), 1);
  int64_t clean = Write(root, 2);
  ASSERT_TRUE(m.PollOnce().ok());
  EXPECT_EQ(m.Current()->version(), clean);
}

TEST(ModelManager, ARetiredModelKeepsServingOnlyWhileNothingCleanLoadsAndSaysSo) {
  std::string root = FreshRoot("mm_clean_corrupt");
  Write(root, 0);
  ModelManager m(OptionsFor(root));
  ASSERT_TRUE(m.PollOnce().ok());
  int64_t clean = Write(root, 1);
  // Corrupt the clean version's item vectors (same size, wrong bytes).
  std::string vectors = models::VersionPath(root, clean) + "/item_vectors.f32";
  {
    std::FILE* f = std::fopen(vectors.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fputc(0x7f, f);
    std::fclose(f);
  }
  absl::Status s = m.PollOnce();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  s = m.PollOnce();  // the corrupt one is remembered as rejected
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(m.Status().last_error.find("serving retired version 1"), std::string::npos) << m.Status().last_error;
}

// A corrupt newer version is refused and remembered; the model that was
// serving keeps serving, and Status names the rejected version.
TEST(ModelManager, ACorruptNewVersionKeepsTheOldModel) {
  std::string root = FreshRoot("mm_bad_bundle");
  int64_t good = Write(root, std::nullopt);
  ModelManager m(OptionsFor(root));
  ASSERT_TRUE(m.PollOnce().ok());
  ModelPtr before = m.Current();
  ASSERT_NE(before, nullptr);
  ASSERT_EQ(before->version(), good);
  int64_t bad = Write(root, std::nullopt);
  {
    std::FILE* f = std::fopen((models::VersionPath(root, bad) + "/item_vectors.f32").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fputc(0x7f, f);
    std::fclose(f);
  }
  absl::Status s = m.PollOnce();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_EQ(m.Current(), before) << "the same object keeps serving";
  ModelManagerStatus st = m.Status();
  EXPECT_EQ(st.version, good);
  EXPECT_EQ(st.last_error_version, bad);
  EXPECT_FALSE(st.last_error.empty());
  // Pinning the corrupt version fails the same way and changes nothing.
  EXPECT_FALSE(m.Pin(bad).ok());
  EXPECT_EQ(m.Current(), before);
  // A later good version is loaded past the rejected one.
  int64_t next = Write(root, std::nullopt);
  EXPECT_TRUE(m.PollOnce().ok());
  EXPECT_EQ(m.Current()->version(), next);
}

// A load that fails for a reason of this process (memory running out while
// the index is built) is not a corrupt version: the next poll tries it again.
TEST(ModelManager, ATransientLoadFailureIsRetriedAtTheNextPoll) {
  std::string root = FreshRoot("mm_transient");
  int64_t v = Write(root, std::nullopt);
  ModelManager::Options o = OptionsFor(root);
  int calls = 0;
  o.loader = [&calls](const std::string& dir) -> absl::StatusOr<ModelPtr> {
    if (++calls == 1) return absl::ResourceExhaustedError("building the IVF index failed: out of memory");
    return models::LoadModelBundle(dir, models::BuildOptions());
  };
  ModelManager m(o);
  EXPECT_FALSE(m.PollOnce().ok());
  EXPECT_EQ(m.Current(), nullptr);
  EXPECT_TRUE(m.PollOnce().ok());
  ASSERT_NE(m.Current(), nullptr);
  EXPECT_EQ(m.Current()->version(), v);
  EXPECT_EQ(calls, 2);
}

// Readers on real threads never see a missing model or a version going
// backwards while new versions are published, and a model they hold stays
// usable after it has been replaced (shared_ptr<const> swap).
TEST(ModelManager, SwapUnderLoad) {
  std::string root = FreshRoot("mm_swap_load");
  int64_t first = Write(root, std::nullopt);
  ModelManager m(OptionsFor(root));
  ASSERT_TRUE(m.PollOnce().ok());
  ModelPtr held = m.Current();
  std::atomic<bool> stop{false};
  std::atomic<int> nulls{0}, backwards{0};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!stop.load()) {
        ModelPtr p = m.Current();
        if (p == nullptr) {
          ++nulls;
          continue;
        }
        if (p->version() < last) ++backwards;
        last = p->version();
        (void)p->Row("c1");  // use it while others swap
        ++reads;
      }
    });
  }
  int64_t newest = first;
  for (int i = 0; i < 3; ++i) {
    newest = Write(root, std::nullopt);
    ASSERT_TRUE(m.PollOnce().ok());
  }
  while (reads.load() < 1000) std::this_thread::yield();
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(nulls.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_EQ(m.Current()->version(), newest);
  EXPECT_EQ(held->version(), first);  // the replaced model is still whole
  EXPECT_EQ(held->Row("c1").has_value(), m.Current()->Row("c1").has_value());
}

// Sparse (format 2) versions swap in like dense ones: readers scoring on
// real threads while dense and sparse versions alternate never see a
// missing model, a version going backwards or a broken score vector; a
// sparse version with a corrupt item_item.csr is rejected and the current
// model keeps serving.
TEST(ModelManager, SparseVersionsSwapUnderLoadAndACorruptOneKeepsTheOld) {
  std::string root = FreshRoot("mm_sparse");
  models::TrainOptions sparse;
  sparse.dense_max_items = 2;  // 5 courses: the sparse exact path
  int64_t first = Write(root, std::nullopt);
  ModelManager m(OptionsFor(root));
  ASSERT_TRUE(m.PollOnce().ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, backwards{0};
  std::atomic<int64_t> reads{0}, sparse_reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      int64_t last = 0;
      const std::vector<models::HistoryEvent> h = {{"c1", 1.0f}, {"c2", 1.0f}};
      while (!stop.load()) {
        ModelPtr p = m.Current();
        if (p == nullptr) {
          ++bad;
          continue;
        }
        if (p->version() < last) ++backwards;
        last = p->version();
        const std::vector<float> scores = p->ScoreAll(h);
        if (static_cast<int>(scores.size()) != p->num_items()) ++bad;
        if (p->sparse_item_matrix()) ++sparse_reads;
        ++reads;
      }
    });
  }
  int64_t newest = first;
  for (int i = 0; i < 4; ++i) {
    newest = Write(root, std::nullopt, i % 2 == 0 ? sparse : models::TrainOptions());
    ASSERT_TRUE(m.PollOnce().ok());
    const int64_t seen = reads.load();
    while (reads.load() < seen + 200) std::this_thread::yield();
  }
  newest = Write(root, std::nullopt, sparse);
  ASSERT_TRUE(m.PollOnce().ok());
  ModelPtr before = m.Current();
  ASSERT_TRUE(before->sparse_item_matrix());
  while (sparse_reads.load() < 200) std::this_thread::yield();
  int64_t broken = Write(root, std::nullopt, sparse);
  {
    std::FILE* f = std::fopen((models::VersionPath(root, broken) + "/item_item.csr").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 30, SEEK_SET);
    std::fputc(0x7f, f);
    std::fclose(f);
  }
  absl::Status s = m.PollOnce();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_GT(sparse_reads.load(), 0);
  EXPECT_EQ(m.Current(), before) << "the sparse model keeps serving";
  EXPECT_EQ(m.Current()->version(), newest);
  EXPECT_EQ(m.Status().last_error_version, broken);
}

}  // namespace
}  // namespace lifelong::recommend
