#include "tests/testing/service_process.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "proto/lifelong/v1/catalog.grpc.pb.h"

namespace lifelong::testing {
namespace {

TEST(ServiceProcess, StartsAServerThatAnswersAndStopsIt) {
  const std::string dir = FreshTempDir("service_process");
  ServiceOptions o;
  o.binary = "services/catalog/catalog_server";
  o.data_dir = dir + "/db";
  o.port_file = dir + "/catalog.port";
  o.log_path = dir + "/catalog.log";
  o.host = "127.0.0.1";
  o.flags = {"--metrics_port=0"};
  absl::StatusOr<ServiceProcess> catalog = ServiceProcess::Start(o);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_GT(catalog->port(), 0);
  auto stub = lifelong::v1::CourseCatalogService::NewStub(
      grpc::CreateChannel(catalog->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  lifelong::v1::GetCourseRequest req;
  req.set_id("no_such_course");
  lifelong::v1::Course course;
  EXPECT_EQ(stub->GetCourse(&ctx, req, &course).error_code(), grpc::StatusCode::NOT_FOUND);
  absl::StatusOr<int> status = catalog->Stop(SIGTERM);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status)) << *status;
}

TEST(ServiceProcess, RefusesMissingOptionsAndReportsAServerThatNeverServes) {
  ServiceOptions o;
  EXPECT_EQ(ServiceProcess::Start(o).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string dir = FreshTempDir("service_process_bad");
  o.binary = "services/catalog/catalog_server";
  o.port_file = dir + "/never.port";
  o.log_path = dir + "/bad.log";
  o.flags = {"--no_such_flag_anywhere"};  // the server exits before serving
  o.start_timeout = std::chrono::seconds(10);
  absl::StatusOr<ServiceProcess> bad = ServiceProcess::Start(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("catalog_server"), absl::string_view::npos) << bad.status();
}

}  // namespace
}  // namespace lifelong::testing
