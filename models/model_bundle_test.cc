#include "models/model_bundle.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "models/model_format.h"
#include "models/model_writer.h"
#include "models/sequence_model.h"
#include "models/trainer.h"

namespace lifelong::models {
namespace {

// Three tracks of courses taken in order: a0 -> a1 -> a2 -> a3, b0 -> ...,
// plus one catalog-only course.
std::vector<Interaction> TrackData() {
  std::vector<Interaction> out;
  int learner = 0;
  for (const char* track : {"a", "b", "c"}) {
    for (int rep = 0; rep < 30; ++rep, ++learner) {
      const int start = rep % 2;
      for (int i = start; i < 4; ++i) {
        out.push_back({absl::StrCat("u", learner), absl::StrCat(track, i), i, 1.0f});
      }
    }
  }
  return out;
}

std::vector<CatalogCourse> Catalog() {
  return {{"a0", "书法入门 毛笔字基础"},
          {"a1", "书法进阶 毛笔楷书"},
          {"b0", "智能手机使用入门"},
          {"c0", "太极拳基础"},
          {"new1", "书法 毛笔 行书 欣赏"}};
}

ModelArrays Train(const TrainOptions& o = TrainOptions()) {
  auto a = TrainModel(TrackData(), Catalog(), o);
  EXPECT_TRUE(a.ok()) << a.status();
  return *a;
}

std::string Root(const std::string& name) { return absl::StrCat(getenv("TEST_TMPDIR"), "/", name); }

std::vector<HistoryEvent> History(std::initializer_list<const char*> ids) {
  std::vector<HistoryEvent> h;
  for (const char* id : ids) h.push_back({id, 1.0f, absl::InfinitePast()});
  return h;
}

void Overwrite(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

TEST(ModelBundle, WriteLoadRoundTripKeepsScores) {
  const std::string root = Root("roundtrip");
  ModelArrays arrays = Train();
  auto v = WriteModelVersion(root, arrays, {{"note", "test"}});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 1);
  auto loaded = LoadModelBundle(VersionPath(root, 1));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto memory = BuildModelBundle(arrays, nlohmann::json::object(), 0, "");
  ASSERT_TRUE(memory.ok());
  const ModelBundle& b = **loaded;
  EXPECT_EQ(b.version(), 1);
  EXPECT_EQ(b.manifest()["note"], "test");
  EXPECT_EQ(b.manifest()["version"], 1);
  EXPECT_EQ(b.course_ids(), arrays.course_ids);
  EXPECT_EQ(b.num_items(), 13);  // 12 track courses + new1
  ASSERT_TRUE(b.Row("a2").has_value());
  EXPECT_EQ(b.CourseId(*b.Row("a2")), "a2");
  EXPECT_FALSE(b.Row("zzz").has_value());
  auto h = History({"a0", "a1"});
  EXPECT_EQ(b.ScoreAll(h), (*memory)->ScoreAll(h));
  EXPECT_EQ(b.InteractionCount(*b.Row("new1")), 0);
  EXPECT_GT(b.InteractionCount(*b.Row("a3")), b.InteractionCount(*b.Row("a0")));
}

TEST(ModelBundle, LearnerVectorFollowsOrderAndNewEvents) {
  auto b = BuildModelBundle(Train(), nlohmann::json::object(), 1, "");
  ASSERT_TRUE(b.ok());
  const ModelBundle& m = **b;
  auto recs = m.Recommend(History({"a0", "a1"}), 1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(m.CourseId(recs[0].row), "a2");
  // A statement recorded now changes the next recommendation.
  recs = m.Recommend(History({"a0", "a1", "a2"}), 1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(m.CourseId(recs[0].row), "a3");
  recs = m.Recommend(History({"a0", "b0", "b1"}), 1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(m.CourseId(recs[0].row), "b2");
  // Zero-weight (failed) and unknown events are ignored.
  std::vector<HistoryEvent> h = History({"b0", "b1", "zzz"});
  h.push_back({"a1", 0.0f, absl::InfinitePast()});
  EXPECT_EQ(m.LearnerVector(h), m.LearnerVector(History({"b0", "b1"})));
  // Empty history: popularity, history excluded.
  recs = m.Recommend({}, 3);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].row, m.PopularRows()[0]);
  EXPECT_FLOAT_EQ(m.Popularity(m.PopularRows()[0]), 1.0f);
}

TEST(ModelBundle, SearchBatchAgreesWithScoreAll) {
  auto b = BuildModelBundle(Train(), nlohmann::json::object(), 1, "");
  ASSERT_TRUE(b.ok());
  const ModelBundle& m = **b;
  std::vector<std::vector<HistoryEvent>> hs = {History({"a0"}), History({"b1", "c0"}), History({"c1", "c2"})};
  std::vector<float> queries;
  for (const auto& h : hs) {
    std::vector<float> q = m.LearnerVector(h);
    ASSERT_EQ(static_cast<int>(q.size()), m.dim());
    queries.insert(queries.end(), q.begin(), q.end());
  }
  auto found = m.SearchBatch(queries, 3, 4);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 3u);
  for (size_t i = 0; i < hs.size(); ++i) {
    std::vector<float> all = m.ScoreAll(hs[i]);
    ASSERT_EQ((*found)[i].size(), 4u);
    float best = -1e30f;
    for (size_t r = 0; r < all.size(); ++r) {
      if (m.InteractionCount(r) > 0) best = std::max(best, all[r]);
    }
    EXPECT_NEAR((*found)[i][0].score, best, 1e-4);
    for (const Candidate& c : (*found)[i]) EXPECT_NEAR(c.score, all[c.row], 1e-4);
  }
  EXPECT_EQ(m.SearchBatch(queries, 2, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.SearchBatch(queries, 3, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelBundle, TopContributorNamesTheHistoryCourseBehindACandidate) {
  auto b = BuildModelBundle(Train(), nlohmann::json::object(), 1, "");
  ASSERT_TRUE(b.ok());
  const ModelBundle& m = **b;
  auto h = History({"b0", "a1"});
  auto why = m.TopContributor(h, *m.Row("b1"));
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->course_id, "b0");
  EXPECT_EQ(why->history_index, 0);
  why = m.TopContributor(h, *m.Row("a2"));
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->course_id, "a1");
  EXPECT_GT(m.ItemToItem(*m.Row("a1"), *m.Row("a2")), m.ItemToItem(*m.Row("a1"), *m.Row("c3")));
  EXPECT_FALSE(m.TopContributor({}, 0).has_value());
}

TEST(ModelBundle, ContentVectorsServeColdStartCourses) {
  auto b = BuildModelBundle(Train(), nlohmann::json::object(), 1, "");
  ASSERT_TRUE(b.ok());
  const ModelBundle& m = **b;
  EXPECT_TRUE(m.HasContent(*m.Row("a0")));
  EXPECT_FALSE(m.HasContent(*m.Row("a3")));
  auto similar = m.SimilarCourses(*m.Row("new1"), 2);
  ASSERT_EQ(similar.size(), 2u);
  EXPECT_EQ(m.CourseId(similar[0].row).substr(0, 1), "a");  // a calligraphy course
  EXPECT_EQ(m.CourseId(similar[1].row).substr(0, 1), "a");
  EXPECT_TRUE(m.SimilarCourses(*m.Row("a3"), 2).empty());
  // A course added after training, embedded from its text.
  std::vector<float> q = m.EmbedText("太极拳进阶");
  auto found = m.SearchContentBatch(q, 1, 1);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ((*found)[0].size(), 1u);
  EXPECT_EQ(m.CourseId((*found)[0][0].row), "c0");
}

TEST(ModelBundle, LowRankAndIvfPathsStillRankTheTrackContinuation) {
  TrainOptions o;
  o.dense_max_items = 4;         // force the low-rank factorisation
  o.exact_max_items = 0;         // (not the sparse exact path,
  o.approximation = "low_rank";  // nor its pruned rows)
  o.low_rank_dim = 12;
  BuildOptions bo;
  bo.exact_index_max_items = 4;  // force IVF
  auto b = BuildModelBundle(Train(o), nlohmann::json::object(), 1, "", bo);
  ASSERT_TRUE(b.ok()) << b.status();
  const ModelBundle& m = **b;
  EXPECT_EQ(m.dim(), 12);
  auto scores = m.ScoreAll(History({"c0", "c1"}));
  int best = 0;
  for (int r = 0; r < m.num_items(); ++r) {
    if (m.CourseId(r) != "c0" && m.CourseId(r) != "c1" && scores[r] > scores[best]) best = r;
  }
  EXPECT_EQ(m.CourseId(best), "c2");
  auto recs = m.Recommend(History({"c0", "c1"}), 3);
  ASSERT_FALSE(recs.empty());
  for (const Candidate& c : recs) EXPECT_NEAR(c.score, scores[c.row], 1e-3);
}

TEST(ModelBundle, IvfNprobeIsCalibratedOrFixedAndReported) {
  // 3,000 clustered random vectors: IVF with calibrated nprobe.
  ModelArrays a;
  const int n = 3000, d = 16;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> g;
  std::vector<std::vector<float>> centers(30, std::vector<float>(d));
  for (auto& c : centers)
    for (float& x : c) x = g(rng);
  for (int i = 0; i < n; ++i) {
    a.course_ids.push_back(absl::StrCat("x", i));
    a.counts.push_back(1);
    for (int j = 0; j < d; ++j) a.query_basis.push_back(j == i % d ? 1.0f : 0.0f);
    for (int j = 0; j < d; ++j) a.item_vectors.push_back(centers[i % 30][j] + 0.3f * g(rng));
  }
  a.identity_query = false;
  a.dim = d;
  a.content_dim = 1;
  a.content.assign(n, 0.0f);
  BuildOptions bo;
  bo.exact_index_max_items = 1000;
  auto b = BuildModelBundle(a, {}, 1, "", bo);
  ASSERT_TRUE(b.ok()) << b.status();
  const IndexInfo& info = (*b)->index_info();
  EXPECT_EQ(info.kind, "ivf");
  EXPECT_EQ(info.indexed_items, n);
  EXPECT_EQ(info.nlist, static_cast<int>(2 * std::sqrt(3000.0)));
  EXPECT_GE(info.nprobe, 8);
  EXPECT_LE(info.nprobe, info.nlist);
  EXPECT_GE(info.calibrated_recall_at_10, 0.98);
  EXPECT_EQ((*b)->content_index_info().kind, "none");
  bo.ivf_nprobe = 3;
  auto fixed = BuildModelBundle(a, {}, 1, "", bo);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ((*fixed)->index_info().nprobe, 3);
  EXPECT_EQ((*fixed)->index_info().calibrated_recall_at_10, -1);
  auto flat = BuildModelBundle(a, {}, 1, "");
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ((*flat)->index_info().kind, "flat");
  EXPECT_EQ((*flat)->index_info().nprobe, 0);
}

TEST(ModelBundle, CompletionRateRoundTripsThroughTheDirectory) {
  std::vector<Interaction> data = {
      {"u1", "a", 1, 1.0f}, {"u1", "b", 2, 0.3f}, {"u2", "a", 1, 0.5f}, {"u2", "b", 2, 1.0f}, {"u3", "a", 1, 1.0f}};
  auto arrays = TrainModel(data, {}, TrainOptions());
  ASSERT_TRUE(arrays.ok());
  const std::string root = Root("completion");
  ASSERT_TRUE(WriteModelVersion(root, *arrays, nlohmann::json::object()).ok());
  auto b = LoadLatestModelBundle(root);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FLOAT_EQ((*b)->CompletionRate(*(*b)->Row("a")), 2.0f / 3.0f);
  EXPECT_FLOAT_EQ((*b)->CompletionRate(*(*b)->Row("b")), 0.5f);
  // A version written without the completion column still loads.
  ModelArrays old = *arrays;
  old.completions.clear();
  ASSERT_TRUE(WriteModelVersion(root, old, nlohmann::json::object()).ok());
  auto b2 = LoadModelBundle(VersionPath(root, 2));
  ASSERT_TRUE(b2.ok()) << b2.status();
  EXPECT_EQ((*b2)->CompletionRate(0), 0.0f);
}

TEST(ModelDirectory, LargestCompleteVersionWinsAndPartialIsIgnored) {
  const std::string root = Root("protocol");
  ModelArrays arrays = Train();
  ASSERT_EQ(*WriteModelVersion(root, arrays, nlohmann::json::object()), 1);
  ASSERT_EQ(*WriteModelVersion(root, arrays, nlohmann::json::object()), 2);
  // A version being written: a numbered directory without a manifest, and a
  // temporary directory.
  ASSERT_EQ(mkdir((root + "/3").c_str(), 0755), 0);
  Overwrite(root + "/3/items.tsv", "0\ta0\t1\n");
  ASSERT_EQ(mkdir((root + "/.tmp-1-1").c_str(), 0755), 0);
  auto versions = ListCompleteVersions(root);
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(*versions, (std::vector<int64_t>{1, 2}));
  auto partial = LoadModelBundle(root + "/3");
  EXPECT_EQ(partial.status().code(), absl::StatusCode::kFailedPrecondition);
  auto latest = LoadLatestModelBundle(root);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ((*latest)->version(), 2);
  // The next write skips over the partial number.
  EXPECT_EQ(*WriteModelVersion(root, arrays, nlohmann::json::object()), 4);
  EXPECT_EQ((*LoadLatestModelBundle(root))->version(), 4);
}

TEST(ModelDirectory, ConcurrentWritersGetDistinctCompleteVersions) {
  const std::string root = Root("concurrent");
  const ModelArrays arrays = Train();
  std::vector<int64_t> got(4, 0);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      auto v = WriteModelVersion(root, arrays, {{"writer", t}});
      got[t] = v.ok() ? *v : -1;
    });
  }
  for (auto& w : writers) w.join();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(*ListCompleteVersions(root), (std::vector<int64_t>{1, 2, 3, 4}));
  for (int64_t v = 1; v <= 4; ++v) {
    auto b = LoadModelBundle(VersionPath(root, v));
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ((*b)->manifest()["version"], v);
  }
  // No temporary directory is left behind.
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(root);
  ASSERT_TRUE(names.ok());
  for (const std::string& name : *names) EXPECT_TRUE(ParseVersionName(name)) << name;
}

TEST(ModelDirectory, TruncatedFileMakesVersionIncomplete) {
  const std::string root = Root("truncated");
  ASSERT_TRUE(WriteModelVersion(root, Train(), nlohmann::json::object()).ok());
  Overwrite(root + "/1/item_vectors.f32", "abc");
  EXPECT_EQ(LoadModelBundle(root + "/1").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ListCompleteVersions(root)->empty());
  EXPECT_EQ(LoadLatestModelBundle(root).status().code(), absl::StatusCode::kNotFound);
}

TEST(ModelDirectory, CorruptVersionIsRejectedAndOlderOneLoads) {
  const std::string root = Root("corrupt");
  ModelArrays arrays = Train();
  ASSERT_TRUE(WriteModelVersion(root, arrays, nlohmann::json::object()).ok());
  ASSERT_TRUE(WriteModelVersion(root, arrays, nlohmann::json::object()).ok());
  // Flip one byte of version 2's item vectors, keeping the size.
  const std::string path = root + "/2/item_vectors.f32";
  std::string data;
  {
    std::ifstream in(path, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_FALSE(data.empty());
  data[data.size() / 2] ^= 0x40;
  Overwrite(path, data);
  auto bad = LoadModelBundle(root + "/2");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("SHA-256 mismatch"), std::string::npos);
  auto latest = LoadLatestModelBundle(root);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ((*latest)->version(), 1);
  // A manifest that is not JSON is corrupt too.
  Overwrite(root + "/1/MANIFEST.json", "{not json");
  EXPECT_EQ(LoadModelBundle(root + "/1").status().code(), absl::StatusCode::kDataLoss);
  auto none = LoadLatestModelBundle(root);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A GRU trained on the tracks, as `train --sequence_model` adds it.
std::string TrackGru() {
  SequenceModelOptions o;
  o.dim = 8;
  o.hidden = 12;
  o.batch = 16;
  o.learning_rate = 0.01;
  auto m = SequenceModel::Create(TrackData(), o);
  EXPECT_TRUE(m.ok()) << m.status();
  for (int e = 0; e < 10; ++e) EXPECT_TRUE(m->TrainEpoch().ok());
  return m->Encode();
}

TEST(ModelBundle, SequenceModelRoundTripsAndIsBlendedIntoServedScores) {
  const std::string root = Root("sequence");
  ModelArrays arrays = Train();
  arrays.sequence_model = TrackGru();
  arrays.sequence_blend_w = 1.5;
  ASSERT_TRUE(WriteModelVersion(root, arrays, nlohmann::json::object()).ok());
  auto loaded = LoadModelBundle(VersionPath(root, 1));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const ModelBundle& b = **loaded;
  ASSERT_NE(b.sequence_model(), nullptr);
  EXPECT_EQ(b.sequence_blend_w(), 1.5);
  EXPECT_EQ(b.manifest()["sequence_model"]["blend_w"], 1.5);
  EXPECT_EQ(b.sequence_model()->Encode(), arrays.sequence_model);

  // ScoreAllServed = s + w sd(s) z(GRU), computed here from the parts.
  const std::vector<HistoryEvent> h = History({"b0", "a0", "a1"});
  const std::vector<float> s = b.ScoreAll(h);
  auto g = b.sequence_model()->Score({"b0", "a0", "a1"});
  ASSERT_TRUE(g.ok()) << g.status();
  double s_mean = 0, s_var = 0, g_mean = 0, g_var = 0;
  int known = 0;
  for (int j = 0; j < b.num_items(); ++j) s_mean += s[j] / b.num_items();
  for (int j = 0; j < b.num_items(); ++j) s_var += (s[j] - s_mean) * (s[j] - s_mean) / b.num_items();
  std::vector<int> gru_row(b.num_items());
  for (int j = 0; j < b.num_items(); ++j) {
    gru_row[j] = b.sequence_model()->Row(b.CourseId(j));
    if (gru_row[j] >= 0) {
      g_mean += (*g)[gru_row[j]];
      ++known;
    }
  }
  g_mean /= known;
  for (int j = 0; j < b.num_items(); ++j) {
    if (gru_row[j] >= 0) g_var += ((*g)[gru_row[j]] - g_mean) * ((*g)[gru_row[j]] - g_mean) / known;
  }
  EXPECT_EQ(gru_row[*b.Row("new1")], -1) << "a catalog-only course is outside the GRU's vocabulary";
  const std::vector<float> served = b.ScoreAllServed(h);
  ASSERT_EQ(served.size(), s.size());
  int moved = 0;
  for (int j = 0; j < b.num_items(); ++j) {
    const double want =
        gru_row[j] < 0 ? s[j] : s[j] + 1.5 * std::sqrt(s_var) * ((*g)[gru_row[j]] - g_mean) / std::sqrt(g_var);
    EXPECT_NEAR(served[j], want, 1e-5 * (1 + std::abs(want))) << b.CourseId(j);
    if (served[j] != s[j]) ++moved;
  }
  EXPECT_GT(moved, 0) << "the GRU changed nothing";
  EXPECT_EQ(served[*b.Row("new1")], s[*b.Row("new1")]);
  // A history the model does not know: ScoreAll's popularity, unblended.
  EXPECT_EQ(b.ScoreAllServed(History({"zzz"})), b.ScoreAll(History({"zzz"})));

  // Without a GRU, or with w = 0, the served scores are ScoreAll's.
  auto plain = BuildModelBundle(Train(), nlohmann::json::object(), 0, "");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->sequence_model(), nullptr);
  EXPECT_EQ((*plain)->ScoreAllServed(h), (*plain)->ScoreAll(h));
  ModelArrays zero = arrays;
  zero.sequence_blend_w = 0;
  auto unblended = BuildModelBundle(zero, nlohmann::json::object(), 0, "");
  ASSERT_TRUE(unblended.ok()) << unblended.status();
  EXPECT_EQ((*unblended)->ScoreAllServed(h), (*unblended)->ScoreAll(h));
}

TEST(ModelDirectory, DamagedSequenceModelsAreRejected) {
  ModelArrays arrays = Train();
  arrays.sequence_model = TrackGru();
  arrays.sequence_blend_w = 2;
  // In memory: bytes that do not decode, and a bad weight, name the field.
  ModelArrays garbage = arrays;
  garbage.sequence_model = "not a model";
  auto b = BuildModelBundle(garbage, nlohmann::json::object(), 0, "");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("sequence_model"), std::string::npos) << b.status();
  for (double w : {-1.0, std::nan("")}) {
    ModelArrays bad_w = arrays;
    bad_w.sequence_blend_w = w;
    b = BuildModelBundle(bad_w, nlohmann::json::object(), 0, "");
    ASSERT_FALSE(b.ok()) << w;
    EXPECT_NE(b.status().message().find("sequence_blend_w"), std::string::npos) << b.status();
  }
  // On disk: a flipped byte is DATA_LOSS, a missing file an incomplete
  // version, a non-numeric weight DATA_LOSS.
  const std::string root = Root("sequence_damaged");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WriteModelVersion(root, arrays, nlohmann::json::object()).ok());
  const std::string file = absl::StrCat(root, "/1/", kSequenceModelFile);
  std::string data = ReadAll(file);
  data[data.size() / 2] ^= 0x40;
  Overwrite(file, data);
  auto flipped = LoadModelBundle(root + "/1");
  EXPECT_EQ(flipped.status().code(), absl::StatusCode::kDataLoss) << flipped.status();
  ASSERT_EQ(std::remove(absl::StrCat(root, "/2/", kSequenceModelFile).c_str()), 0);
  auto missing = LoadModelBundle(root + "/2");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition) << missing.status();
  const std::string manifest_path = absl::StrCat(root, "/3/", kManifestFileName);
  nlohmann::json m = nlohmann::json::parse(ReadAll(manifest_path));
  m["sequence_model"]["blend_w"] = "two";
  Overwrite(manifest_path, m.dump());
  auto bad_manifest = LoadModelBundle(root + "/3");
  EXPECT_EQ(bad_manifest.status().code(), absl::StatusCode::kDataLoss) << bad_manifest.status();
  EXPECT_NE(bad_manifest.status().message().find("blend_w"), std::string::npos) << bad_manifest.status();
}

TEST(ModelDirectory, BadPathsAreNamed) {
  EXPECT_EQ(LoadModelBundle(Root("nothing/7")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadModelBundle(Root("nothing/latest")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ListCompleteVersions(Root("nothing")).status().code(), absl::StatusCode::kNotFound);
}

TEST(BuildModelBundle, RejectsInconsistentShapes) {
  ModelArrays a = Train();
  a.item_vectors.pop_back();
  EXPECT_EQ(BuildModelBundle(a, {}, 1, "").status().code(), absl::StatusCode::kInvalidArgument);
  ModelArrays dup = Train();
  dup.course_ids[1] = dup.course_ids[0];
  EXPECT_EQ(BuildModelBundle(dup, {}, 1, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteModelVersion(Root("bad"), a, nlohmann::json::object()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- Sparse bundles (format 2, item_item.csr) ------------------------------

TrainOptions SparseOptions() {
  TrainOptions o;
  o.dense_max_items = 4;  // 13 items: above the dense limit, below exact_max_items
  return o;
}

TEST(ModelBundle, SparseBundleRoundTripsAndServesExactScores) {
  TrainStats stats;
  auto trained = TrainModel(TrackData(), Catalog(), SparseOptions(), &stats);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const ModelArrays& arrays = *trained;
  ASSERT_TRUE(arrays.sparse);
  EXPECT_EQ(stats.collaborative_path, "sparse");
  EXPECT_EQ(stats.sparse_entries, static_cast<int64_t>(arrays.sparse_target.size()));
  const std::string root = Root("sparse_round_trip");
  ASSERT_TRUE(WriteModelVersion(root, arrays, nlohmann::json::object()).ok());
  auto memory = BuildModelBundle(arrays, nlohmann::json::object(), 1, "");
  auto disk = LoadModelBundle(root + "/1");
  ASSERT_TRUE(memory.ok()) << memory.status();
  ASSERT_TRUE(disk.ok()) << disk.status();
  const ModelBundle& b = **disk;
  EXPECT_TRUE(b.sparse_item_matrix());
  EXPECT_TRUE(b.identity_query());
  EXPECT_EQ(b.dim(), b.num_items());
  EXPECT_TRUE(b.ItemVector(0).empty());
  EXPECT_EQ(b.manifest()["format"], "lifelong-recommender-model/2");
  EXPECT_EQ(b.manifest()["item_matrix"]["kind"], "sparse_csr");
  EXPECT_EQ(b.index_info().kind, "sparse");
  EXPECT_EQ(b.index_info().indexed_items, 12);  // "new1" is content only
  const std::vector<HistoryEvent> h = History({"a0", "a1"});
  EXPECT_EQ(b.ScoreAll(h), (*memory)->ScoreAll(h));
  // The track continues.
  std::vector<Candidate> top = b.Recommend(h, 3);
  ASSERT_FALSE(top.empty());
  EXPECT_EQ(b.CourseId(top[0].row), "a2");
  // SearchBatch, ItemScore and the columns agree with ScoreAll.
  const std::vector<float> all = b.ScoreAll(h);
  const std::vector<float> q = b.LearnerVector(h);
  auto found = b.SearchBatch(q, 1, 20);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ((*found)[0].size(), 12u);
  for (const Candidate& c : (*found)[0]) EXPECT_NEAR(c.score, all[c.row], 1e-6) << c.row;
  for (int j = 0; j < b.num_items(); ++j) {
    EXPECT_NEAR(b.ItemScore(q, j), all[j], 1e-6) << j;
    const std::vector<float> col = b.DenseItemVector(j);
    ASSERT_EQ(col.size(), static_cast<size_t>(b.num_items()));
    for (int i = 0; i < b.num_items(); ++i) EXPECT_EQ(col[i], b.ItemToItem(i, j));
  }
  auto contributor = b.TopContributor(h, top[0].row);
  ASSERT_TRUE(contributor.has_value());
  EXPECT_EQ(contributor->course_id, "a1");
  // Content still serves the catalog-only course.
  EXPECT_TRUE(b.HasContent(*b.Row("new1")));
  EXPECT_EQ(b.SparseRow(*b.Row("new1")).targets.size(), 0u);
}

TEST(ModelDirectory, SparseVersionsAreValidatedOnLoadAndOldOnesStillLoad) {
  const std::string root = Root("sparse_validation");
  ASSERT_TRUE(WriteModelVersion(root, Train(), nlohmann::json::object()).ok());  // 1: dense
  const ModelArrays sparse = Train(SparseOptions());
  ASSERT_TRUE(sparse.sparse);
  ASSERT_TRUE(WriteModelVersion(root, sparse, nlohmann::json::object()).ok());  // 2: sparse
  auto dense = LoadModelBundle(root + "/1");
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_EQ((*dense)->manifest()["format"], "lifelong-recommender-model/1");
  EXPECT_FALSE((*dense)->sparse_item_matrix());
  const std::string csr = root + "/2/item_item.csr";
  const std::string manifest_path = root + "/2/MANIFEST.json";
  const std::string good_csr = ReadAll(csr);
  const std::string good_manifest = ReadAll(manifest_path);
  auto expect_rejected = [&](absl::StatusCode code, const std::string& words) {
    auto b = LoadModelBundle(root + "/2");
    ASSERT_FALSE(b.ok()) << words;
    EXPECT_EQ(b.status().code(), code) << b.status();
    EXPECT_NE(b.status().message().find(words), std::string::npos) << b.status();
    // The dense version below it is what the server falls back to.
    auto latest = LoadLatestModelBundle(root);
    ASSERT_TRUE(latest.ok()) << latest.status();
    EXPECT_EQ((*latest)->version(), 1);
  };
  // A flipped byte.
  std::string flipped = good_csr;
  flipped[flipped.size() - 3] ^= 0x10;
  Overwrite(csr, flipped);
  expect_rejected(absl::StatusCode::kDataLoss, "SHA-256 mismatch");
  // A checksummed file of a layout version this build does not read.
  std::string v2 = good_csr;
  v2[8] = 2;
  Overwrite(csr, v2);
  nlohmann::json m = nlohmann::json::parse(good_manifest);
  m["files"]["item_item.csr"]["sha256"] = Sha256Hex(v2);
  Overwrite(manifest_path, m.dump());
  expect_rejected(absl::StatusCode::kDataLoss, "item_item.csr: version: 2 is not supported");
  Overwrite(csr, good_csr);
  // Format 2 without the matrix listed.
  m = nlohmann::json::parse(good_manifest);
  m["files"].erase("item_item.csr");
  Overwrite(manifest_path, m.dump());
  expect_rejected(absl::StatusCode::kDataLoss, "files.item_item.csr");
  // A format this build does not know.
  m = nlohmann::json::parse(good_manifest);
  m["format"] = "lifelong-recommender-model/3";
  Overwrite(manifest_path, m.dump());
  expect_rejected(absl::StatusCode::kDataLoss, "lifelong-recommender-model/3");
  // The matrix missing: incomplete.
  Overwrite(manifest_path, good_manifest);
  ASSERT_EQ(std::remove(csr.c_str()), 0);
  expect_rejected(absl::StatusCode::kFailedPrecondition, "incomplete: no item_item.csr");
  Overwrite(csr, good_csr);
  auto back = LoadModelBundle(root + "/2");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE((*back)->sparse_item_matrix());
}

TEST(BuildModelBundle, RejectsMalformedSparseMatrices) {
  const ModelArrays good = Train(SparseOptions());
  ASSERT_TRUE(good.sparse);
  ASSERT_GE(good.sparse_target.size(), 2u);
  ASSERT_TRUE(BuildModelBundle(good, {}, 1, "").ok());
  auto expect_bad = [](const ModelArrays& a, const std::string& field) {
    auto b = BuildModelBundle(a, {}, 1, "");
    ASSERT_FALSE(b.ok()) << field;
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(b.status().message().find(field), std::string::npos) << b.status();
  };
  ModelArrays a = good;
  a.sparse_target[0] = static_cast<int32_t>(a.course_ids.size());
  expect_bad(a, "sparse_target");
  a = good;
  a.sparse_target[0] = -1;
  expect_bad(a, "sparse_target");
  a = good;
  a.sparse_row_start.pop_back();
  expect_bad(a, "sparse_row_start");
  a = good;
  a.sparse_weight.pop_back();
  expect_bad(a, "sparse_target/sparse_weight");
  a = good;
  a.sparse_weight[0] = std::nanf("");
  expect_bad(a, "sparse_weight[0]");
  a = good;
  a.item_vectors.assign(a.course_ids.size() * a.course_ids.size(), 0.0f);
  expect_bad(a, "item_vectors");
  a = good;
  a.identity_query = false;
  expect_bad(a, "identity_query");
  a = Train();
  a.sparse_target = {0};
  expect_bad(a, "sparse_*");
}

// A random dense model (non-identity query basis unless `identity`): every
// tenth course has no interactions. With dim >= 3 every dot product of a
// basis row with an item vector starts with a large product (2^32 .. 2^46)
// and ends with its exact negative, so the small terms in between are
// rounded against the large one: any other order of additions (or a fused
// multiply-add) shows even after the double sum is rounded to float.
ModelArrays RandomDenseModel(int n, int dim, bool identity, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  auto big = [&] { return std::ldexp(rng() % 2 ? 1.0f : -1.0f, 16 + static_cast<int>(rng() % 8)); };
  ModelArrays a;
  for (int i = 0; i < n; ++i) {
    a.course_ids.push_back(absl::StrCat("r", i));
    a.counts.push_back(i % 10 == 9 ? 0 : 1 + i % 7);
  }
  a.identity_query = identity;
  a.dim = identity ? n : dim;
  const bool cancel = !identity && dim >= 3;
  if (!identity) {
    for (int i = 0; i < n * a.dim; ++i) a.query_basis.push_back(g(rng));
  }
  for (int i = 0; i < n * a.dim; ++i) a.item_vectors.push_back(g(rng));
  for (int r = 0; cancel && r < n; ++r) {
    float* basis = a.query_basis.data() + static_cast<size_t>(r) * dim;
    float* item = a.item_vectors.data() + static_cast<size_t>(r) * dim;
    basis[0] = big();
    basis[dim - 1] = -basis[0];
    item[0] = item[dim - 1] = big();
  }
  return a;
}

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// The plain one-row-at-a-time loops the bundle's multi-row code must equal
// bit for bit.
std::vector<float> ReferenceLearnerVector(const ModelArrays& a, const std::vector<std::pair<int, double>>& rows) {
  std::vector<float> q(a.dim, 0.0f);
  for (const auto& [row, weight] : rows) {
    if (a.identity_query) {
      q[row] += static_cast<float>(weight);
      continue;
    }
    for (int d = 0; d < a.dim; ++d) {
      q[d] += static_cast<float>(weight) * a.query_basis[static_cast<size_t>(row) * a.dim + d];
    }
  }
  return q;
}

float ReferenceItemToItem(const ModelArrays& a, int from, int to) {
  if (a.counts[from] <= 0) return 0.0f;
  const float* item = a.item_vectors.data() + static_cast<size_t>(to) * a.dim;
  if (a.identity_query) return item[from];
  double s = 0;
  for (int d = 0; d < a.dim; ++d)
    s += static_cast<double>(a.query_basis[static_cast<size_t>(from) * a.dim + d]) * item[d];
  return static_cast<float>(s);
}

TEST(ModelBundle, MultiRowDotProductsEqualThePlainLoopBitForBit) {
  int model_seed = 0;
  for (const int dim : {1, 2, 3, 5, 7, 8, 13, 31, 64, 65}) {
    for (const bool identity : {false, true}) {
      if (identity && dim != 1) continue;  // one identity model is enough (dim = n)
      SCOPED_TRACE(absl::StrCat("dim ", dim, identity ? " identity" : ""));
      const int n = 47;
      const ModelArrays a = RandomDenseModel(n, dim, identity, 1000 + model_seed++);
      BuildOptions o;
      o.build_indexes = false;
      auto built = BuildModelBundle(a, nlohmann::json::object(), 1, "", o);
      ASSERT_TRUE(built.ok()) << built.status();
      const ModelBundle& b = **built;
      std::mt19937 rng(dim * 7919 + identity);
      for (int len = 0; len <= 20; ++len) {
        for (int trial = 0; trial < 8; ++trial) {
          SCOPED_TRACE(absl::StrCat("history length ", len, " trial ", trial));
          // Repeats, unknown courses, zero and negative weights, courses
          // without interactions: all as a real history may have them.
          std::vector<HistoryEvent> h;
          for (int i = 0; i < len; ++i) {
            const int pick = static_cast<int>(rng() % (n + 3));
            const float weight = std::array<float, 5>{1.0f, 0.5f, 2.0f, 0.0f, -1.0f}[rng() % 5];
            h.push_back({pick < n ? absl::StrCat("r", pick) : "unknown", weight, absl::InfinitePast()});
          }
          const std::vector<std::pair<int, double>> rows = b.HistoryRowWeights(h);
          const std::vector<float> q = b.LearnerVector(h);
          const std::vector<float> want_q = ReferenceLearnerVector(a, rows);
          ASSERT_EQ(q.size(), want_q.size());
          for (size_t d = 0; d < q.size(); ++d) ASSERT_EQ(Bits(q[d]), Bits(want_q[d])) << "coordinate " << d;

          std::vector<int> from(rows.size());
          for (size_t i = 0; i < rows.size(); ++i) from[i] = rows[i].first;
          for (int to = 0; to < n; to += 3) {
            double score = 0;  // ItemScore: the same dot product of q with the item
            for (int d = 0; d < a.dim; ++d) {
              score += static_cast<double>(q[d]) * a.item_vectors[static_cast<size_t>(to) * a.dim + d];
            }
            ASSERT_EQ(Bits(b.ItemScore(q, to)), Bits(static_cast<float>(score))) << "to " << to;
            std::vector<float> each(from.size(), -7.0f);
            b.ItemToItemEach(from, to, absl::MakeSpan(each));
            std::optional<int> best;
            float best_share = 0;
            for (size_t i = 0; i < from.size(); ++i) {
              const float want = ReferenceItemToItem(a, from[i], to);
              ASSERT_EQ(Bits(b.ItemToItem(from[i], to)), Bits(want)) << from[i] << " -> " << to;
              ASSERT_EQ(Bits(each[i]), Bits(want)) << "row " << i << ": " << from[i] << " -> " << to;
              const float share = static_cast<float>(rows[i].second * want);
              if (share > 0 && (!best.has_value() || share > best_share)) {
                best = static_cast<int>(i);
                best_share = share;
              }
            }
            const std::optional<Contribution> top = b.TopContributor(h, to);
            ASSERT_EQ(top.has_value(), best.has_value()) << "to " << to;
            if (top.has_value()) {
              EXPECT_EQ(Bits(top->score), Bits(best_share));
              EXPECT_EQ(top->course_id, a.course_ids[from[*best]]);
              EXPECT_EQ(top->course_id, h[top->history_index].course_id);
            }
          }
        }
      }
      // Any rows (courses without interactions and repeats included), more
      // than one block, and an output shorter than the rows: only that many
      // entries are written.
      std::vector<int> many;
      for (int i = 0; i < 150; ++i) many.push_back(static_cast<int>(rng() % n));
      std::vector<float> each(many.size() + 1, -7.0f);
      b.ItemToItemEach(many, 5, absl::MakeSpan(each));
      for (size_t i = 0; i < many.size(); ++i) ASSERT_EQ(Bits(each[i]), Bits(ReferenceItemToItem(a, many[i], 5))) << i;
      EXPECT_EQ(each.back(), -7.0f);
      std::vector<float> shorter(3, -7.0f);
      b.ItemToItemEach(many, 5, absl::MakeSpan(shorter).subspan(0, 2));
      EXPECT_EQ(Bits(shorter[1]), Bits(ReferenceItemToItem(a, many[1], 5)));
      EXPECT_EQ(shorter[2], -7.0f);
    }
  }
}

TEST(ModelBundle, ConcurrentReadersWhileVersionsSwap) {
  std::shared_ptr<const ModelBundle> current = *BuildModelBundle(Train(), {}, 1, "");
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        std::shared_ptr<const ModelBundle> b = std::atomic_load(&current);
        auto recs = b->Recommend(History({"a0", "a1"}), 1);
        if (recs.empty() || b->CourseId(recs[0].row) != "a2") wrong.fetch_add(1);
      }
    });
  }
  for (int v = 2; v < 20; ++v) {
    std::shared_ptr<const ModelBundle> next = *BuildModelBundle(Train(), {}, v, "");
    std::atomic_store(&current, next);
  }
  stop.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(std::atomic_load(&current)->version(), 19);
}

}  // namespace
}  // namespace lifelong::models
