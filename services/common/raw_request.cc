#include "services/common/raw_request.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/str_cat.h"

namespace lifelong {

absl::Status ParseRawRequest(absl::string_view method, size_t max_bytes, const grpc::ByteBuffer& raw,
                             google::protobuf::Message* request) {
  if (raw.Length() > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request: ", raw.Length(), " bytes, more than the ", max_bytes, " bytes ", method, " accepts"));
  }
  grpc::ByteBuffer bytes(raw);  // shares the slices; the reader needs a mutable buffer
  grpc::ProtoBufferReader reader(&bytes);
  if (!request->ParseFromZeroCopyStream(&reader)) {
    return absl::InvalidArgumentError(absl::StrCat("request: not a ", request->GetDescriptor()->full_name()));
  }
  return absl::OkStatus();
}

}  // namespace lifelong
