// Reading interaction files (format in docs/models.md, "Interaction files"):
//
//   TSV, one interaction a line:  learner <TAB> course <TAB> order [<TAB> weight]
//     order   a signed 64-bit integer (e.g. Unix microseconds or a sequence
//             number); only each learner's relative order matters;
//     weight  optional: a number, or an xAPI verb IRI (weighed by VerbWeight),
//             default 1.
//   JSON lines, one object a line, recognised by a leading '{':
//     {"learner"|"user": string|int, "course"|"item": string|int,
//      "order"?: int, "weight"?: number, "verb"?: IRI}
//     without "order" the line number is the order (file order).
//   Blank lines and lines starting with '#' are skipped.
//
// Labelled ratings (MOOCCube/KGAN "ratings_final.txt"): user <TAB> course
// <TAB> label; label 1 is an interaction (order = line number), 0 is skipped.
#ifndef LIFELONG_MODELS_INTERACTION_FILE_H_
#define LIFELONG_MODELS_INTERACTION_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "models/interaction.h"

namespace lifelong::models {

// Parses interaction file content. `source_name` prefixes error messages.
// INVALID_ARGUMENT naming the line and field on the first malformed line,
// e.g. "data.tsv:3: field 'order': not an integer: \"x\"".
absl::StatusOr<std::vector<Interaction>> ParseInteractions(absl::string_view content, absl::string_view source_name);

// Reads and parses a file. NOT_FOUND when it cannot be opened, otherwise as
// ParseInteractions.
absl::StatusOr<std::vector<Interaction>> ReadInteractionFile(const std::string& path);

// Appends one TSV line "learner<TAB>course<TAB>order<TAB>weight\n" that
// ParseInteractions reads back (the weight with absl's shortest six-digit
// formatting: 1, 0.5, 0.3 come back as the same floats).
void AppendInteractionLine(absl::string_view learner, absl::string_view course, int64_t order, float weight,
                           std::string* out);

// Reads a labelled ratings file (see above). NOT_FOUND / INVALID_ARGUMENT as
// ReadInteractionFile.
absl::StatusOr<std::vector<Interaction>> ReadLabeledRatingsFile(const std::string& path);

// One course of a catalog dump (JSON lines {"id","title","description",
// "category","tags"}; tags an array of strings).
struct CatalogCourse {
  std::string id;
  std::string text;  // CatalogCourseText(title, category, tags, description)
};

// The text embedded for a course: title, category and each tag, one a line,
// then the description; empty parts are left out. ReadCatalogFile builds
// CatalogCourse::text with it; the recommender uses it for courses added after
// training (ModelBundle::EmbedText) so that both sides embed the same text.
std::string CatalogCourseText(absl::string_view title, absl::string_view category, const std::vector<std::string>& tags,
                              absl::string_view description);

// Reads a catalog dump. INVALID_ARGUMENT naming the line when a line is not a
// JSON object or has no non-empty string "id".
absl::StatusOr<std::vector<CatalogCourse>> ReadCatalogFile(const std::string& path);

// Reads a whole file. NOT_FOUND when it cannot be opened.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_INTERACTION_FILE_H_
