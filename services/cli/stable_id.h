// Deterministic identifiers for data loaded by tools (the CLI's import, the
// demo district): the same input always gets the same statement id, so a
// re-run or a resumed load is absorbed by the record service's idempotent
// writes instead of duplicating statements.
#ifndef LIFELONG_SERVICES_CLI_STABLE_ID_H_
#define LIFELONG_SERVICES_CLI_STABLE_ID_H_

#include <string>

#include "absl/strings/string_view.h"

namespace lifelong::cli {

// A name-based UUID (RFC 4122 version 5: SHA-1 of a fixed project namespace
// UUID followed by `name`), lowercase "xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx".
// Pure; thread-safe.
std::string StableUuid(absl::string_view name);

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_STABLE_ID_H_
