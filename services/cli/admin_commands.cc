// `lifelong` commands that are not one service's: health, auth token, auth credential.
#include "services/cli/commands.h"

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
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/token.h"
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
  // --server is one service's address: it was accepted and ignored, and the
  // default or load-balanced address answered SERVING for the node asked about.
  if (a.Has("server")) {
    if (services.size() != 1) {
      return Usage(
          "health: --server is the address of one service: name that service (lifelong health records --server "
          "ADDR), or give --records, --catalog, --recommend");
    }
    env.set_primary(services[0]);
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
        state[i] = *h == HealthState::kServing ? "SERVING" : *h == HealthState::kNotServing ? "NOT_SERVING" : "UNKNOWN";
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

// lifelong auth token: a development bearer token (docs/security.md).
absl::Status CmdAuthToken(Env& env) {
  const ParsedArgs& a = env.args();
  if (!a.Has("role") || !a.Has("subject")) {
    return Usage(
        "usage: lifelong auth token --role ROLE --subject WHO [--venue V] [--courses c1,c2] [--ttl 1h] "
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
  if (!a.Has("user"))
    return Usage("usage: lifelong auth credential --user NAME [--role ROLE] [--subject WHO] [--venue V]");
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

}  // namespace lifelong::cli
