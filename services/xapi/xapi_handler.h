// The xAPI 2.0 / 1.0.3 Learning Record Store resources over the record store:
// statements (PUT, POST, GET, HEAD: single, batch, query), about, and HTTP
// Basic authentication. The same RecordStore serves the gRPC API, so a
// statement written through one is read through the other.
//
// Works on library-neutral HttpRequest/HttpResponse values; the socket side
// lives in xapi_http_server.h. Thread-safe; owns nothing.
//
// Handle() runs every request through one pipeline — alternate syntax, size
// limit, the dispatch table (one row per resource: statements, state,
// activity profile, agent profile, agents, activities, about), then
// authentication, authorization, version, the resource's handler and the
// audit row — in xapi_handler.cc; the statements resource is in
// xapi_statements.cc, the document resources in xapi_documents.cc.
#ifndef LIFELONG_SERVICES_XAPI_XAPI_HANDLER_H_
#define LIFELONG_SERVICES_XAPI_XAPI_HANDLER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "services/auth/authorizer.h"
#include "services/records/audit_log.h"
#include "services/records/record_store.h"
#include "services/records/statement_access.h"
#include "services/xapi/credentials.h"
#include "services/xapi/document_store.h"
#include "services/xapi/http_types.h"
#include "services/xapi/multipart.h"

namespace lifelong::xapi {

// Most statements one GET returns; `limit=0` means this.
inline constexpr int kMaxStatementsPerPage = 500;
// Most statements one GET with attachments=true returns: each statement's
// attachments came with it in one request of at most kMaxBodyBytes, so a
// page holds at most 10 x 16 MiB of them (500 such statements were 8 GiB,
// built in memory for one response).
inline constexpr int kMaxStatementsPerPageWithAttachments = 10;
// Largest request body accepted (413 above).
inline constexpr size_t kMaxBodyBytes = 16 << 20;
// Statements one POST may carry, as gRPC RecordStatements
// (records::kMaxBatchStatements): 16 MiB of small statements would otherwise
// be some 100,000 statements in one write.
inline constexpr size_t kMaxStatementsPerPost = 1000;

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(absl::string_view s);

// Rewrites an xAPI 1.0.3 alternate-syntax request (POST ?method=X with a form
// body) into the request it stands for. INVALID_ARGUMENT when malformed.
absl::StatusOr<HttpRequest> RewriteAlternateSyntax(const HttpRequest& request);

class XapiHandler {
 public:
  // `base_path`: the prefix of every resource, e.g. "/xapi" (used to build
  // `more` links). `credentials` may not be null.
  // `documents` holds State / Activity Profile / Agent Profile documents.
  // `default_version` ("2.0.0" or "1.0.3") is reported on responses to
  // requests that name no version (which are rejected).
  //
  // Authorization: Basic credentials map to principals (credentials.h);
  // with `authorizer` enabled, Bearer tokens are accepted too and every
  // resource is checked against the role table (auth/permissions.h).
  // `authorizer` may be null (Basic credentials only, every user trusted).
  //
  // Audit (with `authorizer` enabled): the rows go to `audit`, the record
  // service's AuditLog when both serve one store (records_server.h); null:
  // an AuditLog of the handler's own over `store`. Not owned.
  XapiHandler(records::RecordStore* store, DocumentStore* documents, const Credentials* credentials,
              std::string base_path, std::string default_version = "2.0.0", auth::Authorizer* authorizer = nullptr,
              records::AuditLog* audit = nullptr);
  ~XapiHandler();

  // Reads of learner data (GET and HEAD of statements, state, agent
  // profiles and agents) are answered 503 with Retry-After while `gate`
  // says this node's store may be stale, except to an operator who sends
  // the header X-Lifelong-Stale-Reads: allow (statement_access.h). Unset:
  // always served. Call before the first request.
  void SetReadGate(records::ReadGate gate) { read_gate_ = std::move(gate); }

  // Answers one request. Never throws; unexpected failures are 500.
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  // One row of the dispatch table (xapi_handler.cc): a resource path, how it
  // is named in the role table and audited, and its handler.
  struct Resource;
  // The row of `path`; null for a path that is no xAPI resource.
  static const Resource* FindResource(absl::string_view path);
  // The caller of `request`: Basic credentials, or (with authentication on)
  // a bearer token. UNAUTHENTICATED, or RESOURCE_EXHAUSTED while the client
  // address is backing off after wrong passwords or invalid tokens.
  absl::StatusOr<auth::Principal> Authenticate(const HttpRequest& request) const;
  // With authentication on: appends the audit row of `who` calling
  // `operation` and getting `response` (the learner is taken from `agent`,
  // xAPI Agent JSON, when it names one). Write failures are logged.
  void Audit(const auth::Principal& who, const std::string& operation, const HttpResponse& response,
             absl::string_view agent, absl::string_view detail) const;

  // The resources, one handler each (the rows of the dispatch table).
  static HttpResponse About(const HttpRequest& request);
  // xapi_statements.cc.
  HttpResponse Statements(const auth::AccessGrant& grant, const HttpRequest& request) const;
  // xapi_documents.cc.
  HttpResponse State(const auth::AccessGrant& grant, const HttpRequest& request) const;
  HttpResponse ActivityProfile(const auth::AccessGrant& grant, const HttpRequest& request) const;
  HttpResponse AgentProfile(const auth::AccessGrant& grant, const HttpRequest& request) const;
  HttpResponse Agents(const auth::AccessGrant& grant, const HttpRequest& request) const;
  // Public activity metadata: the grant only admitted the caller.
  HttpResponse Activities(const auth::AccessGrant& grant, const HttpRequest& request) const;

  // Statements by method (xapi_statements.cc).
  HttpResponse PutStatement(const auth::AccessGrant& grant, const HttpRequest& request) const;
  HttpResponse PostStatements(const auth::AccessGrant& grant, const HttpRequest& request) const;
  HttpResponse GetStatements(const auth::AccessGrant& grant, const HttpRequest& request, bool head) const;
  // Stores each part of `carried` (statement index, sha: CheckAttachments)
  // under the (first) learner of that statement and the statement's id
  // (DocKind::kLearnerAttachment, id "<statement id>/<sha2>"): a learner's
  // erasure removes them, and no other statement naming the same hash reads
  // them. RESOURCE_EXHAUSTED (413), with nothing stored, when the copies
  // would hold more than kMaxBodyBytes in all. A document stored before (by
  // the statement holding that id) is left as it is; the keys of those this
  // call stores are appended to `created`, also when it fails midway.
  absl::Status SaveAttachments(const std::map<std::string, MultipartPart>& parts,
                               const std::vector<std::pair<size_t, std::string>>& carried,
                               const std::vector<records::ParsedStatement>& statements,
                               std::vector<DocKey>* created) const;
  // Deletes the attachment documents `created` (SaveAttachments) after the
  // write they came with failed with `why`. Best effort: a failed delete is
  // logged (xapi_attachment_discard_failed).
  void DiscardAttachments(const std::vector<DocKey>& created, const absl::Status& why) const;
  // SaveAttachments, then RecordStore::Record; its outcome. When the saves
  // fail, or the write is refused for good (not UNAVAILABLE or a deadline: a
  // replicated write may still be applied), the attachments this call stored
  // are discarded again, but for those of a statement id stored meanwhile.
  absl::StatusOr<std::vector<records::StoredStatement>> RecordWithAttachments(
      const std::map<std::string, MultipartPart>& parts, const std::vector<std::pair<size_t, std::string>>& carried,
      std::vector<records::ParsedStatement> statements) const;
  // Turns a JSON response into multipart/mixed with the attachments of
  // `statements` after it: the bytes sent as parts with each statement (and
  // bytes stored by earlier versions, under the learner and hash or the hash
  // alone, only for the statement they were sent with: stored within a
  // minute after them). Naming a hash without sending its part reads nothing.
  HttpResponse WithAttachments(HttpResponse r, const std::vector<const records::StoredStatement*>& statements) const;
  // The three document resources (xapi_documents.cc).
  HttpResponse Documents(const auth::AccessGrant& grant, const HttpRequest& request, DocKind kind) const;

  records::RecordStore* store_;
  auth::Authorizer* authorizer_;
  std::unique_ptr<records::AuditLog> own_audit_;  // when none was given
  records::AuditLog* audit_;
  DocumentStore* documents_;
  const Credentials* credentials_;
  std::string base_path_;
  std::string default_version_;
  records::ReadGate read_gate_;  // SetReadGate; unset: always served
};

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_XAPI_HANDLER_H_
