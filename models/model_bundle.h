// ModelBundle: one immutable, loaded version of the recommender model, read
// from a versioned model directory written by the trainer (models/train).
//
// On-disk layout (docs/models.md has the details; model_format.h the names):
//
//   <root>/<N>/            N = 1, 2, 3, ... (decimal, no leading zeros)
//       items.tsv          row <TAB> course id <TAB> distinct learners
//                          [<TAB> learners who completed], a line each
//       item_vectors.f32   num_items x dim float32, little-endian, row-major
//       query_basis.f32    num_items x dim float32, or empty when the query
//                          basis is the identity (dim == num_items)
//       content.f32        num_items x content_dim float32 (zero row: no text)
//       content_idf.f32    kTextHashBuckets float32: hashed n-gram IDF, or
//                          empty (no catalog at training: IDF 1)
//       item_item.csr      format 2 only ("sparse" bundles): the exact
//                          item-item matrix M as CSR by history row
//                          (byte layout in model_format.h); item_vectors.f32
//                          and query_basis.f32 are then empty
//       MANIFEST.json      written LAST: format, version, shapes, parameters,
//                          training data size, evaluation figures, and for
//                          every file above its size in bytes and SHA-256.
//
// A version directory is COMPLETE when MANIFEST.json exists, parses, and every
// file it lists exists with the listed size. It is VALID when, in addition,
// every SHA-256 matches and the shapes are consistent. The trainer writes a
// version into a temporary directory inside the root (name starting with
// ".tmp"), fsyncs, writes the manifest last and renames it to the next number,
// so a partially written version is never COMPLETE under a numbered name.
//
// Scoring model (the same code serves requests and computes offline figures):
//   score(history, item j) = <LearnerVector(history), ItemVector(j)>
// A sparse bundle (sparse_item_matrix()) holds M = the item vectors as
// columns in CSR form instead: identity query basis, score(j) =
// sum over history rows i of q_i M[i][j], computed exactly by ScoreAll and
// SearchBatch (a scan of the history's rows: |history| x entries per row;
// no FAISS index over the collaborative rows, index_info().kind "sparse").
// LearnerVector is linear in the learner's weighted, recency-decayed history,
// so a statement recorded now changes the next recommendation without
// retraining. Candidate search runs this inner product through a FAISS index
// built at load time over the items with interactions: exact IndexFlatIP while
// there are at most kExactIndexMaxItems of them, above that an IVF index
// (IndexIVFFlat, inner product, nlist = 2 sqrt(n), k-means on <= 32
// points per list, nprobe calibrated to recall@10 >= 0.98 on sample queries or
// fixed by BuildOptions; see index_info()) that may miss a few true top-k
// items. The content index follows the same rule over the items with text.
//
// Thread-safety: a ModelBundle is immutable after loading; every method is
// const and safe to call from any number of threads concurrently. Share it as
// std::shared_ptr<const ModelBundle> and publish new versions with an atomic
// pointer swap; in-flight requests keep the old version alive.
#ifndef LIFELONG_MODELS_MODEL_BUNDLE_H_
#define LIFELONG_MODELS_MODEL_BUNDLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "models/interaction.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {

// Catalogs up to this many items are searched exactly (IndexFlatIP); larger
// ones through an approximate IVF index.
inline constexpr int kExactIndexMaxItems = 20000;

// Name of the manifest file, written last.
inline constexpr absl::string_view kManifestFileName = "MANIFEST.json";

// One event of a learner's history, for LearnerVector. Histories are passed
// OLDEST FIRST (ascending time); recency is taken from the position in the
// list, `time` is informational (ties keep the given order).
struct HistoryEvent {
  std::string course_id;
  float weight = 1.0f;  // usually VerbWeight(verb); <= 0 is ignored
  absl::Time time = absl::InfinitePast();
};

// How a FAISS index of a bundle was built (for status pages and benchmarks).
struct IndexInfo {
  // "flat", "ivf", "sparse" (exact CSR scan of a sparse bundle, no FAISS),
  // or "none" (nothing indexed)
  std::string kind = "none";
  int indexed_items = 0;
  int nlist = 0;   // IVF only
  int nprobe = 0;  // IVF only
  // IVF only: recall@10 against exact search on 200 sample queries at the
  // chosen nprobe; -1 when nprobe was fixed by BuildOptions::ivf_nprobe.
  double calibrated_recall_at_10 = 1.0;
};

// A scored item.
struct Candidate {
  int row = -1;
  float score = 0.0f;
};

// The history event that contributed most to a candidate's score, for reasons
// such as "因为你完成了 书法入门".
struct Contribution {
  int history_index = -1;  // index into the history passed in
  std::string course_id;   // that event's course
  float score = 0.0f;      // its additive share of the candidate's score
};

struct ModelArrays;
struct BuildOptions;
class SequenceModel;

class ModelBundle {
 public:
  ModelBundle(const ModelBundle&) = delete;
  ModelBundle& operator=(const ModelBundle&) = delete;
  ~ModelBundle();

  // ---- Identity ---------------------------------------------------------
  int64_t version() const;
  const std::string& directory() const;
  const nlohmann::json& manifest() const;

  // ---- Items ------------------------------------------------------------
  int num_items() const;
  // Row of a course id, or std::nullopt when the course is not in this model
  // (new course, or never seen): callers then fall back to content vectors
  // (EmbedText) or popularity.
  std::optional<int> Row(absl::string_view course_id) const;
  // Course id of a row; `row` must be in [0, num_items()).
  const std::string& CourseId(int row) const;
  const std::vector<std::string>& course_ids() const;

  // ---- Collaborative scoring -------------------------------------------
  // Dimension of learner and item vectors.
  int dim() const;
  // True when the query basis is the identity (dim() == num_items()): item
  // vectors are the exact item-item matrix's columns and a learner vector
  // has one nonzero per known history course.
  bool identity_query() const;
  // True for a sparse bundle (format 2): M is held as CSR rows, ItemVector
  // is empty, identity_query() is true. Use ItemScore / ItemNorm /
  // DenseItemVector / ItemToItem, which work for every kind of bundle.
  bool sparse_item_matrix() const;
  // Item vector of `row` (dim() floats); `row` in [0, num_items()). EMPTY for
  // a sparse bundle (its columns are not stored densely).
  absl::Span<const float> ItemVector(int row) const;
  // ItemVector(row) as a dense copy of dim() floats, for every kind of
  // bundle (a sparse bundle's column of M: dim() = num_items() floats).
  std::vector<float> DenseItemVector(int row) const;
  // <learner_vector, item vector of row> for every kind of bundle; 0 when
  // learner_vector does not hold dim() floats. Dense: float(double sum over
  // d); sparse: the column's entries, in row order, accumulated in double.
  float ItemScore(absl::Span<const float> learner_vector, int row) const;
  // L2 norm of the item vector of `row` (precomputed at build).
  float ItemNorm(int row) const;
  // Rows of a sparse bundle: entries of M[row][:], targets ascending. Empty
  // spans for a dense bundle.
  struct SparseRowView {
    absl::Span<const int32_t> targets;
    absl::Span<const float> weights;
  };
  SparseRowView SparseRow(int row) const;
  // Entries of a sparse bundle's M (0 for a dense bundle).
  int64_t sparse_entries() const;

  // The query vector for a learner whose history (oldest first) is given.
  // Unknown course ids and events with weight <= 0 are skipped; a course that
  // appears several times counts once, at its most recent position, with its
  // largest weight. An empty (or all-unknown) history gives the zero vector.
  std::vector<float> LearnerVector(absl::Span<const HistoryEvent> history) const;

  // Exact scores of ALL items for `history`: <LearnerVector, ItemVector(j)>
  // for j in [0, num_items()). The evaluator ranks with this; Search returns
  // the same scores for the items it finds.
  std::vector<float> ScoreAll(absl::Span<const HistoryEvent> history) const;

  // The weighted history rows ScoreAll and LearnerVector use: (row, weight)
  // for each distinct known course, most recent first, weights
  // verb_weight * decay^age L2-normalised. Empty when no course is known
  // (ScoreAll then returns popularity). For an identity-basis model,
  // ScoreAll(history)[j] == float(sum over these, in this order, of
  // weight * double(ItemVector(j)[row])) -- what a scorer holding M's rows
  // contiguously (evaluation.h BundleScorer) recomputes bit for bit.
  std::vector<std::pair<int, double>> HistoryRowWeights(absl::Span<const HistoryEvent> history) const;

  // ---- Sequence model (optional, issue #17) ------------------------------
  // The GRU this version carries, or nullptr; and its blend weight w.
  const SequenceModel* sequence_model() const;
  double sequence_blend_w() const;
  // What the recommender ranks the collaborative part by. Without a GRU:
  // ScoreAll. With one: s_j + w * sd(s) * z_j, where s = ScoreAll(history),
  // sd(s) its standard deviation over all rows, and z the GRU's scores after
  // the history (course ids of the events with weight > 0, oldest first; its
  // prior when it knows none of them) standardised over the rows it knows,
  // 0 on the rows it does not. This ranks as z(s) + w z(GRU), the blend
  // whose w `evaluate --sequence_model` and `train --sequence_model` choose
  // on validation, and keeps ScoreAll's scale for the served blend's
  // normalisation. A history with no known course gets ScoreAll's
  // popularity, unblended. Deterministic; thread-safe.
  std::vector<float> ScoreAllServed(absl::Span<const HistoryEvent> history) const;
  // The blend step of ScoreAllServed on scores `s` that equal
  // ScoreAll(history) (e.g. evaluation.h's BundleScorer's): s unchanged
  // without a GRU.
  std::vector<float> BlendSequence(std::vector<float> s, absl::Span<const HistoryEvent> history) const;

  // Only items with interactions (InteractionCount > 0) are indexed, so
  // content-only courses never come out of SearchBatch/Recommend; find them
  // with SearchContentBatch / SimilarCourses. In ScoreAll they score 0.
  //
  // Top-`k` items by inner product for each of `num_queries` query vectors
  // stored row-major in `queries` (num_queries * dim() floats), highest score
  // first. Results may hold fewer than k entries (small catalogs, IVF misses).
  // Batch concurrent requests into one call: FAISS's batched path is much
  // faster here than one query at a time. INVALID_ARGUMENT when
  // queries.size() != num_queries * dim() or k <= 0.
  absl::StatusOr<std::vector<std::vector<Candidate>>> SearchBatch(absl::Span<const float> queries, int num_queries,
                                                                  int k) const;

  // Convenience for one learner: top-`k` items for `history`, excluding the
  // courses in the history and those in `exclude` (course ids). Candidates
  // are drawn from the index (k + |excluded| of them), so with an IVF index
  // this is approximate. Empty history -> most popular items.
  std::vector<Candidate> Recommend(absl::Span<const HistoryEvent> history, int k,
                                   absl::Span<const std::string> exclude = {}) const;

  // ---- Re-ranking signals ------------------------------------------------
  // Popularity of `row` in the training data: its count of distinct learners
  // divided by the largest such count, in [0, 1].
  float Popularity(int row) const;
  // Distinct learners who interacted with `row` in the training data.
  int64_t InteractionCount(int row) const;
  // Item rows ordered by popularity, most popular first.
  const std::vector<int>& PopularRows() const;
  // Share of the learners of `row` whose strongest event weighs >= 1
  // (completed or passed), in [0, 1]; 0 for content-only rows and for models
  // written before this was recorded.
  float CompletionRate(int row) const;

  // How the collaborative and the content index were built.
  const IndexInfo& index_info() const;
  const IndexInfo& content_index_info() const;

  // Item-to-item affinity: the score that `from_row` alone, as the learner's
  // most recent course with weight 1, gives `to_row`.
  float ItemToItem(int from_row, int to_row) const;
  // out[i] = ItemToItem(from_rows[i], to_row) for every i (bit for bit), for
  // a "because you ..." reason over a history's rows: with a dense query
  // basis several rows' dot products at once, each accumulated in the same
  // order as ItemToItem's. Writes min(from_rows.size(), out.size()) entries;
  // every row must be in [0, num_items()).
  void ItemToItemEach(absl::Span<const int> from_rows, int to_row, absl::Span<float> out) const;

  // Which history event contributed most to `row`'s score for `history`
  // (the additive decomposition of ScoreAll(history)[row] over events).
  // std::nullopt when no known event contributes a positive amount.
  std::optional<Contribution> TopContributor(absl::Span<const HistoryEvent> history, int row) const;

  // ---- Content vectors -------------------------------------------------
  // Dimension of content vectors (L2-normalised; zero vector = no text).
  int content_dim() const;
  // Whether the catalog dump used for training had text for `row`.
  bool HasContent(int row) const;
  // Content vector of `row` (content_dim() floats).
  absl::Span<const float> ContentVector(int row) const;
  // Content vector of arbitrary course text (title, description, category,
  // tags concatenated by the caller), for courses added after training. Uses
  // the same character n-gram hashing and IDF table as the trainer.
  std::vector<float> EmbedText(absl::string_view text) const;
  // Top-`k` items by content cosine for each of `num_queries` content vectors
  // (row-major, num_queries * content_dim() floats). Rows without text never
  // appear. INVALID_ARGUMENT on a size mismatch or k <= 0.
  absl::StatusOr<std::vector<std::vector<Candidate>>> SearchContentBatch(absl::Span<const float> queries,
                                                                         int num_queries, int k) const;
  // Courses most similar to `row` by content, excluding `row` itself; empty
  // when `row` has no text.
  std::vector<Candidate> SimilarCourses(int row, int k) const;

 private:
  struct Impl;  // model arrays and FAISS indexes; see model_bundle.cc
  friend absl::StatusOr<std::shared_ptr<const ModelBundle>> BuildModelBundle(ModelArrays arrays,
                                                                             nlohmann::json manifest, int64_t version,
                                                                             std::string directory,
                                                                             const BuildOptions& options);
  explicit ModelBundle(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

// The arrays of a model, as the trainer produces them and the loader reads
// them back (shapes as in the on-disk layout above).
struct ModelArrays {
  std::vector<std::string> course_ids;  // row -> course id, unique
  std::vector<int64_t> counts;          // row -> distinct learners (0: content only)
  std::vector<int64_t> completions;     // row -> learners with weight >= 1, or empty
  int dim = 0;
  bool identity_query = true;       // query basis = identity, dim == num_items
  std::vector<float> query_basis;   // num_items x dim unless identity_query
  std::vector<float> item_vectors;  // num_items x dim
  double recency_decay = 0.6;       // weight of an event = decay^age
  int max_history = 50;             // most recent distinct courses used
  int content_dim = 0;
  std::vector<float> content;  // num_items x content_dim
  std::vector<float> idf;      // kTextHashBuckets entries, or empty
  // Sparse bundle (written as format 2 with item_item.csr): identity_query,
  // dim == num_items, item_vectors and query_basis empty, and M as CSR by
  // history row: entries [sparse_row_start[i], sparse_row_start[i + 1]) of
  // sparse_target (ascending within a row) / sparse_weight are M[i][target].
  bool sparse = false;
  std::vector<int64_t> sparse_row_start;  // num_items + 1 entries
  std::vector<int32_t> sparse_target;
  std::vector<float> sparse_weight;
  // Optional GRU (SequenceModel::Encode bytes, written as
  // sequence_model.bin) blended into ScoreAllServed with weight
  // sequence_blend_w (>= 0, finite); empty = none.
  std::string sequence_model;
  double sequence_blend_w = 0;
};

struct BuildOptions {
  // Build the FAISS indexes (Search*, Recommend, SimilarCourses need them;
  // ScoreAll does not).
  bool build_indexes = true;
  // Above this many indexed rows, use an IVF index instead of IndexFlatIP.
  int exact_index_max_items = kExactIndexMaxItems;
  // IVF nprobe; 0 = calibrate: the smallest of 8, 16, 32, ... (up to nlist)
  // whose recall@10 on 200 sample queries reaches ivf_target_recall.
  int ivf_nprobe = 0;
  double ivf_target_recall = 0.98;
};

// Builds a bundle from arrays held in memory (the trainer uses this to score
// its validation split with exactly the serving code). INVALID_ARGUMENT when
// shapes are inconsistent or course ids repeat.
absl::StatusOr<std::shared_ptr<const ModelBundle>> BuildModelBundle(ModelArrays arrays, nlohmann::json manifest,
                                                                    int64_t version, std::string directory,
                                                                    const BuildOptions& options = BuildOptions());

// Loads and verifies the version in `version_dir` (a numbered directory).
// Outcomes:
//   OK                   the bundle, with its FAISS indexes built;
//   NOT_FOUND            `version_dir` does not exist;
//   FAILED_PRECONDITION  the version is incomplete (no manifest, a listed file
//                        missing or of the wrong size) — e.g. still being
//                        written;
//   DATA_LOSS            a checksum mismatch, an unparsable manifest or file,
//                        or inconsistent shapes (a corrupt version);
//   INVALID_ARGUMENT     the directory name is not a version number.
// Reads the whole version; call it off the request path.
absl::StatusOr<std::shared_ptr<const ModelBundle>> LoadModelBundle(const std::string& version_dir);
// The same with explicit index options.
absl::StatusOr<std::shared_ptr<const ModelBundle>> LoadModelBundle(const std::string& version_dir,
                                                                   const BuildOptions& options);

// Version numbers of the COMPLETE versions under `model_root` (see above),
// ascending. Temporary directories, non-numeric names and incomplete versions
// are ignored; checksums are not verified here (LoadModelBundle does).
// NOT_FOUND when `model_root` does not exist.
absl::StatusOr<std::vector<int64_t>> ListCompleteVersions(const std::string& model_root);

// Loads the largest version under `model_root` that loads successfully,
// trying complete versions from the largest down and skipping (rejecting)
// corrupt ones. NOT_FOUND when no version loads; the message lists why each
// candidate was rejected.
absl::StatusOr<std::shared_ptr<const ModelBundle>> LoadLatestModelBundle(const std::string& model_root);
absl::StatusOr<std::shared_ptr<const ModelBundle>> LoadLatestModelBundle(const std::string& model_root,
                                                                         const BuildOptions& options);

// "<model_root>/<version>".
std::string VersionPath(const std::string& model_root, int64_t version);

// When the trainer wrote the version whose manifest this is (its
// "written_at", RFC 3339); nullopt when absent or unreadable.
std::optional<absl::Time> ManifestWrittenAt(const nlohmann::json& manifest);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_MODEL_BUNDLE_H_
