#include "services/common/metrics.h"

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace lifelong::metrics {
namespace {

TEST(MetricsRegistry, RendersGoldenExposition) {
  MetricsRegistry registry;
  absl::StatusOr<CounterFamily*> requests =
      registry.AddCounterFamily("test_requests_total", "Requests served.", {"method", "code"});
  ASSERT_TRUE(requests.ok()) << requests.status();
  (*(*requests)->WithLabels({"Get", "OK"}))->Increment(3);
  (*(*requests)->WithLabels({"Get", "NOT_FOUND"}))->Increment();
  absl::StatusOr<Gauge*> size = registry.AddGauge("test_size", "Items held.");
  ASSERT_TRUE(size.ok());
  (*size)->Set(2.5);
  absl::StatusOr<Histogram*> latency = registry.AddHistogram("test_latency_seconds", "Latency.", {0.125, 1});
  ASSERT_TRUE(latency.ok());
  (*latency)->Observe(0.0625);
  (*latency)->Observe(0.125);  // bounds are inclusive
  (*latency)->Observe(0.5);
  (*latency)->Observe(7);
  ASSERT_TRUE(registry
                  .AddCallback(MetricType::kGauge, "test_callback", "From a callback.", {{"store", "records"}},
                               [] { return 42.0; })
                  .ok());

  EXPECT_EQ(registry.Render(),
            "# HELP test_callback From a callback.\n"
            "# TYPE test_callback gauge\n"
            "test_callback{store=\"records\"} 42\n"
            "# HELP test_latency_seconds Latency.\n"
            "# TYPE test_latency_seconds histogram\n"
            "test_latency_seconds_bucket{le=\"0.125\"} 2\n"
            "test_latency_seconds_bucket{le=\"1\"} 3\n"
            "test_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "test_latency_seconds_sum 7.6875\n"
            "test_latency_seconds_count 4\n"
            "# HELP test_requests_total Requests served.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{method=\"Get\",code=\"NOT_FOUND\"} 1\n"
            "test_requests_total{method=\"Get\",code=\"OK\"} 3\n"
            "# HELP test_size Items held.\n"
            "# TYPE test_size gauge\n"
            "test_size 2.5\n");
}

TEST(MetricsRegistry, LabelledHistogramPutsLeLast) {
  MetricsRegistry registry;
  auto family = registry.AddHistogramFamily("h", "x", {"method"}, {1});
  ASSERT_TRUE(family.ok());
  (*(*family)->WithLabels({"A"}))->Observe(2);
  EXPECT_EQ(registry.Render(),
            "# HELP h x\n# TYPE h histogram\n"
            "h_bucket{method=\"A\",le=\"1\"} 0\n"
            "h_bucket{method=\"A\",le=\"+Inf\"} 1\n"
            "h_sum{method=\"A\"} 2\n"
            "h_count{method=\"A\"} 1\n");
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  auto family = registry.AddCounterFamily("c_total", "line1\nback\\slash \"quoted\"", {"v"});
  ASSERT_TRUE(family.ok());
  (*(*family)->WithLabels({"a\"b\\c\nd 课程"}))->Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP c_total line1\\nback\\\\slash \"quoted\"\n"
            "# TYPE c_total counter\n"
            "c_total{v=\"a\\\"b\\\\c\\nd 课程\"} 1\n");
}

TEST(MetricsRegistry, RejectsBadNames) {
  MetricsRegistry registry;
  EXPECT_EQ(registry.AddCounter("1abc", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("a-b", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounterFamily("ok", "x", {"__reserved"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounterFamily("ok", "x", {"a", "a"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogramFamily("h", "x", {"le"}, {1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("h", "x", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("h", "x", {2, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("h", "x", {1, std::numeric_limits<double>::infinity()}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Render(), "");
}

TEST(MetricsRegistry, ReAddingSameDefinitionReturnsSameFamily) {
  MetricsRegistry registry;
  auto first = registry.AddCounterFamily("c_total", "help", {"a"});
  auto second = registry.AddCounterFamily("c_total", "help", {"a"});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(registry.AddCounterFamily("c_total", "other help", {"a"}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddGaugeFamily("c_total", "help", {"a"}).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddCounterFamily("c_total", "help", {"b"}).status().code(), absl::StatusCode::kAlreadyExists);
  auto h1 = registry.AddHistogram("h", "x", {1, 2});
  ASSERT_TRUE(h1.ok());
  EXPECT_EQ(registry.AddHistogram("h", "x", {1, 3}).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(MetricsRegistry, WrongLabelCountIsInvalidArgument) {
  MetricsRegistry registry;
  auto family = registry.AddGaugeFamily("g", "x", {"a", "b"});
  ASSERT_TRUE(family.ok());
  EXPECT_EQ((*family)->WithLabels({"only one"}).status().code(), absl::StatusCode::kInvalidArgument);
  auto child = (*family)->WithLabels({"x", "y"});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(*child, *(*family)->WithLabels({"x", "y"}));
}

TEST(MetricsRegistry, CallbacksShareNameWithDistinctLabels) {
  MetricsRegistry registry;
  double value = 1;
  ASSERT_TRUE(
      registry.AddCallback(MetricType::kCounter, "w_total", "Writes.", {{"svc", "b"}}, [&value] { return value; })
          .ok());
  ASSERT_TRUE(
      registry.AddCallback(MetricType::kCounter, "w_total", "Writes.", {{"svc", "a"}}, [] { return 7.0; }).ok());
  EXPECT_EQ(registry.AddCallback(MetricType::kCounter, "w_total", "Writes.", {{"svc", "a"}}, [] { return 8.0; }).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddCallback(MetricType::kHistogram, "x", "x", {}, [] { return 0.0; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("w_total", "Writes.").status().code(), absl::StatusCode::kAlreadyExists);
  value = 5;  // sampled at render time
  EXPECT_EQ(registry.Render(),
            "# HELP w_total Writes.\n# TYPE w_total counter\n"
            "w_total{svc=\"a\"} 7\n"
            "w_total{svc=\"b\"} 5\n");
}

TEST(FormatValue, UsesShortestRoundTripAndSpecialValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1), "1");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry registry;
  Counter* counter = *registry.AddCounter("c_total", "x");
  Gauge* gauge = *registry.AddGauge("g", "x");
  Histogram* histogram = *registry.AddHistogram("h", "x", {0.5});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        counter->Increment();
        gauge->Add(1);
        histogram->Observe(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter->Value(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(gauge->Value(), double{kThreads * kPerThread});
  Histogram::Snapshot s = histogram->Read();
  EXPECT_EQ(s.cumulative[0], 0u);
  EXPECT_EQ(s.cumulative[1], uint64_t{kThreads * kPerThread});
  EXPECT_EQ(s.sum, double{kThreads * kPerThread});
}

}  // namespace
}  // namespace lifelong::metrics
