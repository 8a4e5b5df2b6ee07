#include "services/records/replication/log_op.h"

#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "services/records/key_codec.h"

namespace lifelong::records::replication {
namespace {

ParsedStatement Full() {
  ParsedStatement p;
  p.id = *ParseUuid("11111111-2222-3333-4444-555555555555");
  p.id_assigned = true;
  p.text = R"({"id":"11111111-2222-3333-4444-555555555555","actor":{"name":"张三"}})";
  p.body_end = p.text.size() - 1;
  p.learners = {"u1", "u2"};
  p.verb = "http://adlnet.gov/expapi/verbs/completed";
  p.activity = "https://courses.dongcheng.gov.cn/c/1";
  p.registration = *ParseUuid("aaaaaaaa-2222-3333-4444-555555555555");
  p.timestamp_us = -5;  // before the epoch
  p.is_voiding = true;
  p.void_target = *ParseUuid("bbbbbbbb-2222-3333-4444-555555555555");
  p.ref_target = p.void_target;
  p.void_right = VoidRight{.holder = "teacher t1", .by_courses = true, .learner = "", .courses = {"c1", "c2"}};
  p.authority_json = R"({"objectType":"Agent","name":"东城区"})";
  p.verified_issuer = true;
  return p;
}

TEST(LogOp, RecordRoundTripKeepsEveryField) {
  LogOp op;
  op.kind = LogOpKind::kRecord;
  op.now_us = 1764633600000000;
  ParsedStatement bare;
  bare.id = *ParseUuid("00000000-0000-0000-0000-000000000001");
  bare.text = "{}";
  bare.body_end = 1;
  bare.learners = {"u9"};
  bare.verb = "v";
  ParsedStatement learner_voids = Full();
  learner_voids.void_right = VoidRight{.holder = "learner u1", .by_courses = false, .learner = "u1", .courses = {}};
  ParsedStatement staff_voids = Full();
  staff_voids.void_right.reset();
  staff_voids.voids_in_advance = true;
  op.statements = {Full(), bare, learner_voids, staff_voids};
  absl::StatusOr<LogOp> back = DecodeLogOp(EncodeLogOp(op));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->kind, LogOpKind::kRecord);
  EXPECT_EQ(back->now_us, op.now_us);
  ASSERT_EQ(back->statements.size(), 4u);
  EXPECT_FALSE(back->statements[0].voids_in_advance);
  EXPECT_TRUE(back->statements[3].voids_in_advance) << "every replica voids in advance, or none";
  EXPECT_FALSE(back->statements[3].void_right.has_value());
  const ParsedStatement& a = back->statements[0];
  const ParsedStatement f = Full();
  EXPECT_EQ(a.id, f.id);
  EXPECT_TRUE(a.id_assigned);
  EXPECT_EQ(a.text, f.text);
  EXPECT_EQ(a.body_end, f.body_end);
  EXPECT_EQ(a.learners, f.learners);
  EXPECT_EQ(a.verb, f.verb);
  EXPECT_EQ(a.activity, f.activity);
  EXPECT_EQ(a.registration, f.registration);
  EXPECT_EQ(a.timestamp_us, f.timestamp_us);
  EXPECT_TRUE(a.is_voiding);
  EXPECT_EQ(a.void_target, f.void_target);
  EXPECT_EQ(a.ref_target, f.ref_target);
  EXPECT_EQ(a.authority_json, f.authority_json);
  EXPECT_TRUE(a.verified_issuer);
  ASSERT_TRUE(a.void_right.has_value());
  EXPECT_TRUE(a.void_right->by_courses);
  EXPECT_EQ(a.void_right->holder, "teacher t1");
  EXPECT_EQ(a.void_right->courses, (std::vector<std::string>{"c1", "c2"}));
  const ParsedStatement& c = back->statements[2];
  ASSERT_TRUE(c.void_right.has_value());
  EXPECT_FALSE(c.void_right->by_courses);
  EXPECT_EQ(c.void_right->learner, "u1");
  EXPECT_TRUE(c.void_right->courses.empty());
  const ParsedStatement& b = back->statements[1];
  EXPECT_FALSE(b.registration.has_value());
  EXPECT_FALSE(b.timestamp_us.has_value());
  EXPECT_FALSE(b.ref_target.has_value());
  EXPECT_FALSE(b.is_voiding);
  EXPECT_FALSE(b.void_right.has_value());
  EXPECT_FALSE(b.verified_issuer);
  EXPECT_EQ(b.learners, std::vector<std::string>{"u9"});
}

TEST(LogOp, OtherKindsRoundTrip) {
  LogOp erase;
  erase.kind = LogOpKind::kErase;
  erase.learner = "mailto:li@example.org";
  absl::StatusOr<LogOp> e = DecodeLogOp(EncodeLogOp(erase));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->learner, erase.learner);

  LogOp meta;
  meta.kind = LogOpKind::kMeta;
  meta.meta = {{"kiosk_pass/x", std::string("\x01\x00v", 3)}, {"kiosk_pass_of/u1", std::nullopt}};
  absl::StatusOr<LogOp> m = DecodeLogOp(EncodeLogOp(meta));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->meta, meta.meta);

  LogOp audit;
  audit.kind = LogOpKind::kAudit;
  audit.audit = {123, "teacher-1", "teacher", "u1", "/lifelong.v1.LearningRecordService/Record", "OK", "细节"};
  absl::StatusOr<LogOp> a = DecodeLogOp(EncodeLogOp(audit));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->audit.time_us, 123);
  EXPECT_EQ(a->audit.subject, "teacher-1");
  EXPECT_EQ(a->audit.detail, "细节");
}

TEST(LogOp, GoldenBytesOfAnErase) {
  LogOp op;
  op.kind = LogOpKind::kErase;
  op.now_us = 0x0102030405060708;
  op.learner = "u1";
  EXPECT_EQ(EncodeLogOp(op), std::string("\x01\x02\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00\x00\x02u1", 16));
}

TEST(LogOp, EveryTruncationIsDataLossNamingAField) {
  LogOp op;
  op.kind = LogOpKind::kRecord;
  op.statements = {Full()};
  std::string bytes = EncodeLogOp(op);
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<LogOp> r = DecodeLogOp(bytes.substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << n;
    EXPECT_TRUE(absl::StartsWith(r.status().message(), "log message: ")) << r.status();
  }
}

TEST(LogOp, GarbledMessagesAreRefused) {
  LogOp op;
  op.kind = LogOpKind::kErase;
  op.learner = "u1";
  std::string good = EncodeLogOp(op);

  std::string format = good;
  format[0] = 9;
  EXPECT_EQ(DecodeLogOp(format).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(DecodeLogOp(format).status().message(), "format"));

  std::string kind = good;
  kind[1] = 77;
  EXPECT_TRUE(absl::StrContains(DecodeLogOp(kind).status().message(), "kind: unknown kind 77"));

  EXPECT_TRUE(absl::StrContains(DecodeLogOp(good + "x").status().message(), "1 bytes after the operation"));

  // A huge statement count in a short message.
  LogOp rec;
  rec.kind = LogOpKind::kRecord;
  rec.statements = {Full()};
  std::string huge = EncodeLogOp(rec);
  huge[10] = '\x7f';
  EXPECT_TRUE(absl::StrContains(DecodeLogOp(huge).status().message(), "statements: count"));

  // body_end past the text.
  LogOp one;
  one.kind = LogOpKind::kRecord;
  ParsedStatement p = Full();
  p.body_end = p.text.size() + 1;
  one.statements = {p};
  EXPECT_TRUE(absl::StrContains(DecodeLogOp(EncodeLogOp(one)).status().message(), "statement.body_end"));

  // "Voids in advance" (0x80) on a statement that is not voiding.
  LogOp plain;
  plain.kind = LogOpKind::kRecord;
  ParsedStatement q = Full();
  q.is_voiding = false;
  q.void_right.reset();
  plain.statements = {q};
  std::string flagged = EncodeLogOp(plain);
  flagged[30] = static_cast<char>(flagged[30] | 0x80);  // 1 + 1 + 8 + 4 + 16: the first statement's flags
  EXPECT_TRUE(absl::StrContains(DecodeLogOp(flagged).status().message(), "voids in advance"))
      << DecodeLogOp(flagged).status();

  EXPECT_EQ(DecodeLogOp("").status().code(), absl::StatusCode::kDataLoss);
}

TEST(LogOp, SubjectsSeparateOneLearnerFromShared) {
  LogOp op;
  op.kind = LogOpKind::kRecord;
  ParsedStatement a = Full();
  a.learners = {"u1"};
  op.statements = {a, a};
  EXPECT_EQ(SubjectOf(op, "lifelong.records"), LearnerSubject("u1", "lifelong.records"));
  EXPECT_TRUE(absl::StartsWith(LearnerSubject("u1", "p"), "p.stmt."));
  EXPECT_EQ(LearnerSubject("u1", "p").size(), std::string("p.stmt.").size() + 16);
  EXPECT_NE(LearnerSubject("u1", "p"), LearnerSubject("u2", "p"));
  ParsedStatement b = a;
  b.learners = {"u2"};
  op.statements = {a, b};
  EXPECT_EQ(SubjectOf(op, "lifelong.records"), "lifelong.records.shared");
  op.statements = {Full()};  // a group: two learners
  EXPECT_EQ(SubjectOf(op, "lifelong.records"), "lifelong.records.shared");
  // One learner's statement that names another (their instructor): shared,
  // so that the instructor's erasure scrubs it from the log too.
  ParsedStatement named = a;
  named.mentioned = {"u9"};
  op.statements = {a, named};
  EXPECT_EQ(SubjectOf(op, "lifelong.records"), "lifelong.records.shared");
  EXPECT_EQ(SharedMarks(op, 4), (std::vector<std::string>{SharedMarkKey("u1", 4), SharedMarkKey("u9", 4)}));

  LogOp meta;
  meta.kind = LogOpKind::kMeta;
  meta.meta = {{"kiosk_pass/abc", std::string("v")}, {"kiosk_pass_of/u1", std::string("k")}};
  EXPECT_EQ(SubjectOf(meta, "lifelong.records"), LearnerSubject("u1", "lifelong.records"));
  meta.meta = {{"other", std::nullopt}};
  EXPECT_EQ(SubjectOf(meta, "lifelong.records"), "lifelong.records.meta");
}

// A learner card's edits (services/records/learner_cards.cc) name the
// learner, and the card record holds the PIN's hash: they go on the
// learner's subject, so that the erasure takes them out of the log. Before,
// they went to ".meta" and stayed after the erasure (until retention, or for
// ever with a node that keeps no backup).
TEST(LogOp, ALearnerCardsEditsGoWithTheirLearner) {
  // The card record as LearnerCards writes it: format 1 | u32 iterations |
  // 16 salt | 32 PIN hash | u64 bound | u32 failures | u64 locked_until |
  // u8 flags | learner key.
  std::string card("\x01\x00\x00\x4e\x20", 5);
  card.append(16, 's');
  card.append(32, 'h');
  card.append(8 + 4 + 8 + 1, '\0');
  ASSERT_EQ(card.size(), 74u);
  card.append("u-card");
  const std::string mine = LearnerSubject("u-card", "lifelong.records");
  LogOp meta;
  meta.kind = LogOpKind::kMeta;
  // Bind (one card per learner: the old card removed).
  meta.meta = {{"learner_card/000000000017", std::nullopt},
               {"learner_card/123456789012", card},
               {"learner_card_of/u-card", std::string("123456789012")}};
  EXPECT_EQ(SubjectOf(meta, "lifelong.records"), mine);
  // A wrong PIN counted (Redeem): the card record alone.
  meta.meta = {{"learner_card/123456789012", card}};
  EXPECT_EQ(SubjectOf(meta, "lifelong.records"), mine);
  // Unbind, and the learner's erasure.
  meta.meta = {{"learner_card/123456789012", std::nullopt}, {"learner_card_of/u-card", std::nullopt}};
  EXPECT_EQ(SubjectOf(meta, "lifelong.records"), mine);
  // Nothing names a learner: a card number alone, or a record that is not a
  // card record of format 1.
  meta.meta = {{"learner_card/123456789012", std::nullopt}};
  EXPECT_EQ(SubjectOf(meta, "lifelong.records"), "lifelong.records.meta");
  meta.meta = {{"learner_card/123456789012", std::string("short")}};
  EXPECT_EQ(SubjectOf(meta, "lifelong.records"), "lifelong.records.meta");
  std::string other_format = card;
  other_format[0] = 2;
  meta.meta = {{"learner_card/123456789012", other_format}};
  EXPECT_EQ(SubjectOf(meta, "lifelong.records"), "lifelong.records.meta");
}

TEST(LogOp, RecordMessageIdFollowsContent) {
  LogOp op;
  op.kind = LogOpKind::kRecord;
  op.statements = {Full()};
  std::string id = RecordMessageId(op);
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(id, RecordMessageId(op));
  op.now_us = 99;  // the clock is not content
  EXPECT_EQ(id, RecordMessageId(op));
  op.statements[0].text += " ";
  EXPECT_NE(id, RecordMessageId(op));
}

TEST(LogOp, RestoreRoundTripAndSharedMarks) {
  StatementRecord rec;
  rec.learners = {"u2", "u3"};
  rec.verb = "v";
  rec.stored_seq = 7;
  rec.json = "{}";
  std::string value = EncodeStatementRecord(rec).value();
  LogOp op;
  op.kind = LogOpKind::kRestore;
  op.learner = "u1";
  op.restored = {{*ParseUuid("11111111-2222-3333-4444-555555555555"), value}};
  op.built_at = 0x0102030405060708;
  const std::string bytes = EncodeLogOp(op);
  absl::StatusOr<LogOp> back = DecodeLogOp(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->learner, "u1");
  EXPECT_EQ(back->restored, op.restored);
  EXPECT_EQ(back->built_at, 0x0102030405060708u);
  // built_at is the last 8 bytes; a message from before it ends without
  // them and reads as built_at 0; anything shorter or longer is refused.
  ASSERT_TRUE(absl::EndsWith(bytes, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8)));
  absl::StatusOr<LogOp> older = DecodeLogOp(bytes.substr(0, bytes.size() - 8));
  ASSERT_TRUE(older.ok()) << older.status();
  EXPECT_EQ(older->built_at, 0u);
  EXPECT_EQ(older->restored, op.restored);
  for (size_t cut = 1; cut < 8; ++cut) {
    EXPECT_EQ(DecodeLogOp(bytes.substr(0, bytes.size() - cut)).status().code(), absl::StatusCode::kDataLoss) << cut;
  }
  EXPECT_EQ(DecodeLogOp(bytes + "x").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(SubjectOf(op, "p"), "p.shared");
  EXPECT_EQ(SharedMarks(op, 9), (std::vector<std::string>{SharedMarkKey("u2", 9), SharedMarkKey("u3", 9)}));
  EXPECT_EQ(SeqOfSharedMark(SharedMarkKey("u2", 9), SharedMarkPrefix("u2")).value(), 9u);
  EXPECT_EQ(SeqOfSharedMark("junk", SharedMarkPrefix("u2")).status().code(), absl::StatusCode::kDataLoss);
  // Golden key bytes.
  EXPECT_EQ(SharedMarkKey("u2", 1),
            std::string("replication/shared_of/\x00\x02u2\x00\x00\x00\x00\x00\x00\x00\x01", 34));
  // A prefix of one learner never covers another's keys.
  EXPECT_FALSE(absl::StartsWith(SharedMarkKey("u22", 1), SharedMarkPrefix("u2")));

  // Record operations: marks only on the shared subject.
  LogOp mine;
  mine.kind = LogOpKind::kRecord;
  ParsedStatement p = Full();
  p.learners = {"u1"};
  mine.statements = {p};
  EXPECT_TRUE(SharedMarks(mine, 3).empty());
  mine.statements = {Full()};  // u1 and u2
  EXPECT_EQ(SharedMarks(mine, 3), (std::vector<std::string>{SharedMarkKey("u1", 3), SharedMarkKey("u2", 3)}));

  // A restored record that names a learner outside its actor marks them too.
  rec.Set(RecordFlag::kNamesOthers, true);
  rec.json = R"({"context":{"instructor":{"mbox":"mailto:t@example.cn"}}})";
  op.restored = {{*ParseUuid("11111111-2222-3333-4444-555555555555"), EncodeStatementRecord(rec).value()}};
  EXPECT_EQ(SharedMarks(op, 9), (std::vector<std::string>{SharedMarkKey("mailto:t@example.cn", 9),
                                                          SharedMarkKey("u2", 9), SharedMarkKey("u3", 9)}));
}

// A scrub's restore larger than the log's message limit goes as several
// messages, each within it, together holding every record in order.
TEST(LogOp, SplitRestoreKeepsEveryPartWithinTheLimit) {
  LogOp op;
  op.kind = LogOpKind::kRestore;
  op.learner = "u1";
  op.built_at = 42;
  for (int i = 0; i < 500; ++i) {
    Uuid id{};
    id[15] = static_cast<uint8_t>(i);
    id[14] = static_cast<uint8_t>(i >> 8);
    op.restored.emplace_back(id, std::string(100 + i % 300, 'r'));
  }
  const int64_t limit = 16 << 10;
  std::vector<LogOp> parts = SplitRestore(op, limit);
  ASSERT_GT(parts.size(), 5u);
  std::vector<std::pair<Uuid, std::string>> all;
  for (const LogOp& p : parts) {
    EXPECT_LE(static_cast<int64_t>(EncodeLogOp(p).size()), limit);
    EXPECT_EQ(p.kind, LogOpKind::kRestore);
    EXPECT_EQ(p.learner, "u1");
    EXPECT_EQ(p.built_at, 42u);
    EXPECT_FALSE(p.restored.empty());
    all.insert(all.end(), p.restored.begin(), p.restored.end());
  }
  EXPECT_EQ(all, op.restored);
  EXPECT_EQ(SplitRestore(op, 0).size(), 1u) << "no limit: one message";
  op.restored.clear();
  EXPECT_EQ(SplitRestore(op, limit).size(), 1u) << "nothing to restore: still one message";
}

TEST(LogOp, DocumentWriteRoundTripAndSubject) {
  LogOp op;
  op.kind = LogOpKind::kDocument;
  op.now_us = 42;
  op.document.action = xapi::DocAction::kMerge;
  op.document.key = {xapi::DocKind::kState, "https://courses.dongcheng.gov.cn/c/1", "u1", "reg", "bookmark"};
  op.document.content_type = "application/json";
  op.document.content = R"({"page":1})";
  op.document.cond.if_match = "abc";
  op.document.cond.require_condition_if_exists = true;
  op.document.now_us = 42;
  absl::StatusOr<LogOp> back = DecodeLogOp(EncodeLogOp(op));
  ASSERT_TRUE(back.ok()) << back.status();
  const xapi::DocWrite& d = back->document;
  EXPECT_EQ(d.action, xapi::DocAction::kMerge);
  EXPECT_EQ(d.key.kind, xapi::DocKind::kState);
  EXPECT_EQ(d.key.activity, op.document.key.activity);
  EXPECT_EQ(d.key.learner, "u1");
  EXPECT_EQ(d.key.registration, "reg");
  EXPECT_EQ(d.key.id, "bookmark");
  EXPECT_EQ(d.content, op.document.content);
  EXPECT_EQ(d.cond.if_match, std::optional<std::string>("abc"));
  EXPECT_TRUE(d.cond.require_condition_if_exists);
  EXPECT_FALSE(d.cond.if_none_match_star);
  EXPECT_EQ(d.now_us, 42);
  // A learner's documents go with their statements (purged on erasure).
  EXPECT_EQ(SubjectOf(op, "p"), LearnerSubject("u1", "p"));
  op.document.key = {xapi::DocKind::kActivityProfile, "https://a", "", "", "p1"};
  EXPECT_EQ(SubjectOf(op, "p"), "p.documents");
  // A bad action byte.
  std::string bytes = EncodeLogOp(op);
  bytes[10] = 9;
  EXPECT_TRUE(absl::StrContains(DecodeLogOp(bytes).status().message(), "document.action"))
      << DecodeLogOp(bytes).status();
}

// A log whose messages `gone` were erased or deleted.
LogCursor::StillInLog LogWithout(std::set<uint64_t> gone) {
  return [gone](uint64_t seq) -> absl::StatusOr<bool> { return gone.count(seq) == 0; };
}

TEST(LogCursor, RefusesToSkipASequence) {
  LogCursor c(10, LogWithout({12, 13}));
  EXPECT_EQ(c.Next(11, 1).code(), absl::StatusCode::kOk);
  c.Applied(11);
  EXPECT_EQ(c.Next(14, 2).code(), absl::StatusCode::kOk);  // 12, 13 purged from the stream: fine
  c.Applied(14);
  absl::Status gap = c.Next(16, 4);  // consumer delivery 3 is missing
  EXPECT_EQ(gap.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(gap.message(), "consumer sequence 4 after 2")) << gap;
}

// nats-server 2.9 after a purge with a subject filter: the consumer's next
// delivery is the stream's end, with no gap in consumer sequences.
TEST(LogCursor, RefusesAJumpOverMessagesStillInTheLog) {
  LogCursor c(10, LogWithout({12}));
  EXPECT_EQ(c.Next(11, 1).code(), absl::StatusCode::kOk);
  c.Applied(11);
  absl::Status gap = c.Next(20, 2);  // 13..19 are still in the log
  EXPECT_EQ(gap.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(gap.message(), "operation 13 is in the log but was not delivered")) << gap;
  EXPECT_EQ(c.applied(), 11u);
}

TEST(LogCursor, AJumpIsRefusedWhenTheLogCannotBeAsked) {
  LogCursor c(10, [](uint64_t) -> absl::StatusOr<bool> { return absl::UnavailableError("no quorum"); });
  absl::Status s = c.Next(12, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "operation 11")) << s;
  // No jump, no question.
  LogCursor d(10, [](uint64_t) -> absl::StatusOr<bool> { return absl::UnavailableError("no quorum"); });
  EXPECT_EQ(d.Next(11, 1).code(), absl::StatusCode::kOk);
}

TEST(LogCursor, RedeliveryIsSkippedNotApplied) {
  LogCursor c(20, LogWithout({}));
  EXPECT_EQ(c.Next(20, 1).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c.Next(21, 2).code(), absl::StatusCode::kOk);
  c.Applied(21);
  // A re-created consumer starts its deliveries at 1 again.
  EXPECT_EQ(c.Next(21, 1).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c.Next(22, 2).code(), absl::StatusCode::kOk);
}

}  // namespace
}  // namespace lifelong::records::replication
