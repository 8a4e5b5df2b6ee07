// lifelong::InstallFailureStackTraces (services/common/server.h), as every
// server's main() calls it: a crash prints its signal and stack, and SIGTERM
// still reaches the graceful shutdown.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>

#include "absl/base/attributes.h"
#include "services/common/server.h"

namespace lifelong::testing {
namespace {

ABSL_ATTRIBUTE_NOINLINE void AbortInServer() { std::abort(); }

// The handler is installed in each death test's child only, as main() would.
TEST(InstallFailureStackTraces, AnAbortPrintsTheSignalAndTheStack) {
  EXPECT_DEATH(
      {
        InstallFailureStackTraces("/proc/self/exe");
        AbortInServer();
      },
      "SIGABRT(.|\n)*AbortInServer");
}

TEST(InstallFailureStackTraces, ASegfaultPrintsTheSignal) {
  EXPECT_DEATH(
      {
        InstallFailureStackTraces("/proc/self/exe");
        raise(SIGSEGV);
      },
      "SIGSEGV");
}

// SIGTERM keeps the disposition it had (the default here), and a SIGTERM
// sent to a server's main, as an operator or Kubernetes does, is taken by
// WaitForTerminationSignal: the server shuts down and exits 0.
TEST(InstallFailureStackTraces, LeavesSigtermToTheGracefulShutdown) {
  EXPECT_EXIT(
      {
        InstallFailureStackTraces("/proc/self/exe");
        BlockTerminationSignals();
        struct sigaction term {};
        sigaction(SIGTERM, nullptr, &term);
        if (term.sa_handler != SIG_DFL) {
          std::fprintf(stderr, "SIGTERM taken over\n");
          std::_Exit(3);
        }
        kill(getpid(), SIGTERM);
        std::fprintf(stderr, "graceful shutdown on signal %d\n", WaitForTerminationSignal());
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "graceful shutdown on signal 15");
}

}  // namespace
}  // namespace lifelong::testing
