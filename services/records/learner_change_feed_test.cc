#include "services/records/learner_change_feed.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lifelong::records {
namespace {

using ::testing::ElementsAre;

TEST(LearnerChangeFeed, PublishWithoutWatchersReturnsAtOnce) {
  LearnerChangeFeed feed(absl::Seconds(10));
  absl::Time t0 = absl::Now();
  feed.Publish({"u1"});
  EXPECT_LT(absl::Now() - t0, absl::Seconds(1));
}

TEST(LearnerChangeFeed, PublishWaitsForTheAcknowledgement) {
  LearnerChangeFeed feed(absl::Seconds(10));
  auto w = feed.Watch(nullptr);
  std::atomic<bool> published{false};
  std::thread writer([&] {
    feed.Publish({"u1", "u2"});
    published = true;
  });
  int64_t seq = 0;
  std::vector<std::string> learners;
  ASSERT_TRUE(w->Next(absl::Seconds(5), &seq, &learners));
  EXPECT_GT(seq, 0);
  EXPECT_THAT(learners, ElementsAre("u1", "u2"));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(published.load()) << "a write must not be answered before its watchers acknowledged it";
  w->Ack(seq);
  writer.join();
  EXPECT_TRUE(published.load());
  EXPECT_TRUE(w->ended().ok());
  // Nothing more to send.
  EXPECT_FALSE(w->Next(absl::Milliseconds(10), &seq, &learners));
  feed.Unwatch(w);
  EXPECT_EQ(feed.watchers(), 0);
}

TEST(LearnerChangeFeed, ChangesPublishedMeanwhileAreMerged) {
  LearnerChangeFeed feed(absl::Seconds(10));
  auto slow = feed.Watch(nullptr);
  auto other = feed.Watch(nullptr);
  // `other` acknowledges everything; `slow` lets two changes pile up.
  std::thread writer([&] {
    feed.Publish({"u1"});
    feed.Publish({"u2"});
  });
  int64_t seq = 0, other_seq = 0;
  std::vector<std::string> learners, other_learners;
  ASSERT_TRUE(other->Next(absl::Seconds(5), &other_seq, &other_learners));
  ASSERT_TRUE(slow->Next(absl::Seconds(5), &seq, &learners));
  EXPECT_THAT(learners, ElementsAre("u1"));
  slow->Ack(seq);
  other->Ack(other_seq);
  ASSERT_TRUE(other->Next(absl::Seconds(5), &other_seq, &other_learners));
  ASSERT_TRUE(slow->Next(absl::Seconds(5), &seq, &learners));
  EXPECT_THAT(learners, ElementsAre("u2"));
  slow->Ack(seq);
  other->Ack(other_seq);
  writer.join();
}

TEST(LearnerChangeFeed, AWatcherThatDoesNotAcknowledgeIsDropped) {
  LearnerChangeFeed feed(absl::Milliseconds(100));
  std::atomic<int> cancelled{0};
  auto w = feed.Watch([&] { ++cancelled; });
  absl::Time t0 = absl::Now();
  feed.Publish({"u1"});  // nobody acknowledges
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
  EXPECT_EQ(cancelled.load(), 1);
  EXPECT_EQ(w->ended().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(feed.dropped_watchers(), 1);
  int64_t seq;
  std::vector<std::string> learners;
  EXPECT_FALSE(w->Next(absl::Milliseconds(10), &seq, &learners));
  // Later writes no longer wait for it.
  t0 = absl::Now();
  feed.Publish({"u2"});
  EXPECT_LT(absl::Now() - t0, absl::Milliseconds(90));
}

// A dropped watcher may still answer from its cache until its lease ends
// (kWatcherLease after its last acknowledgement): the write that dropped it
// is not answered before then, however short the acknowledgement timeout.
TEST(LearnerChangeFeed, AWriteThatDropsAWatcherWaitsForTheWatchersLease) {
  LearnerChangeFeed feed(absl::Milliseconds(50));
  auto w = feed.Watch(nullptr);
  w->Ack(0);  // a heartbeat acknowledged: the lease runs from here
  const absl::Time acked = absl::Now();
  feed.Publish({"u1"});  // nobody acknowledges
  EXPECT_GE(absl::Now() - acked, kWatcherLease - absl::Milliseconds(5));
  EXPECT_EQ(w->ended().code(), absl::StatusCode::kDeadlineExceeded);
  // A watcher that acknowledged nothing holds no lease: the timeout alone.
  auto fresh = feed.Watch(nullptr);
  const absl::Time t0 = absl::Now();
  feed.Publish({"u2"});
  EXPECT_LT(absl::Now() - t0, kWatcherLease - absl::Milliseconds(100));
}

TEST(LearnerChangeFeed, CloseEndsEveryStreamAndRefusesNewOnes) {
  LearnerChangeFeed feed(absl::Seconds(10));
  std::atomic<int> cancelled{0};
  auto w = feed.Watch([&] { ++cancelled; });
  feed.Close();
  EXPECT_EQ(cancelled.load(), 0);  // the stream ends on its own at its next Next()
  EXPECT_EQ(w->ended().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(feed.Watch(nullptr)->ended().code(), absl::StatusCode::kUnavailable);
  feed.Publish({"u1"});  // returns: nobody to wait for
}

}  // namespace
}  // namespace lifelong::records
