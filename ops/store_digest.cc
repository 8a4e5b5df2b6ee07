#include "ops/store_digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace lifelong::ops {
namespace {

// An incremental SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  void Update(const std::string& s) { Update(s.data(), s.size()); }
  void UpdateLengthPrefixed(const rocksdb::Slice& s) {
    const uint32_t n = static_cast<uint32_t>(s.size());
    const unsigned char be[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                 static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    Update(be, 4);
    Update(s.data(), s.size());
  }
  std::string FinalRaw() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, out, &n);
    return std::string(reinterpret_cast<char*>(out), n);
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string Hex(const std::string& raw) {
  std::string out;
  for (unsigned char c : raw) absl::StrAppendFormat(&out, "%02x", c);
  return out;
}

// Printable ASCII as is; 1..8 bytes as a big-endian unsigned integer; else a size.
std::string MetaText(const rocksdb::Slice& v) {
  const bool printable =
      !v.empty() && std::all_of(v.data(), v.data() + v.size(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (printable) return v.ToString();
  if (!v.empty() && v.size() <= 8) {
    uint64_t x = 0;
    for (size_t i = 0; i < v.size(); ++i) x = (x << 8) | static_cast<unsigned char>(v[i]);
    return absl::StrCat(x, " (", v.size(), "-byte integer)");
  }
  return absl::StrCat("<", v.size(), " bytes>");
}

}  // namespace

absl::StatusOr<StoreDigest> DigestStore(const std::string& db_dir, const std::string& scratch_dir,
                                        const DigestOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(db_dir) / "CURRENT", ec)) {
    return absl::NotFoundError(absl::StrCat(db_dir, ": no RocksDB store (no CURRENT file)"));
  }
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db_dir, &names);
  if (!s.ok()) return absl::UnavailableError(absl::StrCat(db_dir, ": listing column families: ", s.ToString()));
  std::sort(names.begin(), names.end());
  std::filesystem::create_directories(scratch_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(scratch_dir, ": ", ec.message()));

  rocksdb::Options db_options;
  db_options.max_open_files = -1;  // a secondary instance needs every file open
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenAsSecondary(db_options, db_dir, scratch_dir, descriptors, &handles, &raw);
  if (!s.ok()) return absl::UnavailableError(absl::StrCat(db_dir, ": opening as a secondary: ", s.ToString()));
  std::unique_ptr<rocksdb::DB> db(raw);
  auto close = [&] {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    handles.clear();
  };
  s = db->TryCatchUpWithPrimary();
  if (!s.ok()) {
    close();
    return absl::UnavailableError(absl::StrCat(db_dir, ": catching up with the primary: ", s.ToString()));
  }

  StoreDigest out;
  Sha256 total;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& family = names[i];
    Sha256 h;
    FamilyDigest fd;
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (options.exclude_keys.count(absl::StrCat(family, ":", it->key().ToString()))) continue;
      h.UpdateLengthPrefixed(it->key());
      h.UpdateLengthPrefixed(it->value());
      ++fd.entries;
      if (family == options.meta_family) out.meta_text[it->key().ToString()] = MetaText(it->value());
    }
    if (!it->status().ok()) {
      const std::string error = it->status().ToString();
      it.reset();
      close();
      return absl::UnavailableError(absl::StrCat(db_dir, ": reading ", family, ": ", error));
    }
    const std::string raw_digest = h.FinalRaw();
    fd.sha256_hex = Hex(raw_digest);
    if (!options.exclude_families.count(family)) {
      total.Update(family);
      total.Update("\0", 1);
      total.Update(raw_digest);
    }
    out.families[family] = fd;
  }
  out.total_sha256_hex = Hex(total.FinalRaw());
  close();
  return out;
}

std::string FormatDigest(const StoreDigest& d) {
  std::string out;
  for (const auto& [name, fd] : d.families) {
    absl::StrAppendFormat(&out, "family %-16s entries %10d  sha256 %s\n", name, fd.entries, fd.sha256_hex);
  }
  absl::StrAppendFormat(&out, "total sha256 %s\n", d.total_sha256_hex);
  // Keys may hold binary parts (lengths, sequences): escaped, one line each.
  for (const auto& [key, text] : d.meta_text) {
    absl::StrAppendFormat(&out, "meta %s = %s\n", absl::CHexEscape(key), absl::CHexEscape(text));
  }
  return out;
}

}  // namespace lifelong::ops
