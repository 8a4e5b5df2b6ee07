#include "services/records/learner_cards.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_store.h"

namespace lifelong::records {
namespace {

using ::lifelong::testing::FakeClock;
using ::lifelong::testing::FreshStore;
using ::lifelong::testing::FreshTempDir;
using ::lifelong::testing::OpenStore;

// A valid card number: 11 digits and their Luhn digit.
std::string Card(const std::string& eleven) { return eleven + LearnerCards::LuhnDigit(eleven); }

LearnerCardOptions Fast(FakeClock* clock) {
  LearnerCardOptions o;
  o.pbkdf2_iterations = 10;  // the count is per card; tests need no slow hash
  o.now = clock->fn();
  return o;
}

void ExpectInvalid(const absl::Status& s, absl::string_view field) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), absl::StrCat(field, ":"))) << s;
}

TEST(LearnerCards, LuhnCheckDigitOfKnownNumbers) {
  // The classic example: 7992739871 has check digit 3.
  EXPECT_EQ(LearnerCards::LuhnDigit("7992739871"), '3');
  EXPECT_EQ(LearnerCards::LuhnDigit("11010000004"), Card("11010000004").back());
  ASSERT_TRUE(LearnerCards::NormalizeCardNumber(Card("11010000004")).ok());
}

TEST(LearnerCards, MalformedNumbersAndPinsAreInvalidArgumentNamingTheField) {
  const std::string good = Card("11010000042");
  EXPECT_EQ(*LearnerCards::NormalizeCardNumber(good.substr(0, 4) + " " + good.substr(4, 4) + "-" + good.substr(8)),
            good);
  ExpectInvalid(LearnerCards::NormalizeCardNumber("").status(), "card_number");
  ExpectInvalid(LearnerCards::NormalizeCardNumber("12345").status(), "card_number");
  ExpectInvalid(LearnerCards::NormalizeCardNumber(good + "0").status(), "card_number");
  ExpectInvalid(LearnerCards::NormalizeCardNumber("1101000004A2").status(), "card_number");
  ExpectInvalid(LearnerCards::NormalizeCardNumber("１１０１０００００４２").status(), "card_number");  // full-width
  ExpectInvalid(LearnerCards::NormalizeCardNumber(std::string(1000, '1')).status(), "card_number");
  std::string typo = good;
  typo[3] = typo[3] == '9' ? '0' : typo[3] + 1;
  absl::Status s = LearnerCards::NormalizeCardNumber(typo).status();
  ExpectInvalid(s, "card_number");
  EXPECT_TRUE(absl::StrContains(s.message(), "check digit")) << s;
  std::string swapped = good;
  std::swap(swapped[5], swapped[6]);
  if (swapped != good) ExpectInvalid(LearnerCards::NormalizeCardNumber(swapped).status(), "card_number");

  EXPECT_TRUE(LearnerCards::CheckPin("2580").ok());
  EXPECT_TRUE(LearnerCards::CheckPin("730915").ok());
  for (const char* bad : {"", "123", "1234567", "12a4", "1111", "000000", "1234", "654321", "3456"}) {
    ExpectInvalid(LearnerCards::CheckPin(bad), "pin");
  }
}

TEST(LearnerCards, BoundCardSignsInWithItsPinAndSurvivesARestart) {
  std::string dir = FreshTempDir("cards_restart");
  FakeClock clock;
  const std::string card = Card("11010000001");
  {
    auto store = OpenStore(dir);
    LearnerCards cards(store.get(), Fast(&clock));
    absl::StatusOr<LearnerCardStatus> b = cards.Bind(card, "u000001", "2580");
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(b->learner, "u000001");
    EXPECT_EQ(b->bound, clock.now);
  }
  auto store = OpenStore(dir);
  LearnerCards cards(store.get(), Fast(&clock));
  std::string holder;
  absl::StatusOr<std::string> learner = cards.Redeem("kiosk-a", card, "2580", &holder);
  ASSERT_TRUE(learner.ok()) << learner.status();
  EXPECT_EQ(*learner, "u000001");
  EXPECT_EQ(holder, "u000001");
  EXPECT_TRUE(cards.Redeem("kiosk-a", card, "2580").ok()) << "a card is not single use";
  // Neither the PIN nor its digits are stored in clear.
  ASSERT_TRUE(store
                  ->ForEachMeta("learner_card",
                                [&](absl::string_view key, absl::string_view value) {
                                  EXPECT_FALSE(absl::StrContains(value, "2580")) << key;
                                  return true;
                                })
                  .ok());
  absl::StatusOr<LearnerCardStatus> st = cards.Get(card);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->learner, "u000001");
  EXPECT_EQ(cards.OfLearner("u000001")->card_number, card);
}

TEST(LearnerCards, UnknownCardAndWrongPinLookTheSame) {
  auto store = FreshStore("cards_same");
  FakeClock clock;
  LearnerCards cards(store.get(), Fast(&clock));
  const std::string card = Card("11010000002");
  ASSERT_TRUE(cards.Bind(card, "u000002", "2580").ok());
  absl::Status unknown = cards.Redeem("kiosk-a", Card("11010000003"), "2580").status();
  std::string holder;
  absl::Status wrong = cards.Redeem("kiosk-b", card, "2581", &holder).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.message(), wrong.message());
  EXPECT_EQ(holder, "u000002") << "the holder is known for the audit log";
  ExpectInvalid(cards.Redeem("kiosk-a", card, "").status(), "pin");
  ExpectInvalid(cards.Redeem("kiosk-a", card, "25801234").status(), "pin");
  ExpectInvalid(cards.Redeem("kiosk-a", "", "2580").status(), "card_number");
}

// Timing: an unknown number pays the PIN hash as a bound card does, so the
// answer's delay does not tell the kiosk which numbers are bound. The hash is
// made slow (about 0.5 s) so that it dwarfs everything else; the check is a
// lower bound on the unknown card's time (the fastest of two tries against a
// quarter of the wrong PIN's fastest), which load can only make easier to pass.
TEST(LearnerCards, AnUnknownNumberTakesAsLongAsAWrongPin) {
  auto store = FreshStore("cards_timing");
  FakeClock clock;
  LearnerCardOptions o = Fast(&clock);
  o.pbkdf2_iterations = 3000000;
  o.kiosk_max_failures = 1000;
  LearnerCards cards(store.get(), o);
  const std::string card = Card("11010000004");
  ASSERT_TRUE(cards.Bind(card, "u000004", "2580").ok());
  auto fastest_of_two = [&](const std::string& number) {
    absl::Duration best = absl::InfiniteDuration();
    for (int i = 0; i < 2; ++i) {
      absl::Time start = absl::Now();
      absl::Status s = cards.Redeem("kiosk-a", number, "2581").status();
      best = std::min(best, absl::Now() - start);
      EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
    }
    return best;
  };
  absl::Duration wrong_pin = fastest_of_two(card);
  absl::Duration unknown = fastest_of_two(Card("11010000099"));
  EXPECT_GE(unknown, wrong_pin / 4) << "unknown card " << unknown << ", wrong PIN " << wrong_pin;
}

TEST(LearnerCards, WrongPinsLockTheCardThenBlockItUntilRebound) {
  std::string dir = FreshTempDir("cards_lockout");
  FakeClock clock;
  const std::string card = Card("11010000005");
  LearnerCardOptions o = Fast(&clock);
  o.kiosk_max_failures = 1000;  // only the card's own limits here
  {
    auto store = OpenStore(dir);
    LearnerCards cards(store.get(), o);
    ASSERT_TRUE(cards.Bind(card, "u000005", "730915").ok());
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(cards.Redeem("kiosk-a", card, "000001").status().code(), absl::StatusCode::kNotFound) << i;
    }
    // Locked: even the right PIN is refused, without being checked.
    absl::Status locked = cards.Redeem("kiosk-a", card, "730915").status();
    EXPECT_EQ(locked.code(), absl::StatusCode::kResourceExhausted) << locked;
    EXPECT_TRUE(absl::StrContains(locked.message(), "locked")) << locked;
    EXPECT_EQ(cards.Get(card)->failed_attempts, 5);
  }
  // A restart does not reset the count or the lock.
  auto store = OpenStore(dir);
  LearnerCards cards(store.get(), o);
  EXPECT_EQ(cards.Redeem("kiosk-a", card, "730915").status().code(), absl::StatusCode::kResourceExhausted);
  clock.now += absl::Minutes(15) + absl::Seconds(1);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(cards.Redeem("kiosk-a", card, "000002").status().code(), absl::StatusCode::kNotFound) << i;
  }
  clock.now += absl::Hours(24);
  absl::Status blocked = cards.Redeem("kiosk-a", card, "730915").status();
  EXPECT_EQ(blocked.code(), absl::StatusCode::kFailedPrecondition) << blocked;
  EXPECT_TRUE(cards.Get(card)->blocked);
  // The counter binds it again with a new PIN: unblocked, the old PIN gone.
  ASSERT_TRUE(cards.Bind(card, "u000005", "864209").ok());
  EXPECT_FALSE(cards.Get(card)->blocked);
  EXPECT_EQ(cards.Redeem("kiosk-a", card, "730915").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*cards.Redeem("kiosk-a", card, "864209"), "u000005");
  EXPECT_EQ(cards.Get(card)->failed_attempts, 0) << "a correct PIN resets the count";
}

TEST(LearnerCards, KioskThatGuessesTooMuchIsRefusedWithoutALookUp) {
  auto store = FreshStore("cards_kiosk");
  FakeClock clock;
  LearnerCards cards(store.get(), Fast(&clock));
  // Brute force across many cards (so that no single card locks).
  std::vector<std::string> numbers;
  for (int i = 0; i < 8; ++i) {
    numbers.push_back(Card("1101000010" + std::to_string(i)));
    ASSERT_TRUE(cards.Bind(numbers.back(), "u00010" + std::to_string(i), "2580").ok());
  }
  int not_found = 0, exhausted = 0;
  for (const std::string& n : numbers) {
    absl::StatusCode c = cards.Redeem("kiosk-evil", n, "9713").status().code();
    not_found += c == absl::StatusCode::kNotFound;
    exhausted += c == absl::StatusCode::kResourceExhausted;
  }
  EXPECT_EQ(not_found, 5);
  EXPECT_EQ(exhausted, 3);
  absl::Status s = cards.Redeem("kiosk-evil", numbers[0], "2580").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << "even the right PIN, once the kiosk is out of guesses";
  EXPECT_TRUE(cards.Redeem("kiosk-other", numbers[0], "2580").ok()) << "another kiosk is not affected";
  clock.now += absl::Seconds(30);
  EXPECT_TRUE(cards.Redeem("kiosk-evil", numbers[1], "2580").ok()) << "one more guess per 30 s";
}

TEST(LearnerCards, OneCardPerLearnerAndNoSilentReassignment) {
  auto store = FreshStore("cards_bind");
  FakeClock clock;
  LearnerCards cards(store.get(), Fast(&clock));
  const std::string a = Card("11010000011"), b = Card("11010000012");
  ASSERT_TRUE(cards.Bind(a, "u000011", "2580").ok());
  absl::Status taken = cards.Bind(a, "u000012", "2580").status();
  EXPECT_EQ(taken.code(), absl::StatusCode::kAlreadyExists) << taken;
  EXPECT_EQ(*cards.Redeem("k", a, "2580"), "u000011");
  // A replacement card for u000011: the old one stops working.
  ASSERT_TRUE(cards.Bind(b, "u000011", "1357").ok());
  EXPECT_EQ(cards.Get(a).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cards.Redeem("k", a, "2580").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cards.OfLearner("u000011")->card_number, b);
  // Unbind, then the card may go to someone else.
  absl::StatusOr<LearnerCardStatus> gone = cards.Unbind(b);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->learner, "u000011");
  EXPECT_EQ(cards.Unbind(b).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cards.OfLearner("u000011").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(cards.Bind(b, "u000012", "1357").ok());
  EXPECT_EQ(*cards.Redeem("k", b, "1357"), "u000012");
  ExpectInvalid(cards.Bind(b, "", "1357").status(), "learner");
  ExpectInvalid(cards.Bind(b, "u000012", "1111").status(), "pin");
  ExpectInvalid(cards.Bind("110100000120", "u000012", "1357").status(), "card_number");
}

TEST(LearnerCards, ErasureRemovesTheBinding) {
  auto store = FreshStore("cards_erase");
  FakeClock clock;
  LearnerCards cards(store.get(), Fast(&clock));
  const std::string a = Card("11010000021");
  ASSERT_TRUE(cards.Bind(a, "u000021", "2580").ok());
  ASSERT_TRUE(cards.EraseLearner("u000021").ok());
  ASSERT_TRUE(cards.EraseLearner("u000021").ok()) << "idempotent";
  EXPECT_EQ(cards.Redeem("k", a, "2580").status().code(), absl::StatusCode::kNotFound);
  int left = 0;
  ASSERT_TRUE(store
                  ->ForEachMeta("learner_card",
                                [&](absl::string_view, absl::string_view) {
                                  ++left;
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(left, 0);
}

TEST(LearnerCards, CorruptRecordIsAnErrorNotACrash) {
  auto store = FreshStore("cards_corrupt");
  FakeClock clock;
  LearnerCards cards(store.get(), Fast(&clock));
  const std::string a = Card("11010000031");
  for (std::string bad : {std::string(), std::string("\x01short", 6), std::string(80, '\x02')}) {
    ASSERT_TRUE(store->WriteMeta({{std::string(kMetaLearnerCardPrefix) + a, bad}}).ok());
    EXPECT_EQ(cards.Redeem("k", a, "2580").status().code(), absl::StatusCode::kInternal);
    EXPECT_EQ(cards.Get(a).status().code(), absl::StatusCode::kInternal);
  }
}

}  // namespace
}  // namespace lifelong::records
