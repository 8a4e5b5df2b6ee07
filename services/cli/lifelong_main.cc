// lifelong: the command-line client of the district's network (docs/cli.md).
#include <limits.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "services/cli/cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(true);
  lifelong::cli::CliContext ctx;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  ctx.env = lifelong::cli::LifelongEnv();
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) ctx.self_path.assign(self, static_cast<size_t>(n));
  std::vector<std::string> args(argv + 1, argv + argc);
  int code = lifelong::cli::RunCli(args, ctx);
  std::cout.flush();
  return code;
}
