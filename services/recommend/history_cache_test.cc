// LearnerHistoryCache against the fake record service's real change feed.
#include "services/recommend/history_cache.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/domain/vocabulary.h"
#include "services/recommend/test_support.h"

namespace lifelong::recommend {
namespace {

std::vector<StatementFact> Facts(int n) {
  std::vector<StatementFact> facts(n);
  for (int i = 0; i < n; ++i) {
    facts[i].verb = std::string(vocab::kCompleted);
    facts[i].activity = vocab::CourseIri(absl::StrCat("c", i));
  }
  return facts;
}

class HistoryCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<LearnerHistoryCache> Start(LearnerHistoryCache::Options options) {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    auto cache = std::make_unique<LearnerHistoryCache>(channel, options);
    EXPECT_TRUE(cache->WaitLive(absl::Seconds(10)));
    return cache;
  }
  void Put(LearnerHistoryCache& cache, const std::string& learner, int n) {
    std::vector<StatementFact> facts = Facts(n);
    cache.EndFetch(learner, cache.BeginFetch(learner), &facts);
  }

  testing::FakeRecords records_;
  std::unique_ptr<RunningGrpcServer> server_ = testing::StartFake(&records_);
};

TEST_F(HistoryCacheTest, AChangeDropsTheEntryBeforeTheWriteReturns) {
  auto cache = Start({});
  Put(*cache, "u1", 3);
  Put(*cache, "u2", 3);
  ASSERT_TRUE(cache->Lookup("u1").has_value());
  EXPECT_EQ(cache->Lookup("u1")->size(), 3u);
  records_.Add("u1", vocab::kRegistered, "c9", absl::Now());  // returns once the cache acknowledged
  EXPECT_FALSE(cache->Lookup("u1").has_value());
  EXPECT_TRUE(cache->Lookup("u2").has_value());
  EXPECT_EQ(cache->stats().invalidations, 1);
}

TEST_F(HistoryCacheTest, AReadOverlappingAChangeIsNotCached) {
  auto cache = Start({});
  const uint64_t ticket = cache->BeginFetch("u1");
  records_.Add("u1", vocab::kRegistered, "c9", absl::Now());  // after the read began
  std::vector<StatementFact> stale = Facts(2);
  cache->EndFetch("u1", ticket, &stale);
  EXPECT_FALSE(cache->Lookup("u1").has_value());
  Put(*cache, "u1", 3);  // a read that began after the change is cached
  EXPECT_TRUE(cache->Lookup("u1").has_value());
  // A failed read caches nothing.
  cache->EndFetch("u3", cache->BeginFetch("u3"), nullptr);
  EXPECT_FALSE(cache->Lookup("u3").has_value());
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
  EXPECT_TRUE(cache->Lookup("big").has_value());
  Put(*cache, "huge", 11);  // larger than the whole budget: not cached
  EXPECT_FALSE(cache->Lookup("huge").has_value());
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
  EXPECT_FALSE(cache->Lookup("u1").has_value());
}

}  // namespace
}  // namespace lifelong::recommend
