#include "tests/testing/service_process.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "proto/lifelong/v1/catalog.grpc.pb.h"

namespace lifelong::testing {
namespace {

// A catalog_server under `dir` with its metrics port picked by itself.
ServiceOptions CatalogOptions(const std::string& dir) {
  ServiceOptions o;
  o.binary = "services/catalog/catalog_server";
  o.data_dir = dir + "/db";
  o.port_file = dir + "/catalog.port";
  o.log_path = dir + "/catalog.log";
  o.host = "127.0.0.1";
  o.flags = {"--metrics_port=0"};
  return o;
}

TEST(ServiceProcess, StartsAServerThatAnswersAndStopsIt) {
  const ServiceOptions o = CatalogOptions(FreshTempDir("service_process"));
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

TEST(LoggedPort, ReadsThePortTheServerBoundFromItsOwnStartInAnAppendedLog) {
  const ServiceOptions o = CatalogOptions(FreshTempDir("logged_port"));
  int first_port = 0;
  for (int start = 0; start < 2; ++start) {
    const size_t from = FileSize(o.log_path);
    EXPECT_EQ(from > 0, start > 0) << "the second start appends to the first's log";
    absl::StatusOr<ServiceProcess> catalog = ServiceProcess::Start(o);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    absl::StatusOr<int> metrics_port = catalog->LoggedPort("serving", "metrics_port");
    ASSERT_TRUE(metrics_port.ok()) << metrics_port.status();
    EXPECT_NE(*metrics_port, catalog->port());
    EXPECT_TRUE(AcceptsConnections(*metrics_port)) << *metrics_port;
    if (start == 0) {
      first_port = *metrics_port;
    } else if (*metrics_port != first_port) {
      EXPECT_FALSE(AcceptsConnections(first_port)) << "the first start's port, read from the log's start";
    }
    ASSERT_TRUE(catalog->Stop(SIGTERM).ok());
  }
}

TEST(LoggedPort, SaysWhenTheLineNeverComes) {
  const std::string dir = FreshTempDir("logged_port_missing");
  const std::string log = dir + "/server.log";
  std::ofstream(log) << "{\"event\":\"starting\"}\nnot json\n{\"event\":\"serving\",\"port\":5}\n";
  absl::StatusOr<int> port = LoggedPort(log, 0, "serving", "metrics_port", std::chrono::milliseconds(200));
  EXPECT_EQ(port.status().code(), absl::StatusCode::kNotFound) << port.status();
  EXPECT_EQ(LoggedPort(log, 0, "serving", "port").value_or(0), 5);
  port = LoggedPort(log, 0, "xapi_serving", "port", std::chrono::milliseconds(200));
  EXPECT_EQ(port.status().code(), absl::StatusCode::kDeadlineExceeded) << port.status();
  port = LoggedPort(dir + "/no_such.log", 0, "serving", "port", std::chrono::milliseconds(100));
  EXPECT_EQ(port.status().code(), absl::StatusCode::kDeadlineExceeded) << port.status();
}

}  // namespace
}  // namespace lifelong::testing
