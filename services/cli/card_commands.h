// `lifelong card bind|unbind|status`: learner cards at the counter
// (RecordsService BindLearnerCard / UnbindLearnerCard / GetLearnerCard;
// docs/cli.md, docs/security.md "Learner cards").
//
// Kept out of cli.cc: cli.cc adapts its per-command environment into a
// CardCommandEnv and lists the three commands in its command table.
#ifndef LIFELONG_SERVICES_CLI_CARD_COMMANDS_H_
#define LIFELONG_SERVICES_CLI_CARD_COMMANDS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/cli/args.h"

namespace lifelong::cli {

// What a card command needs from the CLI.
struct CardCommandEnv {
  const ParsedArgs* args = nullptr;
  bool json = false;
  std::ostream* out = nullptr;
  std::istream* in = nullptr;  // for --pin - (the PIN on a line of stdin)
  std::function<std::unique_ptr<v1::LearningRecordService::Stub>()> records;
  std::function<std::unique_ptr<grpc::ClientContext>()> call;  // deadline and token set
  std::function<absl::Status(const grpc::Status&)> rpc_error;  // names service and address
  std::function<absl::Status(absl::string_view)> usage;        // a usage error (exit 2)
};

// Flags of each command (cli.cc adds the global ones).
std::vector<FlagSpec> CardBindFlags();
std::vector<FlagSpec> CardUnbindFlags();

// card bind CARD --learner L --pin PIN|-   (CARD: 12 digits, spaces or hyphens allowed)
absl::Status CardBind(const CardCommandEnv& env);
// card unbind CARD --yes
absl::Status CardUnbind(const CardCommandEnv& env);
// card status CARD
absl::Status CardStatus(const CardCommandEnv& env);

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_CARD_COMMANDS_H_
