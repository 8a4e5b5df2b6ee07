// A small Prometheus metrics registry: counters, gauges and histograms with
// fixed buckets, each optionally split by labels, plus callback metrics that
// are sampled at scrape time. Render() writes the Prometheus text exposition
// format 0.0.4.
//
// Hot path: Counter::Increment, Gauge::Set/Add and Histogram::Observe are
// lock-free (relaxed atomics). Resolving a labelled child (WithLabels) takes
// the family's mutex; resolve children once and keep the pointer where calls
// are frequent. Children and families are never removed: every pointer handed
// out stays valid for the registry's lifetime.
//
// Thread-safety: every method of every class here may be called from any
// thread.
#ifndef LIFELONG_SERVICES_COMMON_METRICS_H_
#define LIFELONG_SERVICES_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace lifelong::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// A monotonically increasing integer count.
class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta);
  void Increment() { Add(1); }
  void Decrement() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into fixed buckets (upper bounds inclusive, as
// Prometheus' `le`) and sums them.
class Histogram {
 public:
  // `bounds` must be strictly increasing and finite (checked by the registry).
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    // Cumulative counts: cumulative[i] observations <= bounds[i]; the last
    // element (index bounds.size()) is the total count (+Inf bucket).
    std::vector<uint64_t> cumulative;
    double sum = 0;
  };
  // A near-consistent copy (buckets read one by one while Observe may run);
  // the +Inf bucket always equals the count.
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Bucket bounds for request latencies in seconds: 0.5 ms .. 10 s.
std::vector<double> DefaultLatencyBuckets();

// Common part of the families (internal to the registry; not used directly).
class FamilyBase {
 public:
  FamilyBase(MetricType type, std::string name, std::string help, std::vector<std::string> label_names)
      : type_(type), name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;

  MetricType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends this family's sample lines (no HELP/TYPE header) to `out`.
  virtual void RenderSamples(std::string* out) const = 0;

 protected:
  absl::Status CheckLabelCount(const std::vector<std::string>& values) const;

 private:
  const MetricType type_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

// A metric split by label values; T is Counter, Gauge or Histogram.
template <typename T>
class Family : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  // The child for `label_values` (one per label name, in order), created on
  // first use. INVALID_ARGUMENT when the number of values is wrong.
  absl::StatusOr<T*> WithLabels(const std::vector<std::string>& label_values);

  void RenderSamples(std::string* out) const override;

 private:
  friend class MetricsRegistry;
  std::vector<double> bounds_;  // histograms only; set before publication
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

template <>
void Family<Counter>::RenderSamples(std::string* out) const;
template <>
void Family<Gauge>::RenderSamples(std::string* out) const;
template <>
void Family<Histogram>::RenderSamples(std::string* out) const;
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Owns metric families and renders them.
class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each Add* returns the family named `name`, creating it. Adding a name
  // again with the same type, help, label names (and bounds) returns the
  // existing family; with anything different it fails with ALREADY_EXISTS.
  // INVALID_ARGUMENT for a name not matching [a-zA-Z_:][a-zA-Z0-9_:]*, a label
  // name not matching [a-zA-Z_][a-zA-Z0-9_]* (or starting with "__", or "le"
  // on a histogram), duplicate label names, or bounds that are empty, not
  // finite or not strictly increasing.
  absl::StatusOr<CounterFamily*> AddCounterFamily(absl::string_view name, absl::string_view help,
                                                  std::vector<std::string> label_names);
  absl::StatusOr<GaugeFamily*> AddGaugeFamily(absl::string_view name, absl::string_view help,
                                              std::vector<std::string> label_names);
  absl::StatusOr<HistogramFamily*> AddHistogramFamily(absl::string_view name, absl::string_view help,
                                                      std::vector<std::string> label_names, std::vector<double> bounds);

  // Unlabelled shorthands: the family's only child.
  absl::StatusOr<Counter*> AddCounter(absl::string_view name, absl::string_view help);
  absl::StatusOr<Gauge*> AddGauge(absl::string_view name, absl::string_view help);
  absl::StatusOr<Histogram*> AddHistogram(absl::string_view name, absl::string_view help, std::vector<double> bounds);

  // Registers a sample computed by `fn` at every Render() (e.g. a store's
  // size), as a counter or gauge (kHistogram is INVALID_ARGUMENT). Several
  // callbacks may share a name when type, help and label names agree and
  // their label values differ (ALREADY_EXISTS otherwise). `fn` runs on the
  // rendering thread without registry locks held; it must be cheap, must not
  // block, and must stay callable until the last Render() — stop the metrics
  // endpoint before destroying what `fn` reads.
  absl::Status AddCallback(MetricType type, absl::string_view name, absl::string_view help,
                           std::vector<std::pair<std::string, std::string>> labels, std::function<double()> fn);

  // One AddCallback argument list.
  struct CallbackSpec {
    MetricType type;
    std::string name;
    std::string help;
    std::vector<std::pair<std::string, std::string>> labels;
    std::function<double()> fn;
  };
  // AddCallback for each spec in order; stops at the first error and returns
  // it (the specs before it stay registered).
  absl::Status AddCallbacks(std::vector<CallbackSpec> specs);

  // The exposition text (format 0.0.4): families sorted by name, children by
  // label values, each family with its # HELP and # TYPE lines.
  std::string Render() const;

 private:
  class CallbackFamily;

  // Returns the existing family `name` if it matches, nullptr if absent.
  absl::StatusOr<FamilyBase*> FindCompatible(absl::string_view name, MetricType type, absl::string_view help,
                                             const std::vector<std::string>& label_names,
                                             const std::vector<double>* bounds) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  template <typename T>
  absl::StatusOr<Family<T>*> AddFamily(MetricType type, absl::string_view name, absl::string_view help,
                                       std::vector<std::string> label_names, std::vector<double> bounds);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_ ABSL_GUARDED_BY(mu_);
};

// The process-wide registry that services and the interceptors use by
// default. Never destroyed.
MetricsRegistry& DefaultRegistry();

// Formatting helpers of the exposition format, exposed for tests.
// A label value with \ " and newline escaped.
std::string EscapeLabelValue(absl::string_view value);
// HELP text with \ and newline escaped.
std::string EscapeHelp(absl::string_view help);
// Shortest text that parses back to `v`; "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);

}  // namespace lifelong::metrics

#endif  // LIFELONG_SERVICES_COMMON_METRICS_H_
