// XapiHandler::Handle on its own, without sockets: the request pipeline
// (alternate request syntax, about, authentication, the version header,
// routing) over a real RecordStore and DocumentStore under TEST_TMPDIR.
#include "services/xapi/xapi_handler.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "services/auth/authorizer.h"
#include "services/records/test_statements.h"

namespace lifelong::xapi {
namespace {

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
