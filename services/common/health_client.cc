#include "services/common/health_client.h"

#include <grpcpp/generic/generic_stub.h>

#include <future>

#include "services/common/grpc_status.h"

namespace lifelong {

absl::StatusOr<HealthState> CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                                        std::chrono::milliseconds deadline) {
  // HealthCheckRequest { string service = 1; }
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0A);
    request.push_back(static_cast<char>(service.size()));  // services names are < 128 bytes
    request.append(service);
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer req_buf(&slice, 1);
  grpc::ByteBuffer resp_buf;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  grpc::GenericStub stub(channel);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req_buf, &resp_buf,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<grpc::Slice> slices;
  resp_buf.Dump(&slices);
  std::string resp;
  for (const grpc::Slice& s : slices) resp.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse { ServingStatus status = 1; } -> 0x08 <varint>.
  if (resp.empty()) return HealthState::kUnknown;
  if (resp.size() < 2 || resp[0] != 0x08) return absl::InternalError("malformed health response");
  int v = static_cast<uint8_t>(resp[1]);
  if (v > 3) return absl::InternalError("unknown health status");
  return static_cast<HealthState>(v);
}

}  // namespace lifelong
