// Replicator against a real 3-member nats-server JetStream cluster, record
// stores in this process (no records_server):
//  - the leader lease: a leader whose lease thread stalls (a paused process,
//    a NATS call that hangs) stops leading and taking writes once the lease
//    it last renewed runs out, so that it never leads at the same time as
//    the node that takes the lease over;
//  - an erasure is answered as done only once the log no longer holds the
//    learner (their shared messages re-published without them and erased);
//  - a follower whose subscription goes silent while it is behind the log
//    subscribes again and catches up.
#include "services/records/replication/replicator.h"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "services/records/key_codec.h"
#include "services/records/record_store.h"
#include "services/records/replication/log_op.h"
#include "services/records/statement.h"
#include "services/records/test_statements.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/subprocess.h"

namespace lifelong::records::replication {
namespace {

using records::testing::MakeStatement;
using records::testing::TestUuid;

constexpr int64_t kLeaseTtlMs = 1000;

struct Member {
  std::unique_ptr<Replicator> replicator;
  std::unique_ptr<RecordStore> store;
  ~Member() {
    if (replicator) replicator->Stop();  // before the store closes
  }
};

std::unique_ptr<Member> StartMember(const std::string& id, const std::string& dir, const std::string& urls,
                                    std::function<void()> lease_tick_hook,
                                    std::atomic<bool>* scrub_publish_fails = nullptr,
                                    const std::function<void(ReplicatorOptions*)>& more_options = nullptr) {
  ReplicatorOptions o;
  o.servers = *ParseServerList(urls);
  o.node_id = id;
  o.lease_ttl_ms = kLeaseTtlMs;
  o.trim_interval = absl::ZeroDuration();
  o.test_lease_tick_hook = std::move(lease_tick_hook);
  o.test_scrub_publish_fails = scrub_publish_fails;
  if (more_options) more_options(&o);
  auto m = std::make_unique<Member>();
  absl::StatusOr<std::unique_ptr<Replicator>> r = Replicator::Connect(o);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return nullptr;
  m->replicator = std::move(*r);
  RecordStoreOptions so;
  so.block_cache_bytes = 8 << 20;
  so.log = m->replicator.get();
  absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(absl::StrCat(dir, "/", id), so);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return nullptr;
  m->store = std::move(*store);
  m->replicator->Start(m->store.get());
  return m;
}

bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout) {
  for (const absl::Time deadline = absl::Now() + timeout; absl::Now() < deadline;) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return cond();
}

// Records statements TestUuid(first), TestUuid(first + 1), ... of
// `learners` (one each) in one call: one log message.
absl::Status RecordBatch(RecordStore* store, int first, const std::vector<std::string>& learners) {
  std::vector<ParsedStatement> batch;
  for (const std::string& learner : learners) {
    absl::StatusOr<ParsedStatement> p = ParseStatement(MakeStatement({.id = TestUuid(first++), .learner = learner}));
    if (!p.ok()) return p.status();
    batch.push_back(std::move(*p));
  }
  return store->Record(std::move(batch)).status();
}

absl::Status RecordOne(RecordStore* store, int n) { return RecordBatch(store, n, {"u1"}); }

// Messages of the stream whose statements (or restored records) name
// `needle` (js_GetMsg over its sequences).
int StatementMessagesNaming(const std::string& nats_url, const std::string& needle) {
  int n = 0;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  if (natsConnection_ConnectTo(&nc, nats_url.c_str()) == NATS_OK &&
      natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
      js_GetStreamInfo(&si, js, "LIFELONG_RECORDS", nullptr, nullptr) == NATS_OK) {
    for (uint64_t seq = si->State.FirstSeq; seq <= si->State.LastSeq; ++seq) {
      natsMsg* m = nullptr;
      if (js_GetMsg(&m, js, "LIFELONG_RECORDS", seq, nullptr, nullptr) != NATS_OK) continue;
      absl::StatusOr<LogOp> op =
          DecodeLogOp(absl::string_view(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))));
      natsMsg_Destroy(m);
      if (!op.ok()) continue;
      bool hit = false;
      for (const ParsedStatement& p : op->statements) hit |= absl::StrContains(p.text, needle);
      for (const auto& [id, record] : op->restored) hit |= absl::StrContains(record, needle);
      n += hit;
    }
    jsStreamInfo_Destroy(si);
  } else {
    ADD_FAILURE() << "cannot read the stream at " << nats_url;
  }
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
  return n;
}

TEST(ReplicatorLease, AStalledLeaderStopsLeadingWhenItsLeaseRunsOut) {
  if (lifelong::testing::NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed";
  const std::string dir = lifelong::testing::FreshTempDir("lease");
  lifelong::testing::NatsCluster nats = lifelong::testing::StartNatsCluster(dir);

  absl::Mutex mu;
  bool stalled = false;
  auto stall_point = [&] {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](bool* s) { return !*s; }, &stalled));
  };
  auto set_stalled = [&](bool v) {
    absl::MutexLock lock(&mu);
    stalled = v;
  };

  std::unique_ptr<Member> a = StartMember("records-1", dir, nats.urls, stall_point);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->replicator->IsLeader(); }, absl::Seconds(60)));
  ASSERT_TRUE(RecordOne(a->store.get(), 1).ok());
  std::unique_ptr<Member> b = StartMember("records-2", dir, nats.urls, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] { return b->replicator->WaitApplied(1, absl::ZeroDuration()); }, absl::Seconds(30)));
  EXPECT_FALSE(b->replicator->IsLeader());
  // A follower that applies the log serves reads; so does the leader.
  EXPECT_TRUE(WaitFor([&] { return b->replicator->CheckServingReads().ok(); }, absl::Seconds(10)))
      << b->replicator->CheckServingReads();
  EXPECT_TRUE(a->replicator->CheckServingReads().ok()) << a->replicator->CheckServingReads();

  // records-1's lease thread stalls; its applier and connection are fine.
  set_stalled(true);
  const absl::Time stalled_at = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return b->replicator->IsLeader(); }, absl::Seconds(30)));
  EXPECT_GE(absl::Now() - stalled_at, absl::Milliseconds(kLeaseTtlMs / 2));
  // Never two leaders: records-1 gave up when its lease ran out, although
  // its lease thread has not run since.
  EXPECT_FALSE(a->replicator->IsLeader());
  absl::Status refused = RecordOne(a->store.get(), 2);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "ran out before it was renewed")) << refused;
  EXPECT_TRUE(RecordOne(b->store.get(), 3).ok());
  // Nor does it serve reads once it has not read the log's end for a lease
  // TTL: it cannot know what it missed (an erasure, a void).
  ASSERT_TRUE(WaitFor([&] { return !a->replicator->CheckServingReads().ok(); }, absl::Seconds(5)));
  absl::Status stale = a->replicator->CheckServingReads();
  EXPECT_EQ(stale.code(), absl::StatusCode::kUnavailable) << stale;
  EXPECT_TRUE(absl::StrContains(stale.message(), "records-1 has not read the replicated log's end")) << stale;
  EXPECT_TRUE(b->replicator->CheckServingReads().ok()) << b->replicator->CheckServingReads();

  set_stalled(false);
  // Back, it finds the lease taken and follows.
  ASSERT_TRUE(WaitFor([&] { return a->replicator->Status().leader == "records-2"; }, absl::Seconds(10)));
  EXPECT_FALSE(a->replicator->IsLeader());
  EXPECT_TRUE(b->replicator->IsLeader());
  // Caught up with records-2's write, it serves reads again.
  EXPECT_TRUE(WaitFor([&] { return a->replicator->CheckServingReads().ok(); }, absl::Seconds(10)))
      << a->replicator->CheckServingReads();
  EXPECT_TRUE(a->replicator->WaitApplied(b->store->AppliedLogSeq(), absl::Seconds(10)));
}

// The leader could not re-publish what a shared message holds for the other
// learners, so the message (with the erased learner's statement) stays in
// the log: the erasure is not answered as done (before: OK, and the
// learner's statement stayed in the log until retention, a week). Asked
// again, it scrubs the message and is answered.
TEST(ReplicatorErasure, IsNotAnsweredDoneWhileTheLogStillHoldsTheLearner) {
  if (lifelong::testing::NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed";
  const std::string dir = lifelong::testing::FreshTempDir("erasure");
  lifelong::testing::NatsCluster nats = lifelong::testing::StartNatsCluster(dir);
  std::atomic<bool> scrub_fails{false};
  std::unique_ptr<Member> a = StartMember("records-1", dir, nats.urls, nullptr, &scrub_fails);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->replicator->IsLeader(); }, absl::Seconds(60)));
  const std::string shared = "lifelong.records.shared";
  ASSERT_TRUE(RecordBatch(a->store.get(), 1, {"u-gone", "u-stays"}).ok());
  ASSERT_TRUE(RecordBatch(a->store.get(), 3, {"u-gone"}).ok());
  EXPECT_EQ(*a->replicator->CountMessages(shared), 1u);
  EXPECT_EQ(*a->replicator->CountMessages(LearnerSubject("u-gone", "lifelong.records")), 1u);

  scrub_fails = true;
  absl::StatusOr<int64_t> erased = a->store->EraseLearner("u-gone");
  EXPECT_EQ(erased.status().code(), absl::StatusCode::kUnavailable) << erased.status();
  EXPECT_TRUE(absl::StrContains(erased.status().message(), "not yet from the replicated log")) << erased.status();
  EXPECT_TRUE(absl::StrContains(erased.status().message(), "erase the learner again")) << erased.status();
  // The store has erased them; the log still holds the shared message.
  EXPECT_EQ(a->store->Get(*ParseUuid(TestUuid(1))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*a->replicator->CountMessages(shared), 1u);
  EXPECT_EQ(*a->replicator->CountMessages(LearnerSubject("u-gone", "lifelong.records")), 0u);

  scrub_fails = false;
  erased = a->store->EraseLearner("u-gone");
  ASSERT_TRUE(erased.ok()) << erased.status();
  // The old shared message is gone; its restore (u-stays's statement) is
  // the only message on the shared subject.
  EXPECT_EQ(*a->replicator->CountMessages(shared), 1u);
  EXPECT_TRUE(a->store->Get(*ParseUuid(TestUuid(2))).ok());
  const std::string first_url = nats.urls.substr(0, nats.urls.find(','));
  EXPECT_EQ(StatementMessagesNaming(first_url, "u-gone"), 0);
  EXPECT_EQ(StatementMessagesNaming(first_url, "u-stays"), 1);  // the restore
}

// Whether `m` may show learner data right now and still holds statement
// `id`: what must never be true of an erased learner's statement once the
// erasure is answered.
bool ServesStatement(const Member& m, int id) {
  return m.replicator->CheckServingReads().ok() && m.store->Get(*ParseUuid(TestUuid(id))).ok();
}

// An erasure is answered only once no node serves the learner's records:
// a follower that applies the log at once reports it before the answer; one
// whose subscription is silent (it has not applied the erasure) refuses
// reads by then. Before, the leader answered once it had applied the erasure
// itself, and a follower kept serving the erased records until its next read
// of the log's end plus kReadLagGrace.
TEST(ReplicatorErasure, NoNodeServesTheLearnerOnceTheErasureIsAnswered) {
  if (lifelong::testing::NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed";
  const std::string dir = lifelong::testing::FreshTempDir("erasure_followers");
  lifelong::testing::NatsCluster nats = lifelong::testing::StartNatsCluster(dir);
  std::unique_ptr<Member> a = StartMember("records-1", dir, nats.urls, nullptr);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->replicator->IsLeader(); }, absl::Seconds(60)));
  std::unique_ptr<Member> b = StartMember("records-2", dir, nats.urls, nullptr);
  std::atomic<bool> silenced{false};
  std::unique_ptr<Member> c = StartMember("records-3", dir, nats.urls, nullptr, nullptr, [&](ReplicatorOptions* o) {
    o->consumer_stall_timeout = absl::Minutes(5);  // stays silent for the test
    o->test_silence_consumer = &silenced;
  });
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);

  // Healthy followers: each has applied the erasure when it is answered.
  ASSERT_TRUE(RecordBatch(a->store.get(), 1, {"u-first", "u-second"}).ok());
  const uint64_t recorded = a->store->AppliedLogSeq();
  for (Member* m : {b.get(), c.get()}) {
    ASSERT_TRUE(m->replicator->WaitApplied(recorded, absl::Seconds(30))) << m->replicator->StatusJson();
    // Each has read the log's end since: it serves reads.
    ASSERT_TRUE(WaitFor([&] { return m->replicator->CheckServingReads().ok(); }, absl::Seconds(30)))
        << m->replicator->CheckServingReads();
  }
  ASSERT_TRUE(a->store->EraseLearner("u-first").ok());
  for (Member* m : {a.get(), b.get(), c.get()}) EXPECT_FALSE(ServesStatement(*m, 1)) << m->replicator->StatusJson();
  // (Unless the machine was too slow for their reports: then the leader
  // waited for the bound and says so.)
  if (a->replicator->Status().erasures_unconfirmed == 0) {
    for (Member* m : {b.get(), c.get()}) EXPECT_GT(m->store->AppliedLogSeq(), recorded) << m->replicator->StatusJson();
  }
  const uint64_t unconfirmed_before = a->replicator->Status().erasures_unconfirmed;

  // A follower that applies nothing (its subscription silent) holds the
  // second learner's statement; once the erasure is answered it does not
  // show it.
  silenced = true;
  ASSERT_TRUE(c->replicator->CheckServingReads().ok()) << c->replicator->CheckServingReads();
  ASSERT_TRUE(c->store->Get(*ParseUuid(TestUuid(2))).ok());
  ASSERT_TRUE(a->store->EraseLearner("u-second").ok());
  for (Member* m : {a.get(), b.get(), c.get()}) EXPECT_FALSE(ServesStatement(*m, 2)) << m->replicator->StatusJson();
  EXPECT_TRUE(c->store->Get(*ParseUuid(TestUuid(2))).ok()) << "c applied nothing: its refusal is what protects it";
  EXPECT_EQ(a->replicator->Status().erasures_unconfirmed, unconfirmed_before + 1);
  EXPECT_TRUE(absl::StrContains(a->replicator->StatusJson(), "\"erasures_unconfirmed\":"));
}

// A follower that stays behind the log refuses reads from kReadLagGrace
// after it first saw what it has not applied, on every call until it has
// caught up (before: only while its latest read of the log's end was older
// than kReadLagGrace, which with a read every lease tick (TTL/4) was never
// or a third of the time, so it served stale reads while behind).
TEST(ReplicatorReads, AFollowerThatStaysBehindRefusesReadsUntilItCatchesUp) {
  if (lifelong::testing::NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed";
  const std::string dir = lifelong::testing::FreshTempDir("behind_reads");
  lifelong::testing::NatsCluster nats = lifelong::testing::StartNatsCluster(dir);
  std::unique_ptr<Member> a = StartMember("records-1", dir, nats.urls, nullptr);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->replicator->IsLeader(); }, absl::Seconds(60)));
  std::atomic<bool> silenced{false};
  std::unique_ptr<Member> b = StartMember("records-2", dir, nats.urls, nullptr, nullptr, [&](ReplicatorOptions* o) {
    o->consumer_stall_timeout = absl::Seconds(3);  // then it subscribes again and catches up
    o->test_silence_consumer = &silenced;
  });
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(RecordOne(a->store.get(), 1).ok());
  ASSERT_TRUE(b->replicator->WaitApplied(a->store->AppliedLogSeq(), absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] { return b->replicator->CheckServingReads().ok(); }, absl::Seconds(30)))
      << b->replicator->CheckServingReads();

  silenced = true;
  ASSERT_TRUE(RecordOne(a->store.get(), 2).ok());
  const uint64_t end = a->store->AppliedLogSeq();
  ASSERT_TRUE(WaitFor([&] { return !b->replicator->CheckServingReads().ok(); }, absl::Seconds(10)))
      << "a follower behind never refused: " << b->replicator->StatusJson();
  int refused = 0;
  while (b->store->AppliedLogSeq() < end) {
    const absl::Status reads = b->replicator->CheckServingReads();
    if (b->store->AppliedLogSeq() >= end) break;  // caught up between the two looks
    ASSERT_FALSE(reads.ok()) << "served while " << end - b->store->AppliedLogSeq() << " behind, after " << refused
                             << " refusals: " << b->replicator->StatusJson();
    EXPECT_TRUE(absl::StrContains(reads.message(), "behind the replicated log")) << reads;
    ++refused;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GT(refused, 0);
  // Caught up (a new subscription): it serves again.
  EXPECT_TRUE(WaitFor([&] { return b->replicator->CheckServingReads().ok(); }, absl::Seconds(30)))
      << b->replicator->CheckServingReads();
  EXPECT_TRUE(b->store->Get(*ParseUuid(TestUuid(2))).ok());
}

// A follower's subscription that delivers nothing while the log holds
// operations it has not applied (a consumer the server lost, or one the
// client library failed to re-create) is dropped and made again from the
// store's position (before: the follower stayed behind for ever, with no
// error; a cluster test saw a node apply nothing for 30 s).
TEST(ReplicatorApplier, ASilentSubscriptionIsMadeAgainAndCatchesUp) {
  if (lifelong::testing::NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed";
  const std::string dir = lifelong::testing::FreshTempDir("silent");
  lifelong::testing::NatsCluster nats = lifelong::testing::StartNatsCluster(dir);
  std::unique_ptr<Member> a = StartMember("records-1", dir, nats.urls, nullptr);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->replicator->IsLeader(); }, absl::Seconds(60)));
  std::atomic<bool> silenced{false};
  constexpr absl::Duration kStall = absl::Seconds(2);
  std::unique_ptr<Member> b = StartMember("records-2", dir, nats.urls, nullptr, nullptr, [&](ReplicatorOptions* o) {
    o->consumer_stall_timeout = kStall;
    o->test_silence_consumer = &silenced;
  });
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(RecordOne(a->store.get(), 1).ok());
  ASSERT_TRUE(b->replicator->WaitApplied(a->store->AppliedLogSeq(), absl::Seconds(30)));
  EXPECT_EQ(b->replicator->Status().consumer_restarts, 0u);

  silenced = true;
  for (int i = 2; i <= 4; ++i) ASSERT_TRUE(RecordOne(a->store.get(), i).ok());
  const uint64_t end = a->store->AppliedLogSeq();
  // Nothing arrives while the subscription is silent...
  EXPECT_FALSE(b->replicator->WaitApplied(end, kStall / 2));
  // ...and once it has been silent for the stall timeout, a new one
  // delivers everything.
  ASSERT_TRUE(b->replicator->WaitApplied(end, absl::Seconds(30))) << b->replicator->StatusJson();
  EXPECT_GE(b->replicator->Status().consumer_restarts, 1u);
  EXPECT_FALSE(silenced.load());
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(b->store->Get(*ParseUuid(TestUuid(i))).ok()) << i;
  EXPECT_TRUE(absl::StrContains(b->replicator->StatusJson(), "\"consumer_restarts\":")) << b->replicator->StatusJson();
}

// The consumers the appliers read through are lost on the server (deleted,
// as a stream leader's failover can lose an ephemeral consumer): every node
// still applies what is written next, within the stall timeout.
TEST(ReplicatorApplier, ConsumersLostOnTheServerAreMadeAgain) {
  if (lifelong::testing::NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed";
  const std::string dir = lifelong::testing::FreshTempDir("lost_consumers");
  lifelong::testing::NatsCluster nats = lifelong::testing::StartNatsCluster(dir);
  constexpr absl::Duration kStall = absl::Seconds(2);
  auto fast_stall = [&](ReplicatorOptions* o) { o->consumer_stall_timeout = kStall; };
  std::unique_ptr<Member> a = StartMember("records-1", dir, nats.urls, nullptr, nullptr, fast_stall);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->replicator->IsLeader(); }, absl::Seconds(60)));
  std::unique_ptr<Member> b = StartMember("records-2", dir, nats.urls, nullptr, nullptr, fast_stall);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(RecordOne(a->store.get(), 1).ok());
  ASSERT_TRUE(b->replicator->WaitApplied(a->store->AppliedLogSeq(), absl::Seconds(30)));

  const std::string first_url = nats.urls.substr(0, nats.urls.find(','));
  EXPECT_GE(lifelong::testing::DeleteStreamConsumers(first_url, "LIFELONG_RECORDS"), 2);
  for (int i = 2; i <= 4; ++i) ASSERT_TRUE(RecordOne(a->store.get(), i).ok());
  const uint64_t end = a->store->AppliedLogSeq();
  ASSERT_TRUE(b->replicator->WaitApplied(end, absl::Seconds(30))) << b->replicator->StatusJson();
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(b->store->Get(*ParseUuid(TestUuid(i))).ok()) << i;
}

}  // namespace
}  // namespace lifelong::records::replication
