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
inline constexpr absl::string_view kModelFormat = "lifelong-recommender-model/1";

inline constexpr absl::string_view kItemsFile = "items.tsv";
inline constexpr absl::string_view kItemVectorsFile = "item_vectors.f32";
inline constexpr absl::string_view kQueryBasisFile = "query_basis.f32";
inline constexpr absl::string_view kContentFile = "content.f32";
inline constexpr absl::string_view kContentIdfFile = "content_idf.f32";

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

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_MODEL_FORMAT_H_
