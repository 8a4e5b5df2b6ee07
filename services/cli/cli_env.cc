#include "services/cli/cli_env.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <streambuf>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/token.h"
#include "services/catalog/course_enums.h"
#include "services/cli/args.h"
#include "services/cli/exit_codes.h"
#include "services/cli/import_reader.h"
#include "services/cli/progress.h"
#include "services/cli/statement_builder.h"
#include "services/cli/text_table.h"
#include "services/common/grpc_status.h"
#include "services/common/grpc_tls.h"
#include "services/common/health_client.h"
#include "services/common/status_macros.h"
#include "services/domain/vocabulary.h"

namespace lifelong::cli {

constexpr char kUsagePayload[] = "lifelong.cli/usage";

absl::Status Usage(absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(message);
  s.SetPayload(kUsagePayload, absl::Cord("1"));
  return s;
}

bool IsUsage(const absl::Status& s) { return s.GetPayload(kUsagePayload).has_value(); }

// Wraps a status from flag parsing helpers as a usage error.
absl::Status AsUsage(const absl::Status& s) { return s.ok() ? s : Usage(s.message()); }

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"json", false, "print JSON (one object a line) instead of tables"},
      {"timeout", true, "deadline of each call (default 10s)"},
      {"stream_timeout", true, "deadline of the export stream (default 1h)"},
      {"records", true, "record service address (env LIFELONG_RECORDS, default 127.0.0.1:7001)"},
      {"catalog", true, "catalog service address (env LIFELONG_CATALOG, default 127.0.0.1:7002)"},
      {"recommend", true, "recommendation service address (env LIFELONG_RECOMMEND, default 127.0.0.1:7003)"},
      {"server", true, "address of the service this command talks to (overrides the above)"},
      {"tls_ca", true,
       "CA certificate (PEM) to verify the services with; calls use TLS when set "
       "(env LIFELONG_TLS_CA)"},
      {"tls_cert", true, "client certificate (PEM) for services that demand one (env LIFELONG_TLS_CERT)"},
      {"tls_key", true, "private key of --tls_cert (env LIFELONG_TLS_KEY)"},
      {"token_file", true,
       "file holding the bearer token sent with every call (env LIFELONG_TOKEN_FILE; "
       "or the token itself in LIFELONG_TOKEN); mint one with //services/auth:mint_token"},
      {"help", false, "show help for the command", 'h'},
  };
  return *flags;
}

const char* ServiceName(Service s) {
  switch (s) {
    case Service::kRecords:
      return "records";
    case Service::kCatalog:
      return "catalog";
    case Service::kRecommend:
      return "recommend";
    default:
      return "";
  }
}

const absl::TimeZone& Beijing() {
  static const absl::TimeZone* tz = new absl::TimeZone(absl::FixedTimeZone(8 * 3600));
  return *tz;
}

std::string FormatTs(const google::protobuf::Timestamp& ts, bool date_only) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "";
  absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  return absl::FormatTime(date_only ? "%Y-%m-%d" : "%Y-%m-%d %H:%M", t, Beijing());
}

std::string Num(double v) {
  std::string s = absl::StrFormat("%.2f", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string ProtoJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

std::string ModeName(v1::Course::Mode m) { return catalog::ModeName(m); }

std::string LevelName(v1::Course::Level l) { return catalog::LevelName(l); }

std::string AudienceName(int a) { return catalog::AudienceName(static_cast<v1::Course::Audience>(a)); }

std::string StateName(v1::Course::State s) { return catalog::StateName(s); }

absl::StatusOr<v1::Course::Mode> ParseMode(const std::string& flag, const std::string& v) {
  v1::Course::Mode m = catalog::ModeFromName(v);
  if (m != v1::Course::MODE_UNSPECIFIED) return m;
  return Usage(absl::StrCat("--", flag, ": expected ", catalog::ModeNameList(), ", got '", v, "'"));
}

absl::StatusOr<v1::Course::Level> ParseLevel(const std::string& v) {
  v1::Course::Level l = catalog::LevelFromName(v);
  if (l == v1::Course::LEVEL_UNSPECIFIED) l = catalog::LevelFromChineseLabel(v);
  if (l != v1::Course::LEVEL_UNSPECIFIED) return l;
  return Usage(absl::StrCat("--level: expected ", catalog::LevelNameList(), ", got '", v, "'"));
}

absl::StatusOr<v1::Course::Audience> ParseAudience(const std::string& flag, const std::string& v) {
  v1::Course::Audience a = catalog::AudienceFromName(v);
  if (a != v1::Course::AUDIENCE_UNSPECIFIED) return a;
  return Usage(absl::StrCat("--", flag, ": expected ", catalog::AudienceNameList(), ", got '", v, "'"));
}

absl::StatusOr<v1::Course::State> ParseState(const std::string& v) {
  v1::Course::State s = catalog::StateFromName(v);
  if (s != v1::Course::STATE_UNSPECIFIED) return s;
  return Usage(absl::StrCat("--state: expected ", catalog::StateNameList(), ", got '", v, "'"));
}

std::vector<std::string> CommaList(const std::string& v) { return absl::StrSplit(v, ',', absl::SkipWhitespace()); }

// Reads "@path", "-" (stdin) or literal text.
absl::StatusOr<std::string> ReadTextArg(const std::string& flag, const std::string& v) {
  if (v == "-" || absl::StartsWith(v, "@")) {
    std::stringstream ss;
    if (v == "-") {
      ss << std::cin.rdbuf();
    } else {
      std::ifstream in(v.substr(1));
      if (!in) return absl::NotFoundError(absl::StrCat("--", flag, ": cannot read ", v.substr(1)));
      ss << in.rdbuf();
    }
    return ss.str();
  }
  return v;
}

// The course title of a stored statement (object.definition.name), if any.
std::string StatementTitle(const std::string& json) {
  Json j = Json::parse(json, nullptr, false);
  if (j.is_discarded()) return "";
  const Json* name = nullptr;
  if (j.contains("object") && j["object"].contains("definition") && j["object"]["definition"].contains("name")) {
    name = &j["object"]["definition"]["name"];
  }
  if (name == nullptr || !name->is_object() || name->empty()) return "";
  if (name->contains("zh-CN") && (*name)["zh-CN"].is_string()) return (*name)["zh-CN"];
  return name->begin()->is_string() ? name->begin()->get<std::string>() : "";
}

std::string StatementExt(const std::string& json, absl::string_view ext) {
  Json j = Json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.contains("context") || !j["context"].contains("extensions")) return "";
  const Json& e = j["context"]["extensions"];
  auto it = e.find(std::string(ext));
  if (it == e.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string CourseLabel(const std::string& activity) {
  std::string id = vocab::CourseIdFromIri(activity);
  return id.empty() ? activity : id;
}

namespace {

// An output stream buffer over an open file descriptor (write(2), 64 KiB at
// a time); `failed` once a write failed (the stream's badbit is set too).
class FdOutBuf : public std::streambuf {
 public:
  explicit FdOutBuf(int fd) : fd_(fd), buf_(64 << 10) { setp(buf_.data(), buf_.data() + buf_.size()); }
  bool failed() const { return failed_; }
  int write_errno() const { return errno_; }

 protected:
  int_type overflow(int_type c) override {
    if (!Drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return Drain() ? 0 : -1; }

 private:
  bool Drain() {
    for (const char* p = pbase(); p < pptr() && !failed_;) {
      const ssize_t n = ::write(fd_, p, static_cast<size_t>(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        failed_ = true;
        errno_ = n < 0 ? errno : EIO;
        break;
      }
      p += n;
    }
    setp(buf_.data(), buf_.data() + buf_.size());
    return !failed_;
  }

  const int fd_;
  std::vector<char> buf_;
  bool failed_ = false;
  int errno_ = 0;
};

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, const std::function<absl::Status(std::ostream&)>& fill) {
  // One descriptor from creation to fsync, on a file this call creates under
  // a name of its own (path.XXXXXX.tmp): owner-only from the first byte (an
  // export holds learners' records), never through a link planted in the
  // way, and two writers of the same path never write into one file.
  std::string tmp_name = path + ".XXXXXX.tmp";
  const int fd = ::mkostemps(tmp_name.data(), 4, O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": cannot write: ", std::strerror(errno)));
  const std::string tmp = tmp_name;
  absl::Status written = [&]() -> absl::Status {
    FdOutBuf buf(fd);
    std::ostream f(&buf);
    LL_RETURN_IF_ERROR(fill(f));
    f.flush();
    if (buf.failed()) {
      return absl::InternalError(absl::StrCat(path, ": write failed (disk full?): ", std::strerror(buf.write_errno())));
    }
    if (f.fail()) return absl::InternalError(absl::StrCat(path, ": write failed"));
    // On disk before it replaces the old file: a power cut leaves the one or the other.
    if (::fsync(fd) != 0) return absl::InternalError(absl::StrCat(path, ": fsync failed: ", std::strerror(errno)));
    return absl::OkStatus();
  }();
  ::close(fd);
  std::error_code ec;
  if (!written.ok()) {
    std::filesystem::remove(tmp, ec);  // the old file, if any, stays as it was
    return written;
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return absl::InternalError(absl::StrCat(path, ": rename failed: ", ec.message()));
  }
  // The rename itself on disk: the directory's entry.
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  // (Best effort: some file systems refuse a directory's fsync, and the
  // file is already in place.)
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace lifelong::cli
