#include "services/common/overload.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"

namespace lifelong {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

std::atomic<int> g_retry_after_ms{50};

class OverloadRefusalInterceptor : public grpc::experimental::Interceptor {
 public:
  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        IsThreadQuotaRefusal(methods->GetSendStatus())) {
      const int ms = OverloadRetryAfterMs();
      methods->ModifySendStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, OverloadRefusalMessage(ms)));
      std::multimap<std::string, std::string>* trailers = methods->GetSendTrailingMetadata();
      if (trailers != nullptr && trailers->find(kRetryPushbackTrailer) == trailers->end()) {
        trailers->emplace(kRetryPushbackTrailer, std::to_string(ms));
      }
    }
    methods->Proceed();
  }
};

class OverloadRefusalFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo*) override {
    return new OverloadRefusalInterceptor();
  }
};

}  // namespace

void SetOverloadRetryAfterMs(int ms) { g_retry_after_ms.store(std::max(1, ms), std::memory_order_relaxed); }

int OverloadRetryAfterMs() { return g_retry_after_ms.load(std::memory_order_relaxed); }

std::string OverloadRefusalMessage(int retry_after_ms) {
  return absl::StrCat(
      "server overloaded: every handler thread is busy (limit of calls in progress reached); "
      "retry after ",
      retry_after_ms, " ms");
}

bool IsThreadQuotaRefusal(const grpc::Status& status) {
  // gRPC 1.51's sync server (server_cc.cc, resource_exhausted_handler_).
  return status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
         (status.error_message().empty() || status.error_message() == "Server Threadpool Exhausted");
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeOverloadRefusalInterceptorFactory() {
  return std::make_unique<OverloadRefusalFactory>();
}

}  // namespace lifelong
