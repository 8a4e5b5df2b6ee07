// Deprecated forwarding header, kept only so that branches written before the
// split still compile while they merge. New code includes what it needs:
//   services/common/status_macros.h  LL_RETURN_IF_ERROR, LL_ASSIGN_OR_RETURN (gRPC-free)
//   services/common/grpc_status.h    ToGrpcStatus, FromGrpcStatus, ReplyWith (handlers, clients)
//   services/common/rocks_status.h   FromRocks (stores)
// Nothing in the tree includes this any more; delete it once the in-flight
// branches are merged.
#ifndef LIFELONG_SERVICES_COMMON_STATUS_UTIL_H_
#define LIFELONG_SERVICES_COMMON_STATUS_UTIL_H_

#include "services/common/grpc_status.h"
#include "services/common/status_macros.h"

#endif  // LIFELONG_SERVICES_COMMON_STATUS_UTIL_H_
