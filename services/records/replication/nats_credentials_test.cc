// ReadNatsCredentialsFile: the NATS password comes from a private file, never
// from a world-readable one, and a bad file is refused naming the flag.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "services/records/replication/replicator.h"

namespace lifelong::records::replication {
namespace {

std::string WriteFile(const std::string& name, const std::string& text, mode_t mode) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::trunc) << text;
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(NatsCredentialsFile, ReadsUserAndAPasswordThatMayHoldColons) {
  auto c = ReadNatsCredentialsFile(WriteFile("ok", "lifelong:pa:ss-w0rd\n", 0600));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->first, "lifelong");
  EXPECT_EQ(c->second, "pa:ss-w0rd");
}

TEST(NatsCredentialsFile, RefusesAFileOtherUsersCanRead) {
  auto c = ReadNatsCredentialsFile(WriteFile("open", "lifelong:secret\n", 0644));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("--replication_nats_credentials_file"), std::string::npos);
  EXPECT_NE(c.status().message().find("chmod 600"), std::string::npos);
  EXPECT_EQ(c.status().message().find("secret"), std::string::npos) << "the password must not be in the error";
}

TEST(NatsCredentialsFile, RefusesMissingEmptyAndMalformedFiles) {
  for (const std::string& path : {std::string("/nonexistent/nats.credentials"), WriteFile("empty", "", 0600),
                                  WriteFile("nocolon", "lifelong\n", 0600), WriteFile("nouser", ":pw\n", 0600),
                                  WriteFile("nopassword", "lifelong:\n", 0600)}) {
    auto c = ReadNatsCredentialsFile(path);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_NE(c.status().message().find("--replication_nats_credentials_file"), std::string::npos) << path;
  }
}

}  // namespace
}  // namespace lifelong::records::replication
