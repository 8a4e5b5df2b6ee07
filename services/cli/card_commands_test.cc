// `lifelong card bind|unbind|status` against the real records_server (a
// subprocess with authentication on, TEST_TMPDIR, port 0), through RunCli.
#include <signal.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/auth/token.h"
#include "services/cli/cli.h"
#include "tests/testing/subprocess.h"

namespace lifelong::cli {
namespace {

using ::lifelong::testing::FreshTempDir;
using ::lifelong::testing::RunfilePath;
using ::lifelong::testing::Subprocess;
using ::lifelong::testing::WaitForPortFile;

constexpr char kKey[] = "card-cli-test-key-card-cli-test-key-01";
constexpr char kCard[] = "110100000428";  // 12 digits, Luhn check digit

struct Result {
  int code;
  std::string out;
  std::string err;
};

class CardCommandsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(FreshTempDir("card_cli_test"));
    std::ofstream(*dir_ + "/jwt.key") << kKey << "\n";
    const std::string port_file = *dir_ + "/records.port";
    auto p = Subprocess::Start(
        {RunfilePath("services/records/records_server"), "--port=0", "--host=127.0.0.1", "--metrics_port=0",
         "--xapi_port=-1", absl::StrCat("--data_dir=", *dir_, "/db"), absl::StrCat("--port_file=", port_file),
         absl::StrCat("--auth_key_file=", *dir_, "/jwt.key")},
        *dir_ + "/records.log");
    if (!p.ok()) return;
    auto port = WaitForPortFile(port_file);
    if (!port.ok()) return;
    server_ = new Subprocess(std::move(*p));
    address_ = new std::string(absl::StrCat("127.0.0.1:", *port));
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) (void)server_->Stop(SIGTERM);
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "records_server did not start"; }

  static std::string Token(auth::Role role, const std::string& subject) {
    auth::Principal p;
    p.role = role;
    p.subject = subject;
    auth::TokenOptions o;
    o.key = kKey;
    return *auth::MintToken(p, absl::Minutes(5), o);
  }

  static Result Run(std::vector<std::string> args, const std::string& token) {
    std::ostringstream out, err;
    CliContext ctx;
    ctx.out = &out;
    ctx.err = &err;
    ctx.env["LIFELONG_RECORDS"] = *address_;
    ctx.env["LIFELONG_TOKEN"] = token;
    int code = RunCli(args, ctx);
    return {code, out.str(), err.str()};
  }

  static std::string* dir_;
  static std::string* address_;
  static Subprocess* server_;
};

std::string* CardCommandsTest::dir_ = nullptr;
std::string* CardCommandsTest::address_ = nullptr;
Subprocess* CardCommandsTest::server_ = nullptr;

TEST_F(CardCommandsTest, BindStatusUnbind) {
  const std::string op = Token(auth::Role::kOperator, "operator-wang");
  Result b = Run({"card", "bind", "1101-0000-0428", "--learner", "u000042", "--pin", "2580"}, op);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_TRUE(absl::StrContains(b.out, kCard)) << b.out;
  EXPECT_TRUE(absl::StrContains(b.out, "u000042")) << b.out;
  EXPECT_FALSE(absl::StrContains(b.out, "2580")) << "the PIN is never printed";

  Result s = Run({"card", "status", kCard, "--json"}, op);
  ASSERT_EQ(s.code, 0) << s.err;
  nlohmann::json j = nlohmann::json::parse(s.out);
  EXPECT_EQ(j["learner"], "u000042");
  EXPECT_EQ(j["card_number"], kCard);
  EXPECT_FALSE(j.contains("pin"));

  EXPECT_EQ(Run({"card", "unbind", kCard}, op).code, 2) << "needs --yes";
  Result u = Run({"card", "unbind", kCard, "--yes"}, op);
  ASSERT_EQ(u.code, 0) << u.err;
  Result gone = Run({"card", "status", kCard}, op);
  EXPECT_EQ(gone.code, 3) << gone.err;  // NOT_FOUND
}

TEST_F(CardCommandsTest, PinFromStdinStaysOffTheCommandLine) {
  const std::string op = Token(auth::Role::kOperator, "operator-wang");
  const std::string card = "110100000782";
  std::istringstream in("  730915\n");
  std::streambuf* saved = std::cin.rdbuf(in.rdbuf());
  Result b = Run({"card", "bind", card, "--learner", "u000078", "--pin", "-"}, op);
  std::istringstream empty("");
  std::cin.rdbuf(empty.rdbuf());
  Result none = Run({"card", "bind", card, "--learner", "u000078", "--pin", "-"}, op);
  std::cin.rdbuf(saved);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_FALSE(absl::StrContains(b.out, "730915"));
  EXPECT_EQ(none.code, 2) << "no line on stdin: " << none.err;
  EXPECT_TRUE(absl::StrContains(none.err, "--pin -")) << none.err;
}

TEST_F(CardCommandsTest, MisuseGetsTheRightExitCodeAndMessage) {
  const std::string op = Token(auth::Role::kOperator, "operator-wang");
  EXPECT_EQ(Run({"card"}, op).code, 2);
  EXPECT_EQ(Run({"card", "bind", kCard, "--learner", "u1"}, op).code, 2) << "no --pin";
  EXPECT_EQ(Run({"card", "bind", "--learner", "u1", "--pin", "2580"}, op).code, 2) << "no CARD";
  Result bad = Run({"card", "bind", "110100000429", "--learner", "u1", "--pin", "2580"}, op);
  EXPECT_EQ(bad.code, 4) << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "card_number: check digit")) << bad.err;
  Result weak = Run({"card", "bind", kCard, "--learner", "u1", "--pin", "1234"}, op);
  EXPECT_EQ(weak.code, 4) << weak.err;
  EXPECT_TRUE(absl::StrContains(weak.err, "pin:")) << weak.err;
  // A learner may not bind a card, to themselves or anyone.
  Result self = Run({"card", "bind", kCard, "--learner", "u1", "--pin", "2580"}, Token(auth::Role::kLearner, "u1"));
  EXPECT_NE(self.code, 0);
  EXPECT_TRUE(absl::StrContains(self.err, "PERMISSION_DENIED")) << self.err;
  Result status = Run({"card", "status", kCard}, Token(auth::Role::kLearner, "u1"));
  EXPECT_TRUE(absl::StrContains(status.err, "PERMISSION_DENIED")) << status.err;
  // A refused token says which token was sent and how to send another.
  EXPECT_TRUE(absl::StrContains(status.err, "the token sent ($LIFELONG_TOKEN) may not do this")) << status.err;
  EXPECT_TRUE(absl::StrContains(status.err, "--token_file")) << status.err;
  Result none = Run({"card", "status", kCard}, "");
  EXPECT_NE(none.code, 0);
  EXPECT_TRUE(absl::StrContains(none.err, "UNAUTHENTICATED")) << none.err;
  EXPECT_TRUE(absl::StrContains(none.err, "no token was sent")) << none.err;
  Result forged = Run({"card", "status", kCard}, "not-a-token");
  EXPECT_TRUE(absl::StrContains(forged.err, "the token sent ($LIFELONG_TOKEN) was refused")) << forged.err;
}

}  // namespace
}  // namespace lifelong::cli
