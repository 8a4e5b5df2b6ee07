// Version directories: where a model version lives under a model root
// (VersionPath), which numbered directories are COMPLETE (ListCompleteVersions:
// MANIFEST.json parses and every listed file exists with its size), and how a
// version is loaded and validated (LoadModelBundle: every SHA-256 checked,
// items.tsv and the float/CSR files decoded, shapes handed to
// BuildModelBundle; LoadLatestModelBundle: the newest version that loads).
// A malformed or corrupt version is DATA_LOSS, an incomplete one
// FAILED_PRECONDITION, a missing one NOT_FOUND. Reads files only; the
// in-memory bundle and its indexes are built in model_bundle.cc. Declared in
// model_bundle.h; layout in docs/models.md.

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "models/interaction_file.h"
#include "models/model_bundle.h"
#include "models/model_format.h"

namespace lifelong::models {

std::string VersionPath(const std::string& model_root, int64_t version) {
  return absl::StrCat(model_root, "/", version);
}

std::optional<absl::Time> ManifestWrittenAt(const nlohmann::json& manifest) {
  if (!manifest.is_object()) return std::nullopt;
  auto it = manifest.find("written_at");
  absl::Time written;
  std::string error;
  if (it == manifest.end() || !it->is_string() ||
      !absl::ParseTime(absl::RFC3339_full, it->get<std::string>(), &written, &error)) {
    return std::nullopt;
  }
  return written;
}

namespace {

// Reads the manifest and checks that every listed file exists with its size.
// FAILED_PRECONDITION when incomplete, DATA_LOSS when the manifest is bad.
absl::StatusOr<nlohmann::json> ReadCompleteManifest(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kManifestFileName);
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": incomplete: no ", kManifestFileName));
  }
  nlohmann::json m = nlohmann::json::parse(*text, nullptr, false);
  if (m.is_discarded() || !m.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": not a JSON object"));
  }
  const bool format1 = m.contains("format") && m["format"] == std::string(kModelFormat);
  const bool format2 = m.contains("format") && m["format"] == std::string(kModelFormatSparse);
  if (!format1 && !format2) {
    return absl::DataLossError(absl::StrCat(path, ": format is not \"", kModelFormat, "\" or \"", kModelFormatSparse,
                                            "\" (", m.contains("format") ? m["format"].dump() : "missing", ")"));
  }
  if (!m.contains("files") || !m["files"].is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": no \"files\" object"));
  }
  std::vector<std::string> required = {std::string(kItemsFile), std::string(kItemVectorsFile),
                                       std::string(kQueryBasisFile), std::string(kContentFile),
                                       std::string(kContentIdfFile)};
  if (format2) required.push_back(std::string(kItemItemCsrFile));
  if (m.contains("sequence_model")) required.push_back(std::string(kSequenceModelFile));
  for (const std::string& name : required) {
    const auto& f = m["files"];
    if (!f.contains(name) || !f[name].is_object() || !f[name].contains("bytes") ||
        !f[name]["bytes"].is_number_unsigned() || !f[name].contains("sha256") || !f[name]["sha256"].is_string()) {
      return absl::DataLossError(absl::StrCat(path, ": files.", name, ": missing bytes/sha256"));
    }
    struct stat st;
    const std::string fp = absl::StrCat(dir, "/", name);
    if (stat(fp.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(dir, ": incomplete: no ", name));
    }
    if (static_cast<uint64_t>(st.st_size) != f[name]["bytes"].get<uint64_t>()) {
      return absl::FailedPreconditionError(absl::StrCat(dir, ": incomplete: ", name, " has ", st.st_size,
                                                        " bytes, manifest says ", f[name]["bytes"].get<uint64_t>()));
    }
  }
  return m;
}

// Reads a listed file and verifies its checksum.
absl::StatusOr<std::string> ReadVerified(const std::string& dir, const nlohmann::json& m, absl::string_view name) {
  const std::string path = absl::StrCat(dir, "/", name);
  absl::StatusOr<std::string> data = ReadFileToString(path);
  if (!data.ok()) return absl::FailedPreconditionError(absl::StrCat(dir, ": incomplete: no ", name));
  const std::string want = m["files"][std::string(name)]["sha256"].get<std::string>();
  if (Sha256Hex(*data) != want) {
    return absl::DataLossError(absl::StrCat(path, ": SHA-256 mismatch (corrupt version)"));
  }
  return data;
}

template <typename T>
absl::StatusOr<T> ManifestField(const nlohmann::json& m, const char* key, const std::string& dir) {
  if (!m.contains(key)) {
    return absl::DataLossError(absl::StrCat(dir, "/", kManifestFileName, ": no \"", key, "\""));
  }
  try {
    return m[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    return absl::DataLossError(absl::StrCat(dir, "/", kManifestFileName, ": \"", key, "\" has the wrong type"));
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ModelBundle>> LoadModelBundle(const std::string& version_dir) {
  return LoadModelBundle(version_dir, BuildOptions());
}

absl::StatusOr<std::shared_ptr<const ModelBundle>> LoadModelBundle(const std::string& version_dir,
                                                                   const BuildOptions& options) {
  std::string dir = version_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::string base = dir.substr(dir.find_last_of('/') + 1);
  std::optional<int64_t> version = ParseVersionName(base);
  if (!version.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("version_dir: \"", base, "\" is not a version number"));
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("no version directory ", dir));
  }
  absl::StatusOr<nlohmann::json> m = ReadCompleteManifest(dir);
  if (!m.ok()) return m.status();

  ModelArrays a;
  auto num_items = ManifestField<int64_t>(*m, "num_items", dir);
  auto dim = ManifestField<int>(*m, "dim", dir);
  auto identity = ManifestField<bool>(*m, "identity_query", dir);
  auto decay = ManifestField<double>(*m, "recency_decay", dir);
  auto max_history = ManifestField<int>(*m, "max_history", dir);
  auto content_dim = ManifestField<int>(*m, "content_dim", dir);
  for (const absl::Status& s : {num_items.status(), dim.status(), identity.status(), decay.status(),
                                max_history.status(), content_dim.status()}) {
    if (!s.ok()) return s;
  }
  a.dim = *dim;
  a.identity_query = *identity;
  a.recency_decay = *decay;
  a.max_history = *max_history;
  a.content_dim = *content_dim;

  absl::StatusOr<std::string> items = ReadVerified(dir, *m, kItemsFile);
  if (!items.ok()) return items.status();
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*items, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    int64_t row = -1, count = -1, completions = -1;
    const size_t want = line_no == 0 ? f.size() : (a.completions.empty() ? 3 : 4);
    if (f.size() != want || (want != 3 && want != 4) || !absl::SimpleAtoi(f[0], &row) || row != line_no ||
        !absl::SimpleAtoi(f[2], &count) || count < 0 || f[1].empty() ||
        (want == 4 && (!absl::SimpleAtoi(f[3], &completions) || completions < 0 || completions > count))) {
      return absl::DataLossError(absl::StrCat(dir, "/", kItemsFile, ":", line_no + 1,
                                              ": expected row <TAB> course id <TAB> count [<TAB> completions]"));
    }
    a.course_ids.emplace_back(f[1]);
    a.counts.push_back(count);
    if (want == 4) a.completions.push_back(completions);
    ++line_no;
  }
  if (static_cast<int64_t>(a.course_ids.size()) != *num_items) {
    return absl::DataLossError(
        absl::StrCat(dir, ": items.tsv has ", a.course_ids.size(), " items, manifest says ", *num_items));
  }
  struct FloatFile {
    absl::string_view name;
    std::vector<float>* out;
  };
  for (const FloatFile& ff : {FloatFile{kItemVectorsFile, &a.item_vectors}, FloatFile{kQueryBasisFile, &a.query_basis},
                              FloatFile{kContentFile, &a.content}, FloatFile{kContentIdfFile, &a.idf}}) {
    absl::StatusOr<std::string> bytes = ReadVerified(dir, *m, ff.name);
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<std::vector<float>> v = BytesToFloats(*bytes);
    if (!v.ok()) return absl::DataLossError(absl::StrCat(dir, "/", ff.name, ": ", v.status().message()));
    *ff.out = std::move(*v);
  }
  if (*m->find("format") == std::string(kModelFormatSparse)) {
    absl::StatusOr<std::string> bytes = ReadVerified(dir, *m, kItemItemCsrFile);
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<CsrMatrix> csr = DecodeItemItemCsr(*bytes, *num_items);
    if (!csr.ok()) return absl::DataLossError(absl::StrCat(dir, "/", csr.status().message()));
    a.sparse = true;
    a.sparse_row_start = std::move(csr->row_start);
    a.sparse_target = std::move(csr->target);
    a.sparse_weight = std::move(csr->weight);
  }
  if (m->contains("sequence_model")) {
    const nlohmann::json& sm = (*m)["sequence_model"];
    if (!sm.is_object() || !sm.contains("blend_w") || !sm["blend_w"].is_number()) {
      return absl::DataLossError(absl::StrCat(dir, "/", kManifestFileName, ": sequence_model.blend_w: not a number"));
    }
    absl::StatusOr<std::string> bytes = ReadVerified(dir, *m, kSequenceModelFile);
    if (!bytes.ok()) return bytes.status();
    a.sequence_model = *std::move(bytes);
    a.sequence_blend_w = sm["blend_w"].get<double>();
  }
  absl::StatusOr<std::shared_ptr<const ModelBundle>> b =
      BuildModelBundle(std::move(a), std::move(*m), *version, dir, options);
  if (!b.ok()) {
    // Shapes that do not fit are a corrupt version; anything else (memory
    // running out while the index is built) may pass, and keeps its code.
    if (b.status().code() == absl::StatusCode::kInvalidArgument) {
      return absl::DataLossError(absl::StrCat(dir, ": inconsistent shapes: ", b.status().message()));
    }
    return absl::Status(b.status().code(), absl::StrCat(dir, ": ", b.status().message()));
  }
  return b;
}

absl::StatusOr<std::vector<int64_t>> ListCompleteVersions(const std::string& model_root) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(model_root);
  if (!names.ok()) return names.status();
  std::vector<int64_t> out;
  for (const std::string& name : *names) {
    std::optional<int64_t> v = ParseVersionName(name);
    if (!v.has_value()) continue;
    if (ReadCompleteManifest(VersionPath(model_root, *v)).ok()) out.push_back(*v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::shared_ptr<const ModelBundle>> LoadLatestModelBundle(const std::string& model_root) {
  return LoadLatestModelBundle(model_root, BuildOptions());
}

absl::StatusOr<std::shared_ptr<const ModelBundle>> LoadLatestModelBundle(const std::string& model_root,
                                                                         const BuildOptions& options) {
  absl::StatusOr<std::vector<int64_t>> versions = ListCompleteVersions(model_root);
  if (!versions.ok()) return versions.status();
  std::vector<std::string> rejected;
  for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
    absl::StatusOr<std::shared_ptr<const ModelBundle>> b = LoadModelBundle(VersionPath(model_root, *it), options);
    if (b.ok()) return b;
    rejected.push_back(std::string(b.status().message()));
  }
  return absl::NotFoundError(absl::StrCat("no loadable model version under ", model_root,
                                          rejected.empty() ? "" : "; rejected: ", absl::StrJoin(rejected, "; ")));
}

}  // namespace lifelong::models
