// LearnerHistoryCache against the fake record service's real change feed.
#include "services/recommend/history_cache.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "services/domain/vocabulary.h"
#include "services/recommend/test_support.h"

namespace lifelong::recommend {
namespace {

// `n` completions of courses <prefix>0 .. <prefix>n-1.
std::vector<StatementFact> Facts(int n, const std::string& prefix = "c") {
  std::vector<StatementFact> facts(n);
  for (int i = 0; i < n; ++i) {
    facts[i].verb = std::string(vocab::kCompleted);
    facts[i].activity = vocab::CourseIri(absl::StrCat(prefix, i));
  }
  return facts;
}

LearnerHistoryCache::HistoryPtr Built(const std::vector<StatementFact>& facts) {
  return std::make_shared<const LearnerHistory>(BuildLearnerHistory(facts));
}

class HistoryCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<LearnerHistoryCache> Start(LearnerHistoryCache::Options options) {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    auto cache = std::make_unique<LearnerHistoryCache>(channel, options);
    EXPECT_TRUE(cache->WaitLive(absl::Seconds(10)));
    return cache;
  }
  void Put(LearnerHistoryCache& cache, const std::string& learner, int n, const std::string& prefix = "c") {
    std::vector<StatementFact> facts = Facts(n, prefix);
    cache.EndFetch(learner, cache.BeginFetch(learner), Built(facts), facts.size());
  }

  testing::FakeRecords records_;
  std::unique_ptr<RunningGrpcServer> server_ = testing::StartFake(&records_);
};

TEST_F(HistoryCacheTest, AChangeDropsTheEntryBeforeTheWriteReturns) {
  auto cache = Start({});
  Put(*cache, "u1", 3);
  Put(*cache, "u2", 3);
  ASSERT_NE(cache->Lookup("u1"), nullptr);
  EXPECT_EQ(cache->Lookup("u1")->completed.size(), 3u);
  records_.Add("u1", vocab::kRegistered, "c9", absl::Now());  // returns once the cache acknowledged
  EXPECT_EQ(cache->Lookup("u1"), nullptr);
  EXPECT_NE(cache->Lookup("u2"), nullptr);
  EXPECT_EQ(cache->stats().invalidations, 1);
}

// Peek (the callback thread's lookup) never waits for a read in flight: with
// a join_wait of an hour, a waiting Peek would hang the test.
TEST_F(HistoryCacheTest, PeekNeverWaitsAndCountsOnlyHits) {
  LearnerHistoryCache::Options options;
  options.join_wait = absl::Hours(1);
  auto cache = Start(options);
  const uint64_t ticket = cache->BeginFetch("u1");  // a read of u1 in flight
  EXPECT_EQ(cache->Peek("u1"), nullptr);
  EXPECT_EQ(cache->Peek("u2"), nullptr);
  EXPECT_EQ(cache->stats().misses, 0);  // the caller's Lookup counts the miss
  EXPECT_EQ(cache->stats().hits, 0);
  cache->EndFetch("u1", ticket, Built(Facts(2)), 2);
  LearnerHistoryCache::HistoryPtr got = cache->Peek("u1");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->completed.size(), 2u);
  EXPECT_EQ(cache->stats().hits, 1);
  // Exact as Lookup: a change drops the entry before the write returns.
  records_.Add("u1", vocab::kRegistered, "c9", absl::Now());
  EXPECT_EQ(cache->Peek("u1"), nullptr);
}

TEST_F(HistoryCacheTest, AReadOverlappingAChangeIsNotCached) {
  auto cache = Start({});
  const uint64_t ticket = cache->BeginFetch("u1");
  records_.Add("u1", vocab::kRegistered, "c9", absl::Now());  // after the read began
  cache->EndFetch("u1", ticket, Built(Facts(2)), 2);
  EXPECT_EQ(cache->Lookup("u1"), nullptr);
  Put(*cache, "u1", 3);  // a read that began after the change is cached
  EXPECT_NE(cache->Lookup("u1"), nullptr);
  // A failed read caches nothing.
  cache->EndFetch("u3", cache->BeginFetch("u3"), nullptr, 0);
  EXPECT_EQ(cache->Lookup("u3"), nullptr);
}

TEST_F(HistoryCacheTest, BoundedInLearnersAndInStatements) {
  LearnerHistoryCache::Options options;
  options.max_learners = 3;
  options.max_facts = 10;
  auto cache = Start(options);
  for (int i = 0; i < 5; ++i) Put(*cache, absl::StrCat("u", i), 2);
  EXPECT_EQ(cache->stats().learners, 3u);
  EXPECT_EQ(cache->stats().facts, 6u);
  Put(*cache, "big", 8);  // makes room by evicting others
  EXPECT_LE(cache->stats().facts, 10u);
  EXPECT_NE(cache->Lookup("big"), nullptr);
  Put(*cache, "huge", 11);  // larger than the whole budget: not cached
  EXPECT_EQ(cache->Lookup("huge"), nullptr);
  EXPECT_LE(cache->stats().facts, 10u);
}

TEST_F(HistoryCacheTest, WhenTheFeedEndsTheCacheEmptiesAndIsNotUsed) {
  auto cache = Start({});
  Put(*cache, "u1", 3);
  records_.change_feed().Close();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (cache->stats().live && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_FALSE(cache->stats().live);
  EXPECT_EQ(cache->stats().learners, 0u);
  Put(*cache, "u1", 3);  // not live: not cached
  EXPECT_EQ(cache->Lookup("u1"), nullptr);
}

// The feed's heartbeats renew the cache's lease: an idle cache keeps
// answering long past the lease (before the heartbeats it stopped after it).
TEST_F(HistoryCacheTest, AnIdleFeedKeepsTheCacheAnswering) {
  LearnerHistoryCache::Options o;
  o.lease = absl::Milliseconds(600);  // heartbeats every 100 ms: room for a loaded machine
  auto cache = Start(o);
  Put(*cache, "u1", 3);
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_NE(cache->Lookup("u1"), nullptr);
  EXPECT_NE(cache->Peek("u1"), nullptr);
}

// A record service whose feed sends a heartbeat every `gap` (acknowledged
// by the cache) until `stall` is notified, then goes quiet with its stream
// left open (a stalled network or server thread).
class ScriptedFeed final : public v1::LearningRecordService::Service {
 public:
  grpc::Status WatchLearnerChanges(
      grpc::ServerContext* ctx, grpc::ServerReaderWriter<v1::LearnerChanges, v1::LearnerChangesAck>* stream) override {
    v1::LearnerChanges m;
    m.set_sequence(0);
    if (!stream->Write(m)) return grpc::Status::CANCELLED;  // live
    v1::LearnerChangesAck ack;
    while (!ctx->IsCancelled() && !stall.HasBeenNotified()) {
      if (!stream->Write(m) || !stream->Read(&ack)) return grpc::Status::CANCELLED;
      ++acks;
      stall.WaitForNotificationWithTimeout(absl::Milliseconds(gap_ms.load()));
    }
    while (!ctx->IsCancelled() && !stop.WaitForNotificationWithTimeout(absl::Milliseconds(20))) {
    }
    return grpc::Status::OK;
  }
  std::atomic<int> gap_ms{50};
  std::atomic<int> acks{0};
  absl::Notification stall, stop;
};

class HistoryCacheLease : public ::testing::Test {
 protected:
  void SetUp() override {
    LearnerHistoryCache::Options o;
    o.lease = absl::Milliseconds(300);
    cache_ = std::make_unique<LearnerHistoryCache>(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()), o);
    ASSERT_TRUE(cache_->WaitLive(absl::Seconds(10)));
    std::vector<StatementFact> facts = Facts(3);
    cache_->EndFetch("u1", cache_->BeginFetch("u1"), Built(facts), facts.size());
  }
  void TearDown() override { feed_.stop.Notify(); }
  // Whether the cache answered for u1 in `span`, polling every 10 ms.
  bool AnswersWithin(absl::Duration span) {
    for (const absl::Time end = absl::Now() + span; absl::Now() < end; absl::SleepFor(absl::Milliseconds(10))) {
      if (cache_->Peek("u1") != nullptr) return true;
    }
    return false;
  }

  ScriptedFeed feed_;
  std::unique_ptr<RunningGrpcServer> server_ = testing::StartFake(&feed_);
  std::unique_ptr<LearnerHistoryCache> cache_;
};

// A stalled feed stops the cache within its lease, although the stream is
// still open: the record service answers a write the cache did not
// acknowledge once the lease is over (records/learner_change_feed.h), and
// the cache must not answer from what it held before that write.
TEST_F(HistoryCacheLease, AStalledFeedStopsTheCacheWithinItsLease) {
  EXPECT_TRUE(AnswersWithin(absl::Seconds(5))) << "cached while heartbeats come";
  feed_.stall.Notify();
  absl::SleepFor(absl::Milliseconds(400));
  EXPECT_TRUE(cache_->stats().live) << "the stream is still open";
  EXPECT_FALSE(AnswersWithin(absl::Milliseconds(300))) << "answered from the cache after its lease";
  EXPECT_EQ(cache_->Lookup("u1"), nullptr);
}

// A message that arrives late does not renew the lease from its arrival:
// the feed counts the lease from the acknowledgement before it, the last it
// has, so the cache does too. Heartbeats 500 ms apart (past the 300 ms lease)
// never let the cache answer; counted from arrival, it answered 300 ms after
// each.
TEST_F(HistoryCacheLease, ALateMessageDoesNotRenewTheLease) {
  EXPECT_TRUE(AnswersWithin(absl::Seconds(5))) << "cached while heartbeats come";
  feed_.gap_ms = 500;
  const int acks = feed_.acks.load();
  for (const absl::Time end = absl::Now() + absl::Seconds(10); feed_.acks.load() < acks + 2 && absl::Now() < end;) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_FALSE(AnswersWithin(absl::Milliseconds(1200)));
}

// Entries are per learner key: each learner gets their own history back,
// never another's, however the reads interleave; a key that differs only
// in a suffix or prefix is another learner.
TEST_F(HistoryCacheTest, EachLearnerGetsTheirOwnHistory) {
  auto cache = Start({});
  const uint64_t t1 = cache->BeginFetch("u1");
  const uint64_t t2 = cache->BeginFetch("u2");
  const uint64_t t3 = cache->BeginFetch("u1x");
  std::vector<StatementFact> b = Facts(2, "b"), a = Facts(3, "a"), ax = Facts(1, "x");
  cache->EndFetch("u2", t2, Built(b), b.size());
  cache->EndFetch("u1", t1, Built(a), a.size());
  cache->EndFetch("u1x", t3, Built(ax), ax.size());
  LearnerHistoryCache::HistoryPtr got_a = cache->Lookup("u1");
  LearnerHistoryCache::HistoryPtr got_b = cache->Lookup("u2");
  LearnerHistoryCache::HistoryPtr got_x = cache->Lookup("u1x");
  ASSERT_NE(got_a, nullptr);
  ASSERT_NE(got_b, nullptr);
  ASSERT_NE(got_x, nullptr);
  EXPECT_EQ(got_a->completed, (absl::flat_hash_set<std::string>{"a0", "a1", "a2"}));
  EXPECT_EQ(got_b->completed, (absl::flat_hash_set<std::string>{"b0", "b1"}));
  EXPECT_EQ(got_x->completed, (absl::flat_hash_set<std::string>{"x0"}));
  EXPECT_EQ(cache->Lookup("u3"), nullptr);
  EXPECT_EQ(cache->Lookup("u"), nullptr);
  // A change of one learner drops only theirs.
  records_.Add("u2", vocab::kRegistered, "c9", absl::Now());
  EXPECT_EQ(cache->Lookup("u2"), nullptr);
  EXPECT_EQ(cache->Lookup("u1"), got_a);
}

// Waits until `n` lookups wait for a read in flight.
bool WaitForWaiters(LearnerHistoryCache& cache, int n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (cache.stats().waiting != n && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  return cache.stats().waiting == n;
}

// Concurrent requests for one learner make one read: a lookup that misses
// while another request reads the learner waits for that read and takes its
// result. (join_wait is an hour: these lookups return only when the read ends.)
TEST_F(HistoryCacheTest, AMissWaitsForTheReadInFlightAndTakesItsResult) {
  LearnerHistoryCache::Options options;
  options.join_wait = absl::Hours(1);
  auto cache = Start(options);
  uint64_t ticket = 0;
  ASSERT_EQ(cache->LookupOrBeginFetch("u1", &ticket), nullptr);  // this request reads
  LearnerHistoryCache::HistoryPtr joined1, joined2;
  std::thread t1([&] { joined1 = cache->Lookup("u1"); });
  std::thread t2([&] { joined2 = cache->Lookup("u1"); });
  ASSERT_TRUE(WaitForWaiters(*cache, 2));
  // Another learner's lookup does not wait for u1's read.
  EXPECT_EQ(cache->Lookup("u2"), nullptr);
  const LearnerHistoryCache::HistoryPtr read = Built(Facts(3));
  cache->EndFetch("u1", ticket, read, 3);
  t1.join();
  t2.join();
  EXPECT_EQ(joined1, read);
  EXPECT_EQ(joined2, read);
  EXPECT_EQ(cache->stats().joined, 2);
  EXPECT_EQ(cache->stats().waiting, 0);
}

// The read the waiters join was overlapped by a change of the learner: its
// result is not cached, and the waiters get nothing (they read themselves)
// rather than the history from before the change.
TEST_F(HistoryCacheTest, WaitersDoNotTakeAReadThatAChangeOverlapped) {
  LearnerHistoryCache::Options options;
  options.join_wait = absl::Hours(1);
  auto cache = Start(options);
  uint64_t ticket = 0;
  ASSERT_EQ(cache->LookupOrBeginFetch("u1", &ticket), nullptr);
  LearnerHistoryCache::HistoryPtr joined = Built(Facts(1));
  std::thread waiter([&] { joined = cache->Lookup("u1"); });
  ASSERT_TRUE(WaitForWaiters(*cache, 1));
  records_.Add("u1", vocab::kRegistered, "c9", absl::Now());  // answered once the cache acknowledged
  cache->EndFetch("u1", ticket, Built(Facts(2)), 2);          // began before the change
  waiter.join();
  EXPECT_EQ(joined, nullptr);
  EXPECT_EQ(cache->stats().joined, 0);
  // A failed read in flight: waiters get nothing either.
  ASSERT_EQ(cache->LookupOrBeginFetch("u1", &ticket), nullptr);
  joined = Built(Facts(1));
  std::thread waiter2([&] { joined = cache->Lookup("u1"); });
  ASSERT_TRUE(WaitForWaiters(*cache, 1));
  cache->EndFetch("u1", ticket, nullptr, 0);
  waiter2.join();
  EXPECT_EQ(joined, nullptr);
}

// A read that does not end in time: the waiter gives up after join_wait and
// reads itself.
TEST_F(HistoryCacheTest, AWaiterGivesUpAfterJoinWait) {
  LearnerHistoryCache::Options options;
  options.join_wait = absl::Milliseconds(20);
  auto cache = Start(options);
  uint64_t ticket = 0;
  ASSERT_EQ(cache->LookupOrBeginFetch("u1", &ticket), nullptr);  // never ends here
  uint64_t second = 0;
  EXPECT_EQ(cache->LookupOrBeginFetch("u1", &second), nullptr);  // waited, then reads itself
  EXPECT_EQ(cache->stats().joined, 0);
  // Both reads end; the later one's result is what is cached.
  cache->EndFetch("u1", ticket, Built(Facts(1)), 1);
  cache->EndFetch("u1", second, Built(Facts(2)), 2);
  ASSERT_NE(cache->Lookup("u1"), nullptr);
  EXPECT_EQ(cache->Lookup("u1")->completed.size(), 2u);
}

// The wait for another request's read never outlasts the waiting call's own
// deadline, however long join_wait is.
TEST_F(HistoryCacheTest, AWaiterGivesUpAtItsCallersDeadline) {
  LearnerHistoryCache::Options options;
  options.join_wait = absl::Seconds(10);
  auto cache = Start(options);
  uint64_t ticket = 0;
  ASSERT_EQ(cache->LookupOrBeginFetch("u1", &ticket), nullptr);  // never ends here
  const absl::Time start = absl::Now();
  uint64_t second = 0;
  EXPECT_EQ(cache->LookupOrBeginFetch("u1", &second, start + absl::Milliseconds(50)), nullptr);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // A deadline already passed does not wait at all.
  EXPECT_EQ(cache->Lookup("u1", start), nullptr);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(cache->stats().joined, 0);
  cache->EndFetch("u1", ticket, nullptr, 0);
  cache->EndFetch("u1", second, nullptr, 0);
}

}  // namespace
}  // namespace lifelong::recommend
