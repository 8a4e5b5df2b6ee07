// What the request-gate tests send and measure: requests whose parse costs
// far more memory than their bytes, sent as raw bytes, and the process's
// peak memory.
#ifndef LIFELONG_TESTS_TESTING_JUNK_REQUESTS_H_
#define LIFELONG_TESTS_TESTING_JUNK_REQUESTS_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <cstddef>
#include <future>
#include <memory>
#include <string>

namespace lifelong::testing {

// `n` unknown length-delimited fields (field 99, empty): 3 wire bytes each,
// some 64 bytes of memory each once parsed (an UnknownField and its string).
inline std::string UnknownEmptyFields(size_t n) {
  std::string out;
  out.reserve(3 * n);
  for (size_t i = 0; i < n; ++i) out.append("\x9a\x06\x00", 3);
  return out;
}

// This process's peak resident memory so far, in MB.
inline long PeakRssMb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

// Starts one unary call of `path` ("/lifelong.v1.Service/Method") with
// `bytes` as its request, sent as they are (a generic stub), with a 60 s
// deadline; `token` "": no authorization header. The future holds the
// call's status and owns the call (its ClientContext, which holds a
// reference to `channel`): get() waits for the call to end, and the call
// and its channel reference are let go on the thread that destroys the
// future, never on gRPC's callback thread. Destroying the future without
// get() leaves the call to end on its own.
std::future<grpc::Status> StartRawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                                       const std::string& bytes, const std::string& token);

// Checks the gate of unary method `m` of a server on `channel` whose
// method takes at most `bound` bytes: without credentials, bytes over the
// bound and bytes that are no request are both UNAUTHENTICATED; with
// `token`, bytes over the bound are RESOURCE_EXHAUSTED "request: N bytes,
// more than the <bound> bytes <Method> accepts" and bytes that are no
// request INVALID_ARGUMENT "request: not a <request type>" (gtest
// expectations).
void ExpectGated(const std::shared_ptr<grpc::Channel>& channel, const google::protobuf::MethodDescriptor& m,
                 size_t bound, const std::string& token);

// Checks that a caller with `token`, whose role `m` is not granted to, is
// refused before the request is parsed: bytes over `bound` and bytes that
// are no request both get PERMISSION_DENIED, with one and the same message
// (gtest expectations).
void ExpectRoleRefusedBeforeParse(const std::shared_ptr<grpc::Channel>& channel,
                                  const google::protobuf::MethodDescriptor& m, size_t bound, const std::string& token);

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_TESTING_JUNK_REQUESTS_H_
