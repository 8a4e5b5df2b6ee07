#include "services/xapi/credentials.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"

namespace lifelong::xapi {
namespace {

std::string Basic(const std::string& user_pass) { return "Basic " + absl::Base64Escape(user_pass); }

TEST(Credentials, ChecksConfiguredPairs) {
  absl::StatusOr<Credentials> c = Credentials::Parse("# dev\nkiosk:secret\n\nlms:p:w\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->size(), 2u);
  EXPECT_EQ(*c->Check(Basic("kiosk:secret")), "kiosk");
  EXPECT_EQ(*c->Check(Basic("lms:p:w")), "lms");  // passwords may contain ':'
  EXPECT_EQ(c->Check(Basic("kiosk:wrong")).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(c->Check(Basic("nobody:secret")).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(c->Check("").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(c->Check("Bearer x").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(c->Check("Basic !!!").status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(Credentials, RejectsMalformedLinesAndMissingFile) {
  EXPECT_EQ(Credentials::Parse("nocolon\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Credentials::Parse(":pw\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Credentials::LoadFile("/nonexistent/creds").status().code(), absl::StatusCode::kNotFound);
}

TEST(Credentials, OptionalFieldsMapUsersOntoPrincipals) {
  absl::StatusOr<Credentials> c = Credentials::Parse(
      "feed:s1\nu1app:s2 role=learner subject=u1\nk:s3 role=kiosk subject=kiosk-01 venue=hepingli\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->PrincipalOf("feed").role, auth::Role::kLoader);
  EXPECT_EQ(c->PrincipalOf("feed").subject, "feed");
  EXPECT_EQ(c->PrincipalOf("u1app").role, auth::Role::kLearner);
  EXPECT_EQ(c->PrincipalOf("u1app").subject, "u1");
  EXPECT_EQ(c->PrincipalOf("k").venue, "hepingli");
  EXPECT_EQ(Credentials::Parse("x:y role=wizard\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Credentials::Parse("x:y colour=red\n").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Credentials, RepositoryCredentialsAreUnusableWithAuthentication) {
  absl::StatusOr<Credentials> marked = Credentials::Parse("# lifelong: development-only\nlms:a-long-random-secret\n");
  ASSERT_TRUE(marked.ok());
  EXPECT_EQ(marked->CheckUsableWithAuthentication().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<Credentials> copied = Credentials::Parse("feed:lifelong-dev role=loader\n");
  ASSERT_TRUE(copied.ok());
  absl::Status s = copied->CheckUsableWithAuthentication();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("feed"), std::string::npos) << s;
  absl::StatusOr<Credentials> own = Credentials::Parse("lms:Zq3-generated-per-stack\n");
  ASSERT_TRUE(own.ok());
  EXPECT_TRUE(own->CheckUsableWithAuthentication().ok());
}

}  // namespace
}  // namespace lifelong::xapi

namespace lifelong::xapi {
namespace {

struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1790000000);
};

TEST(CredentialsBackoff, WrongPasswordsAreSlowedDownPerUser) {
  Credentials c = *Credentials::Parse("feed:feed-secret\nother:other-secret\n");
  FakeClock clock;
  c.SetBackoff({.free_failures = 3, .base_delay = absl::Seconds(1), .max_delay = absl::Minutes(5), .now = [&] {
                  return clock.now;
                }});
  auto basic = [](const std::string& up) { return "Basic " + absl::Base64Escape(up); };
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.Check(basic("feed:guess")).status().code(), absl::StatusCode::kUnauthenticated) << i;
  }
  // Now even the right password waits: guesses cannot be batched with it.
  absl::Status s = c.Check(basic("feed:feed-secret")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("retry in 1s"), absl::string_view::npos) << s;
  EXPECT_EQ(*c.Check(basic("other:other-secret")), "other") << "another user is not held off";
  clock.now += absl::Seconds(1);
  EXPECT_EQ(c.Check(basic("feed:guess")).status().code(), absl::StatusCode::kUnauthenticated);
  // Each further failure doubles the wait.
  clock.now += absl::Seconds(1);
  EXPECT_EQ(c.Check(basic("feed:guess")).status().code(), absl::StatusCode::kResourceExhausted);
  clock.now += absl::Seconds(1);
  EXPECT_EQ(c.Check(basic("feed:guess")).status().code(), absl::StatusCode::kUnauthenticated);
  clock.now += absl::Seconds(3);
  EXPECT_EQ(c.Check(basic("feed:feed-secret")).status().code(), absl::StatusCode::kResourceExhausted);
  clock.now += absl::Seconds(1);
  EXPECT_EQ(*c.Check(basic("feed:feed-secret")), "feed");
  // Success starts the count over.
  EXPECT_EQ(c.Check(basic("feed:guess")).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(*c.Check(basic("feed:feed-secret")), "feed");
}

TEST(CredentialsBackoff, ManyUserNamesFromOneAddressAreSlowedDown) {
  Credentials c = *Credentials::Parse("feed:feed-secret\n");
  FakeClock clock;
  c.SetBackoff({.free_failures = 2, .now = [&] { return clock.now; }});
  auto basic = [](const std::string& up) { return "Basic " + absl::Base64Escape(up); };
  for (int i = 0; i < 8; ++i) {  // 4 x free_failures, a different user name each time
    EXPECT_EQ(c.Check(basic("user" + std::to_string(i) + ":x"), "10.0.0.5").status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(c.Check(basic("user99:x"), "10.0.0.5").status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*c.Check(basic("feed:feed-secret"), "10.0.0.6"), "feed") << "another address";
  clock.now += absl::Minutes(6);
  EXPECT_EQ(*c.Check(basic("feed:feed-secret"), "10.0.0.5"), "feed") << "forgotten after max_delay";
}

// The attack the bounded table invited: guess a user's password until it backs
// off, then fail under many made-up names from many addresses until the
// table is full and the user's count is dropped, then guess on. A configured
// user's count is kept apart and stays.
TEST(CredentialsBackoff, FloodingTheTableDoesNotForgetAUsersFailures) {
  Credentials c = *Credentials::Parse("feed:feed-secret\n");
  FakeClock clock;
  c.SetBackoff({.free_failures = 3, .max_tracked = 8, .now = [&] { return clock.now; }});
  auto basic = [](const std::string& up) { return "Basic " + absl::Base64Escape(up); };
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.Check(basic("feed:guess"), "10.0.0.1").status().code(), absl::StatusCode::kUnauthenticated) << i;
  }
  ASSERT_EQ(c.Check(basic("feed:guess"), "10.0.0.2").status().code(), absl::StatusCode::kResourceExhausted);
  for (int i = 0; i < 100; ++i) {  // a fresh name and address each time
    std::string n = std::to_string(i);
    EXPECT_EQ(c.Check(basic("made-up" + n + ":x"), "10.1.0." + n).status().code(), absl::StatusCode::kUnauthenticated)
        << i;
  }
  EXPECT_EQ(c.Check(basic("feed:guess"), "10.0.0.3").status().code(), absl::StatusCode::kResourceExhausted)
      << "the user's failures were forgotten";
  clock.now += absl::Seconds(1);
  EXPECT_EQ(*c.Check(basic("feed:feed-secret"), "10.0.0.3"), "feed") << "the wait is still the usual one";
}

// Runs `check` on `threads` threads released together (each spins until all
// are started); returns how many answers had each code.
std::map<absl::StatusCode, int> CheckTogether(int threads, const std::function<absl::Status()>& check) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<absl::Status> results(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      ready.fetch_add(1);
      while (!go.load()) {
      }
      results[i] = check();
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  go.store(true);
  for (std::thread& t : pool) t.join();
  std::map<absl::StatusCode, int> codes;
  for (const absl::Status& s : results) ++codes[s.code()];
  return codes;
}

// Guesses sent together used to be compared together: the wait was read
// under one lock and the failure recorded under another, so 32 guesses
// arriving at once were all compared. Now no more are compared than the
// failures left before a wait, and one at a time once a wait is due; right
// passwords sent together are all accepted.
TEST(CredentialsBackoff, GuessesSentTogetherAreNotComparedTogether) {
  Credentials c = *Credentials::Parse("feed:feed-secret\n");
  auto basic = [](const std::string& up) { return "Basic " + absl::Base64Escape(up); };
  auto guess = [&] { return c.Check(basic("feed:guess"), "10.0.0.1").status(); };
  for (int round = 0; round < 5; ++round) {
    // A slow clock (read under the backoff's lock) widens the window
    // between reading the wait and recording the failure; the time is read,
    // never written, while the threads run.
    FakeClock clock;
    c.SetBackoff({.free_failures = 3, .now = [&] {
                    absl::SleepFor(absl::Milliseconds(1));
                    return clock.now;
                  }});
    std::map<absl::StatusCode, int> codes = CheckTogether(32, guess);
    EXPECT_EQ(codes[absl::StatusCode::kUnauthenticated], 3) << "round " << round << ": compared";
    EXPECT_EQ(codes[absl::StatusCode::kResourceExhausted], 29) << "round " << round;
    clock.now += absl::Seconds(1);  // the wait is over: one more guess
    codes = CheckTogether(32, guess);
    EXPECT_EQ(codes[absl::StatusCode::kUnauthenticated], 1) << "round " << round << ": compared";
    EXPECT_EQ(codes[absl::StatusCode::kResourceExhausted], 31) << "round " << round;
    if (HasFailure()) break;
  }
  FakeClock clock;
  c.SetBackoff({.free_failures = 3, .now = [&] { return clock.now; }});
  std::map<absl::StatusCode, int> codes =
      CheckTogether(32, [&] { return c.Check(basic("feed:feed-secret"), "10.0.0.1").status(); });
  EXPECT_EQ(codes[absl::StatusCode::kOk], 32);
}

}  // namespace
}  // namespace lifelong::xapi
