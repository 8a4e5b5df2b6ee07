#include "services/records/statement.h"

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/common/status_macros.h"
#include "services/domain/iri.h"
#include "services/domain/learner_key.h"
#include "services/domain/vocabulary.h"
#include "services/domain/xapi_time.h"

namespace lifelong::records {
namespace {

// A read-only view of a parsed JSON value (simdjson DOM) with the few
// accessors validation needs. A default view is "absent".
class Json {
 public:
  Json() = default;
  explicit Json(simdjson::dom::element e) : e_(e), present_(true) {}

  // Whether the member or element was there (operator[] of a missing member
  // is absent): `if (Json v = j["k"])` looks the member up once.
  explicit operator bool() const { return present_; }
  bool is_object() const { return present_ && e_.is_object(); }
  bool is_array() const { return present_ && e_.is_array(); }
  bool is_string() const { return present_ && e_.is_string(); }
  bool is_number() const { return present_ && e_.is_number(); }
  bool is_boolean() const { return present_ && e_.is_bool(); }
  bool is_number_integer() const { return present_ && (e_.is_int64() || e_.is_uint64()); }

  bool contains(absl::string_view key) const {
    if (!is_object()) return false;
    simdjson::dom::element v;
    return e_.at_key(std::string_view(key.data(), key.size())).get(v) == simdjson::SUCCESS;
  }
  Json operator[](absl::string_view key) const {
    simdjson::dom::element v;
    if (is_object() && e_.at_key(std::string_view(key.data(), key.size())).get(v) == simdjson::SUCCESS) {
      return Json(v);
    }
    return Json();
  }
  absl::string_view str() const {
    std::string_view v;
    if (is_string() && e_.get_string().get(v) == simdjson::SUCCESS) return absl::string_view(v.data(), v.size());
    return {};
  }
  std::string string() const { return std::string(str()); }
  double num() const {
    double v = 0;
    if (is_number() && e_.get_double().get(v) == simdjson::SUCCESS) return v;
    return 0;
  }
  int64_t integer() const {
    int64_t v = -1;
    if (e_.is_int64() && e_.get_int64().get(v) == simdjson::SUCCESS) return v;
    return -1;
  }
  // The members of an object (nothing when this is not an object), as a
  // range of (key, value) pairs over the parsed document: no allocation.
  class Items {
   public:
    class iterator {
     public:
      iterator() = default;  // the end of an empty range
      explicit iterator(simdjson::dom::object::iterator it) : it_(it) {}
      std::pair<absl::string_view, Json> operator*() const {
        std::string_view k = it_->key();
        return {absl::string_view(k.data(), k.size()), Json(it_->value())};
      }
      iterator& operator++() {
        ++*it_;
        return *this;
      }
      bool operator!=(const iterator& o) const { return it_.has_value() && o.it_.has_value() && *it_ != *o.it_; }

     private:
      std::optional<simdjson::dom::object::iterator> it_;
    };
    explicit Items(std::optional<simdjson::dom::object> obj) : obj_(obj) {}
    iterator begin() const { return obj_ ? iterator(obj_->begin()) : iterator(); }
    iterator end() const { return obj_ ? iterator(obj_->end()) : iterator(); }

   private:
    std::optional<simdjson::dom::object> obj_;
  };
  Items items() const {
    simdjson::dom::object obj;
    if (!is_object() || e_.get_object().get(obj) != simdjson::SUCCESS) return Items(std::nullopt);
    return Items(obj);
  }
  std::vector<Json> elements() const {
    std::vector<Json> out;
    simdjson::dom::array arr;
    if (!is_array() || e_.get_array().get(arr) != simdjson::SUCCESS) return out;
    for (simdjson::dom::element x : arr) out.emplace_back(x);
    return out;
  }
  // Number of elements or members (0 for anything else), counted without
  // building a list.
  size_t size() const {
    size_t n = 0;
    simdjson::dom::array arr;
    simdjson::dom::object obj;
    if (is_array() && e_.get_array().get(arr) == simdjson::SUCCESS) {
      for (simdjson::dom::element x : arr) {
        (void)x;
        ++n;
      }
    } else if (is_object() && e_.get_object().get(obj) == simdjson::SUCCESS) {
      for (simdjson::dom::key_value_pair kv : obj) {
        (void)kv;
        ++n;
      }
    }
    return n;
  }
  bool empty() const { return size() == 0; }

 private:
  simdjson::dom::element e_;
  bool present_ = false;
};

// The name of a field in an error message ("statement.context.extensions"),
// made into a string only when an error names it, so that validating a valid
// statement builds no field names. A member or element path refers to the
// path it was made from (and a root to the characters it was made from), so
// it must not outlive them: it is made for an argument, or as a local from a
// parameter.
class Path {
 public:
  Path(const char* root) : text_(root) {}                                          // NOLINT: "statement"
  Path(absl::string_view root) : text_(root) {}                                    // NOLINT
  Path(const std::string& root) : text_(root) {}                                   // NOLINT
  Path Member(absl::string_view name) const { return Path(this, name, kMember); }  // field + "." + name
  Path Index(size_t i) const { return Path(this, {}, i); }                         // field + "[i]"
  std::string str() const {
    std::string out;
    AppendTo(&out);
    return out;
  }

 private:
  static constexpr size_t kMember = static_cast<size_t>(-1);
  Path(const Path* parent, absl::string_view name, size_t index) : parent_(parent), text_(name), index_(index) {}
  void AppendTo(std::string* out) const {
    if (parent_ != nullptr) {
      parent_->AppendTo(out);
      if (index_ != kMember) {
        absl::StrAppend(out, "[", index_, "]");
        return;
      }
      out->push_back('.');
    }
    out->append(text_.data(), text_.size());
  }

  const Path* parent_ = nullptr;
  absl::string_view text_;
  size_t index_ = kMember;
};

// CanonicalLearnerKey, naming the field only when the key is refused (the
// same refusal, asked again with the field's name).
absl::StatusOr<std::string> CanonicalKey(absl::string_view key, const Path& field) {
  absl::StatusOr<std::string> canonical = CanonicalLearnerKey(key, "");
  if (canonical.ok()) return canonical;
  return CanonicalLearnerKey(key, field.str());
}

std::string LearnerKeyOf(const Json& agent);

absl::Status Invalid(const Path& field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field.str(), ": ", why));
}

absl::Status CheckObject(const Json& j, const Path& field) {
  if (!j.is_object()) return Invalid(field, "must be a JSON object");
  return absl::OkStatus();
}

// Rejects members not in `allowed`.
absl::Status CheckKeys(const Json& j, const Path& field, std::initializer_list<absl::string_view> allowed) {
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (absl::string_view a : allowed) ok |= (key == a);
    if (!ok) return Invalid(field.Member(key), "unknown property");
  }
  return absl::OkStatus();
}

absl::Status CheckString(const Json& j, const Path& field) {
  if (!j.is_string()) return Invalid(field, "must be a string");
  return absl::OkStatus();
}

absl::Status CheckIri(const Json& j, const Path& field) {
  LL_RETURN_IF_ERROR(CheckString(j, field));
  absl::string_view s = j.str();
  if (s.size() > kMaxKeyString) return Invalid(field, "IRI longer than 4096 bytes");
  if (!IsAbsoluteIri(s)) return Invalid(field, "not an absolute IRI");
  return absl::OkStatus();
}

absl::Status CheckUuid(const Json& j, const Path& field, Uuid* out = nullptr) {
  LL_RETURN_IF_ERROR(CheckString(j, field));
  absl::StatusOr<Uuid> u = ParseUuid(j.str());
  if (!u.ok()) return Invalid(field, u.status().message());
  if (out) *out = *u;
  return absl::OkStatus();
}

absl::Status CheckLanguageMap(const Json& j, const Path& field) {
  LL_RETURN_IF_ERROR(CheckObject(j, field));
  for (const auto& [key, value] : j.items()) {
    if (!IsLanguageTag(key)) {
      return Invalid(field.Member(key), "not a language tag (RFC 5646)");
    }
    LL_RETURN_IF_ERROR(CheckString(value, field.Member(key)));
  }
  return absl::OkStatus();
}

absl::Status CheckExtensions(const Json& j, const Path& field) {
  LL_RETURN_IF_ERROR(CheckObject(j, field));
  for (const auto& [key, value] : j.items()) {
    if (!IsAbsoluteIri(key)) {
      return Invalid(field.Member(key), "extension key is not an absolute IRI");
    }
  }
  return absl::OkStatus();
}

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status CheckAgentOrGroup(const Json& j, const Path& field, bool group_allowed, bool require_object_type);

// Counts and validates the inverse functional identifiers of an Agent/Group.
absl::Status CheckIfis(const Json& j, const Path& field, int* count) {
  *count = 0;
  if (Json v = j["mbox"]) {
    ++*count;
    Path f = field.Member("mbox");
    LL_RETURN_IF_ERROR(CheckString(v, f));
    absl::string_view m = v.str();
    if (!absl::StartsWith(m, "mailto:") || m.find('@') == std::string::npos || m.size() < 10) {
      return Invalid(f, "must be a mailto: IRI with an address");
    }
  }
  if (Json v = j["mbox_sha1sum"]) {
    ++*count;
    Path f = field.Member("mbox_sha1sum");
    LL_RETURN_IF_ERROR(CheckString(v, f));
    absl::string_view s = v.str();
    if (s.size() != 40 || !IsHex(s)) return Invalid(f, "must be 40 hex digits");
  }
  if (Json v = j["openid"]) {
    ++*count;
    LL_RETURN_IF_ERROR(CheckIri(v, field.Member("openid")));
  }
  if (Json a = j["account"]) {
    ++*count;
    Path f = field.Member("account");
    LL_RETURN_IF_ERROR(CheckObject(a, f));
    LL_RETURN_IF_ERROR(CheckKeys(a, f, {"homePage", "name"}));
    Json home = a["homePage"];
    Json name = a["name"];
    if (!home) return Invalid(f.Member("homePage"), "is required");
    if (!name) return Invalid(f.Member("name"), "is required");
    LL_RETURN_IF_ERROR(CheckIri(home, f.Member("homePage")));
    LL_RETURN_IF_ERROR(CheckString(name, f.Member("name")));
    if (name.str().empty()) {
      return Invalid(f.Member("name"), "must not be empty");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAgentOrGroup(const Json& j, const Path& field, bool group_allowed, bool require_object_type) {
  LL_RETURN_IF_ERROR(CheckObject(j, field));
  absl::string_view type = "Agent";
  if (Json v = j["objectType"]) {
    LL_RETURN_IF_ERROR(CheckString(v, field.Member("objectType")));
    type = v.str();
  } else if (require_object_type) {
    return Invalid(field.Member("objectType"), "is required");
  }
  if (Json v = j["name"]) LL_RETURN_IF_ERROR(CheckString(v, field.Member("name")));
  int ifis = 0;
  LL_RETURN_IF_ERROR(CheckIfis(j, field, &ifis));
  if (type == "Agent") {
    LL_RETURN_IF_ERROR(CheckKeys(j, field, {"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"}));
    if (ifis != 1) {
      return Invalid(field, "an Agent needs exactly one of mbox, mbox_sha1sum, openid, account");
    }
    return absl::OkStatus();
  }
  if (type != "Group") return Invalid(field.Member("objectType"), "must be Agent or Group");
  if (!group_allowed) return Invalid(field, "a Group is not allowed here");
  LL_RETURN_IF_ERROR(
      CheckKeys(j, field, {"objectType", "name", "member", "mbox", "mbox_sha1sum", "openid", "account"}));
  if (ifis > 1) return Invalid(field, "a Group has at most one identifier");
  if (j.contains("member")) {
    Path f = field.Member("member");
    if (!j["member"].is_array()) return Invalid(f, "must be an array");
    std::vector<Json> members = j["member"].elements();
    for (size_t i = 0; i < members.size(); ++i) {
      LL_RETURN_IF_ERROR(CheckAgentOrGroup(members[i], f.Index(i),
                                           /*group_allowed=*/false, false));
    }
  }
  if (ifis == 0 && (!j.contains("member") || j["member"].empty())) {
    return Invalid(field.Member("member"), "an anonymous Group needs members");
  }
  return absl::OkStatus();
}

absl::Status CheckActivity(const Json& j, const Path& field) {
  LL_RETURN_IF_ERROR(CheckObject(j, field));
  LL_RETURN_IF_ERROR(CheckKeys(j, field, {"objectType", "id", "definition"}));
  if (Json t = j["objectType"]; t && t.str() != "Activity") {
    return Invalid(field.Member("objectType"), "must be Activity");
  }
  Json id = j["id"];
  if (!id) return Invalid(field.Member("id"), "is required");
  LL_RETURN_IF_ERROR(CheckIri(id, field.Member("id")));
  if (Json d = j["definition"]) {
    Path f = field.Member("definition");
    LL_RETURN_IF_ERROR(CheckObject(d, f));
    LL_RETURN_IF_ERROR(CheckKeys(d, f,
                                 {"name", "description", "type", "moreInfo", "extensions", "interactionType",
                                  "correctResponsesPattern", "choices", "scale", "source", "target", "steps"}));
    if (Json v = d["name"]) LL_RETURN_IF_ERROR(CheckLanguageMap(v, f.Member("name")));
    if (Json v = d["description"]) {
      LL_RETURN_IF_ERROR(CheckLanguageMap(v, f.Member("description")));
    }
    if (Json v = d["type"]) LL_RETURN_IF_ERROR(CheckIri(v, f.Member("type")));
    if (Json v = d["moreInfo"]) LL_RETURN_IF_ERROR(CheckIri(v, f.Member("moreInfo")));
    if (Json v = d["extensions"]) {
      LL_RETURN_IF_ERROR(CheckExtensions(v, f.Member("extensions")));
    }
    if (d.contains("interactionType")) {
      static const std::set<std::string> kTypes = {"true-false",  "choice",     "fill-in", "long-fill-in", "matching",
                                                   "performance", "sequencing", "likert",  "numeric",      "other"};
      Path g = f.Member("interactionType");
      LL_RETURN_IF_ERROR(CheckString(d["interactionType"], g));
      if (!kTypes.count(d["interactionType"].string())) {
        return Invalid(g, "unknown interaction type");
      }
    }
    if (d.contains("correctResponsesPattern")) {
      Path g = f.Member("correctResponsesPattern");
      if (!d["correctResponsesPattern"].is_array()) return Invalid(g, "must be an array");
      for (const Json& p : d["correctResponsesPattern"].elements()) LL_RETURN_IF_ERROR(CheckString(p, g));
    }
    if (!d.contains("interactionType")) {
      for (const char* k : {"correctResponsesPattern", "choices", "scale", "source", "target", "steps"}) {
        if (d.contains(k)) return Invalid(f.Member("interactionType"), absl::StrCat("is required with ", k));
      }
    }
    for (const char* list : {"choices", "scale", "source", "target", "steps"}) {
      if (!d.contains(list)) continue;
      Path g = f.Member(list);
      if (!d[list].is_array()) return Invalid(g, "must be an array");
      std::vector<Json> entries = d[list].elements();
      for (size_t i = 0; i < entries.size(); ++i) {
        Path h = g.Index(i);
        const Json& c = entries[i];
        LL_RETURN_IF_ERROR(CheckObject(c, h));
        LL_RETURN_IF_ERROR(CheckKeys(c, h, {"id", "description"}));
        if (!c.contains("id")) return Invalid(h.Member("id"), "is required");
        LL_RETURN_IF_ERROR(CheckString(c["id"], h.Member("id")));
        if (Json v = c["description"]) {
          LL_RETURN_IF_ERROR(CheckLanguageMap(v, h.Member("description")));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckStatementRef(const Json& j, const Path& field, Uuid* target) {
  LL_RETURN_IF_ERROR(CheckObject(j, field));
  LL_RETURN_IF_ERROR(CheckKeys(j, field, {"objectType", "id"}));
  if (j["objectType"].str() != "StatementRef") {
    return Invalid(field.Member("objectType"), "must be StatementRef");
  }
  if (!j.contains("id")) return Invalid(field.Member("id"), "is required");
  return CheckUuid(j["id"], field.Member("id"), target);
}

absl::Status CheckVerb(const Json& j, const Path& field) {
  LL_RETURN_IF_ERROR(CheckObject(j, field));
  LL_RETURN_IF_ERROR(CheckKeys(j, field, {"id", "display"}));
  Json id = j["id"];
  if (!id) return Invalid(field.Member("id"), "is required");
  LL_RETURN_IF_ERROR(CheckIri(id, field.Member("id")));
  if (Json v = j["display"]) {
    LL_RETURN_IF_ERROR(CheckLanguageMap(v, field.Member("display")));
  }
  return absl::OkStatus();
}

absl::Status CheckNumber(const Json& j, const Path& field) {
  if (!j.is_number()) return Invalid(field, "must be a number");
  return absl::OkStatus();
}

absl::Status CheckResult(const Json& j, const Path& field) {
  LL_RETURN_IF_ERROR(CheckObject(j, field));
  LL_RETURN_IF_ERROR(CheckKeys(j, field, {"score", "success", "completion", "response", "duration", "extensions"}));
  if (j.contains("score")) {
    Path f = field.Member("score");
    Json s = j["score"];
    LL_RETURN_IF_ERROR(CheckObject(s, f));
    LL_RETURN_IF_ERROR(CheckKeys(s, f, {"scaled", "raw", "min", "max"}));
    for (const char* k : {"scaled", "raw", "min", "max"}) {
      if (s.contains(k)) LL_RETURN_IF_ERROR(CheckNumber(s[k], f.Member(k)));
    }
    if (s.contains("scaled")) {
      double v = s["scaled"].num();
      if (v < -1.0 || v > 1.0) return Invalid(f.Member("scaled"), "must be between -1 and 1");
    }
    if (s.contains("min") && s.contains("max") && !(s["min"].num() < s["max"].num())) {
      return Invalid(f.Member("max"), "must be greater than min");
    }
    if (s.contains("raw")) {
      double raw = s["raw"].num();
      if (s.contains("min") && raw < s["min"].num()) {
        return Invalid(f.Member("raw"), "must not be below min");
      }
      if (s.contains("max") && raw > s["max"].num()) {
        return Invalid(f.Member("raw"), "must not be above max");
      }
    }
  }
  if (j.contains("success") && !j["success"].is_boolean()) {
    return Invalid(field.Member("success"), "must be true or false");
  }
  if (j.contains("completion") && !j["completion"].is_boolean()) {
    return Invalid(field.Member("completion"), "must be true or false");
  }
  if (Json v = j["response"]) LL_RETURN_IF_ERROR(CheckString(v, field.Member("response")));
  if (j.contains("duration")) {
    Path f = field.Member("duration");
    LL_RETURN_IF_ERROR(CheckString(j["duration"], f));
    absl::StatusOr<double> d = ParseIsoDurationSeconds(j["duration"].str());
    if (!d.ok()) return Invalid(f, d.status().message());
  }
  if (Json v = j["extensions"]) {
    LL_RETURN_IF_ERROR(CheckExtensions(v, field.Member("extensions")));
  }
  return absl::OkStatus();
}

absl::Status CheckActivityList(const Json& j, const Path& field) {
  if (j.is_array()) {
    std::vector<Json> list = j.elements();
    for (size_t i = 0; i < list.size(); ++i) {
      LL_RETURN_IF_ERROR(CheckActivity(list[i], field.Index(i)));
    }
    return absl::OkStatus();
  }
  return CheckActivity(j, field);
}

absl::Status CheckContext(const Json& j, const Path& field, bool object_is_activity,
                          std::optional<Uuid>* registration) {
  LL_RETURN_IF_ERROR(CheckObject(j, field));
  LL_RETURN_IF_ERROR(CheckKeys(j, field,
                               {"registration", "instructor", "team", "contextActivities", "contextAgents",
                                "contextGroups", "revision", "platform", "language", "statement", "extensions"}));
  if (j.contains("registration")) {
    Uuid reg;
    LL_RETURN_IF_ERROR(CheckUuid(j["registration"], field.Member("registration"), &reg));
    if (registration) *registration = reg;
  }
  if (Json v = j["instructor"]) {
    LL_RETURN_IF_ERROR(CheckAgentOrGroup(v, field.Member("instructor"), true, false));
  }
  if (j.contains("team")) {
    Path f = field.Member("team");
    LL_RETURN_IF_ERROR(CheckAgentOrGroup(j["team"], f, true, true));
    if (j["team"]["objectType"].str() != "Group") return Invalid(f, "must be a Group");
  }
  if (j.contains("contextActivities")) {
    Path f = field.Member("contextActivities");
    Json ca = j["contextActivities"];
    LL_RETURN_IF_ERROR(CheckObject(ca, f));
    LL_RETURN_IF_ERROR(CheckKeys(ca, f, {"parent", "grouping", "category", "other"}));
    for (const auto& [key, value] : ca.items()) {
      LL_RETURN_IF_ERROR(CheckActivityList(value, f.Member(key)));
    }
  }
  for (const char* k : {"contextAgents", "contextGroups"}) {
    if (!j.contains(k)) continue;
    Path f = field.Member(k);
    if (!j[k].is_array()) return Invalid(f, "must be an array");
    bool agents = std::string(k) == "contextAgents";
    std::vector<Json> list = j[k].elements();
    for (size_t i = 0; i < list.size(); ++i) {
      Path g = f.Index(i);
      const Json& e = list[i];
      LL_RETURN_IF_ERROR(CheckObject(e, g));
      const char* member = agents ? "agent" : "group";
      LL_RETURN_IF_ERROR(CheckKeys(e, g, {"objectType", member, "relevantTypes"}));
      if (e["objectType"].str() != (agents ? "contextAgent" : "contextGroup")) {
        return Invalid(g.Member("objectType"), agents ? "must be contextAgent" : "must be contextGroup");
      }
      if (!e.contains(member)) return Invalid(g.Member(member), "is required");
      LL_RETURN_IF_ERROR(CheckAgentOrGroup(e[member], g.Member(member), !agents, !agents));
      if (!agents && e[member]["objectType"].str() != "Group") {
        return Invalid(g.Member("group"), "must be a Group");
      }
      if (e.contains("relevantTypes")) {
        Path h = g.Member("relevantTypes");
        if (!e["relevantTypes"].is_array() || e["relevantTypes"].empty())
          return Invalid(h, "must be a non-empty array");
        for (const Json& t : e["relevantTypes"].elements()) LL_RETURN_IF_ERROR(CheckIri(t, h));
      }
    }
  }
  for (const char* k : {"revision", "platform"}) {
    Json v = j[k];
    if (!v) continue;
    LL_RETURN_IF_ERROR(CheckString(v, field.Member(k)));
    if (!object_is_activity) {
      return Invalid(field.Member(k), "allowed only when the object is an Activity");
    }
  }
  if (Json v = j["language"]) {
    Path f = field.Member("language");
    LL_RETURN_IF_ERROR(CheckString(v, f));
    if (!IsLanguageTag(v.str())) return Invalid(f, "not a language tag (RFC 5646)");
  }
  if (Json v = j["statement"]) {
    LL_RETURN_IF_ERROR(CheckStatementRef(v, field.Member("statement"), nullptr));
  }
  if (Json v = j["extensions"]) {
    LL_RETURN_IF_ERROR(CheckExtensions(v, field.Member("extensions")));
  }
  return absl::OkStatus();
}

absl::Status CheckAttachments(const Json& j, const Path& field) {
  if (!j.is_array()) return Invalid(field, "must be an array");
  std::vector<Json> list = j.elements();
  for (size_t i = 0; i < list.size(); ++i) {
    Path f = field.Index(i);
    const Json& a = list[i];
    LL_RETURN_IF_ERROR(CheckObject(a, f));
    LL_RETURN_IF_ERROR(
        CheckKeys(a, f, {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}));
    for (const char* k : {"usageType", "display", "contentType", "length", "sha2"}) {
      if (!a.contains(k)) return Invalid(f.Member(k), "is required");
    }
    LL_RETURN_IF_ERROR(CheckIri(a["usageType"], f.Member("usageType")));
    LL_RETURN_IF_ERROR(CheckLanguageMap(a["display"], f.Member("display")));
    if (Json v = a["description"]) {
      LL_RETURN_IF_ERROR(CheckLanguageMap(v, f.Member("description")));
    }
    LL_RETURN_IF_ERROR(CheckString(a["contentType"], f.Member("contentType")));
    if (!a["length"].is_number_integer() || a["length"].integer() < 0) {
      return Invalid(f.Member("length"), "must be a non-negative integer");
    }
    LL_RETURN_IF_ERROR(CheckString(a["sha2"], f.Member("sha2")));
    if (Json v = a["fileUrl"]) LL_RETURN_IF_ERROR(CheckIri(v, f.Member("fileUrl")));
  }
  return absl::OkStatus();
}

absl::Status CheckTimestamp(const Json& j, const Path& field, int64_t* out) {
  LL_RETURN_IF_ERROR(CheckString(j, field));
  absl::StatusOr<int64_t> t = ParseTimestampMicros(j.str());
  if (!t.ok()) return Invalid(field, t.status().message());
  if (out) *out = *t;
  return absl::OkStatus();
}

// Validates the statement body shared by statements and sub-statements.
absl::Status CheckBody(const Json& s, const Path& field, bool sub, ParsedStatement* out) {
  Json actor = s["actor"];
  Json verb = s["verb"];
  Json obj = s["object"];
  if (!actor) return Invalid(field.Member("actor"), "is required");
  if (!verb) return Invalid(field.Member("verb"), "is required");
  if (!obj) return Invalid(field.Member("object"), "is required");
  LL_RETURN_IF_ERROR(CheckAgentOrGroup(actor, field.Member("actor"), true, false));
  LL_RETURN_IF_ERROR(CheckVerb(verb, field.Member("verb")));
  Path of = field.Member("object");
  LL_RETURN_IF_ERROR(CheckObject(obj, of));
  absl::string_view type = "Activity";
  if (Json v = obj["objectType"]) {
    LL_RETURN_IF_ERROR(CheckString(v, of.Member("objectType")));
    type = v.str();
  }
  Uuid target{};
  if (type == "Activity") {
    LL_RETURN_IF_ERROR(CheckActivity(obj, of));
  } else if (type == "Agent" || type == "Group") {
    LL_RETURN_IF_ERROR(CheckAgentOrGroup(obj, of, true, true));
  } else if (type == "StatementRef") {
    LL_RETURN_IF_ERROR(CheckStatementRef(obj, of, &target));
  } else if (type == "SubStatement") {
    if (sub) return Invalid(of, "a SubStatement cannot contain a SubStatement");
    LL_RETURN_IF_ERROR(
        CheckKeys(obj, of, {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}));
    LL_RETURN_IF_ERROR(CheckBody(obj, of, /*sub=*/true, nullptr));
  } else {
    return Invalid(of.Member("objectType"), "must be Activity, Agent, Group, StatementRef or SubStatement");
  }
  if (Json v = s["result"]) LL_RETURN_IF_ERROR(CheckResult(v, field.Member("result")));
  if (Json v = s["context"]) {
    LL_RETURN_IF_ERROR(
        CheckContext(v, field.Member("context"), type == "Activity", out ? &out->registration : nullptr));
  }
  if (Json v = s["timestamp"]) {
    int64_t ts = 0;
    LL_RETURN_IF_ERROR(CheckTimestamp(v, field.Member("timestamp"), &ts));
    if (out) out->timestamp_us = ts;
  }
  if (Json v = s["attachments"]) {
    LL_RETURN_IF_ERROR(CheckAttachments(v, field.Member("attachments")));
  }
  if (out) {
    out->verb = verb["id"].string();
    if (type == "Activity") out->activity = obj["id"].string();
    if (type == "StatementRef") out->ref_target = target;
    std::string key = LearnerKeyOf(actor);
    if (!key.empty()) {
      // Keys must be usable everywhere a learner is named (no control
      // characters, at most 1 KiB) and stable under canonicalisation.
      absl::StatusOr<std::string> canonical = CanonicalKey(key, field.Member("actor"));
      if (!canonical.ok()) return canonical.status();
      if (*canonical != key) return Invalid(field.Member("actor"), "identifier cannot be used as a learner key");
      out->learners.push_back(std::move(key));
    }
    if (actor.contains("member")) {
      for (const Json& m : actor["member"].elements()) {
        std::string mk = LearnerKeyOf(m);
        absl::StatusOr<std::string> canonical = CanonicalKey(mk, field.Member("actor.member"));
        if (!canonical.ok()) return canonical.status();
        if (*canonical != mk) {
          return Invalid(field.Member("actor.member"), "identifier cannot be used as a learner key");
        }
        bool dup = false;
        for (const std::string& l : out->learners) dup |= (l == mk);
        if (!dup) out->learners.push_back(std::move(mk));
      }
    }
    if (out->verb == vocab::kVoided) {
      if (type != "StatementRef") {
        return Invalid(of.Member("objectType"), "a voiding statement's object must be a StatementRef");
      }
      out->is_voiding = true;
      out->void_target = target;
    }
  }
  return absl::OkStatus();
}

Uuid RandomUuidV4() {
  static thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  Uuid u;
  uint64_t a = rng(), b = rng();
  for (int i = 0; i < 8; ++i) {
    u[i] = static_cast<uint8_t>(a >> (56 - 8 * i));
    u[8 + i] = static_cast<uint8_t>(b >> (56 - 8 * i));
  }
  u[6] = (u[6] & 0x0F) | 0x40;
  u[8] = (u[8] & 0x3F) | 0x80;
  return u;
}

}  // namespace

namespace {
std::string LearnerKeyOf(const Json& agent) {
  if (Json a = agent["account"]) return domain::AccountLearnerKey(a["homePage"].str(), a["name"].str());
  if (Json m = agent["mbox"]) return m.string();
  if (Json m = agent["mbox_sha1sum"]) return absl::StrCat("sha1:", absl::AsciiStrToLower(m.str()));
  if (Json o = agent["openid"]) return absl::StrCat("openid:", o.str());
  return "";
}
}  // namespace

namespace {

// The canonical learner key of the placeholder that ScrubLearnerMentions
// writes in place of an erased learner (never indexed as a mention).
const std::string& ErasedAgentKey() {
  static const std::string* key = new std::string(
      CanonicalLearnerKey(domain::AccountLearnerKey(kErasedAgentHomePage, kErasedAgentName), "").value());
  return *key;
}

// Adds the learner keys of an Agent or Group (its own identifier and its
// members') to `out`, once each; non-canonical keys (never a learner's) and
// the erased placeholder are left out.
void AddAgentKeys(const Json& agent, std::vector<std::string>* out) {
  if (!agent.is_object()) return;
  std::string key = LearnerKeyOf(agent);
  if (!key.empty()) {
    absl::StatusOr<std::string> canonical = CanonicalLearnerKey(key, "");
    if (canonical.ok() && *canonical != ErasedAgentKey() &&
        std::find(out->begin(), out->end(), *canonical) == out->end()) {
      out->push_back(*std::move(canonical));
    }
  }
  for (const Json& m : agent["member"].elements()) AddAgentKeys(m, out);
}

void AddContextMentions(const Json& context, std::vector<std::string>* out) {
  if (!context.is_object()) return;
  AddAgentKeys(context["instructor"], out);
  AddAgentKeys(context["team"], out);
  for (const Json& e : context["contextAgents"].elements()) AddAgentKeys(e["agent"], out);
  for (const Json& e : context["contextGroups"].elements()) AddAgentKeys(e["group"], out);
}

// The agents a statement (or SubStatement: `sub`) names outside its own
// actor: see MentionedLearners.
void CollectMentions(const Json& s, bool sub, std::vector<std::string>* out) {
  Json obj = s["object"];
  absl::string_view type = obj["objectType"].str();
  if (type == "Agent" || type == "Group") {
    AddAgentKeys(obj, out);
  } else if (type == "SubStatement" && !sub) {
    AddAgentKeys(obj["actor"], out);
    CollectMentions(obj, /*sub=*/true, out);
  }
  AddContextMentions(s["context"], out);
}

}  // namespace

namespace {

// JSON objects must not repeat a member name: validation here reads the first
// of duplicates while other JSON readers take the last, so a duplicate could
// smuggle an unvalidated value past the checks.
absl::Status CheckNoDuplicateMembers(simdjson::dom::element e, int depth = 0) {
  if (depth > 64) return Invalid("statement", "nested too deeply");
  if (e.type() == simdjson::dom::element_type::OBJECT) {
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS) return Invalid("statement", "malformed object");
    auto twice = [](std::string_view key) {
      return Invalid("statement", absl::StrCat("member \"", absl::string_view(key.data(), key.size()),
                                               "\" appears twice in an object"));
    };
    // Small objects (nearly all of a statement's): compared pairwise, on the
    // stack. Larger ones: sorted, so that an object of many members costs
    // n log n rather than n^2 (a 1 MiB statement can hold ~100k members).
    constexpr size_t kPairwise = 16;
    if (obj.size() <= kPairwise) {
      std::array<std::string_view, kPairwise> seen;
      size_t n = 0;
      for (auto field : obj) {
        for (size_t i = 0; i < n; ++i) {
          if (seen[i] == field.key) return twice(field.key);
        }
        seen[n++] = field.key;
        LL_RETURN_IF_ERROR(CheckNoDuplicateMembers(field.value, depth + 1));
      }
    } else {
      std::vector<std::string_view> keys;
      keys.reserve(obj.size());
      for (auto field : obj) {
        keys.push_back(field.key);
        LL_RETURN_IF_ERROR(CheckNoDuplicateMembers(field.value, depth + 1));
      }
      std::sort(keys.begin(), keys.end());
      auto dup = std::adjacent_find(keys.begin(), keys.end());
      if (dup != keys.end()) return twice(*dup);
    }
  } else if (e.type() == simdjson::dom::element_type::ARRAY) {
    simdjson::dom::array arr;
    if (e.get_array().get(arr) != simdjson::SUCCESS) return Invalid("statement", "malformed array");
    for (simdjson::dom::element v : arr) {
      LL_RETURN_IF_ERROR(CheckNoDuplicateMembers(v, depth + 1));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// Statements up to this size are parsed with the thread's parser (see
// ParseStatement).
constexpr size_t kMaxThreadParserBytes = 64 << 10;

absl::StatusOr<ParsedStatement> ParseStatement(absl::string_view text) {
  if (text.size() > kMaxStatementBytes) {
    return Invalid("statement", absl::StrCat("larger than ", kMaxStatementBytes, " bytes"));
  }
  // One parser per thread: simdjson reuses its buffers across documents. A
  // parser keeps the capacity of the largest document it parsed (up to ~14
  // bytes a byte), for as long as its thread lives: a large statement gets a
  // parser of its own, or every server thread that once parsed a 1 MiB
  // statement would keep ~14 MiB.
  static thread_local simdjson::dom::parser thread_parser;
  std::optional<simdjson::dom::parser> own_parser;
  simdjson::dom::parser& parser = text.size() <= kMaxThreadParserBytes ? thread_parser : own_parser.emplace();
  simdjson::dom::element root;
  simdjson::error_code err = parser.parse(text.data(), text.size()).get(root);
  if (err != simdjson::SUCCESS) {
    return Invalid("statement", absl::StrCat("malformed JSON: ", simdjson::error_message(err)));
  }
  LL_RETURN_IF_ERROR(CheckNoDuplicateMembers(root));
  ParsedStatement out;
  Json s(root);
  LL_RETURN_IF_ERROR(CheckObject(s, "statement"));
  LL_RETURN_IF_ERROR(CheckKeys(s, "statement",
                               {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored",
                                "authority", "version", "attachments"}));
  bool canonical_id = true;
  if (Json v = s["id"]) {
    LL_RETURN_IF_ERROR(CheckUuid(v, "statement.id", &out.id));
    canonical_id = v.str() == FormatUuid(out.id);
  } else {
    out.id = RandomUuidV4();
    out.id_assigned = true;
  }
  LL_RETURN_IF_ERROR(CheckBody(s, "statement", /*sub=*/false, &out));
  CollectMentions(s, /*sub=*/false, &out.mentioned);
  Json stored = s["stored"];
  Json authority = s["authority"];
  if (stored) LL_RETURN_IF_ERROR(CheckTimestamp(stored, "statement.stored", nullptr));
  if (Json a = authority) {
    LL_RETURN_IF_ERROR(CheckAgentOrGroup(a, "statement.authority", true, false));
    if (a["objectType"].str() == "Group") {
      // Only the OAuth form: an anonymous group of exactly two agents.
      if (a.contains("mbox") || a.contains("mbox_sha1sum") || a.contains("openid") || a.contains("account")) {
        return Invalid("statement.authority", "a Group authority must be anonymous");
      }
      if (a["member"].size() != 2) return Invalid("statement.authority.member", "must have exactly two agents");
    }
  }
  Json version = s["version"];
  const bool has_version = static_cast<bool>(version);
  if (has_version) {
    LL_RETURN_IF_ERROR(CheckString(version, "statement.version"));
    absl::string_view v = version.str();
    if (!(absl::StartsWith(v, "1.0") || absl::StartsWith(v, "2.0"))) {
      return Invalid("statement.version", "must be 1.0.x or 2.0.x");
    }
  }
  if (out.learners.empty()) return Invalid("statement.actor", "has no identifiable learner");

  bool single_context_activity = false;
  for (Json ctx : {s["context"], s["object"]["context"]}) {
    for (const auto& [key, value] : ctx["contextActivities"].items()) single_context_activity |= value.is_object();
  }
  if (stored || authority || !canonical_id || single_context_activity) {
    // Rare: members the store owns were sent, or the id is not in canonical
    // form. Re-serialise without them.
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(text.begin(), text.end());
    j.erase("stored");
    j.erase("authority");
    j["id"] = FormatUuid(out.id);
    // xAPI returns every context activity list as an array.
    for (nlohmann::ordered_json* ctx : {&j["context"], &j["object"]["context"]}) {
      if (!ctx->is_object() || !ctx->contains("contextActivities")) continue;
      for (auto it = (*ctx)["contextActivities"].begin(); it != (*ctx)["contextActivities"].end(); ++it) {
        if (it.value().is_object()) it.value() = nlohmann::ordered_json::array({it.value()});
      }
    }
    if (j["context"].is_null()) j.erase("context");
    if (j["object"].contains("context") && j["object"]["context"].is_null()) j["object"].erase("context");
    if (!has_version) j["version"] = "2.0.0";
    out.text = j.dump();
    out.body_end = out.text.size() - 1;
    return out;
  }
  // Common path: keep the bytes as sent and splice in what is missing.
  size_t open = text.find('{');
  size_t close = text.rfind('}');
  out.text.reserve(text.size() + 96);
  out.text.append(text.data(), open + 1);
  if (out.id_assigned) absl::StrAppend(&out.text, "\"id\":\"", FormatUuid(out.id), "\",");
  out.text.append(text.data() + open + 1, close - open - 1);
  if (!has_version) out.text.append(",\"version\":\"2.0.0\"");
  out.body_end = out.text.size();
  out.text.append(text.data() + close, text.size() - close);
  return out;
}

absl::StatusOr<std::string> LearnerKeyFromAgentJson(absl::string_view json, absl::string_view field) {
  static thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return Invalid(field, "malformed JSON");
  }
  if (!CheckNoDuplicateMembers(root).ok()) return Invalid(field, "a member appears twice");
  Json agent(root);
  LL_RETURN_IF_ERROR(CheckAgentOrGroup(agent, field, /*group_allowed=*/true, /*require_object_type=*/false));
  std::string key = LearnerKeyOf(agent);
  if (key.empty()) return Invalid(field, "needs an identifier (mbox, mbox_sha1sum, openid or account)");
  return CanonicalLearnerKey(key, field);
}

absl::StatusOr<std::string> RemoveLearnerFromActor(absl::string_view statement_json, absl::string_view learner) {
  nlohmann::ordered_json j =
      nlohmann::ordered_json::parse(statement_json.begin(), statement_json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Invalid("statement", "malformed JSON");
  auto actor = j.find("actor");
  if (actor == j.end() || !actor->is_object()) return Invalid("statement.actor", "must be an object");
  auto key_of = [](const nlohmann::ordered_json& agent) -> std::string {
    absl::StatusOr<std::string> k = LearnerKeyFromAgentJson(agent.dump(), "agent");
    return k.ok() ? *k : std::string();
  };
  auto members = actor->find("member");
  if (members != actor->end() && members->is_array()) {
    nlohmann::ordered_json kept = nlohmann::ordered_json::array();
    for (const nlohmann::ordered_json& m : *members) {
      if (key_of(m) != learner) kept.push_back(m);
    }
    *members = std::move(kept);
  }
  // The actor's own identifier (an identified group's, or an agent's).
  nlohmann::ordered_json self = *actor;
  self.erase("member");
  if (key_of(self) == learner) {
    for (const char* ifi : {"mbox", "mbox_sha1sum", "openid", "account"}) actor->erase(ifi);
  }
  return j.dump();
}

absl::StatusOr<std::vector<std::string>> MentionedLearners(absl::string_view statement_json) {
  // Called for every statement of a replicated log message, so small ones
  // use the thread's parser (as ParseStatement does).
  static thread_local simdjson::dom::parser thread_parser;
  std::optional<simdjson::dom::parser> own_parser;
  simdjson::dom::parser& parser = statement_json.size() <= kMaxThreadParserBytes ? thread_parser : own_parser.emplace();
  simdjson::dom::element root;
  if (parser.parse(statement_json.data(), statement_json.size()).get(root) != simdjson::SUCCESS) {
    return Invalid("statement", "malformed JSON");
  }
  std::vector<std::string> out;
  CollectMentions(Json(root), /*sub=*/false, &out);
  return out;
}

bool ObjectNamesLearner(absl::string_view statement_json, absl::string_view learner) {
  static thread_local simdjson::dom::parser thread_parser;
  std::optional<simdjson::dom::parser> own_parser;
  simdjson::dom::parser& parser = statement_json.size() <= kMaxThreadParserBytes ? thread_parser : own_parser.emplace();
  simdjson::dom::element root;
  if (parser.parse(statement_json.data(), statement_json.size()).get(root) != simdjson::SUCCESS) return false;
  Json obj = Json(root)["object"];
  absl::string_view type = obj["objectType"].str();
  if (type != "Agent" && type != "Group") return false;
  std::vector<std::string> keys;
  AddAgentKeys(obj, &keys);
  return std::find(keys.begin(), keys.end(), learner) != keys.end();
}

namespace {

// Replaces `agent`'s identifier and name by the erased placeholder when its
// key is `learner`, then does the same for its members. Returns whether
// anything changed.
bool ScrubAgent(nlohmann::ordered_json* agent, absl::string_view learner) {
  if (agent == nullptr || !agent->is_object()) return false;
  bool changed = false;
  nlohmann::ordered_json self = *agent;
  self.erase("member");
  absl::StatusOr<std::string> key = LearnerKeyFromAgentJson(self.dump(), "agent");
  if (key.ok() && *key == learner) {
    for (const char* k : {"mbox", "mbox_sha1sum", "openid", "account", "name"}) agent->erase(k);
    (*agent)["account"] = {{"homePage", kErasedAgentHomePage}, {"name", kErasedAgentName}};
    changed = true;
  }
  auto members = agent->find("member");
  if (members != agent->end() && members->is_array()) {
    for (nlohmann::ordered_json& m : *members) changed |= ScrubAgent(&m, learner);
  }
  return changed;
}

nlohmann::ordered_json* Member(nlohmann::ordered_json* j, const char* key) {
  if (j == nullptr || !j->is_object()) return nullptr;
  auto it = j->find(key);
  return it == j->end() ? nullptr : &*it;
}

// The positions CollectMentions reads, on a statement or SubStatement.
bool ScrubBody(nlohmann::ordered_json* s, bool sub, absl::string_view learner) {
  bool changed = false;
  nlohmann::ordered_json* obj = Member(s, "object");
  nlohmann::ordered_json* type = Member(obj, "objectType");
  const std::string t = type != nullptr && type->is_string() ? type->get<std::string>() : "";
  if (t == "Agent" || t == "Group") {
    changed |= ScrubAgent(obj, learner);
  } else if (t == "SubStatement" && !sub) {
    changed |= ScrubAgent(Member(obj, "actor"), learner);
    changed |= ScrubBody(obj, /*sub=*/true, learner);
  }
  nlohmann::ordered_json* context = Member(s, "context");
  changed |= ScrubAgent(Member(context, "instructor"), learner);
  changed |= ScrubAgent(Member(context, "team"), learner);
  for (const char* list : {"contextAgents", "contextGroups"}) {
    nlohmann::ordered_json* entries = Member(context, list);
    if (entries == nullptr || !entries->is_array()) continue;
    for (nlohmann::ordered_json& e : *entries) {
      changed |= ScrubAgent(Member(&e, absl::string_view(list) == "contextAgents" ? "agent" : "group"), learner);
    }
  }
  return changed;
}

}  // namespace

absl::StatusOr<std::string> ScrubLearnerMentions(absl::string_view statement_json, absl::string_view learner) {
  nlohmann::ordered_json j =
      nlohmann::ordered_json::parse(statement_json.begin(), statement_json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Invalid("statement", "malformed JSON");
  if (!ScrubBody(&j, /*sub=*/false, learner)) return std::string(statement_json);
  return j.dump();
}

bool SameContent(absl::string_view stored_json, absl::string_view new_json, bool drop_timestamp) {
  nlohmann::json a = nlohmann::json::parse(stored_json.begin(), stored_json.end(), nullptr, false);
  nlohmann::json b = nlohmann::json::parse(new_json.begin(), new_json.end(), nullptr, false);
  if (a.is_discarded() || b.is_discarded()) return false;
  for (nlohmann::json* j : {&a, &b}) {
    j->erase("stored");
    j->erase("authority");
    j->erase("version");
    if (drop_timestamp) j->erase("timestamp");
  }
  return a == b;
}

absl::Status CheckVoidRight(const VoidRight& right, const std::vector<std::string>& target_learners,
                            absl::string_view target_activity, absl::string_view field) {
  if (right.by_courses) {
    const std::string course = vocab::CourseIdFromIri(target_activity);
    if (!course.empty() && std::find(right.courses.begin(), right.courses.end(), course) != right.courses.end()) {
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": ", right.holder, " does not run course \"", course, "\""));
  }
  for (const std::string& l : target_learners) {
    if (right.learner.empty() || l != right.learner) {
      return absl::PermissionDeniedError(absl::StrCat(
          field, ": ", right.holder, " may only void statements of learner \"", right.learner, "\" alone"));
    }
  }
  return absl::OkStatus();
}

}  // namespace lifelong::records
