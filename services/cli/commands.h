// The `lifelong` commands, one function per command (or subcommand), grouped
// in files by area: records_commands.cc (record, history, transcript, import,
// export, erase), catalog_commands.cc (programmes, courses),
// recommend_commands.cc (recommend, similar, path, train, model),
// admin_commands.cc (health, auth), backup_commands.cc (backup),
// card_commands.cc (card, behind the adapter in cli.cc). cli.cc holds the command table and
// RunCli. Each returns OK, a usage error (cli_env.h) or the failure.
#ifndef LIFELONG_SERVICES_CLI_COMMANDS_H_
#define LIFELONG_SERVICES_CLI_COMMANDS_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/cli/cli_env.h"

namespace lifelong::cli {

// records_commands.cc
absl::Status CmdRecord(Env& env);
absl::Status CmdHistory(Env& env);
absl::Status CmdTranscript(Env& env);
absl::Status CmdImport(Env& env);
absl::Status CmdExport(Env& env);
absl::Status CmdErase(Env& env);

// catalog_commands.cc
absl::Status ProgrammesList(Env& env);
absl::Status CoursesList(Env& env);
absl::Status CoursesGet(Env& env);
absl::Status CoursesPut(Env& env);
absl::Status CoursesDump(Env& env);
// Writes every non-archived course in the trainer's catalog format; the
// number written.
absl::StatusOr<int64_t> DumpCatalog(Env& env, std::ostream& out);

// recommend_commands.cc
absl::Status CmdRecommend(Env& env);
absl::Status CmdSimilar(Env& env);
absl::Status CmdPath(Env& env);
absl::Status CmdTrain(Env& env);
absl::Status CmdModel(Env& env, const std::string& sub);

// admin_commands.cc
absl::Status CmdHealth(Env& env);
absl::Status CmdAuthToken(Env& env);
absl::Status CmdAuthCredential(Env& env);

// backup_commands.cc
absl::Status CmdBackupCreate(Env& env);
absl::Status CmdBackupList(Env& env);
absl::Status CmdBackupVerify(Env& env);
absl::Status CmdBackupRestore(Env& env);
// --service of the backup commands: records (the default) or catalog.
FlagSpec BackupServiceFlag();
// The service --service names (records for anything else: the command
// itself refuses a bad value as a usage error).
Service BackupServiceOf(const ParsedArgs& args);

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_COMMANDS_H_
