// End-to-end tests of the recommendation server through real gRPC: the
// server under test on port 0, fake record and catalog services on port 0,
// and model versions trained and written with //models.
#include "services/recommend/recommend_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/auth/token.h"
#include "services/common/grpc_tls.h"
#include "services/common/tls_testing.h"
#include "services/domain/vocabulary.h"
#include "services/recommend/recommend_service.h"
#include "services/recommend/request_validation.h"
#include "services/recommend/test_support.h"

namespace lifelong::recommend {
namespace {

using ::testing::Contains;
using testing::FakeCatalog;
using testing::FakeRecords;
using ::testing::HasSubstr;
using ::testing::Not;

class RecommendServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = absl::Now();
    for (const v1::Course& c : testing::TestCatalog(now_)) catalog_.Put(c);
    records_server_ = testing::StartFake(&records_);
    catalog_server_ = testing::StartFake(&catalog_);
    model_dir_ = testing::NewTempDir("models");
  }

  RecommendServerOptions Options() {
    RecommendServerOptions o;
    o.model_dir = model_dir_;
    o.records_target = absl::StrCat("127.0.0.1:", records_server_->port());
    o.catalog_target = absl::StrCat("127.0.0.1:", catalog_server_->port());
    o.model_poll = absl::Hours(1);  // tests poll explicitly
    o.catalog_refresh = absl::Milliseconds(100);
    o.records_deadline = absl::Milliseconds(300);
    return o;
  }

  void StartServer(RecommendServerOptions o) {
    auto s = RecommendServer::Start(std::move(o));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    stub_ = v1::RecommendationService::NewStub(channel_);
  }

  // Starts with one model version and waits until it serves.
  void StartWithModel() {
    ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
    StartServer(Options());
    WaitForVersion(1);
    WaitForCatalog();
  }

  // Until a Recommend is no longer UNAVAILABLE: the catalog's first load
  // (its own thread) may come after the model on a busy machine.
  void WaitForCatalog() {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      v1::RecommendResponse out;
      if (Recommend(Request("u_catalog_probe", 1), &out).error_code() != grpc::StatusCode::UNAVAILABLE) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
    FAIL() << "the catalog never loaded";
  }

  void WaitForVersion(int64_t version) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      if (Status().version() == version) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
    FAIL() << "version " << version << " never served";
  }

  v1::ModelStatus Status() {
    grpc::ClientContext ctx;
    v1::ModelStatus st;
    EXPECT_TRUE(stub_->GetModelStatus(&ctx, v1::GetModelStatusRequest(), &st).ok());
    return st;
  }

  grpc::Status Recommend(const v1::RecommendRequest& r, v1::RecommendResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->Recommend(&ctx, r, out);
  }

  v1::RecommendResponse MustRecommend(const v1::RecommendRequest& r) {
    v1::RecommendResponse out;
    grpc::Status s = Recommend(r, &out);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return out;
  }

  static v1::RecommendRequest Request(const std::string& learner, int k) {
    v1::RecommendRequest r;
    r.set_learner(learner);
    r.set_k(k);
    return r;
  }

  static std::vector<std::string> Ids(const v1::RecommendResponse& r) {
    std::vector<std::string> ids;
    for (const auto& x : r.recommendations()) ids.push_back(x.course().course_id());
    return ids;
  }

  static const v1::Recommendation* Find(const v1::RecommendResponse& r, const std::string& id) {
    for (const auto& x : r.recommendations()) {
      if (x.course().course_id() == id) return &x;
    }
    return nullptr;
  }

  // Swaps versions 2..5 in under 6 client threads (version 1 written and
  // the server started by the caller) and checks that no request failed or
  // came back short. `batched`: the server searches through the batcher,
  // else with the exact scan on the request thread.
  void SwapUnderLoad(bool batched);

  // Authentication on, with at most `max_in_flight` calls per principal:
  // sets authorizer_ and returns the options (their signing key mints tokens).
  auth::AuthOptions LimitAuth(int max_in_flight) {
    auth::AuthOptions ao;
    ao.enabled = true;
    ao.token.key = "recommend-server-test-key-0123456789abcd";
    ao.limits.max_in_flight = max_in_flight;
    authorizer_ = std::make_unique<auth::Authorizer>(ao);
    return ao;
  }

  // A learner token for `subject`, signed with `ao`'s key.
  static std::string LearnerToken(const auth::AuthOptions& ao, const std::string& subject) {
    auth::Principal learner;
    learner.role = auth::Role::kLearner;
    learner.subject = subject;
    absl::StatusOr<std::string> token = auth::MintToken(learner, absl::Minutes(5), ao.token);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : std::string();
  }

  // Writes the test model, starts `o` and waits until it serves a model and
  // has read the catalog (without calls: `o` may require credentials).
  void StartReady(RecommendServerOptions o) {
    ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
    StartServer(std::move(o));
    const absl::Time until = absl::Now() + absl::Seconds(60);
    while ((server_->models().Current() == nullptr || !server_->catalog().Current().ok()) && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_NE(server_->models().Current(), nullptr);
  }

  absl::Time now_;
  FakeRecords records_;
  FakeCatalog catalog_;
  std::unique_ptr<RunningGrpcServer> records_server_;
  std::unique_ptr<RunningGrpcServer> catalog_server_;
  std::string model_dir_;
  std::unique_ptr<auth::Authorizer> authorizer_;  // outlives server_ (when a test turns auth on)
  std::unique_ptr<RecommendServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RecommendationService::Stub> stub_;
};

// A unary call with raw request bytes through a generic stub: the status,
// and the answer's bytes in *answer.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& request, std::string* answer) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(request);
  grpc::ByteBuffer buffer(&slice, 1);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&ctx, method, buffer, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  answer->clear();
  std::vector<grpc::Slice> slices;
  if (status.ok() && response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) answer->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

// grpc.health.v1.Health/Check through a generic stub (no generated health
// stubs on this system). Returns the ServingStatus number (1 SERVING,
// 2 NOT_SERVING), or -1 when the call fails.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);  // field 1, length-delimited
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  std::string bytes;
  if (!RawCall(channel, "/grpc.health.v1.Health/Check", request, &bytes).ok()) return -1;
  return bytes.size() >= 2 && bytes[0] == 0x08 ? bytes[1] : 0;
}

TEST_F(RecommendServerTest, UnavailableUntilModelLoadedThenServes) {
  StartServer(Options());
  v1::RecommendResponse out;
  grpc::Status s = Recommend(Request("u1", 5), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("no model loaded"));
  EXPECT_EQ(Status().version(), 0);
  EXPECT_EQ(HealthStatus(channel_, ""), 2);  // NOT_SERVING
  EXPECT_EQ(HealthStatus(channel_, "lifelong.v1.RecommendationService"), 2);
  // Not ready either (GET /ready, what HAProxy asks), and it says why.
  EXPECT_EQ(server_->Readiness().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(server_->Readiness().message()), HasSubstr("no model loaded"));

  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  ASSERT_TRUE(server_->models().PollOnce().ok());
  EXPECT_EQ(HealthStatus(channel_, ""), 1);  // SERVING
  EXPECT_EQ(HealthStatus(channel_, "lifelong.v1.RecommendationService"), 1);
  EXPECT_TRUE(server_->Readiness().ok()) << server_->Readiness();
  v1::ModelStatus st = Status();
  EXPECT_EQ(st.version(), 1);
  EXPECT_GT(st.item_count(), 10);
  EXPECT_EQ(st.index_kind(), "flat");
  EXPECT_TRUE(st.has_loaded_at());
  EXPECT_TRUE(Recommend(Request("u1", 5), &out).ok());
  // A stopping server leaves the rotation before it stops answering: once
  // drained it is not ready and NOT_SERVING, and calls are still answered.
  server_->Drain(absl::ZeroDuration());
  EXPECT_THAT(std::string(server_->Readiness().message()), HasSubstr("shutting down"));
  EXPECT_EQ(HealthStatus(channel_, ""), 2);
  EXPECT_EQ(HealthStatus(channel_, "lifelong.v1.RecommendationService"), 2);
  EXPECT_TRUE(Recommend(Request("u1", 5), &out).ok());
  server_->Shutdown();
  EXPECT_THAT(std::string(server_->Readiness().message()), HasSubstr("shutting down"));
}

// Recommend reads its request's bytes itself and writes its answer's
// (course summaries serialized once per catalog snapshot): bytes that are
// not a RecommendRequest are the caller's error, the answer parses to what
// the typed client gets, and a request never leaks into the next one that
// the same thread parses.
TEST_F(RecommendServerTest, RecommendsRawBytesAreCheckedAndAnswerAsTheTypedCall) {
  StartServer(Options());
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  ASSERT_TRUE(server_->models().PollOnce().ok());
  const std::string method = "/lifelong.v1.RecommendationService/Recommend";
  std::string answer;
  for (const std::string& garbage : {std::string("\xff\xff\xff"), std::string("\x0a\x10u1"),
                                     std::string("\x0a\x02u1\x10"), std::string("\x07", 1), std::string(1, '\0')}) {
    grpc::Status s = RawCall(channel_, method, garbage, &answer);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("RecommendRequest"));
  }
  // Far past what validation accepts (a message of its own, not the
  // thread's reused one, under the 64 KiB the method takes): the field is named.
  grpc::Status s = RawCall(channel_, method, Request(std::string(32 * 1024, 'x'), 5).SerializeAsString(), &answer);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("learner"));

  // A kiosk request with interests, then plain ones: each answer is what a
  // fresh typed call for the same request gets, byte for byte.
  v1::RecommendRequest kiosk = Request("", 4);
  kiosk.mutable_context()->set_channel(v1::RecommendContext::CHANNEL_KIOSK);
  kiosk.mutable_context()->set_kiosk_venue_id("v_hpl");
  kiosk.mutable_context()->add_interests("书法");
  for (const v1::RecommendRequest& r : {kiosk, Request("u1", 5), Request("", 3), kiosk, Request("u1", 100)}) {
    SCOPED_TRACE(r.ShortDebugString());
    ASSERT_TRUE(RawCall(channel_, method, r.SerializeAsString(), &answer).ok());
    const v1::RecommendResponse typed = MustRecommend(r);
    EXPECT_EQ(answer, typed.SerializeAsString());
    v1::RecommendResponse parsed;
    ASSERT_TRUE(parsed.ParseFromString(answer));
    EXPECT_EQ(parsed.recommendations_size(), typed.recommendations_size());
    EXPECT_GT(parsed.recommendations_size(), 0);
  }
}

TEST_F(RecommendServerTest, ColdStartNearKioskIsPopularNearby) {
  StartWithModel();
  v1::RecommendRequest r = Request("u_nobody", 5);
  r.mutable_context()->set_channel(v1::RecommendContext::CHANNEL_KIOSK);
  r.mutable_context()->set_kiosk_venue_id("v_js");
  v1::RecommendResponse out = MustRecommend(r);
  EXPECT_TRUE(out.cold_start());
  ASSERT_EQ(out.recommendations_size(), 5);
  // 太极拳入门 is the most popular course and sits at the kiosk's venue.
  EXPECT_EQ(out.recommendations(0).course().course_id(), "c_tj1");
  EXPECT_EQ(out.recommendations(0).reason(), "景山社区热门");
  EXPECT_EQ(out.recommendations(0).reason_kind(), v1::Recommendation::REASON_POPULAR_NEARBY);
  EXPECT_NEAR(out.recommendations(0).distance_km(), 0.0, 1e-6);
  EXPECT_EQ(out.model_version(), "1");
}

TEST_F(RecommendServerTest, ColdStartFollowsStatedInterests) {
  StartWithModel();
  v1::RecommendRequest r = Request("", 3);
  r.mutable_context()->set_channel(v1::RecommendContext::CHANNEL_APP);
  r.mutable_context()->add_interests("书法");
  r.mutable_context()->set_age_group(v1::Course::SENIORS);
  v1::RecommendResponse out = MustRecommend(r);
  EXPECT_TRUE(out.cold_start());
  ASSERT_GE(out.recommendations_size(), 1);
  EXPECT_EQ(out.recommendations(0).course().category(), "书法");
  EXPECT_EQ(out.recommendations(0).reason(), "与你的兴趣「书法」相关");
  EXPECT_EQ(out.recommendations(0).reason_kind(), v1::Recommendation::REASON_MATCHES_INTEREST);
}

TEST_F(RecommendServerTest, WarmLearnerGetsReasonAndExclusions) {
  StartWithModel();
  records_.Add("u1", vocab::kRegistered, "c_sf1", now_ - absl::Hours(100));
  records_.Add("u1", vocab::kCompleted, "c_sf1", now_ - absl::Hours(10));
  records_.Add("u1", vocab::kRegistered, "c_gh1", now_ - absl::Hours(5));
  v1::RecommendResponse out = MustRecommend(Request("u1", 100));
  EXPECT_FALSE(out.cold_start());
  const std::vector<std::string> ids = Ids(out);
  EXPECT_THAT(ids, Not(Contains("c_sf1")));     // completed
  EXPECT_THAT(ids, Not(Contains("c_sf1b")));    // another section of a completed series
  EXPECT_THAT(ids, Not(Contains("c_gh1")));     // enrolled
  EXPECT_THAT(ids, Not(Contains("c_closed")));  // CLOSED
  EXPECT_THAT(ids, Not(Contains("c_draft")));   // DRAFT
  EXPECT_THAT(ids, Not(Contains("c_full")));    // no seats left
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "c_sf2");  // what 书法入门 learners take next
  EXPECT_EQ(out.recommendations(0).reason(), "因为你完成了 书法入门");
  EXPECT_EQ(out.recommendations(0).reason_kind(), v1::Recommendation::REASON_BECAUSE_YOU_COMPLETED);
  for (int i = 1; i < out.recommendations_size(); ++i) {
    EXPECT_LE(out.recommendations(i).score(), out.recommendations(i - 1).score());
  }
}

TEST_F(RecommendServerTest, NewStatementChangesNextAnswer) {
  StartWithModel();
  v1::RecommendResponse before = MustRecommend(Request("u2", 3));
  EXPECT_TRUE(before.cold_start());
  EXPECT_THAT(Ids(before), Contains("c_tj1"));

  records_.Add("u2", vocab::kCompleted, "c_tj1", now_);
  v1::RecommendResponse after = MustRecommend(Request("u2", 3));
  EXPECT_FALSE(after.cold_start());
  EXPECT_THAT(Ids(after), Not(Contains("c_tj1")));
  ASSERT_GE(after.recommendations_size(), 1);
  EXPECT_EQ(after.recommendations(0).course().course_id(), "c_tj2");
  EXPECT_EQ(after.recommendations(0).reason(), "因为你完成了 太极拳入门");
}

// A walk-in check-in at a venue (`attended`, no registration) puts the course
// in progress: the next answer no longer offers it.
TEST_F(RecommendServerTest, AnAttendedCourseIsNotOfferedAgain) {
  StartWithModel();
  EXPECT_THAT(Ids(MustRecommend(Request("u30", 3))), Contains("c_tj1"));
  records_.Add("u30", vocab::kAttended, "c_tj1", now_);
  v1::RecommendResponse after = MustRecommend(Request("u30", 10));
  EXPECT_FALSE(after.cold_start());
  EXPECT_THAT(Ids(after), Not(Contains("c_tj1")));
}

// Learner histories are cached, and the cache is exact: the record
// service's change feed (here the fake's, the same LearnerChangeFeed) tells
// the recommender of a change before the write is answered, so a
// registration recorded now excludes its course from the very next answer.
TEST_F(RecommendServerTest, HistoriesAreCachedAndAChangeReachesTheVeryNextAnswer) {
  StartWithModel();
  ASSERT_NE(server_->history_cache(), nullptr);
  ASSERT_TRUE(server_->history_cache()->WaitLive(absl::Seconds(10)));
  records_.Add("u7", vocab::kCompleted, "c_sf1", now_ - absl::Hours(3));
  const int64_t calls_before = records_.calls();
  v1::RecommendResponse first;
  for (int i = 0; i < 5; ++i) first = MustRecommend(Request("u7", 10));
  EXPECT_EQ(records_.calls() - calls_before, 1);  // read once, then cached
  MustRecommend(Request("", 10));                 // anonymous: reads nothing
  EXPECT_EQ(records_.calls() - calls_before, 1);
  EXPECT_EQ(server_->history_cache()->stats().hits, 4);

  ASSERT_THAT(Ids(first), Contains("c_sf2"));
  records_.Add("u7", vocab::kRegistered, "c_sf2", now_);  // returns once the recommender acknowledged
  v1::RecommendResponse after = MustRecommend(Request("u7", 10));
  EXPECT_EQ(records_.calls() - calls_before, 2);
  EXPECT_THAT(Ids(after), Not(Contains("c_sf2")));  // enrolled now
  EXPECT_THAT(Ids(after), Not(Contains("c_sf1")));
  EXPECT_GE(server_->history_cache()->stats().invalidations, 1);

  // Another learner's change leaves u7's entry alone.
  records_.Add("u8", vocab::kCompleted, "c_sf1", now_);
  MustRecommend(Request("u7", 10));
  EXPECT_EQ(records_.calls() - calls_before, 2);
}

// Concurrent requests of two learners, interleaved: each answer is built
// from its own learner's history (never the other's, whichever request read
// it or waited for another's read), and each learner's history is read once.
TEST_F(RecommendServerTest, ConcurrentRequestsShareOneReadPerLearnerAndNeverCrossLearners) {
  StartWithModel();
  ASSERT_TRUE(server_->history_cache()->WaitLive(absl::Seconds(10)));
  records_.Add("u1", vocab::kCompleted, "c_sf1", now_ - absl::Hours(10));
  records_.Add("u2", vocab::kCompleted, "c_tj1", now_ - absl::Hours(10));
  const int64_t calls_before = records_.calls();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 10; ++i) {
        const bool first = (t + i) % 2 == 0;
        v1::RecommendResponse out = MustRecommend(Request(first ? "u1" : "u2", 10));
        const std::vector<std::string> ids = Ids(out);
        ASSERT_FALSE(ids.empty());
        EXPECT_EQ(ids[0], first ? "c_sf2" : "c_tj2");
        EXPECT_EQ(out.recommendations(0).reason(), first ? "因为你完成了 书法入门" : "因为你完成了 太极拳入门");
        EXPECT_THAT(ids, Not(Contains(first ? "c_sf1" : "c_tj1")));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  // One read per learner: the first requests of a learner that arrive while
  // its read is in flight wait for it (history_cache.h).
  EXPECT_EQ(records_.calls() - calls_before, 2);
}

// Without a live feed the cache is not used: when the stream ends (here the
// feed closes, as when the record service shuts down) every learner request
// reads the history again, as it does with the cache turned off.
TEST_F(RecommendServerTest, WithoutALiveFeedEveryLearnerRequestReadsTheHistory) {
  StartWithModel();
  ASSERT_TRUE(server_->history_cache()->WaitLive(absl::Seconds(10)));
  records_.Add("u7", vocab::kCompleted, "c_sf1", now_ - absl::Hours(3));
  MustRecommend(Request("u7", 10));
  records_.change_feed().Close();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (server_->history_cache()->stats().live && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_FALSE(server_->history_cache()->stats().live);
  EXPECT_EQ(server_->history_cache()->stats().learners, 0u);
  const int64_t calls_before = records_.calls();
  for (int i = 0; i < 3; ++i) MustRecommend(Request("u7", 10));
  EXPECT_EQ(records_.calls() - calls_before, 3);
}

TEST_F(RecommendServerTest, WithTheCacheOffEveryLearnerRequestReadsTheHistory) {
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  RecommendServerOptions o = Options();
  o.history_cache_learners = 0;
  StartServer(o);
  WaitForVersion(1);
  EXPECT_EQ(server_->history_cache(), nullptr);
  records_.Add("u7", vocab::kCompleted, "c_sf1", now_ - absl::Hours(3));
  const int64_t calls_before = records_.calls();
  for (int i = 0; i < 3; ++i) MustRecommend(Request("u7", 10));
  EXPECT_EQ(records_.calls() - calls_before, 3);
}

// The exact scan on the request thread (small models, the default) and the
// batched FAISS search answer the same.
TEST_F(RecommendServerTest, ExactScanAnswersLikeTheBatchedIndexSearch) {
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  StartServer(Options());
  WaitForVersion(1);
  RecommendServerOptions batched_options = Options();
  batched_options.recommender.exact_scan_max_floats = 0;
  auto batched = RecommendServer::Start(batched_options);
  ASSERT_TRUE(batched.ok()) << batched.status();
  auto batched_stub = v1::RecommendationService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*batched)->port()), grpc::InsecureChannelCredentials()));
  while ((*batched)->models().Current() == nullptr || !(*batched)->catalog().Current().ok()) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  records_.Add("u8", vocab::kCompleted, "c_sf1", now_ - absl::Hours(5));
  records_.Add("u8", vocab::kAttended, "c_tj1", now_ - absl::Hours(4));
  records_.Add("u9", vocab::kCompleted, "c_py1", now_ - absl::Hours(2));
  records_.Add("u9", vocab::kRegistered, "c_ey1", now_ - absl::Hours(1));
  records_.Add("u10", vocab::kCompleted, "c_gh1", now_ - absl::Hours(1));
  for (const std::string learner : {"u8", "u9", "u10"}) {
    for (int k : {3, 10}) {
      v1::RecommendResponse exact = MustRecommend(Request(learner, k));
      grpc::ClientContext ctx;
      v1::RecommendResponse other;
      ASSERT_TRUE(batched_stub->Recommend(&ctx, Request(learner, k), &other).ok());
      EXPECT_FALSE(exact.cold_start());
      ASSERT_EQ(Ids(exact), Ids(other)) << learner << " k " << k;
      for (int i = 0; i < exact.recommendations_size(); ++i) {
        EXPECT_EQ(exact.recommendations(i).reason(), other.recommendations(i).reason());
        EXPECT_NEAR(exact.recommendations(i).score(), other.recommendations(i).score(), 1e-5);
      }
    }
  }
  EXPECT_EQ(server_->batcher().stats().queries, 0);
  EXPECT_EQ(server_->batcher().stats().direct, 0);
  EXPECT_GT((*batched)->batcher().stats().queries, 0);
  (*batched)->Shutdown();
}

TEST_F(RecommendServerTest, NewCatalogCourseReachesLearnersThroughContent) {
  StartWithModel();
  records_.Add("u3", vocab::kCompleted, "c_sf1", now_ - absl::Hours(3));
  records_.Add("u3", vocab::kCompleted, "c_sf2", now_ - absl::Hours(2));
  v1::RecommendResponse out = MustRecommend(Request("u3", 20));
  const v1::Recommendation* fresh = Find(out, "c_new");
  ASSERT_NE(fresh, nullptr) << "c_new not recommended";
  EXPECT_EQ(fresh->reason_kind(), v1::Recommendation::REASON_NEW_COURSE);
  EXPECT_THAT(fresh->reason(), HasSubstr("新开课程"));
}

TEST_F(RecommendServerTest, FiltersAreHonoured) {
  StartWithModel();
  records_.Add("u4", vocab::kCompleted, "c_py1", now_);

  v1::RecommendRequest r = Request("u4", 100);
  r.mutable_filter()->add_modes(v1::Course::ONLINE);
  v1::RecommendResponse out = MustRecommend(r);
  ASSERT_GE(out.recommendations_size(), 1);
  for (const auto& x : out.recommendations()) EXPECT_EQ(x.course().mode(), v1::Course::ONLINE);

  r = Request("u4", 100);
  r.mutable_filter()->add_categories("绘画");
  out = MustRecommend(r);
  EXPECT_THAT(Ids(out), ::testing::UnorderedElementsAre("c_gh1", "c_gh2"));

  r = Request("u4", 100);
  r.mutable_filter()->add_venue_ids("v_js");
  out = MustRecommend(r);
  for (const auto& x : out.recommendations()) EXPECT_EQ(x.course().venue_id(), "v_js");
  EXPECT_THAT(Ids(out), Contains("c_tj1"));

  r = Request("u4", 100);
  r.mutable_filter()->add_xuequ("东直门学区");
  out = MustRecommend(r);
  ASSERT_GE(out.recommendations_size(), 1);
  for (const auto& x : out.recommendations()) EXPECT_EQ(x.course().xuequ(), "东直门学区");

  // Within 1 km of 和平里 only v_hpl courses qualify.
  r = Request("u4", 100);
  r.mutable_filter()->mutable_near()->set_lat(39.9580);
  r.mutable_filter()->mutable_near()->set_lng(116.4170);
  r.mutable_filter()->set_within_km(1);
  out = MustRecommend(r);
  ASSERT_GE(out.recommendations_size(), 1);
  for (const auto& x : out.recommendations()) EXPECT_EQ(x.course().venue_id(), "v_hpl");

  r = Request("u4", 100);
  r.mutable_filter()->add_audiences(v1::Course::ADULTS);
  out = MustRecommend(r);
  ASSERT_GE(out.recommendations_size(), 1);
  for (const auto& x : out.recommendations()) {
    EXPECT_THAT(x.course().audiences(), Contains(v1::Course::ADULTS));
  }

  // c_later's enrolment opens in two days.
  r = Request("u4", 100);
  out = MustRecommend(r);
  EXPECT_THAT(Ids(out), Contains("c_later"));
  r.mutable_filter()->set_open_for_enrolment_now(true);
  out = MustRecommend(r);
  EXPECT_THAT(Ids(out), Not(Contains("c_later")));

  // Every session starts at now+72h.
  r = Request("u4", 100);
  r.mutable_filter()->mutable_session_from()->set_seconds(absl::ToUnixSeconds(now_ + absl::Hours(80)));
  out = MustRecommend(r);
  EXPECT_EQ(out.recommendations_size(), 0);
  r.mutable_filter()->mutable_session_from()->set_seconds(absl::ToUnixSeconds(now_ + absl::Hours(70)));
  r.mutable_filter()->mutable_session_to()->set_seconds(absl::ToUnixSeconds(now_ + absl::Hours(73)));
  out = MustRecommend(r);
  EXPECT_GE(out.recommendations_size(), 5);
}

TEST_F(RecommendServerTest, DiversityLimitsOneSeries) {
  StartWithModel();
  // Ten sections of one series, all popular-looking new courses.
  for (int i = 1; i <= 10; ++i) {
    v1::Course c = testing::TestCatalog(now_)[0];
    c.set_id(absl::StrCat("c_sec", i));
    c.set_title(absl::StrCat("葫芦丝（第", i, "期）"));
    c.set_category("器乐");
    catalog_.Put(c);
  }
  v1::RecommendRequest r = Request("", 10);
  r.mutable_filter()->add_categories("器乐");
  v1::RecommendResponse out;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {  // until the catalog refresh (every 100 ms) brought them in
    absl::SleepFor(absl::Milliseconds(50));
    out = MustRecommend(r);
  } while (out.recommendations_size() == 0 && absl::Now() < deadline);
  EXPECT_EQ(out.recommendations_size(), 2);  // at most two of one series
}

TEST_F(RecommendServerTest, NextLevelOfACompletedCourseIsRecommended) {
  StartWithModel();
  // A brand-new next level (the model has never seen it) of Python 编程入门.
  v1::Course next = testing::TestCatalog(now_)[0];
  next.set_id("c_py_next");
  next.set_title("数据分析进阶");
  next.set_category("职业技能");
  next.clear_prerequisite_ids();
  next.add_prerequisite_ids("c_py1");
  catalog_.Put(next);
  records_.Add("u9", vocab::kCompleted, "c_py1", now_);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  const v1::Recommendation* found = nullptr;
  v1::RecommendResponse out;
  do {  // until the catalog refresh saw the new course
    out = MustRecommend(Request("u9", 5));
    found = Find(out, "c_py_next");
    if (found == nullptr) absl::SleepFor(absl::Milliseconds(50));
  } while (found == nullptr && absl::Now() < deadline);
  ASSERT_NE(found, nullptr) << "the next level was not recommended";
  EXPECT_EQ(found->reason(), "因为你完成了 Python 编程入门");
  // Not for a learner who has not completed the prerequisite.
  EXPECT_EQ(Find(MustRecommend(Request("u10", 5)), "c_py_next"), nullptr);
}

TEST_F(RecommendServerTest, NotReadyCourseComesLastAndSaysWhatComesFirst) {
  StartWithModel();
  // 硬笔书法 now needs 书法进阶; a learner who passed 书法入门 and failed
  // nothing gets 书法进阶 before it.
  v1::Course sf3 = testing::TestCatalog(now_)[3];
  ASSERT_EQ(sf3.id(), "c_sf3");
  sf3.add_prerequisite_ids("c_sf2");
  catalog_.Put(sf3);
  records_.Add("u11", vocab::kPassed, "c_sf1", now_);
  v1::RecommendRequest r = Request("u11", 10);
  r.mutable_filter()->add_categories("书法");
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  v1::RecommendResponse out;
  const v1::Recommendation* found = nullptr;
  do {  // until the catalog refresh saw the prerequisite
    out = MustRecommend(r);
    found = Find(out, "c_sf3");
    if (found == nullptr || found->missing_prerequisite_ids_size() == 0) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  } while ((found == nullptr || found->missing_prerequisite_ids_size() == 0) && absl::Now() < deadline);
  ASSERT_NE(found, nullptr);
  ASSERT_EQ(found->missing_prerequisite_ids_size(), 1);
  EXPECT_EQ(found->missing_prerequisite_ids(0), "c_sf2");
  EXPECT_EQ(found->reason(), "先修：书法进阶");
  EXPECT_EQ(found->reason_kind(), v1::Recommendation::REASON_PREREQUISITES_FIRST);
  EXPECT_EQ(out.recommendations(out.recommendations_size() - 1).course().course_id(), "c_sf3");
  for (const auto& rec : out.recommendations()) {
    if (rec.course().course_id() != "c_sf3") {
      EXPECT_EQ(rec.missing_prerequisite_ids_size(), 0);
    }
  }

  // After a failure of 书法进阶 the same course is offered again first.
  records_.Add("u12", vocab::kPassed, "c_sf1", now_ - absl::Hours(2));
  records_.Add("u12", vocab::kRegistered, "c_sf2", now_ - absl::Hours(1));
  records_.Add("u12", vocab::kFailed, "c_sf2", now_);
  v1::RecommendResponse retry = MustRecommend(Request("u12", 5));
  ASSERT_GT(retry.recommendations_size(), 0);
  EXPECT_EQ(retry.recommendations(0).course().course_id(), "c_sf2");
  EXPECT_EQ(retry.recommendations(0).reason(), "未通过 书法进阶，可再学一次");
  EXPECT_EQ(retry.recommendations(0).reason_kind(), v1::Recommendation::REASON_RETRY);
}

TEST_F(RecommendServerTest, PlanPathPlansPrerequisitesFirstAndReplansAfterEachRecord) {
  StartWithModel();
  // 书法进阶 after 书法入门, meeting a week after it (every test course meets
  // once at now+3d).
  v1::Course sf2 = testing::TestCatalog(now_)[2];
  ASSERT_EQ(sf2.id(), "c_sf2");
  sf2.add_prerequisite_ids("c_sf1");
  sf2.clear_sessions();
  v1::Session* s = sf2.add_sessions();
  s->mutable_start_time()->set_seconds(absl::ToUnixSeconds(now_ + absl::Hours(24 * 10)));
  s->mutable_end_time()->set_seconds(absl::ToUnixSeconds(now_ + absl::Hours(24 * 10 + 2)));
  sf2.mutable_enrollment_close_time()->set_seconds(absl::ToUnixSeconds(now_ + absl::Hours(24 * 20)));
  catalog_.Put(sf2);
  auto plan = [&](const v1::PlanPathRequest& r, v1::PlanPathResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->PlanPath(&ctx, r, out);
  };
  auto ids = [](const v1::PlanPathResponse& r) {
    std::vector<std::string> out;
    for (const auto& step : r.steps()) out.push_back(step.course().course_id());
    return out;
  };
  v1::PlanPathRequest r;
  r.set_learner("u20");
  r.set_course_id("c_sf2");
  v1::PlanPathResponse out;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {  // until the catalog refresh saw the prerequisite
    out.Clear();
    ASSERT_TRUE(plan(r, &out).ok());
    if (out.steps_size() < 2) absl::SleepFor(absl::Milliseconds(50));
  } while (out.steps_size() < 2 && absl::Now() < deadline);
  EXPECT_TRUE(out.feasible()) << out.reason();
  EXPECT_THAT(ids(out), ::testing::ElementsAre("c_sf1", "c_sf2"));
  EXPECT_EQ(out.goal_name(), "书法进阶");
  EXPECT_EQ(out.steps(0).why(), "prerequisite of 书法进阶");
  EXPECT_EQ(out.steps(0).sessions_size(), 1);
  EXPECT_EQ(out.model_version(), "1");

  records_.Add("u20", vocab::kPassed, "c_sf1", now_);
  out.Clear();
  ASSERT_TRUE(plan(r, &out).ok());
  EXPECT_THAT(ids(out), ::testing::ElementsAre("c_sf2"));
  records_.Add("u20", vocab::kRegistered, "c_sf2", now_ + absl::Seconds(1));
  out.Clear();
  ASSERT_TRUE(plan(r, &out).ok());
  ASSERT_THAT(ids(out), ::testing::ElementsAre("c_sf2"));
  EXPECT_TRUE(out.steps(0).in_progress());
  records_.Add("u20", vocab::kFailed, "c_sf2", now_ + absl::Seconds(2));
  out.Clear();
  ASSERT_TRUE(plan(r, &out).ok());
  ASSERT_THAT(ids(out), ::testing::ElementsAre("c_sf2"));
  EXPECT_FALSE(out.steps(0).in_progress());  // to take again
  records_.Add("u20", vocab::kPassed, "c_sf2", now_ + absl::Seconds(3));
  out.Clear();
  ASSERT_TRUE(plan(r, &out).ok());
  EXPECT_TRUE(out.already_achieved());
  EXPECT_EQ(out.steps_size(), 0);
}

TEST_F(RecommendServerTest, PlanPathForACatalogProgrammeAndItsErrors) {
  StartWithModel();
  v1::Programme p;
  p.set_id("sf_cert");
  p.set_name("书法爱好者证书");
  auto* rule = p.add_by_category();
  rule->set_category("书法");
  rule->set_credits(2);
  {
    grpc::ServerContext* none = nullptr;
    v1::PutProgrammeRequest put;
    *put.mutable_programme() = p;
    v1::Programme stored;
    ASSERT_TRUE(catalog_.PutProgramme(none, &put, &stored).ok());
  }
  auto plan = [&](const v1::PlanPathRequest& r, v1::PlanPathResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->PlanPath(&ctx, r, out);
  };
  v1::PlanPathRequest r;
  r.set_learner("u21");
  r.set_programme_id("sf_cert");
  v1::PlanPathResponse out;
  grpc::Status st;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {  // until the catalog refresh brought the programme in
    out.Clear();
    st = plan(r, &out);
    if (!st.ok()) absl::SleepFor(absl::Milliseconds(50));
  } while (!st.ok() && absl::Now() < deadline);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // Every test course meets at the same hour: only one 书法 course fits.
  EXPECT_FALSE(out.feasible());
  EXPECT_EQ(out.reason(), "书法爱好者证书 needs 1 more credits in 书法; no open course fits");
  EXPECT_EQ(out.steps_size(), 1);
  EXPECT_EQ(out.goal_name(), "书法爱好者证书");
  ASSERT_EQ(out.progress().by_category_size(), 1);
  EXPECT_EQ(out.progress().by_category(0).planned(), 1);

  // A learner who completed one 书法 course needs one more: feasible.
  records_.Add("u22", vocab::kCompleted, "c_sf3", now_);
  r.set_learner("u22");
  out.Clear();
  ASSERT_TRUE(plan(r, &out).ok());
  EXPECT_TRUE(out.feasible()) << out.reason();
  EXPECT_EQ(out.steps_size(), 1);
  EXPECT_EQ(out.progress().by_category(0).earned(), 1);

  // A self-reported completion is done but earns no credits: still one
  // 书法 course short, and it fits no more than before.
  records_.Add("u23", vocab::kCompleted, "c_sf3", now_, /*self_reported=*/true);
  r.set_learner("u23");
  out.Clear();
  ASSERT_TRUE(plan(r, &out).ok());
  EXPECT_FALSE(out.feasible());
  EXPECT_EQ(out.progress().by_category(0).earned(), 0);

  // Errors name the field.
  r.set_programme_id("nope");
  EXPECT_EQ(plan(r, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::PlanPathRequest no_goal;
  no_goal.set_learner("u21");
  grpc::Status bad = plan(no_goal, &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("goal"));
  v1::PlanPathRequest no_learner;
  no_learner.set_category("书法");
  bad = plan(no_learner, &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("learner"));
  v1::PlanPathRequest inline_bad;
  inline_bad.set_learner("u21");
  inline_bad.mutable_programme()->set_name("x");
  inline_bad.mutable_programme()->set_credits(-3);
  bad = plan(inline_bad, &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("programme.credits"));
  v1::PlanPathRequest unknown_course;
  unknown_course.set_learner("u21");
  unknown_course.set_course_id("c_nope");
  EXPECT_EQ(plan(unknown_course, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::PlanPathRequest too_many;
  too_many.set_learner("u21");
  too_many.set_category("书法");
  too_many.set_max_courses(101);
  bad = plan(too_many, &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("max_courses"));
}

// Courses are archived when their term ends (docs/catalog.md); the
// recommender's catalog copy keeps them (ListCourses with show_archived) for
// the histories that name them. A learner who passed 书法入门 (c_sf1), now
// archived, is not offered its other section (c_sf1b); a catalog programme
// that requires it is done for that learner, and plans the other section
// for one who never took it; one that requires an archived course with no
// other section is an answer (not feasible), not an error; and so is a
// catalog programme whose deadline has passed.
// A learner with 400 courses of 500 sessions in progress: listing every
// session would be a 3.7 MB reply (measured), and a thousand such courses
// over 9 MB, past a client's 4 MB receive limit. The reply lists each
// course's next sessions up to the caps and counts the rest.
TEST_F(RecommendServerTest, PlanPathListsAtMostTheCappedSessionsAndCountsTheRest) {
  StartWithModel();
  constexpr int kCourses = 400;
  constexpr int kSessions = 500;  // the catalog's most per course
  const absl::Time first = now_ + absl::Hours(24 * 10);
  for (int k = 0; k < kCourses; ++k) {
    v1::Course c = testing::TestCatalog(now_)[0];
    c.set_id(absl::StrFormat("c_long%03d", k));
    c.clear_prerequisite_ids();
    c.clear_sessions();
    for (int j = 0; j < kSessions; ++j) {  // none overlaps another
      v1::Session* s = c.add_sessions();
      const absl::Time start = first + absl::Hours(j * kCourses + k);
      s->mutable_start_time()->set_seconds(absl::ToUnixSeconds(start));
      s->mutable_end_time()->set_seconds(absl::ToUnixSeconds(start + absl::Minutes(30)));
    }
    catalog_.Put(c);
    records_.Add("u_busy", vocab::kRegistered, c.id(), now_ - absl::Hours(1));
  }
  v1::PlanPathRequest r;
  r.set_learner("u_busy");
  r.set_course_id("c_sf1");  // meets at now+3d, before any of them
  v1::PlanPathResponse out;
  grpc::Status s;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  do {  // until the catalog refresh saw the long courses
    out.Clear();
    grpc::ClientContext ctx;  // the default 4 MB receive limit
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    s = stub_->PlanPath(&ctx, r, &out);
    if (s.ok() && out.steps_size() < kCourses) absl::SleepFor(absl::Milliseconds(50));
  } while (s.ok() && out.steps_size() < kCourses && absl::Now() < deadline);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  int in_progress = 0;
  for (const v1::PlannedCourse& step : out.steps()) in_progress += step.in_progress() ? 1 : 0;
  ASSERT_EQ(in_progress, kCourses) << out.reason();
  EXPECT_LT(out.ByteSizeLong(), size_t{1} << 20);
  int listed = 0;
  for (const v1::PlannedCourse& step : out.steps()) {
    const int all = step.in_progress() ? kSessions : 1;
    EXPECT_LE(step.sessions_size(), kMaxPlannedSessionsPerCourse);
    EXPECT_EQ(step.sessions_size() + step.sessions_not_listed(), all) << step.course().course_id();
    // The next ones, in time order, starting at the step's start.
    if (step.sessions_size() > 0) {
      EXPECT_EQ(step.sessions(0).start_time().seconds(), step.start().seconds());
    }
    for (int i = 1; i < step.sessions_size(); ++i) {
      EXPECT_LT(step.sessions(i - 1).start_time().seconds(), step.sessions(i).start_time().seconds());
    }
    listed += step.sessions_size();
  }
  EXPECT_EQ(listed, kMaxPlannedSessionsPerReply);
  // The first steps list their full first 100.
  EXPECT_EQ(out.steps(0).sessions_size(),
            std::min(kMaxPlannedSessionsPerCourse, out.steps(0).in_progress() ? kSessions : 1));
}

TEST_F(RecommendServerTest, ArchivedCoursesStillResolveLearnersHistories) {
  StartWithModel();
  records_.Add("u30", vocab::kRegistered, "c_sf1", now_ - absl::Hours(48));
  records_.Add("u30", vocab::kPassed, "c_sf1", now_ - absl::Hours(24));
  v1::Course sf1 = testing::TestCatalog(now_)[0];
  ASSERT_EQ(sf1.id(), "c_sf1");
  sf1.set_state(v1::Course::ARCHIVED);
  catalog_.Put(sf1);
  v1::Course ey1 = testing::TestCatalog(now_)[10];
  ASSERT_EQ(ey1.id(), "c_ey1");
  ey1.set_state(v1::Course::ARCHIVED);
  catalog_.Put(ey1);
  auto put_programme = [&](const std::string& id, const std::string& course, absl::Time deadline) {
    v1::PutProgrammeRequest put;
    v1::Programme* p = put.mutable_programme();
    p->set_id(id);
    p->set_name(id == "ey_cert" ? "英语口语证书" : "书法入门证书");
    p->add_required_course_ids(course);
    if (deadline != absl::InfiniteFuture()) p->mutable_deadline()->set_seconds(absl::ToUnixSeconds(deadline));
    v1::Programme stored;
    return catalog_.PutProgramme(nullptr, &put, &stored).ok();
  };
  ASSERT_TRUE(put_programme("sf_intro", "c_sf1", absl::InfiniteFuture()));
  ASSERT_TRUE(put_programme("ey_cert", "c_ey1", absl::InfiniteFuture()));
  ASSERT_TRUE(put_programme("sf_intro_2025", "c_sf1", now_ - absl::Hours(24 * 30)));
  // Until the catalog refresh (every 100 ms) brought the archived course in.
  auto archived_in_copy = [&] {
    absl::StatusOr<CatalogPtr> c = server_->catalog().Current();
    if (!c.ok()) return false;
    const Course* course = (*c)->Find("c_sf1");
    const Course* ey = (*c)->Find("c_ey1");
    return course != nullptr && course->state == CourseState::kArchived && ey != nullptr &&
           ey->state == CourseState::kArchived && (*c)->programmes().size() == 3;
  };
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (!archived_in_copy() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(archived_in_copy()) << "the recommender's catalog copy has no archived c_sf1";

  const std::vector<std::string> ids = Ids(MustRecommend(Request("u30", 100)));
  EXPECT_THAT(ids, Not(Contains("c_sf1b"))) << "another section of a completed series";
  EXPECT_THAT(ids, Not(Contains("c_sf1"))) << "archived";
  EXPECT_THAT(Ids(MustRecommend(Request("", 100))), Not(Contains("c_sf1")));

  auto plan = [&](const std::string& learner, const std::string& programme_id, v1::PlanPathResponse* out) {
    v1::PlanPathRequest r;
    r.set_learner(learner);
    r.set_programme_id(programme_id);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->PlanPath(&ctx, r, out);
  };
  v1::PlanPathResponse done;
  grpc::Status st = plan("u30", "sf_intro", &done);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_TRUE(done.already_achieved());
  EXPECT_THAT(done.progress().required_done(), ::testing::ElementsAre("c_sf1"));
  v1::PlanPathResponse other_section;
  st = plan("u31", "sf_intro", &other_section);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_TRUE(other_section.feasible()) << other_section.reason();
  ASSERT_EQ(other_section.steps_size(), 1);
  EXPECT_EQ(other_section.steps(0).course().course_id(), "c_sf1b");
  EXPECT_THAT(other_section.progress().required_planned(), ::testing::ElementsAre("c_sf1"));
  v1::PlanPathResponse missing;
  st = plan("u31", "ey_cert", &missing);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_FALSE(missing.feasible());
  EXPECT_EQ(missing.reason(), "英语口语证书 requires 英语口语; 英语口语 is archived");
  EXPECT_THAT(missing.progress().required_missing(), ::testing::ElementsAre("c_ey1"));

  // Last term's programme: its deadline has passed, and the request set none.
  v1::PlanPathResponse closed;
  st = plan("u31", "sf_intro_2025", &closed);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_FALSE(closed.feasible());
  EXPECT_THAT(closed.reason(), HasSubstr("deadline"));
  closed.Clear();
  st = plan("u30", "sf_intro_2025", &closed);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_TRUE(closed.already_achieved());
}

// The per-principal concurrency limit (--auth_max_in_flight) holds a
// Recommend call's slot until it is answered, the history read on a worker
// included: one learner's token cannot fill the history-read slots.
TEST_F(RecommendServerTest, TheInFlightLimitCoversTheHistoryRead) {
  const auth::AuthOptions ao = LimitAuth(2);
  RecommendServerOptions o = Options();
  o.authorizer = authorizer_.get();
  o.history_cache_learners = 0;  // every call reads its history
  o.records_deadline = absl::Seconds(20);
  StartReady(o);
  const std::string token = LearnerToken(ao, "u1");
  auto call = [&]() {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::RecommendResponse out;
    return stub_->Recommend(&ctx, Request("u1", 5), &out);
  };
  const grpc::Status first = call();
  ASSERT_TRUE(first.ok()) << first.error_code() << " " << first.error_message();

  records_.set_delay(absl::Seconds(2));
  std::vector<grpc::Status> slow(2);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < slow.size(); ++i) threads.emplace_back([&, i] { slow[i] = call(); });
  const absl::Time reading = absl::Now() + absl::Seconds(10);
  while (server_->pending_history_reads() < 2 && absl::Now() < reading) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(server_->pending_history_reads(), 2);
  // Both of u1's slots are held by calls waiting on the record service.
  for (int i = 0; i < 3; ++i) {
    const grpc::Status extra = call();
    EXPECT_EQ(extra.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << extra.error_message();
    EXPECT_THAT(extra.error_message(), HasSubstr("concurrency limit"));
  }
  EXPECT_EQ(server_->pending_history_reads(), 2) << "a refused call reached a worker";
  for (std::thread& t : threads) t.join();
  for (const grpc::Status& s : slow) EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  // The answers gave the slots back.
  records_.set_delay(absl::ZeroDuration());
  for (int i = 0; i < 3; ++i) {
    const grpc::Status again = call();
    EXPECT_TRUE(again.ok()) << again.error_code() << " " << again.error_message();
  }
  server_->Shutdown();
}

// SimilarCourses holds its slot of the per-principal concurrency limit
// until it is answered, as Recommend does. The server's clock, which the
// call reads after it is authorized, holds the first call in the service.
TEST_F(RecommendServerTest, TheInFlightLimitCoversSimilarCourses) {
  const auth::AuthOptions ao = LimitAuth(1);
  std::atomic<bool> hold{false};
  absl::Notification entered, release;
  RecommendServerOptions o = Options();
  o.authorizer = authorizer_.get();
  o.catalog_refresh = absl::Hours(1);  // after the first read, only calls read the clock
  o.clock = [&] {
    if (hold.exchange(false)) {
      entered.Notify();
      release.WaitForNotificationWithTimeout(absl::Seconds(60));
    }
    return absl::Now();
  };
  StartReady(o);
  const std::string token = LearnerToken(ao, "u1");
  auto similar = [&]() {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::SimilarCoursesRequest req;
    req.set_course_id("c_sf1");
    req.set_k(3);
    v1::SimilarCoursesResponse out;
    return stub_->SimilarCourses(&ctx, req, &out);
  };
  hold = true;
  grpc::Status first;
  std::thread slow([&] { first = similar(); });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  const grpc::Status second = similar();  // while the first is in the service
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << second.error_message();
  EXPECT_THAT(second.error_message(), HasSubstr("concurrency limit"));
  release.Notify();
  slow.join();
  EXPECT_TRUE(first.ok()) << first.error_code() << " " << first.error_message();
  const grpc::Status after = similar();  // the answer gave the slot back
  EXPECT_TRUE(after.ok()) << after.error_code() << " " << after.error_message();
  server_->Shutdown();
}

// For learners and kiosks a DRAFT course does not exist (docs/catalog.md
// "Drafts"). The recommender reads the whole catalog as staff (its copy
// holds drafts, and the trained model has a row for c_draft), but every
// caller gets answers as if the draft were missing: SimilarCourses and a
// PlanPath to it are NOT_FOUND with a missing id's message; a learner's own
// `registered` statement for it is no course in progress, nor a reason; a
// programme that requires it, and a course that needs it first, name it by
// id only (those ids are in catalog data learners read), never by title.
TEST_F(RecommendServerTest, ADraftCourseIsNamedInNoAnswer) {
  // Before the first catalog read: 山水画 needs the draft first, and a
  // programme requires it.
  v1::Course gh2 = testing::TestCatalog(now_)[5];
  ASSERT_EQ(gh2.id(), "c_gh2");
  gh2.add_prerequisite_ids("c_draft");
  catalog_.Put(gh2);
  {
    v1::PutProgrammeRequest put;
    put.mutable_programme()->set_id("sf_history");
    put.mutable_programme()->set_name("书法文化证书");
    put.mutable_programme()->add_required_course_ids("c_draft");
    v1::Programme stored;
    ASSERT_TRUE(catalog_.PutProgramme(nullptr, &put, &stored).ok());
  }
  const auth::AuthOptions ao = LimitAuth(8);
  RecommendServerOptions o = Options();
  o.authorizer = authorizer_.get();
  StartReady(o);
  const std::string token = LearnerToken(ao, "u1");
  auto context = [&](grpc::ClientContext* ctx) {
    ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  };
  auto similar = [&](const std::string& id, v1::SimilarCoursesResponse* out) {
    grpc::ClientContext ctx;
    context(&ctx);
    v1::SimilarCoursesRequest req;
    req.set_course_id(id);
    req.set_k(5);
    return stub_->SimilarCourses(&ctx, req, out);
  };
  auto plan = [&](const v1::PlanPathRequest& r, v1::PlanPathResponse* out) {
    grpc::ClientContext ctx;
    context(&ctx);
    return stub_->PlanPath(&ctx, r, out);
  };
  auto recommend = [&](const v1::RecommendRequest& r, v1::RecommendResponse* out) {
    grpc::ClientContext ctx;
    context(&ctx);
    return stub_->Recommend(&ctx, r, out);
  };
  // The whole answer, as text (UTF-8 unescaped, so the title can be found)
  // and as bytes.
  auto names_title = [](const google::protobuf::Message& m) {
    return absl::StrContains(m.Utf8DebugString(), "书法史") || absl::StrContains(m.SerializeAsString(), "书法史");
  };
  auto names_id = [](const google::protobuf::Message& m) {
    return absl::StrContains(m.Utf8DebugString(), "c_draft") || absl::StrContains(m.SerializeAsString(), "c_draft");
  };

  v1::SimilarCoursesResponse similar_out;
  grpc::Status s = similar("c_nope", &similar_out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_EQ(s.error_message(), "course_id: no course \"c_nope\"");
  s = similar("c_draft", &similar_out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << similar_out.Utf8DebugString();
  EXPECT_EQ(s.error_message(), "course_id: no course \"c_draft\"");
  // Nor is it among another course's similar ones.
  similar_out.Clear();
  s = similar("c_sf1", &similar_out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(names_title(similar_out) || names_id(similar_out)) << similar_out.Utf8DebugString();

  v1::PlanPathRequest to_draft;
  to_draft.set_learner("u1");
  to_draft.set_course_id("c_draft");
  v1::PlanPathResponse plan_out;
  s = plan(to_draft, &plan_out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << plan_out.Utf8DebugString();
  EXPECT_EQ(s.error_message(), "course_id: no course \"c_draft\"");
  to_draft.set_course_id("c_nope");
  s = plan(to_draft, &plan_out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "course_id: no course \"c_nope\"");

  // u1 records a registration of their own for the draft's id.
  records_.Add("u1", vocab::kRegistered, "c_draft", now_ - absl::Hours(1));
  v1::PlanPathRequest by_category;
  by_category.set_learner("u1");
  by_category.set_category("书法");
  v1::PlanPathRequest to_course;
  to_course.set_learner("u1");
  to_course.set_course_id("c_sf2");
  for (const v1::PlanPathRequest& r : {by_category, to_course}) {
    plan_out.Clear();
    s = plan(r, &plan_out);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_FALSE(names_title(plan_out) || names_id(plan_out)) << plan_out.Utf8DebugString();
    for (const auto& step : plan_out.steps()) EXPECT_FALSE(step.in_progress()) << step.course().course_id();
  }
  v1::RecommendRequest everything_else = Request("u1", 100);
  for (const char* category : {"书法", "健身", "信息技术", "外语"}) {
    everything_else.mutable_filter()->add_categories(category);
  }
  for (const v1::RecommendRequest& r : {Request("u1", 100), everything_else}) {
    v1::RecommendResponse rec_out;
    s = recommend(r, &rec_out);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_FALSE(rec_out.cold_start());
    EXPECT_FALSE(names_title(rec_out)) << rec_out.Utf8DebugString();
    // Unfiltered, 山水画's missing prerequisite may name the draft's id.
    if (r.filter().categories_size() > 0) {
      EXPECT_FALSE(names_id(rec_out)) << rec_out.Utf8DebugString();
    }
  }

  // 山水画 needs the draft: named by id, as a prerequisite missing from the
  // catalog.
  v1::RecommendRequest painting = Request("u1", 100);
  painting.mutable_filter()->add_categories("绘画");
  v1::RecommendResponse painting_out;
  s = recommend(painting, &painting_out);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  const v1::Recommendation* gh2_out = Find(painting_out, "c_gh2");
  ASSERT_NE(gh2_out, nullptr) << painting_out.Utf8DebugString();
  EXPECT_EQ(gh2_out->reason(), "先修：c_draft");
  EXPECT_THAT(gh2_out->missing_prerequisite_ids(), ::testing::ElementsAre("c_draft"));
  EXPECT_FALSE(names_title(painting_out)) << painting_out.Utf8DebugString();

  // The programme that requires it: by id.
  v1::PlanPathRequest programme;
  programme.set_learner("u1");
  programme.set_programme_id("sf_history");
  plan_out.Clear();
  s = plan(programme, &plan_out);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_FALSE(plan_out.feasible());
  EXPECT_EQ(plan_out.reason(), "书法文化证书 requires c_draft, which the catalog does not list");
  EXPECT_THAT(plan_out.progress().required_missing(), ::testing::ElementsAre("c_draft"));
  EXPECT_FALSE(names_title(plan_out)) << plan_out.Utf8DebugString();
  EXPECT_EQ(plan_out.steps_size(), 0) << plan_out.Utf8DebugString();
  server_->Shutdown();
}

TEST_F(RecommendServerTest, CatalogChangesReachAnswers) {
  StartWithModel();
  v1::RecommendRequest r = Request("", 100);
  EXPECT_THAT(Ids(MustRecommend(r)), Contains("c_tj1"));
  v1::Course tj1 = testing::TestCatalog(now_)[6];
  ASSERT_EQ(tj1.id(), "c_tj1");
  tj1.set_capacity(30);
  tj1.set_seats_taken(30);
  catalog_.Put(tj1);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::vector<std::string> ids;
  do {  // until the catalog refresh (every 100 ms) saw the full course
    absl::SleepFor(absl::Milliseconds(50));
    ids = Ids(MustRecommend(r));
  } while (std::find(ids.begin(), ids.end(), "c_tj1") != ids.end() && absl::Now() < deadline);
  EXPECT_THAT(ids, Not(Contains("c_tj1")));
}

TEST_F(RecommendServerTest, SimilarCourses) {
  StartWithModel();
  grpc::ClientContext ctx;
  v1::SimilarCoursesRequest req;
  req.set_course_id("c_sf1");
  req.set_k(3);
  v1::SimilarCoursesResponse out;
  ASSERT_TRUE(stub_->SimilarCourses(&ctx, req, &out).ok());
  ASSERT_GE(out.recommendations_size(), 1);
  std::vector<std::string> ids;
  for (const auto& x : out.recommendations()) {
    ids.push_back(x.course().course_id());
    EXPECT_EQ(x.reason_kind(), v1::Recommendation::REASON_SIMILAR_COURSE);
    EXPECT_THAT(x.reason(), HasSubstr("书法入门"));
  }
  EXPECT_THAT(ids, Contains("c_sf2"));
  EXPECT_THAT(ids, Not(Contains("c_sf1")));

  // A course only the catalog knows: content vectors.
  grpc::ClientContext ctx2;
  req.set_course_id("c_new");
  v1::SimilarCoursesResponse out2;
  ASSERT_TRUE(stub_->SimilarCourses(&ctx2, req, &out2).ok());
  ASSERT_GE(out2.recommendations_size(), 1);
  EXPECT_EQ(out2.recommendations(0).course().category(), "书法");

  grpc::ClientContext ctx3;
  req.set_course_id("c_nope");
  grpc::Status s = stub_->SimilarCourses(&ctx3, req, &out2);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("course_id"));

  grpc::ClientContext ctx4;
  req.set_course_id("c_sf1");
  req.set_k(0);
  s = stub_->SimilarCourses(&ctx4, req, &out2);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::StartsWith("k:"));
}

// A sparse (format-2) version of the same data serves over gRPC like the
// dense one: with every item a candidate and every entry kept (the test
// catalog is small) its item-item matrix is the dense model's, so the
// answers match; GetModelStatus names the sparse index.
TEST_F(RecommendServerTest, SparseVersionAnswersLikeTheDenseOne) {
  models::TrainOptions sparse;
  sparse.dense_max_items = 4;  // every test model is above it: the sparse path
  absl::StatusOr<int64_t> v = testing::WriteTestModelWith(model_dir_, 0, sparse);
  ASSERT_TRUE(v.ok()) << v.status();
  StartServer(Options());
  WaitForVersion(*v);
  const v1::ModelStatus st = Status();
  EXPECT_EQ(st.index_kind(), "sparse");
  EXPECT_EQ(st.dimension(), st.item_count());
  ASSERT_TRUE(server_->models().Current()->sparse_item_matrix());

  const std::string dense_dir = testing::NewTempDir("dense_models");
  ASSERT_TRUE(testing::WriteTestModel(dense_dir).ok());
  RecommendServerOptions dense_options = Options();
  dense_options.model_dir = dense_dir;
  auto dense = RecommendServer::Start(dense_options);
  ASSERT_TRUE(dense.ok()) << dense.status();
  auto dense_stub = v1::RecommendationService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*dense)->port()), grpc::InsecureChannelCredentials()));
  while ((*dense)->models().Current() == nullptr || !(*dense)->catalog().Current().ok()) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_FALSE((*dense)->models().Current()->sparse_item_matrix());
  records_.Add("u8", vocab::kCompleted, "c_sf1", now_ - absl::Hours(5));
  records_.Add("u8", vocab::kAttended, "c_tj1", now_ - absl::Hours(4));
  records_.Add("u9", vocab::kCompleted, "c_py1", now_ - absl::Hours(2));
  records_.Add("u10", vocab::kCompleted, "c_gh1", now_ - absl::Hours(1));
  for (const std::string learner : {"u8", "u9", "u10"}) {
    v1::RecommendResponse got = MustRecommend(Request(learner, 5));
    grpc::ClientContext ctx;
    v1::RecommendResponse want;
    ASSERT_TRUE(dense_stub->Recommend(&ctx, Request(learner, 5), &want).ok());
    EXPECT_FALSE(got.cold_start());
    ASSERT_EQ(Ids(got), Ids(want)) << learner;
    for (int i = 0; i < got.recommendations_size(); ++i) {
      EXPECT_EQ(got.recommendations(i).reason(), want.recommendations(i).reason()) << learner;
      EXPECT_NEAR(got.recommendations(i).score(), want.recommendations(i).score(), 1e-4) << learner;
    }
  }
  EXPECT_EQ(Ids(MustRecommend(Request("u8", 5)))[0], "c_sf2");
  // Similar reads the sparse columns.
  grpc::ClientContext ctx;
  v1::SimilarCoursesRequest req;
  req.set_course_id("c_sf1");
  req.set_k(3);
  v1::SimilarCoursesResponse out;
  ASSERT_TRUE(stub_->SimilarCourses(&ctx, req, &out).ok());
  std::vector<std::string> ids;
  for (const auto& x : out.recommendations()) ids.push_back(x.course().course_id());
  EXPECT_THAT(ids, Contains("c_sf2"));
  EXPECT_THAT(ids, Not(Contains("c_sf1")));
  (*dense)->Shutdown();
}

// A learner whose subject is spelled as another learner's district account
// ("account:https://id.dongcheng.gov.cn|u000042": an ID token's subject is
// what the identity provider says, and IsLearnerKey lets ':' and '|' through)
// is not that learner. The record service compares canonical keys, so it
// refuses such a subject every learner's records; the recommender compared
// the request's spelling with the subject, then read the history under the
// canonical key: u000042's recommendations and plan. Now both compare the
// canonical key.
TEST_F(RecommendServerTest, ASubjectSpelledAsAnotherLearnersAccountIsNotThatLearner) {
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  auth::AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "recommend-server-test-key-0123456789abcdef";
  auth::Authorizer authorizer(ao);
  RecommendServerOptions o = Options();
  o.authorizer = &authorizer;
  StartServer(std::move(o));
  auto as = [&](const std::string& subject, auth::Role role) {
    auth::Principal p;
    p.subject = subject;
    p.role = role;
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx->AddMetadata("authorization", "Bearer " + *auth::MintToken(p, absl::Minutes(5), ao.token));
    return ctx;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  v1::ModelStatus status;
  while (status.version() != 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    ASSERT_TRUE(
        stub_->GetModelStatus(as("operator-1", auth::Role::kOperator).get(), v1::GetModelStatusRequest(), &status)
            .ok());
  }
  ASSERT_EQ(status.version(), 1);
  records_.Add("u000042", vocab::kCompleted, "c_sf1", now_ - absl::Hours(10));

  const std::string impostor = "account:https://id.dongcheng.gov.cn|u000042";
  const int64_t reads = records_.calls();
  for (const std::string& learner : {std::string("u000042"), impostor}) {
    v1::RecommendResponse out;
    grpc::Status s = stub_->Recommend(as(impostor, auth::Role::kLearner).get(), Request(learner, 5), &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << learner << ": " << s.error_message();
    v1::PlanPathRequest plan;
    plan.set_learner(learner);
    plan.set_course_id("c_sf2");
    v1::PlanPathResponse path;
    s = stub_->PlanPath(as(impostor, auth::Role::kLearner).get(), plan, &path);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << learner << ": " << s.error_message();
  }
  EXPECT_EQ(records_.calls(), reads) << "no history was read for the impostor";

  // u000042 themselves, under either spelling of their key.
  for (const std::string& learner : {std::string("u000042"), impostor}) {
    v1::RecommendResponse out;
    grpc::Status s = stub_->Recommend(as("u000042", auth::Role::kLearner).get(), Request(learner, 5), &out);
    EXPECT_TRUE(s.ok()) << learner << ": " << s.error_message();
    v1::PlanPathRequest plan;
    plan.set_learner(learner);
    plan.set_course_id("c_sf2");
    v1::PlanPathResponse path;
    s = stub_->PlanPath(as("u000042", auth::Role::kLearner).get(), plan, &path);
    EXPECT_TRUE(s.ok()) << learner << ": " << s.error_message();
  }
  // A key of no known form is INVALID_ARGUMENT naming the field, as at the
  // record service.
  v1::RecommendResponse out;
  grpc::Status s = stub_->Recommend(as("u000042", auth::Role::kLearner).get(), Request("urn:x:u000042", 5), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("learner"));
}

// The server took gRPC's 64 MiB default and parsed a request before it
// looked at the caller's credentials: one unauthenticated 64 MiB Recommend of
// empty strings cost 1.5-2 GB of memory per call. Now a request over
// kRecommendMaxReceiveBytes is refused by the transport (RESOURCE_EXHAUSTED,
// credentials or not) before any handler parses it, and the largest request
// validation accepts (a PlanPath carrying a catalog programme inline, with a
// 20,000-character description) is still answered.
TEST_F(RecommendServerTest, RequestsOverTheReceiveLimitAreRefusedBeforeTheyAreParsed) {
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  auth::AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "recommend-server-test-key-0123456789abcdef";
  auth::Authorizer authorizer(ao);
  RecommendServerOptions o = Options();
  o.authorizer = &authorizer;
  StartServer(std::move(o));
  auto call = [&](const std::string& subject) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!subject.empty()) {
      auth::Principal p;
      p.subject = subject;
      p.role = auth::Role::kLearner;
      ctx->AddMetadata("authorization", "Bearer " + *auth::MintToken(p, absl::Minutes(5), ao.token));
    }
    return ctx;
  };
  // A normal call succeeds once the model and the catalog are in.
  v1::RecommendResponse out;
  grpc::Status s;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    s = stub_->Recommend(call("u1").get(), Request("u1", 5), &out);
    if (!s.ok()) absl::SleepFor(absl::Milliseconds(20));
  } while (!s.ok() && absl::Now() < deadline);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_GT(out.recommendations_size(), 0);

  // Just over the limit in empty strings (2 bytes each on the wire), without
  // credentials and with them: refused before the handler, which would have
  // answered UNAUTHENTICATED (or INVALID_ARGUMENT) after parsing it.
  v1::RecommendRequest big = Request("u1", 5);
  for (int i = 0; i <= kRecommendMaxReceiveBytes / 2; ++i) big.mutable_filter()->add_categories("");
  ASSERT_GT(big.ByteSizeLong(), static_cast<size_t>(kRecommendMaxReceiveBytes));
  for (const std::string& subject : {std::string(), std::string("u1")}) {
    s = stub_->Recommend(call(subject).get(), big, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << subject << ": " << s.error_message();
    v1::SimilarCoursesRequest similar;
    similar.set_course_id("c_sf1");
    similar.set_k(5);
    *similar.mutable_filter() = big.filter();
    v1::SimilarCoursesResponse similar_out;
    s = stub_->SimilarCourses(call(subject).get(), similar, &similar_out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << subject << ": " << s.error_message();
  }

  // The largest PlanPath validation accepts: every capped field at its cap
  // and the programme's catalog fields the planner ignores (description of
  // 20,000 four-byte characters, issuer of 128) as the catalog stores them.
  v1::PlanPathRequest largest;
  largest.set_learner("u1");
  largest.set_home_xuequ(std::string(64, 'x'));
  v1::Programme* p = largest.mutable_programme();
  p->set_id(std::string(64, 'p'));
  std::string name;
  for (int i = 0; i < 66; ++i) name += "书";  // 198 bytes
  p->set_name(name);
  std::string description, issuer;
  for (int i = 0; i < 20000; ++i) description += "\U0001F4DA";
  for (int i = 0; i < 128; ++i) issuer += "\U0001F4DA";
  p->set_description(description);
  p->set_issuer(issuer);
  p->set_credits(1000);
  for (int i = 0; i < 32; ++i) {
    auto* rule = p->add_by_category();
    rule->set_category(absl::StrCat(std::string(60, 'k'), absl::StrFormat("%03d", i)));  // 63 bytes
    rule->set_credits(1000);
  }
  for (int i = 0; i < 64; ++i) p->add_required_course_ids(absl::StrFormat("c%063d", i));
  p->mutable_deadline()->set_seconds(absl::ToUnixSeconds(now_ + absl::Hours(24 * 365)));
  largest.mutable_deadline()->set_seconds(absl::ToUnixSeconds(now_ + absl::Hours(24 * 365)));
  const size_t largest_bytes = largest.ByteSizeLong() + kMaxLearnerKeyBytes;  // the longest learner key
  EXPECT_GT(largest_bytes, 80000u);
  EXPECT_LT(largest_bytes, static_cast<size_t>(kRecommendMaxReceiveBytes) / 2) << "keep the headroom documented";
  v1::PlanPathResponse path;
  // Parsed and validated: its made-up required courses are named.
  s = stub_->PlanPath(call("u1").get(), largest, &path);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("programme.required_course_ids[0]"));
  // With a course the catalog holds: answered.
  p->clear_required_course_ids();
  p->add_required_course_ids("c_sf1");
  s = stub_->PlanPath(call("u1").get(), largest, &path);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_FALSE(path.feasible());  // 1,000 credits in each of 32 made-up categories
  // A description past what the catalog stores, making the request larger
  // than the limit: refused like the rest.
  p->set_description(std::string(kRecommendMaxReceiveBytes, 'd'));
  s = stub_->PlanPath(call("u1").get(), largest, &path);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
}

TEST_F(RecommendServerTest, InvalidArgumentsNameTheField) {
  StartWithModel();
  v1::RecommendResponse out;
  grpc::Status s = Recommend(Request("u1", 0), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::StartsWith("k:"));
  s = Recommend(Request("u1", 101), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::RecommendRequest r = Request("u1", 5);
  r.mutable_filter()->set_within_km(5);
  s = Recommend(r, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::StartsWith("filter.near:"));
}

TEST_F(RecommendServerTest, RecordServiceDownOrHungIsUnavailable) {
  StartWithModel();
  // Hung: the call must end at the records deadline (300 ms), not hang.
  records_.set_delay(absl::Seconds(3));
  v1::RecommendResponse out;
  absl::Time start = absl::Now();
  grpc::Status s = Recommend(Request("u1", 5), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("record service"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  records_.set_delay(absl::ZeroDuration());

  // Down.
  records_server_->Shutdown(std::chrono::milliseconds(0));
  start = absl::Now();
  s = Recommend(Request("u1", 5), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("record service"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // An anonymous kiosk request needs no history and still works.
  EXPECT_TRUE(Recommend(Request("", 5), &out).ok());
}

TEST_F(RecommendServerTest, HistoryReadsRunOnBoundedWorkersAndQueuedCallsSurviveTheirClients) {
  // One worker, at most two calls queued or running on it; the record
  // service takes 2 s per read.
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  RecommendServerOptions o = Options();
  o.records_deadline = absl::Seconds(5);
  o.history_workers = 1;
  o.max_history_reads = 2;
  StartServer(std::move(o));
  WaitForVersion(1);
  records_.Add("u_slow", vocab::kCompleted, "c_sf1", now_ - absl::Hours(2));
  records_.set_delay(absl::Seconds(2));
  const int64_t reads_before = records_.calls();

  // A: a miss that occupies the worker for 2 s.
  grpc::Status a_status;
  v1::RecommendResponse a_out;
  std::thread a([&] { a_status = Recommend(Request("u_slow", 5), &a_out); });
  for (int i = 0; i < 1000 && records_.calls() == reads_before; ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(records_.calls(), reads_before + 1);  // A is on the worker
  // B: queued behind A; its client gives up after 500 ms.
  grpc::Status b_status;
  std::thread b([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    v1::RecommendResponse out;
    b_status = stub_->Recommend(&ctx, Request("u_gives_up", 5), &out);
  });
  for (int i = 0; i < 1000 && server_->pending_history_reads() < 2; ++i) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(server_->pending_history_reads(), 2);
  // C: A running and B still queued: refused at once with the overload
  // refusal and its retry hint.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::RecommendResponse out;
    grpc::Status s = stub_->Recommend(&ctx, Request("u_refused", 5), &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("retry after"));
    auto trailer = ctx.GetServerTrailingMetadata().find("grpc-retry-pushback-ms");
    ASSERT_NE(trailer, ctx.GetServerTrailingMetadata().end());
    EXPECT_EQ(std::string(trailer->second.data(), trailer->second.size()), "50");
    EXPECT_TRUE(out.recommendations().empty());
  }
  // The callback threads are not blocked: an anonymous request needs no
  // history and is answered meanwhile.
  v1::RecommendResponse anon;
  EXPECT_TRUE(Recommend(Request("", 5), &anon).ok());
  EXPECT_FALSE(anon.recommendations().empty());
  b.join();
  EXPECT_EQ(b_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << b_status.error_message();
  a.join();
  EXPECT_TRUE(a_status.ok()) << a_status.error_message();
  EXPECT_FALSE(a_out.cold_start());  // A read the history
  EXPECT_EQ(Find(a_out, "c_sf1"), nullptr);
  // B was dropped by the worker without a read once its client had gone; the
  // refused learner is served once there is room.
  for (int i = 0; i < 1000 && server_->pending_history_reads() > 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(server_->pending_history_reads(), 0);
  EXPECT_EQ(records_.calls(), reads_before + 1);  // A's read only
  records_.set_delay(absl::ZeroDuration());
  v1::RecommendResponse out;
  EXPECT_TRUE(Recommend(Request("u_refused", 5), &out).ok());

  // Shutdown with a call on the worker and one queued: both are finished,
  // and the server stops.
  records_.set_delay(absl::Milliseconds(500));
  grpc::Status d_status, e_status;
  std::thread d([&] {
    v1::RecommendResponse r;
    d_status = Recommend(Request("u_d", 5), &r);
  });
  std::thread e([&] {
    v1::RecommendResponse r;
    e_status = Recommend(Request("u_e", 5), &r);
  });
  absl::SleepFor(absl::Milliseconds(200));
  server_->Shutdown();
  d.join();
  e.join();
  EXPECT_NE(d_status.error_code(), grpc::StatusCode::UNKNOWN) << d_status.error_message();
  EXPECT_NE(e_status.error_code(), grpc::StatusCode::UNKNOWN) << e_status.error_message();
  server_.reset();
}

// A kiosk call with a short deadline: the history read ends with the call, not
// at --records_deadline_ms, and the record service is told the call's
// deadline; the worker is free for the next learner at once.
TEST_F(RecommendServerTest, AHistoryReadEndsAtTheCallersDeadline) {
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  RecommendServerOptions o = Options();
  o.records_deadline = absl::Seconds(5);
  o.history_workers = 1;
  StartServer(std::move(o));
  WaitForVersion(1);
  records_.set_delay(absl::Seconds(3));
  const int64_t reads_before = records_.calls();
  const absl::Time start = absl::Now();
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(start + absl::Milliseconds(400)));
    v1::RecommendResponse out;
    grpc::Status s = stub_->Recommend(&ctx, Request("u_kiosk", 5), &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  }
  ASSERT_EQ(records_.calls(), reads_before + 1);
  // The read carried the call's deadline (not now + 5 s).
  EXPECT_LE(records_.last_deadline(), start + absl::Milliseconds(450));
  // The one worker is free well before the slow read would have ended (3 s).
  records_.set_delay(absl::ZeroDuration());
  v1::RecommendResponse next;
  grpc::Status s = Recommend(Request("u_next", 5), &next);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(2000));
}

TEST_F(RecommendServerTest, CatalogServiceDownIsUnavailable) {
  catalog_server_->Shutdown(std::chrono::milliseconds(0));
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  StartServer(Options());
  WaitForVersion(1);
  v1::RecommendResponse out;
  const absl::Time start = absl::Now();
  grpc::Status s = Recommend(Request("u1", 5), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("catalog service"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // A model but no catalog: not ready, so a load balancer sends no calls here.
  EXPECT_EQ(server_->Readiness().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(server_->Readiness().message()), HasSubstr("catalog service"));
}

TEST_F(RecommendServerTest, CatalogTooStaleIsUnavailable) {
  RecommendServerOptions o = Options();
  o.catalog_max_staleness = absl::Milliseconds(500);
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  StartServer(o);
  WaitForVersion(1);
  v1::RecommendResponse out;
  EXPECT_TRUE(Recommend(Request("", 5), &out).ok());
  EXPECT_TRUE(server_->Readiness().ok()) << server_->Readiness();
  catalog_server_->Shutdown(std::chrono::milliseconds(0));
  absl::SleepFor(absl::Milliseconds(1200));
  grpc::Status s = Recommend(Request("", 5), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("catalog service"));
  // Ready went with the catalog: a recommender cut off from it leaves the balancer's rotation.
  EXPECT_EQ(server_->Readiness().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(server_->Readiness().message()), HasSubstr("not reached for"));
}

// The server side of the model directory protocol.
TEST_F(RecommendServerTest, PartialVersionsAreIgnored) {
  StartWithModel();
  // A writer's temporary directory and a numbered directory without manifest.
  ASSERT_EQ(mkdir((model_dir_ + "/.tmp-123").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((model_dir_ + "/7").c_str(), 0755), 0);
  std::ofstream(model_dir_ + "/7/items.tsv") << "0\tc_x\t1\n";
  EXPECT_TRUE(server_->models().PollOnce().ok());
  v1::ModelStatus st = Status();
  EXPECT_EQ(st.version(), 1);
  EXPECT_THAT(st.available_versions(), ::testing::ElementsAre(1));
  EXPECT_TRUE(MustRecommend(Request("", 3)).recommendations_size() > 0);
}

TEST_F(RecommendServerTest, CorruptVersionRejectedOldKeepsServing) {
  StartWithModel();
  absl::StatusOr<int64_t> v2 = testing::WriteTestModel(model_dir_, 1);
  ASSERT_TRUE(v2.ok());
  // Flip bytes in the middle of the item vectors: sizes match, checksum not.
  {
    std::fstream f(model_dir_ + "/2/item_vectors.f32", std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(8);
    f.write("\x7f\x7f\x7f\x7f", 4);
  }
  absl::Status poll = server_->models().PollOnce();
  EXPECT_EQ(poll.code(), absl::StatusCode::kDataLoss) << poll;
  v1::ModelStatus st = Status();
  EXPECT_EQ(st.version(), 1);
  EXPECT_EQ(st.last_error_version(), 2);
  EXPECT_FALSE(st.last_error().empty());
  EXPECT_EQ(MustRecommend(Request("", 3)).model_version(), "1");

  // Pinning the corrupt version fails and changes nothing.
  grpc::ClientContext ctx;
  v1::PinModelVersionRequest pin;
  pin.set_version(2);
  v1::ModelStatus out;
  grpc::Status s = stub_->PinModelVersion(&ctx, pin, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Status().version(), 1);
  EXPECT_FALSE(Status().pinned());

  // A good version 3 after it is picked up.
  ASSERT_TRUE(testing::WriteTestModel(model_dir_, 2).ok());
  EXPECT_TRUE(server_->models().PollOnce().ok());
  EXPECT_EQ(Status().version(), 3);
}

TEST_F(RecommendServerTest, PinRollsBackUntilUnpinned) {
  StartWithModel();
  ASSERT_TRUE(testing::WriteTestModel(model_dir_, 1).ok());
  ASSERT_TRUE(server_->models().PollOnce().ok());
  EXPECT_EQ(Status().version(), 2);

  grpc::ClientContext ctx;
  v1::PinModelVersionRequest pin;
  pin.set_version(1);
  v1::ModelStatus out;
  ASSERT_TRUE(stub_->PinModelVersion(&ctx, pin, &out).ok());
  EXPECT_EQ(out.version(), 1);
  EXPECT_TRUE(out.pinned());
  EXPECT_EQ(MustRecommend(Request("", 3)).model_version(), "1");

  ASSERT_TRUE(testing::WriteTestModel(model_dir_, 2).ok());  // version 3
  ASSERT_TRUE(server_->models().PollOnce().ok());
  EXPECT_EQ(Status().version(), 1);  // still pinned

  grpc::ClientContext ctx2;
  pin.set_version(9);
  EXPECT_EQ(stub_->PinModelVersion(&ctx2, pin, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx3;
  pin.set_version(0);
  EXPECT_EQ(stub_->PinModelVersion(&ctx3, pin, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext ctx4;
  ASSERT_TRUE(stub_->UnpinModelVersion(&ctx4, v1::UnpinModelVersionRequest(), &out).ok());
  EXPECT_EQ(out.version(), 3);
  EXPECT_FALSE(out.pinned());
}

TEST_F(RecommendServerTest, SwapUnderConcurrentLoadNeverFailsARequest) {
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  RecommendServerOptions o = Options();
  o.recommender.exact_scan_max_floats = 0;  // search through the batcher
  o.batcher.min_items_to_batch = 0;         // batch even this tiny model
  o.batcher.max_wait = absl::Milliseconds(1);
  // About model swaps, not the record service's latency: a loaded CI machine
  // must not turn a slow history read into a failed request here.
  o.records_deadline = absl::Seconds(5);
  StartServer(o);
  SwapUnderLoad(/*batched=*/true);
}

TEST_F(RecommendServerTest, SwapUnderConcurrentLoadWithExactScanNeverFailsARequest) {
  ASSERT_TRUE(testing::WriteTestModel(model_dir_).ok());
  RecommendServerOptions o = Options();
  o.records_deadline = absl::Seconds(5);  // as above
  StartServer(o);
  SwapUnderLoad(/*batched=*/false);
}

void RecommendServerTest::SwapUnderLoad(bool batched) {
  WaitForVersion(1);
  records_.Add("u5", vocab::kCompleted, "c_sf1", now_);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::atomic<int> empty{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      auto stub = v1::RecommendationService::NewStub(channel_);
      while (!stop.load()) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::RecommendResponse out;
        v1::RecommendRequest r = Request(t % 2 ? "u5" : "", 5);
        grpc::Status s = stub->Recommend(&ctx, r, &out);
        if (!s.ok()) {
          ++failed;
        } else if (out.recommendations_size() != 5 || out.model_version().empty()) {
          ++empty;
        } else {
          ++ok;
        }
      }
    });
  }
  for (int v = 2; v <= 5; ++v) {
    ASSERT_TRUE(testing::WriteTestModel(model_dir_, v).ok());
    ASSERT_TRUE(server_->models().PollOnce().ok());
    EXPECT_EQ(Status().version(), v);
    absl::SleepFor(absl::Milliseconds(100));
  }
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(empty.load(), 0);
  EXPECT_GT(ok.load(), 20);
  if (batched) {
    EXPECT_GT(server_->batcher().stats().queries, 0);
  } else {
    EXPECT_EQ(server_->batcher().stats().queries, 0);
  }
}

TEST_F(RecommendServerTest, EchoAnswers) {
  StartServer(Options());
  grpc::ClientContext ctx;
  v1::EchoRequest req;
  req.set_payload("ping");
  v1::EchoResponse resp;
  ASSERT_TRUE(stub_->Echo(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.payload(), "ping");
}

// Mutual TLS all the way: records and catalog demand client certificates,
// the recommender presents its own certificate to them and demands one from
// its callers (certificates from ops/dev-ca.sh).
TEST(RecommendServerTlsTest, MutualTlsToRecordsAndCatalogAndFromCallers) {
  absl::StatusOr<::lifelong::testing::TestCa> ca = ::lifelong::testing::TestCa::Create("recommend_tls_ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  const absl::Time now = absl::Now();
  FakeRecords records;
  records.Add("u1", vocab::kCompleted, "c_sf1", now - absl::Hours(10));
  FakeCatalog catalog;
  for (const v1::Course& c : testing::TestCatalog(now)) catalog.Put(c);
  auto serve_mutual = [&](grpc::Service* service, const std::string& name) {
    GrpcServerOptions o;
    o.credentials = *ServerCredentialsFor(ca->Server(name, /*require_client_cert=*/true));
    auto s = StartGrpcServer(o, {service});
    EXPECT_TRUE(s.ok()) << s.status();
    (*s)->SetServing(true);
    return *std::move(s);
  };
  std::unique_ptr<RunningGrpcServer> records_server = serve_mutual(&records, "records");
  std::unique_ptr<RunningGrpcServer> catalog_server = serve_mutual(&catalog, "catalog");

  const std::string model_dir = testing::NewTempDir("tls_models");
  ASSERT_TRUE(testing::WriteTestModel(model_dir).ok());
  RecommendServerOptions o;
  o.model_dir = model_dir;
  o.records_target = absl::StrCat("127.0.0.1:", records_server->port());
  o.catalog_target = absl::StrCat("127.0.0.1:", catalog_server->port());
  o.model_poll = absl::Hours(1);
  o.catalog_refresh = absl::Milliseconds(100);
  o.records_deadline = absl::Seconds(2);
  o.tls = ca->Server("recommend", /*require_client_cert=*/true);
  auto server = RecommendServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();

  const std::string target = absl::StrCat("127.0.0.1:", (*server)->port());
  auto stub =
      v1::RecommendationService::NewStub(grpc::CreateChannel(target, *ChannelCredentialsFor(ca->Client("client"))));
  v1::RecommendRequest request;
  request.set_learner("u1");
  request.set_k(5);
  v1::RecommendResponse response;
  grpc::Status status;
  // Until the model is loaded and the catalog was read (over mutual TLS).
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    status = stub->Recommend(&ctx, request, &response);
    if (status.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_FALSE(response.cold_start());  // the history came from records over mutual TLS
  ASSERT_GT(response.recommendations_size(), 0);
  EXPECT_EQ(response.recommendations(0).course().course_id(), "c_sf2");

  // Callers without a client certificate, or in plaintext, are refused.
  for (const TlsConfig& caller : {ca->Client(""), TlsConfig{}}) {
    auto refused = v1::RecommendationService::NewStub(grpc::CreateChannel(target, *ChannelCredentialsFor(caller)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    EXPECT_EQ(refused->Recommend(&ctx, request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
}

// A recommender without a client certificate reaches a catalog that only
// serves TLS, but not a record service that demands client certificates:
// learner requests then fail (UNAVAILABLE) instead of silently going cold.
TEST(RecommendServerTlsTest, RecordsRefuseARecommenderWithoutClientCertificate) {
  absl::StatusOr<::lifelong::testing::TestCa> ca = ::lifelong::testing::TestCa::Create("recommend_tls_ca_no_cert");
  ASSERT_TRUE(ca.ok()) << ca.status();
  const absl::Time now = absl::Now();
  FakeRecords records;
  records.Add("u1", vocab::kCompleted, "c_sf1", now - absl::Hours(10));
  FakeCatalog catalog;
  for (const v1::Course& c : testing::TestCatalog(now)) catalog.Put(c);
  auto serve = [&](grpc::Service* service, const std::string& name, bool mutual) {
    GrpcServerOptions o;
    o.credentials = *ServerCredentialsFor(ca->Server(name, mutual));
    auto s = StartGrpcServer(o, {service});
    EXPECT_TRUE(s.ok()) << s.status();
    (*s)->SetServing(true);
    return *std::move(s);
  };
  std::unique_ptr<RunningGrpcServer> records_server = serve(&records, "records", true);
  std::unique_ptr<RunningGrpcServer> catalog_server = serve(&catalog, "catalog", false);

  const std::string model_dir = testing::NewTempDir("tls_models_no_cert");
  ASSERT_TRUE(testing::WriteTestModel(model_dir).ok());
  RecommendServerOptions o;
  o.model_dir = model_dir;
  o.records_target = absl::StrCat("127.0.0.1:", records_server->port());
  o.catalog_target = absl::StrCat("127.0.0.1:", catalog_server->port());
  o.model_poll = absl::Hours(1);
  o.catalog_refresh = absl::Milliseconds(100);
  o.records_deadline = absl::Seconds(2);
  o.tls = ca->Client("");  // serves plaintext; calls with TLS, no client certificate
  auto server = RecommendServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::RecommendationService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  auto recommend = [&](const std::string& learner) {
    v1::RecommendRequest request;
    request.set_learner(learner);
    request.set_k(3);
    v1::RecommendResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->Recommend(&ctx, request, &response);
  };
  // An anonymous request needs the model and the catalog (read over TLS).
  grpc::Status anonymous;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    anonymous = recommend("");
    if (anonymous.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  ASSERT_TRUE(anonymous.ok()) << anonymous.error_code() << " " << anonymous.error_message();
  EXPECT_EQ(recommend("u1").error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace lifelong::recommend
