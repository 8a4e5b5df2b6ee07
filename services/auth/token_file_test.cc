// TokenFile and OutgoingToken: a replaced token file is read again after the
// check interval (injected clock), a failed or empty re-read keeps the token
// held, readers racing a writer that renames new files in only ever see
// whole tokens, and OutgoingToken sends a file's current token.
#include "services/auth/token_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/auth/outgoing_token.h"

namespace lifelong::auth {
namespace {

std::string TempDir(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteInPlace(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// As ops/stack.sh's token refresher: a new file in the same directory, renamed over the old one.
void Replace(const std::string& path, const std::string& text) {
  WriteInPlace(path + ".new", text);
  ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
}

class FakeClock {
 public:
  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  TokenFile::Options Options(absl::Duration check_interval) {
    TokenFile::Options o;
    o.check_interval = check_interval;
    o.clock = [this] { return Now(); };
    return o;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST(TokenFile, ReadsTheTokenWithoutSurroundingWhitespace) {
  const std::string path = TempDir("token_read") + "/t.token";
  WriteInPlace(path, "  aaa.bbb.ccc \n");
  absl::StatusOr<std::shared_ptr<TokenFile>> file = TokenFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->Token(), "aaa.bbb.ccc");
  EXPECT_EQ((*file)->path(), path);
}

TEST(TokenFile, OpenRefusesMissingAndOversizedFiles) {
  const std::string dir = TempDir("token_open");
  absl::StatusOr<std::shared_ptr<TokenFile>> missing = TokenFile::Open(dir + "/none.token");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("--token_file: cannot read " + dir + "/none.token"), std::string::npos)
      << missing.status();
  WriteInPlace(dir + "/big.token", std::string(TokenFile::kMaxBytes + 1, 'x'));
  EXPECT_EQ(TokenFile::Open(dir + "/big.token").status().code(), absl::StatusCode::kInvalidArgument);
  // An empty file is no token (as before: callers send none).
  WriteInPlace(dir + "/empty.token", "\n");
  absl::StatusOr<std::shared_ptr<TokenFile>> empty = TokenFile::Open(dir + "/empty.token");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ((*empty)->Token(), "");
}

TEST(TokenFile, AReplacedFileIsReadOnceTheCheckIntervalHasPassed) {
  const std::string path = TempDir("token_replaced") + "/t.token";
  WriteInPlace(path, "first");
  FakeClock clock;
  absl::StatusOr<std::shared_ptr<TokenFile>> file = TokenFile::Open(path, clock.Options(absl::Seconds(2)));
  ASSERT_TRUE(file.ok()) << file.status();
  Replace(path, "second");
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ((*file)->Token(), "first");  // not looked at yet
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ((*file)->Token(), "second");
  // Rewritten in place with a token of the same length: the modification time tells.
  WriteInPlace(path, "third!");
  struct timespec times[2] = {{0, UTIME_OMIT}, {1900000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ((*file)->Token(), "third!");
}

TEST(TokenFile, AFailedOrEmptyReReadKeepsTheTokenHeld) {
  const std::string path = TempDir("token_failed") + "/t.token";
  WriteInPlace(path, "good");
  FakeClock clock;
  absl::StatusOr<std::shared_ptr<TokenFile>> file = TokenFile::Open(path, clock.Options(absl::Seconds(1)));
  ASSERT_TRUE(file.ok()) << file.status();
  Replace(path, " \n");  // a mint that printed nothing
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ((*file)->Token(), "good");
  std::filesystem::remove(path);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ((*file)->Token(), "good");
  WriteInPlace(path, std::string(TokenFile::kMaxBytes + 1, 'x'));
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ((*file)->Token(), "good");
  // Fixed again: the new token is read.
  Replace(path, "better");
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ((*file)->Token(), "better");
}

TEST(TokenFile, ReadersRacingRenamesSeeOnlyWholeTokens) {
  const std::string path = TempDir("token_race") + "/t.token";
  auto token_of = [](int i) { return absl::StrCat("header.", std::string(200 + i % 7, 'a' + i % 26), ".sig", i); };
  std::set<std::string> written;
  for (int i = 0; i < 300; ++i) written.insert(token_of(i));
  WriteInPlace(path, token_of(0));
  TokenFile::Options o;
  o.check_interval = absl::ZeroDuration();  // every call looks
  absl::StatusOr<std::shared_ptr<TokenFile>> file = TokenFile::Open(path, o);
  ASSERT_TRUE(file.ok()) << file.status();
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        if (written.count((*file)->Token()) == 0) bad.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  for (int i = 1; i < 300; ++i) Replace(path, token_of(i));
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ((*file)->Token(), token_of(299));
}

TEST(OutgoingToken, SendsNothingAFixedTokenOrTheFilesCurrentToken) {
  EXPECT_EQ(OutgoingToken().Current(), "");
  EXPECT_EQ(OutgoingToken("fixed").Current(), "fixed");
  EXPECT_EQ(OutgoingToken(std::string("fixed")).file(), nullptr);
  const std::string path = TempDir("outgoing") + "/t.token";
  WriteInPlace(path, "one");
  TokenFile::Options o;
  o.check_interval = absl::ZeroDuration();
  absl::StatusOr<std::shared_ptr<TokenFile>> file = TokenFile::Open(path, o);
  ASSERT_TRUE(file.ok()) << file.status();
  OutgoingToken token{std::shared_ptr<const TokenFile>(*file)};
  OutgoingToken copy = token;
  Replace(path, "two");
  EXPECT_EQ(token.Current(), "two");
  EXPECT_EQ(copy.Current(), "two");
}

}  // namespace
}  // namespace lifelong::auth
