// XapiHandler::Handle: the request pipeline (alternate syntax, size limit,
// the dispatch table, authentication, authorization, version, audit) and
// the small resources (about, agents, activities). Statements are in
// xapi_statements.cc, the document resources in xapi_documents.cc.
#include "services/xapi/xapi_handler.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/domain/iri.h"
#include "services/records/statement.h"
#include "services/xapi/xapi_response.h"

namespace lifelong::xapi {
namespace {

using records::StoredStatement;
using xapi_internal::Error;
using xapi_internal::FromStatus;

// The request an xAPI 1.0.3 alternate-syntax request stands for.
// INVALID_ARGUMENT (answered 400) when it is malformed or claims xAPI 2.0.
absl::StatusOr<HttpRequest> UnwrapAlternateSyntax(const HttpRequest& original) {
  if (!absl::StartsWith(original.Header("content-type"), "application/x-www-form-urlencoded")) {
    return absl::InvalidArgumentError("alternate request syntax needs Content-Type application/x-www-form-urlencoded");
  }
  absl::StatusOr<HttpRequest> r = RewriteAlternateSyntax(original);
  if (!r.ok()) return r.status();
  if (absl::StartsWith(r->Header("x-experience-api-version"), "2.0")) {
    return absl::InvalidArgumentError("xAPI 2.0 has no alternate request syntax");
  }
  return r;
}

}  // namespace

XapiHandler::XapiHandler(records::RecordStore* store, DocumentStore* documents, const Credentials* credentials,
                         std::string base_path, std::string default_version, auth::Authorizer* authorizer,
                         records::AuditLog* audit)
    : store_(store),
      authorizer_(authorizer),
      own_audit_(audit == nullptr ? std::make_unique<records::AuditLog>(store) : nullptr),
      audit_(audit != nullptr ? audit : own_audit_.get()),
      documents_(documents),
      credentials_(credentials),
      base_path_(std::move(base_path)),
      default_version_(std::move(default_version)) {}

XapiHandler::~XapiHandler() = default;

absl::StatusOr<HttpRequest> RewriteAlternateSyntax(const HttpRequest& req) {
  // xAPI 1.0.3 "alternate request syntax": POST ?method=PUT|GET|DELETE with
  // headers, parameters and content as form fields.
  if (req.params.size() != 1) {
    return absl::InvalidArgumentError("alternate request syntax: only the method parameter is allowed");
  }
  HttpRequest out;
  out.method = req.Param("method");
  if (out.method != "GET" && out.method != "PUT" && out.method != "POST" && out.method != "DELETE" &&
      out.method != "HEAD") {
    return absl::InvalidArgumentError("method: must be GET, PUT, POST, DELETE or HEAD");
  }
  out.path = req.path;
  out.headers = req.headers;
  out.headers.erase("content-type");
  static const std::set<std::string> kHeaderFields = {
      "authorization", "x-experience-api-version", "content-type", "content-length", "if-match", "if-none-match"};
  for (const auto& [k, v] : ParseFormUrlEncoded(req.body)) {
    std::string lower = absl::AsciiStrToLower(k);
    if (kHeaderFields.count(lower)) {
      out.headers[lower] = v;
    } else if (k == "content") {
      out.body = v;
    } else {
      out.params.emplace(k, v);
    }
  }
  if (out.headers.find("content-type") == out.headers.end() && !out.body.empty()) {
    out.headers["content-type"] = "application/json";
  }
  return out;
}

// One row per xAPI resource.
struct XapiHandler::Resource {
  absl::string_view path;
  // Served without credentials (/about); otherwise null.
  HttpResponse (*serve_public)(const HttpRequest&);
  // Served to a caller authorized for the operation; null for public rows.
  HttpResponse (XapiHandler::*serve)(const auth::AccessGrant&, const HttpRequest&) const;
  // The role table names document resources "xapi:* <path>" (one permission
  // for every method), the others "xapi:<METHOD> <path>" (HEAD as GET).
  bool document;
  // Every call gets an audit row (with authentication on): resources that
  // read or write a learner's data.
  bool audited;
};

const XapiHandler::Resource* XapiHandler::FindResource(absl::string_view path) {
  static const Resource kResources[] = {
      {"/about", &XapiHandler::About, nullptr, /*document=*/false, /*audited=*/false},
      {"/statements", nullptr, &XapiHandler::Statements, /*document=*/false, /*audited=*/true},
      {"/activities/state", nullptr, &XapiHandler::State, /*document=*/true, /*audited=*/true},
      {"/activities/profile", nullptr, &XapiHandler::ActivityProfile, /*document=*/true, /*audited=*/false},
      {"/agents/profile", nullptr, &XapiHandler::AgentProfile, /*document=*/true, /*audited=*/true},
      {"/agents", nullptr, &XapiHandler::Agents, /*document=*/false, /*audited=*/true},
      {"/activities", nullptr, &XapiHandler::Activities, /*document=*/false, /*audited=*/false},
  };
  for (const Resource& r : kResources) {
    if (r.path == path) return &r;
  }
  return nullptr;
}

HttpResponse XapiHandler::Handle(const HttpRequest& original) const {
  try {
    std::optional<HttpRequest> rewritten;
    if (original.method == "POST" && original.params.count("method") > 0) {
      absl::StatusOr<HttpRequest> r = UnwrapAlternateSyntax(original);
      if (!r.ok()) return FromStatus(r.status());
      rewritten = std::move(*r);
    }
    const HttpRequest& req = rewritten ? *rewritten : original;
    if (req.body.size() > kMaxBodyBytes) return Error(413, "request body too large");
    // An unknown path is answered 404 once the caller is authorized for it
    // (and audited), so that the answer tells strangers nothing.
    const Resource* resource = FindResource(req.path);
    if (resource != nullptr && resource->serve_public != nullptr) return resource->serve_public(req);

    absl::StatusOr<auth::Principal> principal = Authenticate(req);
    if (!principal.ok()) {
      if (principal.status().code() == absl::StatusCode::kResourceExhausted) {  // password backoff
        HttpResponse r = Error(429, principal.status().message());
        r.SetHeader("X-Experience-API-Version", default_version_);
        return r;
      }
      HttpResponse r = Error(401, principal.status().message());
      r.SetHeader("WWW-Authenticate", "Basic realm=\"xAPI\"");
      r.SetHeader("X-Experience-API-Version", default_version_);
      return r;
    }
    const bool document = resource != nullptr && resource->document;
    std::string method = req.method == "HEAD" ? "GET" : req.method;
    std::string operation = absl::StrCat("xapi:", document ? "*" : method, " ", req.path);
    // Without an authorizer every Basic user is trusted (scope "any").
    static auth::Authorizer* const trust_basic_users = new auth::Authorizer(auth::AuthOptions{});
    auth::Authorizer* authz = authorizer_ != nullptr ? authorizer_ : trust_basic_users;
    absl::StatusOr<auth::AccessGrant> grant = authz->AuthorizePrincipal(*principal, operation);
    if (!grant.ok()) {
      HttpResponse r = grant.status().code() == absl::StatusCode::kResourceExhausted
                           ? Error(429, grant.status().message())
                           : FromStatus(grant.status());
      r.SetHeader("X-Experience-API-Version", default_version_);
      Audit(*principal, operation, r, /*agent=*/"", grant.status().message().substr(0, 200));
      return r;
    }
    std::string version = req.Header("x-experience-api-version");
    if (version.empty() || (!absl::StartsWith(version, "1.0") && !absl::StartsWith(version, "2.0"))) {
      HttpResponse r =
          Error(400, version.empty() ? "X-Experience-API-Version header is required"
                                     : absl::StrCat("X-Experience-API-Version ", version, " is not supported"));
      r.SetHeader("X-Experience-API-Version", default_version_);
      return r;
    }
    // Reads of learner data (GET and HEAD of the audited resources) wait for
    // a current store (SetReadGate).
    const bool reads_learner_data = resource != nullptr && resource->audited && method == "GET";
    const absl::Status current = reads_learner_data ? records::CheckReadGate(read_gate_, grant->principal(),
                                                                             req.Header(records::kStaleReadsHeader))
                                                    : absl::OkStatus();
    HttpResponse r;
    if (!current.ok()) {
      r = FromStatus(current);  // 503: this node's store may be stale
      r.SetHeader("Retry-After", "1");
    } else {
      r = resource != nullptr ? (this->*resource->serve)(*grant, req)
                              : Error(404, absl::StrCat("no resource ", req.path));
    }
    r.SetHeader("X-Experience-API-Version", absl::StartsWith(version, "1.0") ? "1.0.3" : "2.0.0");
    // The audit log (with authentication on): every access to personal data.
    if (resource == nullptr || resource->audited) {
      Audit(*principal, operation, r, req.Param("agent"),
            r.status >= 400 ? absl::string_view(r.body).substr(0, 200) : absl::string_view());
    }
    return r;
  } catch (const std::exception& e) {
    LogError("xapi_exception", {{"error", e.what()}});
    return Error(500, "internal error");
  }
}

absl::StatusOr<auth::Principal> XapiHandler::Authenticate(const HttpRequest& req) const {
  const std::string& authorization = req.Header("authorization");
  if (authorizer_ != nullptr && authorizer_->enabled() && absl::StartsWithIgnoreCase(authorization, "bearer ")) {
    // Invalid tokens share the address's budget with wrong passwords.
    return credentials_->CheckToken(req.Header("remote_addr"),
                                    [&] { return authorizer_->Authenticate(authorization); });
  }
  // "remote_addr" is the connection's peer address, set by the HTTP server
  // over any header of that name the client sent.
  absl::StatusOr<std::string> user = credentials_->Check(authorization, req.Header("remote_addr"));
  if (!user.ok()) return user.status();
  auth::Principal principal = credentials_->PrincipalOf(*user);
  // The revocation list applies to Basic users as to bearer tokens:
  // "sub:<subject>" or "jti:basic:<user>" cuts the user off without a
  // restart. Checked after the password, so a revoked user's right password
  // is not counted as a wrong one against the user or the address.
  if (authorizer_ != nullptr && authorizer_->enabled() && authorizer_->IsRevoked(principal)) {
    return absl::UnauthenticatedError("Basic credentials: revoked");
  }
  return principal;
}

void XapiHandler::Audit(const auth::Principal& who, const std::string& operation, const HttpResponse& response,
                        absl::string_view agent, absl::string_view detail) const {
  if (authorizer_ == nullptr || !authorizer_->enabled()) return;
  std::string learner;
  if (!agent.empty()) {
    absl::StatusOr<std::string> key = records::LearnerKeyFromAgentJson(agent, "agent");
    if (key.ok()) learner = *std::move(key);
  }
  audit_->RecordCall(who, operation, learner, absl::StrCat("HTTP ", response.status), detail);
}

HttpResponse XapiHandler::About(const HttpRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") return Error(405, "method not allowed");
  HttpResponse r;
  r.content_type = "application/json";
  r.body = R"({"version":["2.0.0","1.0.3"],"extensions":{}})";
  if (req.method == "HEAD") r.body.clear();
  r.SetHeader("X-Experience-API-Version", "2.0.0");
  return r;
}

HttpResponse XapiHandler::Agents(const auth::AccessGrant& grant, const HttpRequest& req) const {
  if (req.method != "GET" && req.method != "HEAD") return Error(405, "method not allowed");
  for (const auto& [k, v] : req.params) {
    if (k != "agent") return Error(400, absl::StrCat("unknown parameter ", k));
  }
  bool found = false;
  std::string agent_json = req.Param("agent", &found);
  if (!found) return Error(400, "agent parameter is required");
  absl::StatusOr<std::string> key = records::LearnerKeyFromAgentJson(agent_json, "agent");
  if (!key.ok()) return FromStatus(key.status());
  absl::Status allowed = auth::CheckLearner(grant, *key, "agent");
  if (!allowed.ok()) return FromStatus(allowed);
  nlohmann::json agent = nlohmann::json::parse(agent_json, nullptr, false);
  nlohmann::json person = {{"objectType", "Person"}};
  if (agent.contains("name")) person["name"] = nlohmann::json::array({agent["name"]});
  for (const char* k : {"mbox", "mbox_sha1sum", "openid", "account"}) {
    if (agent.contains(k)) person[k] = nlohmann::json::array({agent[k]});
  }
  HttpResponse r;
  r.content_type = "application/json";
  r.body = req.method == "HEAD" ? "" : person.dump();
  return r;
}

HttpResponse XapiHandler::Activities(const auth::AccessGrant&, const HttpRequest& req) const {
  if (req.method != "GET" && req.method != "HEAD") return Error(405, "method not allowed");
  for (const auto& [k, v] : req.params) {
    if (k != "activityId") return Error(400, absl::StrCat("unknown parameter ", k));
  }
  bool found = false;
  std::string id = req.Param("activityId", &found);
  if (!found) return Error(400, "activityId parameter is required");
  if (!domain::IsAbsoluteIri(id)) return Error(400, "activityId: not an absolute IRI");
  nlohmann::json activity = {{"objectType", "Activity"}, {"id", id}};
  // Everything the latest statements of trusted issuers say about it:
  // definitions merged, language maps unioned, newer values first.
  records::StatementQuery q;
  q.activity = id;
  q.page_size = 200;
  // The latest 200 of trusted issuers (below), chosen in the store: taking
  // the latest 200 statements and then dropping the others left no
  // definition at all once learners' or kiosks' statements about a busy
  // course outnumbered the feed's last one by 200 (the scan is bounded by
  // the store's per-page budget).
  q.extra_filter = [](const records::StatementRecord& r) { return r.Has(records::RecordFlag::kVerifiedIssuer); };
  q.extra_filter_id = "verified-issuer";
  absl::StatusOr<records::StatementPage> page = store_->List(q);
  if (!page.ok()) return FromStatus(page.status());
  nlohmann::json merged = nlohmann::json::object();
  for (const StoredStatement& st : page->statements) {
    // Only from issuers the district trusts (loaders, operators, teachers:
    // records::IssuerMayAwardCredits): any learner may write a statement
    // about a course, and its definition would otherwise be every caller's.
    if (!st.record.Has(records::RecordFlag::kVerifiedIssuer)) continue;
    nlohmann::json s = nlohmann::json::parse(st.record.json, nullptr, false);
    if (!s.is_object() || !s.contains("object") || !s["object"].contains("definition")) continue;
    for (auto& [k, v] : s["object"]["definition"].items()) {
      if (!merged.contains(k)) {
        merged[k] = v;
      } else if ((k == "name" || k == "description") && v.is_object()) {
        for (auto& [lang, text] : v.items()) {
          if (!merged[k].contains(lang)) merged[k][lang] = text;
        }
      }
    }
  }
  if (!merged.empty()) activity["definition"] = merged;
  HttpResponse r;
  r.content_type = "application/json";
  // The id is echoed as given: IsAbsoluteIri does not check UTF-8.
  r.body = req.method == "HEAD"
               ? ""
               : activity.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  return r;
}

std::string UrlEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace lifelong::xapi
