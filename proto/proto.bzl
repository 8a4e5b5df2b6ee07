"""Generates C++ protobuf + gRPC code with the system protoc (offline)."""

def lifelong_cc_grpc_library(name, srcs, visibility = None):
    """One cc_library over the protobuf and gRPC code generated from `srcs`.

    Imports are resolved from the workspace root ("proto/lifelong/v1/x.proto")
    and from /usr/include for Google's well-known types.
    """
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc", base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    native.genrule(
        name = name + "_gen",
        srcs = srcs,
        outs = outs,
        cmd = ("/usr/bin/protoc -I. -I/usr/include --cpp_out=$(GENDIR) --grpc_out=$(GENDIR) " +
               "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin $(SRCS)"),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = ["//third_party/sys:grpc", "//third_party/sys:protobuf"],
        visibility = visibility,
    )
