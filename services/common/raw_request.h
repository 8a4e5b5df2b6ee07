// Parsing a request that a service received as raw bytes. A service that
// registers its methods on grpc::ByteBuffer (instead of deriving from the
// generated Service, which has gRPC parse every request before any handler
// runs) checks its caller first and then calls ParseRawRequest, so that no
// request is parsed before its caller has proved who they are, nor past its
// method's size bound: parsing a message of empty or unknown fields costs 20
// to 30 bytes of memory a wire byte. Thread-safe (no state).
#ifndef LIFELONG_SERVICES_COMMON_RAW_REQUEST_H_
#define LIFELONG_SERVICES_COMMON_RAW_REQUEST_H_

#include <cstddef>

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace lifelong {

// Parses `raw` into `request` (which the caller has left empty).
// RESOURCE_EXHAUSTED "request: N bytes, more than the M bytes <method>
// accepts" when `raw` holds more than `max_bytes`, before anything is parsed;
// INVALID_ARGUMENT "request: not a <request's full type name>" when the bytes
// do not parse. `method` is the method's short name, e.g. "GetCourse".
absl::Status ParseRawRequest(absl::string_view method, size_t max_bytes, const grpc::ByteBuffer& raw,
                             google::protobuf::Message* request);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_RAW_REQUEST_H_
