// Settings shared by every service that connects to the NATS JetStream
// cluster (the record service's statement log, docs/replication.md; the
// catalog's log, docs/catalog.md "Replication"): the server list and the
// credentials file, parsed with errors that name the flag.
#ifndef LIFELONG_SERVICES_COMMON_NATS_CONFIG_H_
#define LIFELONG_SERVICES_COMMON_NATS_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::nats {

// Splits "nats://a:4222,nats://b:4222" into servers. INVALID_ARGUMENT
// naming --replication_nats when one is not nats://host:port.
absl::StatusOr<std::vector<std::string>> ParseServerList(absl::string_view list);

// Reads `path` (--replication_nats_credentials_file): one line "user:password"
// (the password may contain ':'), so that the password is not in the process's
// arguments where every local user can read it (ps). INVALID_ARGUMENT naming
// the flag when the file is missing, empty, malformed or readable by group or
// others (chmod 600, as ssh demands of its keys).
absl::StatusOr<std::pair<std::string, std::string>> ReadNatsCredentialsFile(const std::string& path);

// Whether `s` is 1-64 of A-Z a-z 0-9 - _ . (node ids, stream names).
bool ValidName(absl::string_view s);

// The flags every log's node is started with: at least one server, a valid
// --node_id, a --replication_stream name without '.', --replicas in 1..5.
// INVALID_ARGUMENT naming the flag.
absl::Status ValidateLogFlags(const std::vector<std::string>& servers, const std::string& node_id,
                              const std::string& stream, int replicas);

}  // namespace lifelong::nats

#endif  // LIFELONG_SERVICES_COMMON_NATS_CONFIG_H_
