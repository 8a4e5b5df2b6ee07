#include "services/cli/cli.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/cli/args.h"
#include "services/cli/card_commands.h"
#include "services/cli/cli_env.h"
#include "services/cli/commands.h"
#include "services/cli/exit_codes.h"

namespace lifelong::cli {
namespace {

// The learner-card commands live in card_commands.cc; this adapts Env.
std::function<absl::Status(Env&)> CardCommand(absl::Status (*run)(const CardCommandEnv&)) {
  return [run](Env& env) {
    CardCommandEnv c;
    c.args = &env.args();
    c.json = env.json();
    c.out = &env.out();
    c.in = &std::cin;
    c.records = [&env] { return env.Records(); };
    c.call = [&env] { return env.Call(); };
    c.rpc_error = [&env](const grpc::Status& g) { return env.RpcError(Service::kRecords, g); };
    c.usage = [](absl::string_view m) { return Usage(m); };
    return run(c);
  };
}

// ---------- command table ----------

struct Command {
  std::string name;  // "history", "courses list"
  std::string synopsis;
  Service service;
  std::vector<FlagSpec> flags;
  std::function<absl::Status(Env&)> run;
  // When set, the service the command talks to (the one --server names)
  // comes from its flags instead of `service`.
  Service (*service_from_flags)(const ParsedArgs&) = nullptr;
};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"record",
       "record a statement from flags or JSON",
       Service::kRecords,
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
      {"history",
       "LEARNER: a learner's statements, newest first",
       Service::kRecords,
       {{"verb", true, "only this verb"},
        {"course", true, "only this course id"},
        {"limit", true, "at most N statements (default 20)"},
        {"ascending", false, "oldest first"}},
       CmdHistory},
      {"transcript",
       "LEARNER: completed and passed courses with hours and credits",
       Service::kRecords,
       {},
       CmdTranscript},
      {"recommend",
       "[LEARNER]: course recommendations",
       Service::kRecommend,
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
      {"similar",
       "COURSE: courses similar to a course",
       Service::kRecommend,
       {{"k", true, "number of courses, 1..100 (default 10)", 'k'},
        {"mode", true, "filter: comma-separated online|offline|blended"},
        {"category", true, "filter: comma-separated categories"},
        {"xuequ", true, "filter: comma-separated 学区"},
        {"audience", true, "filter: comma-separated audiences"},
        {"near", true, "filter: LAT,LNG (with --within_km, default 3)"},
        {"within_km", true, "filter radius for --near"},
        {"open_now", false, "filter: enrolment open now"}},
       CmdSimilar},
      {"path",
       "LEARNER: a plan of courses toward a goal (programme, course or category)",
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
      {"programmes list", "the catalog's programmes (goals with credit rules)", Service::kCatalog, {}, ProgrammesList},
      {"courses list",
       "list courses",
       Service::kCatalog,
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
      {"courses put",
       "FILE|-: create or replace courses from Course JSON (object, array or lines)",
       Service::kCatalog,
       {},
       CoursesPut},
      {"courses dump",
       "all open courses in the trainer's JSON-lines format",
       Service::kCatalog,
       {{"out", true, "write to FILE (atomically) instead of stdout"}},
       CoursesDump},
      {"import",
       "FILE: import statements or interactions (JSON lines or CSV), resumable",
       Service::kRecords,
       {{"format", true, "jsonl|csv (default: by file name)"},
        {"verb", true, "verb of interaction lines without one (default completed)"},
        {"batch", true, "statements per RecordStatements call, 1..1000 (default 500)"},
        {"parallel", true, "calls in flight, 1..32 (default 4)"},
        {"checkpoint", true, "file recording the lines done; a re-run resumes after them"}},
       CmdImport},
      {"export",
       "statements as xAPI JSON lines (all, or one learner's)",
       Service::kRecords,
       {{"learner", true, "only this learner (ExportLearner)"},
        {"after", true, "start after this cursor"},
        {"limit", true, "at most N statements"},
        {"out", true, "write to FILE instead of stdout"},
        {"allow_stale", false,
         "operators, recovery: read a replicated node that does not apply the log (docs/replication.md)"}},
       CmdExport},
      {"erase-learner",
       "LEARNER --yes: erase every statement of a learner",
       Service::kRecords,
       {{"yes", false, "confirm"},
        {"no_wait_purge", false,
         "answer once the statements are gone from every read; their purge from the store's files goes on in the "
         "background (default: wait for it too)"}},
       CmdErase},
      {"train",
       "[-- TRAINER FLAGS]: dump the catalog and run the models trainer (--every: on a schedule)",
       Service::kRecords,
       {{"model_root", true, "model root (default var/models)"},
        {"catalog_dump", true, "where to write the catalog dump (default MODEL_ROOT/catalog.jsonl)"},
        {"trainer", true, "trainer binary (env LIFELONG_TRAINER; default bazel-bin/models/train)"},
        {"every", true,
         "keep running: retrain when the newest model is this old (e.g. 24h), and after every erasure "
         "(docs/recommend.md \"Scheduled retraining\"); stop with SIGTERM"},
        {"check_every", true, "with --every: how often to look at the models and the erasure epoch (default 1m)"},
        {"training_share", true,
         "with --every: at most this share of the time is spent training (default 0.25): after a training that "
         "took T the next waits 3T, however many erasures come"},
        {"nice", true, "CPU niceness of the training, 0..19 (default 10: the services come first)"}},
       CmdTrain},
      {"model status",
       "the serving model version and the versions on disk",
       Service::kRecommend,
       {},
       [](Env& e) { return CmdModel(e, "status"); }},
      {"model rollback",
       "[VERSION]: pin the previous (or the given) version",
       Service::kRecommend,
       {},
       [](Env& e) { return CmdModel(e, "rollback"); }},
      {"model pin",
       "VERSION: serve this version until unpinned",
       Service::kRecommend,
       {},
       [](Env& e) { return CmdModel(e, "pin"); }},
      {"model unpin",
       "serve the newest complete version again",
       Service::kRecommend,
       {},
       [](Env& e) { return CmdModel(e, "unpin"); }},
      {"auth token",
       "a development bearer token for a role (signed with the services' key)",
       Service::kNone,
       {{"role", true, "learner|kiosk|teacher|operator|trainer|recommender|loader"},
        {"subject", true, "who: a learner key (u000042) or an id (kiosk-hepingli-01)"},
        {"venue", true, "kiosks: their venue"},
        {"courses", true, "teachers: comma-separated course ids"},
        {"ttl", true, "validity (default 1h)"},
        {"key_file", true, "the signing key: the record service's --auth_key_file (default var/auth/jwt.key)"}},
       CmdAuthToken},
      {"auth credential",
       "a line for the xAPI credentials file, with a random password",
       Service::kNone,
       {{"user", true, "Basic user name"},
        {"role", true, "role of the user (default loader)"},
        {"subject", true, "learner key or id the user acts as (default the user name)"},
        {"venue", true, "kiosks: their venue"}},
       CmdAuthCredential},
      {"backup create",
       "back up the record store and the xAPI documents (or --service=catalog: the catalog) now (operators)",
       Service::kRecords,
       {BackupServiceFlag()},
       CmdBackupCreate,
       BackupServiceOf},
      {"backup list",
       "the record service's (or --service=catalog: the catalog's) backups (operators)",
       Service::kRecords,
       {BackupServiceFlag()},
       CmdBackupList,
       BackupServiceOf},
      {"backup verify",
       "ID: re-read a backup and check every checksum (operators)",
       Service::kRecords,
       {BackupServiceFlag()},
       CmdBackupVerify,
       BackupServiceOf},
      {"backup restore",
       "ID|latest --data_dir DIR: restore a backup into an empty directory (offline, local)",
       Service::kNone,
       {BackupServiceFlag(),
        {"data_dir", true, "the store directory to restore into (must be empty unless --force)"},
        {"backup_dir", true, "the backup directory (default: DIR-backups beside --data_dir DIR)"},
        {"xapi_documents_dir", true, "records: also restore the xAPI documents into this directory"},
        {"force", false, "replace a non-empty --data_dir (never one a running server holds)"},
        {"discard_newer", false,
         "records, single node: restore even though --data_dir holds statements recorded after the backup (they "
         "are lost)"}},
       CmdBackupRestore},
      {"card bind", "CARD --learner L --pin PIN|-: bind a learner card (kiosk sign-in with card + PIN)",
       Service::kRecords, CardBindFlags(), CardCommand(CardBind)},
      {"card unbind", "CARD --yes: remove a card's binding (a lost card)", Service::kRecords, CardUnbindFlags(),
       CardCommand(CardUnbind)},
      {"card status",
       "CARD: a card's learner, wrong PINs in a row, lock state",
       Service::kRecords,
       {},
       CardCommand(CardStatus)},
      {"health",
       "[SERVICE...]: health of records, catalog, recommend",
       Service::kNone,
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
  if ((name == "courses" || name == "model" || name == "auth" || name == "programmes" || name == "backup" ||
       name == "card") &&
      args.size() >= 2 && args[1][0] != '-') {
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
    err << "lifelong " << name << ": " << parsed.status().message() << " (see lifelong " << name << " --help)\n";
    return kExitUsage;
  }
  if (parsed->GetBool("help")) {
    *ctx.out << "usage: lifelong " << name << " " << cmd->synopsis << "\n\nflags:\n" << FlagHelp(specs);
    return kExitOk;
  }
  const Service service = cmd->service_from_flags ? cmd->service_from_flags(*parsed) : cmd->service;
  Env env(ctx, std::move(*parsed), service);
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
  for (const char* n :
       {"LIFELONG_RECORDS", "LIFELONG_CATALOG", "LIFELONG_RECOMMEND", "LIFELONG_TRAINER", "LIFELONG_TLS_CA",
        "LIFELONG_TLS_CERT", "LIFELONG_TLS_KEY", "LIFELONG_TOKEN", "LIFELONG_TOKEN_FILE"}) {
    const char* v = std::getenv(n);
    if (v != nullptr) env[n] = v;
  }
  return env;
}

}  // namespace lifelong::cli
