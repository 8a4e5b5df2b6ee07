// `lifelong backup create|list|verify|restore` (docs/records.md and
// docs/catalog.md, "Backups"): the first three call the record service, or
// the catalog with --service=catalog (operators); restore runs offline in
// this process on a stopped server's directory.
#include <cstdint>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/catalog/catalog_backups.h"
#include "services/cli/args.h"
#include "services/cli/cli_env.h"
#include "services/cli/commands.h"
#include "services/cli/text_table.h"
#include "services/common/status_macros.h"
#include "services/records/backups.h"

namespace lifelong::cli {

// ---------- backups (docs/records.md, "Backups") ----------

namespace {

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrCat(n, " B") : absl::StrFormat("%.1f %s", v, units[u]);
}

std::string Rfc3339(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3S+08:00", absl::FromUnixMicros(micros), Beijing());
}

int64_t MicrosOf(const google::protobuf::Timestamp& ts) { return ts.seconds() * 1000000 + ts.nanos() / 1000; }

Json BackupJson(const v1::Backup& b) {
  return Json{{"backup_id", b.backup_id()},         {"created", Rfc3339(MicrosOf(b.create_time()))},
              {"size_bytes", b.size_bytes()},       {"files", b.files()},
              {"applied_seq", b.applied_seq()},     {"statements", b.statements()},
              {"erasure_epoch", b.erasure_epoch()}, {"documents", b.has_documents()}};
}

void PrintBackups(Env& env, const std::vector<v1::Backup>& backups) {
  if (env.json()) {
    for (const v1::Backup& b : backups) env.out() << BackupJson(b).dump() << "\n";
    return;
  }
  TextTable t({"ID", "CREATED (UTC+8)", "SIZE", "STATEMENTS", "LOG POSITION", "DOCUMENTS"});
  t.AlignRight(0);
  t.AlignRight(2);
  t.AlignRight(3);
  t.AlignRight(4);
  for (const v1::Backup& b : backups) {
    t.AddRow({absl::StrCat(b.backup_id()),
              absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMicros(MicrosOf(b.create_time())), Beijing()),
              HumanBytes(b.size_bytes()), absl::StrCat(b.statements()), absl::StrCat(b.applied_seq()),
              b.has_documents() ? "yes" : "no"});
  }
  env.out() << t.Render();
}

// ---- the catalog's backups (--service=catalog) ----

Json CatalogBackupJson(const v1::CatalogBackup& b) {
  return Json{{"service", "catalog"},
              {"backup_id", b.backup_id()},
              {"created", Rfc3339(MicrosOf(b.create_time()))},
              {"size_bytes", b.size_bytes()},
              {"files", b.files()},
              {"generation", b.generation()},
              {"courses", b.course_count()},
              {"archived_courses", b.archived_count()},
              {"programmes", b.programme_count()}};
}

void PrintCatalogBackups(Env& env, const std::vector<v1::CatalogBackup>& backups) {
  if (env.json()) {
    for (const v1::CatalogBackup& b : backups) env.out() << CatalogBackupJson(b).dump() << "\n";
    return;
  }
  TextTable t({"ID", "CREATED (UTC+8)", "SIZE", "COURSES", "PROGRAMMES", "GENERATION"});
  for (int column : {0, 2, 3, 4, 5}) t.AlignRight(column);
  for (const v1::CatalogBackup& b : backups) {
    t.AddRow({absl::StrCat(b.backup_id()),
              absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMicros(MicrosOf(b.create_time())), Beijing()),
              HumanBytes(b.size_bytes()), absl::StrCat(b.course_count()), absl::StrCat(b.programme_count()),
              absl::StrCat(b.generation())});
  }
  env.out() << t.Render();
}

// What every restore prints about directories it did not or could not touch.
void PrintRestoreLeftovers(Env& env, const std::vector<std::string>& not_removed,
                           const std::vector<std::string>& leftovers) {
  for (const std::string& dir : not_removed) {
    env.out() << "the replaced data could not be deleted: " << dir << " (the previous contents of the directory; "
              << "delete it once the server runs on the restored one)\n";
  }
  if (!leftovers.empty()) {
    env.out() << "left beside the target by an earlier, interrupted restore (not touched; DIR.restoring-*: a copy "
                 "never moved into place, DIR.replaced-*: the store a restore replaced; delete them once you no "
                 "longer need them):\n";
    for (const std::string& dir : leftovers) env.out() << "  " << dir << "\n";
  }
}

// --service: records (default) or catalog; anything else is a usage error.
absl::StatusOr<Service> BackupServiceArg(const ParsedArgs& a) {
  if (!a.Has("service") || a.Get("service") == "records") return Service::kRecords;
  if (a.Get("service") == "catalog") return Service::kCatalog;
  return Usage(absl::StrCat("--service: records or catalog, not '", a.Get("service"), "'"));
}

absl::StatusOr<uint32_t> BackupIdArg(const ParsedArgs& a, absl::string_view usage) {
  uint32_t id = 0;
  if (a.positional.size() != 1) return Usage(usage);
  if (!absl::SimpleAtoi(a.positional[0], &id) || id == 0) {
    return Usage(absl::StrCat("ID: not a backup id (a positive number from lifelong backup list): ", a.positional[0]));
  }
  return id;
}

absl::Status CatalogBackupCreate(Env& env) {
  v1::CatalogBackup b;
  grpc::Status g = env.Catalog()->CreateBackup(env.Call(/*stream=*/true).get(), v1::CreateCatalogBackupRequest(), &b);
  if (!g.ok()) return env.RpcError(Service::kCatalog, g);
  if (env.json()) {
    env.out() << CatalogBackupJson(b).dump() << "\n";
  } else {
    env.out() << "catalog backup " << b.backup_id() << " created: " << b.course_count() << " course(s), "
              << b.programme_count() << " programme(s), " << HumanBytes(b.size_bytes()) << ", generation "
              << b.generation() << "\n";
  }
  return absl::OkStatus();
}

absl::Status CatalogBackupList(Env& env) {
  v1::ListCatalogBackupsResponse resp;
  grpc::Status g = env.Catalog()->ListBackups(env.Call().get(), v1::ListCatalogBackupsRequest(), &resp);
  if (!g.ok()) return env.RpcError(Service::kCatalog, g);
  if (resp.backups().empty() && !env.json()) {
    env.out() << "no catalog backups yet (lifelong backup create --service=catalog)\n";
    return absl::OkStatus();
  }
  PrintCatalogBackups(env, {resp.backups().begin(), resp.backups().end()});
  return absl::OkStatus();
}

absl::Status CatalogBackupVerify(Env& env, uint32_t id) {
  v1::VerifyCatalogBackupRequest req;
  req.set_backup_id(id);
  v1::CatalogBackup b;
  grpc::Status g = env.Catalog()->VerifyBackup(env.Call(/*stream=*/true).get(), req, &b);
  if (!g.ok()) return env.RpcError(Service::kCatalog, g);
  if (env.json()) {
    Json j = CatalogBackupJson(b);
    j["verified"] = true;
    env.out() << j.dump() << "\n";
  } else {
    env.out() << "catalog backup " << id << " verified: " << b.files() << " file(s), " << HumanBytes(b.size_bytes())
              << ", every checksum matches\n";
  }
  return absl::OkStatus();
}

// Offline, in this process: restores a catalog backup into --data_dir.
absl::Status CatalogBackupRestore(Env& env, uint32_t id) {
  const ParsedArgs& a = env.args();
  if (a.Has("xapi_documents_dir")) {
    return Usage("--xapi_documents_dir: only for the records (the catalog has no xAPI documents)");
  }
  catalog::CatalogRestoreRequest r;
  r.backup_id = id;  // 0: the newest
  r.data_dir = a.Get("data_dir");
  r.backup_dir = a.Has("backup_dir") ? a.Get("backup_dir") : storage::DefaultBackupDir(r.data_dir);
  r.force = a.GetBool("force");
  LL_ASSIGN_OR_RETURN(catalog::CatalogRestoreResult res, catalog::RestoreCatalogBackup(r));
  if (env.json()) {
    env.out() << Json{{"service", "catalog"},
                      {"backup_id", res.backup.id},
                      {"created", Rfc3339(res.backup.created_us)},
                      {"data_dir", r.data_dir},
                      {"generation", res.generation},
                      {"courses", res.courses},
                      {"archived_courses", res.archived},
                      {"programmes", res.programmes},
                      {"applied_seq", res.applied_log_seq},
                      {"not_removed", res.not_removed},
                      {"leftovers", res.leftovers}}
                     .dump()
              << "\n";
    return absl::OkStatus();
  }
  env.out() << "restored catalog backup " << res.backup.id << " (taken " << Rfc3339(res.backup.created_us) << ") into "
            << r.data_dir << ": " << res.courses << " course(s) (" << res.archived << " archived), " << res.programmes
            << " programme(s), generation " << res.generation << "\n";
  if (res.applied_log_seq > 0) {
    // A replicated node's backup: the log holds every write after it.
    env.out() << "a replicated node's backup at log position " << res.applied_log_seq
              << ": it catches up from the log when started with it\n";
    PrintRestoreLeftovers(env, res.not_removed, res.leftovers);
    env.out() << "next: start the node on it with its usual flags, e.g.\n  catalog_server --data_dir=" << r.data_dir
              << " --backup_dir=" << r.backup_dir << " --replication_nats=<the cluster's NATS servers> ...\n";
    return absl::OkStatus();
  }
  env.out() << "lost: every catalog write after the backup started (courses, seats, programmes); re-enter them\n";
  PrintRestoreLeftovers(env, res.not_removed, res.leftovers);
  env.out() << "next: start the server on it with its usual flags (authentication, TLS, ports, as before), e.g.\n"
            << "  catalog_server --data_dir=" << r.data_dir << " --backup_dir=" << r.backup_dir << " ...\n"
            << "  (under ops/stack.sh: ops/stack.sh down; mv var/catalog var/catalog.old; mv " << r.data_dir
            << " var/catalog; ops/stack.sh up)\n";
  return absl::OkStatus();
}

}  // namespace

FlagSpec BackupServiceFlag() { return {"service", true, "records (default) or catalog: whose backups"}; }

Service BackupServiceOf(const ParsedArgs& args) {
  absl::StatusOr<Service> s = BackupServiceArg(args);
  return s.ok() ? *s : Service::kRecords;
}

// lifelong backup create: CreateBackup on the record service (or the catalog).
absl::Status CmdBackupCreate(Env& env) {
  if (!env.args().positional.empty()) return Usage("usage: lifelong backup create [--service=records|catalog]");
  LL_ASSIGN_OR_RETURN(Service service, BackupServiceArg(env.args()));
  if (service == Service::kCatalog) return CatalogBackupCreate(env);
  v1::Backup b;
  grpc::Status g = env.Records()->CreateBackup(env.Call(/*stream=*/true).get(), v1::CreateBackupRequest(), &b);
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (env.json()) {
    env.out() << BackupJson(b).dump() << "\n";
  } else {
    env.out() << "backup " << b.backup_id() << " created: " << b.statements() << " statement(s), "
              << HumanBytes(b.size_bytes()) << ", log position " << b.applied_seq()
              << (b.has_documents() ? ", with the xAPI documents" : ", without the xAPI documents") << "\n";
  }
  return absl::OkStatus();
}

absl::Status CmdBackupList(Env& env) {
  if (!env.args().positional.empty()) return Usage("usage: lifelong backup list [--service=records|catalog]");
  LL_ASSIGN_OR_RETURN(Service service, BackupServiceArg(env.args()));
  if (service == Service::kCatalog) return CatalogBackupList(env);
  v1::ListBackupsResponse resp;
  grpc::Status g = env.Records()->ListBackups(env.Call().get(), v1::ListBackupsRequest(), &resp);
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (resp.backups().empty() && !env.json()) {
    env.out() << "no backups yet (lifelong backup create)\n";
    return absl::OkStatus();
  }
  PrintBackups(env, {resp.backups().begin(), resp.backups().end()});
  return absl::OkStatus();
}

absl::Status CmdBackupVerify(Env& env) {
  LL_ASSIGN_OR_RETURN(uint32_t id,
                      BackupIdArg(env.args(), "usage: lifelong backup verify ID [--service=records|catalog]"));
  LL_ASSIGN_OR_RETURN(Service service, BackupServiceArg(env.args()));
  if (service == Service::kCatalog) return CatalogBackupVerify(env, id);
  v1::VerifyBackupRequest req;
  req.set_backup_id(id);
  v1::Backup b;
  grpc::Status g = env.Records()->VerifyBackup(env.Call(/*stream=*/true).get(), req, &b);
  if (!g.ok()) return env.RpcError(Service::kRecords, g);
  if (env.json()) {
    Json j = BackupJson(b);
    j["verified"] = true;
    env.out() << j.dump() << "\n";
  } else {
    env.out() << "backup " << id << " verified: " << b.files() << " file(s), " << HumanBytes(b.size_bytes())
              << ", every checksum matches\n";
  }
  return absl::OkStatus();
}

// lifelong backup restore: offline, in this process (no server involved).
absl::Status CmdBackupRestore(Env& env) {
  const ParsedArgs& a = env.args();
  constexpr char kUsage[] =
      "usage: lifelong backup restore ID|latest --data_dir DIR [--service=records|catalog] [--backup_dir DIR] "
      "[--xapi_documents_dir DIR] [--force] [--discard_newer]";
  uint32_t id = 0;  // latest
  if (a.positional.size() != 1 || a.positional[0] != "latest") {
    LL_ASSIGN_OR_RETURN(id, BackupIdArg(a, kUsage));
  }
  if (!a.Has("data_dir") || a.Get("data_dir").empty()) return Usage(absl::StrCat("--data_dir: required; ", kUsage));
  LL_ASSIGN_OR_RETURN(Service service, BackupServiceArg(a));
  if (service == Service::kCatalog) return CatalogBackupRestore(env, id);
  records::RestoreRequest r;
  r.backup_id = id;  // 0: the newest
  r.data_dir = a.Get("data_dir");
  if (a.Has("backup_dir")) {
    r.backup_dir = a.Get("backup_dir");
  } else {
    r.backup_dir = records::DefaultBackupDir(r.data_dir);
  }
  if (a.Has("xapi_documents_dir")) r.documents_dir = a.Get("xapi_documents_dir");
  r.force = a.GetBool("force");
  r.discard_newer = a.GetBool("discard_newer");
  LL_ASSIGN_OR_RETURN(records::RestoreResult res, records::RestoreBackup(r));
  if (env.json()) {
    env.out() << Json{{"backup_id", res.backup.id},
                      {"created", Rfc3339(res.backup.created_us)},
                      {"data_dir", r.data_dir},
                      {"statements", res.statements},
                      {"applied_seq", res.applied_seq},
                      {"documents_restored", res.documents_restored},
                      {"reerased_learners", res.reerased_learners},
                      {"reerased_statements", res.reerased_statements},
                      {"discarded_statements", res.discarded_statements},
                      {"not_removed", res.not_removed},
                      {"leftovers", res.leftovers}}
                     .dump()
              << "\n";
    return absl::OkStatus();
  }
  env.out() << "restored backup " << res.backup.id << " (taken " << Rfc3339(res.backup.created_us) << ") into "
            << r.data_dir << ": " << res.statements << " statement(s), log position " << res.applied_seq << "\n";
  if (res.backup.documents_in_records) {
    env.out() << "xAPI documents restored with the records (they are part of the record database)\n";
  } else if (res.documents_restored) {
    env.out() << "xAPI documents restored into " << r.documents_dir
              << " (imported into the record database when the server starts)\n";
  } else if (res.backup.documents_backup_id != 0) {
    env.out() << "xAPI documents not restored (pass --xapi_documents_dir DIR to restore them)\n";
  } else {
    env.out() << "this backup holds no xAPI documents\n";
  }
  if (res.reerased_learners > 0) {
    env.out() << "erased again: " << res.reerased_learners << " learner(s) erased after the backup ("
              << res.reerased_statements << " statement(s))\n";
  }
  if (res.discarded_statements > 0) {
    env.out() << "lost: " << res.discarded_statements << " statement(s) recorded after the backup (--discard_newer)\n";
  }
  PrintRestoreLeftovers(env, res.not_removed, res.leftovers);
  env.out() << "next: start the server on it with its usual flags (authentication, TLS, ports, as before), e.g.\n"
            << "  records_server --data_dir=" << r.data_dir
            << (res.documents_restored && !res.backup.documents_in_records
                    ? absl::StrCat(" --xapi_documents_dir=", r.documents_dir)
                    : std::string())
            << " --backup_dir=" << r.backup_dir << " ...\n"
            << "  (under ops/stack.sh: ops/stack.sh down; mv var/records var/records.old; mv " << r.data_dir
            << " var/records; ops/stack.sh up)\n";
  if (res.applied_seq > 0) {
    env.out() << "a replicated node resumes the log after position " << res.applied_seq << "\n";
  }
  return absl::OkStatus();
}

}  // namespace lifelong::cli
