// catalog_server (the real binary) refuses a request over
// kCatalogMaxReceiveBytes in the transport, before any handler parses it,
// and still answers the largest request validation accepts.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/course_validation.h"
#include "services/catalog/test_courses.h"
#include "tests/testing/service_process.h"
#include "tests/testing/subprocess.h"

namespace lifelong::catalog {
namespace {

std::unique_ptr<grpc::ClientContext> Call() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

// Before: gRPC's 64 MiB default. A caller without credentials could make the
// server parse 64 MiB of empty strings (some 2 GB) per call before the handler
// refused it; here, just over the limit, the handler would have answered
// INVALID_ARGUMENT (over kMaxBatchGet ids) after parsing.
TEST(CatalogServerLimits, RequestsOverTheReceiveLimitAreRefusedBeforeTheyAreParsed) {
  const std::string dir = lifelong::testing::FreshTempDir("catalog_limits");
  lifelong::testing::ServiceOptions o;
  o.binary = "services/catalog/catalog_server";
  o.data_dir = dir + "/catalog";
  o.port_file = dir + "/catalog.port";
  o.log_path = dir + "/catalog.log";
  o.flags = {"--metrics_port=0", "--backup_dir=off"};
  absl::StatusOr<lifelong::testing::ServiceProcess> server = lifelong::testing::ServiceProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = lifelong::v1::CourseCatalogService::NewStub(
      grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));

  lifelong::v1::BatchGetCoursesRequest big;
  for (int i = 0; i <= kCatalogMaxReceiveBytes / 2; ++i) big.add_ids("");
  ASSERT_GT(big.ByteSizeLong(), static_cast<size_t>(kCatalogMaxReceiveBytes));
  lifelong::v1::BatchGetCoursesResponse out;
  grpc::Status s = stub->BatchGetCourses(Call().get(), big, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  // The largest course validation accepts: every capped field at its cap, in
  // 4-byte characters where characters are counted.
  const std::string wide = "\xF0\xA0\x80\x80";  // U+20000, 4 bytes in UTF-8
  auto repeat = [&](int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += wide;
    return out;
  };
  lifelong::v1::CreateCourseRequest create;
  lifelong::v1::Course* c = create.mutable_course();
  *c = testing::ValidCourse("c_largest");
  c->set_title(repeat(kMaxTitleChars));
  c->set_description(repeat(kMaxDescriptionChars));
  for (int i = 0; i < kMaxSessions; ++i) {
    lifelong::v1::Session* session = c->add_sessions();
    session->mutable_start_time()->set_seconds(1800000000 + i * 7200);
    session->mutable_end_time()->set_seconds(1800000000 + i * 7200 + 3600);
    session->set_room(repeat(kMaxRoomChars));
  }
  for (int i = 0; i < kMaxTags; ++i) c->add_tags(repeat(kMaxTagChars - 2) + std::to_string(10 + i));
  ASSERT_LT(create.ByteSizeLong(), static_cast<size_t>(kCatalogMaxReceiveBytes) / 3) << "keep the headroom documented";
  lifelong::v1::Course created;
  s = stub->CreateCourse(Call().get(), create, &created);
  EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message().substr(0, 300);
  EXPECT_EQ(created.sessions_size(), kMaxSessions);
}

}  // namespace
}  // namespace lifelong::catalog
