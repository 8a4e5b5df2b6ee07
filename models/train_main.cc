// Trains a recommender model and writes it as the next version under
// --model_root (atomic protocol in model_writer.h).
//
//   train --model_root=var/models --interactions=a.tsv[,b.jsonl]
//         [--records=127.0.0.1:7001] [--catalog=catalog.jsonl]
//         [--test=heldout.jsonl]  # optional: test figures in the manifest
//
// The interactions read are selected first (trainer.h TrainingSequences):
// each learner's kMaxLearnerCourses most recent courses and, with --catalog,
// no course outside the dump that fewer than kMinLearnersOutsideCatalog
// learners name; tuning, the model and the figures all see the selection,
// and the manifest says what it left out ("training.selection").
// Hyper-parameters are tuned on a validation split carved out of the
// training interactions (--tune, default on; --params gives the start point
// or, with --tune=false, the values). The manifest records the training data
// size, the parameters, validation figures with the popularity and item-kNN
// baselines, and the test figures when --test is given.
// Collaborative paths (trainer.h): dense exact up to dense_max_items items
// (4,096), sparse exact above (default: at any size); beyond a cap set by
// --exact_max_items, the approximation of the params ("pruned": the sparse
// rows cut to pruned_neighbours entries, the default; "low_rank": rank
// low_rank_dim + FAISS). On an approximation the Recall@10 of the served
// model against exact scoring, measured on real learner histories of the
// training data, is printed and written to the manifest ("approximation").
// --tls_ca (and --tls_cert/--tls_key where the record service demands a
// client certificate) read --records over TLS (docs/security.md).
#include <cblas.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "models/evaluation.h"
#include "models/interaction_file.h"
#include "models/model_retirement.h"
#include "models/model_writer.h"
#include "models/records_export.h"
#include "models/sequence_blend.h"
#include "models/trainer.h"
#include "services/auth/client_token.h"
#include "services/cli/progress.h"
#include "services/common/grpc_tls.h"
#include "services/common/tls_flags.h"

ABSL_FLAG(std::string, model_root, "", "model root directory (required)");
ABSL_FLAG(std::string, interactions, "", "comma-separated interaction files (docs/models.md)");
ABSL_FLAG(std::string, ratings, "", "comma-separated labelled ratings files (user, course, label)");
ABSL_FLAG(std::string, records, "", "learning-record service host:port to export statements from");
ABSL_FLAG(std::string, catalog, "", "catalog dump (JSON lines) for content vectors");
ABSL_FLAG(std::string, test, "", "optional held-out interaction file for test figures");
ABSL_FLAG(bool, tune, true, "tune hyper-parameters on a validation split of the training data");
ABSL_FLAG(double, valid_fraction, 0.2, "validation fraction per learner");
ABSL_FLAG(int, max_validation_learners, lifelong::models::kMaxValidationCases,
          "validation learners scored per tuning trial at most (an evenly spaced sample above it)");
ABSL_FLAG(double, tune_ndcg_weight, lifelong::models::kTuningNdcgWeight,
          "tuning maximises validation Recall@10 + this x NDCG@10 (docs/models.md, \"The tuning objective\")");
ABSL_FLAG(bool, random_validation, false, "random instead of last-part validation split");
ABSL_FLAG(uint64_t, seed, 1, "seed of the random validation split");
ABSL_FLAG(std::string, sequence_model, "auto",
          "the GRU sequence model served blended with the linear model (issue #17; docs/models.md \"The GRU on "
          "by default\"): 'auto' trains models/sequence_blend.h's kDefaultSequenceSpec "
          "(epochs=12,patience=2,lr=0.005,negatives=512,final=warm,max_predictions=2000000: its validation "
          "epochs bounded by a work budget; 42.7 s of tuning plus training on a 1,000,000-interaction district) "
          "when at least 1,000 learners have a validation part; 'none' trains "
          "none; else models/sequence_model.h options key=value,... (e.g. 'epochs=12,lr=0.005,negatives=512', "
          "the most accurate) or 'default'. Its epochs are chosen on the validation split beside the tuning, "
          "then its blend weight");
ABSL_FLAG(std::string, sequence_blend_weights, "",
          "the blend weights tried for --sequence_model (comma-separated, >= 0; empty: 0,0.1,...,50)");
ABSL_FLAG(std::string, params, "", "JSON object of TrainOptions fields");
ABSL_FLAG(int, exact_max_items, -1,
          "cap on the collaborative items served exactly (sparse item-item matrix) above the "
          "dense limit; beyond it the params' approximation (pruned rows, or low rank + FAISS) "
          "with its recall reported. -1: --params' value, else no cap");

namespace lm = lifelong::models;

namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "train: %s\n", std::string(s.ToString()).c_str());
  return 1;
}

nlohmann::json Figures(const std::vector<lm::EvalCase>& cases, const std::vector<lm::Interaction>& train,
                       std::shared_ptr<const lm::ModelBundle> bundle, const std::string& what) {
  nlohmann::json j;
  const auto& universe = bundle->course_ids();
  std::vector<std::pair<std::string, lm::Scorer>> scorers = {{"model", lm::BundleScorer(bundle)},
                                                             {"popularity", lm::PopularityScorer(train, universe)}};
  if (universe.size() <= lm::kItemKnnMaxItems) {
    scorers.push_back({"item_knn", lm::ItemKnnScorer(train, universe)});
  } else {
    j["item_knn"] = {{"skipped", absl::StrCat("more than ", lm::kItemKnnMaxItems, " items")}};
  }
  for (const auto& [name, scorer] : scorers) {
    lifelong::cli::Progress progress(std::cerr, absl::StrCat("train: ", what, " figures, ", name), "learners",
                                     static_cast<int64_t>(cases.size()), absl::Seconds(5));
    j[name] = lm::EvaluateRankingAtKs(
                  cases, universe, {10}, scorer, [&progress](int64_t done) { progress.Update(done); }, 2)[0]
                  .ToJson();
  }
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  lifelong::models::KeepLargeAllocationsInTheHeap();  // tuning reuses its big matrices (trainer.h)
  absl::ParseCommandLine(argc, argv);
  const std::string root = absl::GetFlag(FLAGS_model_root);
  if (root.empty()) return Fail(absl::InvalidArgumentError("--model_root: required"));
  std::vector<lm::Interaction> data;
  nlohmann::json inputs = nlohmann::json::array();
  std::optional<uint64_t> records_erasure_epoch;  // set when reading from the record service
  bool files_mixed_in = false;                    // interactions from --interactions / --ratings files
  for (absl::string_view path : absl::StrSplit(absl::GetFlag(FLAGS_interactions), ',', absl::SkipEmpty())) {
    auto r = lm::ReadInteractionFile(std::string(path));
    if (!r.ok()) return Fail(r.status());
    inputs.push_back({{"file", std::string(path)}, {"interactions", r->size()}});
    files_mixed_in = true;
    data.insert(data.end(), r->begin(), r->end());
  }
  for (absl::string_view path : absl::StrSplit(absl::GetFlag(FLAGS_ratings), ',', absl::SkipEmpty())) {
    auto r = lm::ReadLabeledRatingsFile(std::string(path));
    if (!r.ok()) return Fail(r.status());
    inputs.push_back({{"ratings_file", std::string(path)}, {"interactions", r->size()}});
    files_mixed_in = true;
    data.insert(data.end(), r->begin(), r->end());
  }
  if (!absl::GetFlag(FLAGS_records).empty()) {
    lm::RecordsExportOptions export_options;
    const absl::Time export_start = absl::Now();
    export_options.on_progress = [export_start](int64_t n) {
      const double secs = std::max(1e-3, absl::ToDoubleSeconds(absl::Now() - export_start));
      std::printf("train: read %lld statements from the record service (%.0f/s)\n", static_cast<long long>(n),
                  n / secs);
      std::fflush(stdout);
    };
    absl::StatusOr<std::string> token = lifelong::auth::ClientTokenFromFlags();  // --token_file / $LIFELONG_TOKEN
    if (!token.ok()) return Fail(token.status());
    export_options.token = *token;
    absl::StatusOr<lifelong::TlsConfig> tls = lifelong::CallingTlsFromFlags();
    if (!tls.ok()) return Fail(tls.status());
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = lifelong::ChannelCredentialsFor(*tls);
    if (!credentials.ok()) return Fail(credentials.status());
    auto stub =
        lifelong::v1::LearningRecordService::NewStub(grpc::CreateChannel(absl::GetFlag(FLAGS_records), *credentials));
    auto r = lm::ReadInteractionsFromRecords(stub.get(), export_options);
    if (!r.ok()) return Fail(r.status());
    inputs.push_back({{"records", absl::GetFlag(FLAGS_records)},
                      {"statements", r->statements},
                      {"interactions", r->interactions.size()},
                      {"last_cursor", r->last_cursor}});
    records_erasure_epoch = r->erasure_epoch;
    data.insert(data.end(), r->interactions.begin(), r->interactions.end());
  }
  std::vector<lm::CatalogCourse> catalog;
  if (!absl::GetFlag(FLAGS_catalog).empty()) {
    auto c = lm::ReadCatalogFile(absl::GetFlag(FLAGS_catalog));
    if (!c.ok()) return Fail(c.status());
    catalog = std::move(*c);
    inputs.push_back({{"catalog", absl::GetFlag(FLAGS_catalog)}, {"courses", catalog.size()}});
  }

  // What every later step sees (tuning, the model, the figures): each
  // learner's most recent courses, and no course that only a few learners
  // name outside the catalog dump (trainer.h TrainingSequences). Tuning has
  // no catalog of its own, so this is done once, here.
  const size_t interactions_read = data.size();
  lm::TrainingSelection selection;
  data = lm::SelectTrainingInteractions(data, catalog, &selection);
  if (selection.outside_catalog_courses > 0 || selection.learners_capped > 0) {
    std::printf(
        "train: left out %lld course(s) outside the catalog dump with fewer than %d learners (%lld learner-course "
        "pairs; %lld outside it kept), and the oldest courses of %lld learner(s) beyond their %d most recent "
        "(%lld pairs)\n",
        static_cast<long long>(selection.outside_catalog_courses), lm::kMinLearnersOutsideCatalog,
        static_cast<long long>(selection.outside_catalog_pairs), static_cast<long long>(selection.outside_catalog_kept),
        static_cast<long long>(selection.learners_capped), lm::kMaxLearnerCourses,
        static_cast<long long>(selection.capped_pairs));
  }

  lm::TrainOptions options;
  if (!absl::GetFlag(FLAGS_params).empty()) {
    auto o = lm::TrainOptions::FromJson(nlohmann::json::parse(absl::GetFlag(FLAGS_params), nullptr, false));
    if (!o.ok()) return Fail(o.status());
    options = *o;
  }
  if (absl::GetFlag(FLAGS_exact_max_items) >= 0) {
    options.exact_max_items = absl::GetFlag(FLAGS_exact_max_items);
  } else if (absl::GetFlag(FLAGS_exact_max_items) != -1) {
    return Fail(absl::InvalidArgumentError("--exact_max_items: must be >= 0 (or -1: default)"));
  }
  auto sequence_flag = lm::SequenceModelFlag::Parse(absl::GetFlag(FLAGS_sequence_model), "--sequence_model");
  if (!sequence_flag.ok()) return Fail(sequence_flag.status());
  std::vector<double> sequence_weights = lm::DefaultSequenceBlendWeights();
  if (const std::string list = absl::GetFlag(FLAGS_sequence_blend_weights); !list.empty()) {
    auto weights = lm::ParseBlendWeights(list, "--sequence_blend_weights");
    if (!weights.ok()) return Fail(weights.status());
    sequence_weights = *std::move(weights);
  }

  nlohmann::json manifest = {{"trainer", "models/train"}, {"inputs", inputs}};
  // Which erasures this model is clean of (models/model_retirement.h): the
  // record service's epoch vouches for its own export only. Interaction or
  // ratings files may hold learners erased since they were written, so a
  // model trained on any of them records no epoch (it counts as epoch 0 and
  // is retired as soon as a model trained after an erasure exists).
  if (records_erasure_epoch && !files_mixed_in) {
    lm::SetErasureEpoch(&manifest, *records_erasure_epoch);
  } else if (records_erasure_epoch) {
    std::printf(
        "train: no erasure epoch recorded: --interactions/--ratings files were mixed into the record "
        "service's export (epoch %llu) and may hold erased learners' statements; this version counts as "
        "epoch 0 (models/model_retirement.h)\n",
        static_cast<unsigned long long>(*records_erasure_epoch));
  }
  const bool random = absl::GetFlag(FLAGS_random_validation);
  const double vf = absl::GetFlag(FLAGS_valid_fraction);
  // The validation split: the figures below, and the GRU's choices.
  std::vector<lm::Interaction> vtrain;
  std::vector<lm::EvalCase> vcases;
  if (random) {
    lm::SplitRandom(data, vf, absl::GetFlag(FLAGS_seed), &vtrain, &vcases);
  } else {
    lm::SplitSequenceTails(data, vf, &vtrain, &vcases);
  }
  const auto say = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  const auto epoch_bars = lm::EpochProgressBars(std::cerr, "train: ");
  // issue #17: the GRU's epochs need no linear model, so they are chosen on
  // another thread while the tuning runs (the machines have two cores). The
  // future's destructor waits for it on every return path. Meanwhile
  // OpenBLAS runs one thread per call: two callers each spawning its threads
  // on two cores made the first GRU epoch 37 s instead of 9-10 s
  // (docs/models.md "The GRU within the budget").
  const int blas_threads = openblas_get_num_threads();
  // Issue #17's budget: from here to the last model trained (the GRU's
  // blend included; the figures below are not part of it).
  const absl::Time work_start = absl::Now();
  const auto report_work_time = [&manifest, work_start] {
    const double seconds = absl::ToDoubleSeconds(absl::Now() - work_start);
    manifest["training"]["tuning_and_training_seconds"] = seconds;
    std::printf("train: tuning and training took %.1f s\n", seconds);
  };
  std::vector<lm::EvalCase> sequence_cases;
  std::string no_sequence_why;
  auto sequence_options = sequence_flag->Resolve(vcases.size(), "--sequence_model", &no_sequence_why);
  if (!sequence_options.ok()) return Fail(sequence_options.status());
  // The GRU's thread: its validation epochs, handed over through
  // `gru_validation` as soon as they are done; then final=warm's epoch,
  // its result, while this thread chooses w (FinishSequenceBlend).
  using WarmFinal = std::pair<std::shared_ptr<const lm::SequenceModel>, double>;  // the GRU, its seconds
  std::promise<absl::StatusOr<lm::SequenceValidationRun>> gru_validation_done;
  std::future<absl::StatusOr<lm::SequenceValidationRun>> gru_validation = gru_validation_done.get_future();
  // Declared after everything its thread touches: its destructor waits first.
  std::future<absl::StatusOr<WarmFinal>> gru_thread;
  if (!sequence_options->has_value()) {
    manifest["sequence_model_training"] = {{"trained", false}, {"why", no_sequence_why}};
    std::printf("train: no sequence model (%s)\n", no_sequence_why.c_str());
  } else {
    sequence_cases = lm::EvenSample(vcases, lm::kSequenceValidationCases);
    std::printf("train: sequence model %s, its epochs chosen on validation beside the tuning\n",
                (*sequence_options)->ToString().c_str());
    openblas_set_num_threads(1);
    gru_thread = std::async(std::launch::async, [&]() -> absl::StatusOr<WarmFinal> {
      auto run = lm::TrainSequenceOnValidation(vtrain, sequence_cases, **sequence_options, say, epoch_bars);
      if (!run.ok() || (*sequence_options)->final_model != "warm") {
        gru_validation_done.set_value(std::move(run));
        return WarmFinal{};
      }
      const std::shared_ptr<const lm::SequenceModel> from = run->model;
      gru_validation_done.set_value(std::move(run));
      // final=warm needs no w: its epoch runs here, beside the choice of w.
      const absl::Time t0 = absl::Now();
      auto warm = lm::TrainWarmFinal(data, *from, **sequence_options, say, epoch_bars);
      if (!warm.ok()) return warm.status();
      return WarmFinal{*std::move(warm), absl::ToDoubleSeconds(absl::Now() - t0)};
    });
  }
  if (absl::GetFlag(FLAGS_tune)) {
    const absl::Time t0 = absl::Now();
    std::printf("train: tuning on a validation split of %zu interactions\n", data.size());
    lifelong::cli::Progress trials(std::cerr, "train: tuning", "trials", lm::kMaxTuningTrials, absl::Seconds(5));
    auto tuned = lm::TuneOnValidation(
        data, options, vf, random, absl::GetFlag(FLAGS_seed), 10,
        [&trials](int done, int most) {
          trials.set_total(most);
          trials.Update(done);
        },
        absl::GetFlag(FLAGS_max_validation_learners), absl::GetFlag(FLAGS_tune_ndcg_weight));
    if (tuned.ok()) trials.Finish(static_cast<int64_t>(tuned->trials.size()));
    if (!tuned.ok()) return Fail(tuned.status());
    options = tuned->best;
    manifest["tuning"] = {{"trials", tuned->trials.size()}, {"items", tuned->items},
                          {"objective", tuned->objective},  {"seconds", absl::ToDoubleSeconds(absl::Now() - t0)},
                          {"valid_fraction", vf},           {"split", random ? "random" : "tail"}};
    std::printf("tuned: %zu trials, validation recall@10 %.4f ndcg@10 %.4f\n", tuned->trials.size(),
                tuned->best_metrics.recall, tuned->best_metrics.ndcg);
  }
  lm::TrainStats stats;
  auto arrays = lm::TrainModel(data, catalog, options, &stats);
  if (!arrays.ok()) return Fail(arrays.status());
  manifest["params"] = options.ToJson();
  manifest["training"] = stats.ToJson();
  std::printf("collaborative path: %s (%lld collaborative items", stats.collaborative_path.c_str(),
              static_cast<long long>(stats.collaborative_items));
  if (stats.collaborative_path == "sparse") {
    std::printf(", %lld item-item entries, served exactly", static_cast<long long>(stats.sparse_entries));
  } else if (stats.collaborative_path == "sparse_pruned") {
    std::printf(", beyond --exact_max_items %d: rows cut to %d entries, %lld of %lld item-item entries served",
                options.exact_max_items, options.pruned_neighbours, static_cast<long long>(stats.sparse_entries),
                static_cast<long long>(stats.exact_entries));
  }
  std::printf(")\n");
  if (stats.approximation_recall_at_10 >= 0) {
    manifest["approximation"] = {{"kind", options.approximation},
                                 {"recall_at_10", stats.approximation_recall_at_10},
                                 {"queries", stats.approximation_queries},
                                 {"k", 10},
                                 {"reference", "exact scores of the item-item matrix M"},
                                 {"queries_from", "training learners' sequences without their last course"}};
    std::printf(
        "approximation: Recall@10 %.4f against exact scoring of M on %lld learner "
        "histories of the training data\n",
        stats.approximation_recall_at_10, static_cast<long long>(stats.approximation_queries));
  }
  manifest["training"]["interactions_read"] = interactions_read;
  manifest["training"]["selection"] = selection.ToJson();  // TrainModel saw the selected data
  if (!gru_thread.valid()) report_work_time();             // with the GRU: once its blend is chosen

  // Figures: validation (model retrained on the validation-train part with
  // the chosen parameters), and test when given.
  {
    if (!vcases.empty()) {
      auto va = lm::TrainModel(vtrain, catalog, options);
      if (!va.ok()) return Fail(va.status());
      lm::BuildOptions bo;
      bo.build_indexes = false;
      auto vb = lm::BuildModelBundle(std::move(*va), nlohmann::json::object(), 0, "", bo);
      if (!vb.ok()) return Fail(vb.status());
      if (gru_thread.valid()) {
        // issue #17: the GRU blend: w (and the final GRU) on the same split,
        // against this validation model.
        absl::StatusOr<lm::SequenceValidationRun> run = gru_validation.get();
        if (!run.ok()) return Fail(run.status());
        const bool warm = (*sequence_options)->final_model == "warm";
        if (warm) {
          run->await_warm_final = [&gru_thread] { return gru_thread.get(); };
        } else {
          openblas_set_num_threads(blas_threads);  // the GRU's thread is done
        }
        auto choice = lm::FinishSequenceBlend(data, *vb, sequence_cases, **sequence_options, sequence_weights, *run,
                                              say, epoch_bars);
        if (!choice.ok()) return Fail(choice.status());
        if (warm) openblas_set_num_threads(blas_threads);
        arrays->sequence_model = choice->model->Encode();
        arrays->sequence_blend_w = choice->w;
        manifest["sequence_model_training"] = choice->report;
        std::printf("sequence model: %d epochs, blend weight %.2f (chosen on validation)\n", choice->epochs, choice->w);
        report_work_time();
      }
      manifest["evaluation"]["validation"] = Figures(vcases, vtrain, *vb, "validation");
    }
  }
  if (!absl::GetFlag(FLAGS_test).empty()) {
    auto test = lm::ReadInteractionFile(absl::GetFlag(FLAGS_test));
    if (!test.ok()) return Fail(test.status());
    lm::BuildOptions bo;
    bo.build_indexes = false;
    auto b = lm::BuildModelBundle(*arrays, nlohmann::json::object(), 0, "", bo);
    if (!b.ok()) return Fail(b.status());
    manifest["evaluation"]["test"] = Figures(lm::CasesFromTrainTest(data, *test), data, *b, "test");
    manifest["evaluation"]["test"]["file"] = absl::GetFlag(FLAGS_test);
  }
  auto version = lm::WriteModelVersion(root, *arrays, manifest);
  if (!version.ok()) return Fail(version.status());
  // Versions trained before an erasure that this one (or another) was
  // trained after are deleted; the recommender already refuses them.
  auto retired = lm::DeleteRetiredVersions(root);
  if (!retired.ok()) return Fail(retired.status());
  for (int64_t v : *retired) {
    std::printf("deleted retired version %s (trained before an erasure)\n", lm::VersionPath(root, v).c_str());
  }
  if (!lm::ErasureEpochOf(manifest)) {
    // Without an epoch the new version is retired at once when another one
    // records a later erasure: say so rather than leave it to the server.
    absl::StatusOr<std::set<int64_t>> still = lm::RetiredVersions(root);
    if (still.ok() && still->count(*version) > 0) {
      std::printf(
          "train: %s is retired (it records no erasure epoch, another version records one): "
          "it will not be served\n",
          lm::VersionPath(root, *version).c_str());
    }
  }
  std::printf("wrote %s (%lld items, %lld learners, %lld interactions, trained in %.2f s)\n",
              lm::VersionPath(root, *version).c_str(), static_cast<long long>(stats.items),
              static_cast<long long>(stats.learners), static_cast<long long>(stats.interactions_used), stats.seconds);
  if (manifest.contains("evaluation")) {
    std::printf("%s\n", manifest["evaluation"].dump(2).c_str());
  }
  return 0;
}
