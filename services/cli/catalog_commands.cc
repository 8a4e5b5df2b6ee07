// `lifelong` commands of the course catalog: programmes list, courses list/get/put/dump.
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
      table.AddRow({c.id(), c.title(), c.category(), LevelName(c.level()), ModeName(c.mode()), c.venue().xuequ(),
                    c.venue().name(), seats, Num(c.credits()), StateName(c.state())});
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
      {"sessions",
       c.sessions().empty() ? "" : absl::StrCat(c.sessions_size(), ", first ", FormatTs(c.sessions(0).start_time()))},
      {"enrolment",
       absl::StrCat(FormatTs(c.enrollment_open_time(), true), " .. ", FormatTs(c.enrollment_close_time(), true))},
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
  if (a.positional.size() != 1)
    return Usage("usage: lifelong courses put FILE|-  (Course JSON, one object or JSON lines)");
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
      return absl::InvalidArgumentError(
          absl::StrCat("course ", i + 1, ": not a Course JSON: ", ps.message().as_string()));
    }
    if (c.id().empty())
      return absl::InvalidArgumentError(absl::StrCat("course ", i + 1, ": course.id: must not be empty"));
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
      // A file that carries an etag (from `courses get --json`) replaces only
      // the revision it was read from: a newer one is ABORTED, not silently
      // overwritten. Without one the current revision is replaced. Either
      // way seats_taken, the enrolment count, is kept unless the file names it.
      v1::UpdateCourseRequest req;
      *req.mutable_course() = c;
      if (c.etag().empty()) req.mutable_course()->set_etag(existing.etag());
      const Json doc = Json::parse(docs[i], nullptr, false);
      if (!doc.is_object() || (!doc.contains("seatsTaken") && !doc.contains("seats_taken"))) {
        req.mutable_course()->set_seats_taken(existing.seats_taken());
      }
      req.mutable_update_mask()->add_paths("*");
      g = stub->UpdateCourse(env.Call().get(), req, &result);
      if (g.error_code() == grpc::StatusCode::ABORTED && !c.etag().empty()) {
        return absl::AbortedError(absl::StrCat("course ", i + 1, " (", c.id(),
                                               "): changed since the file was read (its etag is not the current "
                                               "one); get it again, or remove \"etag\" to replace it anyway"));
      }
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

}  // namespace lifelong::cli
