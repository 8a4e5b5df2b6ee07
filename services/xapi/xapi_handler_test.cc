// XapiHandler::Handle on its own, without sockets: the request pipeline
// (alternate request syntax, about, authentication, the version header,
// routing) over a real RecordStore and DocumentStore under TEST_TMPDIR.
#include "services/xapi/xapi_handler.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/auth/authorizer.h"
#include "services/auth/token.h"
#include "services/records/test_statements.h"
#include "services/xapi/multipart.h"
#include "tests/testing/bounded_wait.h"

namespace lifelong::xapi {
namespace {

using ::lifelong::testing::AwaitOrFail;
using ::lifelong::testing::WaitOrFail;
using records::testing::MakeStatement;
using records::testing::TestUuid;

class XapiHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/xapi_handler_" +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    absl::StatusOr<std::unique_ptr<records::RecordStore>> store = records::RecordStore::Open(dir + "/records");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    absl::StatusOr<std::unique_ptr<DocumentStore>> docs = DocumentStore::Open(dir + "/docs");
    ASSERT_TRUE(docs.ok()) << docs.status();
    docs_ = *std::move(docs);
    absl::StatusOr<Credentials> creds = Credentials::Parse("lrs:s3cret\n");
    ASSERT_TRUE(creds.ok()) << creds.status();
    creds_ = std::make_unique<Credentials>(*std::move(creds));
    handler_ = std::make_unique<XapiHandler>(store_.get(), docs_.get(), creds_.get(), "/xapi");
  }

  static std::string Basic(const std::string& user_password) { return "Basic " + absl::Base64Escape(user_password); }

  // Statement `id` (TestUuid) read with its attachments (multipart).
  HttpResponse GetWithAttachments(int id) const {
    HttpRequest get = Request("GET", "/statements");
    get.params.emplace("statementId", TestUuid(id));
    get.params.emplace("attachments", "true");
    return handler_->Handle(get);
  }

  // An authenticated xAPI 2.0 request.
  static HttpRequest Request(const std::string& method, const std::string& path) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.headers["authorization"] = Basic("lrs:s3cret");
    r.headers["x-experience-api-version"] = "2.0.0";
    return r;
  }

  static std::string Header(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return "";
  }

  HttpResponse PutStatement(int n) {
    HttpRequest r = Request("PUT", "/statements");
    r.params.emplace("statementId", TestUuid(n));
    r.headers["content-type"] = "application/json";
    r.body = MakeStatement({.id = TestUuid(n), .learner = "u1", .course = "c1"});
    return handler_->Handle(r);
  }

  // A statement of learner u1 (course c1, `title`) with one text/plain
  // attachment named by `sha2`, `length` bytes long.
  static nlohmann::json StatementWithAttachment(int n, const std::string& sha2, size_t length,
                                                const std::string& title = "书法入门") {
    nlohmann::json st =
        nlohmann::json::parse(MakeStatement({.id = TestUuid(n), .learner = "u1", .course = "c1", .title = title}));
    st["attachments"] =
        nlohmann::json::array({{{"usageType", "http://id.tincanapi.com/attachment/certificate-of-completion"},
                                {"display", {{"zh-CN", "结业证书"}}},
                                {"contentType", "text/plain"},
                                {"length", length},
                                {"sha2", sha2}}});
    return st;
  }

  // A statement write (PUT with `statement_id`, else POST) of `statements`
  // as multipart/mixed, with `contents` as its attachment parts.
  static HttpRequest MultipartWrite(const nlohmann::json& statements, const std::vector<std::string>& contents,
                                    const std::string& statement_id = "") {
    HttpRequest r = Request(statement_id.empty() ? "POST" : "PUT", "/statements");
    if (!statement_id.empty()) r.params.emplace("statementId", statement_id);
    std::vector<MultipartPart> parts(1);
    parts[0].headers["Content-Type"] = "application/json";
    parts[0].body = statements.dump();
    for (const std::string& c : contents) {
      MultipartPart p;
      p.headers["Content-Type"] = "text/plain";
      p.headers["Content-Transfer-Encoding"] = "binary";
      p.headers["X-Experience-API-Hash"] = Sha256Hex(c);
      p.body = c;
      parts.push_back(std::move(p));
    }
    std::string content_type;
    r.body = BuildMultipart(parts, &content_type);
    r.headers["content-type"] = content_type;
    return r;
  }

  // A body limit's worth of `[0,0,...]` (8 million elements).
  static std::string HugeArray() {
    std::string body;
    body.reserve(kMaxBodyBytes);
    body = "[0";
    while (body.size() + 3 <= kMaxBodyBytes) body += ",0";
    body += "]";
    return body;
  }

  // The ids ("<statement id>/<sha2>") of every stored statement attachment.
  std::set<std::string> AttachmentIds() const {
    std::set<std::string> learners;
    EXPECT_TRUE(docs_->ForEachLearner([&](const std::string& l) { learners.insert(l); }).ok());
    std::set<std::string> ids;
    for (const std::string& l : learners) {
      absl::StatusOr<std::vector<std::string>> some =
          docs_->ListIds(DocKey{DocKind::kLearnerAttachment, "", l, "", ""}, std::nullopt);
      EXPECT_TRUE(some.ok()) << some.status();
      if (some.ok()) ids.insert(some->begin(), some->end());
    }
    return ids;
  }

  std::unique_ptr<records::RecordStore> store_;
  std::unique_ptr<DocumentStore> docs_;
  std::unique_ptr<Credentials> creds_;
  std::unique_ptr<XapiHandler> handler_;
};

TEST_F(XapiHandlerTest, AboutNeedsNoCredentialsAndOnlyGetOrHead) {
  HttpRequest about;
  about.method = "GET";
  about.path = "/about";
  HttpResponse r = handler_->Handle(about);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "\"version\"")) << r.body;
  about.method = "HEAD";
  r = handler_->Handle(about);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  about.method = "POST";
  EXPECT_EQ(handler_->Handle(about).status, 405);
}

TEST_F(XapiHandlerTest, MissingWrongOrMalformedCredentialsAre401) {
  HttpRequest r = Request("GET", "/statements");
  r.headers.erase("authorization");
  EXPECT_EQ(handler_->Handle(r).status, 401);
  r.headers["authorization"] = Basic("lrs:wrong");
  EXPECT_EQ(handler_->Handle(r).status, 401);
  r.headers["authorization"] = Basic("nobody:s3cret");
  EXPECT_EQ(handler_->Handle(r).status, 401);
  r.headers["authorization"] = "Basic !!!not-base64";
  EXPECT_EQ(handler_->Handle(r).status, 401);
  // Bearer tokens are refused without an enabled authorizer.
  r.headers["authorization"] = "Bearer abc.def.ghi";
  EXPECT_EQ(handler_->Handle(r).status, 401);
  // Nothing was written by any of them.
  r = Request("GET", "/statements");
  HttpResponse ok = handler_->Handle(r);
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(XapiHandlerTest, VersionHeaderIsRequiredAndChecked) {
  HttpRequest r = Request("GET", "/statements");
  r.headers.erase("x-experience-api-version");
  HttpResponse missing = handler_->Handle(r);
  EXPECT_EQ(missing.status, 400);
  EXPECT_TRUE(absl::StrContains(missing.body, "X-Experience-API-Version")) << missing.body;
  r.headers["x-experience-api-version"] = "3.0.0";
  EXPECT_EQ(handler_->Handle(r).status, 400);
  r.headers["x-experience-api-version"] = "1.0.3";
  HttpResponse v103 = handler_->Handle(r);
  EXPECT_EQ(v103.status, 200) << v103.body;
  EXPECT_FALSE(Header(v103, "X-Experience-API-Version").empty());
}

TEST_F(XapiHandlerTest, UnknownResourcesAre404AndOversizedBodies413) {
  HttpResponse r = handler_->Handle(Request("GET", "/nothing-here"));
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(absl::StrContains(r.body, "/nothing-here")) << r.body;
  HttpRequest big = Request("POST", "/statements");
  big.headers["content-type"] = "application/json";
  big.body.assign(kMaxBodyBytes + 1, ' ');
  EXPECT_EQ(handler_->Handle(big).status, 413);
}

// A malformed attachment entry in a PUT is a 400 naming the field, as in a
// POST (it was a JSON type error inside the attachment check: 500).
TEST_F(XapiHandlerTest, AMalformedAttachmentInAPutIsA400NamingTheField) {
  HttpRequest r = Request("PUT", "/statements");
  r.params.emplace("statementId", TestUuid(7));
  r.headers["content-type"] = "application/json";
  nlohmann::json st = nlohmann::json::parse(MakeStatement({.id = TestUuid(7), .learner = "u1", .course = "c1"}));
  st["attachments"] = nlohmann::json::array({{{"usageType", 1},
                                              {"display", {{"zh-CN", "结业证书"}}},
                                              {"contentType", "application/pdf"},
                                              {"length", 2},
                                              {"sha2", "ab"}}});
  r.body = st.dump();
  HttpResponse out = handler_->Handle(r);
  EXPECT_EQ(out.status, 400) << out.body;
  EXPECT_TRUE(absl::StrContains(out.body, "usageType")) << out.body;
  EXPECT_EQ(store_->Get(*records::ParseUuid(TestUuid(7))).status().code(), absl::StatusCode::kNotFound);
}

// Each statement keeps its own copy of every part it names: one part named
// by many statements of a batch would store many times the body (1,000
// statements naming one 15 MB part stored 15 GB). Over kMaxBodyBytes in all
// is refused before anything is stored.
TEST_F(XapiHandlerTest, AttachmentsABatchWouldStoreOverTheBodyLimitAre413) {
  const std::string big(9 << 20, 'a');  // two copies: 18 MiB
  const std::string sha2 = Sha256Hex(big);
  nlohmann::json batch = {StatementWithAttachment(21, sha2, big.size()), StatementWithAttachment(22, sha2, big.size())};
  HttpRequest r = MultipartWrite(batch, {big});
  ASSERT_LE(r.body.size(), kMaxBodyBytes);
  HttpResponse out = handler_->Handle(r);
  EXPECT_EQ(out.status, 413) << out.body;
  EXPECT_TRUE(absl::StrContains(out.body, absl::StrCat(kMaxBodyBytes))) << out.body;
  EXPECT_TRUE(AttachmentIds().empty());
  EXPECT_EQ(store_->Get(*records::ParseUuid(TestUuid(21))).status().code(), absl::StatusCode::kNotFound);

  // Under the limit, the same part is kept once per statement.
  const std::string small(1 << 20, 'b');
  const std::string small_sha2 = Sha256Hex(small);
  batch = {StatementWithAttachment(23, small_sha2, small.size()),
           StatementWithAttachment(24, small_sha2, small.size())};
  out = handler_->Handle(MultipartWrite(batch, {small}));
  EXPECT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(AttachmentIds(), (std::set<std::string>{TestUuid(23) + "/" + small_sha2, TestUuid(24) + "/" + small_sha2}));
}

// Bytes allocated by malloc (heap and mmapped chunks) now.
size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Restarts the peak resident set (VmHWM) from the current one; false when
// /proc does not allow it.
bool ResetPeakRss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.close();
  return !clear.fail();
}

// The peak resident set (VmHWM) in bytes; 0 when /proc does not tell.
size_t PeakRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view v = line;
    if (!absl::ConsumePrefix(&v, "VmHWM:")) continue;
    v = absl::StripAsciiWhitespace(v);
    absl::ConsumeSuffix(&v, " kB");
    size_t kb = 0;
    return absl::SimpleAtoi(v, &kb) ? kb << 10 : 0;
  }
  return 0;
}

// The statements cap is checked on the parsed array, before its elements are
// copied out one string each (8 million of them: some 300 MiB more).
TEST_F(XapiHandlerTest, AnArrayOverTheStatementCapIsRefusedBeforeItIsSplit) {
  HttpRequest r = Request("POST", "/statements");
  r.headers["content-type"] = "application/json";
  r.body = HugeArray();
  if (!ResetPeakRss()) GTEST_SKIP() << "/proc/self/clear_refs is not writable here";
  const size_t before = PeakRss();
  HttpResponse out = handler_->Handle(r);
  const size_t peak = PeakRss();
  EXPECT_EQ(out.status, 400) << out.body;
  EXPECT_TRUE(absl::StrContains(out.body, "statements: at most 1000")) << out.body;
  // Measured: 224 MiB to parse (the body copied twice, the tape and the
  // structural indexes of 8 million numbers); 509 MiB when the elements
  // were copied out before the cap was checked.
  EXPECT_LT(peak - before, 360u << 20) << "peak resident set grew by " << ((peak - before) >> 20) << " MiB";
}

// A dom::parser keeps the capacity of the largest document it parsed (some
// 14 times its size): a worker's parser must not keep hundreds of MiB after
// one large body.
TEST_F(XapiHandlerTest, AHugeBodyLeavesNoParserCapacityBehind) {
  HttpRequest r = Request("POST", "/statements");
  r.headers["content-type"] = "application/json";
  r.body = HugeArray();
  // On a thread of its own, as a server's worker: what the thread keeps
  // after the request is measured before it ends.
  size_t before = 0, after = 0;
  HttpResponse out;
  std::thread worker([&] {
    before = HeapInUse();
    out = handler_->Handle(r);
    after = HeapInUse();
  });
  worker.join();
  EXPECT_EQ(out.status, 400) << out.body;
  EXPECT_LT(after, before + (32u << 20)) << "the request left " << ((after - before) >> 20) << " MiB allocated";
}

// A statement's attachments are stored before the statement: when the
// statement is then refused (here 409, another statement under its id), the
// parts this request stored are deleted again, and those stored before it
// (by the statement that holds the id) are kept.
TEST_F(XapiHandlerTest, AttachmentsOfARefusedStatementAreNotLeftBehind) {
  const std::string certificate = "结业证书: u1, 书法入门, 2 学分";
  const std::string sha2 = Sha256Hex(certificate);
  const nlohmann::json original = StatementWithAttachment(30, sha2, certificate.size());
  HttpResponse put = handler_->Handle(MultipartWrite(original, {certificate}, TestUuid(30)));
  ASSERT_EQ(put.status, 204) << put.body;
  const std::string kept = TestUuid(30) + "/" + sha2;
  ASSERT_EQ(AttachmentIds(), std::set<std::string>{kept});

  // Other content under the same id, with a part of its own: 409, and its
  // part is not kept.
  const std::string other = "结业证书: u1, 篆刻, 1 学分";
  HttpResponse conflict = handler_->Handle(
      MultipartWrite(StatementWithAttachment(30, Sha256Hex(other), other.size(), "篆刻"), {other}, TestUuid(30)));
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_EQ(AttachmentIds(), std::set<std::string>{kept});
  // As a POST, and with the original's part: the original's is kept.
  HttpResponse post = handler_->Handle(MultipartWrite({StatementWithAttachment(30, sha2, certificate.size(), "篆刻"),
                                                       StatementWithAttachment(31, sha2, certificate.size())},
                                                      {certificate}));
  EXPECT_EQ(post.status, 409) << post.body;
  EXPECT_EQ(AttachmentIds(), std::set<std::string>{kept});
  EXPECT_EQ(store_->Get(*records::ParseUuid(TestUuid(31))).status().code(), absl::StatusCode::kNotFound);

  // The original again (a client's retry): stored as before, its part kept.
  put = handler_->Handle(MultipartWrite(original, {certificate}, TestUuid(30)));
  EXPECT_EQ(put.status, 204) << put.body;
  EXPECT_EQ(AttachmentIds(), std::set<std::string>{kept});
  HttpResponse read = GetWithAttachments(30);
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_TRUE(absl::StrContains(read.body, certificate)) << read.body;
}

// A write that is not refused for good (UNAVAILABLE: a replicated write
// whose publish timed out may still be applied after the answer) keeps the
// attachments it stored: deleting them would leave that statement, once
// applied, without its bytes.
TEST_F(XapiHandlerTest, AttachmentsOfAWriteThatMayStillBeAppliedAreKept) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/xapi_unavailable_store";
  std::filesystem::remove_all(dir);
  records::RecordStoreOptions o;
  o.test_hooks.before_write = [] { return absl::UnavailableError("injected: the log's publish timed out"); };
  absl::StatusOr<std::unique_ptr<records::RecordStore>> store = records::RecordStore::Open(dir, o);
  ASSERT_TRUE(store.ok()) << store.status();
  XapiHandler handler(store->get(), docs_.get(), creds_.get(), "/xapi");
  const std::string certificate = "结业证书: u1, 书法入门, 2 学分";
  const std::string sha2 = Sha256Hex(certificate);
  HttpResponse out =
      handler.Handle(MultipartWrite(StatementWithAttachment(50, sha2, certificate.size()), {certificate}));
  EXPECT_EQ(out.status, 503) << out.body;
  EXPECT_EQ(AttachmentIds(), std::set<std::string>{TestUuid(50) + "/" + sha2});
}

// Whether a statement has attachments is read from the parsed JSON: a key
// spelled with an escape ("\u0061ttachments") is "attachments" all the same,
// and a signature attachment without its part is a 400 (xAPI 2.1.4).
TEST_F(XapiHandlerTest, AnEscapedAttachmentsKeyIsCheckedAsAttachments) {
  nlohmann::json st = nlohmann::json::parse(MakeStatement({.id = TestUuid(40), .learner = "u1", .course = "c1"}));
  const std::string sha2 = Sha256Hex("no such signature");
  st["attachments"] = nlohmann::json::array({{{"usageType", "http://adlnet.gov/expapi/attachments/signature"},
                                              {"display", {{"en-US", "signature"}}},
                                              {"contentType", "application/octet-stream"},
                                              {"length", 17},
                                              {"sha2", sha2}}});
  const std::string body = absl::StrReplaceAll(st.dump(), {{"\"attachments\"", R"("\u0061ttachments")"}});
  ASSERT_FALSE(absl::StrContains(body, "\"attachments\""));
  for (const std::string method : {"POST", "PUT"}) {
    HttpRequest r = Request(method, "/statements");
    if (method == "PUT") r.params.emplace("statementId", TestUuid(40));
    r.headers["content-type"] = "application/json";
    r.body = body;
    HttpResponse out = handler_->Handle(r);
    EXPECT_EQ(out.status, 400) << method << ": " << out.body;
    EXPECT_TRUE(absl::StrContains(out.body, "attachments")) << out.body;
    EXPECT_TRUE(absl::StrContains(out.body, sha2)) << out.body;
  }
  EXPECT_EQ(store_->Get(*records::ParseUuid(TestUuid(40))).status().code(), absl::StatusCode::kNotFound);

  // Such a key with its part sent is an attachment like any other: stored,
  // and read back with the statement.
  const std::string certificate = "结业证书: u1, 书法入门, 2 学分";
  HttpRequest with_part =
      MultipartWrite(StatementWithAttachment(41, Sha256Hex(certificate), certificate.size()), {certificate});
  with_part.body = absl::StrReplaceAll(with_part.body, {{"\"attachments\"", R"("\u0061ttachments")"}});
  HttpResponse out = handler_->Handle(with_part);
  EXPECT_EQ(out.status, 200) << out.body;
  HttpResponse read = GetWithAttachments(41);
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_TRUE(absl::StrContains(read.body, certificate)) << read.body;
}

// A write the replicated log refuses as too large (RESOURCE_EXHAUSTED, e.g.
// over nats-server's max_payload) is a 413 with the reason, not a 500.
TEST_F(XapiHandlerTest, AWriteTooLargeForTheLogIs413WithTheReason) {
  struct RefusingLog : DocumentLog {
    absl::Status ProposeDocument(const DocWrite&) override {
      return absl::ResourceExhaustedError("replicated write of 9000000 bytes exceeds the log's message limit");
    }
  } log;
  docs_->SetLog(&log);
  HttpRequest r = Request("PUT", "/activities/state");
  r.params = {{"activityId", "http://a/1"},
              {"agent", R"({"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}})"},
              {"stateId", "s1"}};
  r.headers["content-type"] = "application/json";
  r.body = "{}";
  HttpResponse out = handler_->Handle(r);
  docs_->SetLog(nullptr);
  EXPECT_EQ(out.status, 413) << out.body;
  EXPECT_TRUE(absl::StrContains(out.body, "message limit")) << out.body;
}

TEST_F(XapiHandlerTest, StatementWrittenByPutIsReadByGet) {
  HttpResponse put = PutStatement(1);
  ASSERT_EQ(put.status, 204) << put.body;
  HttpRequest get = Request("GET", "/statements");
  get.params.emplace("statementId", TestUuid(1));
  HttpResponse r = handler_->Handle(get);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, TestUuid(1))) << r.body;
  get.params.clear();
  get.params.emplace("statementId", TestUuid(2));
  EXPECT_EQ(handler_->Handle(get).status, 404);
}

// Last-Modified is an HTTP-date (RFC 9110 IMF-fixdate) on statements, as on
// documents; it was an RFC 3339 timestamp on statements.
TEST_F(XapiHandlerTest, LastModifiedIsAnHttpDate) {
  // Whole seconds: an HTTP-date has no fraction.
  const absl::Time before = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  ASSERT_EQ(PutStatement(1).status, 204);
  auto expect_http_date = [&](const HttpResponse& r, const std::string& what) {
    const std::string date = Header(r, "Last-Modified");
    absl::Time t;
    std::string err;
    ASSERT_TRUE(absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", date, absl::UTCTimeZone(), &t, &err))
        << what << ": " << date << " " << err;
    EXPECT_TRUE(absl::EndsWith(date, " GMT")) << what << ": " << date;
    EXPECT_GE(t, before) << what << ": " << date;
    EXPECT_LE(t, absl::Now()) << what << ": " << date;
  };
  HttpRequest one = Request("GET", "/statements");
  one.params.emplace("statementId", TestUuid(1));
  HttpResponse r = handler_->Handle(one);
  ASSERT_EQ(r.status, 200) << r.body;
  expect_http_date(r, "one statement");
  HttpRequest query = Request("GET", "/statements");
  query.params.emplace("limit", "1");
  r = handler_->Handle(query);
  ASSERT_EQ(r.status, 200) << r.body;
  expect_http_date(r, "a query");
  query.method = "HEAD";
  expect_http_date(handler_->Handle(query), "HEAD of a query");
  HttpRequest put = Request("PUT", "/activities/state");
  put.params.emplace("activityId", "http://a/1");
  put.params.emplace("agent", R"({"mbox":"mailto:a@example.org"})");
  put.params.emplace("stateId", "s1");
  put.headers["content-type"] = "application/json";
  put.body = "{}";
  ASSERT_EQ(handler_->Handle(put).status, 204);
  put.method = "GET";
  put.body.clear();
  expect_http_date(handler_->Handle(put), "a document");
}

// Bytes that are not UTF-8, echoed from the request into an error message
// (a parameter name, the path, the version header), made the JSON writer
// throw: a 500 without X-Experience-API-Version, and no audit row. They are
// answered as other such requests, the bytes written as U+FFFD.
TEST_F(XapiHandlerTest, InvalidUtf8EchoedInAnErrorIsAnsweredAndAudited) {
  auto expect_error = [&](const HttpResponse& r, int status, const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    EXPECT_FALSE(Header(r, "X-Experience-API-Version").empty()) << what;
    nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << what << ": " << r.body;
    EXPECT_TRUE(absl::StrContains(body["error"].get<std::string>(), "\xEF\xBF\xBD")) << what << ": " << r.body;
  };
  HttpRequest param = Request("GET", "/statements");
  param.params.emplace("\xFF", "1");
  expect_error(handler_->Handle(param), 400, "parameter name");
  HttpRequest version = Request("GET", "/statements");
  version.headers["x-experience-api-version"] = "9\xFF";
  expect_error(handler_->Handle(version), 400, "version header");
  expect_error(handler_->Handle(Request("GET", "/\xFF")), 404, "path");
  HttpRequest activity = Request("GET", "/activities");
  activity.params.emplace("activityId", "http://a/\xFF");
  HttpResponse a = handler_->Handle(activity);
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(nlohmann::json::accept(a.body)) << a.body;

  // Audited as the same request with valid bytes would be.
  auth::AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "xapi-handler-test-key-0123456789abcdef";
  auth::Authorizer authorizer(ao);
  absl::StatusOr<Credentials> creds = Credentials::Parse("feed:feed-secret role=loader subject=svc-feed\n");
  ASSERT_TRUE(creds.ok()) << creds.status();
  XapiHandler audited(store_.get(), docs_.get(), &*creds, "/xapi", "2.0.0", &authorizer);
  param.headers["authorization"] = Basic("feed:feed-secret");
  expect_error(audited.Handle(param), 400, "parameter name (audited)");
  absl::StatusOr<records::AuditPage> page = store_->ListAudit({.page_size = 100});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0].operation, "xapi:GET /statements");
  EXPECT_EQ(page->events[0].outcome, "HTTP 400");
}

// related_agents matched an account's name as text anywhere in a statement:
// under another homePage, inside a longer name, in a result's response. It
// now matches the agent (equal identifier, account homePage and name) where
// xAPI puts agents: actor (and Group members), object, context instructor and
// team, a SubStatement's; a page filled by the scan is not short of matches.
TEST_F(XapiHandlerTest, RelatedAgentsMatchesTheAgentNotItsNameAsText) {
  const nlohmann::json bob = {{"account", {{"homePage", "http://a.example"}, {"name", "bob"}}}};
  const nlohmann::json other_home = {{"account", {{"homePage", "http://other.example"}, {"name", "bob"}}}};
  const nlohmann::json bobby = {{"account", {{"homePage", "http://a.example"}, {"name", "bobby"}}}};
  const nlohmann::json carol = {{"mbox", "mailto:carol@example.org"}};
  auto statement = [](int n, const nlohmann::json& actor) {
    return nlohmann::json{{"id", TestUuid(n)},
                          {"actor", actor},
                          {"verb", {{"id", "http://adlnet.gov/expapi/verbs/attended"}}},
                          {"object", {{"id", "http://a/1"}}}};
  };
  nlohmann::json batch = nlohmann::json::array();
  std::set<std::string> expected;
  auto add = [&](nlohmann::json st, bool related) {
    if (related) expected.insert(st["id"].get<std::string>());
    batch.push_back(std::move(st));
  };
  add(statement(1, bob), true);
  add(statement(2, other_home), false);
  add(statement(3, bobby), false);
  nlohmann::json st = statement(4, carol);
  st["result"] = {{"response", "bob"}};
  add(st, false);
  st = statement(5, carol);
  st["object"] = bob;
  st["object"]["objectType"] = "Agent";
  add(st, true);
  st = statement(6, carol);
  st["context"] = {{"instructor", bob}};
  add(st, true);
  st = statement(7, carol);
  st["object"] = {{"objectType", "SubStatement"},
                  {"actor", bob},
                  {"verb", {{"id", "http://adlnet.gov/expapi/verbs/attended"}}},
                  {"object", {{"id", "http://a/2"}}}};
  add(st, true);
  st = statement(8, {{"objectType", "Group"}, {"member", nlohmann::json::array({carol, bob})}});
  add(st, true);
  st = statement(9, carol);
  st["context"] = {{"instructor", other_home}, {"team", {{"objectType", "Group"}, {"member", {bobby}}}}};
  add(st, false);
  st = statement(10, carol);
  st["context"] = {{"team", {{"objectType", "Group"}, {"member", {carol, bob}}}}};
  add(st, true);
  HttpRequest post = Request("POST", "/statements");
  post.headers["content-type"] = "application/json";
  post.body = batch.dump();
  HttpResponse posted = handler_->Handle(post);
  ASSERT_EQ(posted.status, 200) << posted.body;

  // Page by page (limit 2): every related statement once, no other.
  std::set<std::string> got;
  HttpRequest get = Request("GET", "/statements");
  get.params.emplace("agent", bob.dump());
  get.params.emplace("related_agents", "true");
  get.params.emplace("limit", "2");
  for (int pages = 0; pages < 20; ++pages) {
    HttpResponse r = handler_->Handle(get);
    ASSERT_EQ(r.status, 200) << r.body;
    nlohmann::json page = nlohmann::json::parse(r.body);
    for (const nlohmann::json& s : page["statements"]) {
      EXPECT_TRUE(got.insert(s["id"].get<std::string>()).second) << s.dump();
    }
    const std::string more = page["more"];
    if (more.empty()) break;
    size_t at = more.find("more=");
    ASSERT_NE(at, std::string::npos) << more;
    get.params.erase("more");
    get.params.emplace("more", more.substr(at + 5));
  }
  EXPECT_EQ(got, expected);
}

// related_agents finds an agent named only in xAPI 2.0's context agents
// (context.contextAgents[].agent) or as a member of a context group
// (context.contextGroups[].group.member), as records::MentionedLearners
// does, and in the statement's authority; not another agent.
TEST_F(XapiHandlerTest, RelatedAgentsFindsContextAgentsAndContextGroupMembers) {
  const nlohmann::json carol = {{"mbox", "mailto:carol@example.org"}};
  const nlohmann::json dave = {{"objectType", "Agent"}, {"mbox", "mailto:dave@example.org"}};
  const nlohmann::json erin = {{"account", {{"homePage", "http://a.example"}, {"name", "erin"}}}};
  const nlohmann::json frank = {{"mbox", "mailto:frank@example.org"}};
  nlohmann::json st = {
      {"id", TestUuid(1)},
      {"actor", carol},
      {"verb", {{"id", "http://adlnet.gov/expapi/verbs/attended"}}},
      {"object", {{"id", "http://a/1"}}},
      {"context",
       {{"contextAgents", nlohmann::json::array({{{"objectType", "contextAgent"}, {"agent", dave}}})},
        {"contextGroups",
         nlohmann::json::array({{{"objectType", "contextGroup"},
                                 {"group", {{"objectType", "Group"}, {"member", nlohmann::json::array({erin})}}}}})}}}};
  HttpRequest put = Request("PUT", "/statements");  // X-Experience-API-Version 2.0.0
  put.params.emplace("statementId", TestUuid(1));
  put.headers["content-type"] = "application/json";
  put.body = st.dump();
  HttpResponse stored = handler_->Handle(put);
  ASSERT_EQ(stored.status, 204) << stored.body;
  // A statement of frank's own, so that a query for him has one to find.
  HttpResponse franks = handler_->Handle([&] {
    HttpRequest r = Request("PUT", "/statements");
    r.params.emplace("statementId", TestUuid(2));
    r.headers["content-type"] = "application/json";
    r.body = nlohmann::json{{"id", TestUuid(2)},
                            {"actor", frank},
                            {"verb", {{"id", "http://adlnet.gov/expapi/verbs/attended"}}},
                            {"object", {{"id", "http://a/2"}}}}
                 .dump();
    return r;
  }());
  ASSERT_EQ(franks.status, 204) << franks.body;

  HttpRequest read = Request("GET", "/statements");
  read.params.emplace("statementId", TestUuid(1));
  HttpResponse got = handler_->Handle(read);
  ASSERT_EQ(got.status, 200) << got.body;
  const nlohmann::json authority = nlohmann::json::parse(got.body)["authority"];
  ASSERT_TRUE(authority.is_object()) << got.body;

  auto related = [&](const nlohmann::json& agent) {
    HttpRequest get = Request("GET", "/statements");
    get.params.emplace("agent", agent.dump());
    get.params.emplace("related_agents", "true");
    HttpResponse r = handler_->Handle(get);
    EXPECT_EQ(r.status, 200) << r.body;
    const nlohmann::json page = nlohmann::json::parse(r.body);
    std::set<std::string> ids;
    for (const nlohmann::json& s : page["statements"]) ids.insert(s["id"].get<std::string>());
    return ids;
  };
  EXPECT_EQ(related(dave), std::set<std::string>{TestUuid(1)});
  EXPECT_EQ(related(erin), std::set<std::string>{TestUuid(1)});
  EXPECT_EQ(related(frank), std::set<std::string>{TestUuid(2)});
  EXPECT_EQ(related(authority), (std::set<std::string>{TestUuid(1), TestUuid(2)}));
}

// xAPI: `agent` (without related_agents) returns the statements whose Actor
// or Object is the Agent: dave's own (3), carol's whose object is dave (1) or
// a Group naming him as a member (4); not carol's naming him as instructor
// only (2). (Before: only dave's own statement was returned.)
TEST_F(XapiHandlerTest, AgentFilterMatchesTheActorOrTheObject) {
  const nlohmann::json carol = {{"mbox", "mailto:carol@example.org"}};
  const nlohmann::json dave = {{"objectType", "Agent"}, {"mbox", "mailto:dave@example.org"}};
  const nlohmann::json mentored = {{"id", "http://id.tincanapi.com/verb/mentored"}};
  const nlohmann::json attended = {{"id", "http://adlnet.gov/expapi/verbs/attended"}};
  auto put = [&](int n, const nlohmann::json& body) {
    HttpRequest r = Request("PUT", "/statements");
    r.params.emplace("statementId", TestUuid(n));
    r.headers["content-type"] = "application/json";
    nlohmann::json st = body;
    st["id"] = TestUuid(n);
    r.body = st.dump();
    HttpResponse stored = handler_->Handle(r);
    ASSERT_EQ(stored.status, 204) << stored.body;
  };
  put(1, {{"actor", carol}, {"verb", mentored}, {"object", dave}});
  put(2,
      {{"actor", carol}, {"verb", attended}, {"object", {{"id", "http://a/2"}}}, {"context", {{"instructor", dave}}}});
  put(3, {{"actor", dave}, {"verb", attended}, {"object", {{"id", "http://a/3"}}}});
  put(4, {{"actor", carol},
          {"verb", mentored},
          {"object", {{"objectType", "Group"}, {"member", nlohmann::json::array({carol, dave})}}}});

  auto ids = [&](bool ascending) {
    HttpRequest get = Request("GET", "/statements");
    get.params.emplace("agent", dave.dump());
    if (ascending) get.params.emplace("ascending", "true");
    HttpResponse r = handler_->Handle(get);
    EXPECT_EQ(r.status, 200) << r.body;
    const nlohmann::json page = nlohmann::json::parse(r.body);
    std::vector<std::string> out;
    for (const nlohmann::json& s : page["statements"]) out.push_back(s["id"].get<std::string>());
    return out;
  };
  EXPECT_EQ(ids(false), (std::vector<std::string>{TestUuid(4), TestUuid(3), TestUuid(1)}));
  EXPECT_EQ(ids(true), (std::vector<std::string>{TestUuid(1), TestUuid(3), TestUuid(4)}));
}

// A replicated node whose store may be stale (records_server's read gate,
// Replicator::CheckServingReads) answers reads of learner data 503 with
// Retry-After; writes go on to the store (which refuses them there unless
// the node leads). An operator who sends X-Lifelong-Stale-Reads: allow is
// served; a loader sending it is not.
TEST_F(XapiHandlerTest, ReadsOfAStaleNodeAre503ButToAnOperatorWhoAsks) {
  absl::StatusOr<Credentials> creds = Credentials::Parse("lrs:s3cret\nops:0ps-pass role=operator\n");
  ASSERT_TRUE(creds.ok()) << creds.status();
  creds_ = std::make_unique<Credentials>(*std::move(creds));
  handler_ = std::make_unique<XapiHandler>(store_.get(), docs_.get(), creds_.get(), "/xapi");
  std::atomic<bool> stale{false};
  handler_->SetReadGate([&stale] {
    return stale.load() ? absl::UnavailableError("records-3 is cut off from NATS (test)") : absl::OkStatus();
  });
  ASSERT_EQ(PutStatement(1).status, 204);
  HttpRequest get = Request("GET", "/statements");
  get.params.emplace("statementId", TestUuid(1));
  ASSERT_EQ(handler_->Handle(get).status, 200);

  stale = true;
  HttpResponse refused = handler_->Handle(get);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_TRUE(absl::StrContains(refused.body, "records-3 is cut off from NATS")) << refused.body;
  EXPECT_EQ(Header(refused, "Retry-After"), "1");
  HttpRequest head = get;
  head.method = "HEAD";
  EXPECT_EQ(handler_->Handle(head).status, 503);
  HttpRequest state = Request("GET", "/activities/state");
  state.params.emplace("activityId", "https://lifelong.dongcheng.gov.cn/course/c1");
  state.params.emplace("agent", R"({"account":{"homePage":"https://lifelong.dongcheng.gov.cn","name":"u1"}})");
  state.params.emplace("stateId", "bookmark");
  EXPECT_EQ(handler_->Handle(state).status, 503);
  HttpRequest asking = get;
  asking.headers["x-lifelong-stale-reads"] = "allow";
  EXPECT_EQ(handler_->Handle(asking).status, 503) << "a loader may not read a stale store";
  asking.headers["authorization"] = Basic("ops:0ps-pass");
  HttpResponse served = handler_->Handle(asking);
  EXPECT_EQ(served.status, 200) << served.body;
  EXPECT_TRUE(absl::StrContains(served.body, TestUuid(1))) << served.body;
  // Neither about nor writes consult the gate.
  EXPECT_EQ(handler_->Handle(Request("GET", "/about")).status, 200);
  EXPECT_EQ(PutStatement(2).status, 204);

  stale = false;
  EXPECT_EQ(handler_->Handle(get).status, 200);
}

TEST_F(XapiHandlerTest, AlternateRequestSyntaxCarriesHeadersInTheForm) {
  ASSERT_EQ(PutStatement(3).status, 204);
  HttpRequest alt;
  alt.method = "POST";
  alt.path = "/statements";
  alt.params.emplace("method", "GET");
  alt.headers["content-type"] = "application/x-www-form-urlencoded";
  alt.body =
      "statementId=" + TestUuid(3) + "&X-Experience-API-Version=1.0.3&Authorization=" + UrlEncode(Basic("lrs:s3cret"));
  HttpResponse r = handler_->Handle(alt);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, TestUuid(3))) << r.body;

  // The credentials in the form are checked like a header.
  HttpRequest wrong = alt;
  wrong.body =
      "statementId=" + TestUuid(3) + "&X-Experience-API-Version=1.0.3&Authorization=" + UrlEncode(Basic("lrs:nope"));
  EXPECT_EQ(handler_->Handle(wrong).status, 401);

  // xAPI 2.0 dropped the alternate syntax.
  HttpRequest v2 = alt;
  v2.body =
      "statementId=" + TestUuid(3) + "&X-Experience-API-Version=2.0.0&Authorization=" + UrlEncode(Basic("lrs:s3cret"));
  EXPECT_EQ(handler_->Handle(v2).status, 400);

  // Only a form body, only the method parameter, only known methods.
  HttpRequest not_form = alt;
  not_form.headers["content-type"] = "application/json";
  EXPECT_EQ(handler_->Handle(not_form).status, 400);
  HttpRequest extra = alt;
  extra.params.emplace("statementId", TestUuid(3));
  EXPECT_EQ(handler_->Handle(extra).status, 400);
  HttpRequest bad_method = alt;
  bad_method.params.clear();
  bad_method.params.emplace("method", "PATCH");
  EXPECT_EQ(handler_->Handle(bad_method).status, 400);
}

// The dispatch table with authentication on: each resource's role-table
// name (documents as "xapi:* <path>", HEAD as GET) and which calls leave an
// audit row (personal data and refusals do; /about, /activities and
// /activities/profile do not; wrong credentials are not a principal).
TEST_F(XapiHandlerTest, EachResourceIsNamedAndAuditedAsItsRowSays) {
  auth::AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "xapi-handler-test-key-0123456789abcdef";
  auth::Authorizer authorizer(ao);
  absl::StatusOr<Credentials> creds = Credentials::Parse("feed:feed-secret role=loader subject=svc-feed\n");
  ASSERT_TRUE(creds.ok()) << creds.status();
  Credentials feed = *std::move(creds);
  XapiHandler handler(store_.get(), docs_.get(), &feed, "/xapi", "2.0.0", &authorizer);
  auto call = [&](const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> params,
                  const std::string& password = "feed-secret") {
    HttpRequest r = Request(method, path);
    r.headers["authorization"] = Basic("feed:" + password);
    for (auto& [k, v] : params) r.params.emplace(k, v);
    if (method == "PUT") {
      r.headers["content-type"] = "application/json";
      r.body = R"({"step":1})";
    }
    return handler.Handle(r).status;
  };
  const std::string agent = R"({"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}})";
  EXPECT_EQ(call("GET", "/about", {}), 200);
  EXPECT_EQ(call("GET", "/activities", {{"activityId", "http://a/1"}}), 200);
  EXPECT_EQ(call("GET", "/activities/profile", {{"activityId", "http://a/1"}}), 200);
  EXPECT_EQ(call("GET", "/statements", {{"statementId", TestUuid(9)}}, "wrong"), 401);
  EXPECT_EQ(call("PUT", "/activities/state", {{"activityId", "http://a/1"}, {"agent", agent}, {"stateId", "s1"}}), 204);
  EXPECT_EQ(call("GET", "/statements", {{"statementId", TestUuid(9)}}), 404);
  EXPECT_EQ(call("HEAD", "/agents", {{"agent", agent}}), 200);
  EXPECT_EQ(call("GET", "/nothing", {}), 403) << "no row in the role table: refused before the 404";

  absl::StatusOr<records::AuditPage> page = store_->ListAudit({.page_size = 100});
  ASSERT_TRUE(page.ok()) << page.status();
  std::map<std::string, records::AuditEvent> rows;
  for (const records::AuditEvent& e : page->events) {
    EXPECT_EQ(e.subject, "svc-feed");
    EXPECT_EQ(e.role, "loader");
    EXPECT_TRUE(rows.emplace(e.operation, e).second) << "two rows for " << e.operation;
  }
  EXPECT_EQ(rows.size(), 4u);
  ASSERT_TRUE(rows.count("xapi:* /activities/state"));
  EXPECT_EQ(rows["xapi:* /activities/state"].outcome, "HTTP 204");
  EXPECT_EQ(rows["xapi:* /activities/state"].learner, "u1") << "the learner named by the agent parameter";
  ASSERT_TRUE(rows.count("xapi:GET /statements"));
  EXPECT_EQ(rows["xapi:GET /statements"].outcome, "HTTP 404");
  EXPECT_FALSE(rows["xapi:GET /statements"].detail.empty()) << "failures keep their message";
  ASSERT_TRUE(rows.count("xapi:GET /agents")) << "HEAD is named as GET";
  EXPECT_EQ(rows["xapi:GET /agents"].outcome, "HTTP 200");
  ASSERT_TRUE(rows.count("xapi:GET /nothing"));
  EXPECT_EQ(rows["xapi:GET /nothing"].outcome, "HTTP 403");
}

// A present but empty stateId / profileId was taken as absent: a DELETE
// with `stateId=` or `profileId=` deleted every document in scope and
// ignored its If-Match. It is a 400 naming the parameter for every method,
// and a DELETE of every State that carries a precondition header (which
// applies to one document) is a 400 naming the header.
TEST_F(XapiHandlerTest, AnEmptyDocumentIdIsA400AndDeletesNothing) {
  const std::string agent = R"({"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}})";
  struct Resource {
    std::string path;
    std::string id_param;
    std::vector<std::pair<std::string, std::string>> scope;
  };
  const std::vector<Resource> resources = {
      {"/activities/state", "stateId", {{"activityId", "http://a/1"}, {"agent", agent}}},
      {"/activities/profile", "profileId", {{"activityId", "http://a/1"}}},
      {"/agents/profile", "profileId", {{"agent", agent}}},
  };
  auto request = [](const std::string& method, const Resource& res, std::optional<std::string> id) {
    HttpRequest r = Request(method, res.path);
    for (const auto& [k, v] : res.scope) r.params.emplace(k, v);
    if (id) r.params.emplace(res.id_param, *id);
    if (method == "PUT" || method == "POST") {
      r.headers["content-type"] = "application/json";
      r.body = R"({"x":1})";
    }
    return r;
  };
  auto ids = [&](const Resource& res) {
    HttpResponse list = handler_->Handle(request("GET", res, std::nullopt));
    EXPECT_EQ(list.status, 200) << res.path << ": " << list.body;
    return list.body;
  };
  for (const Resource& res : resources) {
    for (const char* id : {"d1", "d2"}) {
      HttpRequest put = request("PUT", res, id);
      put.headers["if-none-match"] = "*";
      HttpResponse r = handler_->Handle(put);
      ASSERT_EQ(r.status, 204) << res.path << ": " << r.body;
    }
    ASSERT_EQ(ids(res), R"(["d1","d2"])") << res.path;
    for (const char* method : {"GET", "HEAD", "PUT", "POST", "DELETE"}) {
      HttpResponse r = handler_->Handle(request(method, res, ""));
      EXPECT_EQ(r.status, 400) << res.path << " " << method;
      if (std::string(method) != "HEAD") {
        EXPECT_TRUE(absl::StrContains(r.body, res.id_param)) << res.path << " " << method << ": " << r.body;
      }
    }
    HttpRequest wrong = request("DELETE", res, "");
    wrong.headers["if-match"] = "\"0000\"";
    HttpResponse r = handler_->Handle(wrong);
    EXPECT_EQ(r.status, 400) << res.path << ": " << r.body;
    EXPECT_EQ(ids(res), R"(["d1","d2"])") << res.path << ": nothing was deleted";
    wrong.params.find(res.id_param)->second = "d1";
    EXPECT_EQ(handler_->Handle(wrong).status, 412) << res.path;
  }
  // A DELETE of every State in scope (no stateId) with a precondition header.
  const Resource& state = resources[0];
  for (const char* header : {"If-Match", "If-None-Match"}) {
    HttpRequest all = request("DELETE", state, std::nullopt);
    all.headers[absl::AsciiStrToLower(header)] = std::string(header) == "If-Match" ? "\"0000\"" : "*";
    HttpResponse r = handler_->Handle(all);
    EXPECT_EQ(r.status, 400) << header << ": " << r.body;
    EXPECT_TRUE(absl::StrContains(r.body, header)) << r.body;
  }
  EXPECT_EQ(ids(state), R"(["d1","d2"])");
  EXPECT_EQ(handler_->Handle(request("DELETE", state, std::nullopt)).status, 204);
  EXPECT_EQ(ids(state), "[]");
  EXPECT_EQ(ids(resources[2]), R"(["d1","d2"])") << "other resources are untouched";
}

// Runs `call(i)` for i in [0, threads) on threads released together;
// returns how many answers had each HTTP status.
std::map<int, int> CallTogether(int threads, const std::function<int(int)>& call) {
  absl::Mutex mu;
  int started = 0;
  absl::Notification go;
  std::vector<int> statuses(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      {
        absl::MutexLock lock(&mu);
        ++started;
      }
      if (WaitOrFail(go, "the threads' release")) statuses[i] = call(i);
    });
  }
  {
    absl::MutexLock lock(&mu);
    AwaitOrFail(
        &mu, [&] { return started == threads; }, "every thread to start");
  }
  go.Notify();
  for (std::thread& t : pool) t.join();
  std::map<int, int> counts;
  for (int status : statuses) ++counts[status];
  return counts;
}

// Invalid bearer tokens sent together from one address used to be verified
// together: the address's wait was read in one step and the failure
// recorded in another, so 32 tokens arriving at once all passed the check.
// Now no more are verified (401) than the failures the address has left
// before a wait (4 x free_failures, the budget wrong passwords share), and
// one at a time once a wait is due; the rest are refused unverified (429).
// Valid tokens sent together are all accepted and do not count as failures,
// and another address is not held off.
TEST_F(XapiHandlerTest, InvalidBearerTokensSentTogetherAreNotVerifiedTogether) {
  auth::AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "xapi-handler-test-key-0123456789abcdef";
  ao.token.now = [] {  // read while verifying: a slow verification
    absl::SleepFor(absl::Milliseconds(1));
    return absl::Now();
  };
  auth::Authorizer authorizer(ao);
  XapiHandler handler(store_.get(), docs_.get(), creds_.get(), "/xapi", "2.0.0", &authorizer);
  auth::Principal feed;
  feed.subject = "svc-feed";
  feed.role = auth::Role::kLoader;
  absl::StatusOr<std::string> token = auth::MintToken(feed, absl::Minutes(5), ao.token);
  ASSERT_TRUE(token.ok()) << token.status();
  auto call = [&](const std::string& authorization, const std::string& address) {
    HttpRequest r = Request("GET", "/statements");
    r.params.emplace("statementId", TestUuid(9));
    r.headers["authorization"] = authorization;
    r.headers["remote_addr"] = address;
    return handler.Handle(r).status;
  };
  auto invalid = [&](int i) { return call(absl::StrCat("Bearer not-a-token-", i), "10.0.0.7"); };
  for (int round = 0; round < 5; ++round) {
    // A slow clock (read under the backoff's lock) and a slow verification
    // widen the window between reading the wait and recording the failure;
    // the time is read, never written, while the threads run.
    absl::Time now = absl::FromUnixSeconds(1790000000);
    creds_->SetBackoff({.free_failures = 1, .now = [&] {
                          absl::SleepFor(absl::Milliseconds(1));
                          return now;
                        }});
    std::map<int, int> statuses = CallTogether(32, invalid);
    EXPECT_EQ(statuses[401], 4) << "round " << round << ": verified";
    EXPECT_EQ(statuses[429], 28) << "round " << round;
    EXPECT_EQ(call("Bearer " + *token, "10.0.0.8"), 404) << "another address is not held off";
    now += absl::Seconds(1);  // the wait is over: one more token
    statuses = CallTogether(32, invalid);
    EXPECT_EQ(statuses[401], 1) << "round " << round << ": verified";
    EXPECT_EQ(statuses[429], 31) << "round " << round;
    if (HasFailure()) break;
  }
  creds_->SetBackoff({.free_failures = 1});
  std::map<int, int> statuses = CallTogether(32, [&](int) { return call("Bearer " + *token, "10.0.0.7"); });
  EXPECT_EQ(statuses[404], 32) << "valid tokens sent together are all accepted";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(invalid(i), 401) << i << ": valid tokens counted as failures";
  EXPECT_EQ(invalid(4), 429);
}

TEST(RewriteAlternateSyntax, MovesHeaderFieldsContentAndParameters) {
  HttpRequest in;
  in.method = "POST";
  in.path = "/statements";
  in.params.emplace("method", "PUT");
  in.headers["content-type"] = "application/x-www-form-urlencoded";
  in.body = "statementId=abc&Authorization=Basic%20eA%3D%3D&content=%7B%7D&If-Match=%22e%22";
  absl::StatusOr<HttpRequest> out = RewriteAlternateSyntax(in);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->method, "PUT");
  EXPECT_EQ(out->path, "/statements");
  EXPECT_EQ(out->Param("statementId"), "abc");
  EXPECT_EQ(out->Header("authorization"), "Basic eA==");
  EXPECT_EQ(out->Header("if-match"), "\"e\"");
  EXPECT_EQ(out->body, "{}");
  EXPECT_EQ(out->Header("content-type"), "application/json");
}

}  // namespace
}  // namespace lifelong::xapi
