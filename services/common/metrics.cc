#include "services/common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace lifelong::metrics {
namespace {

void AtomicAdd(std::atomic<double>* target, double delta) {
  double old = target->load(std::memory_order_relaxed);
  while (!target->compare_exchange_weak(old, old + delta, std::memory_order_relaxed)) {
  }
}

bool IsMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = absl::ascii_isalpha(c) || c == '_' || c == ':' || (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

bool IsLabelName(absl::string_view name) {
  if (name.empty() || absl::StartsWith(name, "__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = absl::ascii_isalpha(c) || c == '_' || (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

absl::Status ValidateNames(absl::string_view name, const std::vector<std::string>& label_names, bool histogram) {
  if (!IsMetricName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("name: \"", name, "\" is not a metric name"));
  }
  std::set<std::string> seen;
  for (const std::string& label : label_names) {
    if (!IsLabelName(label) || (histogram && label == "le")) {
      return absl::InvalidArgumentError(absl::StrCat("label_names: \"", label, "\" is not a usable label name"));
    }
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(absl::StrCat("label_names: \"", label, "\" repeated"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateBounds(const std::vector<double>& bounds) {
  if (bounds.empty()) return absl::InvalidArgumentError("bounds: must not be empty");
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      return absl::InvalidArgumentError(absl::StrCat("bounds[", i, "]: must be finite"));
    }
    if (i > 0 && !(bounds[i] > bounds[i - 1])) {
      return absl::InvalidArgumentError(absl::StrCat("bounds[", i, "]: must be increasing"));
    }
  }
  return absl::OkStatus();
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Appends `{a="x",b="y"` plus `extra` (already formatted) and `}`; nothing when
// there are no labels at all.
void AppendLabels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                  absl::string_view extra, std::string* out) {
  if (names.empty() && extra.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out->push_back(',');
    absl::StrAppend(out, names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (!extra.empty()) {
    if (!names.empty()) out->push_back(',');
    out->append(extra.data(), extra.size());
  }
  out->push_back('}');
}

void AppendSample(absl::string_view name, const std::vector<std::string>& names, const std::vector<std::string>& values,
                  absl::string_view extra, absl::string_view value, std::string* out) {
  out->append(name.data(), name.size());
  AppendLabels(names, values, extra, out);
  out->push_back(' ');
  out->append(value.data(), value.size());
  out->push_back('\n');
}

}  // namespace

void Gauge::Add(double delta) { AtomicAdd(&value_, delta); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // First bound >= value: buckets are "less than or equal". NaN goes to +Inf.
  const size_t index =
      std::isnan(value) ? bounds_.size() : std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_, value);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

absl::Status FamilyBase::CheckLabelCount(const std::vector<std::string>& values) const {
  if (values.size() != label_names_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("label_values: ", name_, " needs ", label_names_.size(), " values, got ", values.size()));
  }
  return absl::OkStatus();
}

template <typename T>
absl::StatusOr<T*> Family<T>::WithLabels(const std::vector<std::string>& label_values) {
  absl::Status count = CheckLabelCount(label_values);
  if (!count.ok()) return count;
  absl::MutexLock lock(&mu_);
  std::unique_ptr<T>& child = children_[label_values];
  if (child == nullptr) {
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<Histogram>(bounds_);
    } else {
      child = std::make_unique<T>();
    }
  }
  return child.get();
}

template <>
void Family<Counter>::RenderSamples(std::string* out) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    AppendSample(name(), label_names(), values, "", absl::StrCat(child->Value()), out);
  }
}

template <>
void Family<Gauge>::RenderSamples(std::string* out) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    AppendSample(name(), label_names(), values, "", FormatValue(child->Value()), out);
  }
}

template <>
void Family<Histogram>::RenderSamples(std::string* out) const {
  absl::MutexLock lock(&mu_);
  const std::string bucket = absl::StrCat(name(), "_bucket");
  for (const auto& [values, child] : children_) {
    Histogram::Snapshot s = child->Read();
    for (size_t i = 0; i <= s.bounds.size(); ++i) {
      const std::string le = i < s.bounds.size() ? FormatValue(s.bounds[i]) : "+Inf";
      AppendSample(bucket, label_names(), values, absl::StrCat("le=\"", le, "\""), absl::StrCat(s.cumulative[i]), out);
    }
    AppendSample(absl::StrCat(name(), "_sum"), label_names(), values, "", FormatValue(s.sum), out);
    AppendSample(absl::StrCat(name(), "_count"), label_names(), values, "", absl::StrCat(s.cumulative.back()), out);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

class MetricsRegistry::CallbackFamily : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  absl::Status Add(std::vector<std::string> values, std::function<double()> fn) {
    absl::MutexLock lock(&mu_);
    if (!callbacks_.emplace(std::move(values), std::move(fn)).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("labels: ", name(), " already has a callback with these label values"));
    }
    return absl::OkStatus();
  }

  void RenderSamples(std::string* out) const override {
    std::map<std::vector<std::string>, std::function<double()>> callbacks;
    {
      absl::MutexLock lock(&mu_);
      callbacks = callbacks_;
    }
    for (const auto& [values, fn] : callbacks) {
      AppendSample(name(), label_names(), values, "", FormatValue(fn()), out);
    }
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::function<double()>> callbacks_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<FamilyBase*> MetricsRegistry::FindCompatible(absl::string_view name, MetricType type,
                                                            absl::string_view help,
                                                            const std::vector<std::string>& label_names,
                                                            const std::vector<double>* bounds) const {
  auto it = families_.find(name);
  if (it == families_.end()) return nullptr;
  FamilyBase* existing = it->second.get();
  bool same = existing->type() == type && existing->help() == help && existing->label_names() == label_names;
  if (same && bounds != nullptr) {
    auto* histogram = dynamic_cast<HistogramFamily*>(existing);
    same = histogram != nullptr && histogram->bounds_ == *bounds;
  }
  if (!same) {
    return absl::AlreadyExistsError(absl::StrCat("name: ", name, " is already registered with a different definition"));
  }
  return existing;
}

template <typename T>
absl::StatusOr<Family<T>*> MetricsRegistry::AddFamily(MetricType type, absl::string_view name, absl::string_view help,
                                                      std::vector<std::string> label_names,
                                                      std::vector<double> bounds) {
  const bool histogram = type == MetricType::kHistogram;
  absl::Status valid = ValidateNames(name, label_names, histogram);
  if (valid.ok() && histogram) valid = ValidateBounds(bounds);
  if (!valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  absl::StatusOr<FamilyBase*> existing = FindCompatible(name, type, help, label_names, histogram ? &bounds : nullptr);
  if (!existing.ok()) return existing.status();
  if (*existing != nullptr) {
    auto* family = dynamic_cast<Family<T>*>(*existing);
    if (family == nullptr) {  // a callback family of the same type
      return absl::AlreadyExistsError(absl::StrCat("name: ", name, " is a callback metric"));
    }
    return family;
  }
  auto family = std::make_unique<Family<T>>(type, std::string(name), std::string(help), std::move(label_names));
  family->bounds_ = std::move(bounds);
  Family<T>* raw = family.get();
  families_.emplace(std::string(name), std::move(family));
  return raw;
}

absl::StatusOr<CounterFamily*> MetricsRegistry::AddCounterFamily(absl::string_view name, absl::string_view help,
                                                                 std::vector<std::string> label_names) {
  return AddFamily<Counter>(MetricType::kCounter, name, help, std::move(label_names), {});
}

absl::StatusOr<GaugeFamily*> MetricsRegistry::AddGaugeFamily(absl::string_view name, absl::string_view help,
                                                             std::vector<std::string> label_names) {
  return AddFamily<Gauge>(MetricType::kGauge, name, help, std::move(label_names), {});
}

absl::StatusOr<HistogramFamily*> MetricsRegistry::AddHistogramFamily(absl::string_view name, absl::string_view help,
                                                                     std::vector<std::string> label_names,
                                                                     std::vector<double> bounds) {
  return AddFamily<Histogram>(MetricType::kHistogram, name, help, std::move(label_names), std::move(bounds));
}

absl::StatusOr<Counter*> MetricsRegistry::AddCounter(absl::string_view name, absl::string_view help) {
  absl::StatusOr<CounterFamily*> family = AddCounterFamily(name, help, {});
  if (!family.ok()) return family.status();
  return (*family)->WithLabels({});
}

absl::StatusOr<Gauge*> MetricsRegistry::AddGauge(absl::string_view name, absl::string_view help) {
  absl::StatusOr<GaugeFamily*> family = AddGaugeFamily(name, help, {});
  if (!family.ok()) return family.status();
  return (*family)->WithLabels({});
}

absl::StatusOr<Histogram*> MetricsRegistry::AddHistogram(absl::string_view name, absl::string_view help,
                                                         std::vector<double> bounds) {
  absl::StatusOr<HistogramFamily*> family = AddHistogramFamily(name, help, {}, std::move(bounds));
  if (!family.ok()) return family.status();
  return (*family)->WithLabels({});
}

absl::Status MetricsRegistry::AddCallback(MetricType type, absl::string_view name, absl::string_view help,
                                          std::vector<std::pair<std::string, std::string>> labels,
                                          std::function<double()> fn) {
  if (type == MetricType::kHistogram) {
    return absl::InvalidArgumentError("type: callbacks are counters or gauges");
  }
  if (!fn) return absl::InvalidArgumentError("fn: must not be empty");
  std::vector<std::string> names;
  std::vector<std::string> values;
  for (auto& [label, value] : labels) {
    names.push_back(label);
    values.push_back(value);
  }
  absl::Status valid = ValidateNames(name, names, /*histogram=*/false);
  if (!valid.ok()) return valid;
  CallbackFamily* family = nullptr;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<FamilyBase*> existing = FindCompatible(name, type, help, names, nullptr);
    if (!existing.ok()) return existing.status();
    if (*existing != nullptr) {
      family = dynamic_cast<CallbackFamily*>(*existing);
      if (family == nullptr) {
        return absl::AlreadyExistsError(absl::StrCat("name: ", name, " is not a callback metric"));
      }
    } else {
      auto created = std::make_unique<CallbackFamily>(type, std::string(name), std::string(help), std::move(names));
      family = created.get();
      families_.emplace(std::string(name), std::move(created));
    }
  }
  return family->Add(std::move(values), std::move(fn));
}

absl::Status MetricsRegistry::AddCallbacks(std::vector<CallbackSpec> specs) {
  for (CallbackSpec& spec : specs) {
    absl::Status status = AddCallback(spec.type, spec.name, spec.help, std::move(spec.labels), std::move(spec.fn));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

std::string MetricsRegistry::Render() const {
  std::vector<const FamilyBase*> families;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, family] : families_) families.push_back(family.get());
  }
  std::string out;
  for (const FamilyBase* family : families) {
    absl::StrAppend(&out, "# HELP ", family->name(), " ", EscapeHelp(family->help()), "\n");
    absl::StrAppend(&out, "# TYPE ", family->name(), " ", TypeName(family->type()), "\n");
    family->RenderSamples(&out);
  }
  return out;
}

MetricsRegistry& DefaultRegistry() {
  static MetricsRegistry* registry = new MetricsRegistry();
  return *registry;
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, result.ptr);
}

}  // namespace lifelong::metrics
