// The one place where absl::Status and grpc::Status meet. Used only by gRPC
// handlers (on the way out) and gRPC clients (on the way in); storage, domain
// and model code never include this (they use status_macros.h).
//
// How a handler produces its status (every service does it this way, after
// services/catalog/catalog_service.cc): the work is done by code that returns
// absl::Status / absl::StatusOr<T>, and the handler converts exactly once, in
// its return statement:
//
//   grpc::Status Service::GetThing(ctx, request, response) {
//     return ReplyWith(store_->GetThing(request->id()), response);
//   }
//   grpc::Status Service::DoMore(ctx, request, response) {
//     return ToGrpcStatus(DoMoreImpl(ctx, *request, response));
//   }
#ifndef LIFELONG_SERVICES_COMMON_GRPC_STATUS_H_
#define LIFELONG_SERVICES_COMMON_GRPC_STATUS_H_

#include <utility>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong {

// Maps an absl::Status onto the gRPC status with the same code and message.
// Handlers call this exactly once, on the way out. Server-side failures
// (INTERNAL, UNAVAILABLE, DATA_LOSS, UNKNOWN) are logged with their cause.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse mapping, for clients of other services: same code, same
// message.
absl::Status FromGrpcStatus(const grpc::Status& status);

// As above, with the message prefixed by `what` ("what: message"), so a
// client names the call that failed. OK stays OK.
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view what);

// Stores the value of `result` in `*out` and returns OK, or returns its error
// as a gRPC status (ToGrpcStatus). `*out` is untouched on error.
template <typename T>
grpc::Status ReplyWith(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_GRPC_STATUS_H_
