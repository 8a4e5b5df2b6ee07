// Learner cards end to end over a real gRPC connection to the record service
// with authentication on (docs/security.md "Learner cards"): who may bind a
// card, the kiosk sign-in with card and PIN, what the session may read, and
// the misuse a kiosk or a learner might try.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/records/test_statements.h"
#include "tests/testing/records_fixture.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using auth::Principal;
using auth::Role;
using records::testing::MakeStatement;
using records::testing::TestUuid;

constexpr char kKey[] = "learner-card-test-key-0123456789abcdef";
constexpr char kVenue[] = "和平里社区学校";
// Well-formed card numbers (12 digits, Luhn check digit).
constexpr char kCardA[] = "110100000428";
constexpr char kCardB[] = "110100000782";
constexpr char kCardUnbound[] = "110100000790";

Principal Who(Role role, const std::string& subject) {
  Principal p;
  p.role = role;
  p.subject = subject;
  if (role == Role::kKiosk) p.venue = kVenue;
  p.token_id = absl::StrCat("jti-", subject);
  return p;
}

class LearnerCardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::TestRecordsServerOptions o;
    o.key = kKey;
    o.service.learner_cards.pbkdf2_iterations = 100;
    auto server = testing::TestRecordsServer::Start(
        testing::FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name()), std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    authorizer_ = &server_->authorizer();
    rec_ = &server_->stub();
    // u1 and u2 each have a statement, by the loader.
    for (int i : {1, 2}) {
      v1::RecordStatementRequest req;
      req.set_statement_json(MakeStatement({.id = TestUuid(i), .learner = absl::StrCat("u", i), .course = "c1"}));
      v1::Statement out;
      ASSERT_TRUE(rec_->RecordStatement(Ctx(Who(Role::kLoader, "svc-loader")).get(), req, &out).ok());
    }
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const Principal& p) { return server_->Context(p); }
  static std::unique_ptr<grpc::ClientContext> Bearer(const std::string& token) {
    return testing::TestRecordsServer::BearerContext(token);
  }

  grpc::Status Bind(const Principal& as, const std::string& card, const std::string& learner, const std::string& pin,
                    v1::LearnerCard* out = nullptr) {
    v1::BindLearnerCardRequest r;
    r.set_card_number(card);
    r.set_learner(learner);
    r.set_pin(pin);
    v1::LearnerCard ignored;
    return rec_->BindLearnerCard(Ctx(as).get(), r, out != nullptr ? out : &ignored);
  }

  grpc::Status Redeem(const Principal& kiosk, const std::string& card, const std::string& pin,
                      v1::KioskSession* out = nullptr) {
    v1::RedeemLearnerCardRequest r;
    r.set_card_number(card);
    r.set_pin(pin);
    v1::KioskSession ignored;
    return rec_->RedeemLearnerCard(Ctx(kiosk).get(), r, out != nullptr ? out : &ignored);
  }

  const Principal operator_ = Who(Role::kOperator, "operator-wang");
  const Principal kiosk_ = Who(Role::kKiosk, "kiosk-hepingli-01");
  std::unique_ptr<testing::TestRecordsServer> server_;
  auth::Authorizer* authorizer_ = nullptr;
  v1::LearningRecordService::Stub* rec_ = nullptr;
};

TEST_F(LearnerCardTest, CardAndPinGiveAKioskSessionForThatLearnerOnly) {
  v1::LearnerCard bound;
  ASSERT_TRUE(Bind(operator_, "1101 0000 0428", "u1", "2580", &bound).ok());
  EXPECT_EQ(bound.card_number(), kCardA) << "normalized";
  EXPECT_EQ(bound.learner(), "u1");
  ASSERT_TRUE(Bind(Who(Role::kLoader, "svc-loader"), kCardB, "u2", "1357").ok());

  v1::KioskSession session;
  grpc::Status s = Redeem(kiosk_, kCardA, "2580", &session);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(session.learner(), "u1");
  absl::StatusOr<Principal> p = authorizer_->Authenticate("Bearer " + session.token());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->role, Role::kKiosk);
  EXPECT_EQ(p->learner, "u1");
  EXPECT_EQ(p->venue, kVenue);
  EXPECT_LE(p->expires_us, absl::ToUnixMicros(absl::Now() + absl::Minutes(6)));
  EXPECT_FALSE(absl::StrContains(p->token_id, kCardA)) << "the session id names no card";
  // The session of card A reads u1's history and transcript, never u2's.
  for (const char* who : {"u1", "u2"}) {
    const grpc::StatusCode want = std::string(who) == "u1" ? grpc::StatusCode::OK : grpc::StatusCode::PERMISSION_DENIED;
    v1::GetTranscriptRequest t;
    t.set_learner(who);
    v1::Transcript tr;
    EXPECT_EQ(rec_->GetTranscript(Bearer(session.token()).get(), t, &tr).error_code(), want) << who;
    v1::ListStatementsRequest l;
    l.set_learner(who);
    v1::ListStatementsResponse lr;
    EXPECT_EQ(rec_->ListStatements(Bearer(session.token()).get(), l, &lr).error_code(), want) << who;
  }
  // Nor may the session (or the kiosk) bind, read or unbind cards.
  v1::BindLearnerCardRequest rebind;
  rebind.set_card_number(kCardB);
  rebind.set_learner("u1");
  rebind.set_pin("2580");
  v1::LearnerCard out;
  EXPECT_EQ(rec_->BindLearnerCard(Bearer(session.token()).get(), rebind, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::GetLearnerCardRequest get;
  get.set_card_number(kCardB);
  EXPECT_EQ(rec_->GetLearnerCard(Ctx(kiosk_).get(), get, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A card is not single use: the same card signs in again.
  EXPECT_TRUE(Redeem(kiosk_, kCardA, "2580").ok());
}

TEST_F(LearnerCardTest, ALearnerCannotBindACardToThemselvesOrAnyone) {
  const Principal u1 = Who(Role::kLearner, "u1");
  EXPECT_EQ(Bind(u1, kCardA, "u1", "2580").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Bind(u1, kCardA, "u2", "2580").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  for (Role r : {Role::kKiosk, Role::kTeacher, Role::kTrainer, Role::kRecommender}) {
    EXPECT_EQ(Bind(Who(r, "someone"), kCardA, "u1", "2580").error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << auth::RoleName(r);
  }
  // Nor redeem one: only kiosks sign in with cards.
  ASSERT_TRUE(Bind(operator_, kCardA, "u1", "2580").ok());
  EXPECT_EQ(Redeem(u1, kCardA, "2580").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Redeem(operator_, kCardA, "2580").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Without any credential: UNAUTHENTICATED.
  v1::RedeemLearnerCardRequest r;
  r.set_card_number(kCardA);
  r.set_pin("2580");
  v1::KioskSession s;
  EXPECT_EQ(rec_->RedeemLearnerCard(Bearer("").get(), r, &s).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A card bound to u1 does not move to u2 behind u1's back.
  v1::LearnerCard out;
  grpc::Status taken = Bind(operator_, kCardA, "u2", "1357");
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS) << taken.error_message();
}

TEST_F(LearnerCardTest, MalformedInputIsInvalidArgumentNamingTheField) {
  auto expect_invalid = [](const grpc::Status& s, const std::string& field) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_TRUE(absl::StartsWith(s.error_message(), field + ":")) << s.error_message();
  };
  expect_invalid(Bind(operator_, "", "u1", "2580"), "card_number");
  expect_invalid(Bind(operator_, "1101000004", "u1", "2580"), "card_number");
  expect_invalid(Bind(operator_, "110100000429", "u1", "2580"), "card_number");  // check digit
  expect_invalid(Bind(operator_, "11010000042x", "u1", "2580"), "card_number");
  expect_invalid(Bind(operator_, kCardA, "", "2580"), "learner");
  expect_invalid(Bind(operator_, kCardA, "u1", ""), "pin");
  expect_invalid(Bind(operator_, kCardA, "u1", "12"), "pin");
  expect_invalid(Bind(operator_, kCardA, "u1", "1234"), "pin");
  expect_invalid(Bind(operator_, kCardA, "u1", "8888"), "pin");
  expect_invalid(Redeem(kiosk_, "not a card", "2580"), "card_number");
  expect_invalid(Redeem(kiosk_, kCardA, "25a0"), "pin");
  v1::GetLearnerCardRequest get;
  get.set_card_number("1");
  v1::LearnerCard out;
  expect_invalid(rec_->GetLearnerCard(Ctx(operator_).get(), get, &out), "card_number");
  // Unbound and unknown cards.
  get.set_card_number(kCardUnbound);
  EXPECT_EQ(rec_->GetLearnerCard(Ctx(operator_).get(), get, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::UnbindLearnerCardRequest unbind;
  unbind.set_card_number(kCardUnbound);
  EXPECT_EQ(rec_->UnbindLearnerCard(Ctx(operator_).get(), unbind, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Redeem(kiosk_, kCardUnbound, "2580").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LearnerCardTest, WrongPinsLockTheCardAndAreAudited) {
  ASSERT_TRUE(Bind(operator_, kCardA, "u1", "730915").ok());
  // Five kiosks, one wrong PIN each (so that no kiosk runs out of guesses).
  for (int i = 0; i < 5; ++i) {
    grpc::Status s = Redeem(Who(Role::kKiosk, absl::StrCat("kiosk-", i)), kCardA, "000001");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  }
  grpc::Status locked = Redeem(kiosk_, kCardA, "730915");
  EXPECT_EQ(locked.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << locked.error_message();
  v1::GetLearnerCardRequest get;
  get.set_card_number(kCardA);
  v1::LearnerCard card;
  ASSERT_TRUE(rec_->GetLearnerCard(Ctx(operator_).get(), get, &card).ok());
  EXPECT_EQ(card.failed_attempts(), 5);
  EXPECT_TRUE(card.has_locked_until());
  EXPECT_FALSE(card.blocked());
  // Staff set a new PIN: unlocked at once.
  ASSERT_TRUE(Bind(operator_, kCardA, "u1", "864209").ok());
  EXPECT_TRUE(Redeem(kiosk_, kCardA, "864209").ok());
  // u1's audit trail shows the attempts on their card, the refusal and the sign-in.
  v1::ListAuditEventsRequest q;
  q.set_learner("u1");
  q.set_page_size(100);
  v1::ListAuditEventsResponse events;
  ASSERT_TRUE(rec_->ListAuditEvents(Ctx(operator_).get(), q, &events).ok());
  int wrong = 0, refused = 0, ok = 0;
  for (const v1::AuditEvent& e : events.events()) {
    if (e.operation() != "/lifelong.v1.LearningRecordService/RedeemLearnerCard") continue;
    EXPECT_FALSE(absl::StrContains(e.detail(), "730915")) << "no PIN in the audit log";
    wrong += e.outcome() == "NOT_FOUND";
    refused += e.outcome() == "RESOURCE_EXHAUSTED";
    ok += e.outcome() == "OK";
  }
  EXPECT_EQ(wrong, 5);
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(ok, 1);
}

TEST_F(LearnerCardTest, BruteForceFromOneKioskIsCutOff) {
  ASSERT_TRUE(Bind(operator_, kCardA, "u1", "730915").ok());
  int not_found = 0, exhausted = 0;
  for (int pin = 100000; pin < 100010; ++pin) {
    grpc::StatusCode c = Redeem(kiosk_, kCardUnbound, absl::StrCat(pin)).error_code();
    not_found += c == grpc::StatusCode::NOT_FOUND;
    exhausted += c == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_EQ(not_found, 5);
  EXPECT_EQ(exhausted, 5);
  EXPECT_EQ(Redeem(kiosk_, kCardA, "730915").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "out of guesses: even a right card and PIN is refused at this kiosk";
  EXPECT_TRUE(Redeem(Who(Role::kKiosk, "kiosk-dongsi-02"), kCardA, "730915").ok());
}

TEST_F(LearnerCardTest, ErasureUnbindsTheLearnersCard) {
  ASSERT_TRUE(Bind(operator_, kCardA, "u1", "2580").ok());
  v1::EraseLearnerRequest erase;
  erase.set_learner("u1");
  v1::EraseLearnerResponse erased;
  ASSERT_TRUE(rec_->EraseLearner(Ctx(Who(Role::kLearner, "u1")).get(), erase, &erased).ok());
  v1::GetLearnerCardRequest get;
  get.set_card_number(kCardA);
  v1::LearnerCard card;
  EXPECT_EQ(rec_->GetLearnerCard(Ctx(operator_).get(), get, &card).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Redeem(kiosk_, kCardA, "2580").error_code(), grpc::StatusCode::NOT_FOUND);
  // Unbinding (a lost card) also ends card sign-in.
  ASSERT_TRUE(Bind(operator_, kCardB, "u2", "1357").ok());
  v1::UnbindLearnerCardRequest unbind;
  unbind.set_card_number(kCardB);
  ASSERT_TRUE(rec_->UnbindLearnerCard(Ctx(operator_).get(), unbind, &card).ok());
  EXPECT_EQ(card.learner(), "u2");
  EXPECT_EQ(Redeem(kiosk_, kCardB, "1357").error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace lifelong
