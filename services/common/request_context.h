// Request ids that follow one call across services.
//
// The server interceptor (interceptors.h) takes the id from the incoming
// `x-request-id` metadata (or makes a new one) and makes it the current
// request id of the thread that runs the handler; handler code reads it with
// CurrentRequestId(), and the client interceptor copies it onto outgoing
// calls made from that thread. Code that hands work to another thread carries
// the id along with ScopedRequestId.
//
// Thread-safety: all functions are thread-safe; the current id is per thread.
#ifndef LIFELONG_SERVICES_COMMON_REQUEST_CONTEXT_H_
#define LIFELONG_SERVICES_COMMON_REQUEST_CONTEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace lifelong {

// gRPC metadata key (lower case, as gRPC requires) carrying the id.
inline constexpr char kRequestIdMetadataKey[] = "x-request-id";

// The request id of the call the calling thread is serving; "" when none.
const std::string& CurrentRequestId();

// Replaces the calling thread's current id ("" clears it) and returns the
// previous one. Meant for interceptors; handler code uses ScopedRequestId.
std::string SetCurrentRequestId(std::string id);

// Makes `id` the current id of this thread for the object's lifetime, then
// restores the previous one. Not movable; create and destroy on one thread.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string id) : previous_(SetCurrentRequestId(std::move(id))) {}
  ~ScopedRequestId() { SetCurrentRequestId(std::move(previous_)); }
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

// A fresh id: 32 lower-case hex digits from a random 128-bit value.
std::string NewRequestId();

// Whether `id` is acceptable from a client: 1 to 128 characters from
// [A-Za-z0-9._:~+/=-] (ids end up in logs and labels of traces, so nothing
// that could break a log line or a header).
bool IsValidRequestId(absl::string_view id);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_REQUEST_CONTEXT_H_
