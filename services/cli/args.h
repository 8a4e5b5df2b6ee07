// A small command-line parser for the `lifelong` CLI's subcommands: each
// subcommand declares the flags it accepts; anything else is a usage error.
//
//   --name=value   --name value   -k value (declared short alias)
//   --flag         (boolean flags; also --flag=true / --flag=false)
//   --             ends flags; everything after is positional
//
// Pure; thread-compatible.
#ifndef LIFELONG_SERVICES_CLI_ARGS_H_
#define LIFELONG_SERVICES_CLI_ARGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::cli {

struct FlagSpec {
  std::string name;       // without dashes, e.g. "learner"
  bool has_value = true;  // false: a boolean flag
  std::string help;
  char short_name = 0;  // e.g. 'k' for -k
};

struct ParsedArgs {
  std::map<std::string, std::string> flags;  // booleans hold "true"/"false"
  std::vector<std::string> positional;

  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  bool GetBool(const std::string& name) const;  // false when absent
};

// Parses `args` against `specs`. INVALID_ARGUMENT with a one-line message
// ("unknown flag --foo", "flag --k needs a value", "flag --json takes no
// value: 'x'") on any usage error. A repeated flag keeps its last value.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs);

// Parses an integer flag value; INVALID_ARGUMENT naming the flag otherwise.
absl::StatusOr<int64_t> ParseIntFlag(const std::string& name, const std::string& value);
// Whether `s` is a number in plain decimal: [+-] digits [. digits]
// [e [+-] digits], at least one digit before the exponent; no hex ("0x10"),
// no "inf" or "nan", no spaces (absl::SimpleAtod alone takes all of those).
bool IsPlainDecimal(absl::string_view s);
// `text` as a finite double when it is in plain decimal (IsPlainDecimal);
// INVALID_ARGUMENT otherwise, "1e999" (infinite) included. Its message is
// for the caller to replace: it names no flag or field.
absl::StatusOr<double> ParsePlainDecimal(absl::string_view text);

// Parses a floating-point flag value written in plain decimal ("1.5", "-2",
// "1e3"); INVALID_ARGUMENT naming the flag for anything else, hex ("0x10"),
// "inf", "nan" and values that overflow to infinity ("1e999") included.
absl::StatusOr<double> ParseDoubleFlag(const std::string& name, const std::string& value);
// Parses a duration such as "10s", "500ms", "2m" (absl::ParseDuration);
// INVALID_ARGUMENT naming the flag for malformed or non-positive values.
absl::StatusOr<int64_t> ParseDurationMsFlag(const std::string& name, const std::string& value);

// "  --name=VALUE   help" lines for a usage message.
std::string FlagHelp(const std::vector<FlagSpec>& specs);

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_ARGS_H_
