// Writes a model version into a model root atomically (protocol in
// model_bundle.h): files go into a fresh temporary directory inside the root
// and are fsynced, MANIFEST.json is written last, the directory is renamed to
// the next version number and the root is fsynced. A crash at any point
// leaves either no new numbered directory or a complete one.
#ifndef LIFELONG_MODELS_MODEL_WRITER_H_
#define LIFELONG_MODELS_MODEL_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "models/model_bundle.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {

// Writes `arrays` as the next version under `model_root` (created if missing):
// one more than the largest numbered entry already there, complete or not.
// `extra` (an object) is merged into the manifest (parameters, training data
// size, evaluation figures); the shape and "files" fields are filled in here.
// Returns the version number. INVALID_ARGUMENT when the arrays are
// inconsistent (checked with BuildModelBundle) or `extra` is not an object;
// INTERNAL on I/O errors (the temporary directory is removed).
// Safe against concurrent writers to the same root (a lost rename race moves
// on to the next number). Not thread-safe with respect to `arrays`.
absl::StatusOr<int64_t> WriteModelVersion(const std::string& model_root, const ModelArrays& arrays,
                                          const nlohmann::json& extra);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_MODEL_WRITER_H_
