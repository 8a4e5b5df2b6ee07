// Reads training interactions from the learning-record service's
// ExportStatements stream and maps xAPI statements to interactions:
//   * statements marked voided, and voiding statements, are skipped;
//   * the course is vocab::CourseIdFromIri(activity); other objects skipped;
//   * the weight is VerbWeight(verb); verbs weighing 0 (failed, unknown) are
//     skipped;
//   * the order is the statement timestamp in Unix microseconds (the stored
//     time when the timestamp is unset).
// The interactions come back in export order (SortInExportOrder), whatever
// the store's stored order: two stores holding the same statements (say,
// loaded by concurrent streams) give the trainer the same input, hence the
// same model.
#ifndef LIFELONG_MODELS_RECORDS_EXPORT_H_
#define LIFELONG_MODELS_RECORDS_EXPORT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "models/interaction.h"
#include "proto/lifelong/v1/records.grpc.pb.h"

namespace lifelong::models {

// Sorts by learner id, then order, course id and weight: the export's order.
// Stored order differs between stores holding the same statements
// (concurrent loaders interleave learners differently), and the trainer's
// learner order decides its float summation order and which learners its
// tuning samples, so the export does not pass stored order on. The replay
// gives the offline evaluator its training file in this order too.
void SortInExportOrder(std::vector<Interaction>* interactions);

// The interaction a statement contributes, or std::nullopt (see above).
// Thread-safe (pure).
std::optional<Interaction> StatementToInteraction(const lifelong::v1::Statement& statement);

struct RecordsExportOptions {
  std::string after_cursor;  // resume point; empty = beginning
  int64_t limit = 0;         // statements to read; 0 = all
  absl::Duration deadline = absl::Minutes(30);
  int max_resumes = 3;  // reopen after UNAVAILABLE mid-stream
  // Called with the statements read so far, every 100,000 statements.
  std::function<void(int64_t)> on_progress;
  // Bearer token (role trainer or operator) when the service demands one.
  std::string token;
};

// Initial metadata of ExportStatements naming the record store's erasure
// epoch at the start of the export (services/records/records_service.h
// kErasureEpochHeader; the two must match).
inline constexpr char kErasureEpochMetadata[] = "x-lifelong-erasure-epoch";

struct RecordsExportResult {
  std::vector<Interaction> interactions;  // by learner, order, course, weight
  // The erasure epoch the service reported, the smallest over resumed
  // streams; unset when the service did not report one (older servers). A
  // model trained on this export records it in its manifest
  // (model_retirement.h).
  std::optional<uint64_t> erasure_epoch;
  int64_t statements = 0;   // statements received
  int64_t skipped = 0;      // statements that gave no interaction
  std::string last_cursor;  // cursor of the last statement received
};

// Streams the export through `stub`. A stream that fails with UNAVAILABLE
// after progress is reopened from the last cursor up to max_resumes times.
// Errors: the stream's status mapped to absl (UNAVAILABLE when the service
// cannot be reached, DEADLINE_EXCEEDED after `deadline`).
absl::StatusOr<RecordsExportResult> ReadInteractionsFromRecords(
    lifelong::v1::LearningRecordService::StubInterface* stub,
    const RecordsExportOptions& options = RecordsExportOptions());

// The same over a new insecure channel to `address` ("host:port").
absl::StatusOr<RecordsExportResult> ReadInteractionsFromRecords(
    const std::string& address, const RecordsExportOptions& options = RecordsExportOptions());

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_RECORDS_EXPORT_H_
