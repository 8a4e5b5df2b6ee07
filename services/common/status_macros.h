// Status propagation macros that Abseil 20220623 does not ship
// (ABSL_RETURN_IF_ERROR and friends arrived later). gRPC-free: storage,
// domain and model code use these; only handlers and clients map statuses
// to and from gRPC (services/common/grpc_status.h).
#ifndef LIFELONG_SERVICES_COMMON_STATUS_MACROS_H_
#define LIFELONG_SERVICES_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define LL_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status _ll_status = (expr);      \
    if (!_ll_status.ok()) return _ll_status; \
  } while (0)

#define LL_CONCAT_INNER(a, b) a##b
#define LL_CONCAT(a, b) LL_CONCAT_INNER(a, b)

// `LL_ASSIGN_OR_RETURN(auto x, StatusOrExpr());` assigns the value or returns
// the error from the enclosing function.
#define LL_ASSIGN_OR_RETURN(lhs, expr) LL_ASSIGN_OR_RETURN_IMPL(LL_CONCAT(_ll_statusor_, __LINE__), lhs, expr)
#define LL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

#endif  // LIFELONG_SERVICES_COMMON_STATUS_MACROS_H_
