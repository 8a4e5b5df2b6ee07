#include "services/xapi/document_store.h"

#include <openssl/sha.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "services/common/json_nesting.h"
#include "services/common/rocks_logger.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"
#include "services/xapi/column_families.h"

namespace lifelong::xapi {
namespace {

void PutStr(std::string* out, const std::string& s) {
  out->push_back(static_cast<char>(s.size() >> 8));
  out->push_back(static_cast<char>(s.size()));
  out->append(s);
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(k[p[i] >> 4]);
    out.push_back(k[p[i] & 15]);
  }
  return out;
}

std::string EncodeValue(const std::string& content_type, const std::string& content, int64_t now_us) {
  std::string v;
  v.push_back(1);
  for (int s = 56; s >= 0; s -= 8) v.push_back(static_cast<char>(static_cast<uint64_t>(now_us) >> s));
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(content.data()), content.size(), sha);
  v.append(reinterpret_cast<char*>(sha), sizeof(sha));
  PutStr(&v, content_type);
  v.append(content);
  return v;
}

absl::StatusOr<Document> DecodeValue(const std::string& v) {
  if (v.size() < 31 || v[0] != 1) return absl::InternalError("corrupt document");
  Document d;
  uint64_t t = 0;
  for (int i = 1; i <= 8; ++i) t = (t << 8) | static_cast<uint8_t>(v[i]);
  d.updated_us = static_cast<int64_t>(t);
  d.etag = Hex(reinterpret_cast<const unsigned char*>(v.data() + 9), 20);
  size_t ct_len = (static_cast<uint8_t>(v[29]) << 8) | static_cast<uint8_t>(v[30]);
  if (v.size() < 31 + ct_len) return absl::InternalError("corrupt document");
  d.content_type = v.substr(31, ct_len);
  d.content = v.substr(31 + ct_len);
  return d;
}

bool IsJson(const std::string& content_type) { return content_type.rfind("application/json", 0) == 0; }

// Key strings and the content type are stored with 16-bit lengths (PutStr):
// a longer one would wrap its length and alias another key or shift the
// learner that erasure reads. The HTTP layer keeps them far shorter (URL and
// form limits); this refuses the rest (INVALID_ARGUMENT naming the field).
absl::Status CheckLengths(const DocKey& key, const std::string& content_type) {
  const std::pair<const char*, const std::string*> fields[] = {
      {"activityId", &key.activity}, {"agent", &key.learner}, {"registration", &key.registration}, {"id", &key.id}};
  for (const auto& [name, value] : fields) {
    if (value->size() > kMaxDocKeyField) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": longer than ", kMaxDocKeyField, " bytes"));
    }
  }
  if (content_type.size() > kMaxDocContentType) {
    return absl::InvalidArgumentError(absl::StrCat("Content-Type: longer than ", kMaxDocContentType, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeDocKey(const DocKey& key, bool prefix) {
  std::string out;
  out.push_back(static_cast<char>(key.kind));
  switch (key.kind) {
    case DocKind::kState:
      PutStr(&out, key.activity);
      PutStr(&out, key.learner);
      if (prefix && key.registration.empty() && key.id.empty()) return out;  // all registrations
      PutStr(&out, key.registration);
      break;
    case DocKind::kActivityProfile:
      PutStr(&out, key.activity);
      break;
    case DocKind::kAgentProfile:
    case DocKind::kLearnerAttachment:
      PutStr(&out, key.learner);
      break;
    case DocKind::kAttachment:
      break;
  }
  if (prefix) return out;
  PutStr(&out, key.id);
  return out;
}

absl::StatusOr<std::unique_ptr<DocumentStore>> DocumentStore::Open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_background_jobs = 1;
  // RocksDB's info log goes to the service log, not a LOG file on the data
  // disk (services/common/rocks_logger.h: a full disk would abort the process).
  options.info_log = NewStructuredRocksLogger("xapi_documents");
  // A family this version does not know means a newer version wrote the
  // database: refuse rather than ignore its data.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(options, path, &existing).ok()) {
    const std::vector<std::string> unknown = storage::UnknownColumnFamilies(kColumnFamilies, existing);
    if (!unknown.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("document store at ", path, " has unknown column family '",
                                                        unknown.front(), "' (written by a newer version?)"));
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const ColumnFamilySpec& spec : kColumnFamilies) descriptors.emplace_back(spec.name, options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open document store at ", path));
  // Only the default family: the DB's own default handle serves every call.
  for (rocksdb::ColumnFamilyHandle* h : handles) raw->DestroyColumnFamilyHandle(h);
  std::unique_ptr<DocumentStore> store(new DocumentStore());
  store->owned_.reset(raw);
  store->db_ = raw;
  store->cf_ = raw->DefaultColumnFamily();
  return store;
}

std::unique_ptr<DocumentStore> DocumentStore::InDatabase(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family) {
  std::unique_ptr<DocumentStore> store(new DocumentStore());
  store->db_ = db;
  store->cf_ = family;
  return store;
}

DocumentStore::~DocumentStore() {
  if (owned_) owned_->Close();
}

absl::StatusOr<Document> DocumentStore::Get(const DocKey& key) const {
  LL_RETURN_IF_ERROR(CheckLengths(key, ""));
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, EncodeDocKey(key, false), &v);
  if (s.IsNotFound()) return absl::NotFoundError("document not found");
  if (!s.ok()) return FromRocks(s, "document store: read document");
  return DecodeValue(v);
}

absl::StatusOr<std::vector<std::string>> DocumentStore::ListIds(const DocKey& key,
                                                                std::optional<int64_t> since_us) const {
  LL_RETURN_IF_ERROR(CheckLengths(key, ""));
  DocKey k = key;
  k.id.clear();
  std::string prefix = EncodeDocKey(k, true);
  std::vector<std::string> ids;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string rest = it->key().ToString().substr(prefix.size());
    if (key.kind == DocKind::kState && key.registration.empty()) {
      // Only documents without a registration when none was given.
      if (rest.size() < 2 || rest[0] != 0 || rest[1] != 0) continue;
      rest = rest.substr(2);
    }
    if (rest.size() < 2) continue;
    absl::StatusOr<Document> d = DecodeValue(it->value().ToString());
    if (!d.ok()) return d.status();
    if (since_us && d->updated_us <= *since_us) continue;
    ids.push_back(rest.substr(2));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "document store: list documents");
  return ids;
}

absl::StatusOr<std::optional<Document>> DocumentStore::Existing(const DocKey& key) const {
  absl::StatusOr<Document> cur = Get(key);
  if (cur.ok()) return std::optional<Document>(std::move(*cur));
  if (cur.status().code() == absl::StatusCode::kNotFound) return std::optional<Document>();
  return cur.status();
}

absl::Status DocumentStore::CheckCondition(const std::optional<Document>& existing, const WriteCondition& cond) const {
  if (cond.if_match) {
    if (!existing) return absl::FailedPreconditionError("If-Match: no such document");
    if (*cond.if_match != "*" && *cond.if_match != existing->etag) {
      return absl::FailedPreconditionError("If-Match: the document has changed");
    }
  }
  if (cond.if_none_match_star && existing) {
    return absl::FailedPreconditionError("If-None-Match: the document already exists");
  }
  if (cond.missing_condition_is_invalid && !existing && !cond.if_match && !cond.if_none_match_star) {
    return absl::InvalidArgumentError("If-Match or If-None-Match is required for this document");
  }
  if (cond.require_condition_if_exists && existing && !cond.if_match && !cond.if_none_match_star) {
    return absl::AlreadyExistsError(
        "the document exists: send If-Match with its ETag (or If-None-Match: *) to overwrite it");
  }
  return absl::OkStatus();
}

absl::Status CheckJsonDocumentDepth(absl::string_view json, int max_depth) {
  if (JsonNestsDeeperThan(json, max_depth)) {
    return absl::InvalidArgumentError(
        absl::StrCat("document: arrays and objects nested more than ", max_depth, " deep"));
  }
  return absl::OkStatus();
}

absl::Status DocumentStore::Put(const DocKey& key, const std::string& content_type, const std::string& content,
                                const WriteCondition& cond, int64_t now_us) {
  LL_RETURN_IF_ERROR(CheckLengths(key, content_type));
  if (key.kind != DocKind::kAttachment && key.kind != DocKind::kLearnerAttachment && IsJson(content_type)) {
    LL_RETURN_IF_ERROR(CheckJsonDocumentDepth(content));
  }
  DocWrite w{DocAction::kPut, key, content_type, content, cond, now_us};
  if (log_ != nullptr) return log_->ProposeDocument(w);
  return WriteHere(w);
}

absl::Status DocumentStore::Merge(const DocKey& key, const std::string& content_type, const std::string& content,
                                  const WriteCondition& cond, int64_t now_us) {
  LL_RETURN_IF_ERROR(CheckLengths(key, content_type));
  LL_RETURN_IF_ERROR(CheckJsonDocumentDepth(content));
  DocWrite w{DocAction::kMerge, key, content_type, content, cond, now_us};
  if (log_ != nullptr) return log_->ProposeDocument(w);
  return WriteHere(w);
}

absl::Status DocumentStore::Delete(const DocKey& key, const WriteCondition& cond) {
  LL_RETURN_IF_ERROR(CheckLengths(key, ""));
  // Checked here, not in Prepare: a logged write is applied as it was
  // accepted.
  if (key.id.empty() && (cond.if_match || cond.if_none_match_star)) {
    return absl::InvalidArgumentError("a write condition (ETag) applies to one document: the key needs an id");
  }
  DocWrite w{DocAction::kDelete, key, "", "", cond, 0};
  if (log_ != nullptr) return log_->ProposeDocument(w);
  return WriteHere(w);
}

absl::Status DocumentStore::Apply(const DocWrite& w, rocksdb::WriteBatch* batch) {
  absl::MutexLock lock(&write_mu_);
  return Prepare(w, batch);
}

absl::Status DocumentStore::WriteHere(const DocWrite& w) {
  absl::MutexLock lock(&write_mu_);
  rocksdb::WriteBatch batch;
  LL_RETURN_IF_ERROR(Prepare(w, &batch));
  if (batch.Count() == 0) return absl::OkStatus();
  if (before_write_for_test_) before_write_for_test_();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Write(wo, &batch), "document store: write document");
}

absl::Status DocumentStore::Prepare(const DocWrite& w, rocksdb::WriteBatch* batch) const {
  const DocKey& key = w.key;
  auto put = [&](const std::string& content_type, const std::string& content) {
    return FromRocks(batch->Put(cf_, EncodeDocKey(key, false), EncodeValue(content_type, content, w.now_us)),
                     "document store: write document");
  };
  switch (w.action) {
    case DocAction::kPut: {
      LL_ASSIGN_OR_RETURN(std::optional<Document> existing, Existing(key));
      LL_RETURN_IF_ERROR(CheckCondition(existing, w.cond));
      return put(w.content_type, w.content);
    }
    case DocAction::kMerge: {
      LL_ASSIGN_OR_RETURN(std::optional<Document> existing, Existing(key));
      WriteCondition c2 = w.cond;
      c2.require_condition_if_exists = false;  // POST merges; no 409
      c2.missing_condition_is_invalid = false;
      LL_RETURN_IF_ERROR(CheckCondition(existing, c2));
      if (!existing) return put(w.content_type, w.content);
      if (!IsJson(existing->content_type) || !IsJson(w.content_type)) {
        return absl::InvalidArgumentError("POST merges JSON documents only (application/json on both)");
      }
      // Also here, where the log applies: a stored document or a logged write
      // from before the limit.
      LL_RETURN_IF_ERROR(CheckJsonDocumentDepth(existing->content));
      LL_RETURN_IF_ERROR(CheckJsonDocumentDepth(w.content));
      nlohmann::ordered_json a = nlohmann::ordered_json::parse(existing->content, nullptr, false);
      nlohmann::ordered_json b = nlohmann::ordered_json::parse(w.content, nullptr, false);
      if (!a.is_object() || !b.is_object()) {
        return absl::InvalidArgumentError("POST merges JSON objects only");
      }
      for (auto it = b.begin(); it != b.end(); ++it) a[it.key()] = it.value();
      return put("application/json", a.dump());
    }
    case DocAction::kDelete: {
      if (!key.id.empty()) {
        LL_ASSIGN_OR_RETURN(std::optional<Document> existing, Existing(key));
        WriteCondition c2 = w.cond;
        c2.require_condition_if_exists = false;
        c2.missing_condition_is_invalid = false;
        LL_RETURN_IF_ERROR(CheckCondition(existing, c2));
        return FromRocks(batch->Delete(cf_, EncodeDocKey(key, false)), "document store: delete document");
      }
      std::string prefix = EncodeDocKey(key, true);
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        LL_RETURN_IF_ERROR(FromRocks(batch->Delete(cf_, it->key()), "document store: delete documents"));
      }
      return FromRocks(it->status(), "document store: scan documents");
    }
  }
  return absl::InvalidArgumentError("document write: unknown action");
}

absl::StatusOr<int64_t> DocumentStore::EraseLearner(const std::string& learner) {
  absl::MutexLock lock(&write_mu_);
  rocksdb::WriteBatch batch;
  LL_ASSIGN_OR_RETURN(int64_t n, EraseLearnerInto(learner, &batch));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  LL_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "document store: erase learner"));
  return n;
}

absl::StatusOr<int64_t> DocumentStore::EraseLearnerInto(const std::string& learner, rocksdb::WriteBatch* batch) const {
  // Agent profiles and the learner's attachments are keyed by learner;
  // states have the learner second, so they are found by a scan of the state
  // range.
  int64_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  for (DocKind kind : {DocKind::kAgentProfile, DocKind::kLearnerAttachment}) {
    std::string prefix = EncodeDocKey(DocKey{kind, "", learner, "", ""}, true);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      LL_RETURN_IF_ERROR(FromRocks(batch->Delete(cf_, it->key()), "document store: erase learner"));
      ++n;
    }
  }
  std::string state_start(1, static_cast<char>(DocKind::kState));
  std::string needle;
  PutStr(&needle, learner);
  for (it->Seek(state_start); it->Valid() && it->key().starts_with(state_start); it->Next()) {
    std::string k = it->key().ToString();
    if (k.size() < 3) continue;
    size_t act_len = (static_cast<uint8_t>(k[1]) << 8) | static_cast<uint8_t>(k[2]);
    if (k.compare(3 + act_len, needle.size(), needle) == 0) {
      LL_RETURN_IF_ERROR(FromRocks(batch->Delete(cf_, it->key()), "document store: erase learner"));
      ++n;
    }
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "document store: scan documents"));
  return n;
}

absl::Status DocumentStore::ForEachLearner(const std::function<void(const std::string&)>& fn) const {
  auto str_at = [](absl::string_view k, size_t pos, std::string* out) -> std::optional<size_t> {
    if (k.size() < pos + 2) return std::nullopt;
    size_t len = (static_cast<uint8_t>(k[pos]) << 8) | static_cast<uint8_t>(k[pos + 1]);
    if (k.size() < pos + 2 + len) return std::nullopt;
    *out = std::string(k.substr(pos + 2, len));
    return pos + 2 + len;
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::string_view k(it->key().data(), it->key().size());
    if (k.empty()) continue;
    std::string activity, learner;
    if (k[0] == static_cast<char>(DocKind::kState)) {
      std::optional<size_t> next = str_at(k, 1, &activity);
      if (next && str_at(k, *next, &learner)) fn(learner);
    } else if (k[0] == static_cast<char>(DocKind::kAgentProfile) ||
               k[0] == static_cast<char>(DocKind::kLearnerAttachment)) {
      if (str_at(k, 1, &learner)) fn(learner);
    }
  }
  return FromRocks(it->status(), "document store: scan documents");
}

absl::StatusOr<int64_t> DocumentStore::ImportFrom(const DocumentStore& from) {
  absl::MutexLock lock(&write_mu_);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  int64_t n = 0;
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(from.db_->NewIterator(rocksdb::ReadOptions(), from.cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    LL_RETURN_IF_ERROR(FromRocks(batch.Put(cf_, it->key(), it->value()), "document store: import"));
    ++n;
    if (batch.Count() >= 1000) {
      LL_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "document store: import"));
      batch.Clear();
    }
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "document store: read documents to import"));
  if (batch.Count() > 0) LL_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "document store: import"));
  return n;
}

}  // namespace lifelong::xapi
