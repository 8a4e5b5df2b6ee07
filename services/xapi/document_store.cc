#include "services/xapi/document_store.h"

#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "services/common/rocks_status.h"
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

bool IsJson(const std::string& content_type) {
  return content_type.rfind("application/json", 0) == 0;
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
  store->db_.reset(raw);
  return store;
}

DocumentStore::~DocumentStore() {
  if (db_) db_->Close();
}

absl::StatusOr<Document> DocumentStore::Get(const DocKey& key) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), EncodeDocKey(key, false), &v);
  if (s.IsNotFound()) return absl::NotFoundError("document not found");
  if (!s.ok()) return FromRocks(s, "document store: read document");
  return DecodeValue(v);
}

absl::StatusOr<std::vector<std::string>> DocumentStore::ListIds(const DocKey& key,
                                                                std::optional<int64_t> since_us) const {
  DocKey k = key;
  k.id.clear();
  std::string prefix = EncodeDocKey(k, true);
  std::vector<std::string> ids;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
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

absl::Status DocumentStore::CheckCondition(const std::optional<Document>& existing,
                                           const WriteCondition& cond) const {
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

absl::Status DocumentStore::Write(const DocKey& key, const std::string& content_type, const std::string& content,
                                  int64_t now_us) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, EncodeDocKey(key, false), EncodeValue(content_type, content, now_us)),
                   "document store: write document");
}

absl::Status DocumentStore::Put(const DocKey& key, const std::string& content_type, const std::string& content,
                                const WriteCondition& cond, int64_t now_us) {
  if (log_ != nullptr) return log_->ProposeDocument({DocAction::kPut, key, content_type, content, cond, now_us});
  return PutHere(key, content_type, content, cond, now_us);
}

absl::Status DocumentStore::Merge(const DocKey& key, const std::string& content_type, const std::string& content,
                                  const WriteCondition& cond, int64_t now_us) {
  if (log_ != nullptr) return log_->ProposeDocument({DocAction::kMerge, key, content_type, content, cond, now_us});
  return MergeHere(key, content_type, content, cond, now_us);
}

absl::Status DocumentStore::Delete(const DocKey& key, const WriteCondition& cond) {
  if (log_ != nullptr) return log_->ProposeDocument({DocAction::kDelete, key, "", "", cond, 0});
  return DeleteHere(key, cond);
}

absl::Status DocumentStore::Apply(const DocWrite& w) {
  switch (w.action) {
    case DocAction::kPut:
      return PutHere(w.key, w.content_type, w.content, w.cond, w.now_us);
    case DocAction::kMerge:
      return MergeHere(w.key, w.content_type, w.content, w.cond, w.now_us);
    case DocAction::kDelete:
      return DeleteHere(w.key, w.cond);
  }
  return absl::InvalidArgumentError("document write: unknown action");
}

absl::Status DocumentStore::PutHere(const DocKey& key, const std::string& content_type, const std::string& content,
                                    const WriteCondition& cond, int64_t now_us) {
  absl::MutexLock lock(&write_mu_);
  absl::StatusOr<std::optional<Document>> found = Existing(key);
  if (!found.ok()) return found.status();
  const std::optional<Document>& existing = *found;
  absl::Status c = CheckCondition(existing, cond);
  if (!c.ok()) return c;
  return Write(key, content_type, content, now_us);
}

absl::Status DocumentStore::MergeHere(const DocKey& key, const std::string& content_type,
                                      const std::string& content, const WriteCondition& cond, int64_t now_us) {
  absl::MutexLock lock(&write_mu_);
  absl::StatusOr<std::optional<Document>> found = Existing(key);
  if (!found.ok()) return found.status();
  const std::optional<Document>& existing = *found;
  WriteCondition c2 = cond;
  c2.require_condition_if_exists = false;  // POST merges; no 409
  c2.missing_condition_is_invalid = false;
  absl::Status c = CheckCondition(existing, c2);
  if (!c.ok()) return c;
  if (!existing) return Write(key, content_type, content, now_us);
  if (!IsJson(existing->content_type) || !IsJson(content_type)) {
    return absl::InvalidArgumentError("POST merges JSON documents only (application/json on both)");
  }
  nlohmann::ordered_json a = nlohmann::ordered_json::parse(existing->content, nullptr, false);
  nlohmann::ordered_json b = nlohmann::ordered_json::parse(content, nullptr, false);
  if (!a.is_object() || !b.is_object()) {
    return absl::InvalidArgumentError("POST merges JSON objects only");
  }
  for (auto it = b.begin(); it != b.end(); ++it) a[it.key()] = it.value();
  return Write(key, "application/json", a.dump(), now_us);
}

absl::Status DocumentStore::DeleteHere(const DocKey& key, const WriteCondition& cond) {
  absl::MutexLock lock(&write_mu_);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (!key.id.empty()) {
    absl::StatusOr<std::optional<Document>> found = Existing(key);
    if (!found.ok()) return found.status();
    const std::optional<Document>& existing = *found;
    WriteCondition c2 = cond;
    c2.require_condition_if_exists = false;
    c2.missing_condition_is_invalid = false;
    absl::Status c = CheckCondition(existing, c2);
    if (!c.ok()) return c;
    return FromRocks(db_->Delete(wo, EncodeDocKey(key, false)), "document store: delete document");
  }
  std::string prefix = EncodeDocKey(key, true);
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) batch.Delete(it->key());
  if (!it->status().ok()) return FromRocks(it->status(), "document store: scan documents");
  return FromRocks(db_->Write(wo, &batch), "document store: delete documents");
}

absl::StatusOr<int64_t> DocumentStore::EraseLearner(const std::string& learner) {
  absl::MutexLock lock(&write_mu_);
  // Agent profiles are keyed by learner; states have the learner second, so
  // they are found by a scan of the state range.
  rocksdb::WriteBatch batch;
  int64_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  DocKey agent{DocKind::kAgentProfile, "", learner, "", ""};
  std::string prefix = EncodeDocKey(agent, true);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch.Delete(it->key());
    ++n;
  }
  std::string state_start(1, static_cast<char>(DocKind::kState));
  std::string needle;
  PutStr(&needle, learner);
  for (it->Seek(state_start); it->Valid() && it->key().starts_with(state_start); it->Next()) {
    std::string k = it->key().ToString();
    if (k.size() < 3) continue;
    size_t act_len = (static_cast<uint8_t>(k[1]) << 8) | static_cast<uint8_t>(k[2]);
    if (k.compare(3 + act_len, needle.size(), needle) == 0) {
      batch.Delete(it->key());
      ++n;
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  absl::Status s = FromRocks(db_->Write(wo, &batch), "document store: erase learner");
  if (!s.ok()) return s;
  return n;
}

}  // namespace lifelong::xapi
