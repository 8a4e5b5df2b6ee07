// File names, manifest fields and durable-file helpers of the versioned model
// directory (layout documented in model_bundle.h and docs/models.md). Shared
// by the writer (model_writer.h) and the loader (model_bundle.h).
#ifndef LIFELONG_MODELS_MODEL_FORMAT_H_
#define LIFELONG_MODELS_MODEL_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::models {

// Value of the manifest's "format" field; bumped on incompatible changes.
// Dense bundles (item_vectors.f32 holds every item vector) keep format 1, so
// a server built before sparse bundles still loads them.
inline constexpr absl::string_view kModelFormat = "lifelong-recommender-model/1";
// Bundles whose item-item matrix is sparse (kItemItemCsrFile): format 2. A
// loader that predates it rejects them by this field, with a clear message,
// instead of failing on item_vectors.f32's size.
inline constexpr absl::string_view kModelFormatSparse = "lifelong-recommender-model/2";

inline constexpr absl::string_view kItemsFile = "items.tsv";
inline constexpr absl::string_view kItemVectorsFile = "item_vectors.f32";
inline constexpr absl::string_view kQueryBasisFile = "query_basis.f32";
inline constexpr absl::string_view kContentFile = "content.f32";
inline constexpr absl::string_view kContentIdfFile = "content_idf.f32";
// Format-2 bundles only: the exact item-item matrix M as CSR by history row
// (layout below).
inline constexpr absl::string_view kItemItemCsrFile = "item_item.csr";
// Optional (listed in the manifest's files only when the manifest has a
// "sequence_model" object): the GRU blended into ScoreAllServed, as
// SequenceModel::Encode writes it (layout in models/sequence_model.h).
inline constexpr absl::string_view kSequenceModelFile = "sequence_model.bin";

// Prefix of the temporary directories writers create inside a model root.
inline constexpr absl::string_view kTempDirPrefix = ".tmp-";

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// A version number from a directory name: decimal digits, no leading zero,
// at least 1, fits in int64. std::nullopt otherwise.
std::optional<int64_t> ParseVersionName(absl::string_view name);

// Names of the entries of directory `dir`. NOT_FOUND when it does not exist.
absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir);

// Writes `data` to `path` (created or truncated) and fsyncs it. INTERNAL on
// I/O errors, with the path and errno text.
absl::Status WriteFileDurably(const std::string& path, absl::string_view data);

// fsyncs a directory so that entries created or renamed in it are durable.
absl::Status SyncDirectory(const std::string& dir);

// Raw bytes of a float array (little-endian float32 on this platform) and back.
std::string FloatsToBytes(const std::vector<float>& v);
// DATA_LOSS when the size is not a multiple of 4.
absl::StatusOr<std::vector<float>> BytesToFloats(absl::string_view bytes);

// ---- item_item.csr --------------------------------------------------------
// The sparse item-item matrix M of a format-2 bundle, row i = history item i,
// entries M[i][target]. Byte layout, every integer and float little-endian:
//
//   offset 0        8 bytes  magic "LLIICSR\n" (4c 4c 49 49 43 53 52 0a)
//   offset 8        uint32   layout version, kItemItemCsrVersion (1)
//   offset 12       uint32   rows R (= the bundle's num_items)
//   offset 16       uint64   entries N
//   offset 24       (R + 1) x uint64   row starts: row i holds entries
//                                      [start[i], start[i + 1])
//   then            N x uint32          target row of each entry
//   then            N x float32         M[i][target] of each entry
//
// Invariants checked by the decoder: start[0] == 0, starts non-decreasing,
// start[R] == N, targets < R and strictly ascending within a row, weights
// finite. A future incompatible layout gets a new version number; the
// decoder names the versions it reads.
inline constexpr uint32_t kItemItemCsrVersion = 1;
inline constexpr absl::string_view kItemItemCsrMagic = "LLIICSR\n";

struct CsrMatrix {
  std::vector<int64_t> row_start;  // rows + 1 entries
  std::vector<int32_t> target;
  std::vector<float> weight;
};

// Encodes `m` in the layout above. `m` must satisfy the invariants (the
// writer validates through BuildModelBundle first).
std::string EncodeItemItemCsr(const CsrMatrix& m);

// Decodes and validates an item_item.csr image for a bundle of
// `expected_rows` items. DATA_LOSS naming the field on short or malformed
// input, a wrong magic, an unsupported version, a row count other than
// `expected_rows`, or a broken invariant.
absl::StatusOr<CsrMatrix> DecodeItemItemCsr(absl::string_view bytes, int64_t expected_rows);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_MODEL_FORMAT_H_
