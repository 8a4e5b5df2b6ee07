// Replay of a held-out test split through the live services, and the
// offline figures it is compared with (docs/models.md, "Replay through the
// live services").
//
// The pieces, in the order the tool (replay_main.cc) uses them:
//   1. MakeCatalogCourses / LoadCatalog: one catalog course per dataset
//      course, OPEN, online, no seat limit, no enrolment window, so that the
//      recommender's hard constraints remove none of them; a title whose
//      series key (services/recommend/course.cc) is the whole title, so the
//      one-per-series diversity rule never merges two of them.
//   2. RecordTrainInteractions: every training interaction as an xAPI
//      `completed` statement through LearningRecordService.RecordStatements,
//      in the training order (stable sort by Interaction::order), timestamp
//      ReplayTimestamp(position). The record service keeps each learner's
//      statements in the order they are stored and the trainer orders by
//      timestamp, so both see the order the offline evaluator sees. The
//      trainer gets the export in export order (learner id first,
//      models/records_export.h), so replay_main hands the evaluator the
//      recorded interactions in that order too.
//   3. (the trainer and the recommender are separate processes)
//      WaitForModelVersion: until GetModelStatus reports the version.
//   4. QueryRecommendations: Recommend(learner, k) per evaluation case, app
//      channel, no filter.
//   5. EvaluateLists: the returned lists under the protocol of
//      models/evaluation.h, through EvaluateRanking itself.
//   ServedRankingScorer re-computes offline what the service does to the
//   model's scores (blend with popularity and completion rate, category cap)
//   so a gap between live and offline figures can be attributed exactly.
//
// Thread-safety: free functions are thread-safe; each call uses its own
// stubs.
#ifndef LIFELONG_MODELS_REPLAY_REPLAY_H_
#define LIFELONG_MODELS_REPLAY_REPLAY_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "models/evaluation.h"
#include "models/interaction.h"
#include "models/model_bundle.h"
#include "models/served_blend.h"
#include "models/served_ranking.h"
#include "nlohmann/json.hpp"
#include "proto/lifelong/v1/catalog.pb.h"
#include "proto/lifelong/v1/recommend.pb.h"
#include "services/domain/vocabulary.h"

namespace lifelong::models::replay {

// Side information of a dataset course (CNPC: cnpc_course_info_v3.json).
struct CourseInfo {
  std::string discipline;
  int64_t length_days = -1;  // -1: unknown
};

// Reads JSON lines {"course_idx2"|"id"|"course": int|string,
// "discipline"?: string, "course_length"?: int}; blank lines skipped.
// NOT_FOUND when the file cannot be opened; INVALID_ARGUMENT naming file and
// line for a line that is not such an object.
absl::StatusOr<absl::flat_hash_map<std::string, CourseInfo>> ReadCourseInfoFile(const std::string& path);

// A course of the replayed dataset as it is put into the catalog.
struct ReplayCourse {
  std::string id;
  std::string title;
  std::string category;
  std::vector<std::string> tags;
  std::string description;
};

// One course per distinct course id of `interactions`, sorted by id. Title
// "课程 <id> 号" (its series key is the whole title); the discipline, when
// known, is a tag and part of the description, and also the category when
// `discipline_as_category` (then the service's per-category cap applies). The
// category is "" otherwise: one category for all courses, under which the
// cap changes nothing (services/recommend/diversity.cc refills in rank order).
std::vector<ReplayCourse> MakeCatalogCourses(const std::vector<Interaction>& interactions,
                                             const absl::flat_hash_map<std::string, CourseInfo>& info,
                                             bool discipline_as_category);

// The catalog message: OPEN, ONLINE, capacity 0 (no limit), no enrolment
// window, provider "Canvas Network (replay)" of kind ONLINE_PLATFORM.
v1::Course ToCourseProto(const ReplayCourse& course);

// A line of the catalog dump read by `train --catalog` (JSON, no newline).
std::string CatalogDumpLine(const ReplayCourse& course);

struct PhaseStats {
  int64_t count = 0;     // items done (courses, statements, queries)
  int64_t existing = 0;  // LoadCatalog: courses that were already there
  double seconds = 0;
};

// Creates every course with CreateCourse. ALREADY_EXISTS counts as
// `existing` (the stored course is left as it is). Other errors: the first
// one, naming the course.
absl::StatusOr<PhaseStats> LoadCatalog(const std::shared_ptr<grpc::Channel>& catalog,
                                       const std::vector<ReplayCourse>& courses);

// Timestamp of the statement at `position` of the recording order:
// 2015-01-01T00:00:00Z plus `position` seconds.
absl::Time ReplayTimestamp(int64_t position);

// The xAPI statement of one interaction: actor the district account named
// `learner` (learner key = `learner`), verb `verb` (an IRI), object the
// course activity, the given timestamp. Compact JSON.
std::string StatementJson(const std::string& learner, const std::string& course_id, absl::Time timestamp,
                          absl::string_view verb = vocab::kCompleted);

// The verb an interaction of weight `weight` is recorded with, so that the
// trainer reading the record service (models::VerbWeight) sees the weight of
// the file: 1 completed, 0.5 attended, 0.3 registered. std::nullopt for any
// other weight (RecordTrainInteractions then refuses the data).
std::optional<absl::string_view> VerbForWeight(float weight);

// `interactions` with weight > 0 in training order: stable sort by
// Interaction::order (ties keep input order), as GroupSequences orders them.
std::vector<Interaction> RecordingOrder(const std::vector<Interaction>& interactions);

struct RecordOptions {
  int batch = 1000;  // statements per RecordStatements call (1..1000)
  // Concurrent callers. Learners are partitioned among them (a learner's
  // statements stay in one caller, in order); with more than one, the
  // global stored order differs from the recording order.
  int streams = 1;
  absl::Duration deadline = absl::Seconds(120);  // per call
  // Called about every 2 s with statements recorded so far.
  std::function<void(int64_t done, int64_t total, double seconds)> progress;
};

// Records RecordingOrder(interactions) (statement at position p gets
// ReplayTimestamp(p)). Returns the count and time. Errors: the first failed
// call's status (already recorded batches stay recorded).
absl::StatusOr<PhaseStats> RecordTrainInteractions(const std::shared_ptr<grpc::Channel>& records,
                                                   const std::vector<Interaction>& interactions,
                                                   const RecordOptions& options);

// Polls GetModelStatus every 100 ms until it reports `version` (or a larger
// one when `or_newer`). DEADLINE_EXCEEDED after `timeout`, with the last
// status or error in the message.
absl::StatusOr<v1::ModelStatus> WaitForModelVersion(const std::shared_ptr<grpc::Channel>& recommend, int64_t version,
                                                    absl::Duration timeout);

struct QueryOptions {
  int k = 10;
  int concurrency = 8;                          // client threads on one channel
  absl::Duration deadline = absl::Seconds(10);  // per call
  int retries = 3;                              // extra tries after UNAVAILABLE / DEADLINE_EXCEEDED
  std::function<void(int64_t done, int64_t total, double seconds)> progress;  // ~ every 2 s
};

struct LiveAnswers {
  std::vector<std::vector<std::string>> lists;  // per case: course ids, best first
  std::vector<double> latency_ms;               // per successful call
  int64_t errors = 0;                           // calls that failed after retries
  std::string first_error;
  int64_t cold_start = 0;     // responses marked cold_start
  std::string model_version;  // of the last response
  double seconds = 0;
};

// Recommend(learner = case.learner, k, context channel APP, no filter) for
// every case. A failed call leaves an empty list and counts in `errors`.
// INVALID_ARGUMENT when options are out of range.
absl::StatusOr<LiveAnswers> QueryRecommendations(const std::shared_ptr<grpc::Channel>& recommend,
                                                 const std::vector<EvalCase>& cases, const QueryOptions& options);

// What EvaluateLists found odd in the lists (all 0 for a well-behaved
// service).
struct ListAnomalies {
  int64_t short_lists = 0;    // fewer than k courses not in the history
  int64_t history_items = 0;  // returned courses that are in the history
  int64_t unknown_items = 0;  // returned courses outside `universe`
  int64_t duplicate_items = 0;
  nlohmann::json ToJson() const;
};

// Metrics of fixed ranked lists (lists[i] for cases[i], best first) under
// the protocol of evaluation.h, computed by EvaluateRanking: each list is
// turned into scores over `universe` (extended by unknown returned ids and,
// when a list is short, by k placeholders that rank after the list and never
// match), so a short list is not filled with other courses. Coverage is
// distinct returned courses in any top k / |universe|.
RankingMetrics EvaluateLists(const std::vector<EvalCase>& cases, const std::vector<std::vector<std::string>>& lists,
                             const std::vector<std::string>& universe, int k, ListAnomalies* anomalies = nullptr);

// The top-k lists `scorer` gives under the protocol of evaluation.h
// (history excluded, ties by universe position), for list comparisons.
std::vector<std::vector<std::string>> RankedLists(const std::vector<EvalCase>& cases,
                                                  const std::vector<std::string>& universe, int k,
                                                  const Scorer& scorer);

// ServedRankingOptions and ServedRankingScorer (the service's re-ranking
// recomputed offline) live in models/served_ranking.h, gRPC-free, so that
// models/evaluate reports the served ranking too.
using ::lifelong::models::ServedRankingOptions;
using ::lifelong::models::ServedRankingScorer;

// Fraction of cases whose lists agree: `same_order` identical sequences,
// `same_set` the same courses in any order; `mean_overlap` the mean share
// of a's courses also in b.
struct ListAgreement {
  double same_order = 0;
  double same_set = 0;
  double mean_overlap = 0;
  nlohmann::json ToJson() const;
};
ListAgreement CompareLists(const std::vector<std::vector<std::string>>& a,
                           const std::vector<std::vector<std::string>>& b);

}  // namespace lifelong::models::replay

#endif  // LIFELONG_MODELS_REPLAY_REPLAY_H_
