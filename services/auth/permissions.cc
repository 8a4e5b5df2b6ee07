#include "services/auth/permissions.h"

#include "absl/container/flat_hash_map.h"

namespace lifelong::auth {
namespace {

constexpr char kRecords[] = "/lifelong.v1.LearningRecordService/";
constexpr char kCatalog[] = "/lifelong.v1.CourseCatalogService/";
constexpr char kRecommend[] = "/lifelong.v1.RecommendationService/";

using R = Role;
using S = Scope;

std::vector<TableRow> BuildTable() {
  auto rec = [](const char* m) { return std::string(kRecords) + m; };
  auto cat = [](const char* m) { return std::string(kCatalog) + m; };
  auto rcm = [](const char* m) { return std::string(kRecommend) + m; };
  const std::vector<std::pair<Role, Scope>> everyone_no_records = {
      {R::kLearner, S::kNoRecords},  {R::kKiosk, S::kNoRecords},   {R::kTeacher, S::kNoRecords},
      {R::kOperator, S::kNoRecords}, {R::kTrainer, S::kNoRecords}, {R::kRecommender, S::kNoRecords},
      {R::kLoader, S::kNoRecords}};
  return {
      // --- Learning records (personal data; every call is audited) ---
      {rec("RecordStatement"),
       {{R::kLearner, S::kSelf}, {R::kKiosk, S::kVenue}, {R::kTeacher, S::kCourses}, {R::kLoader, S::kAny}},
       "learners record their own events, kiosks check-ins at their venue, teachers their courses"},
      {rec("RecordStatements"),
       {{R::kLearner, S::kSelf}, {R::kKiosk, S::kVenue}, {R::kTeacher, S::kCourses}, {R::kLoader, S::kAny}},
       "as RecordStatement, every statement of the batch"},
      {rec("GetStatement"),
       {{R::kLearner, S::kSelf}, {R::kTeacher, S::kCourses}},
       "a learner's own statement; a teacher's course statements"},
      {rec("ListStatements"),
       {{R::kLearner, S::kSelf}, {R::kKiosk, S::kBoundLearner}, {R::kTeacher, S::kCourses}, {R::kRecommender, S::kAny}},
       "a kiosk lists only the history of the learner who signed in there with a pass; the recommender "
       "reads histories to recommend"},
      {rec("VoidStatement"), {{R::kLearner, S::kSelf}, {R::kTeacher, S::kCourses}}, "corrections by the owner"},
      {rec("GetTranscript"),
       {{R::kLearner, S::kSelf}, {R::kKiosk, S::kBoundLearner}},
       "the credit-bank transcript is the learner's (also at a kiosk they signed in to with a pass)"},
      {rec("ExportLearner"), {{R::kLearner, S::kSelf}}, "data-portability right of the learner"},
      {rec("EraseLearner"),
       {{R::kLearner, S::kSelf}, {R::kOperator, S::kAny}},
       "erasure by the learner, or by an operator on request"},
      {rec("ExportStatements"), {{R::kTrainer, S::kAny}, {R::kOperator, S::kAny}}, "model training and backups"},
      {rec("GetErasureEpoch"),
       {{R::kTrainer, S::kAny}, {R::kOperator, S::kAny}},
       "the retraining schedule: a count, no personal data"},
      {rec("ListAuditEvents"), {{R::kOperator, S::kAny}}, "who read what: operators only"},
      {rec("CreateBackup"), {{R::kOperator, S::kAny}}, "backups hold every learner's records: operators only"},
      {rec("ListBackups"), {{R::kOperator, S::kAny}}, "backup operations"},
      {rec("VerifyBackup"), {{R::kOperator, S::kAny}}, "backup operations"},
      {rec("WatchLearnerChanges"),
       {{R::kRecommender, S::kAny}},
       "the recommender's history cache learns whose records changed"},
      {rec("CreateKioskPass"), {{R::kLearner, S::kSelf}}, "a learner asks for a code to show at a kiosk"},
      {rec("RedeemKioskPass"), {{R::kKiosk, S::kVenue}}, "the kiosk exchanges the code for a short session"},
      {rec("BindLearnerCard"),
       {{R::kOperator, S::kAny}, {R::kLoader, S::kAny}},
       "staff at the counter (or the district's loader) bind a learner card and its PIN; never the learner"},
      {rec("UnbindLearnerCard"), {{R::kOperator, S::kAny}, {R::kLoader, S::kAny}}, "as BindLearnerCard"},
      {rec("GetLearnerCard"), {{R::kOperator, S::kAny}, {R::kLoader, S::kAny}}, "as BindLearnerCard"},
      {rec("RedeemLearnerCard"),
       {{R::kKiosk, S::kVenue}},
       "the kiosk exchanges card number and PIN for a short session, as RedeemKioskPass"},
      {rec("Echo"), everyone_no_records, "connectivity check"},
      // --- Course catalog (no personal data) ---
      {cat("CreateCourse"), {{R::kOperator, S::kNoRecords}, {R::kLoader, S::kNoRecords}}, "catalog management"},
      {cat("UpdateCourse"), {{R::kOperator, S::kNoRecords}, {R::kLoader, S::kNoRecords}}, "catalog management"},
      {cat("ArchiveCourse"), {{R::kOperator, S::kNoRecords}}, "catalog management"},
      {cat("GetCourse"), everyone_no_records,
       "the catalog is public to every signed-in caller; a draft course only to staff (learners and kiosks: "
       "NOT_FOUND)"},
      {cat("BatchGetCourses"), everyone_no_records, "as GetCourse"},
      {cat("ListCourses"), everyone_no_records, "as GetCourse"},
      {cat("GetCatalogInfo"), everyone_no_records, "as GetCourse"},
      {cat("Echo"), everyone_no_records, "connectivity check"},
      {cat("PutProgramme"), {{R::kOperator, S::kNoRecords}, {R::kLoader, S::kNoRecords}}, "catalog management"},
      {cat("GetProgramme"), everyone_no_records, "as GetCourse"},
      {cat("ListProgrammes"), everyone_no_records, "as GetCourse"},
      {cat("CreateBackup"),
       {{R::kOperator, S::kNoRecords}},
       "catalog backups copy the whole catalog database: operators only"},
      {cat("ListBackups"), {{R::kOperator, S::kNoRecords}}, "backup operations"},
      {cat("VerifyBackup"), {{R::kOperator, S::kNoRecords}}, "backup operations"},
      // --- Recommendations ---
      {rcm("Recommend"),
       {{R::kLearner, S::kSelf}, {R::kKiosk, S::kBoundLearner}, {R::kOperator, S::kAny}},
       "a learner's own; at a kiosk only for the identified learner (or anonymous cold start)"},
      {rcm("PlanPath"),
       {{R::kLearner, S::kSelf}, {R::kKiosk, S::kBoundLearner}, {R::kOperator, S::kAny}},
       "as Recommend: a learner's own plan"},
      {rcm("SimilarCourses"), everyone_no_records, "no personal data"},
      {rcm("GetModelStatus"), {{R::kOperator, S::kNoRecords}}, "model operations"},
      {rcm("PinModelVersion"), {{R::kOperator, S::kNoRecords}}, "model operations"},
      {rcm("UnpinModelVersion"), {{R::kOperator, S::kNoRecords}}, "model operations"},
      {rcm("Echo"), everyone_no_records, "connectivity check"},
      // --- xAPI HTTP resources (Basic credentials map onto the same roles) ---
      {"xapi:GET /about", everyone_no_records, "version discovery"},
      {"xapi:POST /statements",
       {{R::kLearner, S::kSelf}, {R::kKiosk, S::kVenue}, {R::kTeacher, S::kCourses}, {R::kLoader, S::kAny}},
       "as RecordStatements"},
      {"xapi:PUT /statements",
       {{R::kLearner, S::kSelf}, {R::kKiosk, S::kVenue}, {R::kTeacher, S::kCourses}, {R::kLoader, S::kAny}},
       "as RecordStatement"},
      {"xapi:GET /statements",
       {{R::kLearner, S::kSelf}, {R::kTeacher, S::kCourses}, {R::kLoader, S::kAny}},
       "a learner queries with agent=self; a teacher with activity=one of theirs"},
      {"xapi:GET /activities", everyone_no_records, "activity definitions"},
      {"xapi:GET /agents", {{R::kLearner, S::kSelf}, {R::kLoader, S::kAny}}, "person objects"},
      {"xapi:* /activities/state", {{R::kLearner, S::kSelf}, {R::kLoader, S::kAny}}, "a learner's own state"},
      {"xapi:* /agents/profile", {{R::kLearner, S::kSelf}, {R::kLoader, S::kAny}}, "a learner's own profile"},
      {"xapi:* /activities/profile",
       {{R::kLoader, S::kAny}, {R::kTeacher, S::kCourses}},
       "activity profiles (content metadata): a teacher writes their courses' only"},
  };
}

}  // namespace

absl::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kDenied:
      return "denied";
    case Scope::kAny:
      return "any";
    case Scope::kSelf:
      return "self";
    case Scope::kVenue:
      return "venue";
    case Scope::kBoundLearner:
      return "bound-learner";
    case Scope::kCourses:
      return "courses";
    case Scope::kNoRecords:
      return "no-records";
  }
  return "unknown";
}

const std::vector<TableRow>& PermissionTable() {
  static const std::vector<TableRow>* table = new std::vector<TableRow>(BuildTable());
  return *table;
}

Scope GrantOf(absl::string_view operation, Role role) {
  // Every call asks (the request gates and the handlers): a hash look-up,
  // not a walk of the table's string compares.
  static const auto* by_operation = [] {
    auto* index = new absl::flat_hash_map<std::string, const TableRow*>();
    for (const TableRow& row : PermissionTable()) index->emplace(row.operation, &row);  // the first row wins
    return index;
  }();
  auto it = by_operation->find(operation);
  if (it == by_operation->end()) return Scope::kDenied;
  for (const auto& [r, s] : it->second->grants) {
    if (r == role) return s;
  }
  return Scope::kDenied;
}

}  // namespace lifelong::auth
