#include "services/cli/cli.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

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
#include "services/auth/token.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "services/cli/args.h"
#include "services/cli/exit_codes.h"
#include "services/cli/import_reader.h"
#include "services/cli/progress.h"
#include "services/cli/statement_builder.h"
#include "services/cli/text_table.h"
#include "services/common/grpc_tls.h"
#include "services/common/health_client.h"
#include "services/common/grpc_status.h"
#include "services/common/status_macros.h"
#include "services/domain/vocabulary.h"

namespace lifelong::cli {
namespace {

namespace v1 = ::lifelong::v1;
using Json = nlohmann::ordered_json;

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
      {"recommend", true,
       "recommendation service address (env LIFELONG_RECOMMEND, default 127.0.0.1:7003)"},
      {"server", true, "address of the service this command talks to (overrides the above)"},
      {"tls_ca", true,
       "CA certificate (PEM) to verify the services with; calls use TLS when set "
       "(env LIFELONG_TLS_CA)"},
      {"tls_cert", true,
       "client certificate (PEM) for services that demand one (env LIFELONG_TLS_CERT)"},
      {"tls_key", true, "private key of --tls_cert (env LIFELONG_TLS_KEY)"},
      {"token_file", true,
       "file holding the bearer token sent with every call (env LIFELONG_TOKEN_FILE; "
       "or the token itself in LIFELONG_TOKEN); mint one with //services/auth:mint_token"},
      {"help", false, "show help for the command", 'h'},
  };
  return *flags;
}

enum class Service { kNone, kRecords, kCatalog, kRecommend };

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

// What one running command needs: parsed flags, addresses, deadlines, output.
// Not thread-safe (channels are created lazily); Call() and RpcError() may be
// used from several threads.
class Env {
 public:
  Env(const CliContext& ctx, ParsedArgs args, Service primary)
      : ctx_(ctx), args_(std::move(args)), primary_(primary) {}

  absl::Status Init() {
    if (args_.Has("timeout")) {
      auto ms = ParseDurationMsFlag("timeout", args_.Get("timeout"));
      if (!ms.ok()) return AsUsage(ms.status());
      timeout_ms_ = *ms;
    }
    if (args_.Has("stream_timeout")) {
      auto ms = ParseDurationMsFlag("stream_timeout", args_.Get("stream_timeout"));
      if (!ms.ok()) return AsUsage(ms.status());
      stream_timeout_ms_ = *ms;
    }
    // TLS (docs/security.md): flags, else LIFELONG_TLS_* from the environment.
    tls_.ca_file = Setting("tls_ca");
    tls_.cert_file = Setting("tls_cert");
    tls_.key_file = Setting("tls_key");
    if (absl::Status s = ValidateCallingTls(tls_); !s.ok()) return AsUsage(s);
    // Bearer token (docs/security.md): --token_file, else $LIFELONG_TOKEN_FILE,
    // else the token in $LIFELONG_TOKEN.
    token_file_ = Setting("token_file");
    if (!token_file_.empty()) {
      std::ifstream in(token_file_);
      if (!in) return AsUsage(absl::InvalidArgumentError(absl::StrCat("--token_file: cannot read ", token_file_)));
      std::stringstream ss;
      ss << in.rdbuf();
      token_ = std::string(absl::StripAsciiWhitespace(ss.str()));
    } else {
      token_ = Setting("token");
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = ChannelCredentialsFor(tls_);
    if (!creds.ok()) return creds.status();
    credentials_ = *std::move(creds);
    return absl::OkStatus();
  }

  // The TLS files the channels use (all empty: plaintext).
  const TlsConfig& tls() const { return tls_; }
  // The bearer token file given (passed on to the trainer), or "".
  const std::string& token_file() const { return token_file_; }

  const ParsedArgs& args() const { return args_; }
  bool json() const { return args_.GetBool("json"); }
  std::ostream& out() const { return *ctx_.out; }
  std::ostream& err() const { return *ctx_.err; }
  const CliContext& ctx() const { return ctx_; }
  int64_t timeout_ms() const { return timeout_ms_; }

  std::string Address(Service s) const {
    if (s == primary_ && args_.Has("server")) return args_.Get("server");
    const std::string flag = ServiceName(s);
    if (args_.Has(flag)) return args_.Get(flag);
    const std::string env_name = absl::StrCat("LIFELONG_", absl::AsciiStrToUpper(flag));
    auto it = ctx_.env.find(env_name);
    if (it != ctx_.env.end() && !it->second.empty()) return it->second;
    switch (s) {
      case Service::kRecords:
        return "127.0.0.1:7001";
      case Service::kCatalog:
        return "127.0.0.1:7002";
      default:
        return "127.0.0.1:7003";
    }
  }

  std::shared_ptr<grpc::Channel> Channel(Service s) {
    auto& ch = channels_[static_cast<int>(s)];
    if (!ch) {
      grpc::ChannelArguments a;
      a.SetMaxReceiveMessageSize(64 << 20);
      a.SetMaxSendMessageSize(64 << 20);
      ch = grpc::CreateCustomChannel(Address(s), credentials_, a);
    }
    return ch;
  }
  std::unique_ptr<v1::LearningRecordService::Stub> Records() {
    return v1::LearningRecordService::NewStub(Channel(Service::kRecords));
  }
  std::unique_ptr<v1::CourseCatalogService::Stub> Catalog() {
    return v1::CourseCatalogService::NewStub(Channel(Service::kCatalog));
  }
  std::unique_ptr<v1::RecommendationService::Stub> Recommend() {
    return v1::RecommendationService::NewStub(Channel(Service::kRecommend));
  }

  // A client context with the unary (or stream) deadline.
  std::unique_ptr<grpc::ClientContext> Call(bool stream = false) const {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(stream ? stream_timeout_ms_ : timeout_ms_));
    if (!token_.empty()) c->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
    return c;
  }

  // An RPC failure, with the service and address named.
  absl::Status RpcError(Service s, const grpc::Status& g) const {
    absl::Status st = FromGrpcStatus(g);
    return absl::Status(st.code(), absl::StrCat(st.message(), " (", ServiceName(s), " at ",
                                                Address(s), ")"));
  }

 private:
  // --`flag`, else $LIFELONG_<FLAG>, else "".
  std::string Setting(const std::string& flag) const {
    if (args_.Has(flag)) return args_.Get(flag);
    auto it = ctx_.env.find(absl::StrCat("LIFELONG_", absl::AsciiStrToUpper(flag)));
    return it == ctx_.env.end() ? "" : it->second;
  }

  const CliContext& ctx_;
  ParsedArgs args_;
  Service primary_;
  int64_t timeout_ms_ = 10000;
  int64_t stream_timeout_ms_ = 3600 * 1000;
  TlsConfig tls_;
  std::string token_file_;
  std::string token_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_ = grpc::InsecureChannelCredentials();
  std::shared_ptr<grpc::Channel> channels_[4];
};

// ---------- formatting helpers ----------

const absl::TimeZone& Beijing() {
  static const absl::TimeZone* tz = new absl::TimeZone(absl::FixedTimeZone(8 * 3600));
  return *tz;
}

std::string FormatTs(const google::protobuf::Timestamp& ts, bool date_only = false) {
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

std::string ModeName(v1::Course::Mode m) {
  switch (m) {
    case v1::Course::OFFLINE:
      return "offline";
    case v1::Course::ONLINE:
      return "online";
    case v1::Course::BLENDED:
      return "blended";
    default:
      return "";
  }
}

std::string LevelName(v1::Course::Level l) {
  switch (l) {
    case v1::Course::BEGINNER:
      return "beginner";
    case v1::Course::INTERMEDIATE:
      return "intermediate";
    case v1::Course::ADVANCED:
      return "advanced";
    default:
      return "";
  }
}

std::string AudienceName(int a) {
  switch (a) {
    case v1::Course::CHILDREN:
      return "children";
    case v1::Course::TEENS:
      return "teens";
    case v1::Course::ADULTS:
      return "adults";
    case v1::Course::SENIORS:
      return "seniors";
    default:
      return "";
  }
}

std::string StateName(v1::Course::State s) {
  switch (s) {
    case v1::Course::DRAFT:
      return "draft";
    case v1::Course::OPEN:
      return "open";
    case v1::Course::CLOSED:
      return "closed";
    case v1::Course::ARCHIVED:
      return "archived";
    default:
      return "";
  }
}

absl::StatusOr<v1::Course::Mode> ParseMode(const std::string& flag, const std::string& v) {
  if (v == "offline") return v1::Course::OFFLINE;
  if (v == "online") return v1::Course::ONLINE;
  if (v == "blended") return v1::Course::BLENDED;
  return Usage(absl::StrCat("--", flag, ": expected offline, online or blended, got '", v, "'"));
}

absl::StatusOr<v1::Course::Level> ParseLevel(const std::string& v) {
  if (v == "beginner" || v == "入门") return v1::Course::BEGINNER;
  if (v == "intermediate" || v == "进阶") return v1::Course::INTERMEDIATE;
  if (v == "advanced" || v == "提高") return v1::Course::ADVANCED;
  return Usage(absl::StrCat("--level: expected beginner, intermediate or advanced, got '", v, "'"));
}

absl::StatusOr<v1::Course::Audience> ParseAudience(const std::string& flag, const std::string& v) {
  if (v == "children") return v1::Course::CHILDREN;
  if (v == "teens") return v1::Course::TEENS;
  if (v == "adults") return v1::Course::ADULTS;
  if (v == "seniors") return v1::Course::SENIORS;
  return Usage(
      absl::StrCat("--", flag, ": expected children, teens, adults or seniors, got '", v, "'"));
}

absl::StatusOr<v1::Course::State> ParseState(const std::string& v) {
  if (v == "draft") return v1::Course::DRAFT;
  if (v == "open") return v1::Course::OPEN;
  if (v == "closed") return v1::Course::CLOSED;
  if (v == "archived") return v1::Course::ARCHIVED;
  return Usage(absl::StrCat("--state: expected draft, open, closed or archived, got '", v, "'"));
}

std::vector<std::string> CommaList(const std::string& v) {
  return absl::StrSplit(v, ',', absl::SkipWhitespace());
}

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
  if (j.contains("object") && j["object"].contains("definition") &&
      j["object"]["definition"].contains("name")) {
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

// ---------- commands ----------

absl::Status CmdRecord(Env& env) {
  const ParsedArgs& a = env.args();
  if (!a.positional.empty()) return Usage("record takes no positional arguments");
  std::string json;
  if (a.Has("statement")) {
    auto text = ReadTextArg("statement", a.Get("statement"));
    if (!text.ok()) return text.status();
    auto st = StatementFromJsonLine(*text, "completed");
    if (!st.ok()) return Usage(absl::StrCat("--statement: ", st.status().message()));
    json = *st;
  } else {
    StatementFields f;
    f.id = a.Get("id");
    f.learner = a.Get("learner");
    f.verb = a.Get("verb");
    f.course = a.Get("course");
    if (f.learner.empty() || f.verb.empty() || f.course.empty()) {
      return Usage("record needs --learner, --verb and --course (or --statement)");
    }
    f.title = a.Get("title");
    f.timestamp = a.Get("timestamp");
    f.mode = a.Get("mode");
    f.xuequ = a.Get("xuequ");
    f.jiedao = a.Get("jiedao");
    f.venue = a.Get("venue");
    f.platform = a.Get("platform", "app");
    f.registration = a.Get("registration");
    for (const char* n : {"credits", "hours", "score"}) {
      if (!a.Has(n)) continue;
      auto d = ParseDoubleFlag(n, a.Get(n));
      if (!d.ok()) return AsUsage(d.status());
      (std::string(n) == "credits" ? f.credits : std::string(n) == "hours" ? f.hours : f.score) = *d;
    }
    if (!a.Has("timestamp")) {
      f.timestamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3S+08:00", absl::Now(), Beijing());
    }
    auto st = BuildStatementJson(f);
    if (!st.ok()) return Usage(st.status().message());
    json = *st;
  }
  auto stub = env.Records();
  v1::RecordStatementRequest req;
  req.set_statement_json(json);
  if (env.json()) req.set_view(v1::STATEMENT_VIEW_FULL);
  v1::Statement resp;
  grpc::Status g = stub->RecordStatement(env.Call().get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (env.json()) {
    env.out() << resp.json() << "\n";
  } else {
    env.out() << "recorded " << resp.id() << ": " << resp.learner() << " "
              << VerbShortName(resp.verb()) << " " << CourseLabel(resp.activity()) << " at "
              << FormatTs(resp.timestamp()) << "\n";
  }
  return absl::OkStatus();
}

absl::Status CmdHistory(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong history LEARNER [--verb V] [--course C] [--limit N]");
  int64_t limit = 20;
  if (a.Has("limit")) {
    auto n = ParseIntFlag("limit", a.Get("limit"));
    if (!n.ok()) return AsUsage(n.status());
    if (*n < 1) return Usage("--limit: must be at least 1");
    limit = *n;
  }
  v1::ListStatementsRequest req;
  req.set_learner(a.positional[0]);
  if (a.Has("verb")) {
    auto iri = VerbIri(a.Get("verb"));
    if (!iri.ok()) return Usage(absl::StrCat("--", iri.status().message()));
    req.set_verb(*iri);
  }
  if (a.Has("course")) {
    const std::string c = a.Get("course");
    req.set_activity(absl::StrContains(c, "://") ? c : vocab::CourseIri(c));
  }
  req.set_ascending(a.GetBool("ascending"));
  auto stub = env.Records();
  TextTable table({"TIME", "VERB", "COURSE", "TITLE", "MODE", "XUEQU", "PLATFORM"});
  table.SetMaxWidth(3, 36);
  int64_t shown = 0;
  std::string token;
  do {
    req.set_page_size(static_cast<int32_t>(std::min<int64_t>(1000, limit - shown)));
    req.set_page_token(token);
    v1::ListStatementsResponse resp;
    grpc::Status g = stub->ListStatements(env.Call().get(), req, &resp);
    if (!g.ok()) return env.RpcError(Service::kRecords, g);
    for (const v1::Statement& s : resp.statements()) {
      if (shown >= limit) break;
      ++shown;
      if (env.json()) {
        env.out() << s.json() << "\n";
        continue;
      }
      Json j = Json::parse(s.json(), nullptr, false);
      std::string platform;
      if (!j.is_discarded() && j.contains("context") && j["context"].contains("platform") &&
          j["context"]["platform"].is_string()) {
        platform = j["context"]["platform"];
      }
      table.AddRow({FormatTs(s.timestamp()), VerbShortName(s.verb()), CourseLabel(s.activity()),
                    StatementTitle(s.json()), StatementExt(s.json(), vocab::kExtMode),
                    StatementExt(s.json(), vocab::kExtXuequ), platform});
    }
    token = resp.next_page_token();
  } while (!token.empty() && shown < limit);
  if (!env.json()) {
    env.out() << table.Render();
    env.out() << shown << " statement(s) of " << a.positional[0]
              << (token.empty() ? "" : " (more: raise --limit)") << "\n";
  }
  return absl::OkStatus();
}

absl::Status CmdTranscript(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong transcript LEARNER");
  v1::GetTranscriptRequest req;
  req.set_learner(a.positional[0]);
  v1::Transcript t;
  grpc::Status g = env.Records()->GetTranscript(env.Call().get(), req, &t);
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (env.json()) {
    env.out() << ProtoJson(t) << "\n";
    return absl::OkStatus();
  }
  TextTable table({"DATE", "COURSE", "TITLE", "OUTCOME", "HOURS", "CREDITS", "MODE", "XUEQU", "ISSUER", "VERIFIED"});
  table.AlignRight(4);
  table.AlignRight(5);
  table.SetMaxWidth(2, 36);
  for (const auto& e : t.entries()) {
    // Unverified (self-reported) entries earn nothing; show what they claimed.
    std::string verified =
        e.verified() ? "yes"
                     : absl::StrCat("no (claimed ", Num(e.claimed_hours()), "h/", Num(e.claimed_credits()), ")");
    table.AddRow({FormatTs(e.achieved(), true), CourseLabel(e.activity()), e.title(), e.outcome(),
                  Num(e.hours()), Num(e.credits()), e.mode(), e.xuequ(), e.issuer(), verified});
  }
  env.out() << "Transcript of " << t.learner() << "\n" << table.Render();
  env.out() << "total: " << t.courses() << " course(s), " << Num(t.hours()) << " hours, "
            << Num(t.credits()) << " credits";
  if (t.unverified_courses() > 0) {
    env.out() << " (" << t.unverified_courses() << " self-reported course(s) earn no hours or credits)";
  }
  env.out() << "\n";
  auto totals = [&](const char* label, const auto& list) {
    if (list.empty()) return;
    std::vector<std::string> parts;
    for (const auto& x : list) {
      parts.push_back(absl::StrCat(x.key(), " ", x.courses(), "/", Num(x.hours()), "h/", Num(x.credits())));
    }
    env.out() << label << ": " << absl::StrJoin(parts, ", ") << "\n";
  };
  totals("by mode (courses/hours/credits)", t.by_mode());
  totals("by xuequ (courses/hours/credits)", t.by_xuequ());
  return absl::OkStatus();
}

absl::Status FillFilter(const ParsedArgs& a, v1::CourseFilter* f) {
  if (a.Has("mode")) {
    for (const std::string& m : CommaList(a.Get("mode"))) {
      auto v = ParseMode("mode", m);
      if (!v.ok()) return v.status();
      f->add_modes(*v);
    }
  }
  for (const std::string& c : CommaList(a.Get("category"))) f->add_categories(c);
  for (const std::string& x : CommaList(a.Get("xuequ"))) f->add_xuequ(x);
  if (a.Has("audience")) {
    for (const std::string& m : CommaList(a.Get("audience"))) {
      auto v = ParseAudience("audience", m);
      if (!v.ok()) return v.status();
      f->add_audiences(*v);
    }
  }
  if (a.Has("near")) {
    std::vector<std::string> p = absl::StrSplit(a.Get("near"), ',');
    double lat = 0, lng = 0;
    if (p.size() != 2 || !absl::SimpleAtod(p[0], &lat) || !absl::SimpleAtod(p[1], &lng)) {
      return Usage("--near: expected LAT,LNG such as 39.93,116.41");
    }
    f->mutable_near()->set_lat(lat);
    f->mutable_near()->set_lng(lng);
    auto km = ParseDoubleFlag("within_km", a.Get("within_km", "3"));
    if (!km.ok()) return AsUsage(km.status());
    f->set_within_km(*km);
  }
  f->set_open_for_enrolment_now(a.GetBool("open_now"));
  return absl::OkStatus();
}

void PrintRecommendations(Env& env, const google::protobuf::RepeatedPtrField<v1::Recommendation>& recs) {
  TextTable table({"#", "COURSE", "TITLE", "CATEGORY", "MODE", "XUEQU", "SEATS", "SCORE", "KM", "REASON"});
  table.AlignRight(0);
  table.AlignRight(6);
  table.AlignRight(7);
  table.AlignRight(8);
  table.SetMaxWidth(2, 30);
  table.SetMaxWidth(9, 40);
  int rank = 0;
  for (const auto& r : recs) {
    const auto& c = r.course();
    table.AddRow({std::to_string(++rank), c.course_id(), c.title(), c.category(), ModeName(c.mode()),
                  c.xuequ(), c.seats_left() < 0 ? "-" : std::to_string(c.seats_left()),
                  absl::StrFormat("%.3f", r.score()),
                  r.distance_km() < 0 ? "" : absl::StrFormat("%.1f", r.distance_km()), r.reason()});
  }
  env.out() << table.Render();
}

absl::StatusOr<int32_t> ParseK(const ParsedArgs& a) {
  auto k = ParseIntFlag("k", a.Get("k", "10"));
  if (!k.ok()) return AsUsage(k.status());
  if (*k < 1 || *k > 100) return Usage("--k: must be in [1, 100]");
  return static_cast<int32_t>(*k);
}

absl::Status CmdRecommend(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() > 1) return Usage("usage: lifelong recommend [LEARNER] [-k N] [--kiosk VENUE] ...");
  v1::RecommendRequest req;
  if (!a.positional.empty()) req.set_learner(a.positional[0]);
  auto k = ParseK(a);
  if (!k.ok()) return k.status();
  req.set_k(*k);
  absl::Status fs = FillFilter(a, req.mutable_filter());
  if (!fs.ok()) return fs;
  auto* c = req.mutable_context();
  if (a.Has("kiosk")) {
    c->set_channel(v1::RecommendContext::CHANNEL_KIOSK);
    c->set_kiosk_venue_id(a.Get("kiosk"));
  } else {
    c->set_channel(v1::RecommendContext::CHANNEL_APP);
  }
  for (const std::string& i : CommaList(a.Get("interests"))) c->add_interests(i);
  if (a.Has("age")) {
    auto v = ParseAudience("age", a.Get("age"));
    if (!v.ok()) return v.status();
    c->set_age_group(*v);
  }
  if (a.Has("location")) {
    std::vector<std::string> p = absl::StrSplit(a.Get("location"), ',');
    double lat = 0, lng = 0;
    if (p.size() != 2 || !absl::SimpleAtod(p[0], &lat) || !absl::SimpleAtod(p[1], &lng)) {
      return Usage("--location: expected LAT,LNG such as 39.93,116.41");
    }
    c->mutable_location()->set_lat(lat);
    c->mutable_location()->set_lng(lng);
  }
  v1::RecommendResponse resp;
  grpc::Status g = env.Recommend()->Recommend(env.Call().get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecommend, g);
  if (env.json()) {
    env.out() << ProtoJson(resp) << "\n";
    return absl::OkStatus();
  }
  PrintRecommendations(env, resp.recommendations());
  env.out() << resp.recommendations_size() << " recommendation(s) for "
            << (req.learner().empty() ? "an anonymous learner" : req.learner()) << ", model "
            << resp.model_version() << (resp.cold_start() ? ", cold start" : "") << "\n";
  return absl::OkStatus();
}

absl::Status CmdSimilar(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong similar COURSE [-k N]");
  v1::SimilarCoursesRequest req;
  req.set_course_id(a.positional[0]);
  auto k = ParseK(a);
  if (!k.ok()) return k.status();
  req.set_k(*k);
  absl::Status fs = FillFilter(a, req.mutable_filter());
  if (!fs.ok()) return fs;
  v1::SimilarCoursesResponse resp;
  grpc::Status g = env.Recommend()->SimilarCourses(env.Call().get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecommend, g);
  if (env.json()) {
    env.out() << ProtoJson(resp) << "\n";
    return absl::OkStatus();
  }
  PrintRecommendations(env, resp.recommendations());
  env.out() << resp.recommendations_size() << " course(s) similar to " << req.course_id()
            << ", model " << resp.model_version() << "\n";
  return absl::OkStatus();
}

// `lifelong path LEARNER --programme ID | --course ID | --category CAT`:
// RecommendationService.PlanPath as a table (or --json).
absl::Status CmdPath(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) {
    return Usage("usage: lifelong path LEARNER (--programme ID | --course ID | --category CAT) [--deadline DATE]");
  }
  v1::PlanPathRequest req;
  req.set_learner(a.positional[0]);
  int goals = 0;
  if (a.Has("programme")) {
    req.set_programme_id(a.Get("programme"));
    ++goals;
  }
  if (a.Has("course")) {
    req.set_course_id(a.Get("course"));
    ++goals;
  }
  if (a.Has("category")) {
    req.set_category(a.Get("category"));
    ++goals;
  }
  if (goals != 1) return Usage("--programme, --course or --category: give exactly one goal");
  if (a.Has("deadline")) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime("%Y-%m-%d", a.Get("deadline"), Beijing(), &t, &err)) {
      return Usage("--deadline: expected a date such as 2027-06-30");
    }
    t += absl::Hours(24);  // the end of that day
    req.mutable_deadline()->set_seconds(absl::ToUnixSeconds(t));
  }
  req.set_home_xuequ(a.Get("xuequ"));
  req.set_any_xuequ(a.GetBool("anywhere"));
  req.set_prefer_online(a.GetBool("online"));
  if (a.Has("max")) {
    auto n = ParseIntFlag("max", a.Get("max"));
    if (!n.ok()) return AsUsage(n.status());
    if (*n < 1 || *n > 100) return Usage("--max: must be in [1, 100]");
    req.set_max_courses(static_cast<int32_t>(*n));
  }
  v1::PlanPathResponse resp;
  grpc::Status g = env.Recommend()->PlanPath(env.Call().get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecommend, g);
  if (env.json()) {
    env.out() << ProtoJson(resp) << "\n";
    return absl::OkStatus();
  }
  TextTable table({"#", "COURSE", "TITLE", "CATEGORY", "CREDITS", "XUEQU", "STARTS", "ENDS", "SESSIONS", "WHY"});
  table.AlignRight(0);
  table.AlignRight(4);
  table.AlignRight(8);
  table.SetMaxWidth(2, 30);
  table.SetMaxWidth(9, 30);
  int n = 0;
  for (const v1::PlannedCourse& step : resp.steps()) {
    const v1::CourseSummary& c = step.course();
    table.AddRow({std::to_string(++n), c.course_id(), c.title(), c.category(), Num(c.credits()),
                  c.mode() == v1::Course::ONLINE ? "线上" : c.xuequ(), FormatTs(step.start()),
                  FormatTs(step.end()), std::to_string(step.sessions_size()),
                  step.in_progress() ? "in progress" : step.why()});
  }
  env.out() << "Plan for " << req.learner() << " toward " << resp.goal_name() << ": "
            << (resp.already_achieved() ? "already achieved"
                                        : resp.feasible() ? "feasible" : "NOT feasible")
            << "\n";
  if (n > 0) env.out() << table.Render();
  if (resp.has_progress()) {
    const v1::PathProgress& p = resp.progress();
    env.out() << "Credits: " << Num(p.credits_earned()) << " earned + " << Num(p.credits_planned())
              << " planned";
    if (p.credits_required() > 0) env.out() << " of " << Num(p.credits_required()) << " required";
    env.out() << "\n";
    for (const auto& c : p.by_category()) {
      env.out() << "  " << c.category() << ": " << Num(c.earned()) << " earned + " << Num(c.planned())
                << " planned of " << Num(c.required()) << "\n";
    }
    if (p.required_done_size() + p.required_planned_size() + p.required_missing_size() > 0) {
      env.out() << "Required courses: " << p.required_done_size() << " done, " << p.required_planned_size()
                << " planned, " << p.required_missing_size() << " missing\n";
    }
  }
  if (!resp.feasible()) {
    for (absl::string_view line : absl::StrSplit(resp.reason(), '\n')) env.out() << "Why: " << line << "\n";
  }
  return absl::OkStatus();
}

// `lifelong programmes list`: the catalog's programmes.
absl::Status ProgrammesList(Env& env) {
  v1::ListProgrammesResponse resp;
  grpc::Status g = env.Catalog()->ListProgrammes(env.Call().get(), v1::ListProgrammesRequest(), &resp);
  if (!g.ok()) return env.RpcError(Service::kCatalog, g);
  if (env.json()) {
    for (const v1::Programme& p : resp.programmes()) env.out() << ProtoJson(p) << "\n";
    return absl::OkStatus();
  }
  TextTable table({"ID", "NAME", "CREDITS", "BY CATEGORY", "REQUIRED", "DEADLINE"});
  for (const v1::Programme& p : resp.programmes()) {
    std::vector<std::string> rules;
    for (const auto& r : p.by_category()) rules.push_back(absl::StrCat(r.category(), "≥", Num(r.credits())));
    table.AddRow({p.id(), p.name(), Num(p.credits()), absl::StrJoin(rules, ", "),
                  absl::StrJoin(p.required_course_ids(), ","), FormatTs(p.deadline(), true)});
  }
  env.out() << table.Render() << resp.programmes_size() << " programme(s)\n";
  return absl::OkStatus();
}

absl::Status CoursesList(Env& env) {
  const ParsedArgs& a = env.args();
  if (!a.positional.empty()) return Usage("usage: lifelong courses list [--category C] [--xuequ X] ...");
  v1::ListCoursesRequest req;
  req.set_category(a.Get("category"));
  req.set_xuequ(a.Get("xuequ"));
  req.set_jiedao(a.Get("jiedao"));
  req.set_venue_id(a.Get("venue"));
  req.set_tag(a.Get("tag"));
  if (a.Has("mode")) {
    auto m = ParseMode("mode", a.Get("mode"));
    if (!m.ok()) return m.status();
    req.set_mode(*m);
  }
  if (a.Has("level")) {
    auto l = ParseLevel(a.Get("level"));
    if (!l.ok()) return l.status();
    req.set_level(*l);
  }
  if (a.Has("audience")) {
    auto l = ParseAudience("audience", a.Get("audience"));
    if (!l.ok()) return l.status();
    req.set_audience(*l);
  }
  if (a.Has("state")) {
    auto s = ParseState(a.Get("state"));
    if (!s.ok()) return s.status();
    req.set_state(*s);
  }
  req.set_show_archived(a.GetBool("archived"));
  req.set_has_available_seats(a.GetBool("seats"));
  int64_t limit = 50;
  if (a.Has("limit")) {
    auto n = ParseIntFlag("limit", a.Get("limit"));
    if (!n.ok()) return AsUsage(n.status());
    if (*n < 0) return Usage("--limit: must not be negative (0 lists all)");
    limit = *n == 0 ? INT64_MAX : *n;
  }
  auto stub = env.Catalog();
  TextTable table({"ID", "TITLE", "CATEGORY", "LEVEL", "MODE", "XUEQU", "VENUE", "SEATS", "CREDITS", "STATE"});
  table.SetMaxWidth(1, 30);
  table.SetMaxWidth(6, 24);
  table.AlignRight(7);
  table.AlignRight(8);
  int64_t shown = 0;
  std::string token;
  do {
    req.set_page_size(static_cast<int32_t>(std::min<int64_t>(1000, limit - shown)));
    req.set_page_token(token);
    v1::ListCoursesResponse resp;
    grpc::Status g = stub->ListCourses(env.Call().get(), req, &resp);
    if (!g.ok()) return env.RpcError(Service::kCatalog, g);
    for (const v1::Course& c : resp.courses()) {
      if (shown >= limit) break;
      ++shown;
      if (env.json()) {
        env.out() << ProtoJson(c) << "\n";
        continue;
      }
      std::string seats = c.capacity() == 0 ? "-" : absl::StrCat(c.capacity() - c.seats_taken(), "/", c.capacity());
      table.AddRow({c.id(), c.title(), c.category(), LevelName(c.level()), ModeName(c.mode()),
                    c.venue().xuequ(), c.venue().name(), seats, Num(c.credits()), StateName(c.state())});
    }
    token = resp.next_page_token();
  } while (!token.empty() && shown < limit);
  if (!env.json()) {
    env.out() << table.Render() << shown << " course(s)" << (token.empty() ? "" : " (more: raise --limit, 0 = all)")
              << "\n";
  }
  return absl::OkStatus();
}

absl::Status CoursesGet(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong courses get ID");
  v1::GetCourseRequest req;
  req.set_id(a.positional[0]);
  v1::Course c;
  grpc::Status g = env.Catalog()->GetCourse(env.Call().get(), req, &c);
  if (!g.ok()) return env.RpcError(Service::kCatalog, g);
  if (env.json()) {
    env.out() << ProtoJson(c) << "\n";
    return absl::OkStatus();
  }
  std::vector<std::string> audiences;
  for (int x : c.audiences()) audiences.push_back(AudienceName(x));
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", c.id()},
      {"title", c.title()},
      {"category", c.category()},
      {"tags", absl::StrJoin(c.tags(), ", ")},
      {"provider", c.provider().name()},
      {"mode", ModeName(c.mode())},
      {"level", LevelName(c.level())},
      {"audiences", absl::StrJoin(audiences, ", ")},
      {"venue", c.venue().id().empty() ? "" : absl::StrCat(c.venue().name(), " (", c.venue().id(), ")")},
      {"address", c.venue().address()},
      {"xuequ / jiedao", c.venue().xuequ().empty() ? "" : absl::StrCat(c.venue().xuequ(), " / ", c.venue().jiedao())},
      {"sessions", c.sessions().empty() ? "" : absl::StrCat(c.sessions_size(), ", first ", FormatTs(c.sessions(0).start_time()))},
      {"enrolment", absl::StrCat(FormatTs(c.enrollment_open_time(), true), " .. ", FormatTs(c.enrollment_close_time(), true))},
      {"capacity", c.capacity() == 0 ? "unlimited" : absl::StrCat(c.seats_taken(), " of ", c.capacity(), " taken")},
      {"credits / hours", absl::StrCat(Num(c.credits()), " / ", Num(c.hours()))},
      {"prerequisites", absl::StrJoin(c.prerequisite_ids(), ", ")},
      {"state", StateName(c.state())},
      {"revision", std::to_string(c.revision())},
      {"url", c.url()},
      {"description", c.description()},
  };
  for (const auto& [k, v] : rows) {
    if (v.empty()) continue;
    env.out() << PadToWidth(k, 16) << "  " << v << "\n";
  }
  return absl::OkStatus();
}

absl::Status CoursesPut(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong courses put FILE|-  (Course JSON, one object or JSON lines)");
  auto text = ReadTextArg("file", a.positional[0] == "-" ? "-" : "@" + a.positional[0]);
  if (!text.ok()) return text.status();
  std::vector<std::string> docs;
  absl::string_view trimmed = absl::StripAsciiWhitespace(*text);
  Json whole = Json::parse(trimmed, nullptr, false);
  if (!whole.is_discarded() && whole.is_object()) {
    docs.push_back(std::string(trimmed));
  } else if (!whole.is_discarded() && whole.is_array()) {
    for (const Json& x : whole) docs.push_back(x.dump());
  } else {
    for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipWhitespace())) {
      docs.push_back(std::string(line));
    }
  }
  auto stub = env.Catalog();
  int created = 0, updated = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    v1::Course c;
    google::protobuf::util::JsonParseOptions po;
    auto ps = google::protobuf::util::JsonStringToMessage(docs[i], &c, po);
    if (!ps.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("course ", i + 1, ": not a Course JSON: ", ps.message().as_string()));
    }
    if (c.id().empty()) return absl::InvalidArgumentError(absl::StrCat("course ", i + 1, ": course.id: must not be empty"));
    v1::GetCourseRequest get;
    get.set_id(c.id());
    v1::Course existing;
    grpc::Status g = stub->GetCourse(env.Call().get(), get, &existing);
    v1::Course result;
    if (g.error_code() == grpc::StatusCode::NOT_FOUND) {
      v1::CreateCourseRequest req;
      req.set_course_id(c.id());
      *req.mutable_course() = c;
      g = stub->CreateCourse(env.Call().get(), req, &result);
      if (!g.ok()) return env.RpcError(Service::kCatalog, g);
      ++created;
    } else if (g.ok()) {
      v1::UpdateCourseRequest req;
      *req.mutable_course() = c;
      req.mutable_course()->set_etag(existing.etag());
      req.mutable_update_mask()->add_paths("*");
      g = stub->UpdateCourse(env.Call().get(), req, &result);
      if (!g.ok()) return env.RpcError(Service::kCatalog, g);
      ++updated;
    } else {
      return env.RpcError(Service::kCatalog, g);
    }
    if (env.json()) {
      env.out() << ProtoJson(result) << "\n";
    } else {
      env.out() << (result.revision() == 1 ? "created " : "updated ") << result.id() << " (revision "
                << result.revision() << ")\n";
    }
  }
  if (!env.json()) env.out() << created << " created, " << updated << " updated\n";
  return absl::OkStatus();
}

// Writes every non-archived course in the trainer's catalog format
// (docs/models.md): {"id","title","description","category","tags"}.
absl::StatusOr<int64_t> DumpCatalog(Env& env, std::ostream& out) {
  auto stub = env.Catalog();
  v1::ListCoursesRequest req;
  req.set_page_size(1000);
  int64_t n = 0;
  std::string token;
  do {
    req.set_page_token(token);
    v1::ListCoursesResponse resp;
    grpc::Status g = stub->ListCourses(env.Call().get(), req, &resp);
    if (!g.ok()) return env.RpcError(Service::kCatalog, g);
    for (const v1::Course& c : resp.courses()) {
      Json j = {{"id", c.id()},
                {"title", c.title()},
                {"description", c.description()},
                {"category", c.category()},
                {"tags", std::vector<std::string>(c.tags().begin(), c.tags().end())}};
      out << j.dump() << "\n";
      ++n;
    }
    token = resp.next_page_token();
  } while (!token.empty());
  return n;
}

absl::Status WriteFileAtomically(const std::string& path, const std::function<absl::Status(std::ostream&)>& fill) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot write"));
    absl::Status s = fill(f);
    if (!s.ok()) return s;
    f.flush();
    if (!f) return absl::InternalError(absl::StrCat(path, ": write failed"));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat(path, ": rename failed: ", ec.message()));
  return absl::OkStatus();
}

absl::Status CoursesDump(Env& env) {
  const ParsedArgs& a = env.args();
  if (!a.positional.empty()) return Usage("usage: lifelong courses dump [--out FILE]");
  if (!a.Has("out")) {
    auto n = DumpCatalog(env, env.out());
    return n.ok() ? absl::OkStatus() : n.status();
  }
  int64_t n = 0;
  absl::Status s = WriteFileAtomically(a.Get("out"), [&](std::ostream& o) -> absl::Status {
    auto r = DumpCatalog(env, o);
    if (!r.ok()) return r.status();
    n = *r;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  env.err() << "dumped " << n << " course(s) to " << a.Get("out") << "\n";
  return absl::OkStatus();
}

// Checkpoint file of an import: "<lines done>\n" (physical input lines whose
// statements are all stored).
int64_t ReadCheckpoint(const std::string& path) {
  std::ifstream in(path);
  int64_t n = 0;
  if (in >> n) return n;
  return 0;
}

// One RecordStatements call of an import: its place in the input.
struct ImportBatch {
  int64_t seq = 0;        // 0, 1, 2, ... in input order
  int64_t last_line = 0;  // input line of its last statement
  v1::RecordStatementsRequest request;
};

absl::Status CmdImport(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong import FILE [--format jsonl|csv] [--verb V] [--checkpoint PATH]");
  const std::string path = a.positional[0];
  auto format = ImportFormatFor(a.Get("format"), path);
  if (!format.ok()) return AsUsage(format.status());
  const std::string default_verb = a.Get("verb", "completed");
  if (!VerbIri(default_verb).ok()) return Usage(absl::StrCat("--verb: unknown verb '", default_verb, "'"));
  int64_t batch_size = 500;
  if (a.Has("batch")) {
    auto b = ParseIntFlag("batch", a.Get("batch"));
    if (!b.ok()) return AsUsage(b.status());
    if (*b < 1 || *b > 1000) return Usage("--batch: must be in [1, 1000]");
    batch_size = *b;
  }
  int64_t parallel = 4;
  if (a.Has("parallel")) {
    auto n = ParseIntFlag("parallel", a.Get("parallel"));
    if (!n.ok()) return AsUsage(n.status());
    if (*n < 1 || *n > 32) return Usage("--parallel: must be in [1, 32]");
    parallel = *n;
  }
  auto total_lines = CountLines(path);
  if (!total_lines.ok()) return total_lines.status();
  auto reader = ImportReader::Open(path, *format, default_verb);
  if (!reader.ok()) return reader.status();
  const std::string checkpoint = a.Get("checkpoint");
  const int64_t skip = checkpoint.empty() ? 0 : ReadCheckpoint(checkpoint);
  if (skip > 0) env.err() << "import: resuming after line " << skip << " (checkpoint " << checkpoint << ")\n";

  const absl::Time started = absl::Now();
  Progress progress(env.err(), "import", "lines", *total_lines);

  // The reader fills a bounded queue of batches; `parallel` workers send
  // them. The checkpoint advances only over a prefix of completed batches,
  // so it never names a line whose statements may be missing.
  absl::Mutex mu;
  absl::CondVar cv;
  std::deque<ImportBatch> queue;
  bool input_done = false;
  absl::Status failure;                // first send failure
  std::map<int64_t, int64_t> finished;  // seq -> last_line, beyond the watermark
  int64_t next_seq_to_commit = 0;
  int64_t lines_done = skip;
  int64_t sent = 0, already = 0;
  // Channels are created here, once: Env is not thread-safe.
  const std::shared_ptr<grpc::Channel> channel = env.Channel(Service::kRecords);
  auto worker = [&] {
    auto stub = v1::LearningRecordService::NewStub(channel);
    while (true) {
      ImportBatch b;
      {
        absl::MutexLock lock(&mu);
        while (queue.empty() && !input_done) cv.Wait(&mu);
        if (queue.empty()) return;
        b = std::move(queue.front());
        queue.pop_front();
        cv.SignalAll();  // room for the reader
      }
      v1::RecordStatementsResponse resp;
      grpc::Status g;
      for (int attempt = 0;; ++attempt) {
        resp.Clear();
        g = stub->RecordStatements(env.Call().get(), b.request, &resp);
        if (g.error_code() != grpc::StatusCode::UNAVAILABLE || attempt >= 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500 << attempt));
      }
      absl::MutexLock lock(&mu);
      if (!g.ok()) {
        if (failure.ok()) {
          absl::Status e = env.RpcError(Service::kRecords, g);
          failure = absl::Status(e.code(), absl::StrCat("batch ending at ", path, ":", b.last_line, ": ", e.message()));
        }
        input_done = true;  // stop the others and the reader
        queue.clear();
        cv.SignalAll();
        return;
      }
      for (const v1::Statement& st : resp.statements()) {
        absl::Time stored = absl::FromUnixSeconds(st.stored().seconds()) + absl::Nanoseconds(st.stored().nanos());
        if (stored < started) ++already;
      }
      sent += resp.statements_size();
      finished[b.seq] = b.last_line;
      bool advanced = false;
      for (auto it = finished.find(next_seq_to_commit); it != finished.end();
           it = finished.find(next_seq_to_commit)) {
        lines_done = it->second;
        finished.erase(it);
        ++next_seq_to_commit;
        advanced = true;
      }
      if (advanced && !checkpoint.empty()) {
        absl::Status cs = WriteFileAtomically(checkpoint, [&](std::ostream& o) {
          o << lines_done << "\n";
          return absl::OkStatus();
        });
        if (!cs.ok() && failure.ok()) {
          failure = cs;
          input_done = true;
          queue.clear();
          cv.SignalAll();
          return;
        }
      }
      progress.Update(lines_done);
    }
  };
  std::vector<std::thread> workers;
  for (int64_t i = 0; i < parallel; ++i) workers.emplace_back(worker);

  absl::Status read_error;
  int64_t seq = 0;
  ImportBatch batch;
  auto push = [&]() -> bool {  // false once a worker failed
    if (batch.request.statement_json_size() == 0) return true;
    batch.seq = seq++;
    absl::MutexLock lock(&mu);
    while (queue.size() >= static_cast<size_t>(2 * parallel) && failure.ok()) cv.Wait(&mu);
    if (!failure.ok()) return false;
    queue.push_back(std::move(batch));
    cv.SignalAll();
    batch = ImportBatch();
    return true;
  };
  while (true) {
    auto next = (*reader)->Next();
    if (!next.ok()) {
      read_error = next.status();
      break;
    }
    if (!next->has_value()) break;
    if ((*reader)->line() <= skip) continue;
    batch.request.add_statement_json(std::move(**next));
    batch.last_line = (*reader)->line();
    if (batch.request.statement_json_size() >= batch_size && !push()) break;
  }
  push();  // the last batch; statements before a bad line are stored first
  {
    absl::MutexLock lock(&mu);
    input_done = true;
    cv.SignalAll();
  }
  for (auto& t : workers) t.join();
  if (!failure.ok()) return failure;
  if (!read_error.ok()) return read_error;
  if (!checkpoint.empty()) {
    (void)WriteFileAtomically(checkpoint, [&](std::ostream& o) {
      o << (*reader)->line() << "\n";
      return absl::OkStatus();
    });
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - started);
  if (env.json()) {
    env.out() << Json{{"file", path}, {"statements", sent}, {"new", sent - already},
                      {"already_stored", already}, {"seconds", secs}}.dump()
              << "\n";
  } else {
    env.out() << absl::StrFormat(
        "imported %s statement(s) from %s in %.1fs: %s new, %s already stored\n",
        WithThousands(sent), path, secs, WithThousands(sent - already), WithThousands(already));
  }
  return absl::OkStatus();
}

absl::Status CmdExport(Env& env) {
  const ParsedArgs& a = env.args();
  if (!a.positional.empty()) return Usage("usage: lifelong export [--learner L] [--after CURSOR] [--limit N] [--out FILE]");
  std::unique_ptr<std::ofstream> file;
  std::ostream* out = &env.out();
  if (a.Has("out")) {
    file = std::make_unique<std::ofstream>(a.Get("out"), std::ios::trunc);
    if (!*file) return absl::NotFoundError(absl::StrCat(a.Get("out"), ": cannot write"));
    out = file.get();
  }
  auto stub = env.Records();
  auto call = env.Call(/*stream=*/true);
  std::unique_ptr<grpc::ClientReader<v1::Statement>> reader;
  if (a.Has("learner")) {
    v1::ExportLearnerRequest req;
    req.set_learner(a.Get("learner"));
    reader = stub->ExportLearner(call.get(), req);
  } else {
    v1::ExportStatementsRequest req;
    req.set_after_cursor(a.Get("after"));
    if (a.Has("limit")) {
      auto n = ParseIntFlag("limit", a.Get("limit"));
      if (!n.ok()) return AsUsage(n.status());
      if (*n < 0 || *n > INT32_MAX) return Usage("--limit: must be in [0, 2^31)");
      req.set_limit(static_cast<int32_t>(*n));
    }
    reader = stub->ExportStatements(call.get(), req);
  }
  Progress progress(env.err(), "export", "statements", 0, absl::Seconds(2));
  v1::Statement s;
  int64_t n = 0;
  std::string cursor;
  while (reader->Read(&s)) {
    *out << s.json() << "\n";
    cursor = s.cursor();
    ++n;
    if (file) progress.Update(n);
  }
  grpc::Status g = reader->Finish();
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (file) {
    file->flush();
    env.err() << "exported " << n << " statement(s) to " << a.Get("out")
              << (cursor.empty() ? "" : absl::StrCat("; last cursor ", cursor)) << "\n";
  }
  return absl::OkStatus();
}

absl::Status CmdErase(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong erase-learner LEARNER --yes");
  if (!a.GetBool("yes")) return Usage("erase-learner removes every statement of the learner; add --yes to confirm");
  v1::EraseLearnerRequest req;
  req.set_learner(a.positional[0]);
  v1::EraseLearnerResponse resp;
  grpc::Status g = env.Records()->EraseLearner(env.Call().get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (env.json()) {
    env.out() << Json{{"learner", req.learner()}, {"erased_statements", resp.erased_statements()}}.dump() << "\n";
  } else {
    env.out() << "erased " << resp.erased_statements() << " statement(s) of " << req.learner() << "\n";
  }
  return absl::OkStatus();
}

// The trainer binary: --trainer, $LIFELONG_TRAINER, next to this binary in
// bazel-bin (../../models/train), or bazel-bin/models/train under the
// current directory.
absl::StatusOr<std::string> FindTrainer(Env& env) {
  if (env.args().Has("trainer")) return env.args().Get("trainer");
  auto it = env.ctx().env.find("LIFELONG_TRAINER");
  if (it != env.ctx().env.end() && !it->second.empty()) return it->second;
  std::vector<std::string> candidates;
  if (!env.ctx().self_path.empty()) {
    std::filesystem::path self(env.ctx().self_path);
    candidates.push_back((self.parent_path() / "../../models/train").lexically_normal().string());
  }
  candidates.push_back("bazel-bin/models/train");
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  return absl::NotFoundError(absl::StrCat("trainer binary not found (tried ", absl::StrJoin(candidates, ", "),
                                          "); build //models:train or pass --trainer"));
}

absl::Status CmdTrain(Env& env) {
  const ParsedArgs& a = env.args();
  const std::string model_root = a.Get("model_root", "var/models");
  auto trainer = FindTrainer(env);
  if (!trainer.ok()) return trainer.status();
  std::error_code ec;
  std::filesystem::create_directories(model_root, ec);
  const std::string dump = a.Get("catalog_dump", model_root + "/catalog.jsonl");
  int64_t courses = 0;
  absl::Status s = WriteFileAtomically(dump, [&](std::ostream& o) -> absl::Status {
    auto r = DumpCatalog(env, o);
    if (!r.ok()) return r.status();
    courses = *r;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  env.err() << "train: catalog dump " << dump << " (" << courses << " courses)\n";
  std::vector<std::string> argv = {*trainer, "--model_root=" + model_root,
                                   "--records=" + env.Address(Service::kRecords), "--catalog=" + dump};
  // The trainer reads the record service with the same TLS settings.
  if (!env.tls().ca_file.empty()) argv.push_back("--tls_ca=" + env.tls().ca_file);
  if (!env.tls().cert_file.empty()) argv.push_back("--tls_cert=" + env.tls().cert_file);
  if (!env.tls().key_file.empty()) argv.push_back("--tls_key=" + env.tls().key_file);
  if (!env.token_file().empty()) argv.push_back("--token_file=" + env.token_file());
  for (const std::string& p : a.positional) argv.push_back(p);  // after "--": trainer flags
  env.err() << "train: " << absl::StrJoin(argv, " ") << "\n" << std::flush;
  std::vector<char*> cargv;
  for (std::string& x : argv) cargv.push_back(x.data());
  cargv.push_back(nullptr);
  std::cout.flush();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  const absl::Time start = absl::Now();
  absl::Time last = start;
  int wstatus = 0;
  while (true) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) break;
    if (r < 0) return absl::InternalError("waitpid failed");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (absl::Now() - last >= absl::Seconds(5)) {
      last = absl::Now();
      env.err() << "train: running for " << ShortDuration(last - start) << "\n" << std::flush;
    }
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::InternalError(absl::StrFormat("trainer failed (%s %d) after %.1fs",
                                               WIFEXITED(wstatus) ? "exit" : "signal",
                                               WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus), secs));
  }
  env.err() << absl::StrFormat("train: done in %.1fs\n", secs);
  return absl::OkStatus();
}

void PrintModelStatus(Env& env, const v1::ModelStatus& m) {
  if (env.json()) {
    env.out() << ProtoJson(m) << "\n";
    return;
  }
  std::vector<std::string> versions;
  for (int64_t v : m.available_versions()) versions.push_back(std::to_string(v));
  std::vector<std::pair<std::string, std::string>> rows = {
      {"version", m.version() == 0 ? "none loaded" : std::to_string(m.version())},
      {"pinned", m.pinned() ? "yes" : "no"},
      {"loaded at", FormatTs(m.loaded_at())},
      {"items", std::to_string(m.item_count())},
      {"dimension", std::to_string(m.dimension())},
      {"index", m.index_kind()},
      {"available", absl::StrJoin(versions, ", ")},
      {"model dir", m.model_dir()},
      {"last error", m.last_error().empty() ? "" : absl::StrCat("version ", m.last_error_version(), ": ", m.last_error())},
  };
  for (const auto& [k, v] : rows) {
    if (!v.empty()) env.out() << PadToWidth(k, 12) << "  " << v << "\n";
  }
}

absl::Status CmdModel(Env& env, const std::string& sub) {
  const ParsedArgs& a = env.args();
  auto stub = env.Recommend();
  v1::ModelStatus m;
  grpc::Status g;
  if (sub == "status") {
    if (!a.positional.empty()) return Usage("usage: lifelong model status");
    g = stub->GetModelStatus(env.Call().get(), v1::GetModelStatusRequest(), &m);
  } else if (sub == "rollback" || sub == "pin") {
    int64_t version = 0;
    if (a.positional.size() == 1) {
      auto v = ParseIntFlag("version", a.positional[0]);
      if (!v.ok()) return AsUsage(v.status());
      version = *v;
    } else if (!a.positional.empty()) {
      return Usage(absl::StrCat("usage: lifelong model ", sub, " [VERSION]"));
    }
    if (version == 0 && sub == "pin") return Usage("usage: lifelong model pin VERSION");
    if (version == 0) {
      v1::ModelStatus cur;
      g = stub->GetModelStatus(env.Call().get(), v1::GetModelStatusRequest(), &cur);
      if (!g.ok()) return env.RpcError(Service::kRecommend, g);
      for (int64_t v : cur.available_versions()) {
        if (v < cur.version() && v > version) version = v;
      }
      if (version == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "no complete version older than the serving one (", cur.version(), ") to roll back to"));
      }
    }
    v1::PinModelVersionRequest req;
    req.set_version(version);
    g = stub->PinModelVersion(env.Call().get(), req, &m);
  } else if (sub == "unpin") {
    if (!a.positional.empty()) return Usage("usage: lifelong model unpin");
    g = stub->UnpinModelVersion(env.Call().get(), v1::UnpinModelVersionRequest(), &m);
  } else {
    return Usage(absl::StrCat("unknown model command '", sub, "' (status, rollback, pin, unpin)"));
  }
  if (!g.ok()) return env.RpcError(Service::kRecommend, g);
  PrintModelStatus(env, m);
  return absl::OkStatus();
}

absl::Status CmdHealth(Env& env) {
  const ParsedArgs& a = env.args();
  std::vector<Service> services;
  const std::vector<std::string> names =
      a.positional.empty() ? std::vector<std::string>{"records", "catalog", "recommend"} : a.positional;
  for (const std::string& n : names) {
    if (n == "records") {
      services.push_back(Service::kRecords);
    } else if (n == "catalog") {
      services.push_back(Service::kCatalog);
    } else if (n == "recommend") {
      services.push_back(Service::kRecommend);
    } else {
      return Usage(absl::StrCat("health: unknown service '", n, "' (records, catalog, recommend)"));
    }
  }
  int64_t wait_ms = 0;
  if (a.Has("wait")) {
    auto w = ParseDurationMsFlag("wait", a.Get("wait"));
    if (!w.ok()) return AsUsage(w.status());
    wait_ms = *w;
  }
  const absl::Time deadline = absl::Now() + absl::Milliseconds(wait_ms);
  std::vector<std::string> state(services.size());
  bool all = false;
  while (true) {
    all = true;
    for (size_t i = 0; i < services.size(); ++i) {
      const char* grpc_name = services[i] == Service::kRecords   ? "lifelong.v1.LearningRecordService"
                              : services[i] == Service::kCatalog ? "lifelong.v1.CourseCatalogService"
                                                                 : "lifelong.v1.RecommendationService";
      auto h = CheckHealth(env.Channel(services[i]), grpc_name,
                           std::chrono::milliseconds(std::min<int64_t>(env.timeout_ms(), 2000)));
      if (!h.ok()) {
        state[i] = absl::StatusCodeToString(h.status().code());
      } else {
        state[i] = *h == HealthState::kServing      ? "SERVING"
                   : *h == HealthState::kNotServing ? "NOT_SERVING"
                                                    : "UNKNOWN";
      }
      if (state[i] != "SERVING") all = false;
    }
    if (all || absl::Now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  if (env.json()) {
    Json j = Json::object();
    for (size_t i = 0; i < services.size(); ++i) {
      j[ServiceName(services[i])] = {{"address", env.Address(services[i])}, {"status", state[i]}};
    }
    env.out() << j.dump() << "\n";
  } else {
    TextTable t({"SERVICE", "ADDRESS", "STATUS"});
    for (size_t i = 0; i < services.size(); ++i) {
      t.AddRow({ServiceName(services[i]), env.Address(services[i]), state[i]});
    }
    env.out() << t.Render();
  }
  if (!all) {
    std::vector<std::string> bad;
    for (size_t i = 0; i < services.size(); ++i) {
      if (state[i] != "SERVING") bad.push_back(absl::StrCat(ServiceName(services[i]), " ", state[i]));
    }
    return absl::UnavailableError(absl::StrCat("not serving: ", absl::StrJoin(bad, ", ")));
  }
  return absl::OkStatus();
}

// ---------- command table ----------

// lifelong auth token: a development bearer token (docs/security.md).
absl::Status CmdAuthToken(Env& env) {
  const ParsedArgs& a = env.args();
  if (!a.Has("role") || !a.Has("subject")) {
    return Usage("usage: lifelong auth token --role ROLE --subject WHO [--venue V] [--courses c1,c2] [--ttl 1h] "
                 "[--key_file var/auth/jwt.key]");
  }
  std::optional<auth::Role> role = auth::RoleFromName(a.Get("role"));
  if (!role) return Usage(absl::StrCat("--role: unknown role ", a.Get("role")));
  auth::Principal p;
  p.role = *role;
  p.subject = a.Get("subject");
  if (a.Has("venue")) p.venue = a.Get("venue");
  if (p.role == auth::Role::kKiosk && p.venue.empty()) return Usage("--venue: required for kiosks");
  if (a.Has("courses")) p.courses = absl::StrSplit(a.Get("courses"), ',', absl::SkipEmpty());
  int64_t ttl_ms = 3600 * 1000;
  if (a.Has("ttl")) {
    auto ms = ParseDurationMsFlag("ttl", a.Get("ttl"));
    if (!ms.ok()) return AsUsage(ms.status());
    ttl_ms = *ms;
  }
  p.token_id = absl::StrCat(p.subject, "-", absl::ToUnixMicros(absl::Now()));
  absl::StatusOr<std::string> key = auth::LoadKeyFile(a.Has("key_file") ? a.Get("key_file") : "var/auth/jwt.key");
  if (!key.ok()) return key.status();
  auth::TokenOptions o;
  o.key = *key;
  LL_ASSIGN_OR_RETURN(std::string token, auth::MintToken(p, absl::Milliseconds(ttl_ms), o));
  env.out() << token << "\n";
  return absl::OkStatus();
}

// lifelong auth credential: a line for the xAPI credentials file
// (services/xapi/credentials.h) with a fresh random password.
absl::Status CmdAuthCredential(Env& env) {
  const ParsedArgs& a = env.args();
  if (!a.Has("user")) return Usage("usage: lifelong auth credential --user NAME [--role ROLE] [--subject WHO] [--venue V]");
  std::string role = a.Has("role") ? a.Get("role") : "loader";
  if (!auth::RoleFromName(role)) return Usage(absl::StrCat("--role: unknown role ", role));
  const std::string& user = a.Get("user");
  if (user.empty() || user.find_first_of(": \t") != std::string::npos) {
    return Usage("--user: must be non-empty, without ':' or spaces");
  }
  std::random_device rd;
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string password;
  for (int i = 0; i < 24; ++i) password.push_back(kAlphabet[rd() % (sizeof(kAlphabet) - 1)]);
  std::string line = absl::StrCat(user, ":", password, " role=", role);
  if (a.Has("subject")) absl::StrAppend(&line, " subject=", a.Get("subject"));
  if (a.Has("venue")) absl::StrAppend(&line, " venue=", a.Get("venue"));
  env.out() << line << "\n";
  return absl::OkStatus();
}

struct Command {
  std::string name;  // "history", "courses list"
  std::string synopsis;
  Service service;
  std::vector<FlagSpec> flags;
  std::function<absl::Status(Env&)> run;
};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"record", "record a statement from flags or JSON", Service::kRecords,
       {{"learner", true, "learner key, e.g. u000001"},
        {"verb", true, "registered|attended|completed|passed|failed|experienced|rated|bookmarked or IRI"},
        {"course", true, "course id (or activity IRI)"},
        {"title", true, "course title"},
        {"timestamp", true, "RFC 3339 time (default now)"},
        {"mode", true, "online|offline|blended"},
        {"xuequ", true, "school district (学区)"},
        {"jiedao", true, "sub-district (街道)"},
        {"venue", true, "venue id"},
        {"platform", true, "kiosk|app (default app)"},
        {"registration", true, "registration UUID"},
        {"credits", true, "credits earned"},
        {"hours", true, "hours"},
        {"score", true, "rating 1..5 (verb rated)"},
        {"id", true, "statement id (default: derived from the fields)"},
        {"statement", true, "a whole xAPI statement: JSON text, @file or - for stdin"}},
       CmdRecord},
      {"history", "LEARNER: a learner's statements, newest first", Service::kRecords,
       {{"verb", true, "only this verb"},
        {"course", true, "only this course id"},
        {"limit", true, "at most N statements (default 20)"},
        {"ascending", false, "oldest first"}},
       CmdHistory},
      {"transcript", "LEARNER: completed and passed courses with hours and credits", Service::kRecords, {},
       CmdTranscript},
      {"recommend", "[LEARNER]: course recommendations", Service::kRecommend,
       {{"k", true, "number of courses, 1..100 (default 10)", 'k'},
        {"kiosk", true, "kiosk venue id (channel kiosk)"},
        {"interests", true, "comma-separated categories (cold start, boost)"},
        {"age", true, "children|teens|adults|seniors"},
        {"location", true, "LAT,LNG of the learner"},
        {"mode", true, "filter: comma-separated online|offline|blended"},
        {"category", true, "filter: comma-separated categories"},
        {"xuequ", true, "filter: comma-separated 学区"},
        {"audience", true, "filter: comma-separated audiences"},
        {"near", true, "filter: LAT,LNG (with --within_km, default 3)"},
        {"within_km", true, "filter radius for --near"},
        {"open_now", false, "filter: enrolment open now"}},
       CmdRecommend},
      {"similar", "COURSE: courses similar to a course", Service::kRecommend,
       {{"k", true, "number of courses, 1..100 (default 10)", 'k'},
        {"mode", true, "filter: comma-separated online|offline|blended"},
        {"category", true, "filter: comma-separated categories"},
        {"xuequ", true, "filter: comma-separated 学区"},
        {"audience", true, "filter: comma-separated audiences"},
        {"near", true, "filter: LAT,LNG (with --within_km, default 3)"},
        {"within_km", true, "filter radius for --near"},
        {"open_now", false, "filter: enrolment open now"}},
       CmdSimilar},
      {"path", "LEARNER: a plan of courses toward a goal (programme, course or category)",
       Service::kRecommend,
       {{"programme", true, "goal: a programme id of the catalog (lifelong programmes list)"},
        {"course", true, "goal: reach this course"},
        {"category", true, "goal: reach the highest level offered in this category"},
        {"deadline", true, "every course ends by this date (YYYY-MM-DD, Beijing time)"},
        {"xuequ", true, "home 学区: offline courses only there (default: any)"},
        {"anywhere", false, "offline courses in every 学区"},
        {"online", false, "prefer online courses"},
        {"max", true, "at most N new courses (1..100, default 30)"}},
       CmdPath},
      {"programmes list", "the catalog's programmes (goals with credit rules)", Service::kCatalog, {},
       ProgrammesList},
      {"courses list", "list courses", Service::kCatalog,
       {{"category", true, "category, e.g. 书法"},
        {"xuequ", true, "学区 of the venue"},
        {"jiedao", true, "街道 of the venue"},
        {"venue", true, "venue id"},
        {"tag", true, "tag"},
        {"mode", true, "online|offline|blended"},
        {"level", true, "beginner|intermediate|advanced"},
        {"audience", true, "children|teens|adults|seniors"},
        {"state", true, "draft|open|closed|archived"},
        {"archived", false, "include archived courses"},
        {"seats", false, "only courses with seats left"},
        {"limit", true, "at most N courses (default 50, 0 = all)"}},
       CoursesList},
      {"courses get", "ID: one course in full", Service::kCatalog, {}, CoursesGet},
      {"courses put", "FILE|-: create or replace courses from Course JSON (object, array or lines)",
       Service::kCatalog, {}, CoursesPut},
      {"courses dump", "all open courses in the trainer's JSON-lines format", Service::kCatalog,
       {{"out", true, "write to FILE (atomically) instead of stdout"}}, CoursesDump},
      {"import", "FILE: import statements or interactions (JSON lines or CSV), resumable",
       Service::kRecords,
       {{"format", true, "jsonl|csv (default: by file name)"},
        {"verb", true, "verb of interaction lines without one (default completed)"},
        {"batch", true, "statements per RecordStatements call, 1..1000 (default 500)"},
        {"parallel", true, "calls in flight, 1..32 (default 4)"},
        {"checkpoint", true, "file recording the lines done; a re-run resumes after them"}},
       CmdImport},
      {"export", "statements as xAPI JSON lines (all, or one learner's)", Service::kRecords,
       {{"learner", true, "only this learner (ExportLearner)"},
        {"after", true, "start after this cursor"},
        {"limit", true, "at most N statements"},
        {"out", true, "write to FILE instead of stdout"}},
       CmdExport},
      {"erase-learner", "LEARNER --yes: erase every statement of a learner", Service::kRecords,
       {{"yes", false, "confirm"}}, CmdErase},
      {"train", "[-- TRAINER FLAGS]: dump the catalog and run the models trainer", Service::kRecords,
       {{"model_root", true, "model root (default var/models)"},
        {"catalog_dump", true, "where to write the catalog dump (default MODEL_ROOT/catalog.jsonl)"},
        {"trainer", true, "trainer binary (env LIFELONG_TRAINER; default bazel-bin/models/train)"}},
       CmdTrain},
      {"model status", "the serving model version and the versions on disk", Service::kRecommend, {},
       [](Env& e) { return CmdModel(e, "status"); }},
      {"model rollback", "[VERSION]: pin the previous (or the given) version", Service::kRecommend, {},
       [](Env& e) { return CmdModel(e, "rollback"); }},
      {"model pin", "VERSION: serve this version until unpinned", Service::kRecommend, {},
       [](Env& e) { return CmdModel(e, "pin"); }},
      {"model unpin", "serve the newest complete version again", Service::kRecommend, {},
       [](Env& e) { return CmdModel(e, "unpin"); }},
      {"auth token", "a development bearer token for a role (signed with the services' key)", Service::kNone,
       {{"role", true, "learner|kiosk|teacher|operator|trainer|recommender|loader"},
        {"subject", true, "who: a learner key (u000042) or an id (kiosk-hepingli-01)"},
        {"venue", true, "kiosks: their venue"},
        {"courses", true, "teachers: comma-separated course ids"},
        {"ttl", true, "validity (default 1h)"},
        {"key_file", true, "the services' --auth_key_file (default var/auth/jwt.key)"}},
       CmdAuthToken},
      {"auth credential", "a line for the xAPI credentials file, with a random password", Service::kNone,
       {{"user", true, "Basic user name"},
        {"role", true, "role of the user (default loader)"},
        {"subject", true, "learner key or id the user acts as (default the user name)"},
        {"venue", true, "kiosks: their venue"}},
       CmdAuthCredential},
      {"health", "[SERVICE...]: health of records, catalog, recommend", Service::kNone,
       {{"wait", true, "keep checking until all are SERVING or this long has passed (e.g. 60s)"}},
       CmdHealth},
  };
  return *commands;
}

std::string MainUsage() {
  std::string out =
      "usage: lifelong COMMAND [ARGS] [FLAGS]\n\n"
      "Client of the Dongcheng lifelong-learning network (records, catalog, recommend).\n\n"
      "commands:\n";
  for (const Command& c : Commands()) {
    std::string name = c.name;
    name.resize(std::max<size_t>(name.size(), 16), ' ');
    absl::StrAppend(&out, "  ", name, "  ", c.synopsis, "\n");
  }
  absl::StrAppend(&out, "\nflags of every command:\n", FlagHelp(GlobalFlags()),
                  "\nexit codes: 0 ok, 1 other error, 2 usage, 3 not found, 4 invalid argument, "
                  "5 unavailable\n'lifelong COMMAND --help' shows a command's flags.\n");
  return out;
}

}  // namespace

int RunCli(const std::vector<std::string>& args, const CliContext& ctx) {
  std::ostream& err = *ctx.err;
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : *ctx.out) << MainUsage();
    return args.empty() ? kExitUsage : kExitOk;
  }
  std::string name = args[0];
  size_t consumed = 1;
  if ((name == "courses" || name == "model" || name == "auth" || name == "programmes") && args.size() >= 2 &&
      args[1][0] != '-') {
    name = absl::StrCat(name, " ", args[1]);
    consumed = 2;
  }
  const Command* cmd = nullptr;
  for (const Command& c : Commands()) {
    if (c.name == name) cmd = &c;
  }
  if (cmd == nullptr) {
    err << "lifelong: unknown command '" << name << "' (see lifelong --help)\n";
    return kExitUsage;
  }
  std::vector<FlagSpec> specs = cmd->flags;
  specs.insert(specs.end(), GlobalFlags().begin(), GlobalFlags().end());
  auto parsed = ParseArgs(std::vector<std::string>(args.begin() + consumed, args.end()), specs);
  if (!parsed.ok()) {
    err << "lifelong " << name << ": " << parsed.status().message() << " (see lifelong " << name
        << " --help)\n";
    return kExitUsage;
  }
  if (parsed->GetBool("help")) {
    *ctx.out << "usage: lifelong " << name << " " << cmd->synopsis << "\n\nflags:\n"
             << FlagHelp(specs);
    return kExitOk;
  }
  Env env(ctx, std::move(*parsed), cmd->service);
  absl::Status s = env.Init();
  if (s.ok()) s = cmd->run(env);
  if (s.ok()) return kExitOk;
  if (IsUsage(s)) {
    err << "lifelong " << name << ": " << s.message() << "\n";
    return kExitUsage;
  }
  err << "lifelong " << name << ": " << absl::StatusCodeToString(s.code()) << ": " << s.message() << "\n";
  return ExitCodeFor(s.code());
}

std::map<std::string, std::string> LifelongEnv() {
  std::map<std::string, std::string> env;
  for (const char* n : {"LIFELONG_RECORDS", "LIFELONG_CATALOG", "LIFELONG_RECOMMEND", "LIFELONG_TRAINER",
                        "LIFELONG_TLS_CA", "LIFELONG_TLS_CERT", "LIFELONG_TLS_KEY", "LIFELONG_TOKEN",
                        "LIFELONG_TOKEN_FILE"}) {
    const char* v = std::getenv(n);
    if (v != nullptr) env[n] = v;
  }
  return env;
}

}  // namespace lifelong::cli
