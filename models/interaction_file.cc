#include "models/interaction_file.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {
namespace {

absl::Status LineError(absl::string_view source, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ":", line, ": ", what));
}

// A JSON id that may be a string or an integer.
bool JsonId(const nlohmann::json& v, std::string* out) {
  if (v.is_string()) {
    *out = v.get<std::string>();
    return !out->empty();
  }
  if (v.is_number_integer()) {
    *out = std::to_string(v.get<int64_t>());
    return true;
  }
  return false;
}

absl::Status ParseJsonLine(absl::string_view line, absl::string_view source, int line_no, Interaction* out) {
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return LineError(source, line_no, "not a JSON object");
  const char* learner_key = j.contains("learner") ? "learner" : "user";
  if (!j.contains(learner_key) || !JsonId(j[learner_key], &out->learner)) {
    return LineError(source, line_no, "field 'learner': missing or not a string/integer");
  }
  const char* course_key = j.contains("course") ? "course" : "item";
  if (!j.contains(course_key) || !JsonId(j[course_key], &out->course_id)) {
    return LineError(source, line_no, "field 'course': missing or not a string/integer");
  }
  out->order = line_no;
  if (j.contains("order")) {
    if (!j["order"].is_number_integer()) {
      return LineError(source, line_no, "field 'order': not an integer");
    }
    out->order = j["order"].get<int64_t>();
  }
  out->weight = 1.0f;
  if (j.contains("weight")) {
    if (!j["weight"].is_number()) return LineError(source, line_no, "field 'weight': not a number");
    out->weight = j["weight"].get<float>();
  } else if (j.contains("verb")) {
    if (!j["verb"].is_string()) return LineError(source, line_no, "field 'verb': not a string");
    out->weight = VerbWeight(j["verb"].get<std::string>());
  }
  // inf (also a double past float's range, 1e39) would turn the trainer's
  // normalisation into NaN far from this line.
  if (!std::isfinite(out->weight)) return LineError(source, line_no, "field 'weight': not a finite number");
  return absl::OkStatus();
}

absl::Status ParseTsvLine(absl::string_view line, absl::string_view source, int line_no, Interaction* out) {
  std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
  if (f.size() < 3 || f.size() > 4) {
    return LineError(source, line_no,
                     absl::StrCat("expected 3 or 4 tab-separated fields "
                                  "(learner, course, order[, weight]), got ",
                                  f.size()));
  }
  if (f[0].empty()) return LineError(source, line_no, "field 'learner': empty");
  if (f[1].empty()) return LineError(source, line_no, "field 'course': empty");
  out->learner = std::string(f[0]);
  out->course_id = std::string(f[1]);
  if (!absl::SimpleAtoi(f[2], &out->order)) {
    return LineError(source, line_no, absl::StrCat("field 'order': not an integer: \"", f[2], "\""));
  }
  out->weight = 1.0f;
  if (f.size() == 4) {
    if (absl::StartsWith(f[3], "http://") || absl::StartsWith(f[3], "https://")) {
      out->weight = VerbWeight(f[3]);
    } else if (!absl::SimpleAtof(f[3], &out->weight)) {
      return LineError(source, line_no, absl::StrCat("field 'weight': not a number or verb IRI: \"", f[3], "\""));
    }
  }
  if (!std::isfinite(out->weight)) return LineError(source, line_no, "field 'weight': not a finite number");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void AppendInteractionLine(absl::string_view learner, absl::string_view course, int64_t order, float weight,
                           std::string* out) {
  absl::StrAppend(out, learner, "\t", course, "\t", order, "\t", weight, "\n");
}

absl::StatusOr<std::vector<Interaction>> ParseInteractions(absl::string_view content, absl::string_view source_name) {
  std::vector<Interaction> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_no;
    line = absl::StripSuffix(line, "\r");
    if (absl::StripAsciiWhitespace(line).empty() || absl::StartsWith(line, "#")) continue;
    Interaction it;
    absl::Status s = absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "{")
                         ? ParseJsonLine(line, source_name, line_no, &it)
                         : ParseTsvLine(line, source_name, line_no, &it);
    if (!s.ok()) return s;
    out.push_back(std::move(it));
  }
  return out;
}

absl::StatusOr<std::vector<Interaction>> ReadInteractionFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) return content.status();
  return ParseInteractions(*content, path);
}

absl::StatusOr<std::vector<Interaction>> ReadLabeledRatingsFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) return content.status();
  std::vector<Interaction> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*content, '\n')) {
    ++line_no;
    line = absl::StripSuffix(line, "\r");
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    int label = 0;
    if (f.size() != 3 || f[0].empty() || f[1].empty() || !absl::SimpleAtoi(f[2], &label)) {
      return LineError(path, line_no, "expected user <TAB> course <TAB> integer label");
    }
    if (label != 1) continue;
    out.push_back({std::string(f[0]), std::string(f[1]), line_no, 1.0f});
  }
  return out;
}

std::string CatalogCourseText(absl::string_view title, absl::string_view category, const std::vector<std::string>& tags,
                              absl::string_view description) {
  std::string text;
  auto add = [&text](absl::string_view part) {
    if (part.empty()) return;
    if (!text.empty()) text.push_back('\n');
    absl::StrAppend(&text, part);
  };
  add(title);
  add(category);
  for (const std::string& t : tags) add(t);
  add(description);
  return text;
}

absl::StatusOr<std::vector<CatalogCourse>> ReadCatalogFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) return content.status();
  std::vector<CatalogCourse> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*content, '\n')) {
    ++line_no;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return LineError(path, line_no, "not a JSON object");
    CatalogCourse c;
    if (!j.contains("id") || !JsonId(j["id"], &c.id)) {
      return LineError(path, line_no, "field 'id': missing or empty");
    }
    auto text_field = [&j](const char* key) {
      return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
    };
    std::vector<std::string> tags;
    if (j.contains("tags") && j["tags"].is_array()) {
      for (const auto& t : j["tags"]) {
        if (t.is_string()) tags.push_back(t.get<std::string>());
      }
    }
    c.text = CatalogCourseText(text_field("title"), text_field("category"), tags, text_field("description"));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace lifelong::models
