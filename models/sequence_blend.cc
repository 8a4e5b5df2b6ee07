#include "models/sequence_blend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "models/model_bundle.h"
#include "services/cli/progress.h"

namespace lifelong::models {

absl::StatusOr<SequenceModelFlag> SequenceModelFlag::Parse(absl::string_view value, absl::string_view flag) {
  SequenceModelFlag f;
  if (value.empty() || value == "none") return f;
  f.mode = value == "auto" ? Mode::kAuto : Mode::kExplicit;
  absl::StatusOr<SequenceModelOptions> o = SequenceModelOptions::Parse(f.mode == Mode::kAuto ? kDefaultSequenceSpec
                                                                       : value == "default"  ? ""
                                                                                             : value);
  if (!o.ok()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", o.status().message()));
  f.options = *std::move(o);
  return f;
}

absl::StatusOr<std::optional<SequenceModelOptions>> SequenceModelFlag::Resolve(size_t validation_learners,
                                                                               absl::string_view flag,
                                                                               std::string* why) const {
  std::string reason;
  switch (mode) {
    case Mode::kNone:
      reason = "none asked for";
      break;
    case Mode::kAuto:
      if (validation_learners >= kMinSequenceValidationLearners) return std::optional<SequenceModelOptions>(options);
      reason = absl::StrCat("auto: ", validation_learners, " learner(s) with a validation part, fewer than ",
                            kMinSequenceValidationLearners);
      break;
    case Mode::kExplicit:
      if (validation_learners == 0) {
        return absl::FailedPreconditionError(absl::StrCat(flag, ": no learner has a validation part"));
      }
      return std::optional<SequenceModelOptions>(options);
  }
  if (why != nullptr) *why = reason;
  return std::optional<SequenceModelOptions>();
}

absl::StatusOr<std::vector<double>> ParseBlendWeights(absl::string_view list, absl::string_view flag) {
  std::vector<double> weights;
  for (absl::string_view w : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    double v = 0;
    if (!absl::SimpleAtod(w, &v) || !(v >= 0) || v > 1e6) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": non-negative numbers"));
    }
    weights.push_back(v);
  }
  if (weights.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": empty"));
  return weights;
}

std::vector<float> ZScores(const std::vector<float>& s) {
  double sum = 0, sum2 = 0;
  int64_t n = 0;
  for (float v : s) {
    if (v > -1e29f) {
      sum += v;
      sum2 += static_cast<double>(v) * v;
      ++n;
    }
  }
  const double mean = n > 0 ? sum / n : 0;
  const double var = n > 0 ? std::max(0.0, sum2 / n - mean * mean) : 0;
  const double inv = var > 0 ? 1.0 / std::sqrt(var) : 0.0;
  std::vector<float> z(s.size(), -1e30f);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] > -1e29f) z[i] = static_cast<float>((s[i] - mean) * inv);
  }
  return z;
}

Scorer SequenceScorer(std::shared_ptr<const SequenceModel> model, const std::vector<std::string>& universe) {
  std::vector<int> row(universe.size());
  for (size_t i = 0; i < universe.size(); ++i) row[i] = model->Row(universe[i]);
  return [model, row](const EvalCase& c) {
    std::vector<std::string> history;
    history.reserve(c.history.size());
    for (const HistoryEvent& e : c.history) {
      if (e.weight > 0) history.push_back(e.course_id);
    }
    auto s = model->Score(history);
    const std::vector<float> scores = s.ok() ? *std::move(s) : model->PriorScores();
    std::vector<float> out(row.size(), -1e30f);
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i] >= 0) out[i] = scores[row[i]];
    }
    return out;
  };
}

namespace {

// z(first) + w z(second) from the two z-score vectors (BlendScorer's floats).
std::vector<float> BlendZ(std::vector<float> a, const std::vector<float>& b, double w) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (b[i] > -1e29f && a[i] > -1e29f) a[i] += static_cast<float>(w) * b[i];
  }
  return a;
}

}  // namespace

Scorer BlendScorer(Scorer first, Scorer second, double w) {
  return [first, second, w](const EvalCase& c) { return BlendZ(ZScores(first(c)), ZScores(second(c)), w); };
}

std::vector<RankingMetrics> EvaluateBlendWeights(const std::vector<EvalCase>& cases,
                                                 const std::vector<std::string>& universe, const Scorer& first,
                                                 const Scorer& second, const std::vector<double>& weights,
                                                 int threads) {
  return EvaluateRankingsAtKs(
      cases, universe, {10}, static_cast<int>(weights.size()),
      [&](const EvalCase& c) {
        const std::vector<float> a = ZScores(first(c));
        const std::vector<float> b = ZScores(second(c));
        std::vector<std::vector<float>> blends;
        blends.reserve(weights.size());
        for (double w : weights) blends.push_back(BlendZ(a, b, w));
        return blends;
      },
      {}, threads);
}

std::function<void(absl::string_view, int64_t, int64_t)> EpochProgressBars(std::ostream& out, std::string prefix) {
  struct State {
    std::unique_ptr<cli::Progress> bar;
    std::string label;
  };
  auto state = std::make_shared<State>();
  return [&out, prefix = std::move(prefix), state](absl::string_view what, int64_t done, int64_t total) {
    if (state->bar == nullptr || state->label != what) {
      state->label = std::string(what);
      state->bar =
          std::make_unique<cli::Progress>(out, absl::StrCat(prefix, what), "learners", total, absl::Seconds(5));
    }
    state->bar->Update(done);
    if (done == total) {
      state->bar->Finish(total);
      state->bar.reset();
    }
  };
}

std::vector<EvalCase> EvenSample(std::vector<EvalCase> cases, size_t most) {
  if (cases.size() <= most) return cases;
  std::vector<EvalCase> out;
  out.reserve(most);
  for (size_t i = 0; i < most; ++i) out.push_back(std::move(cases[i * cases.size() / most]));
  return out;
}

namespace {

// Validation HR@10 + NDCG@10 (the criterion for the GRU's epochs and w).
double ValidationScore(const RankingMetrics& m) { return m.hit_rate + m.ndcg; }

// Trains a GRU on `data`: with `valid` cases, epoch by epoch up to
// options.epochs (each scored on `valid` ranked over the model's vocabulary),
// stopping after options.patience epochs without a gain and
// returning the best epoch's snapshot (its epoch count in *best_epoch);
// without, exactly options.epochs epochs.
absl::StatusOr<std::shared_ptr<const SequenceModel>> TrainEpochs(
    const std::vector<Interaction>& data, const SequenceModelOptions& options, const std::string& label,
    const std::vector<EvalCase>* valid, int* best_epoch, nlohmann::json* log,
    const std::function<void(const std::string&)>& say,
    const std::function<void(absl::string_view, int64_t, int64_t)>& progress) {
  auto created = SequenceModel::Create(data, options);
  if (!created.ok()) return created.status();
  auto model = std::make_shared<SequenceModel>(*std::move(created));
  if (say) {
    say(
        absl::StrFormat("%s: %d courses, %d sequences, %d predictions per epoch, %d parameters (%.1f MiB with Adam "
                        "state)",
                        label, model->num_items(), model->num_sequences(), model->num_predictions(),
                        model->num_parameters(), model->bytes() / double(1 << 20)));
  }
  std::shared_ptr<const SequenceModel> best;
  double best_score = -1;
  *best_epoch = 0;
  const absl::Time t0 = absl::Now();
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    if (valid != nullptr && epoch > 1 && options.max_predictions > 0 &&
        epoch * static_cast<int64_t>(model->num_predictions()) > options.max_predictions) {
      if (say) {
        say(absl::StrFormat("%s: stopped after %d epoch(s): another would pass max_predictions %d", label, epoch - 1,
                            options.max_predictions));
      }
      break;
    }
    const std::string what = absl::StrCat(label, " epoch ", epoch, "/", options.epochs);
    auto loss = model->TrainEpoch([&](int64_t done, int64_t total) {
      if (progress) progress(what, done, total);
    });
    if (!loss.ok()) return loss.status();
    const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    nlohmann::json row = {{"epoch", epoch}, {"loss", *loss}, {"seconds", seconds}};
    if (valid == nullptr) {
      if (say) say(absl::StrFormat("%s epoch %d: loss %.4f (%.1f s)", label, epoch, *loss, seconds));
      log->push_back(row);
      continue;
    }
    auto snapshot = std::make_shared<const SequenceModel>(*model);
    const RankingMetrics m =
        EvaluateRankingAtKs(*valid, model->course_ids(), {10}, SequenceScorer(snapshot, model->course_ids()), {}, 2)[0];
    row["validation"] = m.ToJson();
    log->push_back(row);
    if (say) {
      say(absl::StrFormat("%s epoch %d: loss %.4f, validation HR@10 %.4f NDCG@10 %.4f (%.1f s)", label, epoch, *loss,
                          m.hit_rate, m.ndcg, absl::ToDoubleSeconds(absl::Now() - t0)));
    }
    if (ValidationScore(m) > best_score) {
      best_score = ValidationScore(m);
      best = snapshot;
      *best_epoch = epoch;
    } else if (epoch - *best_epoch >= options.patience) {
      break;
    }
  }
  if (valid == nullptr) {
    *best_epoch = options.epochs;
    return std::shared_ptr<const SequenceModel>(model);
  }
  return best;
}

}  // namespace

absl::StatusOr<SequenceValidationRun> TrainSequenceOnValidation(
    const std::vector<Interaction>& vtrain, const std::vector<EvalCase>& vcases, const SequenceModelOptions& options,
    const std::function<void(const std::string&)>& say,
    const std::function<void(absl::string_view, int64_t, int64_t)>& progress) {
  if (vcases.empty()) return absl::InvalidArgumentError("sequence blend: no validation learners");
  const absl::Time t0 = absl::Now();
  SequenceValidationRun run;
  run.epochs_log = nlohmann::json::array();
  // The epochs are chosen on the GRU alone, ranked over its own vocabulary:
  // no linear model is needed yet (train runs this beside the tuning).
  auto model =
      TrainEpochs(vtrain, options, "gru (validation)", &vcases, &run.best_epoch, &run.epochs_log, say, progress);
  if (!model.ok()) return model.status();
  run.model = *std::move(model);
  run.seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  return run;
}

absl::StatusOr<std::shared_ptr<const SequenceModel>> TrainWarmFinal(
    const std::vector<Interaction>& train, const SequenceModel& from, const SequenceModelOptions& options,
    const std::function<void(const std::string&)>& say,
    const std::function<void(absl::string_view, int64_t, int64_t)>& progress) {
  auto created = SequenceModel::Create(train, options);
  if (!created.ok()) return created.status();
  auto model = std::make_shared<SequenceModel>(*std::move(created));
  absl::Status s = model->WarmStart(from);
  if (!s.ok()) return s;
  const absl::Time t0 = absl::Now();
  auto loss = model->TrainEpoch([&](int64_t done, int64_t total) {
    if (progress) progress("gru (warm, all the data) epoch 1/1", done, total);
  });
  if (!loss.ok()) return loss.status();
  if (say) {
    say(absl::StrFormat("gru (warm, all the data) epoch 1: loss %.4f (%.1f s)", *loss,
                        absl::ToDoubleSeconds(absl::Now() - t0)));
  }
  return std::shared_ptr<const SequenceModel>(std::move(model));
}

absl::StatusOr<SequenceBlendChoice> FinishSequenceBlend(
    const std::vector<Interaction>& train, const std::shared_ptr<const ModelBundle>& vlinear,
    const std::vector<EvalCase>& vcases, const SequenceModelOptions& options, const std::vector<double>& weights,
    const SequenceValidationRun& run, const std::function<void(const std::string&)>& say,
    const std::function<void(absl::string_view, int64_t, int64_t)>& progress) {
  if (vcases.empty()) return absl::InvalidArgumentError("sequence blend: no validation learners");
  if (weights.empty()) return absl::InvalidArgumentError("sequence blend: no blend weights");
  if (run.model == nullptr) return absl::InvalidArgumentError("sequence blend: no validation GRU");
  if (vlinear == nullptr) return absl::InvalidArgumentError("sequence blend: no validation linear model");
  SequenceBlendChoice out;
  out.report["options"] = options.ToString();
  out.report["validation_epochs"] = run.epochs_log;
  out.report["best_epoch"] = run.best_epoch;
  const absl::Time t0 = absl::Now();
  // Validation ranks the linear model's universe.
  const std::vector<std::string>& universe = vlinear->course_ids();
  if (say) say("blend weight w on the validation split (HR@10 / NDCG@10):");
  const std::vector<RankingMetrics> grid =
      EvaluateBlendWeights(vcases, universe, BundleScorer(vlinear), SequenceScorer(run.model, universe), weights, 2);
  double best_score = -1;
  for (size_t i = 0; i < weights.size(); ++i) {
    const RankingMetrics& m = grid[i];
    out.report["blend_grid"].push_back({{"w", weights[i]}, {"validation", m.ToJson()}});
    if (say) say(absl::StrFormat("  w %6.2f: %.4f / %.4f", weights[i], m.hit_rate, m.ndcg));
    if (ValidationScore(m) > best_score) {
      best_score = ValidationScore(m);
      out.w = weights[i];
    }
  }
  out.report["blend_w"] = out.w;
  out.validation_model = run.model;
  out.report["validation_seconds"] = run.seconds + absl::ToDoubleSeconds(absl::Now() - t0);
  out.report["model_mib"] = run.model->bytes() / double(1 << 20);
  out.epochs = std::max(1, run.best_epoch);
  out.report["final"] = options.final_model;
  if (options.final_model == "validation") {  // serve the validation model as it is
    out.model = run.model;
    out.report["training_seconds"] = 0.0;
    return out;
  }
  if (options.final_model == "warm") {
    // The warm epoch's own time (wherever it ran), not time spent waiting.
    double warm_seconds = 0;
    if (run.await_warm_final) {
      auto warm = run.await_warm_final();
      if (!warm.ok()) return warm.status();
      out.model = warm->first;
      warm_seconds = warm->second;
    } else {
      const absl::Time t1 = absl::Now();
      auto warm = TrainWarmFinal(train, *run.model, options, say, progress);
      if (!warm.ok()) return warm.status();
      out.model = *std::move(warm);
      warm_seconds = absl::ToDoubleSeconds(absl::Now() - t1);
    }
    out.report["training_seconds"] = warm_seconds;
    out.report["model_mib"] = out.model->bytes() / double(1 << 20);
    return out;
  }
  // The final GRU: the whole training data, the chosen number of epochs.
  SequenceModelOptions final_options = options;
  final_options.epochs = out.epochs;
  const absl::Time t1 = absl::Now();
  int epochs_run = 0;
  nlohmann::json final_log = nlohmann::json::array();
  auto seq = TrainEpochs(train, final_options, "gru", nullptr, &epochs_run, &final_log, say, progress);
  if (!seq.ok()) return seq.status();
  out.model = *std::move(seq);
  out.report["training_epochs"] = final_log;
  out.report["training_seconds"] = absl::ToDoubleSeconds(absl::Now() - t1);
  out.report["model_mib"] = out.model->bytes() / double(1 << 20);
  return out;
}

absl::StatusOr<SequenceBlendChoice> TrainSequenceBlend(
    const std::vector<Interaction>& train, const std::vector<Interaction>& vtrain, const std::vector<EvalCase>& vcases,
    const TrainOptions& linear, const SequenceModelOptions& options, const std::vector<double>& weights,
    const std::function<void(const std::string&)>& say,
    const std::function<void(absl::string_view, int64_t, int64_t)>& progress) {
  if (weights.empty()) return absl::InvalidArgumentError("sequence blend: no blend weights");
  if (vcases.empty()) return absl::InvalidArgumentError("sequence blend: no validation learners");
  // The linear model on the validation training part.
  absl::StatusOr<ModelArrays> arrays = TrainModel(vtrain, {}, linear);
  if (!arrays.ok()) return arrays.status();
  BuildOptions bo;
  bo.build_indexes = false;
  absl::StatusOr<std::shared_ptr<const ModelBundle>> vb =
      BuildModelBundle(*std::move(arrays), nlohmann::json::object(), 0, "", bo);
  if (!vb.ok()) return vb.status();
  auto run = TrainSequenceOnValidation(vtrain, vcases, options, say, progress);
  if (!run.ok()) return run.status();
  return FinishSequenceBlend(train, *vb, vcases, options, weights, *run, say, progress);
}

}  // namespace lifelong::models
