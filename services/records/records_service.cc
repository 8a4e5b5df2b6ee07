#include "services/records/records_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/status_util.h"
#include "services/common/vocabulary.h"
#include "services/records/transcript.h"

namespace lifelong::records {
namespace {

void SetTimestamp(int64_t micros, google::protobuf::Timestamp* ts) {
  int64_t secs = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    secs -= 1;
  }
  ts->set_seconds(secs);
  ts->set_nanos(static_cast<int32_t>(rem * 1000));
}

// Proto timestamps in requests: valid range is that of RFC 3339 (years 1-9999).
absl::StatusOr<int64_t> TimestampMicros(const google::protobuf::Timestamp& ts, absl::string_view field) {
  constexpr int64_t kMin = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  if (ts.seconds() < kMin || ts.seconds() > kMax || ts.nanos() < 0 || ts.nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": timestamp out of range"));
  }
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

absl::StatusOr<ParsedStatement> ParseAt(const std::string& json, absl::string_view prefix) {
  absl::StatusOr<ParsedStatement> p = ParseStatement(json);
  if (!p.ok() && !prefix.empty()) {
    return absl::Status(p.status().code(), absl::StrCat(prefix, ": ", p.status().message()));
  }
  return p;
}

// Streams the statements a store scan yields to `writer`, stopping when the
// client cancels or goes away.
template <typename Scan>
grpc::Status StreamStatements(grpc::ServerContext* ctx, grpc::ServerWriter<v1::Statement>* writer, bool with_json,
                              Scan scan) {
  bool cancelled = false;
  v1::Statement out;
  std::function<bool(const StoredStatement&)> fn = [&](const StoredStatement& st) {
    if (ctx->IsCancelled()) {
      cancelled = true;
      return false;
    }
    out.Clear();
    ToProto(st, &out, with_json);
    return writer->Write(out);
  };
  absl::Status s = scan(fn);
  if (cancelled) return grpc::Status(grpc::StatusCode::CANCELLED, "export cancelled by the client");
  return ToGrpcStatus(s);
}

absl::StatusOr<std::string> LearnerFrom(const std::string& key) {
  return CanonicalLearnerKey(key, "learner");
}

}  // namespace

void ToProto(const StoredStatement& s, v1::Statement* out, bool with_json) {
  const StatementRecord& r = s.record;
  if (with_json) out->set_json(r.json);
  out->set_id(FormatUuid(s.id));
  if (!r.learners.empty()) out->set_learner(r.learners.front());
  out->set_verb(r.verb);
  out->set_activity(r.activity);
  SetTimestamp(static_cast<int64_t>(r.stored_seq), out->mutable_stored());
  SetTimestamp(r.timestamp_us, out->mutable_timestamp());
  out->set_voided(r.Has(RecordFlag::kVoided));
  out->set_cursor(absl::StrCat(r.stored_seq));
}

grpc::Status RecordsService::RecordStatement(grpc::ServerContext*, const v1::RecordStatementRequest* req,
                                             v1::Statement* resp) {
  return RecordOne(req->statement_json(), resp);
}

grpc::Status RecordsService::RecordOne(const std::string& json, v1::Statement* resp) {
  absl::StatusOr<ParsedStatement> p = ParseStatement(json);
  if (!p.ok()) return ToGrpcStatus(p.status());
  std::vector<ParsedStatement> batch;
  batch.push_back(std::move(*p));
  absl::StatusOr<std::vector<StoredStatement>> stored = store_->Record(std::move(batch));
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  ToProto(stored->front(), resp);
  return grpc::Status::OK;
}

grpc::Status RecordsService::RecordStatements(grpc::ServerContext*, const v1::RecordStatementsRequest* req,
                                              v1::RecordStatementsResponse* resp) {
  if (req->statement_json_size() == 0) {
    return ToGrpcStatus(absl::InvalidArgumentError("statement_json: at least one statement is required"));
  }
  if (req->statement_json_size() > kMaxBatchStatements) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("statement_json: at most ", kMaxBatchStatements, " statements per batch")));
  }
  std::vector<ParsedStatement> batch;
  batch.reserve(req->statement_json_size());
  for (int i = 0; i < req->statement_json_size(); ++i) {
    absl::StatusOr<ParsedStatement> p = ParseAt(req->statement_json(i), absl::StrCat("statement_json[", i, "]"));
    if (!p.ok()) return ToGrpcStatus(p.status());
    batch.push_back(std::move(*p));
  }
  absl::StatusOr<std::vector<StoredStatement>> stored = store_->Record(std::move(batch));
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  bool full = req->view() == v1::STATEMENT_VIEW_FULL;
  for (const StoredStatement& s : *stored) {
    v1::Statement* out = resp->add_statements();
    ToProto(s, out);
    if (!full) out->clear_json();
  }
  return grpc::Status::OK;
}

grpc::Status RecordsService::GetStatement(grpc::ServerContext*, const v1::GetStatementRequest* req,
                                          v1::Statement* resp) {
  absl::StatusOr<Uuid> id = ParseUuid(req->id());
  if (!id.ok()) return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("id: ", id.status().message())));
  absl::StatusOr<StoredStatement> s = store_->Get(*id);
  if (!s.ok()) return ToGrpcStatus(s.status());
  ToProto(*s, resp);
  return grpc::Status::OK;
}

grpc::Status RecordsService::ListStatements(grpc::ServerContext*, const v1::ListStatementsRequest* req,
                                            v1::ListStatementsResponse* resp) {
  StatementQuery q;
  if (!req->learner().empty()) {
    absl::StatusOr<std::string> l = LearnerFrom(req->learner());
    if (!l.ok()) return ToGrpcStatus(l.status());
    q.learner = *l;
  }
  if (!req->verb().empty()) {
    if (!IsAbsoluteIri(req->verb())) return ToGrpcStatus(absl::InvalidArgumentError("verb: not an absolute IRI"));
    q.verb = req->verb();
  }
  if (!req->activity().empty()) {
    if (!IsAbsoluteIri(req->activity())) {
      return ToGrpcStatus(absl::InvalidArgumentError("activity: not an absolute IRI"));
    }
    q.activity = req->activity();
  }
  if (!req->registration().empty()) {
    absl::StatusOr<Uuid> r = ParseUuid(req->registration());
    if (!r.ok()) return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("registration: ", r.status().message())));
    q.registration = *r;
  }
  if (req->has_since()) {
    absl::StatusOr<int64_t> t = TimestampMicros(req->since(), "since");
    if (!t.ok()) return ToGrpcStatus(t.status());
    q.since_us = *t;
  }
  if (req->has_until()) {
    absl::StatusOr<int64_t> t = TimestampMicros(req->until(), "until");
    if (!t.ok()) return ToGrpcStatus(t.status());
    q.until_us = *t;
  }
  q.ascending = req->ascending();
  q.page_size = req->page_size() == 0 ? 50 : req->page_size();
  q.page_token = req->page_token();
  absl::StatusOr<StatementPage> page = store_->List(q);
  if (!page.ok()) return ToGrpcStatus(page.status());
  const bool basic = req->view() == v1::STATEMENT_VIEW_BASIC;
  for (const StoredStatement& s : page->statements) ToProto(s, resp->add_statements(), !basic);
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status RecordsService::VoidStatement(grpc::ServerContext*, const v1::VoidStatementRequest* req,
                                           v1::Statement* resp) {
  absl::StatusOr<Uuid> id = ParseUuid(req->id());
  if (!id.ok()) return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("id: ", id.status().message())));
  absl::StatusOr<StoredStatement> target = store_->Get(*id);
  if (!target.ok()) return ToGrpcStatus(target.status());
  if (target->record.Has(RecordFlag::kVoiding)) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("id: ", req->id(), " is a voiding statement, which cannot be voided")));
  }
  nlohmann::ordered_json actor;
  if (req->actor().empty()) {
    actor = {{"objectType", "Agent"},
             {"account", {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", "district-operator"}}}};
  } else {
    absl::StatusOr<std::string> key = CanonicalLearnerKey(req->actor(), "actor");
    if (!key.ok()) return ToGrpcStatus(key.status());
    const std::string& k = *key;
    actor = {{"objectType", "Agent"}};
    if (k.rfind("mailto:", 0) == 0) {
      actor["mbox"] = k;
    } else if (k.rfind("sha1:", 0) == 0) {
      actor["mbox_sha1sum"] = k.substr(5);
    } else if (k.rfind("openid:", 0) == 0) {
      actor["openid"] = k.substr(7);
    } else if (k.rfind("account:", 0) == 0) {
      size_t bar = k.rfind('|');
      actor["account"] = {{"homePage", k.substr(8, bar - 8)}, {"name", k.substr(bar + 1)}};
    } else {
      actor["account"] = {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", k}};
    }
  }
  nlohmann::ordered_json voiding = {
      {"actor", actor},
      {"verb", {{"id", std::string(vocab::kVoided)}, {"display", {{"en-US", "voided"}, {"zh-CN", "作废"}}}}},
      {"object", {{"objectType", "StatementRef"}, {"id", FormatUuid(*id)}}}};
  return RecordOne(voiding.dump(), resp);
}

grpc::Status RecordsService::GetTranscript(grpc::ServerContext*, const v1::GetTranscriptRequest* req,
                                           v1::Transcript* resp) {
  absl::StatusOr<std::string> learner = LearnerFrom(req->learner());
  if (!learner.ok()) return ToGrpcStatus(learner.status());
  std::vector<StoredStatement> all;
  absl::Status s = store_->ForEachOfLearner(*learner, [&](const StoredStatement& st) {
    all.push_back(st);
    return true;
  });
  if (!s.ok()) return ToGrpcStatus(s);
  TranscriptData t = BuildTranscript(all);
  resp->set_learner(*learner);
  for (const TranscriptLine& l : t.lines) {
    v1::TranscriptEntry* e = resp->add_entries();
    e->set_activity(l.activity);
    e->set_title(l.title);
    e->set_outcome(l.outcome);
    SetTimestamp(l.achieved_us, e->mutable_achieved());
    e->set_hours(l.hours);
    e->set_credits(l.credits);
    e->set_mode(l.mode);
    e->set_xuequ(l.xuequ);
    e->set_statement_id(l.statement_id);
  }
  resp->set_courses(t.total.courses);
  resp->set_hours(t.total.hours);
  resp->set_credits(t.total.credits);
  auto fill = [](const std::map<std::string, TranscriptTotals>& m,
                 google::protobuf::RepeatedPtrField<v1::TranscriptTotal>* out) {
    for (const auto& [key, tot] : m) {
      v1::TranscriptTotal* x = out->Add();
      x->set_key(key);
      x->set_courses(tot.courses);
      x->set_hours(tot.hours);
      x->set_credits(tot.credits);
    }
  };
  fill(t.by_mode, resp->mutable_by_mode());
  fill(t.by_xuequ, resp->mutable_by_xuequ());
  return grpc::Status::OK;
}

grpc::Status RecordsService::ExportLearner(grpc::ServerContext* ctx, const v1::ExportLearnerRequest* req,
                                           grpc::ServerWriter<v1::Statement>* writer) {
  absl::StatusOr<std::string> learner = LearnerFrom(req->learner());
  if (!learner.ok()) return ToGrpcStatus(learner.status());
  return StreamStatements(ctx, writer, /*with_json=*/true, [&](const auto& fn) {
    return store_->ForEachOfLearner(*learner, fn);
  });
}

grpc::Status RecordsService::EraseLearner(grpc::ServerContext*, const v1::EraseLearnerRequest* req,
                                          v1::EraseLearnerResponse* resp) {
  absl::StatusOr<std::string> learner = LearnerFrom(req->learner());
  if (!learner.ok()) return ToGrpcStatus(learner.status());
  absl::StatusOr<int64_t> n = store_->EraseLearner(*learner);
  if (!n.ok()) return ToGrpcStatus(n.status());
  resp->set_erased_statements(*n);
  return grpc::Status::OK;
}

grpc::Status RecordsService::ExportStatements(grpc::ServerContext* ctx, const v1::ExportStatementsRequest* req,
                                              grpc::ServerWriter<v1::Statement>* writer) {
  uint64_t after = 0;
  if (!req->after_cursor().empty() && !absl::SimpleAtoi(req->after_cursor(), &after)) {
    return ToGrpcStatus(absl::InvalidArgumentError("after_cursor: not a cursor returned by this service"));
  }
  if (req->limit() < 0) return ToGrpcStatus(absl::InvalidArgumentError("limit: must not be negative"));
  return StreamStatements(ctx, writer, req->view() != v1::STATEMENT_VIEW_BASIC, [&](const auto& fn) {
    return store_->ForEachAfter(after, req->limit(), fn);
  });
}

grpc::Status RecordsService::Echo(grpc::ServerContext*, const v1::EchoRequest* req, v1::EchoResponse* resp) {
  resp->set_payload(req->payload());
  return grpc::Status::OK;
}

}  // namespace lifelong::records
