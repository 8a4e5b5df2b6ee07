// Exit codes of the `lifelong` CLI (documented in docs/cli.md).
#ifndef LIFELONG_SERVICES_CLI_EXIT_CODES_H_
#define LIFELONG_SERVICES_CLI_EXIT_CODES_H_

#include "absl/status/status.h"

namespace lifelong::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitOther = 1;            // any other failure
inline constexpr int kExitUsage = 2;            // bad command line
inline constexpr int kExitNotFound = 3;         // NOT_FOUND
inline constexpr int kExitInvalidArgument = 4;  // INVALID_ARGUMENT, OUT_OF_RANGE
inline constexpr int kExitUnavailable = 5;      // UNAVAILABLE, DEADLINE_EXCEEDED, not SERVING

// The exit code for a failed call with `code` (kExitOk for OK).
inline int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalidArgument;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    default:
      return kExitOther;
  }
}

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_EXIT_CODES_H_
