#include "services/recommend/learner_history.h"

#include "gtest/gtest.h"
#include "services/domain/vocabulary.h"

namespace lifelong::recommend {
namespace {

StatementFact Fact(absl::string_view verb, const std::string& course, int64_t t) {
  return {std::string(verb), vocab::CourseIri(course), absl::FromUnixSeconds(t)};
}

TEST(BuildLearnerHistory, OldestFirstWithExclusions) {
  // Newest first, as the record service lists them.
  std::vector<StatementFact> facts = {
      Fact(vocab::kCompleted, "c1", 400),
      Fact(vocab::kRegistered, "c2", 300),
      Fact(vocab::kFailed, "c3", 250),
      Fact(vocab::kAttended, "c1", 200),
      Fact(vocab::kRegistered, "c1", 100),
      {std::string(vocab::kCompleted), "https://example.org/not-a-course", absl::FromUnixSeconds(50)},
  };
  LearnerHistory h = BuildLearnerHistory(facts);
  ASSERT_EQ(h.events.size(), 4u);  // failed has weight 0; the foreign IRI is skipped
  EXPECT_EQ(h.events[0].course_id, "c1");
  EXPECT_EQ(h.verbs[0], vocab::kRegistered);
  EXPECT_EQ(h.events[3].course_id, "c1");
  EXPECT_EQ(h.verbs[3], vocab::kCompleted);
  EXPECT_FLOAT_EQ(h.events[3].weight, 1.0f);
  EXPECT_EQ(h.events[2].course_id, "c2");
  EXPECT_TRUE(h.completed.contains("c1"));
  EXPECT_FALSE(h.enrolled.contains("c1"));  // registered, then completed
  EXPECT_TRUE(h.enrolled.contains("c2"));
  EXPECT_TRUE(h.Excluded("c1"));
  EXPECT_TRUE(h.Excluded("c2"));
  EXPECT_FALSE(h.Excluded("c3"));  // failed: may take it again
  EXPECT_TRUE(h.failed.contains("c3"));
  EXPECT_FALSE(h.failed.contains("c1"));
}

TEST(BuildLearnerHistory, AttendingASessionPutsTheCourseInProgress) {
  // A walk-in learner checks in at a community centre without registering:
  // the course is in progress and not offered to them again.
  LearnerHistory walk_in = BuildLearnerHistory({Fact(vocab::kAttended, "c1", 100)});
  EXPECT_TRUE(walk_in.enrolled.contains("c1"));
  EXPECT_TRUE(walk_in.Excluded("c1"));
  EXPECT_FALSE(walk_in.completed.contains("c1"));

  // Dropping out ends it; attending again after a failure takes it again.
  LearnerHistory dropped = BuildLearnerHistory({
      Fact(vocab::kExited, "c1", 200),
      Fact(vocab::kAttended, "c1", 100),
  });
  EXPECT_FALSE(dropped.Excluded("c1"));
  LearnerHistory again = BuildLearnerHistory({
      Fact(vocab::kAttended, "c1", 300),
      Fact(vocab::kFailed, "c1", 200),
      Fact(vocab::kAttended, "c1", 100),
  });
  EXPECT_TRUE(again.enrolled.contains("c1"));
  EXPECT_TRUE(again.Excluded("c1"));

  // Attending after completing does not make a completed course "in progress".
  LearnerHistory revisit = BuildLearnerHistory({
      Fact(vocab::kAttended, "c1", 300),
      Fact(vocab::kCompleted, "c1", 200),
  });
  EXPECT_TRUE(revisit.completed.contains("c1"));
  EXPECT_FALSE(revisit.enrolled.contains("c1"));
}

TEST(BuildLearnerHistory, FailedEndsTheRegistrationUntilPassedOrRegisteredAgain) {
  LearnerHistory failed = BuildLearnerHistory({
      Fact(vocab::kFailed, "c1", 200),
      Fact(vocab::kRegistered, "c1", 100),
  });
  EXPECT_TRUE(failed.failed.contains("c1"));
  EXPECT_FALSE(failed.enrolled.contains("c1"));
  EXPECT_FALSE(failed.Excluded("c1"));  // offered again

  LearnerHistory retaking = BuildLearnerHistory({
      Fact(vocab::kRegistered, "c1", 300),
      Fact(vocab::kFailed, "c1", 200),
      Fact(vocab::kRegistered, "c1", 100),
  });
  EXPECT_TRUE(retaking.enrolled.contains("c1"));
  EXPECT_TRUE(retaking.Excluded("c1"));  // taking it again now

  LearnerHistory passed = BuildLearnerHistory({
      Fact(vocab::kPassed, "c1", 400),
      Fact(vocab::kRegistered, "c1", 300),
      Fact(vocab::kFailed, "c1", 200),
  });
  EXPECT_FALSE(passed.failed.contains("c1"));
  EXPECT_TRUE(passed.completed.contains("c1"));

  // A failure after a pass does not undo the pass.
  LearnerHistory pass_then_fail = BuildLearnerHistory({
      Fact(vocab::kFailed, "c1", 200),
      Fact(vocab::kPassed, "c1", 100),
  });
  EXPECT_TRUE(pass_then_fail.completed.contains("c1"));
  EXPECT_FALSE(pass_then_fail.failed.contains("c1"));
}

// Only completions by an entitled issuer (verified) earn credits; a
// self-reported one still counts as done.
TEST(BuildLearnerHistory, CreditedHoldsOnlyVerifiedCompletions) {
  StatementFact verified = Fact(vocab::kPassed, "c1", 300);
  verified.verified = true;
  std::vector<StatementFact> facts = {verified, Fact(vocab::kCompleted, "c2", 200),
                                      Fact(vocab::kRegistered, "c3", 100)};
  LearnerHistory h = BuildLearnerHistory(facts);
  EXPECT_TRUE(h.completed.contains("c1"));
  EXPECT_TRUE(h.completed.contains("c2"));
  EXPECT_TRUE(h.credited.contains("c1"));
  EXPECT_FALSE(h.credited.contains("c2"));
  EXPECT_FALSE(h.credited.contains("c3"));
}

// A drop-out (exited) ends the registration: the course is no longer in
// progress, so recommendations and plans may offer it again.
TEST(BuildLearnerHistory, CompletedAndFailedInAFixedOrderNewestFirst) {
  std::vector<StatementFact> facts = {
      // Newest first.
      Fact(vocab::kPassed, "a", 900),       Fact(vocab::kFailed, "f2", 800),   Fact(vocab::kCompleted, "b", 700),
      Fact(vocab::kFailed, "f1", 600),      Fact(vocab::kFailed, "done", 550), Fact(vocab::kCompleted, "a", 500),
      Fact(vocab::kCompleted, "done", 450), Fact(vocab::kCompleted, "c", 300),
  };
  LearnerHistory h = BuildLearnerHistory(facts);
  // By the latest completion: a (900; its earlier one not again), b, done, c.
  EXPECT_EQ(h.completed_newest_first, (std::vector<std::string>{"a", "b", "done", "c"}));
  // Open failures only ("done" failed after it was completed: still completed).
  EXPECT_EQ(h.failed_newest_first, (std::vector<std::string>{"f2", "f1"}));
  EXPECT_EQ(h.completed.size(), h.completed_newest_first.size());
  EXPECT_EQ(h.failed.size(), h.failed_newest_first.size());
}

TEST(BuildLearnerHistory, ExitedEndsTheRegistration) {
  std::vector<StatementFact> facts = {Fact(vocab::kExited, "c1", 300), Fact(vocab::kRegistered, "c1", 200),
                                      Fact(vocab::kRegistered, "c2", 100)};
  LearnerHistory h = BuildLearnerHistory(facts);
  EXPECT_FALSE(h.enrolled.contains("c1"));
  EXPECT_FALSE(h.Excluded("c1"));
  EXPECT_TRUE(h.enrolled.contains("c2"));
  EXPECT_FALSE(h.failed.contains("c1"));
}

TEST(BuildLearnerHistory, EmptyForNoStatements) {
  LearnerHistory h = BuildLearnerHistory({});
  EXPECT_TRUE(h.empty());
  EXPECT_FALSE(h.Excluded("c1"));
}

}  // namespace
}  // namespace lifelong::recommend
