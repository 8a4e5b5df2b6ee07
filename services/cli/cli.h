// The `lifelong` command-line client: one entry point with subcommands over
// the record, catalog and recommendation services (docs/cli.md).
//
// RunCli is the whole program minus process set-up, so tests drive it
// in-process against real servers. Not thread-safe to call concurrently with
// the same streams.
#ifndef LIFELONG_SERVICES_CLI_CLI_H_
#define LIFELONG_SERVICES_CLI_CLI_H_

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace lifelong::cli {

struct CliContext {
  std::ostream* out;  // results (tables or JSON)
  std::ostream* err;  // errors (one line each) and progress
  // Environment variables consulted: LIFELONG_RECORDS, LIFELONG_CATALOG,
  // LIFELONG_RECOMMEND (service addresses), LIFELONG_TRAINER (trainer binary),
  // LIFELONG_TLS_CA, LIFELONG_TLS_CERT, LIFELONG_TLS_KEY (TLS, as the
  // --tls_* flags; docs/security.md).
  std::map<std::string, std::string> env;
  // Path of the running binary, to find the trainer next to it (bazel-bin).
  std::string self_path;
};

// Runs one command line (`args` without the program name). Returns the exit
// code (exit_codes.h): 0 ok, 2 usage, 3 not found, 4 invalid argument,
// 5 unavailable, 1 other. Every RPC has a deadline (--timeout, default 10s;
// streams --stream_timeout, default 1h).
int RunCli(const std::vector<std::string>& args, const CliContext& ctx);

// The environment variables RunCli reads, taken from the process environment.
std::map<std::string, std::string> LifelongEnv();

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_CLI_H_
