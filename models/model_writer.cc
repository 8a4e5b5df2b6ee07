#include "models/model_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "models/model_format.h"
#include "models/sequence_model.h"

namespace lifelong::models {
namespace {

absl::Status MakeDirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::InternalError(absl::StrCat("cannot create directory ", cur, ": ", std::strerror(errno)));
      }
    }
    if (i < path.size()) cur.push_back(path[i]);
  }
  return absl::OkStatus();
}

void RemoveTree(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(dir);
  if (names.ok()) {
    for (const std::string& n : *names) unlink(absl::StrCat(dir, "/", n).c_str());
  }
  rmdir(dir.c_str());
}

absl::StatusOr<int64_t> LargestVersionName(const std::string& root) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(root);
  if (!names.ok()) return names.status();
  int64_t largest = 0;
  for (const std::string& n : *names) {
    if (std::optional<int64_t> v = ParseVersionName(n)) largest = std::max(largest, *v);
  }
  return largest;
}

absl::Status WriteAll(const std::string& tmp, const ModelArrays& a, const nlohmann::json& extra) {
  std::string items;
  for (size_t r = 0; r < a.course_ids.size(); ++r) {
    absl::StrAppend(&items, r, "\t", a.course_ids[r], "\t", a.counts[r]);
    if (!a.completions.empty()) absl::StrAppend(&items, "\t", a.completions[r]);
    absl::StrAppend(&items, "\n");
  }
  std::vector<std::pair<absl::string_view, std::string>> files = {
      {kItemsFile, items},
      {kItemVectorsFile, FloatsToBytes(a.item_vectors)},
      {kQueryBasisFile, FloatsToBytes(a.query_basis)},
      {kContentFile, FloatsToBytes(a.content)},
      {kContentIdfFile, FloatsToBytes(a.idf)},
  };
  if (a.sparse) {
    CsrMatrix m{a.sparse_row_start, a.sparse_target, a.sparse_weight};
    files.push_back({kItemItemCsrFile, EncodeItemItemCsr(m)});
  }
  if (!a.sequence_model.empty()) files.push_back({kSequenceModelFile, a.sequence_model});
  nlohmann::json manifest = extra;
  nlohmann::json listed = nlohmann::json::object();
  for (const auto& [name, data] : files) {
    absl::Status s = WriteFileDurably(absl::StrCat(tmp, "/", name), data);
    if (!s.ok()) return s;
    listed[std::string(name)] = {{"bytes", data.size()}, {"sha256", Sha256Hex(data)}};
  }
  // Dense bundles stay format 1 (readable by servers that predate format 2).
  manifest["format"] = std::string(a.sparse ? kModelFormatSparse : kModelFormat);
  if (a.sparse) {
    manifest["item_matrix"] = {
        {"kind", "sparse_csr"}, {"entries", a.sparse_target.size()}, {"layout_version", kItemItemCsrVersion}};
  }
  if (!a.sequence_model.empty()) {
    manifest["sequence_model"] = {{"blend_w", a.sequence_blend_w}, {"layout_version", kSequenceModelLayoutVersion}};
  }
  manifest["num_items"] = a.course_ids.size();
  manifest["dim"] = a.dim;
  manifest["identity_query"] = a.identity_query;
  manifest["recency_decay"] = a.recency_decay;
  manifest["max_history"] = a.max_history;
  manifest["content_dim"] = a.content_dim;
  manifest["written_at"] = absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
  manifest["files"] = listed;
  absl::Status s = WriteFileDurably(absl::StrCat(tmp, "/", kManifestFileName), manifest.dump(2));
  if (!s.ok()) return s;
  return SyncDirectory(tmp);
}

}  // namespace

absl::StatusOr<int64_t> WriteModelVersion(const std::string& model_root, const ModelArrays& arrays,
                                          const nlohmann::json& extra) {
  if (!extra.is_object()) return absl::InvalidArgumentError("extra: must be a JSON object");
  {
    absl::StatusOr<std::shared_ptr<const ModelBundle>> check =
        BuildModelBundle(arrays, nlohmann::json::object(), 0, "", BuildOptions{false});
    if (!check.ok()) return check.status();
  }
  absl::Status s = MakeDirs(model_root);
  if (!s.ok()) return s;
  std::random_device rd;
  const std::string tmp = absl::StrCat(model_root, "/", kTempDirPrefix, getpid(), "-", rd());
  if (mkdir(tmp.c_str(), 0755) != 0) {
    return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    absl::StatusOr<int64_t> largest = LargestVersionName(model_root);
    if (!largest.ok()) {
      RemoveTree(tmp);
      return largest.status();
    }
    const int64_t version = *largest + 1;
    nlohmann::json manifest_extra = extra;
    manifest_extra["version"] = version;
    s = WriteAll(tmp, arrays, manifest_extra);
    if (!s.ok()) {
      RemoveTree(tmp);
      return s;
    }
    const std::string final_dir = VersionPath(model_root, version);
    if (rename(tmp.c_str(), final_dir.c_str()) == 0) {
      s = SyncDirectory(model_root);
      if (!s.ok()) return s;
      return version;
    }
    if (errno != EEXIST && errno != ENOTEMPTY) {
      s = absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", final_dir, ": ", std::strerror(errno)));
      RemoveTree(tmp);
      return s;
    }
    // Another writer took this number; rewrite the manifest for the next one.
  }
  RemoveTree(tmp);
  return absl::InternalError(absl::StrCat("could not claim a version number under ", model_root));
}

}  // namespace lifelong::models
