#include "services/records/transcript.h"

#include <algorithm>
#include <unordered_map>

#include "services/domain/vocabulary.h"

namespace lifelong::records {
namespace {

using Json = nlohmann::json;

double NumberAt(const Json& obj, absl::string_view key) {
  if (!obj.is_object()) return -1;
  auto it = obj.find(std::string(key));
  if (it == obj.end() || !it->is_number()) return -1;
  return it->get<double>();
}

std::string StringAt(const Json& obj, absl::string_view key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(std::string(key));
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

void TranscriptBuilder::Add(const StoredStatement& st) {
  const StatementRecord& r = st.record;
  if (r.Has(RecordFlag::kVoided) || r.activity.empty()) return;
  bool passed = r.verb == vocab::kPassed;
  if (!passed && r.verb != vocab::kCompleted) return;
  Json s = Json::parse(r.json, nullptr, /*allow_exceptions=*/false);
  if (s.is_discarded()) return;
  Json ctx_ext = s.contains("context") ? s["context"].value("extensions", Json::object()) : Json::object();
  Json res = s.value("result", Json::object());
  Json res_ext = res.is_object() ? res.value("extensions", Json::object()) : Json::object();

  TranscriptLine line;
  line.activity = r.activity;
  line.outcome = passed ? "passed" : "completed";
  line.achieved_us = r.timestamp_us;
  line.statement_id = FormatUuid(st.id);
  Issuer issuer = IssuerOfStatement(s);
  line.issuer = issuer.Label();
  line.verified = IssuerMayAwardCredits(issuer.role);
  double credits = NumberAt(ctx_ext, vocab::kExtCredits);
  if (credits < 0) credits = NumberAt(res_ext, vocab::kExtCredits);
  line.credits = std::max(0.0, credits);
  double hours = NumberAt(ctx_ext, vocab::kExtHours);
  if (hours < 0 && res.is_object() && res.contains("duration") && res["duration"].is_string()) {
    absl::StatusOr<double> secs = ParseIsoDurationSeconds(res["duration"].get<std::string>());
    if (secs.ok()) hours = *secs / 3600.0;
  }
  line.hours = std::max(0.0, hours);
  line.claimed_credits = line.credits;
  line.claimed_hours = line.hours;
  line.mode = StringAt(ctx_ext, vocab::kExtMode);
  if (line.mode.empty()) {
    std::string platform = s.contains("context") ? StringAt(s["context"], "platform") : "";
    line.mode = platform == "kiosk" ? "offline" : "online";
  }
  line.xuequ = StringAt(ctx_ext, vocab::kExtXuequ);
  const Json& obj = s["object"];
  if (obj.contains("definition") && obj["definition"].contains("name") && obj["definition"]["name"].is_object() &&
      !obj["definition"]["name"].empty()) {
    const Json& names = obj["definition"]["name"];
    line.title = names.contains("zh-CN") ? names["zh-CN"].get<std::string>() : names.begin()->get<std::string>();
  } else {
    line.title = r.activity;
  }

  std::unordered_map<std::string, TranscriptLine>& by_course = line.verified ? verified_ : unverified_;
  auto it = by_course.find(r.activity);
  if (it == by_course.end()) {
    by_course.emplace(r.activity, std::move(line));
    return;
  }
  TranscriptLine& cur = it->second;
  if (line.achieved_us < cur.achieved_us) {
    cur.achieved_us = line.achieved_us;
    cur.statement_id = line.statement_id;
    cur.issuer = line.issuer;
  }
  if (passed) cur.outcome = "passed";
  cur.hours = std::max(cur.hours, line.hours);
  cur.credits = std::max(cur.credits, line.credits);
  cur.claimed_hours = cur.hours;
  cur.claimed_credits = cur.credits;
  if (cur.xuequ.empty()) cur.xuequ = line.xuequ;
}

TranscriptData TranscriptBuilder::Finish() && {
  TranscriptData out;
  for (auto& [activity, line] : verified_) out.lines.push_back(std::move(line));
  for (auto& [activity, line] : unverified_) {
    if (verified_.count(activity) != 0) continue;  // a verified entry stands for the course
    line.hours = 0;                                // self-reported learning earns nothing
    line.credits = 0;
    out.lines.push_back(std::move(line));
  }
  std::sort(out.lines.begin(), out.lines.end(), [](const TranscriptLine& a, const TranscriptLine& b) {
    return a.achieved_us != b.achieved_us ? a.achieved_us < b.achieved_us : a.activity < b.activity;
  });
  for (const TranscriptLine& l : out.lines) {
    for (TranscriptTotals* t : {&out.total, &out.by_mode[l.mode], &out.by_xuequ[l.xuequ]}) {
      t->courses += 1;
      t->hours += l.hours;
      t->credits += l.credits;
      if (!l.verified) t->unverified_courses += 1;
    }
  }
  return out;
}

TranscriptData BuildTranscript(const std::vector<StoredStatement>& statements) {
  TranscriptBuilder builder;
  for (const StoredStatement& st : statements) builder.Add(st);
  return std::move(builder).Finish();
}

}  // namespace lifelong::records
