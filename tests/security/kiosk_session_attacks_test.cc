// Attacks on kiosk sessions against a real record server (gRPC on a real
// port, real RocksDB) with authentication on. A kiosk exchanges a learner's
// pass code or learner card + PIN for a 5-minute session token; a session is
// the kiosk's own principal with a learner bound to it, and may itself
// redeem the next code or card. A session must therefore never outlive the
// credential that obtained it: a kiosk token near (or past) its expiry,
// stolen or left on a retired machine, was otherwise renewed for ever, five
// minutes at a time, by redeeming the holder's own card again and again.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/principal.h"
#include "services/auth/token.h"
#include "tests/testing/records_fixture.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using auth::Principal;
using auth::Role;

constexpr char kKey[] = "kiosk-session-attacks-key-0123456789abcdef";
constexpr char kVenue[] = "和平里社区学校";
constexpr char kCard[] = "110100000428";  // a valid Luhn number

Principal Who(Role role, const std::string& subject) {
  Principal p;
  p.role = role;
  p.subject = subject;
  if (role == Role::kKiosk) p.venue = kVenue;
  p.token_id = "jti-" + subject;
  return p;
}

// The `exp` claim of a token (not verified: the server's own token).
int64_t ExpiryOf(const std::string& token) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  EXPECT_EQ(parts.size(), 3u);
  std::string payload;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[1], &payload));
  return nlohmann::json::parse(payload).at("exp").get<int64_t>();
}

class KioskSessionAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::TestRecordsServerOptions o;
    o.key = kKey;
    o.service.learner_cards.pbkdf2_iterations = 100;
    auto server = testing::TestRecordsServer::Start(
        testing::FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name()), std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    rec_ = &server_->stub();
  }

  // A kiosk token that expires in `ttl`.
  std::string KioskToken(absl::Duration ttl) {
    auth::TokenOptions o;
    o.key = kKey;
    absl::StatusOr<std::string> t = auth::MintToken(Who(Role::kKiosk, "kiosk-hepingli-01"), ttl, o);
    EXPECT_TRUE(t.ok()) << t.status();
    return *t;
  }

  std::string PassOf(const std::string& learner) {
    v1::KioskPass pass;
    grpc::Status s = rec_->CreateKioskPass(server_->Context(Who(Role::kLearner, learner)).get(),
                                           v1::CreateKioskPassRequest(), &pass);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return pass.code();
  }

  std::unique_ptr<testing::TestRecordsServer> server_;
  v1::LearningRecordService::Stub* rec_ = nullptr;
};

TEST_F(KioskSessionAttackTest, ASessionNeverOutlivesTheTokenThatObtainedIt) {
  const std::string kiosk = KioskToken(absl::Seconds(90));
  const int64_t kiosk_exp = ExpiryOf(kiosk);

  // A pass code.
  v1::RedeemKioskPassRequest pass;
  pass.set_code(PassOf("u1"));
  v1::KioskSession by_pass;
  grpc::Status s = rec_->RedeemKioskPass(testing::TestRecordsServer::BearerContext(kiosk).get(), pass, &by_pass);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_LE(ExpiryOf(by_pass.token()), kiosk_exp);
  EXPECT_LE(by_pass.expire_time().seconds(), kiosk_exp);

  // A learner card, redeemed with the session, and again with that session.
  v1::BindLearnerCardRequest bind;
  bind.set_card_number(kCard);
  bind.set_learner("u1");
  bind.set_pin("2580");
  v1::LearnerCard card;
  s = rec_->BindLearnerCard(server_->Context(Who(Role::kOperator, "operator-wang")).get(), bind, &card);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::string token = by_pass.token();
  for (int i = 0; i < 3; ++i) {
    v1::RedeemLearnerCardRequest r;
    r.set_card_number(kCard);
    r.set_pin("2580");
    v1::KioskSession next;
    s = rec_->RedeemLearnerCard(testing::TestRecordsServer::BearerContext(token).get(), r, &next);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(ExpiryOf(next.token()), kiosk_exp) << "renewal " << i;
    EXPECT_LE(next.expire_time().seconds(), kiosk_exp) << "renewal " << i;
    token = next.token();
  }

  // A kiosk token with more than five minutes left still gets five minutes.
  const std::string fresh = KioskToken(absl::Hours(8));
  pass.set_code(PassOf("u2"));
  v1::KioskSession full;
  s = rec_->RedeemKioskPass(testing::TestRecordsServer::BearerContext(fresh).get(), pass, &full);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  EXPECT_GE(ExpiryOf(full.token()), now + 4 * 60);
  EXPECT_LE(ExpiryOf(full.token()), now + 5 * 60 + 5);
}

}  // namespace
}  // namespace lifelong
