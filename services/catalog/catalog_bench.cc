// catalog_bench: a client for a running catalog_server, for smoke checks and
// load measurements. One JSON line per run on stdout.
//
//   catalog_bench --target=127.0.0.1:7002 --mode=health [--health_service=NAME]
//       grpc.health.v1.Health/Check for the server (or one service); exit 0
//       when SERVING.
//   catalog_bench --mode=seed --count=2000
//       creates courses b00000..b01999 (Chinese demo-like data; taken ids are
//       skipped) and reports the create latency.
//   catalog_bench --mode=get|list|list_all|info|echo --threads=4 --seconds=5
//       closed-loop load: each thread issues calls back to back; reports
//       calls/s and latency percentiles. get picks random seeded ids; list
//       reads one page (--page_size) with a random filter; list_all pages
//       through the whole catalog (as the recommender's cache does) per call.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7002", "catalog_server address");
ABSL_FLAG(std::string, mode, "health", "health | seed | get | list | list_all | info | echo");
ABSL_FLAG(int, count, 2000, "seed: courses to create; get: ids drawn from the first count");
ABSL_FLAG(int, threads, 4, "concurrent client threads");
ABSL_FLAG(double, seconds, 5, "load duration");
ABSL_FLAG(int, page_size, 50, "list: page size");
ABSL_FLAG(std::string, health_service, "", "health: service name to check (\"\" = whole server)");

namespace {

using lifelong::v1::Course;
using lifelong::v1::CourseCatalogService;

constexpr const char* kCategories[] = {"书法", "绘画", "太极", "合唱", "摄影", "智能手机", "英语", "烹饪"};
constexpr const char* kXuequ[] = {"和平里学区", "东四学区", "朝阳门学区", "景山学区", "东华门学区"};
constexpr const char* kJiedao[] = {"和平里街道", "东四街道", "朝阳门街道", "景山街道", "东华门街道"};

std::string SeedId(int i) { return absl::StrFormat("b%05d", i); }

Course SeedCourse(int i) {
  Course c;
  c.set_id(SeedId(i));
  const char* category = kCategories[i % 8];
  c.set_title(absl::StrFormat("%s 第%d期", category, i));
  c.set_description(absl::StrFormat("东城区终身学习课程：%s，面向社区居民开放。", category));
  c.set_category(category);
  c.add_tags(category);
  c.mutable_provider()->set_name("东城区社区学院");
  c.mutable_provider()->set_kind(lifelong::v1::Provider::COMMUNITY_SCHOOL);
  c.set_mode(i % 3 == 0 ? Course::ONLINE : Course::OFFLINE);
  if (c.mode() == Course::OFFLINE) {
    c.mutable_venue()->set_id(absl::StrFormat("v%02d", i % 40));
    c.mutable_venue()->set_name("社区活动中心");
    c.mutable_venue()->set_xuequ(kXuequ[i % 5]);
    c.mutable_venue()->set_jiedao(kJiedao[i % 5]);
    c.mutable_venue()->mutable_location()->set_latitude(39.92 + (i % 40) * 0.001);
    c.mutable_venue()->mutable_location()->set_longitude(116.41 + (i % 40) * 0.001);
  }
  auto* s = c.add_sessions();
  s->mutable_start_time()->set_seconds(1796000000 + i * 3600);
  s->mutable_end_time()->set_seconds(1796000000 + i * 3600 + 5400);
  c.set_capacity(30);
  c.set_seats_taken(i % 31);
  c.set_credits(1);
  c.set_hours(12);
  c.set_level(static_cast<Course::Level>(1 + i % 3));
  c.add_audiences(static_cast<Course::Audience>(1 + i % 4));
  c.set_language("zh-CN");
  c.set_state(Course::OPEN);
  return c;
}

struct Result {
  std::vector<double> latencies_us;
  int errors = 0;
};

void Report(const std::string& mode, int threads, double seconds, std::vector<Result>& results) {
  std::vector<double> all;
  int errors = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    errors += r.errors;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf(
      "{\"mode\":\"%s\",\"threads\":%d,\"seconds\":%.2f,\"calls\":%zu,\"errors\":%d,"
      "\"calls_per_s\":%.1f,\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f}\n",
      mode.c_str(), threads, seconds, all.size(), errors, all.size() / seconds, pct(0.5), pct(0.9), pct(0.99),
      all.empty() ? 0.0 : all.back());
}

int Health(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // HealthCheckRequest{service}: field 1, length-delimited (names < 128 bytes).
  std::string body;
  if (!service.empty()) {
    body.push_back(0x0a);
    body.push_back(static_cast<char>(service.size()));
    body += service;
  }
  grpc::Slice slice(body);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (status.ok() && response.Dump(&slices).ok()) {
    for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status: SERVING(1)} is the two bytes 08 01.
  const bool serving = bytes == std::string("\x08\x01", 2);
  std::printf("{\"mode\":\"health\",\"service\":\"%s\",\"rpc_ok\":%s,\"serving\":%s}\n", service.c_str(),
              status.ok() ? "true" : "false", serving ? "true" : "false");
  return serving ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials());
  if (mode == "health") return Health(channel, absl::GetFlag(FLAGS_health_service));
  auto stub = CourseCatalogService::NewStub(channel);
  const int count = absl::GetFlag(FLAGS_count);

  if (mode == "seed") {
    std::vector<Result> results(1);
    const absl::Time start = absl::Now();
    int created = 0;
    for (int i = 0; i < count; ++i) {
      grpc::ClientContext ctx;
      lifelong::v1::CreateCourseRequest req;
      *req.mutable_course() = SeedCourse(i);
      Course out;
      const absl::Time t0 = absl::Now();
      grpc::Status s = stub->CreateCourse(&ctx, req, &out);
      if (s.ok()) {
        ++created;
        results[0].latencies_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      } else if (s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
        ++results[0].errors;
        std::fprintf(stderr, "create %s: %s\n", req.course().id().c_str(), s.error_message().c_str());
      }
    }
    Report("seed", 1, absl::ToDoubleSeconds(absl::Now() - start), results);
    return results[0].errors == 0 ? 0 : 1;
  }

  const int threads = absl::GetFlag(FLAGS_threads);
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  const int page_size = absl::GetFlag(FLAGS_page_size);
  std::vector<Result> results(threads);
  std::atomic<bool> bad_mode{false};
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      Result& r = results[t];
      while (absl::Now() < end) {
        const absl::Time t0 = absl::Now();
        grpc::Status s;
        if (mode == "get") {
          grpc::ClientContext ctx;
          lifelong::v1::GetCourseRequest req;
          req.set_id(SeedId(std::uniform_int_distribution<int>(0, count - 1)(rng)));
          Course out;
          s = stub->GetCourse(&ctx, req, &out);
        } else if (mode == "list") {
          grpc::ClientContext ctx;
          lifelong::v1::ListCoursesRequest req;
          req.set_page_size(page_size);
          req.set_xuequ(kXuequ[std::uniform_int_distribution<int>(0, 4)(rng)]);
          lifelong::v1::ListCoursesResponse out;
          s = stub->ListCourses(&ctx, req, &out);
        } else if (mode == "list_all") {
          lifelong::v1::ListCoursesRequest req;
          req.set_page_size(1000);
          do {
            grpc::ClientContext ctx;
            lifelong::v1::ListCoursesResponse out;
            s = stub->ListCourses(&ctx, req, &out);
            req.set_page_token(out.next_page_token());
          } while (s.ok() && !req.page_token().empty());
        } else if (mode == "info") {
          grpc::ClientContext ctx;
          lifelong::v1::CatalogInfo out;
          s = stub->GetCatalogInfo(&ctx, {}, &out);
        } else if (mode == "echo") {
          grpc::ClientContext ctx;
          lifelong::v1::EchoRequest req;
          req.set_payload("ping");
          lifelong::v1::EchoResponse out;
          s = stub->Echo(&ctx, req, &out);
        } else {
          bad_mode = true;
          return;
        }
        if (s.ok()) {
          r.latencies_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
        } else {
          ++r.errors;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  if (bad_mode) {
    std::fprintf(stderr, "unknown --mode=%s\n", mode.c_str());
    return 2;
  }
  Report(mode, threads, absl::ToDoubleSeconds(absl::Now() - start), results);
  return 0;
}
