// main() for test binaries that run gRPC in their own process: gtest_main's,
// plus the servers' failure stack traces (InstallFailureStackTraces,
// services/common/server.h), so that a test that crashes (a gRPC assertion
// aborts, a pointer faults) writes the signal and the failing thread's
// symbolized stack to stderr, the test's log, before it dies.
#include <gtest/gtest.h>

#include "services/common/server.h"

int main(int argc, char** argv) {
  lifelong::InstallFailureStackTraces(argv[0]);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
