// Parsing a request that a service received as raw bytes. A service that
// registers its methods on grpc::ByteBuffer (instead of deriving from the
// generated Service, which has gRPC parse every request before any handler
// runs) checks its caller first and then calls ParseRawRequest, so that no
// request is parsed before its caller has proved who they are, nor past its
// method's size bound: parsing a message of empty or unknown fields costs 20
// to 30 bytes of memory a wire byte. ParseRawRequest is thread-safe (no
// state); the registration helpers below are used while a service is built.
#ifndef LIFELONG_SERVICES_COMMON_RAW_REQUEST_H_
#define LIFELONG_SERVICES_COMMON_RAW_REQUEST_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/support/method_handler.h>

#include <cstddef>
#include <deque>
#include <string>

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace lifelong {

// Parses `raw` into `request` (which the caller has left empty).
// RESOURCE_EXHAUSTED "request: N bytes, more than the M bytes <method>
// accepts" when `raw` holds more than `max_bytes`, before anything is parsed;
// INVALID_ARGUMENT "request: not a <request's full type name>" when the bytes
// do not parse. `method` is the method's short name, e.g. "GetCourse".
absl::Status ParseRawRequest(absl::string_view method, size_t max_bytes, const grpc::ByteBuffer& raw,
                             google::protobuf::Message* request);

// Registration of such a service's methods, with the paths and kinds of
// the generated service (grpc::Service::AddMethod takes what the functions
// below return). The service's `gate` member admits a call's bytes into its
// request (authenticates the caller, then ParseRawRequest) and answers the
// call when it does not: grpc::Status (ServerContext*, absl::string_view
// method, const ByteBuffer&, google::protobuf::Message*).

// "/<service>/<method>", each kept as long as this (gRPC keeps the pointer).
class MethodPaths {
 public:
  explicit MethodPaths(absl::string_view service) : prefix_(absl::StrCat("/", service, "/")) {}
  const char* Path(absl::string_view method) { return paths_.emplace_back(absl::StrCat(prefix_, method)).c_str(); }

 private:
  std::string prefix_;
  std::deque<std::string> paths_;
};

// A synchronous unary method: `gate`, then `handler` with the parsed request.
template <typename Svc, typename Gate, typename Req, typename Resp>
grpc::internal::RpcServiceMethod* GatedUnaryMethod(const char* path, const char* method, Svc* service, Gate gate,
                                                   grpc::Status (Svc::*handler)(grpc::ServerContext*, const Req*,
                                                                                Resp*)) {
  return new grpc::internal::RpcServiceMethod(
      path, grpc::internal::RpcMethod::NORMAL_RPC,
      new grpc::internal::RpcMethodHandler<Svc, grpc::ByteBuffer, Resp>(
          [method, gate, handler](Svc* self, grpc::ServerContext* ctx, const grpc::ByteBuffer* raw, Resp* resp) {
            Req request;
            grpc::Status admitted = (self->*gate)(ctx, method, *raw, &request);
            return admitted.ok() ? (self->*handler)(ctx, &request, resp) : admitted;
          },
          service));
}

// A synchronous server-streaming method: `gate`, then `handler`.
template <typename Svc, typename Gate, typename Req, typename Resp>
grpc::internal::RpcServiceMethod* GatedServerStreamMethod(const char* path, const char* method, Svc* service, Gate gate,
                                                          grpc::Status (Svc::*handler)(grpc::ServerContext*, const Req*,
                                                                                       grpc::ServerWriter<Resp>*)) {
  return new grpc::internal::RpcServiceMethod(
      path, grpc::internal::RpcMethod::SERVER_STREAMING,
      new grpc::internal::ServerStreamingHandler<Svc, grpc::ByteBuffer, Resp>(
          [method, gate, handler](Svc* self, grpc::ServerContext* ctx, const grpc::ByteBuffer* raw,
                                  grpc::ServerWriter<Resp>* writer) {
            Req request;
            grpc::Status admitted = (self->*gate)(ctx, method, *raw, &request);
            return admitted.ok() ? (self->*handler)(ctx, &request, writer) : admitted;
          },
          service));
}

// A unary method on the callback API taking and answering raw bytes; the
// handler admits the call itself.
template <typename Svc>
grpc::internal::RpcServiceMethod* RawCallbackMethod(
    const char* path, Svc* service,
    grpc::ServerUnaryReactor* (Svc::*handler)(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
                                              grpc::ByteBuffer*)) {
  auto* m = new grpc::internal::RpcServiceMethod(
      path, grpc::internal::RpcMethod::NORMAL_RPC,
      new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
          [service, handler](grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw, grpc::ByteBuffer* resp) {
            return (service->*handler)(ctx, raw, resp);
          }));
  m->SetServerApiType(grpc::internal::RpcServiceMethod::ApiType::RAW_CALL_BACK);
  return m;
}

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_RAW_REQUEST_H_
