// A learned sequence model (GRU4Rec-style, Hidasi et al. 2016) for
// next-course prediction, tried for issue #17 against the linear
// SLIST-style model of trainer.h.
//
// Model. Each course i of the vocabulary has an input embedding e_i (dim d)
// and an output embedding o_i (dim H) with a bias b_i. A learner's ordered
// history c_1 .. c_T (oldest first; only the last `max_len` courses) is read
// by one GRU layer of H units, h_0 = 0:
//   r = sigmoid(Wx_r e + bx_r + Uh_r h + bh_r)
//   z = sigmoid(Wx_z e + bx_z + Uh_z h + bh_z)
//   n = tanh(Wx_n e + bx_n + r * (Uh_n h + bh_n))
//   h' = (1 - z) * n + z * h
// and the score of course j after the history is o_j . h_T + b_j (the
// logits of a softmax over the whole vocabulary).
//
// Training. Every learner's sequence (GroupSequences order: weight > 0,
// repeated courses kept at their last occurrence; weights are otherwise
// ignored, only the order counts) is cut to its last `max_len` courses, and
// each prefix predicts the next course: cross-entropy with the full softmax
// over the vocabulary (the vocabulary is limited to kSequenceModelMaxItems),
// or, with `negatives` > 0, a sampled softmax (below), averaged over the predictions of a minibatch of
// `batch` learners, back-propagated through the whole window (truncated
// BPTT over the last `max_len` steps), gradient norm clipped at 5, Adam
// (beta 0.9 / 0.999; lazy for the embedding tables: a row of e_in, e_out
// and b_out, moments included, moves only in minibatches that give it a
// gradient, i.e. where it is an input or a softmax class; the GRU's
// weights move every step). Matrix products are cblas_sgemm (OpenBLAS, at most its
// configured threads: 2 on these machines); the element-wise work (softmax,
// gates, Adam) runs four floats at a time, with a polynomial exponential
// (relative error < 2e-7) that Score() shares. Learners are shuffled every
// epoch by a generator seeded with (seed, epoch): a fixed seed gives the
// same floats run after run on one machine (no std:: distributions).
//
// Sampled softmax (`negatives` = S > 0, Jean et al. 2015 with the logQ
// correction of Yi et al. 2019). A minibatch's R predictions share one
// candidate set C: every target of the batch (R draws from the target
// frequencies f) plus S draws from q ~ sqrt(count + 1) (so rare courses are
// negatives too), duplicates removed. A candidate's logit is corrected by
// -log Q_j, Q_j = 1 - (1 - f_j)^R (1 - q_j)^S its chance to be in C, and each
// prediction's cross-entropy is taken over C. The cost of a prediction's
// softmax falls from the vocabulary to |C| (about R + S). The draws come
// from a generator seeded by (seed, Adam step), so a fixed seed still gives
// the same floats. Score() is unchanged (full logits).
#ifndef LIFELONG_MODELS_SEQUENCE_MODEL_H_
#define LIFELONG_MODELS_SEQUENCE_MODEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "models/interaction.h"

namespace lifelong::models {

// The logits of a minibatch are predictions x items floats with the full
// softmax (predictions x candidates with `negatives`), and the model holds
// four floats (weight, gradient, two Adam moments) per parameter.
inline constexpr int kSequenceModelMaxItems = 20000;

// Layout version of SequenceModel::Encode's bytes.
inline constexpr uint32_t kSequenceModelLayoutVersion = 1;

struct SequenceModelOptions {
  int dim = 64;                  // input embedding size d, 1..1024
  int hidden = 100;              // GRU units H, 1..1024
  int max_len = 20;              // BPTT window: last courses read, 2..1000
  int epochs = 10;               // most epochs (evaluate stops early), 1..1000
  int patience = 2;              // evaluate: stops after this many epochs without a validation gain, 1..100
  int batch = 64;                // learners per minibatch, 1..100000
  int negatives = 0;             // sampled softmax: extra negatives per minibatch, 0 (full softmax)..100000
  double learning_rate = 0.002;  // Adam step, (0, 1]
  uint64_t seed = 1;             // initialisation and shuffling
  // sequence_blend.h: a work budget for the validation epochs, in
  // predictions (num_predictions() per epoch): no epoch after the first
  // starts that would take them past it. 0: none. Unlike a time limit it
  // gives the same model on every machine.
  int64_t max_predictions = 0;  // 0..1e12
  // sequence_blend.h: the served GRU, once the epochs and w are chosen on
  // the validation split's model:
  //   "scratch"    a new GRU trained on all the data for the chosen epochs;
  //   "warm"       the validation model (WarmStart) trained one epoch more
  //                on all the data (courses it lacks start fresh);
  //   "validation" the validation model as it is (it never saw each
  //                learner's last courses, nor courses only they hold).
  std::string final_model = "scratch";

  // OK, or INVALID_ARGUMENT naming the first field out of range.
  absl::Status Validate() const;
  // "dim=64,hidden=100,max_len=20,epochs=10,patience=2,batch=64,negatives=0,lr=0.002,seed=1,final=scratch"
  // (",max_predictions=N" appended when it is not 0).
  std::string ToString() const;
  // Parses "key=value,..." (the keys of ToString, any subset, any order) over
  // the defaults; INVALID_ARGUMENT naming the key for an unknown key, a
  // malformed or out-of-range value, or a repeated key. "" gives the defaults.
  static absl::StatusOr<SequenceModelOptions> Parse(absl::string_view spec);
};

// A trained (or training) GRU model. Copyable (a copy is a snapshot of the
// weights and the optimiser state). Score() is const and thread-safe when no
// TrainEpoch() runs at the same time; TrainEpoch() needs exclusive access.
// Bytes a decoded model's Score state cache holds at most (keys, states and
// the maps' own slots, estimated): 16 MiB, about 27,000 learners' states at
// hidden 100 and max_len 20.
inline constexpr int64_t kSequenceStateCacheBytes = int64_t{16} << 20;

class SequenceModel {
 public:
  // Builds the vocabulary (every course with weight > 0 in `interactions`,
  // in first-appearance order) and the training sequences (learners with at
  // least 2 courses), and initialises the weights from options.seed.
  // INVALID_ARGUMENT for bad options (Validate) or when no learner has two
  // courses; FAILED_PRECONDITION above kSequenceModelMaxItems courses.
  static absl::StatusOr<SequenceModel> Create(const std::vector<Interaction>& interactions,
                                              const SequenceModelOptions& options);

  // Continues from `from`: the GRU's weights, and the embedding rows and
  // output biases of the courses both vocabularies hold (the others keep
  // their initialisation), with their Adam moments and step count (zero for
  // a decoded `from`).
  // INVALID_ARGUMENT when dim or hidden differ.
  absl::Status WarmStart(const SequenceModel& from);

  // One pass over the training sequences; returns the mean cross-entropy of
  // its predictions (FAILED_PRECONDITION for a decoded model). `progress`, when set, is called after each minibatch
  // with the learners done and the total. Deterministic for a given state.
  absl::StatusOr<double> TrainEpoch(const std::function<void(int64_t, int64_t)>& progress = {});

  // Scores of every vocabulary course (course_ids() order) after reading
  // `history` (course ids, oldest first; courses outside the vocabulary are
  // skipped, only the last max_len known ones are read). INVALID_ARGUMENT
  // for an empty history; NOT_FOUND when no history course is in the
  // vocabulary (callers fall back to PriorScores()).
  absl::StatusOr<std::vector<float>> Score(const std::vector<std::string>& history) const;

  // A decoded (serving) model keeps Score's final hidden states, keyed by
  // the rows it read (the last max_len known courses, in order), in a
  // bounded cache (kSequenceStateCacheBytes; two generations per shard, the
  // older dropped when the newer fills): a learner asking again with an
  // unchanged history (the app's home screen, a kiosk's next page) skips the
  // recurrent steps, and gets the same floats (the state is what the steps
  // computed). Keyed by courses, not learners: equal inputs, equal state.
  // Models that train have none (their weights move).
  struct StateCacheStats {
    int64_t hits = 0;
    int64_t misses = 0;
  };
  StateCacheStats state_cache_stats() const;
  // Replaces a decoded model's cache by an empty one of at most about
  // `bytes` (at least 32 states); no effect on a model that trains.
  void set_state_cache_bytes(int64_t bytes);

  // The model's serving part as bytes (for a model bundle's file; the
  // bundle's manifest carries its checksum). Layout, every integer and float
  // little-endian:
  //   offset 0   8 bytes  magic "LLGRU01\n" (4c 4c 47 52 55 30 31 0a)
  //   offset 8   uint32   layout version, kSequenceModelLayoutVersion (1)
  //   offset 12  uint32 x 4  items n, dim d, hidden H, max_len
  //   offset 28  n x (uint32 length, bytes)  course ids, row order
  //   then       uint64 P, then P x float32  parameters() (P must equal the
  //              count the shapes give: n d + 3H d + 3H + 3H H + 3H + n H + n)
  // Not the training state: no sequences, no Adam moments.
  std::string Encode() const;
  // A model that scores (Score, PriorScores) from Encode()'s bytes; its
  // TrainEpoch is FAILED_PRECONDITION. DATA_LOSS naming the part for a wrong
  // magic or layout version, shapes out of range, truncated or trailing
  // bytes, an empty or repeated course id, a parameter count that does not
  // match the shapes, or a parameter that is not finite.
  static absl::StatusOr<SequenceModel> Decode(absl::string_view bytes);

  // The defined fallback for a learner without a known course: the output
  // biases b_j (the model's prior over first courses and popular ones).
  std::vector<float> PriorScores() const;

  const std::vector<std::string>& course_ids() const { return course_ids_; }
  // Row of `course_id` in course_ids(), or -1.
  int Row(absl::string_view course_id) const;
  int num_items() const { return static_cast<int>(course_ids_.size()); }
  int64_t num_sequences() const { return static_cast<int64_t>(sequences_.size()); }
  int64_t num_predictions() const { return predictions_; }
  int epochs_done() const { return epochs_done_; }
  const SequenceModelOptions& options() const { return options_; }
  // Parameters (weights and biases), and the bytes of the float arrays
  // held: parameters, and the gradient and Adam moments (a model that
  // trains) or the per-course input table (a decoded one); not the state
  // cache (at most kSequenceStateCacheBytes).
  int64_t num_parameters() const { return static_cast<int64_t>(params_.size()); }
  int64_t bytes() const;
  // All parameters in one array (for determinism and gradient tests).
  const std::vector<float>& parameters() const { return params_; }
  std::vector<float>* mutable_parameters() {
    input_gates_.clear();  // a decoded model's table and states would go stale
    state_cache_.reset();
    return &params_;
  }

  // Diagnostics (the gradient test): the mean cross-entropy over all
  // training predictions as one batch, and its gradient with respect to
  // parameters() (no clipping, no step).
  // With negatives > 0 the candidates are drawn with `sample_seed`.
  double LossAndGradient(std::vector<float>* gradient, uint64_t sample_seed = 0);
  // The sampled softmax's candidates for a batch whose predictions have
  // `targets` (rows, in any order): the targets' rows, then the drawn
  // negatives, each row once; *log_q = log Q_j of each (see above).
  void DrawCandidates(const std::vector<int>& targets, uint64_t sample_seed, std::vector<int>* candidates,
                      std::vector<float>* log_q) const;

 private:
  SequenceModel() = default;
  // Parameter offsets from the shapes; returns the parameter count.
  size_t SetOffsets();
  // One minibatch of sequences (indices into sequences_): forward, backward,
  // Adam step. Returns the summed cross-entropy and sets *predictions.
  double TrainBatch(const std::vector<int>& batch, int64_t* predictions);
  // Forward and backward only: grads_ = gradient of the mean cross-entropy
  // of the batch's predictions (over the candidates drawn with `sample_seed`
  // when options_.negatives > 0, else over the vocabulary); returns their
  // summed cross-entropy.
  double ForwardBackward(const std::vector<int>& batch, int64_t* predictions, uint64_t sample_seed = 0);
  // h' for one input row (used by Score).
  void Step(int item, const float* h, float* h_out) const;
  // gx = Wx e_item + bx (3H floats), by one sgemv: Step's input part.
  void InputGates(int item, float* gx) const;

  SequenceModelOptions options_;
  std::vector<std::string> course_ids_;
  absl::flat_hash_map<std::string, int> row_of_;
  std::vector<std::vector<int>> sequences_;  // item rows, last max_len each
  int64_t predictions_ = 0;                  // sum of (len - 1)
  // Sampled softmax: f_j (share of the predictions whose target is j) and
  // the proposal q_j with its cumulative sums (for inverse-CDF draws).
  std::vector<double> target_share_, proposal_, proposal_cdf_;
  int epochs_done_ = 0;
  int64_t adam_steps_ = 0;
  // Offsets into params_ (row-major): e_in n x d, wx 3H x d, bx 3H,
  // uh 3H x H, bh 3H, e_out n x H, b_out n. Gate order r, z, n.
  size_t off_ein_ = 0, off_wx_ = 0, off_bx_ = 0, off_uh_ = 0, off_bh_ = 0, off_eout_ = 0, off_bout_ = 0;
  std::vector<float> params_, grads_, adam_m_, adam_v_;
  // Decoded (serving) models only: InputGates of every course, n x 3H, so
  // that Score reads a row instead of an sgemv per history course. Empty for
  // a model that trains (its weights move).
  std::vector<float> input_gates_;
  // Decoded models only: Score's final states (state_cache_stats above).
  // Shared by copies, which score alike; a copy whose weights change drops
  // its pointer (mutable_parameters, WarmStart).
  struct StateCache;
  std::shared_ptr<StateCache> state_cache_;
  // Rows of e_in (the minibatch's inputs) and of e_out and b_out (its
  // softmax classes: the candidates, or every row) that the last
  // ForwardBackward gave a gradient; grads_ is zero outside them and the
  // GRU's weights, and Adam steps only those (lazy Adam).
  std::vector<int> touched_in_, touched_out_;
  // ForwardBackward's per-minibatch buffers, kept so that an epoch does not
  // allocate and zero-fill them every minibatch (each call resizes and fully
  // writes the part it reads).
  struct Workspace {
    std::vector<float> x, gx, hprev, hall, rg, zg, ng, ghn, gh, ec, bc, p, gc, dh_all, dgx, dgh, carry, next, dx;
  };
  Workspace workspace_;
};

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_SEQUENCE_MODEL_H_
