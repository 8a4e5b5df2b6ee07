#include "models/model_format.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lifelong::models {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

std::optional<int64_t> ParseVersionName(absl::string_view name) {
  if (name.empty() || name.size() > 18 || name[0] == '0') return std::nullopt;
  for (char c : name) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(name, &v) || v < 1) return std::nullopt;
  return v;
}

absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("no directory ", dir));
    }
    return ErrnoError("cannot open directory", dir);
  }
  std::vector<std::string> out;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  closedir(d);
  return out;
}

absl::Status WriteFileDurably(const std::string& path, absl::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", path);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = ErrnoError("cannot write", path);
      close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    absl::Status s = ErrnoError("cannot fsync", path);
    close(fd);
    return s;
  }
  if (close(fd) != 0) return ErrnoError("cannot close", path);
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open directory", dir);
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return ErrnoError("cannot fsync directory", dir);
  return absl::OkStatus();
}

std::string FloatsToBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

absl::StatusOr<std::vector<float>> BytesToFloats(absl::string_view bytes) {
  if (bytes.size() % sizeof(float) != 0) {
    return absl::DataLossError(absl::StrCat("float32 file of ", bytes.size(), " bytes is not a multiple of 4"));
  }
  std::vector<float> v(bytes.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

namespace {

void PutLe(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

absl::Status CsrError(absl::string_view what) {
  return absl::DataLossError(absl::StrCat(kItemItemCsrFile, ": ", what));
}

}  // namespace

std::string EncodeItemItemCsr(const CsrMatrix& m) {
  const uint64_t rows = m.row_start.empty() ? 0 : m.row_start.size() - 1;
  const uint64_t n = m.target.size();
  std::string out;
  out.reserve(24 + (rows + 1) * 8 + n * 8);
  out.append(kItemItemCsrMagic.data(), kItemItemCsrMagic.size());
  PutLe(&out, kItemItemCsrVersion, 4);
  PutLe(&out, rows, 4);
  PutLe(&out, n, 8);
  if (m.row_start.empty()) {
    PutLe(&out, 0, 8);
  } else {
    for (int64_t s : m.row_start) PutLe(&out, static_cast<uint64_t>(s), 8);
  }
  for (int32_t t : m.target) PutLe(&out, static_cast<uint32_t>(t), 4);
  for (float w : m.weight) {
    uint32_t bits;
    std::memcpy(&bits, &w, 4);
    PutLe(&out, bits, 4);
  }
  return out;
}

absl::StatusOr<CsrMatrix> DecodeItemItemCsr(absl::string_view bytes, int64_t expected_rows) {
  constexpr size_t kHeader = 24;
  if (bytes.size() < kHeader) {
    return CsrError(absl::StrCat("header: ", bytes.size(), " bytes, need ", kHeader));
  }
  if (bytes.substr(0, 8) != kItemItemCsrMagic) return CsrError("magic: not an item_item.csr file");
  const uint32_t version = static_cast<uint32_t>(GetLe(bytes.data() + 8, 4));
  if (version != kItemItemCsrVersion) {
    return CsrError(
        absl::StrCat("version: ", version, " is not supported (this build reads ", kItemItemCsrVersion, ")"));
  }
  const uint64_t rows = GetLe(bytes.data() + 12, 4);
  const uint64_t n = GetLe(bytes.data() + 16, 8);
  if (static_cast<int64_t>(rows) != expected_rows) {
    return CsrError(absl::StrCat("rows: ", rows, ", the bundle has ", expected_rows, " items"));
  }
  // n fits in 2^31 targets (int32 rows), so the size below cannot overflow.
  if (n > (uint64_t{1} << 31)) return CsrError(absl::StrCat("entries: ", n, " is too many"));
  const uint64_t want = kHeader + (rows + 1) * 8 + n * 8;
  if (bytes.size() != want) {
    return CsrError(absl::StrCat("size: ", bytes.size(), " bytes, the header implies ", want));
  }
  CsrMatrix m;
  m.row_start.resize(rows + 1);
  m.target.resize(n);
  m.weight.resize(n);
  const char* p = bytes.data() + kHeader;
  for (uint64_t i = 0; i <= rows; ++i, p += 8) {
    const uint64_t s = GetLe(p, 8);
    if (s > n) return CsrError(absl::StrCat("row_start[", i, "]: ", s, " > entries ", n));
    m.row_start[i] = static_cast<int64_t>(s);
    if (i == 0 && s != 0) return CsrError("row_start[0]: must be 0");
    if (i > 0 && m.row_start[i] < m.row_start[i - 1]) {
      return CsrError(absl::StrCat("row_start[", i, "]: decreases"));
    }
  }
  if (static_cast<uint64_t>(m.row_start[rows]) != n) {
    return CsrError(absl::StrCat("row_start[", rows, "]: ", m.row_start[rows], ", entries ", n));
  }
  for (uint64_t e = 0; e < n; ++e, p += 4) {
    const uint64_t t = GetLe(p, 4);
    if (t >= rows) return CsrError(absl::StrCat("target[", e, "]: row ", t, " >= rows ", rows));
    m.target[e] = static_cast<int32_t>(t);
  }
  for (uint64_t i = 0; i < rows; ++i) {
    for (int64_t e = m.row_start[i] + 1; e < m.row_start[i + 1]; ++e) {
      if (m.target[e] <= m.target[e - 1]) {
        return CsrError(absl::StrCat("target: row ", i, " is not strictly ascending at entry ", e));
      }
    }
  }
  for (uint64_t e = 0; e < n; ++e, p += 4) {
    const uint32_t bits = static_cast<uint32_t>(GetLe(p, 4));
    std::memcpy(&m.weight[e], &bits, 4);
    if (!std::isfinite(m.weight[e])) return CsrError(absl::StrCat("weight[", e, "]: not finite"));
  }
  return m;
}

}  // namespace lifelong::models
