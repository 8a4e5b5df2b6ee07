#include "services/cli/card_commands.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/cli/text_table.h"

namespace lifelong::cli {
namespace {

std::string Json(const google::protobuf::Message& m) {
  std::string s;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &s, o);
  return s;
}

std::string When(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(ts.seconds()), absl::FixedTimeZone(8 * 3600));
}

absl::Status Print(const CardCommandEnv& env, const v1::LearnerCard& c, absl::string_view what) {
  if (env.json) {
    *env.out << Json(c) << "\n";
    return absl::OkStatus();
  }
  std::string state = c.blocked()            ? "blocked (bind again with a new PIN)"
                      : c.has_locked_until() ? absl::StrCat("locked until ", When(c.locked_until()))
                                             : "active";
  TextTable t({"CARD", "LEARNER", "BOUND", "WRONG PINS", "STATE"});
  t.AddRow({c.card_number(), c.learner(), When(c.bound_time()), absl::StrCat(c.failed_attempts()), state});
  if (!what.empty()) *env.out << what << "\n";
  *env.out << t.Render();
  return absl::OkStatus();
}

absl::Status OneCard(const CardCommandEnv& env, const char* usage) {
  if (env.args->positional.size() != 1) return env.usage(usage);
  return absl::OkStatus();
}

}  // namespace

std::vector<FlagSpec> CardBindFlags() {
  return {{"learner", true, "learner key the card belongs to, e.g. u000042"},
          {"pin", true,
           "the PIN the learner chose, 4 to 6 digits; '-' reads it from a line of stdin "
           "(keeps it out of the shell history and of other local users' `ps`: prefer it)"}};
}

std::vector<FlagSpec> CardUnbindFlags() { return {{"yes", false, "confirm"}}; }

absl::Status CardBind(const CardCommandEnv& env) {
  const ParsedArgs& a = *env.args;
  constexpr char kUsage[] = "usage: lifelong card bind CARD --learner LEARNER --pin PIN|-";
  if (auto s = OneCard(env, kUsage); !s.ok()) return s;
  if (!a.Has("learner") || !a.Has("pin")) return env.usage(kUsage);
  std::string pin = a.Get("pin");
  if (pin == "-") {
    if (env.in == nullptr || !std::getline(*env.in, pin)) return env.usage("--pin -: no line on stdin");
    pin = std::string(absl::StripAsciiWhitespace(pin));
  }
  v1::BindLearnerCardRequest req;
  req.set_card_number(a.positional[0]);
  req.set_learner(a.Get("learner"));
  req.set_pin(pin);
  v1::LearnerCard c;
  grpc::Status g = env.records()->BindLearnerCard(env.call().get(), req, &c);
  if (!g.ok()) return env.rpc_error(g);
  return Print(env, c, "bound:");
}

absl::Status CardUnbind(const CardCommandEnv& env) {
  constexpr char kUsage[] = "usage: lifelong card unbind CARD --yes";
  if (auto s = OneCard(env, kUsage); !s.ok()) return s;
  if (!env.args->GetBool("yes")) {
    return env.usage("card unbind: the card stops working at every kiosk; add --yes to confirm");
  }
  v1::UnbindLearnerCardRequest req;
  req.set_card_number(env.args->positional[0]);
  v1::LearnerCard c;
  grpc::Status g = env.records()->UnbindLearnerCard(env.call().get(), req, &c);
  if (!g.ok()) return env.rpc_error(g);
  return Print(env, c, "unbound:");
}

absl::Status CardStatus(const CardCommandEnv& env) {
  if (auto s = OneCard(env, "usage: lifelong card status CARD"); !s.ok()) return s;
  v1::GetLearnerCardRequest req;
  req.set_card_number(env.args->positional[0]);
  v1::LearnerCard c;
  grpc::Status g = env.records()->GetLearnerCard(env.call().get(), req, &c);
  if (!g.ok()) return env.rpc_error(g);
  return Print(env, c, "");
}

}  // namespace lifelong::cli
