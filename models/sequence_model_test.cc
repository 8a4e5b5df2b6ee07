#include "models/sequence_model.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "models/interaction.h"

namespace lifelong::models {
namespace {

// A chain of `courses` courses c0 -> c1 -> ...: learner l takes 3-6
// consecutive courses starting at a position that cycles through the chain.
std::vector<Interaction> Chain(int learners, int courses) {
  std::vector<Interaction> out;
  for (int l = 0; l < learners; ++l) {
    const int len = 3 + l % 4;
    const int start = (l * 7) % (courses - len + 1);
    for (int i = 0; i < len; ++i) {
      out.push_back({absl::StrCat("u", l), absl::StrCat("c", start + i), i, 1.0f});
    }
  }
  return out;
}

SequenceModelOptions Small() {
  SequenceModelOptions o;
  o.dim = 16;
  o.hidden = 24;
  o.batch = 16;
  o.learning_rate = 0.01;
  o.max_len = 10;
  return o;
}

// Top-1 course not in the history.
std::string Top1(const SequenceModel& m, const std::vector<std::string>& history) {
  auto s = m.Score(history);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return "";
  int best = -1;
  for (int j = 0; j < m.num_items(); ++j) {
    if (std::find(history.begin(), history.end(), m.course_ids()[j]) != history.end()) continue;
    if (best < 0 || (*s)[j] > (*s)[best]) best = j;
  }
  return m.course_ids()[best];
}

// Every prefix (1-4 courses) of every window of the chain c0 -> c1 -> ...:
// the next course is the top 1 for at least 95% of them.
void ExpectChainLearnt(const SequenceModel& m, int courses) {
  int hits = 0, cases = 0;
  for (int start = 0; start + 2 < courses; ++start) {
    for (int len = 1; len <= 4 && start + len < courses; ++len) {
      std::vector<std::string> h;
      for (int i = 0; i < len; ++i) h.push_back(absl::StrCat("c", start + i));
      ++cases;
      if (Top1(m, h) == absl::StrCat("c", start + len)) ++hits;
    }
  }
  EXPECT_GE(hits, cases * 95 / 100) << hits << " of " << cases;
}

TEST(SequenceModel, LearnsADeterministicOrder) {
  const int courses = 20;
  auto m = SequenceModel::Create(Chain(300, courses), Small());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->num_items(), courses);
  double first = 0, last = 0;
  for (int e = 0; e < 25; ++e) {
    auto loss = m->TrainEpoch();
    ASSERT_TRUE(loss.ok()) << loss.status();
    if (e == 0) first = *loss;
    last = *loss;
  }
  EXPECT_LT(last, first / 4) << "first epoch " << first << ", last " << last;
  ExpectChainLearnt(*m, courses);
}

TEST(SequenceModel, OrderMattersNotJustTheSet) {
  // Same two courses, opposite orders, different continuations: only a
  // model of the order can tell them apart.
  std::vector<Interaction> data;
  for (int l = 0; l < 200; ++l) {
    const bool ab = l % 2 == 0;
    const std::string u = absl::StrCat("u", l);
    data.push_back({u, ab ? "a" : "b", 0, 1.0f});
    data.push_back({u, ab ? "b" : "a", 1, 1.0f});
    data.push_back({u, ab ? "x" : "y", 2, 1.0f});
  }
  auto m = SequenceModel::Create(data, Small());
  ASSERT_TRUE(m.ok()) << m.status();
  for (int e = 0; e < 30; ++e) ASSERT_TRUE(m->TrainEpoch().ok());
  EXPECT_EQ(Top1(*m, {"a", "b"}), "x");
  EXPECT_EQ(Top1(*m, {"b", "a"}), "y");
}

TEST(SequenceModel, SampledSoftmaxLearnsADeterministicOrder) {
  // 40 courses, 6 drawn negatives a batch: most courses are outside a
  // batch's candidates, and the chain must still be learnt.
  const int courses = 40;
  SequenceModelOptions o = Small();
  o.negatives = 6;
  auto m = SequenceModel::Create(Chain(600, courses), o);
  ASSERT_TRUE(m.ok()) << m.status();
  for (int e = 0; e < 25; ++e) ASSERT_TRUE(m->TrainEpoch().ok());
  ExpectChainLearnt(*m, courses);
}

TEST(SequenceModel, SampledCandidatesHoldTheTargetsAndTheirInclusionChance) {
  auto m = SequenceModel::Create(Chain(200, 30), [] {
    SequenceModelOptions o = Small();
    o.negatives = 10;
    return o;
  }());
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<int> targets = {3, 3, 7, 1};
  std::vector<int> candidates, again;
  std::vector<float> log_q, log_q_again;
  m->DrawCandidates(targets, 42, &candidates, &log_q);
  // The targets first, each once, then distinct drawn rows.
  ASSERT_GE(candidates.size(), 3u);
  EXPECT_EQ(std::vector<int>(candidates.begin(), candidates.begin() + 3), (std::vector<int>{3, 7, 1}));
  std::vector<int> sorted = candidates;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a candidate twice";
  EXPECT_GT(candidates.size(), 3u) << "no negative drawn";
  EXPECT_LE(candidates.size(), 3u + 10u);
  for (size_t c = 0; c < candidates.size(); ++c) {
    EXPECT_LT(log_q[c], 0.0f) << "an inclusion chance must be in (0, 1)";
    EXPECT_TRUE(std::isfinite(log_q[c]));
  }
  // The same seed draws the same set; another seed another one.
  m->DrawCandidates(targets, 42, &again, &log_q_again);
  EXPECT_EQ(again, candidates);
  EXPECT_EQ(log_q_again, log_q);
  m->DrawCandidates(targets, 43, &again, &log_q_again);
  EXPECT_NE(again, candidates);
}

TEST(SequenceModel, TrainingIsDeterministicForASeed) {
  const std::vector<Interaction> data = Chain(100, 15);
  for (int negatives : {0, 4}) {
    auto train = [&data, negatives](uint64_t seed) {
      SequenceModelOptions o = Small();
      o.seed = seed;
      o.negatives = negatives;
      auto m = SequenceModel::Create(data, o);
      EXPECT_TRUE(m.ok());
      for (int e = 0; e < 3; ++e) EXPECT_TRUE(m->TrainEpoch().ok());
      return m->parameters();
    };
    const std::vector<float> a = train(7), b = train(7), c = train(8);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin())) << "same seed, different floats; negatives " << negatives;
    EXPECT_FALSE(std::equal(a.begin(), a.end(), c.begin())) << "the seed is ignored; negatives " << negatives;
  }
}

// Mean cross-entropy of every prefix -> next course, computed through
// Score() (a separate forward pass from training's), in double.
double ScoreLoss(const SequenceModel& m, const std::vector<std::vector<std::string>>& sequences) {
  double loss = 0;
  int count = 0;
  for (const auto& seq : sequences) {
    for (size_t t = 1; t < seq.size(); ++t) {
      auto s = m.Score(std::vector<std::string>(seq.begin(), seq.begin() + t));
      EXPECT_TRUE(s.ok());
      double mx = -1e300, sum = 0;
      for (float v : *s) mx = std::max(mx, static_cast<double>(v));
      for (float v : *s) sum += std::exp(v - mx);
      loss -= (*s)[m.Row(seq[t])] - mx - std::log(sum);
      ++count;
    }
  }
  return loss / count;
}

// Learner u<i> takes sequences[i] in order.
std::vector<Interaction> Learners(const std::vector<std::vector<std::string>>& sequences) {
  std::vector<Interaction> data;
  for (size_t l = 0; l < sequences.size(); ++l) {
    for (size_t t = 0; t < sequences[l].size(); ++t) {
      data.push_back({absl::StrCat("u", l), sequences[l][t], static_cast<int64_t>(t), 1.0f});
    }
  }
  return data;
}

TEST(SequenceModel, GradientMatchesFiniteDifferences) {
  const std::vector<std::vector<std::string>> sequences = {
      {"a", "b", "c", "d"}, {"b", "c"}, {"c", "a", "e", "b", "f"}, {"e", "f", "a"}};
  const std::vector<Interaction> data = Learners(sequences);
  SequenceModelOptions o;
  o.dim = 3;
  o.hidden = 4;
  auto m = SequenceModel::Create(data, o);
  ASSERT_TRUE(m.ok()) << m.status();
  // Move away from the initial point so every gate is exercised.
  for (int e = 0; e < 5; ++e) ASSERT_TRUE(m->TrainEpoch().ok());
  std::vector<float> grad;
  const double loss = m->LossAndGradient(&grad);
  EXPECT_NEAR(loss, ScoreLoss(*m, sequences), 1e-4);
  ASSERT_EQ(grad.size(), m->parameters().size());
  int checked = 0;
  for (size_t i = 0; i < grad.size(); ++i) {
    const float keep = (*m->mutable_parameters())[i];
    const float h = 1e-2f;
    (*m->mutable_parameters())[i] = keep + h;
    const double up = ScoreLoss(*m, sequences);
    (*m->mutable_parameters())[i] = keep - h;
    const double down = ScoreLoss(*m, sequences);
    (*m->mutable_parameters())[i] = keep;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(grad[i], numeric, 2e-3 + 0.02 * std::abs(numeric)) << "parameter " << i;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(m->num_parameters()));
}

// The sampled loss of every prefix -> next course through Score(): the
// softmax over `candidates` only, each logit corrected by -log_q.
double SampledScoreLoss(const SequenceModel& m, const std::vector<std::vector<std::string>>& sequences,
                        const std::vector<int>& candidates, const std::vector<float>& log_q) {
  double loss = 0;
  int count = 0;
  for (const auto& seq : sequences) {
    for (size_t t = 1; t < seq.size(); ++t) {
      auto s = m.Score(std::vector<std::string>(seq.begin(), seq.begin() + t));
      EXPECT_TRUE(s.ok());
      std::vector<double> logits;
      double target = 0;
      for (size_t c = 0; c < candidates.size(); ++c) {
        logits.push_back(static_cast<double>((*s)[candidates[c]]) - log_q[c]);
        if (candidates[c] == m.Row(seq[t])) target = logits.back();
      }
      double mx = *std::max_element(logits.begin(), logits.end()), sum = 0;
      for (double v : logits) sum += std::exp(v - mx);
      loss -= target - mx - std::log(sum);
      ++count;
    }
  }
  return loss / count;
}

TEST(SequenceModel, SampledGradientMatchesFiniteDifferences) {
  const std::vector<std::vector<std::string>> sequences = {{"a", "b", "c", "d"}, {"b", "c"}, {"c", "a", "e", "b", "f"},
                                                           {"e", "f", "a"},      {"g", "h"}, {"i", "j"}};
  const std::vector<Interaction> data = Learners(sequences);
  std::vector<int> targets;
  SequenceModelOptions o;
  o.dim = 3;
  o.hidden = 5;  // not a multiple of the kernels' 4 lanes (the first test has 4)
  o.negatives = 2;
  auto m = SequenceModel::Create(data, o);
  ASSERT_TRUE(m.ok()) << m.status();
  for (int e = 0; e < 5; ++e) ASSERT_TRUE(m->TrainEpoch().ok());
  for (const auto& seq : sequences) {
    for (size_t t = 1; t < seq.size(); ++t) targets.push_back(m->Row(seq[t]));
  }
  const uint64_t sample_seed = 5;
  std::vector<int> candidates;
  std::vector<float> log_q;
  m->DrawCandidates(targets, sample_seed, &candidates, &log_q);
  // Some course is outside the candidates, so the sampled loss differs from
  // the full one, and its output row gets no gradient.
  ASSERT_LT(candidates.size(), static_cast<size_t>(m->num_items()));
  std::vector<float> grad;
  const double loss = m->LossAndGradient(&grad, sample_seed);
  EXPECT_NEAR(loss, SampledScoreLoss(*m, sequences, candidates, log_q), 1e-4);
  EXPECT_GT(std::abs(loss - ScoreLoss(*m, sequences)), 1e-3) << "the sampled loss is the full one";
  for (size_t i = 0; i < grad.size(); ++i) {
    const float keep = (*m->mutable_parameters())[i];
    const float h = 1e-2f;
    (*m->mutable_parameters())[i] = keep + h;
    const double up = SampledScoreLoss(*m, sequences, candidates, log_q);
    (*m->mutable_parameters())[i] = keep - h;
    const double down = SampledScoreLoss(*m, sequences, candidates, log_q);
    (*m->mutable_parameters())[i] = keep;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(grad[i], numeric, 2e-3 + 0.02 * std::abs(numeric)) << "parameter " << i;
  }
}

// Score() is the GRU of sequence_model.h's formulas over parameters() in
// its documented layout, within float rounding: the vectorised exponential,
// gates and tails (dim 5, hidden 7, 7 courses: no multiple of 4 lanes)
// against a plain double-precision GRU with libm's exp and tanh.
TEST(SequenceModel, ScoreIsThePlainGruOverTheParameters) {
  const std::vector<std::vector<std::string>> sequences = {
      {"a", "b", "c", "d"}, {"b", "c"}, {"c", "a", "e", "b", "f"}, {"e", "f", "g"}};
  SequenceModelOptions o;
  o.dim = 5;
  o.hidden = 7;
  o.learning_rate = 0.05;
  auto m = SequenceModel::Create(Learners(sequences), o);
  ASSERT_TRUE(m.ok()) << m.status();
  for (int e = 0; e < 5; ++e) ASSERT_TRUE(m->TrainEpoch().ok());
  const int n = m->num_items(), d = 5, H = 7;
  ASSERT_EQ(n, 7);
  const std::vector<float>& p = m->parameters();
  const size_t ein = 0, wx = ein + n * d, bx = wx + 3 * H * d, uh = bx + 3 * H, bh = uh + 3 * H * H, eout = bh + 3 * H,
               bout = eout + n * H;
  ASSERT_EQ(p.size(), bout + n);
  auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };
  for (const std::vector<std::string>& history :
       std::vector<std::vector<std::string>>{{"a"}, {"c", "a", "e"}, {"e", "f", "g", "a", "b", "c", "d"}}) {
    std::vector<double> h(H, 0.0);
    for (const std::string& course : history) {
      const int item = m->Row(course);
      ASSERT_GE(item, 0);
      std::vector<double> gx(3 * H), gh(3 * H), next(H);
      for (int g = 0; g < 3 * H; ++g) {
        gx[g] = p[bx + g];
        for (int k = 0; k < d; ++k) gx[g] += static_cast<double>(p[wx + g * d + k]) * p[ein + item * d + k];
        gh[g] = p[bh + g];
        for (int k = 0; k < H; ++k) gh[g] += static_cast<double>(p[uh + g * H + k]) * h[k];
      }
      for (int k = 0; k < H; ++k) {
        const double r = sigmoid(gx[k] + gh[k]), z = sigmoid(gx[H + k] + gh[H + k]);
        const double nn = std::tanh(gx[2 * H + k] + r * gh[2 * H + k]);
        next[k] = (1 - z) * nn + z * h[k];
      }
      h = next;
    }
    auto scores = m->Score(history);
    ASSERT_TRUE(scores.ok()) << scores.status();
    for (int j = 0; j < n; ++j) {
      double want = p[bout + j];
      for (int k = 0; k < H; ++k) want += static_cast<double>(p[eout + j * H + k]) * h[k];
      EXPECT_NEAR((*scores)[j], want, 1e-5 * (1 + std::abs(want))) << "course " << j << " after " << history.size();
    }
  }
}

// A parameter that is not a number makes the epoch's loss one, and
// TrainEpoch says the training diverged (the fast exponential keeps NaN).
TEST(SequenceModel, ANonFiniteParameterIsReportedAsDivergence) {
  SequenceModelOptions o = Small();
  auto m = SequenceModel::Create(Chain(40, 12), o);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->TrainEpoch().ok());
  (*m->mutable_parameters())[m->num_parameters() - 1] = std::nanf("");  // the last course's output bias
  auto loss = m->TrainEpoch();
  ASSERT_FALSE(loss.ok());
  EXPECT_EQ(loss.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(loss.status().message().find("diverged"), std::string::npos) << loss.status();
}

// Lazy Adam: a course's input embedding moves only in the minibatches where
// it is an input (dense Adam would go on moving it on its momentum), while
// the GRU's weights move in every one.
TEST(SequenceModel, EmbeddingRowsMoveOnlyInMinibatchesThatUseThem) {
  std::vector<std::vector<std::string>> sequences = {{"x", "y"}};
  for (int i = 0; i < 7; ++i) sequences.push_back({"p", "q", "r"});
  SequenceModelOptions o = Small();
  o.batch = 1;
  o.negatives = 2;
  auto m = SequenceModel::Create(Learners(sequences), o);
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<float>& params = m->parameters();
  const size_t x = static_cast<size_t>(m->Row("x")) * o.dim;  // e_in comes first (see Encode)
  const size_t wx = static_cast<size_t>(m->num_items()) * o.dim;
  auto x_row = [&] { return std::vector<float>(params.begin() + x, params.begin() + x + o.dim); };
  auto gru_weights = [&] {
    return std::vector<float>(params.begin() + wx, params.begin() + wx + 3 * o.hidden * o.dim);
  };
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<float> last_x = x_row(), last_wx = gru_weights();
    int batches = 0, x_moves = 0, wx_moves = 0;
    ASSERT_TRUE(m->TrainEpoch([&](int64_t, int64_t) {
                   ++batches;
                   if (x_row() != last_x) ++x_moves;
                   if (gru_weights() != last_wx) ++wx_moves;
                   last_x = x_row();
                   last_wx = gru_weights();
                 }).ok());
    EXPECT_EQ(batches, 8);
    EXPECT_EQ(x_moves, 1) << "epoch " << epoch;
    EXPECT_EQ(wx_moves, 8) << "epoch " << epoch;
  }
}

// A warm start scores the courses both vocabularies hold exactly as the
// model it started from, whatever their rows; it refuses other shapes.
TEST(SequenceModel, WarmStartContinuesFromAnotherVocabulary) {
  const std::vector<Interaction> part = Chain(40, 12);
  auto from = SequenceModel::Create(part, Small());
  ASSERT_TRUE(from.ok()) << from.status();
  for (int e = 0; e < 3; ++e) ASSERT_TRUE(from->TrainEpoch().ok());
  // All the data: a new course first (so every row moves), then the part.
  std::vector<Interaction> all = {{"n1", "new", 0, 1.0f}, {"n1", "c0", 1, 1.0f}};
  all.insert(all.end(), part.begin(), part.end());
  auto to = SequenceModel::Create(all, Small());
  ASSERT_TRUE(to.ok()) << to.status();
  ASSERT_NE(to->Row("c3"), from->Row("c3"));
  ASSERT_TRUE(to->WarmStart(*from).ok());
  const std::vector<std::string> history = {"c2", "c3", "c4"};
  auto a = from->Score(history);
  auto b = to->Score(history);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int j = 0; j < from->num_items(); ++j) {
    EXPECT_EQ((*a)[j], (*b)[to->Row(from->course_ids()[j])]) << from->course_ids()[j];
  }
  // It then trains on all the data, from there.
  ASSERT_TRUE(to->TrainEpoch().ok());
  EXPECT_EQ(to->epochs_done(), 1);

  SequenceModelOptions other = Small();
  other.hidden = Small().hidden + 1;
  auto wrong = SequenceModel::Create(all, other);
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->WarmStart(*from).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SequenceModelOptions, ParsesAndRejectsNamingTheField) {
  auto o = SequenceModelOptions::Parse("epochs=3,hidden=32,lr=0.01,seed=9,negatives=256,final=warm");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->final_model, "warm");
  EXPECT_EQ(SequenceModelOptions().final_model, "scratch");
  EXPECT_EQ(o->negatives, 256);
  EXPECT_EQ(o->epochs, 3);
  EXPECT_EQ(o->hidden, 32);
  EXPECT_DOUBLE_EQ(o->learning_rate, 0.01);
  EXPECT_EQ(o->seed, 9u);
  EXPECT_EQ(o->dim, SequenceModelOptions().dim);
  auto round = SequenceModelOptions::Parse(o->ToString());
  ASSERT_TRUE(round.ok()) << round.status();
  EXPECT_EQ(round->ToString(), o->ToString());
  EXPECT_TRUE(SequenceModelOptions::Parse("").ok());
  // max_predictions: shown only when set, and read back.
  EXPECT_EQ(o->ToString().find("max_predictions"), std::string::npos);
  auto budget = SequenceModelOptions::Parse("epochs=12,max_predictions=2000000");
  ASSERT_TRUE(budget.ok()) << budget.status();
  EXPECT_EQ(budget->max_predictions, 2000000);
  EXPECT_NE(budget->ToString().find(",max_predictions=2000000"), std::string::npos) << budget->ToString();
  auto budget_round = SequenceModelOptions::Parse(budget->ToString());
  ASSERT_TRUE(budget_round.ok()) << budget_round.status();
  EXPECT_EQ(budget_round->max_predictions, 2000000);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"max_predictions=-1", "max_predictions"},
      {"max_predictions=1e6", "max_predictions"},
      {"max_predictions=1000000000001", "max_predictions"},
      {"hidden=0", "hidden"},
      {"dim=5000", "dim"},
      {"max_len=1", "max_len"},
      {"epochs=-1", "epochs"},
      {"batch=0", "batch"},
      {"negatives=-1", "negatives"},
      {"negatives=100001", "negatives"},
      {"lr=0", "lr"},
      {"lr=abc", "lr"},
      {"lr=nan", "lr"},
      {"patience=101", "patience"},
      {"patience=0", "patience"},
      {"hidden=12x", "hidden"},
      {"epoch=3", "epoch"},
      {"epochs=2,epochs=3", "epochs"},
      {"seed=-1", "seed"},
      {"dim", "dim"},
      {"final=2", "final"},
      {"final=", "final"},
      {"final=Warm", "final"},
  };
  for (const auto& [spec, field] : bad) {
    auto r = SequenceModelOptions::Parse(spec);
    ASSERT_FALSE(r.ok()) << spec;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(r.status().message().find(field), std::string::npos) << spec << ": " << r.status();
  }
}

TEST(SequenceModel, CreateRejectsBadOptionsAndDataWithoutSequences) {
  SequenceModelOptions o = Small();
  o.batch = 0;
  auto m = SequenceModel::Create(Chain(10, 10), o);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("batch"), std::string::npos) << m.status();

  // One course per learner (and a non-positive weight): nothing to predict.
  std::vector<Interaction> singles = {{"u1", "a", 0, 1.0f}, {"u2", "b", 0, 1.0f}, {"u2", "c", 1, 0.0f}};
  m = SequenceModel::Create(singles, Small());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(SequenceModel::Create({}, Small()).ok());
}

TEST(SequenceModel, EmptyAndUnknownHistories) {
  auto m = SequenceModel::Create(Chain(50, 10), Small());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->TrainEpoch().ok());
  auto empty = m->Score({});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  auto unknown = m->Score({"nope", "also-not"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m->PriorScores().size(), static_cast<size_t>(m->num_items()));
  // Unknown courses are skipped: the same scores as the known part alone.
  auto known = m->Score({"c1", "c2"});
  auto mixed = m->Score({"zz", "c1", "zz2", "c2"});
  ASSERT_TRUE(known.ok() && mixed.ok());
  EXPECT_EQ(*known, *mixed);
  EXPECT_EQ(m->Row("c1") >= 0, true);
  EXPECT_EQ(m->Row("zz"), -1);
}

TEST(SequenceModel, ReadsOnlyTheLastMaxLenCourses) {
  SequenceModelOptions o = Small();
  o.max_len = 3;
  auto m = SequenceModel::Create(Chain(50, 10), o);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->TrainEpoch().ok());
  auto a = m->Score({"c0", "c1", "c2", "c3", "c4"});
  auto b = m->Score({"c2", "c3", "c4"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(SequenceModel, EncodedModelScoresExactlyAsTheTrainedOne) {
  SequenceModelOptions o = Small();
  o.negatives = 4;
  auto m = SequenceModel::Create(Chain(80, 12), o);
  ASSERT_TRUE(m.ok()) << m.status();
  for (int e = 0; e < 2; ++e) ASSERT_TRUE(m->TrainEpoch().ok());
  const std::string bytes = m->Encode();
  auto d = SequenceModel::Decode(bytes);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->course_ids(), m->course_ids());
  EXPECT_EQ(d->parameters(), m->parameters());
  EXPECT_EQ(d->options().max_len, o.max_len);
  for (const std::vector<std::string>& h :
       std::vector<std::vector<std::string>>{{"c0"},
                                             {"c3", "c4", "c5"},
                                             {"zz", "c7", "c8"},
                                             {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10"}}) {
    auto want = m->Score(h);
    auto got = d->Score(h);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(*got, *want) << "history of " << h.size();
  }
  EXPECT_EQ(d->PriorScores(), m->PriorScores());
  EXPECT_EQ(d->Encode(), bytes);
  // Memory: the trained model holds parameters, gradient and two Adam
  // moments; the decoded one parameters and its n x 3H input table.
  EXPECT_EQ(m->bytes(), static_cast<int64_t>(4 * sizeof(float) * m->parameters().size()));
  EXPECT_EQ(d->bytes(), static_cast<int64_t>(sizeof(float) * (d->parameters().size() +
                                                              static_cast<size_t>(d->num_items()) * 3 * o.hidden)));
  // A decoded model scores; it does not train.
  EXPECT_EQ(d->TrainEpoch().status().code(), absl::StatusCode::kFailedPrecondition);
  // Given the weights of the trained model one epoch on, it scores as that
  // model (its per-course input table and the states cached for the
  // histories above are not used stale).
  ASSERT_TRUE(m->TrainEpoch().ok());
  *d->mutable_parameters() = m->parameters();
  for (const std::vector<std::string>& h : std::vector<std::vector<std::string>>{{"c3", "c4"}, {"c3", "c4", "c5"}}) {
    auto later = d->Score(h);
    ASSERT_TRUE(later.ok());
    EXPECT_EQ(*later, *m->Score(h)) << "history of " << h.size();
  }
}

// A decoded model's state cache: asking again with the same courses read
// (the same history, or one that differs only in what Score skips: courses
// before the last max_len known ones, courses outside the vocabulary) is a
// hit, and every answer is bit for bit the trained model's; a different
// order is a different state. A copy shares the cache and scores alike.
TEST(SequenceModel, DecodedModelAnswersRepeatedHistoriesFromItsStateCacheExactly) {
  SequenceModelOptions o = Small();
  o.max_len = 4;
  auto m = SequenceModel::Create(Chain(80, 12), o);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->TrainEpoch().ok());
  EXPECT_EQ(m->state_cache_stats().hits + m->state_cache_stats().misses, 0);  // training models have none
  auto d = SequenceModel::Decode(m->Encode());
  ASSERT_TRUE(d.ok()) << d.status();
  const std::vector<std::vector<std::string>> histories = {
      {"c1", "c2", "c3"},                    // miss
      {"c1", "c2", "c3"},                    // hit
      {"zz", "c1", "c2", "zz", "c3"},        // hit: the same rows read
      {"c3", "c2", "c1"},                    // miss: another order
      {"c0", "c1", "c2", "c3", "c4", "c5"},  // miss: reads c2..c5
      {"c9", "c2", "c3", "c4", "c5"},        // hit: reads c2..c5 too
      {"c5"},                                // miss
  };
  for (const std::vector<std::string>& h : histories) {
    auto want = m->Score(h);
    auto got = d->Score(h);
    ASSERT_TRUE(want.ok() && got.ok());
    ASSERT_EQ(*got, *want) << absl::StrJoin(h, ",");
  }
  EXPECT_EQ(d->state_cache_stats().hits, 3);
  EXPECT_EQ(d->state_cache_stats().misses, 4);
  const SequenceModel copy = *d;
  EXPECT_EQ(*copy.Score({"c3", "c2", "c1"}), *m->Score({"c3", "c2", "c1"}));
  EXPECT_EQ(d->state_cache_stats().hits, 4);
}

// A model trained one epoch on Chain(80, 12) (Small(), max_len 3) and its
// decoded copy, whose state cache holds `states` per generation and shard
// (set_state_cache_bytes with StateCache's estimate at hidden 24).
void TrainWithSmallStateCache(int states, std::optional<SequenceModel>* trained,
                              std::optional<SequenceModel>* decoded) {
  SequenceModelOptions o = Small();
  o.max_len = 3;
  auto m = SequenceModel::Create(Chain(80, 12), o);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->TrainEpoch().ok());
  auto d = SequenceModel::Decode(m->Encode());
  ASSERT_TRUE(d.ok()) << d.status();
  d->set_state_cache_bytes(2 * 16 * states * (4 * (o.hidden + o.max_len) + 96));
  trained->emplace(*std::move(m));
  decoded->emplace(*std::move(d));
}

// Many threads scoring through one small cache at once (hits, misses,
// promotions from the older generation and generation turns racing): every
// answer is still the trained model's.
TEST(SequenceModel, StateCacheIsExactUnderConcurrentScoring) {
  std::optional<SequenceModel> m, d;
  ASSERT_NO_FATAL_FAILURE(TrainWithSmallStateCache(4, &m, &d));
  std::vector<std::vector<std::string>> windows;
  for (int a = 0; a < 12; ++a) {
    for (int b = 0; b < 12; ++b) {
      if (a != b) windows.push_back({absl::StrCat("c", a), absl::StrCat("c", b)});
    }
  }
  std::vector<std::vector<float>> want;
  for (const auto& w : windows) want.push_back(*m->Score(w));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 3000; ++i) {
        // Mostly a few popular windows (hits), sometimes any (misses).
        const size_t w = rng() % 4 != 0 ? rng() % 8 : rng() % windows.size();
        auto got = d->Score(windows[w]);
        if (!got.ok() || *got != want[w]) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  const SequenceModel::StateCacheStats stats = d->state_cache_stats();
  EXPECT_EQ(stats.hits + stats.misses, 8 * 3000);
  EXPECT_GT(stats.hits, stats.misses);
}

// The cache is bounded: with room for a few states per shard, far more
// distinct histories are all scored exactly (states are dropped, never
// mixed up), and one asked for again at once is still found.
TEST(SequenceModel, StateCacheStaysBoundedAndExact) {
  std::optional<SequenceModel> m, d;
  // Two states per generation and shard: at most 64 states (16 shards).
  ASSERT_NO_FATAL_FAILURE(TrainWithSmallStateCache(2, &m, &d));
  // 12 courses, ordered triples: 1,320 distinct windows, far more than fit.
  std::vector<std::vector<std::string>> windows;
  for (int a = 0; a < 12; ++a) {
    for (int b = 0; b < 12; ++b) {
      for (int c = 0; c < 12; ++c) {
        if (a != b && b != c && a != c) {
          windows.push_back({absl::StrCat("c", a), absl::StrCat("c", b), absl::StrCat("c", c)});
        }
      }
    }
  }
  std::vector<std::vector<float>> want;
  for (const auto& w : windows) want.push_back(*m->Score(w));
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < windows.size(); ++i) {
      for (int again = 0; again < 2; ++again) {
        auto got = d->Score(windows[i]);
        ASSERT_TRUE(got.ok());
        ASSERT_EQ(*got, want[i]) << "round " << round << " window " << i;
      }
    }
  }
  const SequenceModel::StateCacheStats stats = d->state_cache_stats();
  // Each window's second ask is a hit; its first, in rounds 2 and 3, a miss
  // again: 1,320 states were dropped to make room.
  EXPECT_EQ(stats.hits, static_cast<int64_t>(3 * windows.size()));
  EXPECT_EQ(stats.misses, static_cast<int64_t>(3 * windows.size()));
}

TEST(SequenceModel, DecodeRejectsDamagedBytesAsDataLoss) {
  auto m = SequenceModel::Create(Chain(30, 8), Small());
  ASSERT_TRUE(m.ok()) << m.status();
  const std::string good = m->Encode();
  auto with = [&good](size_t at, char byte) {
    std::string b = good;
    b[at] = byte;
    return b;
  };
  // Header: magic 0..7, version 8..11, items 12..15, dim 16..19, hidden
  // 20..23, max_len 24..27; then the first id's length at 28.
  std::string nan_param = good;
  const float nan = std::nanf("");
  std::memcpy(&nan_param[good.size() - 4], &nan, 4);
  std::string repeated = good;  // ids "c0".."c7" in some order: make the second equal the first
  const uint32_t first_len = static_cast<unsigned char>(good[28]);
  const std::string first_id = good.substr(32, first_len);
  ASSERT_EQ(static_cast<unsigned char>(good[32 + first_len]), first_id.size());
  repeated.replace(32 + first_len + 4, first_id.size(), first_id);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "magic"},
      {with(0, 'X'), "magic"},
      {with(8, 2), "layout version 2"},
      {good.substr(0, 14), "truncated header"},
      {with(12, 0), "items 0"},
      {with(20, 0), "hidden"},
      {with(24, 1), "max_len"},
      {with(28, 0), "course id 0 is empty"},
      {repeated, "repeated"},
      {good.substr(0, good.size() - 1), "truncated parameters"},
      {good + "x", "1 trailing bytes"},
      {nan_param, "not finite"},
  };
  for (const auto& [bytes, why] : bad) {
    auto d = SequenceModel::Decode(bytes);
    ASSERT_FALSE(d.ok()) << why;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << why << ": " << d.status();
    EXPECT_NE(d.status().message().find(why), std::string::npos) << why << ": " << d.status();
  }
  // A header whose shapes disagree with the parameter count.
  std::string more_items = with(12, static_cast<char>(static_cast<unsigned char>(good[12]) + 1));
  EXPECT_EQ(SequenceModel::Decode(more_items).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace lifelong::models
