// The xAPI Statements resource: PUT (one statement), POST (one or a batch),
// GET and HEAD (one by id, or a query with `more` links), with multipart
// attachments and the ids / exact / canonical formats.
#include <simdjson.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "services/common/log.h"
#include "services/domain/iri.h"
#include "services/domain/vocabulary.h"
#include "services/domain/xapi_time.h"
#include "services/records/statement.h"
#include "services/records/statement_access.h"
#include "services/xapi/multipart.h"
#include "services/xapi/xapi_handler.h"
#include "services/xapi/xapi_response.h"

namespace lifelong::xapi {
namespace {

using records::FormatUuid;
using records::ParsedStatement;
using records::ParseStatement;
using records::ParseUuid;
using records::RecordFlag;
using records::StatementRecord;
using records::StoredStatement;
using xapi_internal::Error;
using xapi_internal::FromStatus;
using xapi_internal::HttpDate;
using xapi_internal::NowRfc3339;

// Bodies up to this size are parsed with a parser kept by the worker thread;
// larger ones with a parser of their own, freed with the request. A
// dom::parser keeps the capacity of the largest document it parsed, some 14
// bytes per byte (measured with simdjson 3.0.1: a 16 MiB body left 234 MiB
// allocated, AHugeBodyLeavesNoParserCapacityBehind), for as long as the
// thread lives; the statements of one request are rarely over 1 MiB.
constexpr size_t kMaxThreadParserBytes = 1 << 20;

// A statement write's body: its JSON, the statement texts in it (one, or the
// array's elements), whether it was an array, which statements have an
// `attachments` member (as parsed: a key spelled with escapes counts), and
// the attachment parts.
struct StatementBody {
  std::string json;
  std::vector<std::string> texts;
  std::vector<bool> has_attachments;
  bool was_array = false;
  std::map<std::string, MultipartPart> attachments;
};

// Splits body->json, one statement or an array of at most
// kMaxStatementsPerPost statements, into body->texts (and was_array,
// has_attachments). INVALID_ARGUMENT for anything else, and for a larger
// array before its elements are copied out.
absl::Status SplitStatements(StatementBody* body) {
  static thread_local simdjson::dom::parser thread_parser;
  std::optional<simdjson::dom::parser> own_parser;
  simdjson::dom::parser& parser = body->json.size() <= kMaxThreadParserBytes ? thread_parser : own_parser.emplace();
  simdjson::dom::element root;
  simdjson::error_code err = parser.parse(body->json.data(), body->json.size()).get(root);
  if (err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("statement: malformed JSON: ", simdjson::error_message(err)));
  }
  // The parser decodes keys: "\u0061ttachments" is found too.
  auto has_attachments = [](simdjson::dom::element e) { return e["attachments"].error() == simdjson::SUCCESS; };
  if (root.is_array()) {
    body->was_array = true;
    simdjson::dom::array arr;
    if (root.get_array().get(arr) != simdjson::SUCCESS) return absl::InvalidArgumentError("statements: not an array");
    // size() reads the count the parser stored (saturated at 2^24 - 1, over
    // the cap either way): no element is copied for an array over the cap.
    if (arr.size() > kMaxStatementsPerPost) {
      return absl::InvalidArgumentError(
          absl::StrCat("statements: at most ", kMaxStatementsPerPost, " statements per request"));
    }
    if (arr.size() == 0) return absl::InvalidArgumentError("statements: empty array");
    for (simdjson::dom::element e : arr) {
      body->texts.push_back(simdjson::minify(e));
      body->has_attachments.push_back(has_attachments(e));
    }
    return absl::OkStatus();
  }
  body->was_array = false;
  if (!root.is_object()) return absl::InvalidArgumentError("statement: must be a JSON object or array");
  body->texts.push_back(body->json);
  body->has_attachments.push_back(has_attachments(root));
  return absl::OkStatus();
}

// xAPI "ids" format: agents, groups and activities reduced to identifiers.
void ReduceToIds(nlohmann::json& j) {
  auto reduce_agent = [](nlohmann::json& a) {
    if (!a.is_object()) return;
    nlohmann::json out = nlohmann::json::object();
    for (const char* k : {"objectType", "mbox", "mbox_sha1sum", "openid", "account"}) {
      if (a.contains(k)) out[k] = a[k];
    }
    if (a.value("objectType", "") == "Group" && a.contains("member") && !a.contains("mbox") &&
        !a.contains("mbox_sha1sum") && !a.contains("openid") && !a.contains("account")) {
      out["member"] = nlohmann::json::array();
      for (auto& m : a["member"]) {
        nlohmann::json mm = nlohmann::json::object();
        for (const char* k : {"objectType", "mbox", "mbox_sha1sum", "openid", "account"}) {
          if (m.contains(k)) mm[k] = m[k];
        }
        out["member"].push_back(mm);
      }
    }
    a = out;
  };
  if (j.contains("actor")) reduce_agent(j["actor"]);
  if (j.contains("object")) {
    nlohmann::json& o = j["object"];
    std::string type = o.value("objectType", "Activity");
    if (type == "Activity") {
      o = {{"id", o["id"]}};
    } else if (type == "Agent" || type == "Group") {
      reduce_agent(o);
    } else if (type == "SubStatement") {
      ReduceToIds(o);
    }
  }
  if (j.contains("verb")) j["verb"] = {{"id", j["verb"]["id"]}};
  if (j.contains("authority")) reduce_agent(j["authority"]);
}

// xAPI "canonical" format: every language map reduced to the one language
// that best matches the caller's Accept-Language (else its first entry).
void ReduceLanguageMaps(nlohmann::json& j, const std::vector<std::string>& preferred) {
  auto reduce = [&](nlohmann::json& map) {
    if (!map.is_object() || map.size() <= 1) return;
    for (const std::string& lang : preferred) {
      for (auto it = map.begin(); it != map.end(); ++it) {
        if (absl::EqualsIgnoreCase(it.key(), lang) || absl::StartsWithIgnoreCase(it.key(), lang + "-")) {
          map = nlohmann::json{{it.key(), it.value()}};
          return;
        }
      }
    }
    map = nlohmann::json{{map.begin().key(), map.begin().value()}};
  };
  auto reduce_definition = [&](nlohmann::json& d) {
    if (!d.is_object()) return;
    for (const char* k : {"name", "description"}) {
      if (d.contains(k)) reduce(d[k]);
    }
    for (const char* list : {"choices", "scale", "source", "target", "steps"}) {
      if (!d.contains(list) || !d[list].is_array()) continue;
      for (auto& c : d[list]) {
        if (c.is_object() && c.contains("description")) reduce(c["description"]);
      }
    }
  };
  if (!j.is_object()) return;
  if (j.contains("verb") && j["verb"].contains("display")) reduce(j["verb"]["display"]);
  if (j.contains("object") && j["object"].is_object()) {
    nlohmann::json& o = j["object"];
    if (o.contains("definition")) reduce_definition(o["definition"]);
    if (o.value("objectType", "") == "SubStatement") ReduceLanguageMaps(o, preferred);
  }
  if (j.contains("context") && j["context"].is_object() && j["context"].contains("contextActivities")) {
    for (auto& [kind, list] : j["context"]["contextActivities"].items()) {
      if (!list.is_array()) continue;
      for (auto& activity : list) {
        if (activity.is_object() && activity.contains("definition")) reduce_definition(activity["definition"]);
      }
    }
  }
  if (j.contains("attachments")) {
    for (auto& a : j["attachments"]) {
      for (const char* k : {"display", "description"}) {
        if (a.contains(k)) reduce(a[k]);
      }
    }
  }
}

// "zh-CN,zh;q=0.9,en;q=0.8" -> {"zh-CN", "zh", "en"} (in the order given).
std::vector<std::string> AcceptLanguages(const std::string& header) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(header, ',')) {
    absl::string_view tag = part.substr(0, part.find(';'));
    tag = absl::StripAsciiWhitespace(tag);
    if (!tag.empty() && tag != "*") out.emplace_back(tag);
  }
  return out;
}

std::string Render(const StoredStatement& s, const std::string& format,
                   const std::vector<std::string>& languages = {}) {
  if (format == "exact") return s.record.json;
  nlohmann::json j = nlohmann::json::parse(s.record.json, nullptr, false);
  if (j.is_discarded()) return s.record.json;
  if (format == "ids") {
    ReduceToIds(j);
  } else {
    ReduceLanguageMaps(j, languages);
  }
  return j.dump();
}

bool IsTrue(const std::string& v) { return v == "true"; }

// Whether `agent` is an Agent or Group whose identifier has the learner key
// `key` (mbox, mbox_sha1sum, openid, or account homePage and name; compared
// canonically), or a Group with such a member.
bool IsAgent(simdjson::dom::element agent, const std::string& key) {
  if (!agent.is_object()) return false;
  absl::StatusOr<std::string> k = records::LearnerKeyFromAgentJson(simdjson::minify(agent), "agent");
  if (k.ok() && *k == key) return true;
  simdjson::dom::array members;
  if (agent["member"].get_array().get(members) != simdjson::SUCCESS) return false;
  for (simdjson::dom::element m : members) {
    if (IsAgent(m, key)) return true;
  }
  return false;
}

// xAPI related_agents: whether the agent with learner key `key` is where
// xAPI puts agents in the stored statement `rec`. Its actor (and a Group
// actor's members) are its learners, read without parsing; the agents it
// names elsewhere (object, context instructor, team, contextAgents and
// contextGroups, a SubStatement's actor, object and context) are
// records::MentionedLearners's, which only a record flagged kNamesOthers has
// (the store's own rule: IndexKeys); its authority (the store writes one on
// every statement) is read last. Free text (a result's response,
// extensions) is not read. Runs inside the store's scan, once per record:
// most records are parsed once (for the authority), those naming others at
// most twice (MentionedLearners parses the JSON itself).
bool RelatesToAgent(const StatementRecord& rec, const std::string& key) {
  if (std::find(rec.learners.begin(), rec.learners.end(), key) != rec.learners.end()) return true;
  if (rec.Has(RecordFlag::kNamesOthers)) {
    absl::StatusOr<std::vector<std::string>> mentioned = records::MentionedLearners(rec.json);
    if (mentioned.ok() && std::find(mentioned->begin(), mentioned->end(), key) != mentioned->end()) return true;
  }
  static thread_local simdjson::dom::parser thread_parser;
  std::optional<simdjson::dom::parser> own_parser;
  simdjson::dom::parser& parser = rec.json.size() <= kMaxThreadParserBytes ? thread_parser : own_parser.emplace();
  simdjson::dom::element authority;
  if (parser.parse(rec.json.data(), rec.json.size())["authority"].get(authority) != simdjson::SUCCESS) return false;
  return IsAgent(authority, key);
}

// The statement JSON of a write request, and its attachment parts keyed by
// their X-Experience-API-Hash. application/json or multipart/mixed only.
absl::Status SplitRequestBody(const HttpRequest& req, std::string* json,
                              std::map<std::string, MultipartPart>* attachments) {
  std::string ct = req.Header("content-type");
  if (absl::StartsWith(ct, "application/json")) {
    *json = req.body;
    return absl::OkStatus();
  }
  if (!absl::StartsWith(ct, "multipart/mixed")) {
    return absl::InvalidArgumentError("Content-Type must be application/json or multipart/mixed");
  }
  absl::StatusOr<std::string> boundary = MultipartBoundary(ct);
  if (!boundary.ok()) return boundary.status();
  absl::StatusOr<std::vector<MultipartPart>> parts = ParseMultipart(*boundary, req.body);
  if (!parts.ok()) return parts.status();
  if (parts->empty()) return absl::InvalidArgumentError("multipart: no parts");
  auto ct0 = (*parts)[0].headers.find("content-type");
  if (ct0 == (*parts)[0].headers.end() || !absl::StartsWith(ct0->second, "application/json")) {
    return absl::InvalidArgumentError("multipart: the first part must be application/json statements");
  }
  *json = (*parts)[0].body;
  for (size_t i = 1; i < parts->size(); ++i) {
    MultipartPart& p = (*parts)[i];
    auto hash = p.headers.find("x-experience-api-hash");
    if (hash == p.headers.end() || hash->second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("multipart: part ", i, " has no X-Experience-API-Hash"));
    }
    auto enc = p.headers.find("content-transfer-encoding");
    if (enc != p.headers.end() && enc->second != "binary") {
      return absl::InvalidArgumentError(
          absl::StrCat("multipart: part ", i, " must use Content-Transfer-Encoding binary"));
    }
    std::string key = absl::AsciiStrToLower(hash->second);
    // Attachments are stored by hash and shared by every statement naming
    // it: bytes that are not the hash's would replace another's attachment.
    if (Sha256Hex(p.body) != key) {
      return absl::InvalidArgumentError(
          absl::StrCat("multipart: part ", i, " does not match its X-Experience-API-Hash (SHA-256 of its content)"));
    }
    (*attachments)[key] = std::move(p);
  }
  return absl::OkStatus();
}

// SplitRequestBody, then SplitStatements: what PUT and POST both read first.
absl::Status ReadStatementBody(const HttpRequest& req, StatementBody* body) {
  absl::Status split = SplitRequestBody(req, &body->json, &body->attachments);
  if (!split.ok()) return split;
  return SplitStatements(body);
}

// The string member `name` of `j`, or "" when absent or not a string
// (json::value would throw on another type).
std::string StringField(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Checks the statements' attachments against the parts sent: every
// attachment without fileUrl needs its part, every part an attachment, and
// signature attachments a valid JWS. Adds to `carried` (statement index,
// sha) each attachment whose part was sent.
absl::Status CheckAttachments(const StatementBody& body, std::vector<std::pair<size_t, std::string>>* carried) {
  const std::vector<std::string>& texts = body.texts;
  const std::map<std::string, MultipartPart>& parts = body.attachments;
  std::set<std::string> referenced;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (!body.has_attachments[i]) continue;
    nlohmann::json st = nlohmann::json::parse(texts[i], nullptr, false);
    if (!st.is_object() || !st.contains("attachments") || !st["attachments"].is_array()) continue;
    for (const nlohmann::json& a : st["attachments"]) {
      if (!a.is_object() || !a.contains("sha2") || !a["sha2"].is_string()) continue;
      std::string sha = absl::AsciiStrToLower(a["sha2"].get<std::string>());
      referenced.insert(sha);
      auto part = parts.find(sha);
      bool signature = StringField(a, "usageType") == "http://adlnet.gov/expapi/attachments/signature";
      if (part == parts.end()) {
        if (!a.contains("fileUrl") || signature) {
          return absl::InvalidArgumentError(absl::StrCat("statements[", i, "].attachments: no part with sha2 ", sha));
        }
        continue;
      }
      carried->emplace_back(i, sha);
      if (signature) {
        if (StringField(a, "contentType") != "application/octet-stream") {
          return absl::InvalidArgumentError("signature attachment: contentType must be application/octet-stream");
        }
        absl::Status s = CheckStatementSignature(part->second.body, texts[i]);
        if (!s.ok()) return s;
      }
    }
  }
  for (const auto& [sha, part] : parts) {
    if (!referenced.count(sha)) {
      return absl::InvalidArgumentError(absl::StrCat("multipart: part ", sha, " matches no statement attachment"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// Where a statement's attachment bytes are kept: under the statement's
// (first) learner, so that the learner's erasure removes them, with id
// "<statement id>/<sha2>": a statement serves only the bytes sent with it,
// so another statement naming the same hash (a teacher's about the learner,
// or one written over gRPC, where no part is sent) reads nothing.
DocKey StatementAttachmentKey(const std::vector<std::string>& learners, const records::Uuid& id,
                              const std::string& sha) {
  return DocKey{DocKind::kLearnerAttachment, "", learners.empty() ? std::string() : learners.front(), "",
                absl::StrCat(FormatUuid(id), "/", sha)};
}

// Keys of earlier versions: (first learner, sha2) from 2026-12-03, shared by
// every statement of the learner naming the hash, and the hash alone before.
DocKey LegacyLearnerAttachmentKey(const std::vector<std::string>& learners, const std::string& sha) {
  return DocKey{DocKind::kLearnerAttachment, "", learners.empty() ? std::string() : learners.front(), "", sha};
}

// Bytes under a legacy key are served only to the statement they were sent
// with: earlier versions stored them just before the statement, so it was
// stored (stored_seq, the store's clock in microseconds) at most this long
// after them. A statement written later naming the hash reads nothing.
constexpr int64_t kLegacyAttachmentWindowUs = 60'000'000;

bool SentWith(const Document& d, const records::StatementRecord& record) {
  const int64_t stored = static_cast<int64_t>(record.stored_seq);
  return d.updated_us <= stored && stored - d.updated_us <= kLegacyAttachmentWindowUs;
}

}  // namespace

absl::Status XapiHandler::SaveAttachments(const std::map<std::string, MultipartPart>& parts,
                                          const std::vector<std::pair<size_t, std::string>>& carried,
                                          const std::vector<ParsedStatement>& statements,
                                          std::vector<DocKey>* created) const {
  // Each statement keeps its own copy of the parts it names: one part named
  // by every statement of a batch would be stored a thousand times.
  std::vector<std::pair<DocKey, const MultipartPart*>> writes;
  std::set<std::pair<std::string, std::string>> seen;  // (learner, statement id/sha)
  size_t total = 0;
  for (const auto& [i, sha] : carried) {
    DocKey key = StatementAttachmentKey(statements[i].learners, statements[i].id, sha);
    if (!seen.emplace(key.learner, key.id).second) continue;
    const MultipartPart& part = parts.at(sha);
    total += part.body.size();
    writes.emplace_back(std::move(key), &part);
  }
  if (total > kMaxBodyBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("attachments: the statements would store ", total,
                     " bytes of attachments (each statement keeps its own copy of every part it names), over the "
                     "limit of ",
                     kMaxBodyBytes, " bytes per request"));
  }
  const int64_t now = absl::ToUnixMicros(absl::Now());
  for (const auto& [key, part] : writes) {
    // Stored before this request (by the statement that holds this id,
    // which this request may be a retry of): the same bytes, its hash is in
    // the key. Kept as it is, and never deleted by this request.
    absl::StatusOr<Document> existing = documents_->Get(key);
    if (existing.ok()) continue;
    if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();
    auto ct = part->headers.find("content-type");
    WriteCondition only_new;
    only_new.if_none_match_star = true;
    absl::Status s = documents_->Put(key, ct == part->headers.end() ? "application/octet-stream" : ct->second,
                                     part->body, only_new, now);
    // Another request for the same statement stored it meanwhile: theirs.
    if (s.code() == absl::StatusCode::kFailedPrecondition) continue;
    if (!s.ok()) return s;
    created->push_back(key);
  }
  return absl::OkStatus();
}

namespace {
// Whether the statement `json` lists an attachment of hash `sha`.
bool NamesAttachment(const std::string& json, const std::string& sha) {
  nlohmann::json st = nlohmann::json::parse(json, nullptr, false);
  if (!st.is_object() || !st.contains("attachments") || !st["attachments"].is_array()) return false;
  for (const nlohmann::json& a : st["attachments"]) {
    if (a.is_object() && a.contains("sha2") && a["sha2"].is_string() && a["sha2"].get<std::string>() == sha) {
      return true;
    }
  }
  return false;
}

// A write refused that was certainly not made, and never will be.
bool IsDefiniteRefusal(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kUnauthenticated:
      return true;
    default:
      return false;
  }
}
}  // namespace

void XapiHandler::DiscardAttachments(const std::vector<DocKey>& created, const absl::Status& why) const {
  for (const DocKey& key : created) {
    // A statement of this id that names this attachment, stored meanwhile
    // (the same statement sent twice at once), holds these bytes now: kept.
    const size_t slash = key.id.find('/');
    absl::StatusOr<records::Uuid> id = ParseUuid(key.id.substr(0, slash));
    if (id.ok() && slash != std::string::npos) {
      absl::StatusOr<StoredStatement> stored = store_->Get(*id);
      if (stored.ok() && !stored->record.learners.empty() && stored->record.learners.front() == key.learner &&
          NamesAttachment(stored->record.json, key.id.substr(slash + 1))) {
        continue;
      }
    }
    absl::Status s = documents_->Delete(key, WriteCondition{});
    if (!s.ok()) {
      LogError("xapi_attachment_discard_failed", {{"learner", key.learner},
                                                  {"id", key.id},
                                                  {"error", std::string(s.message())},
                                                  {"write_error", std::string(why.message())}});
    }
  }
}

HttpResponse XapiHandler::WithAttachments(HttpResponse r, const std::vector<const StoredStatement*>& statements) const {
  std::vector<MultipartPart> parts(1);
  parts[0].headers["Content-Type"] = "application/json";
  parts[0].body = std::move(r.body);
  std::set<std::string> seen;
  for (const StoredStatement* stored : statements) {
    // Parsed whatever the text looks like: the key may be spelled with
    // escapes ("\u0061ttachments"). A page with attachments holds at most
    // kMaxStatementsPerPageWithAttachments statements.
    nlohmann::json st = nlohmann::json::parse(stored->record.json, nullptr, false);
    if (!st.is_object() || !st.contains("attachments")) continue;
    for (const nlohmann::json& a : st["attachments"]) {
      if (!a.is_object() || !a.contains("sha2") || !a["sha2"].is_string()) continue;
      std::string sha = absl::AsciiStrToLower(a["sha2"].get<std::string>());
      if (seen.count(sha)) continue;
      // Only bytes sent as a part with this statement (SaveAttachments). A
      // hash named with a fileUrl alone, or by a statement written over gRPC,
      // proves nothing about its bytes, and would read any stored attachment
      // whose content can be guessed.
      absl::StatusOr<Document> d = documents_->Get(StatementAttachmentKey(stored->record.learners, stored->id, sha));
      // Bytes under an earlier version's key: only for the statement they came with.
      auto legacy = [&](const DocKey& key) -> absl::StatusOr<Document> {
        absl::StatusOr<Document> old = documents_->Get(key);
        if (old.ok() && !SentWith(*old, stored->record)) return absl::NotFoundError("not sent with this statement");
        return old;
      };
      if (!d.ok()) d = legacy(LegacyLearnerAttachmentKey(stored->record.learners, sha));
      if (!d.ok() && !a.contains("fileUrl")) d = legacy(DocKey{DocKind::kAttachment, "", "", "", sha});
      if (!d.ok()) continue;
      seen.insert(sha);
      MultipartPart p;
      p.headers["Content-Type"] = d->content_type;
      p.headers["Content-Transfer-Encoding"] = "binary";
      p.headers["X-Experience-API-Hash"] = sha;
      p.body = std::move(d->content);
      parts.push_back(std::move(p));
    }
  }
  r.body = BuildMultipart(parts, &r.content_type);
  return r;
}

absl::StatusOr<std::vector<StoredStatement>> XapiHandler::RecordWithAttachments(
    const std::map<std::string, MultipartPart>& parts, const std::vector<std::pair<size_t, std::string>>& carried,
    std::vector<ParsedStatement> statements) const {
  std::vector<DocKey> created;
  absl::Status saved = SaveAttachments(parts, carried, statements, &created);
  if (!saved.ok()) {
    DiscardAttachments(created, saved);
    return saved;
  }
  absl::StatusOr<std::vector<StoredStatement>> stored = store_->Record(std::move(statements));
  // Only a write refused for good: UNAVAILABLE, DEADLINE_EXCEEDED and the
  // like may still be applied (the replicated log's publish that timed out,
  // an operation in the log not applied yet), after the delete would be.
  if (!stored.ok() && IsDefiniteRefusal(stored.status())) DiscardAttachments(created, stored.status());
  return stored;
}

HttpResponse XapiHandler::Statements(const auth::AccessGrant& grant, const HttpRequest& req) const {
  HttpResponse r;
  if (req.method == "PUT") {
    r = PutStatement(grant, req);
  } else if (req.method == "POST") {
    r = PostStatements(grant, req);
  } else if (req.method == "GET") {
    r = GetStatements(grant, req, /*head=*/false);
  } else if (req.method == "HEAD") {
    r = GetStatements(grant, req, /*head=*/true);
  } else {
    r = Error(405, "method not allowed");
  }
  r.SetHeader("X-Experience-API-Consistent-Through", NowRfc3339());
  return r;
}

HttpResponse XapiHandler::PutStatement(const auth::AccessGrant& grant, const HttpRequest& req) const {
  for (const auto& [k, v] : req.params) {
    if (k != "statementId") return Error(400, absl::StrCat("unknown parameter ", k));
  }
  bool found = false;
  std::string id = req.Param("statementId", &found);
  if (!found) return Error(400, "statementId parameter is required");
  absl::StatusOr<records::Uuid> uuid = ParseUuid(id);
  if (!uuid.ok()) return Error(400, absl::StrCat("statementId: ", uuid.status().message()));
  StatementBody body;
  absl::Status body_ok = ReadStatementBody(req, &body);
  if (!body_ok.ok()) return FromStatus(body_ok);
  if (body.was_array) return Error(400, "PUT takes a single statement");
  absl::StatusOr<ParsedStatement> p = ParseStatement(body.texts.front());
  if (!p.ok()) return FromStatus(p.status());
  if (!p->id_assigned && p->id != *uuid) return Error(400, "statement.id: differs from statementId");
  if (p->id_assigned) {
    // Take the id from the parameter: re-parse with it spliced in.
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(body.json);
    nlohmann::ordered_json with_id = {{"id", FormatUuid(*uuid)}};
    for (auto it = j.begin(); it != j.end(); ++it) with_id[it.key()] = it.value();
    p = ParseStatement(with_id.dump());
    if (!p.ok()) return FromStatus(p.status());
  }
  // After the parse, as POST does: a malformed attachment entry is a 400
  // naming its field, not a JSON type error.
  std::vector<std::pair<size_t, std::string>> carried;
  absl::Status att = CheckAttachments(body, &carried);
  if (!att.ok()) return FromStatus(att);
  absl::Status allowed = records::CheckStatementWrite(grant, *p, "statement");
  if (allowed.ok()) allowed = records::CheckVoidingWrite(grant, &*p, *store_, "statement.object.id");
  if (!allowed.ok()) return FromStatus(allowed);
  records::SetIssuer(grant, &*p);
  std::vector<ParsedStatement> batch;
  batch.push_back(std::move(*p));
  absl::StatusOr<std::vector<StoredStatement>> stored =
      RecordWithAttachments(body.attachments, carried, std::move(batch));
  if (!stored.ok()) return FromStatus(stored.status());
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse XapiHandler::PostStatements(const auth::AccessGrant& grant, const HttpRequest& req) const {
  if (!req.params.empty()) return Error(400, absl::StrCat("unknown parameter ", req.params.begin()->first));
  StatementBody body;
  absl::Status body_ok = ReadStatementBody(req, &body);
  if (!body_ok.ok()) return FromStatus(body_ok);
  const std::vector<std::string>& texts = body.texts;  // at most kMaxStatementsPerPost
  const bool was_array = body.was_array;
  std::vector<ParsedStatement> batch;
  std::set<records::Uuid> ids;
  for (size_t i = 0; i < texts.size(); ++i) {
    absl::StatusOr<ParsedStatement> p = ParseStatement(texts[i]);
    if (!p.ok()) {
      return Error(400, was_array ? absl::StrCat("statements[", i, "]: ", p.status().message())
                                  : std::string(p.status().message()));
    }
    if (!ids.insert(p->id).second) {
      return Error(400, absl::StrCat("statements[", i, "].id: appears twice in the batch"));
    }
    absl::Status allowed = records::CheckStatementWrite(grant, *p, absl::StrCat("statements[", i, "]"));
    if (allowed.ok()) {
      allowed = records::CheckVoidingWrite(grant, &*p, *store_, absl::StrCat("statements[", i, "].object.id"));
    }
    if (!allowed.ok()) return FromStatus(allowed);
    records::SetIssuer(grant, &*p);
    batch.push_back(std::move(*p));
  }
  std::vector<std::pair<size_t, std::string>> carried;
  absl::Status att = CheckAttachments(body, &carried);
  if (!att.ok()) return FromStatus(att);
  absl::StatusOr<std::vector<StoredStatement>> stored =
      RecordWithAttachments(body.attachments, carried, std::move(batch));
  if (!stored.ok()) return FromStatus(stored.status());
  nlohmann::json out = nlohmann::json::array();
  for (const StoredStatement& s : *stored) out.push_back(FormatUuid(s.id));
  HttpResponse r;
  r.content_type = "application/json";
  r.body = out.dump();
  return r;
}

HttpResponse XapiHandler::GetStatements(const auth::AccessGrant& grant, const HttpRequest& req, bool head) const {
  static const std::set<std::string> kKnown = {
      "statementId",        "voidedStatementId", "agent", "verb",  "activity", "registration",
      "related_activities", "related_agents",    "since", "until", "limit",    "format",
      "attachments",        "ascending",         "more"};
  for (const auto& [k, v] : req.params) {
    if (!kKnown.count(k)) return Error(400, absl::StrCat("unknown parameter ", k));
  }
  std::string format = req.Param("format");
  if (format.empty()) format = "exact";
  if (format != "exact" && format != "ids" && format != "canonical") {
    return Error(400, "format: must be ids, exact or canonical");
  }
  for (const char* b : {"related_activities", "related_agents", "attachments", "ascending"}) {
    bool present = false;
    std::string v = req.Param(b, &present);
    if (present && v != "true" && v != "false") return Error(400, absl::StrCat(b, ": must be true or false"));
  }
  HttpResponse r;
  r.content_type = "application/json";
  r.SetHeader("X-Experience-API-Consistent-Through", NowRfc3339());

  bool by_id = false, by_voided = false;
  std::string id = req.Param("statementId", &by_id);
  std::string voided_id = req.Param("voidedStatementId", &by_voided);
  if (by_id || by_voided) {
    if (by_id && by_voided) return Error(400, "statementId and voidedStatementId are exclusive");
    for (const auto& [k, v] : req.params) {
      if (k != "statementId" && k != "voidedStatementId" && k != "format" && k != "attachments") {
        return Error(400, absl::StrCat(k, ": not allowed with a statement id"));
      }
    }
    absl::StatusOr<records::Uuid> uuid = ParseUuid(by_id ? id : voided_id);
    if (!uuid.ok())
      return Error(400, absl::StrCat(by_id ? "statementId: " : "voidedStatementId: ", uuid.status().message()));
    absl::StatusOr<StoredStatement> s = store_->Get(*uuid);
    if (!s.ok()) return FromStatus(s.status());
    if (!records::CheckStatementRead(grant, s->record, "statementId").ok()) {
      return Error(404, "no such statement");  // not the caller's: as if absent
    }
    bool voided = s->record.Has(RecordFlag::kVoided);
    if (by_id && voided) return Error(404, "statement is voided; use voidedStatementId");
    if (by_voided && !voided) return Error(404, "statement is not voided");
    r.body = Render(*s, format, AcceptLanguages(req.Header("accept-language")));
    r.SetHeader("Last-Modified", HttpDate(static_cast<int64_t>(s->record.stored_seq)));
    if (IsTrue(req.Param("attachments"))) r = WithAttachments(std::move(r), {&*s});
    if (head) r.body.clear();
    return r;
  }

  records::StatementQuery q;
  std::string agent_json = req.Param("agent");
  bool related_agents = IsTrue(req.Param("related_agents"));
  bool related_activities = IsTrue(req.Param("related_activities"));
  if (!agent_json.empty()) {
    absl::StatusOr<std::string> key = records::LearnerKeyFromAgentJson(agent_json, "agent");
    if (!key.ok()) return FromStatus(key.status());
    // A learner may read only statements filed under them (the actor or a
    // member), all in their learner index: related_agents finds no more for
    // them, and scanning every statement of the store instead (up to 20,000
    // a page) would let any learner spend the server's CPU at will.
    if (related_agents && grant.scope() != auth::Scope::kSelf) {
      // Wherever xAPI puts agents (RelatesToAgent): scan with a predicate,
      // which the store applies while it fills the page. (A match of the
      // identifier's text anywhere in the statement returned an account's
      // name inside longer names, under other homePages, and in free text.)
      q.extra_filter = [learner = *key](const StatementRecord& rec) { return RelatesToAgent(rec, learner); };
      q.extra_filter_id = absl::StrCat("related_agents:", *key);
    } else {
      q.learner = *key;
      // xAPI: the Agent or Group is "the Actor or Object". A learner may read
      // only statements filed under them (CheckStatementRead), so their query
      // stays on their learner index; a teacher's names one of their courses
      // (checked below), which the matches must be about.
      q.learner_as_object = grant.scope() == auth::Scope::kAny || grant.scope() == auth::Scope::kCourses;
    }
  }
  std::string verb = req.Param("verb");
  if (!verb.empty()) {
    if (!domain::IsAbsoluteIri(verb)) return Error(400, "verb: not an absolute IRI");
    q.verb = verb;
  }
  std::string activity = req.Param("activity");
  if (!activity.empty()) {
    if (!domain::IsAbsoluteIri(activity)) return Error(400, "activity: not an absolute IRI");
    // A teacher reads only statements about a course they run (and the query
    // names one, checked below): what that course's index holds. related_activities
    // would have them scan every statement of the store instead (up to
    // 20,000 a page), the CPU spent at will, as learners' related_agents did.
    if (related_activities && grant.scope() != auth::Scope::kCourses) {
      std::string needle = nlohmann::json(activity).dump();
      auto prev = q.extra_filter;
      q.extra_filter = [needle, prev](const StatementRecord& rec) {
        return rec.json.find(needle) != std::string::npos && (!prev || prev(rec));
      };
      q.extra_filter_id += absl::StrCat(";related_activities:", activity);
    } else {
      q.activity = activity;
    }
  }
  // Scope: a learner queries with agent=themself, a teacher with
  // activity=one of their courses.
  if (grant.scope() == auth::Scope::kCourses) {
    absl::Status ok = auth::CheckCourse(grant, vocab::CourseIdFromIri(activity), "activity");
    if (!ok.ok()) return FromStatus(ok);
  } else if (grant.scope() != auth::Scope::kAny) {
    absl::StatusOr<std::string> key = agent_json.empty() ? absl::StatusOr<std::string>(std::string())
                                                         : records::LearnerKeyFromAgentJson(agent_json, "agent");
    absl::Status ok = auth::CheckLearner(grant, key.ok() ? *key : std::string(), "agent");
    if (!ok.ok()) return FromStatus(ok);
  }
  std::string registration = req.Param("registration");
  if (!registration.empty()) {
    absl::StatusOr<records::Uuid> reg = ParseUuid(registration);
    if (!reg.ok()) return Error(400, absl::StrCat("registration: ", reg.status().message()));
    q.registration = *reg;
  }
  for (const char* t : {"since", "until"}) {
    std::string v = req.Param(t);
    if (v.empty()) continue;
    absl::StatusOr<int64_t> micros = domain::ParseTimestampMicros(v);
    if (!micros.ok()) return Error(400, absl::StrCat(t, ": ", micros.status().message()));
    (std::string(t) == "since" ? q.since_us : q.until_us) = *micros;
  }
  std::string limit = req.Param("limit");
  int n = 0;
  if (!limit.empty() && (!absl::SimpleAtoi(limit, &n) || n < 0)) {
    return Error(400, "limit: must be a non-negative integer");
  }
  q.page_size = (n == 0 || n > kMaxStatementsPerPage) ? kMaxStatementsPerPage : n;
  if (IsTrue(req.Param("attachments"))) q.page_size = std::min(q.page_size, kMaxStatementsPerPageWithAttachments);
  q.ascending = IsTrue(req.Param("ascending"));
  q.page_token = req.Param("more");
  // xAPI 2.1.3 "Filter Conditions for StatementRefs", for callers who may
  // read every statement. Statements referring to a learner's are filed in
  // that learner's index whoever wrote them: for a learner or a teacher they
  // would be dropped below (KeepReadable) after filling the page, so that
  // anyone could bury a learner's own statements under empty pages. What a
  // learner or teacher may read is found by their filters directly.
  q.include_references = grant.scope() == auth::Scope::kAny;

  if (q.extra_filter && grant.scope() != auth::Scope::kAny) {
    // Text filters match other people's statements too: skip them while
    // scanning, so that they do not fill the page (and are dropped below).
    q.extra_filter = [&grant, text = std::move(q.extra_filter)](const StatementRecord& rec) {
      return text(rec) && records::CheckStatementRead(grant, rec, "statement").ok();
    };
  }
  absl::StatusOr<records::StatementPage> page = store_->List(q);
  if (!page.ok()) return FromStatus(page.status());
  // The filters above may select statements the caller may not read (other
  // learners', other courses'): the same rule as a statement asked for by id.
  records::KeepReadable(grant, &*page);
  std::string body = "{\"statements\":[";
  std::vector<std::string> languages = AcceptLanguages(req.Header("accept-language"));
  for (size_t i = 0; i < page->statements.size(); ++i) {
    if (i) body.push_back(',');
    body.append(Render(page->statements[i], format, languages));
  }
  body.append("],\"more\":");
  if (page->next_page_token.empty()) {
    body.append("\"\"");
  } else {
    // The more link repeats the query, plus the signed position.
    std::vector<std::string> parts;
    for (const auto& [k, v] : req.params) {
      if (k == "more") continue;
      parts.push_back(absl::StrCat(k, "=", UrlEncode(v)));
    }
    parts.push_back(absl::StrCat("more=", page->next_page_token));
    body.append(nlohmann::json(absl::StrCat(base_path_, "/statements?", absl::StrJoin(parts, "&"))).dump());
  }
  body.append("}");
  if (!page->statements.empty()) {
    uint64_t latest = 0;
    for (const StoredStatement& s : page->statements) latest = std::max(latest, s.record.stored_seq);
    r.SetHeader("Last-Modified", HttpDate(static_cast<int64_t>(latest)));
  }
  r.body = std::move(body);
  if (IsTrue(req.Param("attachments"))) {
    std::vector<const StoredStatement*> statements;
    for (const StoredStatement& st : page->statements) statements.push_back(&st);
    r = WithAttachments(std::move(r), statements);
  }
  if (head) r.body.clear();
  return r;
}

}  // namespace lifelong::xapi
