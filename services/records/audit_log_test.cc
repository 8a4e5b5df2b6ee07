#include "services/records/audit_log.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "tests/testing/test_store.h"

namespace lifelong::records {
namespace {

using ::lifelong::testing::FakeClock;
using ::lifelong::testing::FreshStore;

std::vector<AuditEvent> AllRows(RecordStore* store) {
  absl::StatusOr<AuditPage> page = store->ListAudit({.page_size = 1000});
  EXPECT_TRUE(page.ok()) << page.status();
  return page.ok() ? page->events : std::vector<AuditEvent>{};
}

TEST(AuditLog, UnauthenticatedFloodIsSampledAndCounted) {
  auto store = FreshStore("audit_flood");
  FakeClock clock;
  AuditLog log(store.get(), {.window = absl::Minutes(1), .sampled_per_window = 10, .now = clock.fn()});
  for (int i = 0; i < 2000; ++i) {
    clock.now += absl::Microseconds(10);
    log.RecordUnauthenticated(i % 2 ? "10.0.0.7" : "10.0.0.8", "/svc/Echo",
                              absl::UnauthenticatedError("bearer token: malformed"));
  }
  EXPECT_EQ(AllRows(store.get()).size(), 10u);
  log.Flush();
  std::vector<AuditEvent> rows = AllRows(store.get());
  ASSERT_EQ(rows.size(), 11u);
  const AuditEvent& summary = rows.front();  // newest first
  EXPECT_EQ(summary.subject, kUnauthenticatedSubject);
  EXPECT_EQ(summary.operation, kSampledOperation);
  EXPECT_EQ(summary.outcome, "UNAUTHENTICATED");
  EXPECT_TRUE(absl::StartsWith(summary.detail, "1990 more refused calls")) << summary.detail;
  EXPECT_NE(summary.detail.find("10.0.0.7 (995)"), std::string::npos) << summary.detail;
  EXPECT_EQ(log.stats().unauthenticated, 2000u);
  EXPECT_EQ(log.stats().refusals_sampled_out, 1990u);
  // A sampled row names the address.
  EXPECT_TRUE(absl::StartsWith(rows.back().detail, "from 10.0.0.8: ")) << rows.back().detail;
  // Nothing new: a second flush writes nothing.
  log.Flush();
  EXPECT_EQ(AllRows(store.get()).size(), 11u);
}

TEST(AuditLog, ANewWindowSummarizesTheLastAndSamplesAgain) {
  auto store = FreshStore("audit_window");
  FakeClock clock;
  AuditLog log(store.get(), {.window = absl::Minutes(1), .sampled_per_window = 2, .now = clock.fn()});
  for (int i = 0; i < 5; ++i) log.RecordUnauthenticated("", "op", absl::UnauthenticatedError("missing"));
  EXPECT_EQ(AllRows(store.get()).size(), 2u);
  clock.now += absl::Minutes(1);
  log.RecordUnauthenticated("", "op", absl::UnauthenticatedError("missing"));
  std::vector<AuditEvent> rows = AllRows(store.get());
  ASSERT_EQ(rows.size(), 4u);  // 2 samples, the summary of 3, a fresh sample
  int summaries = 0;
  for (const AuditEvent& e : rows) summaries += e.operation == kSampledOperation;
  EXPECT_EQ(summaries, 1);
}

TEST(AuditLog, RefusalsOfAVerifiedPrincipalKeepSubjectAndRole) {
  auto store = FreshStore("audit_principal");
  FakeClock clock;
  AuditLog log(store.get(), {.sampled_per_window = 3, .now = clock.fn()});
  for (int i = 0; i < 20; ++i) {
    log.Record({.subject = "u1", .role = "learner", .operation = "op", .outcome = "PERMISSION_DENIED"});
  }
  for (int i = 0; i < 50; ++i) {
    log.Record({.subject = "u2", .role = "learner", .operation = "op", .outcome = "RESOURCE_EXHAUSTED"});
    log.Record({.subject = "kiosk-1", .role = "kiosk", .operation = "op", .outcome = "RESOURCE_EXHAUSTED"});
  }
  log.Flush();
  std::map<std::string, int> rows_of, summaries_of;
  for (const AuditEvent& e : AllRows(store.get())) {
    EXPECT_FALSE(e.subject.empty());
    EXPECT_FALSE(e.role.empty());
    (e.operation == kSampledOperation ? summaries_of : rows_of)[e.subject]++;
  }
  EXPECT_EQ(rows_of["u1"], 20) << "denials within the rate limit are each written";
  EXPECT_EQ(rows_of["u2"], 3);
  EXPECT_EQ(summaries_of["u2"], 1);
  EXPECT_EQ(rows_of["kiosk-1"], 3) << "one principal's flood does not use up another's sample";
  EXPECT_EQ(summaries_of["kiosk-1"], 1);
}

TEST(AuditLog, UnauthenticatedCallsAreLimitedPerAddress) {
  auto store = FreshStore("audit_address");
  FakeClock clock;
  AuditLog log(store.get(), {.unauthenticated_burst = 5, .unauthenticated_per_second = 1, .now = clock.fn()});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(log.AllowUnauthenticated("10.0.0.9")) << i;
  EXPECT_FALSE(log.AllowUnauthenticated("10.0.0.9"));
  EXPECT_TRUE(log.AllowUnauthenticated("10.0.0.10")) << "another address has its own budget";
  clock.now += absl::Seconds(2);
  EXPECT_TRUE(log.AllowUnauthenticated("10.0.0.9"));
  EXPECT_TRUE(log.AllowUnauthenticated("10.0.0.9"));
  EXPECT_FALSE(log.AllowUnauthenticated("10.0.0.9"));
  EXPECT_EQ(log.stats().address_limited, 2u);
}

TEST(AuditLog, TrackedAddressesAreBounded) {
  auto store = FreshStore("audit_address_bound");
  FakeClock clock;
  AuditLog log(
      store.get(),
      {.unauthenticated_burst = 2, .unauthenticated_per_second = 1, .max_tracked_addresses = 100, .now = clock.fn()});
  for (int i = 0; i < 1000; ++i) {
    clock.now += absl::Seconds(1);
    EXPECT_TRUE(log.AllowUnauthenticated(absl::StrCat("10.1.", i / 256, ".", i % 256)));
  }
  // A limited address stays limited while the table is under pressure.
  ASSERT_TRUE(log.AllowUnauthenticated("10.9.9.9"));
  ASSERT_TRUE(log.AllowUnauthenticated("10.9.9.9"));
  EXPECT_FALSE(log.AllowUnauthenticated("10.9.9.9"));
}

TEST(AuditLog, AddressOfPeer) {
  EXPECT_EQ(AddressOfPeer("ipv4:127.0.0.1:5555"), "127.0.0.1");
  EXPECT_EQ(AddressOfPeer("ipv6:[::1]:5555"), "::1");
  EXPECT_EQ(AddressOfPeer("ipv6:%5B::1%5D:5555"), "::1");
  EXPECT_EQ(AddressOfPeer("unix:/tmp/sock"), "unix:/tmp/sock");
  EXPECT_EQ(AddressOfPeer(""), "");
  EXPECT_EQ(AddressOfPeer("ipv6:[::1"), "[::1");
}

TEST(AuditLog, CallRowsCarryThePrincipalAndTheInjectedTime) {
  auto store = FreshStore("audit_calls");
  FakeClock clock;
  AuditLog log(store.get(), {.now = clock.fn()});
  auth::Principal teacher;
  teacher.subject = "teacher-li";
  teacher.role = auth::Role::kTeacher;
  log.RecordCall(teacher, "/lifelong.v1.LearningRecordService/GetTranscript", "u000001", "OK", "");
  clock.now += absl::Seconds(3);
  log.RecordCall(teacher, "xapi:GET /statements", "", "HTTP 403", "statement: not yours");
  std::vector<AuditEvent> rows = AllRows(store.get());  // newest first
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].time_us, absl::ToUnixMicros(clock.now - absl::Seconds(3))) << "the injected clock, not the store's";
  EXPECT_EQ(rows[1].subject, "teacher-li");
  EXPECT_EQ(rows[1].role, "teacher");
  EXPECT_EQ(rows[1].learner, "u000001");
  EXPECT_EQ(rows[1].operation, "/lifelong.v1.LearningRecordService/GetTranscript");
  EXPECT_EQ(rows[1].outcome, "OK");
  EXPECT_EQ(rows[0].time_us, absl::ToUnixMicros(clock.now));
  EXPECT_EQ(rows[0].operation, "xapi:GET /statements");
  EXPECT_EQ(rows[0].outcome, "HTTP 403");
  EXPECT_EQ(rows[0].detail, "statement: not yours");
  EXPECT_EQ(log.stats().rows_written, 2u);
  // Rate refusals of a principal are sampled like Record()'s.
  for (int i = 0; i < 30; ++i) log.RecordCall(teacher, "xapi:GET /statements", "", "RESOURCE_EXHAUSTED", "slow down");
  EXPECT_EQ(log.stats().rows_written, 2u + 10u);
  EXPECT_EQ(log.stats().refusals_sampled_out, 20u);
}

}  // namespace
}  // namespace lifelong::records
