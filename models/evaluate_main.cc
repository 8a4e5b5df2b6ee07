// Offline evaluation of the recommender model against popularity and
// item-kNN baselines, all in one run (protocol in evaluation.h).
//
//   # fixed train/test files (e.g. CNPC):
//   evaluate --train=train.jsonl --test=test.jsonl
//   # one file, held-out split made here:
//   evaluate --interactions=all.tsv --split=tail --test_fraction=0.2
//   evaluate --ratings=ratings_final.txt --split=random --seed=1
//   # leave-last-out (exactly each learner's last course held out):
//   evaluate --interactions=all.tsv --split=last
//   # also a GRU sequence model and its blend with the model (issue #17):
//   evaluate --train=... --test=... --sequence_model=epochs=10,hidden=100
//   # evaluate an already written model version instead of training here:
//   evaluate --train=... --test=... --model_dir=var/models/3
//
// Without --model_dir the model is trained on the training part with
// hyper-parameters tuned on a validation split carved out of the training
// part (--tune, default on), then scored through ModelBundle::ScoreAll.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "models/evaluation.h"
#include "models/interaction_file.h"
#include "models/model_bundle.h"
#include "models/sequence_blend.h"
#include "models/sequence_model.h"
#include "models/served_blend.h"
#include "models/served_ranking.h"
#include "models/sparse_ease.h"
#include "models/trainer.h"
#include "services/cli/progress.h"

ABSL_FLAG(std::string, train, "", "training interaction file (with --test)");
ABSL_FLAG(std::string, test, "", "held-out interaction file (with --train)");
ABSL_FLAG(std::string, interactions, "", "one interaction file, split here (--split)");
ABSL_FLAG(std::string, ratings, "", "labelled ratings file (user, course, label), split here");
ABSL_FLAG(std::string, split, "tail",
          "tail (last part of each learner's sequence), last (exactly each learner's last course, "
          "leave-last-out; --test_fraction is not used and validation splits hold out the last course too) "
          "or random");
ABSL_FLAG(double, test_fraction, 0.2, "held-out fraction per learner for --split=tail and random");
ABSL_FLAG(uint64_t, seed, 1, "seed of --split=random and of validation random splits");
ABSL_FLAG(std::string, catalog, "", "optional catalog dump (JSON lines) for content vectors");
ABSL_FLAG(std::string, model_dir, "", "evaluate this model version instead of training one");
ABSL_FLAG(bool, tune, true, "tune hyper-parameters on a validation split of the training part");
ABSL_FLAG(double, valid_fraction, 0.2, "validation fraction per learner for --tune");
ABSL_FLAG(int, max_validation_learners, lifelong::models::kMaxValidationCases,
          "validation learners scored per --tune trial at most (an evenly spaced sample above it)");
ABSL_FLAG(double, tune_ndcg_weight, lifelong::models::kTuningNdcgWeight,
          "tuning maximises validation Recall@10 + this x NDCG@10 (docs/models.md, \"The tuning objective\")");
ABSL_FLAG(std::string, params, "", "JSON object of TrainOptions fields (start point of tuning)");
ABSL_FLAG(std::string, ks, "5,10,20", "cut-offs K");
ABSL_FLAG(bool, served, true,
          "also the served ranking at K=10 (or the first of --ks without 10; models/served_ranking.h) "
          "and the cost of each "
          "re-ranker (each dropped in turn)");
ABSL_FLAG(std::string, categories, "",
          "course categories for the served ranking's per-category cap: a catalog dump "
          "({\"id\",\"category\"}) or CNPC course info ({\"course_idx2\",\"discipline\"})");
ABSL_FLAG(bool, choose_blend, false,
          "score a grid of the blend's popularity and completion weights on the validation "
          "split (never the test split) and print each");
ABSL_FLAG(std::string, prune_neighbours, "",
          "comma-separated N: also score the model with each history course's row of M cut "
          "to its N largest entries (the sparse top-N model an exact server beyond 4,096 "
          "items would hold); identity-basis models only");
ABSL_FLAG(std::string, sparse_ease, "",
          "comma-separated candidates:neighbours pairs: also score sparse EASE "
          "(models/sparse_ease.h, lambda --sparse_ease_lambda) with each");
ABSL_FLAG(std::string, sparse_model, "",
          "comma-separated candidates:neighbours pairs: also score the trainer's model trained "
          "sparse (TrainSparseModel, same parameters as the model) with each");
ABSL_FLAG(double, sparse_ease_lambda, 50, "lambda of --sparse_ease");
ABSL_FLAG(bool, ease_baseline, true, "also score plain EASE (lambda --sparse_ease_lambda, default 50) as a baseline");
ABSL_FLAG(std::string, sequence_model, "auto",
          "the GRU sequence model (models/sequence_model.h) scored with its blend with the model, as `train "
          "--sequence_model` serves it: linear z-score + w x GRU z-score. 'auto' (as train): "
          "models/sequence_blend.h's kDefaultSequenceSpec when at least 1,000 learners have a validation part; "
          "'none'; or options key=value,... (e.g. epochs=12,lr=0.005,negatives=512) or 'default'. The GRU's "
          "epochs (early stopping, patience) and w are chosen on the validation split of the training part "
          "(never the test split); the scored GRU is then, by the option final=: retrained on the whole "
          "training part for the chosen epochs (scratch), the validation GRU one epoch more on it (warm), or "
          "the validation GRU (validation)");
ABSL_FLAG(std::string, sequence_blend_weights, "0,0.1,0.2,0.3,0.5,0.75,1,1.5,2,3,5,8,13,20,50",
          "the blend weights w tried on the validation split for --sequence_model");
ABSL_FLAG(std::string, linear_blend, "",
          "also score a second linear model, the chosen parameters with these JSON overrides (e.g. "
          "'{\"source_window\":1,\"target_window\":1,\"recency_decay\":0.01}', a first-order transition model), "
          "and its blend with the model: z-score + w x second z-score, w chosen on the validation split by the "
          "tuning objective (recall@10 + --tune_ndcg_weight x NDCG@10)");
ABSL_FLAG(std::string, linear_blend_weights, "0,0.05,0.1,0.2,0.3,0.5,0.75,1,1.5,2,3",
          "the blend weights w tried on the validation split for --linear_blend");
ABSL_FLAG(std::string, json_out, "", "optionally write all figures as JSON here");
ABSL_FLAG(std::string, write_split, "",
          "with --interactions/--ratings: also write the split as DIR/train.tsv and "
          "DIR/test.tsv (interaction files; `evaluate --train --test` and the replay read "
          "them and get the same cases)");

namespace lm = lifelong::models;

namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "evaluate: %s\n", std::string(s.ToString()).c_str());
  return 1;
}

// Writes the split as two TSV interaction files under `dir` (created):
// train.tsv = the training interactions with their order and weight (each
// learner's lines in GroupSequences order, so that a reader that orders by
// (order, line) sees the same sequences), test.tsv = each case's held-out
// courses. CasesFromTrainTest(train.tsv, test.tsv) gives `cases` again.
absl::Status WriteSplit(const std::string& dir, const std::vector<lm::Interaction>& train,
                        const std::vector<lm::EvalCase>& cases) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("--write_split: cannot create ", dir, ": ", ec.message()));
  auto write = [](const std::string& path, const std::string& text) -> absl::Status {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("--write_split: cannot write ", path));
    return absl::OkStatus();
  };
  std::string text = "# learner\tcourse\torder\tweight (train part of a split written by evaluate)\n";
  for (const auto& [learner, seq] : lm::GroupSequences(train)) {
    int64_t order = 0;
    for (const lm::Interaction& x : seq) {
      lm::AppendInteractionLine(learner, x.course_id, order++, x.weight, &text);
    }
  }
  absl::Status s = write(dir + "/train.tsv", text);
  if (!s.ok()) return s;
  text = "# learner\tcourse\torder (held-out part of a split written by evaluate)\n";
  for (const lm::EvalCase& c : cases) {
    int64_t order = 0;
    for (const std::string& course : c.held_out) {
      absl::StrAppend(&text, c.learner, "\t", course, "\t", order++, "\n");
    }
  }
  s = write(dir + "/test.tsv", text);
  if (!s.ok()) return s;
  std::printf("wrote the split: %s/train.tsv (%zu interactions), %s/test.tsv (%zu learners)\n", dir.c_str(),
              train.size(), dir.c_str(), cases.size());
  return absl::OkStatus();
}

// With --split=last the validation splits hold out each learner's last
// course as well: SplitSequenceTails holds out max(1, round(fraction * n)),
// and any fraction below 1 / (2 n) rounds to none, i.e. one course.
constexpr double kLastCourseFraction = 1e-9;

// `bundle`'s scores in `universe` order (a bundle trained on the same
// interactions with other parameters may order or cover courses
// differently); courses it does not know -1e30.
lm::Scorer InUniverseOrder(std::shared_ptr<const lm::ModelBundle> bundle, const std::vector<std::string>& universe) {
  lm::Scorer inner = lm::BundleScorer(bundle);
  std::vector<int> row(universe.size(), -1);
  for (size_t i = 0; i < universe.size(); ++i) {
    if (auto r = bundle->Row(universe[i])) row[i] = *r;
  }
  return [inner, row](const lm::EvalCase& c) {
    const std::vector<float> e = inner(c);
    std::vector<float> out(row.size(), -1e30f);
    for (size_t i = 0; i < out.size(); ++i) {
      if (row[i] >= 0) out[i] = e[row[i]];
    }
    return out;
  };
}

// Peak resident memory of this process (VmHWM), MiB; 0 if unknown.
double PeakRssMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      int64_t kb = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(line.substr(6), "kB")), &kb)) {
        return kb / 1024.0;
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  lifelong::models::KeepLargeAllocationsInTheHeap();  // tuning reuses its big matrices (trainer.h)
  absl::ParseCommandLine(argc, argv);
  auto sequence_flag = lm::SequenceModelFlag::Parse(absl::GetFlag(FLAGS_sequence_model), "--sequence_model");
  if (!sequence_flag.ok()) return Fail(sequence_flag.status());
  std::vector<lm::Interaction> train;
  std::vector<lm::EvalCase> cases;
  const bool random_split = absl::GetFlag(FLAGS_split) == "random";
  const bool last_split = absl::GetFlag(FLAGS_split) == "last";
  if (absl::GetFlag(FLAGS_split) != "tail" && !random_split && !last_split) {
    return Fail(absl::InvalidArgumentError("--split: must be tail, last or random"));
  }
  const double valid_fraction = last_split ? kLastCourseFraction : absl::GetFlag(FLAGS_valid_fraction);
  // The validation split of the training part (tuning, --choose_blend,
  // --sequence_model): the same kind as the test split.
  auto validation_split = [&](const std::vector<lm::Interaction>& part, std::vector<lm::Interaction>* vtrain,
                              std::vector<lm::EvalCase>* vcases) {
    if (random_split) {
      lm::SplitRandom(part, valid_fraction, absl::GetFlag(FLAGS_seed) + 1, vtrain, vcases);
    } else {
      lm::SplitSequenceTails(part, valid_fraction, vtrain, vcases);
    }
  };
  // The linear model trained on a validation split's training part with
  // `params`, as a bundle without indexes (what validation scores); with
  // `gru`, that GRU blended in at `gru_w`, as a served model blends its own.
  auto validation_bundle = [](const std::vector<lm::Interaction>& vtrain, const lm::TrainOptions& params,
                              const std::shared_ptr<const lm::SequenceModel>& gru = nullptr,
                              double gru_w = 0) -> absl::StatusOr<std::shared_ptr<const lm::ModelBundle>> {
    absl::StatusOr<lm::ModelArrays> arrays = lm::TrainModel(vtrain, {}, params);
    if (!arrays.ok()) return arrays.status();
    if (gru != nullptr) {
      arrays->sequence_model = gru->Encode();
      arrays->sequence_blend_w = gru_w;
    }
    lm::BuildOptions bo;
    bo.build_indexes = false;
    return lm::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 0, "", bo);
  };
  if (!absl::GetFlag(FLAGS_train).empty() && !absl::GetFlag(FLAGS_write_split).empty()) {
    return Fail(absl::InvalidArgumentError("--write_split: needs --interactions or --ratings"));
  }
  if (!absl::GetFlag(FLAGS_train).empty()) {
    auto tr = lm::ReadInteractionFile(absl::GetFlag(FLAGS_train));
    if (!tr.ok()) return Fail(tr.status());
    auto te = lm::ReadInteractionFile(absl::GetFlag(FLAGS_test));
    if (!te.ok()) return Fail(te.status());
    train = std::move(*tr);
    cases = lm::CasesFromTrainTest(train, *te);
  } else {
    absl::StatusOr<std::vector<lm::Interaction>> all;
    if (!absl::GetFlag(FLAGS_interactions).empty()) {
      all = lm::ReadInteractionFile(absl::GetFlag(FLAGS_interactions));
    } else if (!absl::GetFlag(FLAGS_ratings).empty()) {
      all = lm::ReadLabeledRatingsFile(absl::GetFlag(FLAGS_ratings));
    } else {
      return Fail(absl::InvalidArgumentError("give --train and --test, --interactions or --ratings"));
    }
    if (!all.ok()) return Fail(all.status());
    if (random_split) {
      lm::SplitRandom(*all, absl::GetFlag(FLAGS_test_fraction), absl::GetFlag(FLAGS_seed), &train, &cases);
    } else if (last_split) {
      lm::SplitSequenceTails(*all, 0.0, &train, &cases);  // max(1, round(0)): the last course
    } else {
      lm::SplitSequenceTails(*all, absl::GetFlag(FLAGS_test_fraction), &train, &cases);
    }
    if (!absl::GetFlag(FLAGS_write_split).empty()) {
      absl::Status s = WriteSplit(absl::GetFlag(FLAGS_write_split), train, cases);
      if (!s.ok()) return Fail(s);
    }
  }
  std::vector<int> ks;
  for (absl::string_view k : absl::StrSplit(absl::GetFlag(FLAGS_ks), ',', absl::SkipEmpty())) {
    int v = 0;
    if (!absl::SimpleAtoi(k, &v) || v <= 0) return Fail(absl::InvalidArgumentError("--ks: positive integers"));
    ks.push_back(v);
  }
  nlohmann::json out = {{"train_interactions", train.size()}, {"cases", cases.size()}};

  std::shared_ptr<const lm::ModelBundle> bundle;
  std::optional<lm::ModelArrays> trained_arrays;
  if (!absl::GetFlag(FLAGS_model_dir).empty()) {
    auto b = lm::LoadModelBundle(absl::GetFlag(FLAGS_model_dir));
    if (!b.ok()) return Fail(b.status());
    bundle = *b;
    out["model_dir"] = absl::GetFlag(FLAGS_model_dir);
  } else {
    lm::TrainOptions options;
    if (!absl::GetFlag(FLAGS_params).empty()) {
      auto j = nlohmann::json::parse(absl::GetFlag(FLAGS_params), nullptr, false);
      auto o = lm::TrainOptions::FromJson(j);
      if (!o.ok()) return Fail(o.status());
      options = *o;
    }
    if (absl::GetFlag(FLAGS_tune)) {
      const absl::Time t0 = absl::Now();
      lifelong::cli::Progress trials(std::cerr, "evaluate: tuning", "trials", 0, absl::Seconds(5));
      auto tuned = lm::TuneOnValidation(
          train, options, valid_fraction, random_split, absl::GetFlag(FLAGS_seed) + 1, 10,
          [&trials](int done, int most) {
            trials.set_total(most);
            trials.Update(done);
          },
          absl::GetFlag(FLAGS_max_validation_learners), absl::GetFlag(FLAGS_tune_ndcg_weight));
      if (!tuned.ok()) return Fail(tuned.status());
      options = tuned->best;
      out["tuning"] = {{"validation", tuned->best_metrics.ToJson()},
                       {"trials", tuned->trials.size()},
                       {"objective", tuned->objective},
                       {"seconds", absl::ToDoubleSeconds(absl::Now() - t0)}};
      std::printf("tuned on validation (%zu trials, %.1f s): recall@10 %.4f ndcg@10 %.4f\n", tuned->trials.size(),
                  absl::ToDoubleSeconds(absl::Now() - t0), tuned->best_metrics.recall, tuned->best_metrics.ndcg);
    }
    std::vector<lm::CatalogCourse> catalog;
    if (!absl::GetFlag(FLAGS_catalog).empty()) {
      auto c = lm::ReadCatalogFile(absl::GetFlag(FLAGS_catalog));
      if (!c.ok()) return Fail(c.status());
      catalog = std::move(*c);
    }
    lm::TrainStats stats;
    auto arrays = lm::TrainModel(train, catalog, options, &stats);
    if (!arrays.ok()) return Fail(arrays.status());
    // --sequence_model: the served ranking is scored on this model with the
    // GRU blend added, as `train --sequence_model` writes it.
    if (sequence_flag->mode != lm::SequenceModelFlag::Mode::kNone) trained_arrays = *arrays;
    auto b = lm::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 0, "");
    if (!b.ok()) return Fail(b.status());
    bundle = *b;
    out["params"] = options.ToJson();
    out["training"] = stats.ToJson();
    std::printf("params %s\ntrained in %.2f s: %lld items, %lld learners, %lld interactions\n",
                options.ToJson().dump().c_str(), stats.seconds, static_cast<long long>(stats.items),
                static_cast<long long>(stats.learners), static_cast<long long>(stats.interactions_used));
  }
  const std::vector<std::string>& universe = bundle->course_ids();
  // The bundle the served rows rank (with --sequence_model: the GRU blended in).
  std::shared_ptr<const lm::ModelBundle> served_bundle = bundle;
  std::vector<std::pair<std::string, lm::Scorer>> scorers = {
      {"model", lm::BundleScorer(bundle)},
      {"popularity", lm::PopularityScorer(train, universe)},
  };
  if (universe.size() <= lm::kItemKnnMaxItems) {
    scorers.push_back({"item_knn", lm::ItemKnnScorer(train, universe)});
  } else {
    std::printf("item_knn baseline skipped: %zu items > %zu (its similarity matrix is items^2)\n", universe.size(),
                lm::kItemKnnMaxItems);
  }
  for (absl::string_view nv : absl::StrSplit(absl::GetFlag(FLAGS_prune_neighbours), ',', absl::SkipEmpty())) {
    int keep = 0;
    if (!absl::SimpleAtoi(nv, &keep) || keep <= 0) {
      return Fail(absl::InvalidArgumentError("--prune_neighbours: positive integers"));
    }
    if (!bundle->identity_query() || bundle->sparse_item_matrix() || !out.contains("params")) {
      return Fail(
          absl::InvalidArgumentError("--prune_neighbours: needs a dense model trained here with an identity basis"));
    }
    // Copy M (item_vectors row j = M[:, j]) and keep, for every history
    // course i, its `keep` largest entries M[i][j] over j.
    const int n = bundle->num_items();
    lm::ModelArrays pruned;
    pruned.course_ids = bundle->course_ids();
    for (int j = 0; j < n; ++j) {
      pruned.counts.push_back(bundle->InteractionCount(j));
      pruned.completions.push_back(0);
    }
    pruned.dim = n;
    pruned.identity_query = true;
    pruned.item_vectors.assign(static_cast<size_t>(n) * n, 0.0f);
    std::vector<std::pair<float, int>> row(n);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) row[j] = {bundle->ItemVector(j)[i], j};
      const int kk = std::min(keep, n);
      std::partial_sort(row.begin(), row.begin() + kk, row.end(),
                        [](const auto& a, const auto& b) { return a.first > b.first; });
      for (int r = 0; r < kk; ++r) {
        pruned.item_vectors[static_cast<size_t>(row[r].second) * n + i] = row[r].first;
      }
    }
    pruned.content_dim = 1;
    pruned.content.assign(n, 0.0f);
    auto params = lm::TrainOptions::FromJson(out["params"]);
    if (!params.ok()) return Fail(params.status());
    pruned.recency_decay = params->recency_decay;
    pruned.max_history = params->max_history;
    lm::BuildOptions bo;
    bo.build_indexes = false;
    auto pb = lm::BuildModelBundle(std::move(pruned), nlohmann::json::object(), 0, "", bo);
    if (!pb.ok()) return Fail(pb.status());
    scorers.push_back({absl::StrCat("top", keep), lm::BundleScorer(*pb)});
  }
  for (absl::string_view spec : absl::StrSplit(absl::GetFlag(FLAGS_sparse_ease), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> parts = absl::StrSplit(spec, ':');
    lm::SparseEaseOptions so;
    so.lambda = absl::GetFlag(FLAGS_sparse_ease_lambda);
    if (!absl::SimpleAtoi(parts.first, &so.candidates) || !absl::SimpleAtoi(parts.second, &so.neighbours)) {
      return Fail(absl::InvalidArgumentError("--sparse_ease: candidates:neighbours pairs"));
    }
    const absl::Time t0 = absl::Now();
    auto sm = lm::TrainSparseEase(train, so);
    if (!sm.ok()) return Fail(sm.status());
    std::printf("sparse EASE %d:%d trained in %.2f s, %.1f MiB\n", so.candidates, so.neighbours,
                absl::ToDoubleSeconds(absl::Now() - t0), sm->bytes() / double(1 << 20));
    auto model = std::make_shared<lm::SparseItemModel>(std::move(*sm));
    auto rows = std::make_shared<absl::flat_hash_map<std::string, int>>();
    for (int i = 0; i < model->num_items(); ++i) (*rows)[model->course_ids[i]] = i;
    std::vector<int> row_in_model(universe.size(), -1);
    for (size_t i = 0; i < universe.size(); ++i) {
      auto it = rows->find(universe[i]);
      if (it != rows->end()) row_in_model[i] = it->second;
    }
    // Plain EASE's query: each distinct known history course, weight 1.
    scorers.push_back(
        {absl::StrCat("sparse", so.candidates, ":", so.neighbours), [model, rows, row_in_model](const lm::EvalCase& c) {
           std::vector<std::pair<int, double>> q;
           std::vector<bool> seen(model->num_items(), false);
           for (const lm::HistoryEvent& e : c.history) {
             auto it = rows->find(e.course_id);
             if (it == rows->end() || seen[it->second] || !(e.weight > 0)) continue;
             seen[it->second] = true;
             q.push_back({it->second, 1.0});
           }
           const std::vector<float> s = model->Score(q);
           std::vector<float> out(row_in_model.size(), -1e30f);
           for (size_t i = 0; i < out.size(); ++i) {
             if (row_in_model[i] >= 0) out[i] = s[row_in_model[i]];
           }
           return out;
         }});
  }
  for (absl::string_view spec : absl::StrSplit(absl::GetFlag(FLAGS_sparse_model), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> parts = absl::StrSplit(spec, ':');
    int candidates = 0, neighbours = 0;
    if (!absl::SimpleAtoi(parts.first, &candidates) || !absl::SimpleAtoi(parts.second, &neighbours)) {
      return Fail(absl::InvalidArgumentError("--sparse_model: candidates:neighbours pairs"));
    }
    if (!out.contains("params")) {
      return Fail(absl::InvalidArgumentError("--sparse_model: needs a model trained here"));
    }
    auto params = lm::TrainOptions::FromJson(out["params"]);
    if (!params.ok()) return Fail(params.status());
    const absl::Time t0 = absl::Now();
    auto sm = lm::TrainSparseModel(train, *params, candidates, neighbours);
    if (!sm.ok()) return Fail(sm.status());
    std::printf("sparse model %d:%d trained in %.2f s, %.1f MiB\n", candidates, neighbours,
                absl::ToDoubleSeconds(absl::Now() - t0), sm->bytes() / double(1 << 20));
    // Same vocabulary as the bundle's collaborative rows (rows 0..nc-1), and
    // the bundle's query weights (recency-decayed, normalised).
    for (int i = 0; i < sm->num_items(); ++i) {
      if (sm->course_ids[i] != universe[i]) {
        return Fail(absl::InternalError("--sparse_model: vocabulary differs from the model's"));
      }
    }
    auto model = std::make_shared<lm::SparseItemModel>(std::move(*sm));
    scorers.push_back({absl::StrCat("sparse", candidates, ":", neighbours), [model, bundle](const lm::EvalCase& c) {
                         const auto q = bundle->HistoryRowWeights(c.history);
                         if (q.empty()) return bundle->ScoreAll(c.history);
                         std::vector<float> s = model->Score(q);
                         s.resize(bundle->num_items(), 0.0f);
                         return s;
                       }});
  }
  if (absl::GetFlag(FLAGS_ease_baseline)) {
    // Plain EASE (Steck 2019), lambda 50, unordered history: the trainer's
    // set part alone, no recency, no popularity scaling, same vocabulary.
    lm::TrainOptions ease;
    ease.set_mix = 1;
    ease.lambda_set = absl::GetFlag(FLAGS_sparse_ease_lambda);
    ease.recency_decay = 1;
    ease.popularity_exponent = 0;
    auto ea = lm::TrainModel(train, {}, ease);
    if (!ea.ok()) return Fail(ea.status());
    lm::BuildOptions bo;
    bo.build_indexes = false;
    auto eb = lm::BuildModelBundle(std::move(*ea), nlohmann::json::object(), 0, "", bo);
    if (!eb.ok()) return Fail(eb.status());
    // Its universe may lack catalog-only courses: score in the model's order.
    scorers.push_back({"ease", InUniverseOrder(*eb, universe)});
  }
  // The validation split of `train` with an evenly spaced sample of its
  // learners: what the GRU's epochs and the blend weights are chosen on.
  auto sampled_validation = [&](std::vector<lm::Interaction>* vtrain) {
    std::vector<lm::EvalCase> vcases;
    validation_split(train, vtrain, &vcases);
    return lm::EvenSample(std::move(vcases), lm::kSequenceValidationCases);
  };
  // issue #17: a GRU (models/sequence_model.h) and its blend with the
  // model. Epochs and w are chosen on the validation split only.
  std::optional<lm::SequenceModelOptions> sequence_options;
  // The validation split's GRU and its w, for --choose_blend.
  std::shared_ptr<const lm::SequenceModel> validation_gru;
  double validation_gru_w = 0;
  std::vector<lm::Interaction> sequence_vtrain;
  std::vector<lm::EvalCase> sequence_vcases;
  if (sequence_flag->mode != lm::SequenceModelFlag::Mode::kNone) {
    std::string why = "auto: the model was not trained here (--model_dir)";
    if (out.contains("params")) {
      validation_split(train, &sequence_vtrain, &sequence_vcases);
      auto resolved = sequence_flag->Resolve(sequence_vcases.size(), "--sequence_model", &why);
      if (!resolved.ok()) return Fail(resolved.status());
      sequence_options = *std::move(resolved);
    } else if (sequence_flag->mode == lm::SequenceModelFlag::Mode::kExplicit) {
      return Fail(absl::InvalidArgumentError("--sequence_model: needs a model trained here (not --model_dir)"));
    }
    if (!sequence_options.has_value()) {
      out["sequence_model"] = {{"trained", false}, {"why", why}};
      std::printf("\nno sequence model (%s)\n", why.c_str());
    }
  }
  if (sequence_options.has_value()) {
    const lm::SequenceModelOptions* so = &*sequence_options;
    auto weights = lm::ParseBlendWeights(absl::GetFlag(FLAGS_sequence_blend_weights), "--sequence_blend_weights");
    if (!weights.ok()) return Fail(weights.status());
    auto params = lm::TrainOptions::FromJson(out["params"]);
    if (!params.ok()) return Fail(params.status());
    const std::vector<lm::EvalCase> vcases = lm::EvenSample(std::move(sequence_vcases), lm::kSequenceValidationCases);
    const std::vector<lm::Interaction>& vtrain = sequence_vtrain;
    std::printf("\nsequence model %s: validation split %zu interactions, %zu learners scored\n", so->ToString().c_str(),
                vtrain.size(), vcases.size());
    auto choice = lm::TrainSequenceBlend(
        train, vtrain, vcases, *params, *so, *weights,
        [](const std::string& line) {
          std::printf("%s\n", line.c_str());
          std::fflush(stdout);
        },
        lm::EpochProgressBars(std::cerr, "evaluate: "));
    if (!choice.ok()) return Fail(choice.status());
    validation_gru = choice->validation_model;
    validation_gru_w = choice->w;
    out["sequence_model"] = choice->report;
    out["sequence_model"]["peak_rss_mib"] = PeakRssMiB();
    std::printf(
        "gru: chose %d epochs and w %.2f on validation (%.1f s); final training %.1f s, %.1f MiB, peak RSS %.0f MiB\n",
        choice->epochs, choice->w, choice->report["validation_seconds"].get<double>(),
        choice->report["training_seconds"].get<double>(), choice->model->bytes() / double(1 << 20), PeakRssMiB());
    if (trained_arrays.has_value()) {
      // What the served rows below rank: the model with the GRU blended in.
      trained_arrays->sequence_model = choice->model->Encode();
      trained_arrays->sequence_blend_w = choice->w;
      auto b = lm::BuildModelBundle(*std::move(trained_arrays), nlohmann::json::object(), 0, "");
      if (!b.ok()) return Fail(b.status());
      served_bundle = *b;
    }
    const lm::Scorer gru = lm::SequenceScorer(choice->model, universe);
    scorers.push_back({"gru", gru});
    scorers.push_back({"blend", lm::BlendScorer(lm::BundleScorer(bundle), gru, choice->w)});
  }
  if (!absl::GetFlag(FLAGS_linear_blend).empty()) {
    // issue #17: a second linear model (e.g. a first-order transition model,
    // or plain EASE) blended with the model; w chosen on validation only.
    if (!out.contains("params")) {
      return Fail(absl::InvalidArgumentError("--linear_blend: needs a model trained here (not --model_dir)"));
    }
    auto params = lm::TrainOptions::FromJson(out["params"]);
    if (!params.ok()) return Fail(params.status());
    const nlohmann::json overrides = nlohmann::json::parse(absl::GetFlag(FLAGS_linear_blend), nullptr, false);
    if (!overrides.is_object()) {
      return Fail(absl::InvalidArgumentError("--linear_blend: must be a JSON object of parameters"));
    }
    nlohmann::json second_json = params->ToJson();
    for (const auto& [key, value] : overrides.items()) {
      if (!second_json.contains(key)) {
        return Fail(absl::InvalidArgumentError(absl::StrCat("--linear_blend: unknown parameter \"", key, "\"")));
      }
      second_json[key] = value;
    }
    auto second = lm::TrainOptions::FromJson(second_json);
    if (!second.ok())
      return Fail(absl::InvalidArgumentError(absl::StrCat("--linear_blend: ", second.status().message())));
    auto weights = lm::ParseBlendWeights(absl::GetFlag(FLAGS_linear_blend_weights), "--linear_blend_weights");
    if (!weights.ok()) return Fail(weights.status());
    const double ndcg_weight = absl::GetFlag(FLAGS_tune_ndcg_weight);
    std::vector<lm::Interaction> vtrain;
    const std::vector<lm::EvalCase> vcases = sampled_validation(&vtrain);
    auto vb = validation_bundle(vtrain, *params);
    if (!vb.ok()) return Fail(vb.status());
    auto vb2 = validation_bundle(vtrain, *second);
    if (!vb2.ok()) return Fail(vb2.status());
    const std::vector<std::string>& vuniverse = (*vb)->course_ids();
    const lm::Scorer vfirst = lm::BundleScorer(*vb);
    const lm::Scorer vsecond = InUniverseOrder(*vb2, vuniverse);
    std::printf("\nlinear blend, second model %s: weight w on the validation split (%zu learners; HR@10 / NDCG@10):\n",
                overrides.dump().c_str(), vcases.size());
    double best_w = 0, best_score = -1;
    for (double w : *weights) {
      const lm::RankingMetrics m =
          lm::EvaluateRankingAtKs(vcases, vuniverse, {10}, lm::BlendScorer(vfirst, vsecond, w), {}, 2)[0];
      out["linear_blend"]["grid"].push_back({{"w", w}, {"validation", m.ToJson()}});
      std::printf("  w %5.2f: %.4f / %.4f\n", w, m.hit_rate, m.ndcg);
      std::fflush(stdout);
      const double score = m.recall + ndcg_weight * m.ndcg;
      if (score > best_score) {
        best_score = score;
        best_w = w;
      }
    }
    std::printf("linear blend: chose w %.2f on validation\n", best_w);
    out["linear_blend"]["overrides"] = overrides;
    out["linear_blend"]["params"] = second->ToJson();
    out["linear_blend"]["w"] = best_w;
    absl::StatusOr<lm::ModelArrays> arrays = lm::TrainModel(train, {}, *second);
    if (!arrays.ok()) return Fail(arrays.status());
    lm::BuildOptions bo;
    bo.build_indexes = false;
    auto b2 = lm::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 0, "", bo);
    if (!b2.ok()) return Fail(b2.status());
    const lm::Scorer linear2 = InUniverseOrder(*b2, universe);
    scorers.push_back({"linear2", linear2});
    scorers.push_back({"lblend", lm::BlendScorer(lm::BundleScorer(bundle), linear2, best_w)});
  }
  std::printf("%zu evaluation learners, %zu items ranked (history excluded)\n", cases.size(), universe.size());
  std::printf("%-11s %4s %9s %9s %9s %9s %9s\n", "scorer", "K", "recall", "ndcg", "hr", "precision", "coverage");
  for (const auto& [name, scorer] : scorers) {
    // Every cut-off in one pass, on two threads (the machines have 2 cores).
    lifelong::cli::Progress progress(std::cerr, absl::StrCat("evaluate: ", name), "learners",
                                     static_cast<int64_t>(cases.size()), absl::Seconds(5));
    const std::vector<lm::RankingMetrics> at = lm::EvaluateRankingAtKs(
        cases, universe, ks, scorer, [&progress](int64_t done) { progress.Update(done); }, 2);
    progress.Finish(static_cast<int64_t>(cases.size()));
    for (size_t i = 0; i < ks.size(); ++i) {
      const lm::RankingMetrics& m = at[i];
      out["results"][name][std::to_string(ks[i])] = m.ToJson();
      std::printf("%-11s %4d %9.4f %9.4f %9.4f %9.4f %9.4f\n", name.c_str(), ks[i], m.recall, m.ndcg, m.hit_rate,
                  m.precision, m.coverage);
    }
  }
  if (absl::GetFlag(FLAGS_served) || absl::GetFlag(FLAGS_choose_blend)) {
    lm::ServedRankingOptions served;
    served.weights = lm::ServedBlend();
    if (!absl::GetFlag(FLAGS_categories).empty()) {
      auto cats = lm::ReadCourseCategories(absl::GetFlag(FLAGS_categories));
      if (!cats.ok()) return Fail(cats.status());
      served.category = std::move(*cats);
    }
    // The served ranking is scored at K = 10 when --ks holds 10, else at the
    // first K (the replay compares its live lists at its own K with this).
    const int k = std::find(ks.begin(), ks.end(), 10) != ks.end() ? 10 : ks.front();
    out["served_k"] = k;
    if (absl::GetFlag(FLAGS_served)) {
      // The pure model, the served ranking (blend + category cap) and the
      // served ranking with one re-ranker dropped at a time.
      std::vector<std::pair<std::string, lm::ServedRankingOptions>> variants;
      lm::ServedRankingOptions pure = served;
      pure.blend = false;
      pure.category_cap = false;
      variants.push_back({"model (pure)", pure});
      variants.push_back({"served", served});
      lm::ServedRankingOptions v = served;
      v.weights.popularity = 0;
      variants.push_back({"served - popularity", v});
      v = served;
      v.weights.completion = 0;
      variants.push_back({"served - completion", v});
      v = served;
      v.category_cap = false;
      variants.push_back({"served - category cap", v});
      std::printf(
          "\nserved ranking (blend %s, K=%d; %zu courses with a category) and the cost "
          "of each re-ranker:\n%-22s %9s %9s %9s %9s\n",
          lm::kServedBlendName, k, served.category.size(), "ranking", "recall", "ndcg", "hr", "coverage");
      for (const auto& [name, opts] : variants) {
        lifelong::cli::Progress progress(std::cerr, absl::StrCat("evaluate: ", name), "learners",
                                         static_cast<int64_t>(cases.size()), absl::Seconds(5));
        const lm::RankingMetrics m = lm::EvaluateRankingAtKs(
            cases, universe, {k}, lm::ServedRankingScorer(served_bundle, opts, k),
            [&progress](int64_t done) { progress.Update(done); }, 2)[0];
        out["served"][name] = m.ToJson();
        std::printf("%-22s %9.4f %9.4f %9.4f %9.4f\n", name.c_str(), m.recall, m.ndcg, m.hit_rate, m.coverage);
      }
    }
    if (absl::GetFlag(FLAGS_choose_blend) && absl::GetFlag(FLAGS_model_dir).empty()) {
      // The blend's weights are chosen on the validation split carved out of
      // the training part, as the model's parameters are.
      std::vector<lm::Interaction> vtrain;
      std::vector<lm::EvalCase> vcases;
      validation_split(train, &vtrain, &vcases);
      auto params = lm::TrainOptions::FromJson(out["params"]);
      if (!params.ok()) return Fail(params.status());
      // With the GRU: its validation run's model blended in, as the served
      // model blends the final one (same split as --sequence_model's).
      auto vb = validation_bundle(vtrain, *params, validation_gru, validation_gru_w);
      if (!vb.ok()) return Fail(vb.status());
      out["blend_grid_gru_w"] = validation_gru != nullptr ? validation_gru_w : -1;
      std::printf(
          "\nblend grid on the validation split (%zu learners; cf %.2f, category cap on; %s):\n"
          "%10s %10s %9s %9s\n",
          vcases.size(), served.weights.cf,
          validation_gru != nullptr ? absl::StrFormat("GRU blended in, w %.2f", validation_gru_w).c_str() : "no GRU",
          "popularity", "completion", "hr", "ndcg");
      lifelong::cli::Progress grid(std::cerr, "evaluate: blend grid", "configurations", 15, absl::Seconds(5));
      int configurations = 0;
      for (double pop : {0.0, 0.03, 0.06, 0.12, 0.25}) {
        for (double completion : {0.0, 0.03, 0.1}) {
          grid.Update(configurations++);
          lm::ServedRankingOptions g = served;
          g.weights.popularity = pop;
          g.weights.completion = completion;
          const lm::RankingMetrics m =
              lm::EvaluateRankingAtKs(vcases, (*vb)->course_ids(), {k}, lm::ServedRankingScorer(*vb, g, k), {}, 2)[0];
          out["blend_grid"].push_back({{"popularity", pop}, {"completion", completion}, {"metrics", m.ToJson()}});
          std::printf("%10.2f %10.2f %9.4f %9.4f\n", pop, completion, m.hit_rate, m.ndcg);
          std::fflush(stdout);
        }
      }
      grid.Finish(configurations);
    }
  }
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    FILE* f = std::fopen(absl::GetFlag(FLAGS_json_out).c_str(), "w");
    if (f == nullptr) return Fail(absl::InternalError("cannot write --json_out"));
    std::fputs(out.dump(2).c_str(), f);
    std::fclose(f);
  }
  return 0;
}
