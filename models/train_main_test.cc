// Runs the `train` binary end to end: interaction file + catalog dump in,
// a loadable model version with figures in its manifest out.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "models/model_bundle.h"
#include "models/model_retirement.h"
#include "models/records_export.h"
#include "models/sequence_blend.h"
#include "models/sequence_model.h"
#include "models/synthetic.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/domain/vocabulary.h"

namespace lifelong::models {
namespace {

std::string Tmp(const std::string& name) { return absl::StrCat(getenv("TEST_TMPDIR"), "/", name); }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(TrainBinary, WritesLoadableVersionsWithFigures) {
  SyntheticOptions so;
  so.learners = 400;
  so.items = 40;
  so.tracks = 4;
  const std::string data = Tmp("interactions.tsv");
  {
    std::ofstream out(data);
    out << "# learner course order weight\n";
    for (const Interaction& x : GenerateSyntheticInteractions(so)) {
      out << x.learner << "\t" << x.course_id << "\t" << x.order << "\t"
          << "http://adlnet.gov/expapi/verbs/completed\n";
    }
  }
  const std::string catalog = Tmp("catalog.jsonl");
  std::ofstream(catalog) << "{\"id\":\"c1\",\"title\":\"书法入门\"}\n"
                         << "{\"id\":\"brand-new\",\"title\":\"书法进阶\"}\n";
  const std::string root = Tmp("models");
  const std::string cmd = absl::StrCat("models/train --model_root=", root, " --interactions=", data,
                                       " --catalog=", catalog, " > ", Tmp("train.out"), " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto b = LoadLatestModelBundle(root);
  ASSERT_TRUE(b.ok()) << b.status();
  const ModelBundle& m = **b;
  EXPECT_EQ(m.version(), 2);
  EXPECT_EQ(m.num_items(), 41);  // c0..c39 + brand-new
  const nlohmann::json& man = m.manifest();
  EXPECT_EQ(man["training"]["learners"], 400);
  EXPECT_GT(man["tuning"]["trials"].get<int>(), 5);
  // Issue #17's budget figure, printed and kept.
  EXPECT_GE(man["training"]["tuning_and_training_seconds"].get<double>(), man["tuning"]["seconds"].get<double>());
  EXPECT_NE(ReadText(Tmp("train.out")).find("train: tuning and training took"), std::string::npos);
  const auto& val = man["evaluation"]["validation"];
  EXPECT_GT(val["model"]["recall"].get<double>(), val["popularity"]["recall"].get<double>());
  auto similar = m.SimilarCourses(*m.Row("brand-new"), 1);
  ASSERT_EQ(similar.size(), 1u);
  EXPECT_EQ(m.CourseId(similar[0].row), "c1");
}

// Writes a synthetic interaction file of `items` courses.
std::string WriteSynthetic(const std::string& name, int learners, int items) {
  SyntheticOptions so;
  so.learners = learners;
  so.items = items;
  so.tracks = items / 10;
  const std::string data = Tmp(name);
  std::ofstream out(data);
  for (const Interaction& x : GenerateSyntheticInteractions(so)) {
    out << x.learner << "\t" << x.course_id << "\t" << x.order << "\t"
        << "http://adlnet.gov/expapi/verbs/completed\n";
  }
  return data;
}

// Above the dense limit and within --exact_max_items: a sparse (format 2)
// version, served exactly.
TEST(TrainBinary, SparseExactPathWritesAFormat2Version) {
  const std::string data = WriteSynthetic("sparse.tsv", 600, 60);
  const std::string root = Tmp("sparse_models");
  const std::string out = Tmp("sparse.out");
  const std::string cmd = absl::StrCat("models/train --model_root=", root, " --interactions=", data,
                                       " --params='{\"dense_max_items\":20}' --exact_max_items=100 > ", out, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
  auto b = LoadLatestModelBundle(root);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE((*b)->sparse_item_matrix());
  EXPECT_EQ((*b)->manifest()["format"], "lifelong-recommender-model/2");
  EXPECT_EQ((*b)->manifest()["training"]["collaborative_path"], "sparse");
  EXPECT_EQ((*b)->manifest()["params"]["exact_max_items"], 100);
  EXPECT_FALSE((*b)->manifest().contains("approximation"));
  EXPECT_NE(ReadText(out).find("collaborative path: sparse"), std::string::npos) << ReadText(out);
}

// Beyond --exact_max_items with the low-rank approximation: low rank +
// FAISS, and the recall of that approximation against exact scoring is
// printed and in the manifest.
TEST(TrainBinary, BeyondTheExactLimitReportsApproximationRecall) {
  const std::string data = WriteSynthetic("approx.tsv", 600, 60);
  const std::string root = Tmp("approx_models");
  const std::string out = Tmp("approx.out");
  const std::string cmd = absl::StrCat(
      "models/train --model_root=", root, " --interactions=", data, " --tune=false",
      " --params='{\"dense_max_items\":20,\"low_rank_dim\":8,\"approximation\":\"low_rank\"}' --exact_max_items=30 > ",
      out, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
  auto b = LoadLatestModelBundle(root);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE((*b)->identity_query());
  const nlohmann::json& man = (*b)->manifest();
  ASSERT_TRUE(man.contains("approximation")) << man.dump(2);
  const double recall = man["approximation"]["recall_at_10"].get<double>();
  EXPECT_GE(recall, 0.0);
  EXPECT_LE(recall, 1.0);
  EXPECT_GT(man["approximation"]["queries"].get<int>(), 100);
  EXPECT_EQ(man["training"]["approximation_recall_at_10"].get<double>(), recall);
  EXPECT_EQ(man["approximation"]["kind"], "low_rank");
  EXPECT_NE(ReadText(out).find("approximation: Recall@10"), std::string::npos) << ReadText(out);
  // A bad flag value is refused.
  const std::string bad = absl::StrCat("models/train --model_root=", root, " --interactions=", data,
                                       " --exact_max_items=-5 > ", out, " 2>&1");
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_NE(ReadText(out).find("--exact_max_items"), std::string::npos) << ReadText(out);
}

// Beyond --exact_max_items by default: M's rows pruned (a format-2 version,
// served from its rows), with the served model's recall against exact M
// printed and in the manifest; whole rows measure 1.
TEST(TrainBinary, PrunedBeyondTheExactLimitWritesAFormat2VersionWithItsRecall) {
  const std::string data = WriteSynthetic("pruned.tsv", 600, 60);
  const std::string root = Tmp("pruned_models");
  const std::string out = Tmp("pruned.out");
  for (int keep : {2, 1000}) {
    const std::string cmd = absl::StrCat("models/train --model_root=", root, " --interactions=", data,
                                         " --tune=false --params='{\"dense_max_items\":20,\"pruned_neighbours\":", keep,
                                         "}' --exact_max_items=30 > ", out, " 2>&1");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
    auto b = LoadLatestModelBundle(root);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_TRUE((*b)->sparse_item_matrix());
    const nlohmann::json& man = (*b)->manifest();
    EXPECT_EQ(man["format"], "lifelong-recommender-model/2");
    EXPECT_EQ(man["training"]["collaborative_path"], "sparse_pruned");
    ASSERT_TRUE(man.contains("approximation")) << man.dump(2);
    EXPECT_EQ(man["approximation"]["kind"], "pruned");
    const double recall = man["approximation"]["recall_at_10"].get<double>();
    if (keep == 1000) {
      EXPECT_EQ(recall, 1.0);
      EXPECT_EQ(man["training"]["sparse_entries"], man["training"]["exact_entries"]);
    } else {
      EXPECT_LT(recall, 1.0);
      EXPECT_LT(man["training"]["sparse_entries"].get<int64_t>(), man["training"]["exact_entries"].get<int64_t>());
    }
    EXPECT_NE(ReadText(out).find("collaborative path: sparse_pruned"), std::string::npos) << ReadText(out);
    EXPECT_NE(ReadText(out).find("approximation: Recall@10"), std::string::npos) << ReadText(out);
  }
}

// A record service that exports fixed statements and reports an erasure
// epoch, as the real one does (records_export.h kErasureEpochMetadata).
class ExportingRecords final : public v1::LearningRecordService::Service {
 public:
  ExportingRecords(std::vector<v1::Statement> statements, uint64_t epoch)
      : statements_(std::move(statements)), epoch_(epoch) {}
  grpc::Status ExportStatements(grpc::ServerContext* ctx, const v1::ExportStatementsRequest*,
                                grpc::ServerWriter<v1::Statement>* writer) override {
    ctx->AddInitialMetadata(kErasureEpochMetadata, std::to_string(epoch_));
    for (const v1::Statement& s : statements_) writer->Write(s);
    return grpc::Status::OK;
  }

 private:
  const std::vector<v1::Statement> statements_;
  const uint64_t epoch_;
};

// The record service's erasure epoch vouches for its own export only: a
// version trained on it alone records the epoch; one that also read
// --interactions or --ratings files (which may hold learners erased since)
// records none, says why, and is retired at once beside a version that
// records an epoch, so it is never served as erasure-clean.
TEST(TrainBinary, ErasureEpochOnlyWhenEveryInputCameFromTheRecordService) {
  SyntheticOptions so;
  so.learners = 300;
  so.items = 30;
  so.tracks = 3;
  std::vector<v1::Statement> statements;
  for (const Interaction& x : GenerateSyntheticInteractions(so)) {
    v1::Statement s;
    s.set_learner(x.learner);
    s.set_verb(std::string(vocab::kCompleted));
    s.set_activity(vocab::CourseIri(x.course_id));
    s.mutable_timestamp()->set_seconds(1700000000 + x.order);
    s.set_cursor(absl::StrCat(statements.size() + 1000000));
    statements.push_back(std::move(s));
  }
  ExportingRecords service(std::move(statements), 7);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);
  const std::string interactions = WriteSynthetic("mixed.tsv", 50, 30);
  const std::string ratings = Tmp("mixed_ratings.txt");
  {
    std::ofstream r(ratings);
    for (int i = 0; i < 60; ++i) r << "rater" << i % 20 << "\tc" << i % 30 << "\t1\n";
  }
  const std::string root = Tmp("epoch_models");
  const std::string out = Tmp("epoch.out");
  auto train = [&](const std::string& extra) {
    const std::string cmd = absl::StrCat("LIFELONG_TOKEN= models/train --model_root=", root,
                                         " --records=127.0.0.1:", port, " --tune=false ", extra, " > ", out, " 2>&1");
    return std::system(cmd.c_str());
  };

  // The record service alone: its epoch.
  ASSERT_EQ(train(""), 0) << ReadText(out);
  auto clean = LoadLatestModelBundle(root);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(ErasureEpochOf((*clean)->manifest()), std::optional<uint64_t>(7));

  // With an interaction file, or a ratings file, mixed in: none, and why.
  for (const std::string& extra :
       {absl::StrCat("--interactions=", interactions), absl::StrCat("--ratings=", ratings)}) {
    SCOPED_TRACE(extra);
    ASSERT_EQ(train(extra), 0) << ReadText(out);
    const std::string text = ReadText(out);
    EXPECT_NE(text.find("no erasure epoch recorded"), std::string::npos) << text;
    EXPECT_NE(text.find("will not be served"), std::string::npos) << text;
    absl::StatusOr<std::set<int64_t>> retired = RetiredVersions(root);
    ASSERT_TRUE(retired.ok()) << retired.status();
    ASSERT_EQ(retired->size(), 1u);
    const int64_t newest = *retired->begin();
    std::ifstream manifest_file(absl::StrCat(VersionPath(root, newest), "/", kManifestFileName));
    const nlohmann::json manifest = nlohmann::json::parse(manifest_file, nullptr, false);
    ASSERT_FALSE(manifest.is_discarded());
    EXPECT_FALSE(ErasureEpochOf(manifest).has_value()) << manifest.dump(2);
    EXPECT_TRUE(manifest.contains("inputs")) << manifest.dump(2);
  }
  // The version trained on the export alone is not retired: it keeps serving.
  absl::StatusOr<std::set<int64_t>> retired = RetiredVersions(root);
  ASSERT_TRUE(retired.ok());
  EXPECT_EQ(retired->count(1), 0u);
  server->Shutdown();
}

// Learners write their own records and may name any course IRI. Exported
// from the record service with the catalog dump, as `lifelong train` runs
// it: one learner's 1,000 made-up courses reach neither tuning (which has no
// catalog of its own) nor the model, and the manifest says what was left out.
TEST(TrainBinary, MadeUpCoursesOfOneLearnerReachNeitherTuningNorTheModel) {
  SyntheticOptions so;
  so.learners = 300;
  so.items = 30;
  so.tracks = 3;
  std::vector<v1::Statement> statements;
  auto add = [&statements](const std::string& learner, const std::string& course, int64_t order) {
    v1::Statement s;
    s.set_learner(learner);
    s.set_verb(std::string(vocab::kCompleted));
    s.set_activity(vocab::CourseIri(course));
    s.mutable_timestamp()->set_seconds(1700000000 + order);
    s.set_cursor(absl::StrCat(statements.size() + 1000000));
    statements.push_back(std::move(s));
  };
  for (const Interaction& x : GenerateSyntheticInteractions(so)) add(x.learner, x.course_id, x.order);
  for (int i = 0; i < 1000; ++i) add("mallory", absl::StrCat("made-up-", i), i);
  ExportingRecords service(std::move(statements), 3);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string catalog = Tmp("made_up_catalog.jsonl");
  {
    std::ofstream c(catalog);
    for (int i = 0; i < 30; ++i) c << "{\"id\":\"c" << i << "\",\"title\":\"书法 " << i << "\"}\n";
  }
  const std::string root = Tmp("made_up_models");
  const std::string out = Tmp("made_up.out");
  const std::string cmd = absl::StrCat("LIFELONG_TOKEN= models/train --model_root=", root,
                                       " --records=127.0.0.1:", port, " --catalog=", catalog, " > ", out, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
  auto b = LoadLatestModelBundle(root);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->num_items(), 30);
  EXPECT_FALSE((*b)->Row("made-up-999").has_value());
  const nlohmann::json& man = (*b)->manifest();
  EXPECT_LE(man["tuning"]["items"].get<int64_t>(), 30) << man["tuning"].dump();
  EXPECT_EQ(man["training"]["selection"]["outside_catalog_courses"], 1000) << man["training"].dump();
  EXPECT_EQ(man["training"]["learners"], 300);
  EXPECT_NE(ReadText(out).find("left out 1000 course(s) outside the catalog dump"), std::string::npos) << ReadText(out);
  server->Shutdown();
}

TEST(TrainBinary, SequenceModelIsChosenOnValidationAndServedFromTheVersion) {
  SyntheticOptions so;
  so.learners = 300;
  so.items = 30;
  so.tracks = 3;
  const std::string data = Tmp("seq.tsv");
  {
    std::ofstream out(data);
    for (const Interaction& x : GenerateSyntheticInteractions(so)) {
      out << x.learner << "\t" << x.course_id << "\t" << x.order << "\n";
    }
  }
  const std::string root = Tmp("seq_models");
  const std::string out = Tmp("seq.out");
  const std::string cmd = absl::StrCat("models/train --model_root=", root, " --interactions=", data,
                                       " --sequence_model=epochs=4,patience=1,dim=8,hidden=16,negatives=8 "
                                       "--sequence_blend_weights=0,1,3 > ",
                                       out, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
  auto b = LoadLatestModelBundle(root);
  ASSERT_TRUE(b.ok()) << b.status();
  const ModelBundle& m = **b;
  ASSERT_NE(m.sequence_model(), nullptr) << ReadText(out);
  const nlohmann::json& report = m.manifest()["sequence_model_training"];
  // w is the validation grid's best (HR@10 + NDCG@10; the first on ties).
  double best = -1, best_w = -1;
  ASSERT_EQ(report["blend_grid"].size(), 3u) << report.dump();
  for (const auto& row : report["blend_grid"]) {
    const double v = row["validation"]["hit_rate"].get<double>() + row["validation"]["ndcg"].get<double>();
    if (v > best) {
      best = v;
      best_w = row["w"].get<double>();
    }
  }
  EXPECT_EQ(m.sequence_blend_w(), best_w) << report.dump();
  EXPECT_EQ(m.manifest()["sequence_model"]["blend_w"].get<double>(), best_w);
  // The epochs are the validation curve's best, and the served GRU was
  // trained on the whole data for that many.
  EXPECT_GE(report["best_epoch"].get<int>(), 1);
  EXPECT_EQ(report["training_epochs"].size(), report["best_epoch"].get<size_t>()) << report.dump();
  EXPECT_EQ(m.sequence_model()->options().max_len, 20);
  EXPECT_NE(ReadText(out).find("blend weight"), std::string::npos) << ReadText(out);

  // final=warm: the validation GRU, one epoch more on all the data (on the
  // GRU's thread), is the one served; the budget figure includes it.
  const std::string warm_root = Tmp("seq_warm_models");
  const std::string warm_cmd = absl::StrCat("models/train --model_root=", warm_root, " --interactions=", data,
                                            " --sequence_model=epochs=3,patience=1,dim=8,hidden=16,negatives=8,"
                                            "final=warm --sequence_blend_weights=0,1,3 > ",
                                            out, " 2>&1");
  ASSERT_EQ(std::system(warm_cmd.c_str()), 0) << warm_cmd << "\n" << ReadText(out);
  auto warm = LoadLatestModelBundle(warm_root);
  ASSERT_TRUE(warm.ok()) << warm.status();
  ASSERT_NE((*warm)->sequence_model(), nullptr);
  const nlohmann::json& warm_report = (*warm)->manifest()["sequence_model_training"];
  EXPECT_EQ(warm_report["final"], "warm") << warm_report.dump();
  EXPECT_GT(warm_report["training_seconds"].get<double>(), 0) << warm_report.dump();
  EXPECT_NE(ReadText(out).find("gru (warm, all the data) epoch 1:"), std::string::npos) << ReadText(out);
  EXPECT_GT((*warm)->manifest()["training"]["tuning_and_training_seconds"].get<double>(),
            warm_report["validation_seconds"].get<double>() - 1e-9);

  // Misuse: bad options and weights are refused, naming the flag, and
  // nothing is written.
  for (const std::string& bad :
       {std::string("--sequence_model=hidden=0"), std::string("--sequence_model=foo=1"),
        std::string("--sequence_model=final=hot"), std::string("--sequence_model=default --sequence_blend_weights=-1"),
        std::string("--sequence_model=default --sequence_blend_weights=x")}) {
    const std::string bad_root = Tmp("seq_bad_models");
    const std::string bad_cmd =
        absl::StrCat("models/train --model_root=", bad_root, " --interactions=", data, " ", bad, " > ", out, " 2>&1");
    EXPECT_NE(std::system(bad_cmd.c_str()), 0) << bad;
    const std::string flag = bad.find("blend") != std::string::npos ? "--sequence_blend_weights" : "--sequence_model";
    EXPECT_NE(ReadText(out).find(flag), std::string::npos) << bad << ": " << ReadText(out);
    EXPECT_FALSE(LoadLatestModelBundle(bad_root).ok()) << bad;
  }
}

// issue #17: with no --sequence_model flag ("auto") the budget GRU is
// trained and served once enough learners have a validation part; below
// that, and with --sequence_model=none, the version holds the linear model
// alone and says why.
TEST(TrainBinary, SequenceModelIsOnByDefaultOnceEnoughLearnersHaveAValidationPart) {
  const auto write_data = [](const std::string& path, int learners) {
    SyntheticOptions so;
    so.learners = learners;
    so.items = 30;
    so.tracks = 3;
    std::ofstream out(path);
    for (const Interaction& x : GenerateSyntheticInteractions(so)) {
      out << x.learner << "\t" << x.course_id << "\t" << x.order << "\n";
    }
  };
  const std::string big = Tmp("auto_big.tsv"), small = Tmp("auto_small.tsv");
  write_data(big, 1400);
  write_data(small, 300);
  const std::string out = Tmp("auto.out");
  const auto train = [&out](const std::string& data, const std::string& root, const std::string& flags) {
    const std::string cmd =
        absl::StrCat("models/train --model_root=", root, " --interactions=", data, " ", flags, " > ", out, " 2>&1");
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
    auto b = LoadLatestModelBundle(root);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? *b : nullptr;
  };

  auto on = train(big, Tmp("auto_big_models"), "");
  ASSERT_NE(on, nullptr);
  ASSERT_NE(on->sequence_model(), nullptr) << ReadText(out);
  const nlohmann::json& report = on->manifest()["sequence_model_training"];
  EXPECT_EQ(report["final"], "warm") << report.dump();
  auto budget = SequenceModelOptions::Parse(kDefaultSequenceSpec);
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(on->sequence_model()->options().hidden, budget->hidden);
  EXPECT_EQ(on->sequence_model()->options().dim, budget->dim);
  EXPECT_EQ(report["options"], budget->ToString()) << report.dump();
  EXPECT_EQ(on->manifest()["sequence_model"]["blend_w"].get<double>(), on->sequence_blend_w());
  EXPECT_NE(ReadText(out).find("train: sequence model " + budget->ToString()), std::string::npos) << ReadText(out);

  auto off = train(small, Tmp("auto_small_models"), "");
  ASSERT_NE(off, nullptr);
  EXPECT_EQ(off->sequence_model(), nullptr);
  EXPECT_FALSE(off->manifest().contains("sequence_model"));
  EXPECT_EQ(off->manifest()["sequence_model_training"]["trained"], false);
  const std::string why = off->manifest()["sequence_model_training"]["why"].get<std::string>();
  EXPECT_NE(why.find("fewer than 1000"), std::string::npos) << why;
  EXPECT_NE(ReadText(out).find("train: no sequence model (auto: "), std::string::npos) << ReadText(out);

  auto none = train(big, Tmp("auto_none_models"), "--sequence_model=none");
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->sequence_model(), nullptr);
  EXPECT_EQ(none->manifest()["sequence_model_training"]["why"], "none asked for");
}

TEST(TrainBinary, ParseErrorFailsWithTheLineNamed) {
  const std::string data = Tmp("bad.tsv");
  std::ofstream(data) << "u1\tc1\t1\nu1\tc2\tsoon\n";
  const std::string out = Tmp("bad.out");
  const std::string cmd =
      absl::StrCat("models/train --model_root=", Tmp("bad_models"), " --interactions=", data, " > ", out, " 2>&1");
  EXPECT_NE(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("bad.tsv:2: field 'order'"), std::string::npos) << text;
}

}  // namespace
}  // namespace lifelong::models
