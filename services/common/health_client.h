// A client for the standard grpc.health.v1.Health/Check RPC, without
// generated code (the request and response are two tiny protobuf messages
// encoded by hand).
#ifndef LIFELONG_SERVICES_COMMON_HEALTH_CLIENT_H_
#define LIFELONG_SERVICES_COMMON_HEALTH_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace lifelong {

enum class HealthState { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// Asks `channel` for the health of `service` ("" = the whole server).
// UNAVAILABLE / DEADLINE_EXCEEDED when the server cannot be reached in time;
// NOT_FOUND when the server does not know `service`.
absl::StatusOr<HealthState> CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                                        std::chrono::milliseconds deadline = std::chrono::seconds(2));

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_HEALTH_CLIENT_H_
