// The xAPI document resources: State, Activity Profile and Agent Profile
// (GET/HEAD one or the id list, PUT, POST merge, DELETE; ETag
// preconditions), over the DocumentStore.
#include <nlohmann/json.hpp>

#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/domain/iri.h"
#include "services/domain/vocabulary.h"
#include "services/domain/xapi_time.h"
#include "services/records/statement.h"
#include "services/xapi/xapi_handler.h"
#include "services/xapi/xapi_response.h"

namespace lifelong::xapi {
namespace {

using records::FormatUuid;
using records::ParseUuid;
using xapi_internal::Error;
using xapi_internal::FromStatus;
using xapi_internal::HttpDate;

}  // namespace

namespace {

// "\"abc\"", "W/\"abc\"" or "abc" -> "abc".
std::string Unquote(std::string tag) {
  if (tag.rfind("W/", 0) == 0) tag = tag.substr(2);
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') tag = tag.substr(1, tag.size() - 2);
  return tag;
}

}  // namespace

HttpResponse XapiHandler::Documents(const auth::AccessGrant& grant, const HttpRequest& req, DocKind kind) const {
  const bool state = kind == DocKind::kState;
  const char* id_param = state ? "stateId" : "profileId";
  std::set<std::string> known = {id_param, "since"};
  if (kind != DocKind::kAgentProfile) known.insert("activityId");
  if (kind != DocKind::kActivityProfile) known.insert("agent");
  if (state) known.insert("registration");
  for (const auto& [k, v] : req.params) {
    if (!known.count(k)) return Error(400, absl::StrCat("unknown parameter ", k));
  }
  DocKey key;
  key.kind = kind;
  if (kind != DocKind::kAgentProfile) {
    bool found = false;
    key.activity = req.Param("activityId", &found);
    if (!found) return Error(400, "activityId parameter is required");
    if (!domain::IsAbsoluteIri(key.activity)) return Error(400, "activityId: not an absolute IRI");
  }
  if (kind == DocKind::kActivityProfile && req.method != "GET" && req.method != "HEAD") {
    // One namespace that every caller reads: a teacher (scope courses)
    // writes only the profiles of the courses they run.
    absl::Status mine = auth::CheckCourse(grant, vocab::CourseIdFromIri(key.activity), "activityId");
    if (!mine.ok()) return FromStatus(mine);
  }
  if (kind != DocKind::kActivityProfile) {
    bool found = false;
    std::string agent = req.Param("agent", &found);
    if (!found) return Error(400, "agent parameter is required");
    absl::StatusOr<std::string> learner = records::LearnerKeyFromAgentJson(agent, "agent");
    if (!learner.ok()) return FromStatus(learner.status());
    key.learner = *learner;
    if (grant.scope() != auth::Scope::kNoRecords) {
      absl::Status ok = auth::CheckLearner(grant, key.learner, "agent");
      if (!ok.ok()) return FromStatus(ok);
    }
  }
  if (state) {
    bool found = false;
    key.registration = req.Param("registration", &found);
    if (found) {
      absl::StatusOr<records::Uuid> reg = ParseUuid(key.registration);
      if (!reg.ok()) return Error(400, absl::StrCat("registration: ", reg.status().message()));
      key.registration = FormatUuid(*reg);
    }
  }
  bool has_id = false;
  key.id = req.Param(id_param, &has_id);
  // An empty id names no document: taken as absent it made `stateId=` a
  // DELETE of every document in scope, with no If-Match checked.
  if (has_id && key.id.empty()) return Error(400, absl::StrCat(id_param, ": must not be empty"));
  bool has_since = false;
  std::string since = req.Param("since", &has_since);
  std::optional<int64_t> since_us;
  if (has_since) {
    if (has_id) return Error(400, absl::StrCat("since: not allowed with ", id_param));
    absl::StatusOr<int64_t> t = domain::ParseTimestampMicros(since);
    if (!t.ok()) return Error(400, absl::StrCat("since: ", t.status().message()));
    since_us = *t;
  }
  WriteCondition cond;
  std::string if_match = req.Header("if-match");
  if (!if_match.empty()) cond.if_match = Unquote(if_match);
  cond.if_none_match_star = req.Header("if-none-match") == "*";
  // xAPI 2.0 requires a precondition to overwrite any document; 1.0.3 only
  // for profiles, where a PUT always needs one.
  const bool v1 = absl::StartsWith(req.Header("x-experience-api-version"), "1.0");
  cond.require_condition_if_exists = !(v1 && state);
  cond.missing_condition_is_invalid = v1 && !state && req.method == "PUT";
  const int64_t now = absl::ToUnixMicros(absl::Now());
  HttpResponse r;

  if (req.method == "GET" || req.method == "HEAD") {
    if (has_id) {
      absl::StatusOr<Document> d = documents_->Get(key);
      if (!d.ok()) return FromStatus(d.status());
      r.content_type = d->content_type.empty() ? "application/octet-stream" : d->content_type;
      r.body = req.method == "HEAD" ? "" : d->content;
      r.SetHeader("ETag", absl::StrCat("\"", d->etag, "\""));
      r.SetHeader("Last-Modified", HttpDate(d->updated_us));
      return r;
    }
    absl::StatusOr<std::vector<std::string>> ids = documents_->ListIds(key, since_us);
    if (!ids.ok()) return FromStatus(ids.status());
    r.content_type = "application/json";
    // Ids are stored as sent: one that is not UTF-8 is listed with U+FFFD
    // rather than failing the whole list.
    r.body = req.method == "HEAD"
                 ? ""
                 : nlohmann::json(*ids).dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
    return r;
  }
  if (req.method == "PUT" || req.method == "POST") {
    if (!has_id) return Error(400, absl::StrCat(id_param, " parameter is required"));
    std::string ct = req.Header("content-type");
    if (ct.empty()) ct = "application/octet-stream";
    bool json = absl::StartsWith(ct, "application/json");
    if (json) {
      nlohmann::json parsed = nlohmann::json::parse(req.body, nullptr, false);
      if (parsed.is_discarded()) return Error(400, "document: malformed JSON");
      if (req.method == "POST" && !parsed.is_object()) return Error(400, "document: POST needs a JSON object");
    }
    absl::Status s = req.method == "PUT" ? documents_->Put(key, ct, req.body, cond, now)
                                         : documents_->Merge(key, ct, req.body, cond, now);
    if (!s.ok()) return FromStatus(s);
    r.status = 204;
    return r;
  }
  if (req.method == "DELETE") {
    if (!has_id && kind != DocKind::kState) return Error(400, absl::StrCat(id_param, " parameter is required"));
    // xAPI's concurrency headers apply to one document: a DELETE of every
    // State in scope that carries one is refused rather than run unchecked.
    if (!has_id) {
      for (const char* h : {"If-Match", "If-None-Match"}) {
        if (req.headers.count(absl::AsciiStrToLower(h))) {
          return Error(400, absl::StrCat(h, ": not allowed without ", id_param, " (it applies to one document)"));
        }
      }
    }
    absl::Status s = documents_->Delete(key, cond);
    if (!s.ok()) return FromStatus(s);
    r.status = 204;
    return r;
  }
  return Error(405, "method not allowed");
}

HttpResponse XapiHandler::State(const auth::AccessGrant& grant, const HttpRequest& request) const {
  return Documents(grant, request, DocKind::kState);
}

HttpResponse XapiHandler::ActivityProfile(const auth::AccessGrant& grant, const HttpRequest& request) const {
  return Documents(grant, request, DocKind::kActivityProfile);
}

HttpResponse XapiHandler::AgentProfile(const auth::AccessGrant& grant, const HttpRequest& request) const {
  return Documents(grant, request, DocKind::kAgentProfile);
}

}  // namespace lifelong::xapi
