#include "services/common/interceptors.h"

#include <grpcpp/impl/server_builder_plugin.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "services/common/log.h"
#include "services/common/overload.h"
#include "services/common/request_context.h"

namespace lifelong {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

constexpr int kNumCodes = 17;  // OK .. UNAUTHENTICATED
// Beyond this many distinct method names, new ones share method="_other"
// (guards the label cardinality against clients calling made-up methods).
constexpr size_t kMaxMethods = 512;

struct MethodMetrics {
  std::string full_name;  // "/pkg.Service/Method"
  std::string service;
  std::string method;
  bool quiet = false;
  metrics::Histogram* duration = nullptr;
  metrics::Gauge* in_flight = nullptr;
  std::array<std::atomic<metrics::Counter*>, kNumCodes> by_code{};
};

// Shared by a factory and every interceptor it creates.
class RpcMetricsState {
 public:
  static absl::StatusOr<std::shared_ptr<RpcMetricsState>> Create(RpcObservabilityOptions options) {
    metrics::MetricsRegistry* registry = options.registry != nullptr ? options.registry : &metrics::DefaultRegistry();
    auto requests =
        registry->AddCounterFamily("lifelong_grpc_requests_total", "gRPC calls finished, by method and status code.",
                                   {"service", "method", "code"});
    if (!requests.ok()) return requests.status();
    auto duration = registry->AddHistogramFamily("lifelong_grpc_request_duration_seconds",
                                                 "Time from the call reaching the server to its status being sent.",
                                                 {"service", "method"}, options.latency_buckets);
    if (!duration.ok()) return duration.status();
    auto in_flight =
        registry->AddGaugeFamily("lifelong_grpc_requests_in_flight", "gRPC calls being served.", {"service", "method"});
    if (!in_flight.ok()) return in_flight.status();
    // The log's own counters (log.h), process-wide; registering them on a
    // registry that has them already is ALREADY_EXISTS, which is fine here.
    absl::Status logs = registry->AddCallbacks({
        {metrics::MetricType::kCounter,
         "lifelong_log_lines_written_total",
         "Log lines (access log included) written to stderr.",
         {},
         [] { return double(LogStatistics().written_lines); }},
        {metrics::MetricType::kCounter,
         "lifelong_log_lines_dropped_total",
         "Log lines dropped: the asynchronous log's queue was full, or writing to stderr failed.",
         {},
         [] { return double(LogStatistics().dropped_lines); }},
        {metrics::MetricType::kCounter,
         "lifelong_access_log_sampled_out_total",
         "Calls whose access-log line was not written because of --access_log_sample.",
         {},
         [] { return double(LogStatistics().sampled_out); }},
        {metrics::MetricType::kCounter,
         "lifelong_log_rotations_total",
         "Times the log file (stderr, when it is a file) was rotated past --log_rotate_mb.",
         {},
         [] { return double(LogStatistics().rotations); }},
    });
    if (!logs.ok() && !absl::IsAlreadyExists(logs)) return logs;
    auto state = std::shared_ptr<RpcMetricsState>(new RpcMetricsState(std::move(options)));
    state->requests_ = *requests;
    state->duration_ = *duration;
    state->in_flight_ = *in_flight;
    return state;
  }

  const RpcObservabilityOptions& options() const { return options_; }

  // The metrics of `full_method` ("/pkg.Service/Method"), created on first use.
  MethodMetrics* ForMethod(const char* full_method) {
    if (full_method == nullptr) full_method = "";
    // Lock-free fast path: a slot chosen by the name's address remembers the
    // method last found through it (gRPC passes a registered method's name
    // at the same address on every call). The name itself is compared, so a
    // reused address (generic calls) can only miss, never pick another
    // method's metrics.
    std::atomic<MethodMetrics*>& slot = slots_[(reinterpret_cast<uintptr_t>(full_method) >> 3) % kMethodSlots];
    MethodMetrics* cached = slot.load(std::memory_order_acquire);
    if (cached != nullptr && cached->full_name == full_method) return cached;
    MethodMetrics* found = Lookup(full_method);
    if (found != nullptr && !found->full_name.empty()) slot.store(found, std::memory_order_release);
    return found;
  }

 private:
  static constexpr size_t kMethodSlots = 64;

  MethodMetrics* Lookup(absl::string_view name) {
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = methods_.find(name);
      if (it != methods_.end()) return it->second.get();
    }
    absl::MutexLock lock(&mu_);
    auto it = methods_.find(name);
    if (it != methods_.end()) return it->second.get();
    if (methods_.size() >= kMaxMethods) {
      if (other_ == nullptr) other_ = NewMethodMetrics("", "_other", "_other");
      return other_.get();
    }
    absl::string_view rest = absl::StripPrefix(name, "/");
    const size_t slash = rest.find('/');
    std::unique_ptr<MethodMetrics> m = slash == absl::string_view::npos
                                           ? NewMethodMetrics(name, "", rest)
                                           : NewMethodMetrics(name, rest.substr(0, slash), rest.substr(slash + 1));
    MethodMetrics* raw = m.get();
    methods_.emplace(std::string(name), std::move(m));
    return raw;
  }

 public:
  metrics::Counter* CounterFor(MethodMetrics* m, grpc::StatusCode code) {
    int index = static_cast<int>(code);
    if (index < 0 || index >= kNumCodes) index = grpc::StatusCode::UNKNOWN;
    metrics::Counter* counter = m->by_code[index].load(std::memory_order_acquire);
    if (counter == nullptr) {
      // Several threads may race here; WithLabels returns the same child.
      counter = *requests_->WithLabels({m->service, m->method, StatusCodeName(static_cast<grpc::StatusCode>(index))});
      m->by_code[index].store(counter, std::memory_order_release);
    }
    return counter;
  }

 private:
  explicit RpcMetricsState(RpcObservabilityOptions options) : options_(std::move(options)) {}

  std::unique_ptr<MethodMetrics> NewMethodMetrics(absl::string_view full_name, absl::string_view service,
                                                  absl::string_view method) {
    auto m = std::make_unique<MethodMetrics>();
    m->full_name = std::string(full_name);
    m->service = std::string(service);
    m->method = std::string(method);
    for (const std::string& prefix : options_.quiet_method_prefixes) {
      if (!full_name.empty() && absl::StartsWith(full_name, prefix)) m->quiet = true;
    }
    m->duration = *duration_->WithLabels({m->service, m->method});
    m->in_flight = *in_flight_->WithLabels({m->service, m->method});
    return m;
  }

  const RpcObservabilityOptions options_;
  metrics::CounterFamily* requests_ = nullptr;
  metrics::HistogramFamily* duration_ = nullptr;
  metrics::GaugeFamily* in_flight_ = nullptr;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodMetrics>> methods_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<MethodMetrics> other_ ABSL_GUARDED_BY(mu_);
  // ForMethod's cache: entries point into methods_ (never removed).
  std::array<std::atomic<MethodMetrics*>, kMethodSlots> slots_{};
};

class ServerObservabilityInterceptor : public grpc::experimental::Interceptor {
 public:
  // `state` outlives the interceptor: the factory that owns it lives as
  // long as the server, and gRPC destroys a call's interceptors with the call.
  ServerObservabilityInterceptor(RpcMetricsState* state, grpc::experimental::ServerRpcInfo* info)
      : state_(state),
        info_(info),
        full_method_(info->method() != nullptr ? info->method() : ""),
        start_(std::chrono::steady_clock::now()) {
    method_ = state_->ForMethod(full_method_);
    method_->in_flight->Increment();
  }

  ~ServerObservabilityInterceptor() override {
    // A call that ends without a status having been sent was cancelled.
    if (!finished_) Finish(grpc::StatusCode::CANCELLED);
    method_->in_flight->Decrement();
  }

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      std::multimap<grpc::string_ref, grpc::string_ref>* md = methods->GetRecvInitialMetadata();
      auto it = md->find(kRequestIdMetadataKey);
      if (it != md->end() && IsValidRequestId(absl::string_view(it->second.data(), it->second.size()))) {
        request_id_.assign(it->second.data(), it->second.size());
      } else {
        request_id_ = NewRequestId();
      }
      previous_id_ = SetCurrentRequestId(request_id_);
      id_thread_ = std::this_thread::get_id();
      id_set_ = true;
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA) &&
        !request_id_.empty()) {
      std::multimap<std::string, std::string>* md = methods->GetSendInitialMetadata();
      if (md->find(kRequestIdMetadataKey) == md->end()) {
        md->emplace(kRequestIdMetadataKey, request_id_);
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      // A call answered after its deadline is recorded as DEADLINE_EXCEEDED
      // whatever the handler returned: that is what the client saw.
      // (An explicit client cancel keeps the handler's code: detecting it
      // needs ServerContext::IsCancelled(), which polls the call's queue;
      // not attempted from inside the interceptor.)
      grpc::StatusCode code = methods->GetSendStatus().error_code();
      if (info_->server_context() != nullptr &&
          std::chrono::system_clock::now() > info_->server_context()->deadline()) {
        code = grpc::StatusCode::DEADLINE_EXCEEDED;
      }
      Finish(code);
      RestoreThreadId();
    }
    methods->Proceed();
  }

 private:
  void Finish(grpc::StatusCode code) {
    finished_ = true;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    state_->CounterFor(method_, code)->Increment();
    method_->duration->Observe(seconds);
    const RpcObservabilityOptions& options = state_->options();
    if (!options.access_log || method_->quiet) return;
    const double duration_ms = std::round(seconds * 1e6) / 1e3;
    // Sampling (log.h) decides before the peer string is fetched.
    const AccessLogVerdict verdict = JudgeAccessLog(code == grpc::StatusCode::OK, duration_ms);
    if (verdict == AccessLogVerdict::kSkip) return;
    const std::string peer = info_->server_context() != nullptr ? info_->server_context()->peer() : "";
    if (!options.access_log_sink) {
      LogRpc(full_method_, StatusCodeName(code), duration_ms, request_id_, peer,
             verdict == AccessLogVerdict::kWriteImportant);
      return;
    }
    nlohmann::json fields = {
        {"method", full_method_},
        {"code", StatusCodeName(code)},
        {"duration_ms", duration_ms},
        {"request_id", request_id_},
        {"peer", peer},
    };
    options.access_log_sink(fields);
  }

  void RestoreThreadId() {
    if (id_set_ && std::this_thread::get_id() == id_thread_) {
      SetCurrentRequestId(std::move(previous_id_));
      id_set_ = false;
    }
  }

  RpcMetricsState* const state_;
  grpc::experimental::ServerRpcInfo* const info_;
  // The call's method name, owned by gRPC for the call's lifetime (no copy
  // per call).
  const char* const full_method_;
  const std::chrono::steady_clock::time_point start_;
  MethodMetrics* method_ = nullptr;
  std::string request_id_;
  std::string previous_id_;
  std::thread::id id_thread_;
  bool id_set_ = false;
  bool finished_ = false;
};

class ServerObservabilityFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ServerObservabilityFactory(std::shared_ptr<RpcMetricsState> state) : state_(std::move(state)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new ServerObservabilityInterceptor(state_.get(), info);
  }

 private:
  const std::shared_ptr<RpcMetricsState> state_;
};

class RequestIdClientInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RequestIdClientInterceptor(std::string id) : id_(std::move(id)) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (!id_.empty() && methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      std::multimap<std::string, std::string>* md = methods->GetSendInitialMetadata();
      if (md->find(kRequestIdMetadataKey) == md->end()) md->emplace(kRequestIdMetadataKey, id_);
    }
    methods->Proceed();
  }

 private:
  const std::string id_;
};

class RequestIdClientFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  // Runs on the thread that creates the call, so it sees that thread's id.
  // Never returns null (the global registration requires an interceptor).
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo* info) override {
    return new RequestIdClientInterceptor(CurrentRequestId());
  }
};

// Process-wide state for InstallServerObservability.
absl::Mutex g_install_mu;
std::shared_ptr<RpcMetricsState>* g_installed ABSL_GUARDED_BY(g_install_mu) = nullptr;

class ObservabilityPlugin : public grpc::ServerBuilderPlugin {
 public:
  std::string name() override { return "lifelong_observability"; }
  void UpdateServerBuilder(grpc::ServerBuilder* builder) override {
    std::shared_ptr<RpcMetricsState> state;
    {
      absl::MutexLock lock(&g_install_mu);
      if (g_installed != nullptr) state = *g_installed;
    }
    if (state == nullptr) return;
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<ServerObservabilityFactory>(std::move(state)));
    // Keeps what StartGrpcServer set (this list replaces the builder's).
    creators.push_back(MakeOverloadRefusalInterceptorFactory());
    builder->experimental().SetInterceptorCreators(std::move(creators));
  }
  void InitServer(grpc::ServerInitializer*) override {}
  void Finish(grpc::ServerInitializer*) override {}
  void ChangeArguments(const std::string&, void*) override {}
};

std::unique_ptr<grpc::ServerBuilderPlugin> CreateObservabilityPlugin() {
  return std::make_unique<ObservabilityPlugin>();
}

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>>
MakeServerInterceptorFactories(RpcObservabilityOptions options) {
  absl::StatusOr<std::shared_ptr<RpcMetricsState>> state = RpcMetricsState::Create(std::move(options));
  if (!state.ok()) return state.status();
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<ServerObservabilityFactory>(std::move(*state)));
  return creators;
}

absl::Status InstallServerObservability(RpcObservabilityOptions options) {
  absl::StatusOr<std::shared_ptr<RpcMetricsState>> state = RpcMetricsState::Create(std::move(options));
  if (!state.ok()) return state.status();
  static std::once_flag registered;
  std::call_once(registered, [] { grpc::ServerBuilder::InternalAddPluginFactory(&CreateObservabilityPlugin); });
  absl::MutexLock lock(&g_install_mu);
  if (g_installed == nullptr) g_installed = new std::shared_ptr<RpcMetricsState>();
  *g_installed = std::move(*state);
  return absl::OkStatus();
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeRequestIdClientInterceptorFactory() {
  return std::make_unique<RequestIdClientFactory>();
}

std::shared_ptr<grpc::Channel> CreateChannelWithRequestId(const std::string& target,
                                                          const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                                                          const grpc::ChannelArguments& args) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> creators;
  creators.push_back(MakeRequestIdClientInterceptorFactory());
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, args, std::move(creators));
}

void AttachRequestId(grpc::ClientContext* context) {
  const std::string& id = CurrentRequestId();
  if (!id.empty()) context->AddMetadata(kRequestIdMetadataKey, id);
}

void InstallGlobalRequestIdPropagation() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    // Leaked on purpose: gRPC may use it until the process exits.
    grpc::experimental::RegisterGlobalClientInterceptorFactory(new RequestIdClientFactory());
  });
}

const char* StatusCodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[kNumCodes] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < kNumCodes ? kNames[index] : "UNKNOWN";
}

}  // namespace lifelong
