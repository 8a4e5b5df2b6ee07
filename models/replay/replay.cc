#include "models/replay/replay.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "models/course_lines.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/grpc_status.h"
#include "services/domain/vocabulary.h"

namespace lifelong::models::replay {
namespace {

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) { return absl::ToChronoTime(absl::Now() + d); }

double Since(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

// Calls `progress` at most every 2 s from whichever worker gets there.
class ProgressTicker {
 public:
  ProgressTicker(std::function<void(int64_t, int64_t, double)> progress, int64_t total)
      : progress_(std::move(progress)), total_(total), start_(absl::Now()), last_(start_) {}
  void Add(int64_t n) {
    const int64_t done = done_.fetch_add(n) + n;
    if (!progress_) return;
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = absl::Now();
    if (now - last_ < absl::Seconds(2)) return;
    last_ = now;
    progress_(done, total_, absl::ToDoubleSeconds(now - start_));
  }

 private:
  std::function<void(int64_t, int64_t, double)> progress_;
  const int64_t total_;
  const absl::Time start_;
  std::atomic<int64_t> done_{0};
  std::mutex mu_;
  absl::Time last_;
};

}  // namespace

absl::StatusOr<absl::flat_hash_map<std::string, CourseInfo>> ReadCourseInfoFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  absl::flat_hash_map<std::string, CourseInfo> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", why));
    };
    if (!j.is_object()) return bad("not a JSON object");
    absl::StatusOr<std::string> id = CourseIdOf(j, {"course_idx2", "id", "course"});
    if (!id.ok()) return bad(id.status().message());
    const std::string& course = *id;
    CourseInfo info;
    if (j.contains("discipline")) {
      if (!j["discipline"].is_string()) return bad("field 'discipline': not a string");
      info.discipline = j["discipline"].get<std::string>();
    }
    if (j.contains("course_length")) {
      if (!j["course_length"].is_number()) return bad("field 'course_length': not a number");
      info.length_days = j["course_length"].get<int64_t>();
    }
    out[course] = std::move(info);
  }
  return out;
}

std::vector<ReplayCourse> MakeCatalogCourses(const std::vector<Interaction>& interactions,
                                             const absl::flat_hash_map<std::string, CourseInfo>& info,
                                             bool discipline_as_category) {
  std::vector<std::string> ids;
  absl::flat_hash_set<std::string> seen;
  for (const Interaction& x : interactions) {
    if (seen.insert(x.course_id).second) ids.push_back(x.course_id);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<ReplayCourse> out;
  out.reserve(ids.size());
  for (const std::string& id : ids) {
    ReplayCourse c;
    c.id = id;
    // Not ending in a number, bracket, 期/班/季/级: SeriesKey(title) == title.
    c.title = absl::StrCat("课程 ", id, " 号");
    c.description = absl::StrCat("Replayed dataset course ", id, ".");
    auto it = info.find(id);
    if (it != info.end()) {
      if (!it->second.discipline.empty()) {
        c.tags.push_back(it->second.discipline.substr(0, 32));
        absl::StrAppend(&c.description, " Discipline: ", it->second.discipline, ".");
        if (discipline_as_category) c.category = it->second.discipline.substr(0, 64);
      }
      if (it->second.length_days >= 0) {
        absl::StrAppend(&c.description, " Length: ", it->second.length_days, " days.");
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

v1::Course ToCourseProto(const ReplayCourse& course) {
  v1::Course c;
  c.set_id(course.id);
  c.set_title(course.title);
  c.set_description(course.description);
  c.set_category(course.category);
  for (const std::string& t : course.tags) c.add_tags(t);
  c.mutable_provider()->set_name("Canvas Network (replay)");
  c.mutable_provider()->set_kind(v1::Provider::ONLINE_PLATFORM);
  c.set_mode(v1::Course::ONLINE);
  c.set_state(v1::Course::OPEN);
  c.set_capacity(0);
  return c;
}

std::string CatalogDumpLine(const ReplayCourse& course) {
  nlohmann::json j = {{"id", course.id},
                      {"title", course.title},
                      {"description", course.description},
                      {"category", course.category},
                      {"tags", course.tags}};
  return j.dump();
}

absl::StatusOr<PhaseStats> LoadCatalog(const std::shared_ptr<grpc::Channel>& catalog,
                                       const std::vector<ReplayCourse>& courses) {
  auto stub = v1::CourseCatalogService::NewStub(catalog);
  const absl::Time start = absl::Now();
  PhaseStats stats;
  for (const ReplayCourse& course : courses) {
    v1::CreateCourseRequest req;
    *req.mutable_course() = ToCourseProto(course);
    v1::Course resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
    grpc::Status s = stub->CreateCourse(&ctx, req, &resp);
    if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      ++stats.existing;
    } else if (!s.ok()) {
      return FromGrpcStatus(s, absl::StrCat("CreateCourse ", course.id));
    }
    ++stats.count;
  }
  stats.seconds = Since(start);
  return stats;
}

absl::Time ReplayTimestamp(int64_t position) {
  return absl::FromCivil(absl::CivilSecond(2015, 1, 1, 0, 0, 0), absl::UTCTimeZone()) + absl::Seconds(position);
}

std::optional<absl::string_view> VerbForWeight(float weight) {
  for (absl::string_view verb : {vocab::kCompleted, vocab::kAttended, vocab::kRegistered}) {
    if (VerbWeight(verb) == weight) return verb;
  }
  return std::nullopt;
}

std::string StatementJson(const std::string& learner, const std::string& course_id, absl::Time timestamp,
                          absl::string_view verb) {
  nlohmann::ordered_json st = {
      {"actor",
       {{"objectType", "Agent"}, {"account", {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", learner}}}}},
      {"verb", {{"id", std::string(verb)}}},
      {"object",
       {{"objectType", "Activity"},
        {"id", vocab::CourseIri(course_id)},
        {"definition", {{"type", std::string(vocab::kCourseActivityType)}}}}},
      {"timestamp", absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", timestamp, absl::UTCTimeZone())}};
  return st.dump();
}

std::vector<Interaction> RecordingOrder(const std::vector<Interaction>& interactions) {
  std::vector<Interaction> out;
  out.reserve(interactions.size());
  for (const Interaction& x : interactions) {
    if (x.weight > 0) out.push_back(x);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Interaction& a, const Interaction& b) { return a.order < b.order; });
  return out;
}

absl::StatusOr<PhaseStats> RecordTrainInteractions(const std::shared_ptr<grpc::Channel>& records,
                                                   const std::vector<Interaction>& interactions,
                                                   const RecordOptions& options) {
  if (options.batch < 1 || options.batch > 1000) {
    return absl::InvalidArgumentError("batch: must be in [1, 1000]");
  }
  if (options.streams < 1) return absl::InvalidArgumentError("streams: must be >= 1");
  const std::vector<Interaction> ordered = RecordingOrder(interactions);
  for (const Interaction& x : ordered) {
    if (!VerbForWeight(x.weight).has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("interactions: learner ", x.learner, " course ", x.course_id, ": weight ", x.weight,
                       " has no xAPI verb (replayable weights: 1 completed, 0.5 attended, 0.3 registered)"));
    }
  }
  // Positions per stream; a learner's statements all go to one stream.
  std::vector<std::vector<int64_t>> per_stream(options.streams);
  for (int64_t p = 0; p < static_cast<int64_t>(ordered.size()); ++p) {
    const size_t s = options.streams == 1 ? 0 : absl::Hash<std::string>()(ordered[p].learner) % options.streams;
    per_stream[s].push_back(p);
  }
  const absl::Time start = absl::Now();
  ProgressTicker ticker(options.progress, static_cast<int64_t>(ordered.size()));
  std::mutex mu;
  absl::Status first_error;
  std::atomic<bool> failed{false};
  auto run = [&](const std::vector<int64_t>& positions) {
    auto stub = v1::LearningRecordService::NewStub(records);
    for (size_t i = 0; i < positions.size() && !failed.load(); i += options.batch) {
      v1::RecordStatementsRequest req;
      req.set_view(v1::STATEMENT_VIEW_BASIC);
      const size_t end = std::min(positions.size(), i + options.batch);
      for (size_t b = i; b < end; ++b) {
        const Interaction& x = ordered[positions[b]];
        req.add_statement_json(
            StatementJson(x.learner, x.course_id, ReplayTimestamp(positions[b]), *VerbForWeight(x.weight)));
      }
      v1::RecordStatementsResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineIn(options.deadline));
      grpc::Status s = stub->RecordStatements(&ctx, req, &resp);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) {
          first_error = FromGrpcStatus(
              s, absl::StrCat("RecordStatements (statements ", positions[i], ".. of the recording order)"));
        }
        failed = true;
        return;
      }
      ticker.Add(static_cast<int64_t>(end - i));
    }
  };
  if (options.streams == 1) {
    run(per_stream[0]);
  } else {
    std::vector<std::thread> threads;
    for (const auto& positions : per_stream) threads.emplace_back(run, std::cref(positions));
    for (std::thread& t : threads) t.join();
  }
  if (!first_error.ok()) return first_error;
  PhaseStats stats;
  stats.count = static_cast<int64_t>(ordered.size());
  stats.seconds = Since(start);
  return stats;
}

absl::StatusOr<v1::ModelStatus> WaitForModelVersion(const std::shared_ptr<grpc::Channel>& recommend, int64_t version,
                                                    absl::Duration timeout) {
  auto stub = v1::RecommendationService::NewStub(recommend);
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "no answer yet";
  while (true) {
    v1::ModelStatus status;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(2)));
    grpc::Status s = stub->GetModelStatus(&ctx, v1::GetModelStatusRequest(), &status);
    if (s.ok()) {
      if (status.version() == version) return status;
      last = absl::StrCat("serving version ", status.version(),
                          status.last_error().empty() ? "" : ", last error: ", status.last_error());
    } else {
      last = absl::StrCat("GetModelStatus: ", s.error_message());
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("recommender did not load model version ", version, " within ",
                                                      absl::FormatDuration(timeout), " (", last, ")"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

absl::StatusOr<LiveAnswers> QueryRecommendations(const std::shared_ptr<grpc::Channel>& recommend,
                                                 const std::vector<EvalCase>& cases, const QueryOptions& options) {
  if (options.k < 1 || options.k > 100) return absl::InvalidArgumentError("k: must be in [1, 100]");
  if (options.concurrency < 1) return absl::InvalidArgumentError("concurrency: must be >= 1");
  LiveAnswers out;
  out.lists.resize(cases.size());
  std::vector<double> latency(cases.size(), -1);
  std::vector<char> cold(cases.size(), 0);
  std::atomic<size_t> next{0};
  std::mutex mu;
  ProgressTicker ticker(options.progress, static_cast<int64_t>(cases.size()));
  const absl::Time start = absl::Now();
  auto worker = [&]() {
    auto stub = v1::RecommendationService::NewStub(recommend);
    for (size_t i = next.fetch_add(1); i < cases.size(); i = next.fetch_add(1)) {
      v1::RecommendRequest req;
      req.set_learner(cases[i].learner);
      req.set_k(options.k);
      req.mutable_context()->set_channel(v1::RecommendContext::CHANNEL_APP);
      grpc::Status s;
      v1::RecommendResponse resp;
      absl::Time t0;
      for (int attempt = 0; attempt <= options.retries; ++attempt) {
        resp.Clear();
        grpc::ClientContext ctx;
        ctx.set_deadline(DeadlineIn(options.deadline));
        t0 = absl::Now();
        s = stub->Recommend(&ctx, req, &resp);
        if (s.ok() || (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
                       s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED)) {
          break;
        }
        absl::SleepFor(absl::Milliseconds(100 << attempt));
      }
      if (s.ok()) {
        latency[i] = absl::ToDoubleMilliseconds(absl::Now() - t0);
        cold[i] = resp.cold_start() ? 1 : 0;
        for (const v1::Recommendation& r : resp.recommendations()) {
          out.lists[i].push_back(r.course().course_id());
        }
        std::lock_guard<std::mutex> lock(mu);
        out.model_version = resp.model_version();
      } else {
        std::lock_guard<std::mutex> lock(mu);
        if (out.errors++ == 0) {
          out.first_error = absl::StrCat("learner ", cases[i].learner, ": ", static_cast<int>(s.error_code()), " ",
                                         s.error_message());
        }
      }
      ticker.Add(1);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < options.concurrency; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  out.seconds = Since(start);
  for (size_t i = 0; i < cases.size(); ++i) {
    if (latency[i] >= 0) out.latency_ms.push_back(latency[i]);
    out.cold_start += cold[i];
  }
  return out;
}

nlohmann::json ListAnomalies::ToJson() const {
  return {{"short_lists", short_lists},
          {"history_items", history_items},
          {"unknown_items", unknown_items},
          {"duplicate_items", duplicate_items}};
}

RankingMetrics EvaluateLists(const std::vector<EvalCase>& cases, const std::vector<std::vector<std::string>>& lists,
                             const std::vector<std::string>& universe, int k, ListAnomalies* anomalies) {
  ListAnomalies a;
  std::vector<std::string> ext = universe;
  absl::flat_hash_map<std::string, int> row_of;
  for (size_t i = 0; i < ext.size(); ++i) row_of.emplace(ext[i], static_cast<int>(i));
  bool any_short = false;
  absl::flat_hash_set<std::string> covered;
  for (size_t c = 0; c < cases.size() && c < lists.size(); ++c) {
    absl::flat_hash_set<std::string> history;
    for (const HistoryEvent& e : cases[c].history) history.insert(e.course_id);
    absl::flat_hash_set<std::string> in_list;
    int usable = 0;
    for (const std::string& id : lists[c]) {
      if (!in_list.insert(id).second) {
        ++a.duplicate_items;
        continue;
      }
      if (history.contains(id)) {
        ++a.history_items;
        continue;
      }
      if (!row_of.contains(id)) {
        ++a.unknown_items;
        row_of.emplace(id, static_cast<int>(ext.size()));
        ext.push_back(id);
      }
      if (usable < k) covered.insert(id);
      ++usable;
    }
    if (usable < k && !cases[c].held_out.empty()) {
      ++a.short_lists;
      any_short = true;
    }
  }
  const size_t real = ext.size();
  if (any_short) {
    // Placeholders: rank after every list, never held out.
    for (int i = 0; i < k; ++i) ext.push_back(absl::StrCat("\x01replay-placeholder-", i));
  }
  const EvalCase* base = cases.data();
  Scorer scorer = [&](const EvalCase& ec) {
    std::vector<float> s(ext.size(), 0.0f);
    for (size_t i = real; i < ext.size(); ++i) s[i] = 1.0f;
    const size_t c = static_cast<size_t>(&ec - base);
    if (c < lists.size()) {
      const int n = static_cast<int>(lists[c].size());
      for (int r = 0; r < n; ++r) {
        auto it = row_of.find(lists[c][r]);
        if (it == row_of.end()) continue;  // a history course outside the universe
        float& v = s[it->second];
        v = std::max(v, static_cast<float>(2 + n - r));
      }
    }
    return s;
  };
  RankingMetrics m = EvaluateRanking(cases, ext, k, scorer);
  m.coverage = universe.empty() ? 0.0 : static_cast<double>(covered.size()) / universe.size();
  if (anomalies != nullptr) *anomalies = a;
  return m;
}

std::vector<std::vector<std::string>> RankedLists(const std::vector<EvalCase>& cases,
                                                  const std::vector<std::string>& universe, int k,
                                                  const Scorer& scorer) {
  absl::flat_hash_map<std::string, int> row_of;
  for (size_t i = 0; i < universe.size(); ++i) row_of.emplace(universe[i], static_cast<int>(i));
  std::vector<std::vector<std::string>> out;
  out.reserve(cases.size());
  for (const EvalCase& c : cases) {
    const std::vector<float> scores = scorer(c);
    std::vector<bool> seen(universe.size(), false);
    for (const HistoryEvent& e : c.history) {
      auto it = row_of.find(e.course_id);
      if (it != row_of.end()) seen[it->second] = true;
    }
    std::vector<std::string> list;
    for (int row : TopUnexcludedRows(scores, seen, k)) list.push_back(universe[row]);
    out.push_back(std::move(list));
  }
  return out;
}

nlohmann::json ListAgreement::ToJson() const {
  return {{"same_order", same_order}, {"same_set", same_set}, {"mean_overlap", mean_overlap}};
}

ListAgreement CompareLists(const std::vector<std::vector<std::string>>& a,
                           const std::vector<std::vector<std::string>>& b) {
  ListAgreement out;
  const size_t n = std::min(a.size(), b.size());
  if (n == 0) return out;
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) out.same_order += 1;
    absl::flat_hash_set<std::string> sa(a[i].begin(), a[i].end());
    absl::flat_hash_set<std::string> sb(b[i].begin(), b[i].end());
    if (sa == sb) out.same_set += 1;
    int common = 0;
    for (const std::string& x : sa) common += sb.contains(x) ? 1 : 0;
    out.mean_overlap += sa.empty() ? (sb.empty() ? 1.0 : 0.0) : static_cast<double>(common) / sa.size();
  }
  out.same_order /= n;
  out.same_set /= n;
  out.mean_overlap /= n;
  return out;
}

}  // namespace lifelong::models::replay
