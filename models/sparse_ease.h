// Sparse EASE: an item-item model for catalogs beyond the dense trainer's
// reach (the dense solve needs n^2 doubles and n^3 time: 20,000 items are
// ~16 GB and ~9 min here, docs/models.md "Why the dense trainer stops").
// TrainModel (trainer.h) serves TrainSparseModel's matrix exactly above
// dense_max_items (a format-2 bundle, model_bundle.h; at any size unless an
// operator caps exact_max_items), and beyond such a cap its PruneRows or its
// factorisation; these files are compiled into //models:trainer for that
// reason.
//
// Model. For every target item j, the ridge regression of EASE restricted to
// a candidate set C_j (the `candidates` items co-occurring most often with j,
// ties by row; every other item when candidates >= items - 1):
//   w_j = argmin ||X e_j - X_{C_j} w||^2 + lambda ||w||^2
//       = (G[C_j, C_j] + lambda I)^-1 G[C_j, j],      G = X'X
// (X: learners x items with the interaction weights, as the dense trainer).
// (SLIM with an L2 penalty and a support constraint). B[i][j] = w_j[i] for
// i in C_j; then each history item's row B[i][:] keeps its `neighbours`
// largest entries (ties by target row). With C_j = all other items and no
// pruning this is exactly EASE's B (B = I - P diag(1/diag P) solves the same
// per-column ridge problems), which the test checks.
//
// Scoring (what a server holds and computes, exactly): CSR rows by history
// item; Score(rows) = sum over (i, w) in order of w * B[i][:] accumulated in
// double. Memory: items x neighbours x (4 + 4) bytes.
//
// Training cost: G is built sparse (one pass over each item's learners), then
// one Cholesky of size |C_j| per item: items x candidates^3 / 3 flops.
// Not thread-safe during training; a trained model is immutable and Score is
// safe from any number of threads.
#ifndef LIFELONG_MODELS_SPARSE_EASE_H_
#define LIFELONG_MODELS_SPARSE_EASE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "models/interaction.h"
#include "models/trainer.h"

namespace lifelong::models {

struct SparseEaseOptions {
  double lambda = 200;    // ridge (EASE's lambda)
  int candidates = 100;   // |C_j|: predictors per target item
  int neighbours = 100;   // entries kept per history item's row
  int max_items = 20000;  // most popular items kept (ties by id)
};

struct SparseItemModel {
  std::vector<std::string> course_ids;  // rows, sorted by id
  std::vector<int64_t> counts;          // distinct learners per row
  // CSR by history row i: entries [row_start[i], row_start[i + 1]) of
  // target / weight, targets ascending.
  std::vector<int64_t> row_start;
  std::vector<int32_t> target;
  std::vector<float> weight;

  int num_items() const { return static_cast<int>(course_ids.size()); }
  // Scores of every row for a query of (row, weight) pairs: in the order
  // given, score[j] += weight * B[row][j] in double, rounded to float once.
  std::vector<float> Score(const std::vector<std::pair<int, double>>& query) const;
  // B[i][j] (0 when not kept).
  float Entry(int i, int j) const;
  int64_t bytes() const;
};

// INVALID_ARGUMENT naming the field for options out of range (lambda > 0,
// candidates >= 1, neighbours >= 1, max_items >= 1) and when there are no
// positive interactions; INTERNAL when a Cholesky factorisation fails.
absl::StatusOr<SparseItemModel> TrainSparseEase(const std::vector<Interaction>& interactions,
                                                const SparseEaseOptions& options);

// The trainer's model (trainer.h: sequence part over the order, set part,
// set_mix, popularity scaling) with every ridge regression restricted the
// same way: for target j, the sequence part regresses S'T[:, j] on the
// `candidates` sources i with the largest S'T[i][j] (items that come before
// j), the set part as TrainSparseEase; then each history row keeps its
// `neighbours` largest entries. S'S, S'T and X'X are built sparse. With
// candidates >= items - 1 and neighbours >= items it is TrainModel's M (the
// test checks it). Learner rows are TrainingSequences(interactions, {})
// (each learner's kMaxLearnerCourses most recent courses), as TrainModel's
// without a catalog. `o` is validated as TrainOptions::FromJson does;
// INVALID_ARGUMENT naming candidates / neighbours when < 1.
absl::StatusOr<SparseItemModel> TrainSparseModel(const std::vector<Interaction>& interactions, const TrainOptions& o,
                                                 int candidates, int neighbours);

// TrainSparseModel's solve on learner rows already mapped to a vocabulary
// (what ModelTrainer holds: each learner's (row, weight) sequence, oldest
// first, rows in [0, out->counts.size())). Reads out->counts (popularity
// scaling) and fills out->row_start / target / weight; `o` is not
// validated here. INVALID_ARGUMENT for candidates or neighbours < 1 and for
// a row longer than kMaxLearnerCourses (the set part costs |row|^2 per row;
// TrainingSequences cuts rows to that); INTERNAL when a factorisation fails.
absl::Status TrainSparseModelOnRows(const std::vector<std::vector<std::pair<int, double>>>& rows, const TrainOptions& o,
                                    int candidates, int neighbours, SparseItemModel* out);

// `m` with each row cut to its `keep` largest entries (ties: the lower
// target first), targets ascending: every row a subset of m's, so with keep
// >= m's longest row it equals m. course_ids and counts are copied. The
// trainer serves this model beyond a capped TrainOptions::exact_max_items.
SparseItemModel PruneRows(const SparseItemModel& m, int keep);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_SPARSE_EASE_H_
