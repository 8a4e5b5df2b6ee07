// Internals of the `lifelong` CLI shared by its command files: the Env a
// command runs in (flags, addresses, channels, deadlines, output), usage
// errors, and formatting helpers. Not a public API: only services/cli uses it.
#ifndef LIFELONG_SERVICES_CLI_CLI_ENV_H_
#define LIFELONG_SERVICES_CLI_CLI_ENV_H_

#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/outgoing_token.h"
#include "services/auth/token_file.h"
#include "services/cli/args.h"
#include "services/cli/cli.h"
#include "services/common/grpc_status.h"
#include "services/common/grpc_tls.h"

namespace lifelong::cli {

namespace v1 = ::lifelong::v1;
using Json = nlohmann::ordered_json;

// A usage error: INVALID_ARGUMENT marked so that RunCli prints it without a
// code and exits with kExitUsage.
absl::Status Usage(absl::string_view message);
bool IsUsage(const absl::Status& s);
// Wraps a status from flag parsing helpers as a usage error (OK stays OK).
absl::Status AsUsage(const absl::Status& s);

// The flags every command accepts.
const std::vector<FlagSpec>& GlobalFlags();

enum class Service { kNone, kRecords, kCatalog, kRecommend };

// "records" | "catalog" | "recommend" | "".
const char* ServiceName(Service s);

// What one running command needs: parsed flags, addresses, deadlines, output.
// Not thread-safe (channels are created lazily); Call() and RpcError() may be
// used from several threads.
class Env {
 public:
  Env(const CliContext& ctx, ParsedArgs args, Service primary) : ctx_(ctx), args_(std::move(args)), primary_(primary) {}

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
    // else the token in $LIFELONG_TOKEN. A token file is followed: a command
    // that runs for long (`train --every`) sends the file's current token,
    // read again when the file is replaced (ops/stack.sh re-mints the
    // trainer's token every day; services/auth/token_file.h).
    token_file_ = Setting("token_file");
    if (!token_file_.empty()) {
      absl::StatusOr<std::shared_ptr<auth::TokenFile>> file = auth::TokenFile::Open(token_file_);
      if (!file.ok()) return AsUsage(absl::InvalidArgumentError(file.status().message()));
      token_ = auth::OutgoingToken(std::shared_ptr<const auth::TokenFile>(*std::move(file)));
    } else {
      token_ = auth::OutgoingToken(Setting("token"));
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

  // A command that talks to a service chosen by its arguments (`health
  // records`): --server then addresses that one. Before any channel is made.
  void set_primary(Service s) { primary_ = s; }

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

  // A client context with the unary (or stream) deadline and the current token.
  std::unique_ptr<grpc::ClientContext> Call(bool stream = false) const {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(stream ? stream_timeout_ms_ : timeout_ms_));
    token_.AttachTo(c.get());
    return c;
  }

  // An RPC failure, with the service and address named, and for a refused
  // token which token was sent and how to send another.
  absl::Status RpcError(Service s, const grpc::Status& g) const {
    absl::Status st = FromGrpcStatus(g);
    std::string hint;
    const std::string how = "give one with --token_file, $LIFELONG_TOKEN_FILE or $LIFELONG_TOKEN (docs/cli.md)";
    if (st.code() == absl::StatusCode::kPermissionDenied) {
      hint = absl::StrCat("; the token sent (", TokenSource(),
                          ") may not do this: a learner's records need that learner's or a teacher's token, "
                          "operations an operator's; ",
                          how);
    } else if (st.code() == absl::StatusCode::kUnauthenticated) {
      const std::string source = TokenSource();
      hint = source == "none" ? absl::StrCat("; no token was sent: ", how)
                              : absl::StrCat("; the token sent (", source,
                                             ") was refused (expired, revoked, or for another deployment): ", how);
    }
    return absl::Status(st.code(), absl::StrCat(st.message(), " (", ServiceName(s), " at ", Address(s), ")", hint));
  }

 private:
  // Where the bearer token comes from, for messages: "file F", "$LIFELONG_TOKEN"
  // or "none".
  std::string TokenSource() const {
    if (!token_file_.empty()) return absl::StrCat("file ", token_file_);
    return Setting("token").empty() ? "none" : "$LIFELONG_TOKEN";
  }

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
  auth::OutgoingToken token_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_ = grpc::InsecureChannelCredentials();
  std::shared_ptr<grpc::Channel> channels_[4];
};

// ---------- formatting helpers ----------

const absl::TimeZone& Beijing();
// A timestamp in Beijing time (the date only when `date_only`).
std::string FormatTs(const google::protobuf::Timestamp& ts, bool date_only = false);
std::string Num(double v);
std::string ProtoJson(const google::protobuf::Message& m);
// Course enum names and flag parsers (the catalog's one table, course_enums.h).
std::string ModeName(v1::Course::Mode m);
std::string LevelName(v1::Course::Level l);
std::string AudienceName(int a);
std::string StateName(v1::Course::State s);
absl::StatusOr<v1::Course::Mode> ParseMode(const std::string& flag, const std::string& v);
absl::StatusOr<v1::Course::Level> ParseLevel(const std::string& v);
absl::StatusOr<v1::Course::Audience> ParseAudience(const std::string& flag, const std::string& v);
absl::StatusOr<v1::Course::State> ParseState(const std::string& v);
std::vector<std::string> CommaList(const std::string& v);
absl::StatusOr<std::string> ReadTextArg(const std::string& flag, const std::string& v);
std::string StatementTitle(const std::string& json);
std::string StatementExt(const std::string& json, absl::string_view ext);
std::string CourseLabel(const std::string& activity);
// Writes `path` through a new `path`.XXXXXX.tmp (mode 0600, fsynced) and a
// rename, so readers never see half a file. When `fill` or a write fails,
// the temporary file is removed and an existing `path` is left as it was.
absl::Status WriteFileAtomically(const std::string& path, const std::function<absl::Status(std::ostream&)>& fill);

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_CLI_ENV_H_
