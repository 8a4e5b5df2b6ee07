// Small helpers around absl::Status that Abseil 20220623 does not ship, and
// the one place where absl::Status becomes grpc::Status.
#ifndef LIFELONG_SERVICES_COMMON_STATUS_UTIL_H_
#define LIFELONG_SERVICES_COMMON_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define LL_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::absl::Status _ll_status = (expr);          \
    if (!_ll_status.ok()) return _ll_status;     \
  } while (0)

#define LL_CONCAT_INNER(a, b) a##b
#define LL_CONCAT(a, b) LL_CONCAT_INNER(a, b)

// `LL_ASSIGN_OR_RETURN(auto x, StatusOrExpr());` assigns the value or returns
// the error from the enclosing function.
#define LL_ASSIGN_OR_RETURN(lhs, expr) \
  LL_ASSIGN_OR_RETURN_IMPL(LL_CONCAT(_ll_statusor_, __LINE__), lhs, expr)
#define LL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

namespace lifelong {

// Maps an absl::Status onto the gRPC status with the same code and message.
// Handlers call this exactly once, on the way out. Server-side failures
// (INTERNAL, UNAVAILABLE, DATA_LOSS, UNKNOWN) are logged with their cause.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse mapping, for clients of other services.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_STATUS_UTIL_H_
