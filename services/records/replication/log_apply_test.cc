// RecordStore in log mode, without NATS: the Apply* entry points the
// replicator's applier calls, and the proposing side of the mutating calls.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "services/records/key_codec.h"
#include "services/records/record_store.h"
#include "services/records/replication/log_op.h"
#include "services/records/statement.h"
#include "services/records/test_statements.h"
#include "tests/testing/bounded_wait.h"
#include "tests/testing/subprocess.h"

namespace lifelong::records::replication {
namespace {

using records::testing::MakeStatement;
using records::testing::TestUuid;

std::unique_ptr<RecordStore> OpenStore(const std::string& name, int64_t clock, OpLog* log = nullptr) {
  RecordStoreOptions o;
  o.block_cache_bytes = 8 << 20;
  o.now_micros = [clock] { return clock; };
  o.log = log;
  auto s = RecordStore::Open(lifelong::testing::FreshTempDir(name), o);
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(*s);
}

ParsedStatement Parse(const records::testing::StatementSpec& spec) {
  absl::StatusOr<ParsedStatement> p = ParseStatement(MakeStatement(spec));
  EXPECT_TRUE(p.ok()) << p.status();
  p->authority_json = R"({"objectType":"Agent","name":"proposer"})";
  return std::move(*p);
}

LoggedRecord Op(uint64_t seq, int64_t now, std::vector<ParsedStatement> statements) {
  LoggedRecord r;
  r.seq = seq;
  r.now_us = now;
  r.statements = std::move(statements);
  return r;
}

TEST(LogApply, AppliedSequenceIsWrittenWithTheOperationAndSurvivesReopen) {
  std::string dir = lifelong::testing::FreshTempDir("applied");
  {
    auto store = RecordStore::Open(dir).value();
    EXPECT_EQ(store->AppliedLogSeq(), 0u);
    std::vector<LoggedRecord> ops;
    ops.push_back(Op(3, 1764633600000000, {Parse({.id = TestUuid(1)})}));
    ops.push_back(Op(5, 1764633600000001, {Parse({.id = TestUuid(2)})}));
    ASSERT_TRUE(store->ApplyLoggedRecords(&ops).ok());
    ASSERT_TRUE(ops[0].result.ok()) << ops[0].result.status();
    ASSERT_TRUE(ops[1].result.ok());
    EXPECT_EQ(store->AppliedLogSeq(), 5u);
    EXPECT_EQ(store->GetMeta(kMetaAppliedLogSeq).value(), "5");
  }
  auto store = RecordStore::Open(dir).value();
  EXPECT_EQ(store->AppliedLogSeq(), 5u);
  EXPECT_TRUE(store->Get(*ParseUuid(TestUuid(2))).ok());
}

TEST(LogApply, RefusesToApplyAnOperationTwiceOrOutOfOrder) {
  auto store = OpenStore("twice", 1764633600000000);
  std::vector<LoggedRecord> ops;
  ops.push_back(Op(7, 1, {Parse({.id = TestUuid(1)})}));
  ASSERT_TRUE(store->ApplyLoggedRecords(&ops).ok());
  std::vector<LoggedRecord> again;
  again.push_back(Op(7, 1, {Parse({.id = TestUuid(9)})}));
  absl::Status s = store->ApplyLoggedRecords(&again);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "not after the applied position 7")) << s;
  std::vector<LoggedRecord> backwards;
  backwards.push_back(Op(9, 1, {Parse({.id = TestUuid(10)})}));
  backwards.push_back(Op(8, 1, {Parse({.id = TestUuid(11)})}));
  EXPECT_EQ(store->ApplyLoggedRecords(&backwards).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->ApplyLoggedMeta(6, {{"k", std::string("v")}}).code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<int64_t> erased;
  EXPECT_EQ(store->ApplyLoggedErase(7, 1, "u1", &erased).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->AppliedLogSeq(), 7u);
  EXPECT_EQ(store->Get(*ParseUuid(TestUuid(9))).status().code(), absl::StatusCode::kNotFound);
}

TEST(LogApply, ReplicasWithDifferentClocksStoreTheSameBytes) {
  // The replicas' own clocks differ wildly; only the proposer's counts.
  auto a = OpenStore("replica-a", 1000);
  auto b = OpenStore("replica-b", 9999999999999999);
  for (RecordStore* s : {a.get(), b.get()}) {
    std::vector<LoggedRecord> ops;
    ops.push_back(Op(1, 1764633600000000, {Parse({.id = TestUuid(1)}), Parse({.id = TestUuid(2), .learner = "u2"})}));
    ops.push_back(Op(2, 1764633500000000, {Parse({.id = TestUuid(3)})}));  // proposer clock went back
    ops.push_back(Op(3, 1764633600000005, {Parse({.id = TestUuid(4), .verb = "voided", .course = TestUuid(1)})}));
    ASSERT_TRUE(s->ApplyLoggedRecords(&ops).ok());
    for (const LoggedRecord& op : ops) ASSERT_TRUE(op.result.ok()) << op.result.status();
  }
  for (int i = 1; i <= 4; ++i) {
    StoredStatement x = a->Get(*ParseUuid(TestUuid(i))).value();
    StoredStatement y = b->Get(*ParseUuid(TestUuid(i))).value();
    EXPECT_EQ(x.record.json, y.record.json) << i;
    EXPECT_EQ(x.record.stored_seq, y.record.stored_seq) << i;
    EXPECT_TRUE(absl::StrContains(x.record.json, "\"authority\":{\"objectType\":\"Agent\",\"name\":\"proposer\"}"));
  }
  // Stored order stays increasing although the proposer's clock went back.
  EXPECT_GT(a->Get(*ParseUuid(TestUuid(3))).value().record.stored_seq,
            a->Get(*ParseUuid(TestUuid(2))).value().record.stored_seq);
  EXPECT_TRUE(a->Get(*ParseUuid(TestUuid(1))).value().record.Has(RecordFlag::kVoided));
}

TEST(LogApply, AConflictIsTheOperationsResultAndThePositionMovesOn) {
  auto store = OpenStore("conflict", 1);
  std::vector<LoggedRecord> ops;
  ops.push_back(Op(1, 1764633600000000, {Parse({.id = TestUuid(1), .course = "c1"})}));
  ops.push_back(Op(2, 1764633600000001, {Parse({.id = TestUuid(1), .course = "c2"})}));
  ops.push_back(Op(3, 1764633600000002, {Parse({.id = TestUuid(1), .course = "c1"})}));  // a replay
  ASSERT_TRUE(store->ApplyLoggedRecords(&ops).ok());
  EXPECT_TRUE(ops[0].result.ok());
  EXPECT_EQ(ops[1].result.status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(ops[2].result.ok());
  EXPECT_EQ((*ops[2].result)[0].record.stored_seq, (*ops[0].result)[0].record.stored_seq);
  EXPECT_EQ(store->AppliedLogSeq(), 3u);
  // Only failures: the position still moves.
  std::vector<LoggedRecord> bad;
  bad.push_back(Op(4, 1764633600000003, {Parse({.id = TestUuid(1), .course = "c3"})}));
  ASSERT_TRUE(store->ApplyLoggedRecords(&bad).ok());
  EXPECT_EQ(bad[0].result.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store->AppliedLogSeq(), 4u);
}

// A learner's voiding statement proposed before its target was stored carries
// the learner's right through the log: every replica refuses, at the same
// position, to void another learner's statement committed in between, and
// voids the learner's own.
TEST(LogApply, AVoidersRightTravelsThroughTheLogAndHoldsOnEveryReplica) {
  auto voiding = [](int id, int target) {
    ParsedStatement p = Parse({.id = TestUuid(id), .verb = "voided", .course = TestUuid(target)});
    p.void_right = VoidRight{.holder = "learner u1", .by_courses = false, .learner = "u1", .courses = {}};
    return p;
  };
  LogOp proposed;
  proposed.kind = LogOpKind::kRecord;
  proposed.statements.push_back(voiding(11, 1));
  const std::string attack = EncodeLogOp(proposed);
  proposed.statements = {voiding(12, 2)};
  const std::string own = EncodeLogOp(proposed);
  for (const char* name : {"right-a", "right-b"}) {
    auto store = OpenStore(name, 1);
    std::vector<LoggedRecord> ops;
    ops.push_back(Op(1, 1764633600000000,
                     {Parse({.id = TestUuid(1), .learner = "u2"}), Parse({.id = TestUuid(2), .learner = "u1"})}));
    ops.push_back(Op(2, 1764633600000001, DecodeLogOp(attack).value().statements));
    ops.push_back(Op(3, 1764633600000002, DecodeLogOp(own).value().statements));
    ASSERT_TRUE(store->ApplyLoggedRecords(&ops).ok());
    ASSERT_TRUE(ops[0].result.ok()) << ops[0].result.status();
    EXPECT_EQ(ops[1].result.status().code(), absl::StatusCode::kPermissionDenied) << ops[1].result.status();
    ASSERT_TRUE(ops[2].result.ok()) << ops[2].result.status();
    EXPECT_EQ(store->AppliedLogSeq(), 3u);
    EXPECT_FALSE(store->Get(*ParseUuid(TestUuid(1))).value().record.Has(RecordFlag::kVoided)) << name;
    EXPECT_TRUE(store->Get(*ParseUuid(TestUuid(2))).value().record.Has(RecordFlag::kVoided)) << name;
    EXPECT_EQ(store->Get(*ParseUuid(TestUuid(11))).status().code(), absl::StatusCode::kNotFound) << name;
  }
}

TEST(LogApply, EraseMetaAndAuditAdvanceThePosition) {
  auto store = OpenStore("others", 1);
  std::vector<LoggedRecord> ops;
  ops.push_back(Op(1, 1764633600000000, {Parse({.id = TestUuid(1), .learner = "u1"})}));
  ASSERT_TRUE(store->ApplyLoggedRecords(&ops).ok());
  absl::StatusOr<int64_t> erased;
  ASSERT_TRUE(store->ApplyLoggedErase(2, 1764633700000000, "u1", &erased).ok());
  EXPECT_EQ(erased.value(), 1);
  EXPECT_EQ(store->GetErasureEpoch()->epoch, 1u);
  EXPECT_EQ(store->GetErasureEpoch()->latest_us, 1764633700000000);
  // An erasure that finds nothing still bumps the epoch in log mode (a
  // replica rebuilt from a purged log finds nothing either).
  ASSERT_TRUE(store->ApplyLoggedErase(3, 1764633800000000, "u1", &erased).ok());
  EXPECT_EQ(erased.value(), 0);
  EXPECT_EQ(store->GetErasureEpoch()->epoch, 2u);
  ASSERT_TRUE(store->ApplyLoggedMeta(4, {{"kiosk_pass_of/u2", std::string("x")}}).ok());
  EXPECT_EQ(store->GetMeta("kiosk_pass_of/u2").value(), "x");
  ASSERT_TRUE(store->ApplyLoggedMeta(5, {{"kiosk_pass_of/u2", std::nullopt}}).ok());
  EXPECT_EQ(store->GetMeta("kiosk_pass_of/u2").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store->ApplyLoggedAudit(6, 1764633900000000, {0, "teacher-1", "teacher", "u2", "op", "OK", ""}).ok());
  AuditPage page = store->ListAudit({}).value();
  ASSERT_EQ(page.events.size(), 1u);
  EXPECT_EQ(page.events[0].time_us, 1764633900000000);
  EXPECT_EQ(store->AppliedLogSeq(), 6u);
}

// The applier is not held by an erasure's purge (a flush and compactions,
// seconds on a large store): the erasure and the operations after it apply
// while the purge is still running, which follows on its own thread.
TEST(LogApply, AnErasurePurgeDoesNotHoldTheOperationsAfterIt) {
  absl::Mutex mu;
  bool purge_started = false, release = false;
  RecordStoreOptions o;
  o.block_cache_bytes = 8 << 20;
  o.now_micros = [] { return int64_t{1}; };
  o.test_hooks.before_purge = [&]() -> absl::Status {
    absl::MutexLock lock(&mu);
    purge_started = true;
    ::lifelong::testing::AwaitOrFail(&mu, &release, "the test to release the held purge");
    return absl::OkStatus();
  };
  auto store = RecordStore::Open(lifelong::testing::FreshTempDir("purge_apart"), o).value();
  std::vector<LoggedRecord> ops;
  ops.push_back(Op(1, 1764633600000000, {Parse({.id = TestUuid(1), .learner = "u1"})}));
  ASSERT_TRUE(store->ApplyLoggedRecords(&ops).ok());
  absl::StatusOr<int64_t> erased;
  ASSERT_TRUE(store->ApplyLoggedErase(2, 1764633700000000, "u1", &erased).ok());
  EXPECT_EQ(erased.value(), 1);
  {
    absl::MutexLock lock(&mu);
    ::lifelong::testing::AwaitOrFail(&mu, &purge_started, "the purge to start");
  }
  EXPECT_TRUE(store->GetPurgeStatus().pending);
  std::vector<LoggedRecord> next;
  next.push_back(Op(3, 1764633800000000, {Parse({.id = TestUuid(2), .learner = "u2"})}));
  ASSERT_TRUE(store->ApplyLoggedRecords(&next).ok());
  ASSERT_TRUE(next[0].result.ok()) << next[0].result.status();
  EXPECT_EQ(store->AppliedLogSeq(), 3u);
  EXPECT_TRUE(store->GetPurgeStatus().pending) << "(the purge is still held)";
  {
    absl::MutexLock lock(&mu);
    release = true;
  }
  EXPECT_TRUE(store->WaitForPurge().ok());
  EXPECT_FALSE(store->GetPurgeStatus().pending);
}

// The restore (kRestore) of the shared messages of an erased learner A, as
// the leader builds it: the records their statements hold, read from `store`
// as it stands (the log position `built_at`).
LogOp RestoreOf(RecordStore* store, const std::string& erased, const std::vector<int>& ids) {
  LogOp restore;
  restore.kind = LogOpKind::kRestore;
  restore.learner = erased;
  restore.built_at = store->AppliedLogSeq();
  for (int i : ids) {
    const Uuid id = *ParseUuid(TestUuid(i));
    restore.restored.emplace_back(id, EncodeStatementRecord(store->Get(id).value().record).value());
  }
  return restore;
}

absl::Status ApplyRestore(RecordStore* store, uint64_t seq, const LogOp& restore,
                          std::vector<std::string>* left_out = nullptr) {
  return store->ApplyLoggedRestore(seq, restore.built_at, restore.restored, SharedMarkPrefix(restore.learner),
                                   SharedMarks(restore, seq), left_out);
}

// Learners A and B share a log message (a mixed batch). A is erased at 2;
// the leader reads the restore of that message (B's statement) from its
// store as it stood at 2, but it reaches the log at 4, after B's own erasure
// at 3 was applied and answered. Applying it must not bring B back: not on
// the replica that applied everything (reopened in between, as after a
// restart), and not on one rebuilt from a log that no longer holds the
// shared message.
TEST(LogApply, ARestoreBuiltBeforeALearnersErasureDoesNotBringThemBack) {
  std::string dir = lifelong::testing::FreshTempDir("restore-after-erase");
  auto leader = OpenStore("restore-leader", 1);
  LogOp restore;
  {
    auto store = RecordStore::Open(dir).value();
    std::vector<LoggedRecord> ops;
    ops.push_back(Op(1, 1764633600000000,
                     {Parse({.id = TestUuid(1), .learner = "u-a"}), Parse({.id = TestUuid(2), .learner = "u-b"})}));
    ASSERT_TRUE(store->ApplyLoggedRecords(&ops).ok());
    ASSERT_TRUE(ops[0].result.ok()) << ops[0].result.status();
    absl::StatusOr<int64_t> erased;
    ASSERT_TRUE(store->ApplyLoggedErase(2, 1764633700000000, "u-a", &erased).ok());
    restore = RestoreOf(store.get(), "u-a", {2});
    EXPECT_EQ(restore.built_at, 2u);
    ASSERT_TRUE(store->ApplyLoggedErase(3, 1764633800000000, "u-b", &erased).ok());
    EXPECT_EQ(erased.value(), 1);
  }
  auto store = RecordStore::Open(dir).value();  // a restart before the restore
  // Through the log's encoding, as the applier gets it.
  LogOp logged = DecodeLogOp(EncodeLogOp(restore)).value();
  std::vector<std::string> left_out;
  ASSERT_TRUE(ApplyRestore(store.get(), 4, logged, &left_out).ok());
  EXPECT_EQ(store->AppliedLogSeq(), 4u);
  EXPECT_EQ(store->Get(*ParseUuid(TestUuid(2))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->CountLearnerIndexEntries("u-b").value(), 0);
  EXPECT_EQ(left_out, std::vector<std::string>{"u-b"});  // the leader scrubs the restore from the log

  // A replica rebuilt from the log after the shared message was erased from
  // it: the two erasures find nothing, and the restore inserts nothing of B.
  auto rebuilt = OpenStore("restore-rebuilt", 1);
  absl::StatusOr<int64_t> erased;
  ASSERT_TRUE(rebuilt->ApplyLoggedErase(2, 1764633700000000, "u-a", &erased).ok());
  ASSERT_TRUE(rebuilt->ApplyLoggedErase(3, 1764633800000000, "u-b", &erased).ok());
  ASSERT_TRUE(ApplyRestore(rebuilt.get(), 4, logged).ok());
  EXPECT_EQ(rebuilt->Get(*ParseUuid(TestUuid(2))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(rebuilt->CountLearnerIndexEntries("u-b").value(), 0);
}

// The same race with a statement B shares with C (a group): the replica
// that lacks it gets it as B's erasure left it on the others, C's alone.
TEST(LogApply, ARestoreBuiltBeforeALearnersErasureKeepsTheOthersShareWithoutThem) {
  auto live = OpenStore("restore-shared-live", 1);
  std::vector<LoggedRecord> ops;
  ops.push_back(Op(
      1, 1764633600000000,
      {Parse({.id = TestUuid(1), .learner = "u-a"}), Parse({.id = TestUuid(2), .learner = "", .group = {"u-b", "u-c"}}),
       Parse({.id = TestUuid(3), .learner = "u-c"})}));
  ASSERT_TRUE(live->ApplyLoggedRecords(&ops).ok());
  ASSERT_TRUE(ops[0].result.ok()) << ops[0].result.status();
  absl::StatusOr<int64_t> erased;
  ASSERT_TRUE(live->ApplyLoggedErase(2, 1764633700000000, "u-a", &erased).ok());
  const LogOp restore = RestoreOf(live.get(), "u-a", {2, 3});
  ASSERT_TRUE(live->ApplyLoggedErase(3, 1764633800000000, "u-b", &erased).ok());
  EXPECT_EQ(erased.value(), 1);
  ASSERT_TRUE(ApplyRestore(live.get(), 4, restore).ok());

  auto rebuilt = OpenStore("restore-shared-rebuilt", 1);
  ASSERT_TRUE(rebuilt->ApplyLoggedErase(2, 1764633700000000, "u-a", &erased).ok());
  ASSERT_TRUE(rebuilt->ApplyLoggedErase(3, 1764633800000000, "u-b", &erased).ok());
  std::vector<std::string> left_out;
  ASSERT_TRUE(ApplyRestore(rebuilt.get(), 4, restore, &left_out).ok());
  EXPECT_EQ(left_out, std::vector<std::string>{"u-b"});
  for (RecordStore* s : {live.get(), rebuilt.get()}) {
    EXPECT_EQ(s->CountLearnerIndexEntries("u-b").value(), 0);
    EXPECT_EQ(s->CountLearnerIndexEntries("u-c").value(), 2);
    StoredStatement group = s->Get(*ParseUuid(TestUuid(2))).value();
    EXPECT_EQ(group.record.learners, std::vector<std::string>{"u-c"});
    EXPECT_FALSE(absl::StrContains(group.record.json, "u-b")) << group.record.json;
  }
  EXPECT_EQ(rebuilt->Get(*ParseUuid(TestUuid(2))).value().record.json,
            live->Get(*ParseUuid(TestUuid(2))).value().record.json);
  EXPECT_EQ(rebuilt->Get(*ParseUuid(TestUuid(3))).value().record.json,
            live->Get(*ParseUuid(TestUuid(3))).value().record.json);
}

// The same race with a statement of C that names B as its instructor: a
// replica that lacks it gets it with B's mention scrubbed, as B's erasure
// scrubbed it on the live one. The record operation goes through the log's
// encoding, which does not carry the mentions: each replica finds them in
// the statement's text.
TEST(LogApply, ARestoreBuiltBeforeAMentionedLearnersErasureComesScrubbed) {
  auto instructed = [](const std::string& id, const std::string& learner, const std::string& instructor) {
    std::string text = MakeStatement({.id = id, .learner = learner});
    const std::string agent = absl::StrCat(
        R"({"objectType":"Agent","account":{"homePage":"https://id.dongcheng.gov.cn","name":")", instructor, R"("}})");
    text.insert(text.size() - 1, absl::StrCat(R"(,"context":{"instructor":)", agent, "}"));
    absl::StatusOr<ParsedStatement> p = ParseStatement(text);
    EXPECT_TRUE(p.ok()) << p.status() << " " << text;
    return *std::move(p);
  };
  LogOp record;
  record.kind = LogOpKind::kRecord;
  record.now_us = 1764633600000000;
  record.statements.push_back(Parse({.id = TestUuid(1), .learner = "u-a"}));
  record.statements.push_back(instructed(TestUuid(2), "u-c", "u-b"));
  LogOp logged_record = DecodeLogOp(EncodeLogOp(record)).value();
  ASSERT_EQ(logged_record.statements[1].mentioned, std::vector<std::string>{"u-b"});

  auto live = OpenStore("restore-mention-live", 1);
  std::vector<LoggedRecord> ops;
  ops.push_back(Op(1, record.now_us, logged_record.statements));
  ASSERT_TRUE(live->ApplyLoggedRecords(&ops).ok());
  ASSERT_TRUE(ops[0].result.ok()) << ops[0].result.status();
  absl::StatusOr<int64_t> erased;
  ASSERT_TRUE(live->ApplyLoggedErase(2, 1764633700000000, "u-a", &erased).ok());
  const LogOp restore = RestoreOf(live.get(), "u-a", {2});
  ASSERT_TRUE(live->ApplyLoggedErase(3, 1764633800000000, "u-b", &erased).ok());
  EXPECT_FALSE(absl::StrContains(live->Get(*ParseUuid(TestUuid(2))).value().record.json, "u-b"));
  ASSERT_TRUE(ApplyRestore(live.get(), 4, restore).ok());

  auto rebuilt = OpenStore("restore-mention-rebuilt", 1);
  ASSERT_TRUE(rebuilt->ApplyLoggedErase(2, 1764633700000000, "u-a", &erased).ok());
  ASSERT_TRUE(rebuilt->ApplyLoggedErase(3, 1764633800000000, "u-b", &erased).ok());
  ASSERT_TRUE(ApplyRestore(rebuilt.get(), 4, DecodeLogOp(EncodeLogOp(restore)).value()).ok());
  const std::string json = rebuilt->Get(*ParseUuid(TestUuid(2))).value().record.json;
  EXPECT_FALSE(absl::StrContains(json, "u-b")) << json;
  EXPECT_TRUE(absl::StrContains(json, kErasedAgentHomePage)) << json;
  EXPECT_EQ(json, live->Get(*ParseUuid(TestUuid(2))).value().record.json);
  EXPECT_EQ(rebuilt->CountLearnerIndexEntries("u-c").value(), 1);
}

// What the restore is for: a replica rebuilt from a log whose shared
// message is gone gets the other learners' statements; an erasure of a
// learner before the restore was built (or of the erased one itself) does
// not hold them back.
TEST(LogApply, ARestoreStillRebuildsOtherLearnersStatements) {
  auto live = OpenStore("restore-plain-live", 1);
  std::vector<LoggedRecord> ops;
  ops.push_back(Op(1, 1764633600000000,
                   {Parse({.id = TestUuid(1), .learner = "u-a"}), Parse({.id = TestUuid(2), .learner = "u-b"})}));
  ASSERT_TRUE(live->ApplyLoggedRecords(&ops).ok());
  absl::StatusOr<int64_t> erased;
  ASSERT_TRUE(live->ApplyLoggedErase(2, 1764633700000000, "u-b", &erased).ok());  // before: irrelevant here
  ASSERT_TRUE(live->ApplyLoggedErase(3, 1764633700000000, "u-a", &erased).ok());
  std::vector<LoggedRecord> more;
  more.push_back(Op(4, 1764633600000001, {Parse({.id = TestUuid(5), .learner = "u-b"})}));
  ASSERT_TRUE(live->ApplyLoggedRecords(&more).ok());
  const LogOp restore = RestoreOf(live.get(), "u-a", {5});
  EXPECT_EQ(restore.built_at, 4u);

  auto rebuilt = OpenStore("restore-plain-rebuilt", 1);
  ASSERT_TRUE(rebuilt->ApplyLoggedErase(2, 1764633700000000, "u-b", &erased).ok());
  ASSERT_TRUE(rebuilt->ApplyLoggedErase(3, 1764633700000000, "u-a", &erased).ok());
  ASSERT_TRUE(rebuilt->ApplyLoggedMeta(4, {}).ok());
  std::vector<std::string> left_out;
  ASSERT_TRUE(ApplyRestore(rebuilt.get(), 5, restore, &left_out).ok());
  EXPECT_TRUE(left_out.empty());
  EXPECT_EQ(rebuilt->Get(*ParseUuid(TestUuid(5))).value().record.json,
            live->Get(*ParseUuid(TestUuid(5))).value().record.json);
  // A message from before built_at (0): applied as before, unchecked.
  LogOp old = restore;
  old.built_at = 0;
  auto older = OpenStore("restore-plain-older", 1);
  ASSERT_TRUE(older->ApplyLoggedErase(2, 1764633700000000, "u-b", &erased).ok());
  ASSERT_TRUE(ApplyRestore(older.get(), 9, old).ok());
  EXPECT_TRUE(older->Get(*ParseUuid(TestUuid(5))).ok());
}

// An OpLog that refuses like a follower and remembers what it was asked.
class FollowerLog : public OpLog {
 public:
  absl::StatusOr<std::vector<StoredStatement>> ProposeRecord(std::vector<ParsedStatement> statements,
                                                             int64_t now_us) override {
    proposed = std::move(statements);
    proposed_now = now_us;
    return absl::UnavailableError("not the leader; leader is records-2");
  }
  absl::StatusOr<int64_t> ProposeErase(const std::string&, int64_t) override {
    return absl::UnavailableError("not the leader; leader is records-2");
  }
  absl::Status ProposeMeta(const std::vector<std::pair<std::string, std::optional<std::string>>>&, int64_t) override {
    return absl::UnavailableError("not the leader; leader is records-2");
  }
  absl::Status ProposeAudit(const AuditEvent&, int64_t) override {
    ++audits;
    return absl::UnavailableError("not the leader; leader is records-2");
  }
  std::vector<ParsedStatement> proposed;
  int64_t proposed_now = 0;
  int audits = 0;
};

TEST(LogApply, InLogModeWritesGoToTheLogWithTheProposersChoices) {
  FollowerLog log;
  auto store = OpenStore("follower", 1764633600000000, &log);
  absl::StatusOr<ParsedStatement> p = ParseStatement(MakeStatement({.id = TestUuid(1)}));
  ASSERT_TRUE(p.ok());
  p->verified_issuer = true;  // with no authority: not a verified issuer
  absl::StatusOr<std::vector<StoredStatement>> r = store->Record({*p});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "not the leader; leader is records-2");
  ASSERT_EQ(log.proposed.size(), 1u);
  EXPECT_EQ(log.proposed_now, 1764633600000000);
  EXPECT_TRUE(absl::StrContains(log.proposed[0].authority_json, "lifelong-records"));
  EXPECT_FALSE(log.proposed[0].verified_issuer);
  EXPECT_EQ(store->EraseLearner("u1").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->WriteMeta({{"k", std::string("v")}}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->GetMeta("k").status().code(), absl::StatusCode::kNotFound);  // nothing written locally
  // Nothing of a refused write is stored.
  EXPECT_EQ(store->Get(*ParseUuid(TestUuid(1))).status().code(), absl::StatusCode::kNotFound);
  // An access a follower serves is still audited, in its own store.
  ASSERT_TRUE(store->AppendAudit({1764633600000000, "teacher-1", "teacher", "u1", "op", "OK", ""}).ok());
  EXPECT_EQ(log.audits, 1);
  EXPECT_EQ(store->ListAudit({}).value().events.size(), 1u);
}

}  // namespace
}  // namespace lifelong::records::replication
