#include "services/cli/statement_builder.h"

#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/cli/stable_id.h"
#include "services/common/utf8.h"
#include "services/domain/vocabulary.h"

namespace lifelong::cli {
namespace {

struct VerbName {
  absl::string_view name;
  absl::string_view iri;
};

constexpr VerbName kVerbs[] = {
    {"registered", vocab::kRegistered}, {"attended", vocab::kAttended},     {"completed", vocab::kCompleted},
    {"passed", vocab::kPassed},         {"failed", vocab::kFailed},         {"experienced", vocab::kExperienced},
    {"rated", vocab::kRated},           {"bookmarked", vocab::kBookmarked}, {"voided", vocab::kVoided},
    {"exited", vocab::kExited},
};

}  // namespace

int64_t FirstInvalidUtf8Byte(absl::string_view text) {
  const size_t bad = utf8::FirstInvalidByte(text);
  return bad == absl::string_view::npos ? -1 : static_cast<int64_t>(bad);
}

absl::Status CheckUtf8(absl::string_view field, absl::string_view text) {
  const int64_t bad = FirstInvalidUtf8Byte(text);
  if (bad < 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": not valid UTF-8 (byte ", bad + 1, "); save the input as UTF-8, not GBK"));
}

absl::StatusOr<std::string> VerbIri(absl::string_view verb) {
  for (const VerbName& v : kVerbs) {
    if (v.name == verb) return std::string(v.iri);
  }
  if (absl::StartsWith(verb, "http://") || absl::StartsWith(verb, "https://")) {
    return std::string(verb);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("verb: unknown verb '", verb,
                   "' (registered, attended, completed, passed, failed, experienced, rated, bookmarked, or an IRI)"));
}

std::string VerbShortName(absl::string_view iri) {
  for (const VerbName& v : kVerbs) {
    if (v.iri == iri) return std::string(v.name);
  }
  return std::string(iri);
}

absl::StatusOr<nlohmann::ordered_json> ActorFromLearnerKey(absl::string_view key) {
  using Json = nlohmann::ordered_json;
  if (key.empty()) return absl::InvalidArgumentError("learner: must not be empty");
  Json actor = {{"objectType", "Agent"}};
  if (absl::StartsWith(key, "mailto:")) {
    actor["mbox"] = std::string(key);
  } else if (absl::StartsWith(key, "sha1:")) {
    actor["mbox_sha1sum"] = std::string(key.substr(5));
  } else if (absl::StartsWith(key, "openid:")) {
    actor["openid"] = std::string(key.substr(7));
  } else if (absl::StartsWith(key, "account:")) {
    absl::string_view rest = key.substr(8);
    size_t bar = rest.rfind('|');
    if (bar == absl::string_view::npos || bar == 0 || bar + 1 == rest.size()) {
      return absl::InvalidArgumentError(absl::StrCat("learner: expected account:<homePage>|<name>, got '", key, "'"));
    }
    actor["account"] = {{"homePage", std::string(rest.substr(0, bar))}, {"name", std::string(rest.substr(bar + 1))}};
  } else {
    if (key.find(':') != absl::string_view::npos || key.find(' ') != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("learner: malformed learner key '", key, "'"));
    }
    actor["account"] = {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", std::string(key)}};
  }
  return actor;
}

absl::StatusOr<std::string> BuildStatementJson(const StatementFields& f) {
  using Json = nlohmann::ordered_json;
  if (f.learner.empty()) return absl::InvalidArgumentError("learner: must not be empty");
  if (f.verb.empty()) return absl::InvalidArgumentError("verb: must not be empty");
  if (f.course.empty()) return absl::InvalidArgumentError("course: must not be empty");
  // Checked before anything is built: the JSON library throws when it
  // prints a string that is not UTF-8.
  const std::pair<absl::string_view, const std::string*> texts[] = {
      {"id", &f.id},         {"learner", &f.learner},     {"verb", &f.verb},         {"course", &f.course},
      {"title", &f.title},   {"timestamp", &f.timestamp}, {"mode", &f.mode},         {"xuequ", &f.xuequ},
      {"jiedao", &f.jiedao}, {"venue", &f.venue},         {"platform", &f.platform}, {"registration", &f.registration},
  };
  for (const auto& [name, text] : texts) {
    absl::Status s = CheckUtf8(name, *text);
    if (!s.ok()) return s;
  }
  const std::pair<absl::string_view, const std::optional<double>*> numbers[] = {
      {"credits", &f.credits}, {"hours", &f.hours}, {"score", &f.score}};
  for (const auto& [name, number] : numbers) {
    if (!number->has_value()) continue;
    if (!std::isfinite(**number)) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": not a finite number: ", **number));
    }
    if (name != "score" && **number < 0) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": must not be negative, got ", **number));
    }
  }
  absl::StatusOr<Json> actor = ActorFromLearnerKey(f.learner);
  if (!actor.ok()) return actor.status();
  absl::StatusOr<std::string> verb = VerbIri(f.verb);
  if (!verb.ok()) return verb.status();
  const std::string activity = absl::StrContains(f.course, "://") ? f.course : vocab::CourseIri(f.course);
  const std::string id = !f.id.empty() ? f.id
                                       : StableUuid(absl::StrCat("stmt|", f.learner, "|", *verb, "|", activity, "|",
                                                                 f.timestamp, "|", f.registration));
  Json st = Json::object();
  st["id"] = id;
  st["actor"] = *actor;
  st["verb"] = {{"id", *verb}, {"display", {{"en-US", VerbShortName(*verb)}}}};
  Json definition = {{"type", std::string(vocab::kCourseActivityType)}};
  if (!f.title.empty()) definition["name"] = {{"zh-CN", f.title}};
  st["object"] = {{"objectType", "Activity"}, {"id", activity}, {"definition", definition}};
  if (f.score.has_value()) {
    st["result"] = {{"score", {{"raw", *f.score}, {"min", 1}, {"max", 5}}}};
  }
  Json ctx = Json::object();
  if (!f.registration.empty()) ctx["registration"] = f.registration;
  if (!f.platform.empty()) ctx["platform"] = f.platform;
  Json ext = Json::object();
  if (!f.mode.empty()) ext[std::string(vocab::kExtMode)] = f.mode;
  if (!f.xuequ.empty()) ext[std::string(vocab::kExtXuequ)] = f.xuequ;
  if (!f.jiedao.empty()) ext[std::string(vocab::kExtJiedao)] = f.jiedao;
  if (!f.venue.empty()) ext[std::string(vocab::kExtVenue)] = f.venue;
  if (f.credits.has_value()) ext[std::string(vocab::kExtCredits)] = *f.credits;
  if (f.hours.has_value()) ext[std::string(vocab::kExtHours)] = *f.hours;
  if (!ext.empty()) ctx["extensions"] = ext;
  if (!ctx.empty()) st["context"] = ctx;
  if (!f.timestamp.empty()) st["timestamp"] = f.timestamp;
  try {
    return st.dump();
  } catch (const nlohmann::json::exception& e) {  // unreachable after the checks above; never abort
    return absl::InvalidArgumentError(absl::StrCat("statement: cannot be written as JSON: ", e.what()));
  }
}

}  // namespace lifelong::cli
