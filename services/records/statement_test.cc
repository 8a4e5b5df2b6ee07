#include "services/records/statement.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <nlohmann/json.hpp>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace lifelong::records {
namespace {

using Json = nlohmann::ordered_json;

Json Valid() {
  return Json::parse(R"({
    "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "actor": {"objectType": "Agent", "name": "王芳",
              "account": {"homePage": "https://id.dongcheng.gov.cn", "name": "u42"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"zh-CN": "完成", "en-US": "completed"}},
    "object": {"id": "https://lifelong.dongcheng.edu.cn/courses/c7",
               "definition": {"name": {"zh-CN": "书法入门"}, "type": "http://adlnet.gov/expapi/activities/course"}},
    "result": {"score": {"scaled": 0.9, "raw": 90, "min": 0, "max": 100}, "success": true,
               "completion": true, "duration": "PT1H30M"},
    "context": {"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7", "platform": "kiosk",
                "language": "zh-CN",
                "extensions": {"https://lifelong.dongcheng.edu.cn/xapi/ext/xuequ": "和平里学区",
                               "https://example.org/ext/raw": {"z": 1.5, "a": [1, "二", null]}}},
    "timestamp": "2026-11-28T10:00:00.250+08:00"
  })");
}

absl::Status ParseWith(const std::function<void(Json&)>& mutate) {
  Json j = Valid();
  mutate(j);
  return ParseStatement(j.dump()).status();
}

void ExpectInvalid(const std::function<void(Json&)>& mutate, const std::string& field) {
  absl::Status s = ParseWith(mutate);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
  EXPECT_NE(s.message().find(field), std::string::npos) << "message '" << s.message() << "' should name " << field;
}

TEST(Statement, ParsesValidStatementAndIndexesFields) {
  absl::StatusOr<ParsedStatement> p = ParseStatement(Valid().dump());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(FormatUuid(p->id), "6690e6c9-3ef0-4ed3-8b37-7f3964730bee");
  EXPECT_FALSE(p->id_assigned);
  EXPECT_EQ(p->learners, std::vector<std::string>{"u42"});
  EXPECT_EQ(p->verb, "http://adlnet.gov/expapi/verbs/completed");
  EXPECT_EQ(p->activity, "https://lifelong.dongcheng.edu.cn/courses/c7");
  ASSERT_TRUE(p->registration.has_value());
  ASSERT_TRUE(p->timestamp_us.has_value());
  EXPECT_EQ(*p->timestamp_us, 1795831200250000);  // 2026-11-28T02:00:00.25Z
  EXPECT_EQ(Json::parse(p->text)["version"], "2.0.0");
}

TEST(Statement, KeepsExtensionsExactlyAsSent) {
  absl::StatusOr<ParsedStatement> p = ParseStatement(Valid().dump());
  ASSERT_TRUE(p.ok());
  // The bytes as sent are kept (here: the compact dump of Valid()).
  EXPECT_NE(p->text.find(R"("https://example.org/ext/raw":{"z":1.5,"a":[1,"二",null]})"), std::string::npos);
  // Whitespace, member order and number spelling survive too.
  std::string spaced = R"({ "actor" : {"mbox":"mailto:a@example.cn"},
    "verb": {"id":"http://adlnet.gov/expapi/verbs/attended"},
    "object": {"id":"https://lifelong.dongcheng.edu.cn/courses/c1"},
    "result": {"extensions": {"https://example.org/x": 1.50e0}} }
)";
  absl::StatusOr<ParsedStatement> q = ParseStatement(spaced);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_NE(q->text.find(R"({"https://example.org/x": 1.50e0}} )"), std::string::npos) << q->text;
  EXPECT_EQ(q->text[q->body_end], '}');
}

TEST(Statement, AssignsIdWhenAbsent) {
  Json j = Valid();
  j.erase("id");
  absl::StatusOr<ParsedStatement> p = ParseStatement(j.dump());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->id_assigned);
  EXPECT_EQ(Json::parse(p->text)["id"], FormatUuid(p->id));
  EXPECT_EQ(p->text.substr(0, 7), "{\"id\":\"");
  EXPECT_EQ(FormatUuid(p->id)[14], '4');  // version 4
}

TEST(Statement, RejectsBadOrMissingParts) {
  ExpectInvalid([](Json& j) { j["id"] = "not-a-uuid"; }, "statement.id");
  ExpectInvalid([](Json& j) { j["id"] = 42; }, "statement.id");
  ExpectInvalid([](Json& j) { j.erase("actor"); }, "statement.actor");
  ExpectInvalid([](Json& j) { j.erase("verb"); }, "statement.verb");
  ExpectInvalid([](Json& j) { j.erase("object"); }, "statement.object");
  ExpectInvalid([](Json& j) { j["verb"]["id"] = "completed"; }, "statement.verb.id");
  ExpectInvalid([](Json& j) { j["verb"]["id"] = "http://x y"; }, "statement.verb.id");
  ExpectInvalid([](Json& j) { j["object"]["id"] = "/courses/c7"; }, "statement.object.id");
  ExpectInvalid([](Json& j) { j["verb"]["display"] = {{"zh_CN", "完成"}}; }, "statement.verb.display.zh_CN");
  ExpectInvalid([](Json& j) { j["context"]["language"] = "123"; }, "statement.context.language");
  ExpectInvalid([](Json& j) { j["timestamp"] = "2026-11-28 10:00:00"; }, "statement.timestamp");
  ExpectInvalid([](Json& j) { j["timestamp"] = "2026-13-01T00:00:00Z"; }, "statement.timestamp");
  ExpectInvalid([](Json& j) { j["timestamp"] = "2026-02-30T00:00:00Z"; }, "statement.timestamp");
  ExpectInvalid([](Json& j) { j["timestamp"] = "2026-11-28T10:00:00"; }, "statement.timestamp");
  ExpectInvalid([](Json& j) { j["timestamp"] = "10000-01-01T00:00:00Z"; }, "statement.timestamp");
  ExpectInvalid([](Json& j) { j["result"]["duration"] = "-PT1H"; }, "statement.result.duration");
  ExpectInvalid([](Json& j) { j["result"]["duration"] = "1 hour"; }, "statement.result.duration");
  ExpectInvalid([](Json& j) { j["result"]["score"]["scaled"] = 1.5; }, "statement.result.score.scaled");
  ExpectInvalid([](Json& j) { j["result"]["score"]["raw"] = 101; }, "statement.result.score.raw");
  ExpectInvalid([](Json& j) { j["result"]["score"]["raw"] = -1; }, "statement.result.score.raw");
  ExpectInvalid([](Json& j) { j["result"]["score"]["min"] = 100; }, "statement.result.score.max");
  ExpectInvalid([](Json& j) { j["result"]["success"] = "yes"; }, "statement.result.success");
  ExpectInvalid([](Json& j) { j["context"]["registration"] = "abc"; }, "statement.context.registration");
  ExpectInvalid([](Json& j) { j["context"]["extensions"] = {{"venue", "x"}}; }, "statement.context.extensions.venue");
  ExpectInvalid([](Json& j) { j["colour"] = "red"; }, "statement.colour");
  ExpectInvalid([](Json& j) { j["version"] = "3.0.0"; }, "statement.version");
}

TEST(Statement, Xapi20StructureRules) {
  ExpectInvalid([](Json& j) { j["timestamp"] = "2026-11-28T10:00:00-00:00"; }, "statement.timestamp");
  ExpectInvalid([](Json& j) { j["result"]["duration"] = "P4W1D"; }, "statement.result.duration");
  ExpectInvalid([](Json& j) { j["object"]["definition"]["choices"] = Json::array(); },
                "statement.object.definition.interactionType");
  ExpectInvalid(
      [](Json& j) {
        j["context"]["contextAgents"] = Json::parse(R"([{"objectType":"agent","agent":{"mbox":"mailto:a@b.cn"}}])");
      },
      "statement.context.contextAgents[0].objectType");
  ExpectInvalid(
      [](Json& j) {
        j["context"]["contextGroups"] =
            Json::parse(R"([{"objectType":"contextGroup","group":{"mbox":"mailto:a@b.cn"}}])");
      },
      "statement.context.contextGroups[0].group");
  ExpectInvalid([](Json& j) { j["authority"] = Json::parse(R"({"objectType":"Group","mbox":"mailto:g@b.cn"})"); },
                "statement.authority");
  // A single context activity comes back as an array.
  Json j = Valid();
  j["context"]["contextActivities"] = {{"parent", {{"id", "https://lifelong.dongcheng.edu.cn/courses/c1"}}}};
  absl::StatusOr<ParsedStatement> p = ParseStatement(j.dump());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(Json::parse(p->text)["context"]["contextActivities"]["parent"].is_array());
  EXPECT_TRUE(ParseIsoDurationSeconds("P4W").ok());
}

TEST(Statement, ActorRules) {
  ExpectInvalid([](Json& j) { j["actor"] = {{"name", "nobody"}}; }, "statement.actor");
  ExpectInvalid([](Json& j) { j["actor"]["mbox"] = "mailto:a@b.cn"; }, "statement.actor");  // two IFIs
  ExpectInvalid([](Json& j) { j["actor"] = {{"mbox", "a@b.cn"}}; }, "statement.actor.mbox");
  ExpectInvalid([](Json& j) { j["actor"] = {{"mbox_sha1sum", "xyz"}}; }, "statement.actor.mbox_sha1sum");
  ExpectInvalid([](Json& j) { j["actor"]["account"].erase("homePage"); }, "statement.actor.account.homePage");
  ExpectInvalid([](Json& j) { j["actor"] = {{"objectType", "Group"}}; }, "statement.actor.member");
  // Anonymous group: indexed under each member.
  Json j = Valid();
  j["actor"] = Json::parse(R"({"objectType":"Group","member":[
      {"mbox":"mailto:li@example.cn"},{"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u9"}}]})");
  absl::StatusOr<ParsedStatement> p = ParseStatement(j.dump());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->learners, (std::vector<std::string>{"mailto:li@example.cn", "u9"}));
}

TEST(Statement, PlatformOnlyForActivityObjects) {
  ExpectInvalid(
      [](Json& j) {
        j["object"] = {{"objectType", "Agent"}, {"mbox", "mailto:t@example.cn"}};
      },
      "statement.context.platform");
}

TEST(Statement, StoreOwnedMembersAreDroppedAndIdCanonicalised) {
  Json j = Valid();
  j["stored"] = "2020-01-01T00:00:00Z";
  j["authority"] = {{"mbox", "mailto:forger@example.cn"}};
  j["id"] = "6690E6C9-3EF0-4ED3-8B37-7F3964730BEE";
  absl::StatusOr<ParsedStatement> p = ParseStatement(j.dump());
  ASSERT_TRUE(p.ok()) << p.status();
  Json back = Json::parse(p->text);
  EXPECT_FALSE(back.contains("stored"));
  EXPECT_FALSE(back.contains("authority"));
  EXPECT_EQ(back["id"], "6690e6c9-3ef0-4ed3-8b37-7f3964730bee");
  EXPECT_EQ(p->text[p->body_end], '}');
}

TEST(Statement, SameContentIgnoresStoreOwnedMembersAndOrder) {
  EXPECT_TRUE(SameContent(R"({"a":1,"b":2,"stored":"x","authority":{},"version":"2.0.0"})", R"({"b":2,"a":1})", false));
  EXPECT_FALSE(SameContent(R"({"a":1,"timestamp":"t"})", R"({"a":1})", false));
  EXPECT_TRUE(SameContent(R"({"a":1,"timestamp":"t"})", R"({"a":1})", true));
  EXPECT_FALSE(SameContent(R"({"a":1})", R"({"a":2})", false));
}

TEST(Statement, VoidingNeedsStatementRef) {
  Json j = Valid();
  j["verb"]["id"] = "http://adlnet.gov/expapi/verbs/voided";
  EXPECT_EQ(ParseStatement(j.dump()).status().code(), absl::StatusCode::kInvalidArgument);
  j["object"] = {{"objectType", "StatementRef"}, {"id", "6690e6c9-3ef0-4ed3-8b37-7f3964730bef"}};
  j["context"].erase("platform");
  absl::StatusOr<ParsedStatement> p = ParseStatement(j.dump());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->is_voiding);
  EXPECT_EQ(FormatUuid(p->void_target), "6690e6c9-3ef0-4ed3-8b37-7f3964730bef");
  EXPECT_TRUE(p->activity.empty());
}

TEST(Statement, RejectsMalformedJsonAndOversize) {
  EXPECT_EQ(ParseStatement("{\"actor\":").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStatement("[]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStatement("\"\xff\xfe\"").status().code(), absl::StatusCode::kInvalidArgument);
  Json j = Valid();
  j["result"]["response"] = std::string(kMaxStatementBytes, 'x');
  absl::Status s = ParseStatement(j.dump()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("larger than"), std::string::npos);
}

// A member named twice could smuggle a value past validation (which reads
// the first) to readers that take the last: rejected at any depth and in
// objects of any size (small ones are compared pairwise, large ones sorted).
TEST(Statement, RejectsMembersNamedTwice) {
  std::string valid = Valid().dump();
  auto expect_twice = [](const std::string& json, const std::string& member) {
    absl::Status s = ParseStatement(json).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << json.substr(0, 200);
    EXPECT_NE(s.message().find(absl::StrCat("member \"", member, "\" appears twice")), std::string::npos)
        << s.message();
  };
  // Top level, and nested inside the actor.
  expect_twice(absl::StrReplaceAll(valid, {{R"("timestamp":)", R"("verb":{"id":"http://x.org/v"},"timestamp":)"}}),
               "verb");
  expect_twice(absl::StrReplaceAll(valid, {{R"("name":"王芳")", R"("name":"王芳","name":"李明")"}}), "name");
  // Extension objects of many members: a duplicate far apart is found, and
  // many distinct members are accepted.
  for (int members : {17, 200, 5000}) {
    std::string many;
    for (int i = 0; i < members; ++i) absl::StrAppend(&many, "\"k", i, "\":", i, ",");
    Json ok = Valid();
    ok["context"]["extensions"]["https://example.org/ext/raw"] = Json::object();
    std::string distinct =
        absl::StrReplaceAll(ok.dump(), {{R"("https://example.org/ext/raw":{})",
                                         absl::StrCat(R"("https://example.org/ext/raw":{)", many, R"("last":0})")}});
    EXPECT_TRUE(ParseStatement(distinct).ok()) << members << ": " << ParseStatement(distinct).status();
    std::string dup = absl::StrReplaceAll(distinct, {{R"("last":0})", R"("k0":0})"}});
    expect_twice(dup, "k0");
  }
}

TEST(Statement, SubStatementRules) {
  Json j = Valid();
  j["object"] = Json::parse(R"({"objectType":"SubStatement",
      "actor":{"mbox":"mailto:a@example.cn"},
      "verb":{"id":"http://adlnet.gov/expapi/verbs/registered"},
      "object":{"id":"https://lifelong.dongcheng.edu.cn/courses/c1"}})");
  j["context"].erase("platform");
  EXPECT_TRUE(ParseStatement(j.dump()).ok());
  j["object"]["object"] = j["object"];
  EXPECT_EQ(ParseStatement(j.dump()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Statement, LearnerKeys) {
  EXPECT_EQ(*CanonicalLearnerKey("u42", "learner"), "u42");
  EXPECT_EQ(*CanonicalLearnerKey("account:https://id.dongcheng.gov.cn|u42", "learner"), "u42");
  EXPECT_EQ(*CanonicalLearnerKey("account:https://other.example|bob", "learner"), "account:https://other.example|bob");
  EXPECT_EQ(*CanonicalLearnerKey("sha1:ABCDEF0123456789ABCDEF0123456789ABCDEF01", "learner"),
            "sha1:abcdef0123456789abcdef0123456789abcdef01");
  EXPECT_EQ(CanonicalLearnerKey("", "learner").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalLearnerKey("ftp:x", "learner").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalLearnerKey("mailto:nobody", "learner").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalLearnerKey("account:notaniri|x", "learner").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Statement, DurationsAndTimestamps) {
  EXPECT_DOUBLE_EQ(*ParseIsoDurationSeconds("PT1H30M"), 5400);
  EXPECT_DOUBLE_EQ(*ParseIsoDurationSeconds("P1DT0.5S"), 86400.5);
  EXPECT_DOUBLE_EQ(*ParseIsoDurationSeconds("P2W"), 14 * 86400);
  for (const char* bad : {"P", "PT", "PT1", "P1H", "PT1M1H", "-PT1S", "PT-1S", ""}) {
    EXPECT_FALSE(ParseIsoDurationSeconds(bad).ok()) << bad;
  }
  EXPECT_EQ(*ParseTimestampMicros("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseTimestampMicros("1970-01-01T08:00:01.5+08:00"), 1500000);
  EXPECT_EQ(FormatTimestampMicros(1500000), "1970-01-01T00:00:01.500000Z");
}

TEST(Statement, IriAndLanguageTag) {
  EXPECT_TRUE(IsAbsoluteIri("https://lifelong.dongcheng.edu.cn/courses/书法"));
  EXPECT_TRUE(IsAbsoluteIri("urn:uuid:1"));
  EXPECT_FALSE(IsAbsoluteIri("courses/1"));
  EXPECT_FALSE(IsAbsoluteIri("1http://x"));
  EXPECT_FALSE(IsAbsoluteIri("http://x/<y>"));
  EXPECT_TRUE(IsLanguageTag("zh-CN"));
  EXPECT_TRUE(IsLanguageTag("zh-Hans-CN"));
  EXPECT_TRUE(IsLanguageTag("en"));
  EXPECT_FALSE(IsLanguageTag("zh_CN"));
  EXPECT_FALSE(IsLanguageTag(""));
  EXPECT_FALSE(IsLanguageTag("zh-"));
  EXPECT_FALSE(IsLanguageTag("toolongprimary"));
}

std::string GroupStatement(const std::string& group_ifi) {
  return absl::StrCat(
      R"({"actor":{"objectType":"Group","name":"书法小组",)", group_ifi,
      R"("member":[{"objectType":"Agent","name":"张三","account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}},)"
      R"({"objectType":"Agent","mbox":"mailto:li@example.cn"},)"
      R"({"objectType":"Agent","account":{"homePage":"https://id.dongcheng.gov.cn","name":"u3"}}]},)"
      R"("verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"https://example.cn/c1"}})");
}

TEST(Statement, RemoveLearnerFromActorTakesOutMembersAndTheGroupIdentifier) {
  // A member leaves; the others, the group's name and the rest stay.
  std::string anon = GroupStatement("");
  absl::StatusOr<std::string> out = RemoveLearnerFromActor(anon, "u3");
  ASSERT_TRUE(out.ok()) << out.status();
  absl::StatusOr<ParsedStatement> p = ParseStatement(*out);
  ASSERT_TRUE(p.ok()) << p.status() << " " << *out;
  EXPECT_EQ(p->learners, (std::vector<std::string>{"u1", "mailto:li@example.cn"}));
  EXPECT_EQ(out->find("u3"), std::string::npos);
  EXPECT_NE(out->find("书法小组"), std::string::npos);
  // mbox members are matched by their learner key.
  out = RemoveLearnerFromActor(anon, "mailto:li@example.cn");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(ParseStatement(*out)->learners, (std::vector<std::string>{"u1", "u3"}));
  // The learner whose account identifies the group: the group becomes
  // anonymous (still valid: it has members).
  std::string identified = GroupStatement(R"("account":{"homePage":"https://id.dongcheng.gov.cn","name":"u9"},)");
  out = RemoveLearnerFromActor(identified, "u9");
  ASSERT_TRUE(out.ok());
  p = ParseStatement(*out);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->learners, (std::vector<std::string>{"u1", "mailto:li@example.cn", "u3"}));
  EXPECT_EQ(out->find("u9"), std::string::npos);
  // A learner not in the actor: the same statement.
  out = RemoveLearnerFromActor(identified, "u2");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(ParseStatement(*out)->learners, ParseStatement(identified)->learners);
  // Not a statement.
  EXPECT_EQ(RemoveLearnerFromActor("[1]", "u1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RemoveLearnerFromActor("{\"actor\":1}", "u1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RemoveLearnerFromActor("{", "u1").status().code(), absl::StatusCode::kInvalidArgument);
}

// Mentions: the learners a statement names outside its actor, in every
// position xAPI gives an agent, found on the parsed statement and on stored
// JSON alike; the actor, the authority, free text and the erased placeholder
// are not mentions.
TEST(Statement, MentionsAreTheAgentsNamedOutsideTheActor) {
  const std::string text = absl::StrCat(
      R"({"actor":{"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}},)",
      R"("verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},)",
      R"("object":{"objectType":"SubStatement","actor":{"mbox":"mailto:sub@example.cn"},)",
      R"("verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},)",
      R"("object":{"objectType":"Agent","openid":"https://id.example.cn/o1"},)",
      R"("context":{"instructor":{"mbox":"mailto:sub-teacher@example.cn"}}},)",
      R"("context":{"\u0069nstructor":{"objectType":"Group","mbox":"mailto:team@example.cn","member":[)",
      R"({"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u2"}},{"mbox":"mailto:sub@example.cn"}]},)",
      R"("team":{"objectType":"Group","member":[{"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}},)",
      R"({"account":{"homePage":"https://erased.invalid","name":"erased"}}]},)",
      R"("contextAgents":[{"objectType":"contextAgent","agent":{"mbox_sha1sum":"0123456789abcdef0123456789ABCDEF01234567"}}],)",
      R"("extensions":{"https://e.x/who":{"mbox":"mailto:free@example.cn"}}},)",
      R"("authority":{"account":{"homePage":"https://id.dongcheng.gov.cn/roles/teacher","name":"t1"}}})");
  absl::StatusOr<ParsedStatement> p = ParseStatement(text);
  ASSERT_TRUE(p.ok()) << p.status();
  const std::vector<std::string> expected = {"mailto:sub@example.cn",
                                             "openid:https://id.example.cn/o1",
                                             "mailto:sub-teacher@example.cn",
                                             "mailto:team@example.cn",
                                             "u2",
                                             "u1",
                                             "sha1:0123456789abcdef0123456789abcdef01234567"};
  EXPECT_EQ(p->mentioned, expected);
  EXPECT_EQ(p->learners, (std::vector<std::string>{"u1"}));
  absl::StatusOr<std::vector<std::string>> stored = MentionedLearners(text);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, expected);
  // A plain statement names nobody else.
  absl::StatusOr<ParsedStatement> plain = ParseStatement(
      R"({"actor":{"objectType":"Agent","mbox":"mailto:a@example.cn"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"https://example.cn/c1"}})");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->mentioned.empty());
  EXPECT_EQ(MentionedLearners("{").status().code(), absl::StatusCode::kInvalidArgument);
}

// Scrubbing a learner replaces their identifier and name by the placeholder
// wherever they are mentioned, keeps everything else (the actor, the other
// members, objectType), stays a valid statement, and leaves JSON that does not
// name them byte for byte as it was.
TEST(Statement, ScrubLearnerMentionsReplacesOnlyThatLearner) {
  const std::string text = absl::StrCat(
      R"({"actor":{"mbox":"mailto:t@example.cn"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},)",
      R"("object":{"objectType":"SubStatement","actor":{"objectType":"Agent","mbox":"mailto:t@example.cn","name":"李老师"},)",
      R"("verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"https://example.cn/c1"}},)",
      R"("context":{"instructor":{"mbox":"mailto:t@example.cn","name":"李老师"},)",
      R"("team":{"objectType":"Group","member":[{"mbox":"mailto:t@example.cn"},{"mbox":"mailto:s@example.cn","name":"张三"}]},)",
      R"("contextGroups":[{"objectType":"contextGroup","group":{"objectType":"Group","mbox":"mailto:t@example.cn","name":"李老师的班"}}]}})");
  ASSERT_TRUE(ParseStatement(text).ok());
  absl::StatusOr<std::string> out = ScrubLearnerMentions(text, "mailto:t@example.cn");
  ASSERT_TRUE(out.ok()) << out.status();
  Json j = Json::parse(*out);
  EXPECT_EQ(j["actor"]["mbox"], "mailto:t@example.cn") << "the actor is RemoveLearnerFromActor's";
  const Json placeholder = {{"homePage", kErasedAgentHomePage}, {"name", kErasedAgentName}};
  EXPECT_EQ(j["object"]["actor"], Json({{"objectType", "Agent"}, {"account", placeholder}}));
  EXPECT_EQ(j["context"]["instructor"], Json({{"account", placeholder}}));
  EXPECT_EQ(j["context"]["team"]["member"][0], Json({{"account", placeholder}}));
  EXPECT_EQ(j["context"]["team"]["member"][1]["name"], "张三");
  EXPECT_EQ(j["context"]["contextGroups"][0]["group"], Json({{"objectType", "Group"}, {"account", placeholder}}));
  EXPECT_EQ(out->find("李老师"), std::string::npos) << *out;
  absl::StatusOr<ParsedStatement> p = ParseStatement(*out);
  ASSERT_TRUE(p.ok()) << p.status() << " " << *out;
  EXPECT_EQ(p->mentioned, (std::vector<std::string>{"mailto:s@example.cn"})) << "the placeholder is no mention";
  // Nobody of that key: the same bytes.
  absl::StatusOr<std::string> same = ScrubLearnerMentions(text, "mailto:x@example.cn");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, text);
  EXPECT_EQ(ScrubLearnerMentions("[1", "u1").status().code(), absl::StatusCode::kInvalidArgument);
}

// A parser keeps the capacity of the largest document it parsed for as long
// as its thread lives (simdjson: up to ~14 bytes a byte): a statement near the
// size limit is parsed with a parser of its own, so that no server thread
// keeps ~14 MiB after one large statement (before, 12+ MiB stayed).
TEST(ParseStatement, ALargeStatementLeavesNoParserCapacityBehind) {
  std::string zeros;
  for (int i = 0; i < 400000; ++i) zeros += "0,";
  zeros += "0";
  const std::string text =
      absl::StrCat(R"({"actor":{"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}},)",
                   R"("verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},)",
                   R"("object":{"id":"https://lifelong.dongcheng.gov.cn/course/c1"},)",
                   R"("result":{"extensions":{"http://e.x/big":[)", zeros, "]}}}");
  ASSERT_LT(text.size(), kMaxStatementBytes);
  auto heap = [] {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
  };
  size_t before = 0, after = 0;
  bool parsed = false;
  std::thread worker([&] {  // as a server thread: measured before it ends
    before = heap();
    parsed = ParseStatement(text).ok();
    after = heap();
  });
  worker.join();
  EXPECT_TRUE(parsed);
  EXPECT_LT(after, before + (4u << 20)) << "the parse left " << ((after - before) >> 20) << " MiB allocated";
}

}  // namespace
}  // namespace lifelong::records
