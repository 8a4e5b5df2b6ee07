#!/usr/bin/env python3
"""Sums a flat perf profile into the components of a gRPC service.

Reads `perf report --no-children --sort=dso,sym --stdio -g none` on stdin and
prints each component's share of the self samples with its top symbols. The
first matching rule wins; used by ops/bench_grpc_shares.sh (PROFILE=1).
"""
import collections
import re
import sys

# (component, regex over "dso symbol"), first match wins.
RULES = [
    ("absl deadlock detection (Debian default; off in our mains)",
     r"graphcycles|ForgetDeadlockInfo|DeadlockCheck|GetGraphId|LockEnter|LockLeave"),
    ("auth: JSON parsing (the token's claims; Echo parses no other JSON)", r"nlohmann.*(lexer|parser|from_json|get_arithmetic)"),
    ("auth: token parse/verify, authorizer, limits",
     r"lifelong::auth|libcrypto|HMAC|SHA256|sha256|EVP_|Base64|base64"),
    ("access log: JSON building and writing",
     r"nlohmann|lifelong::Log|json|_IO_|fwrite|vfprintf|__printf|strftime|localtime|FormatTime|__write|\bwrite\b|"
     r"fflush|StrFormat|FormatConvert|str_format"),
    ("metrics (counters, histograms)", r"lifelong::metrics|Histogram|Counter::"),
    ("record store, xAPI validation (ours)", r"lifelong::records|lifelong::xapi"),
    ("our interceptors, request ids, handlers", r"lifelong::"),
    ("gRPC C++ interceptor machinery", r"Interceptor"),
    ("sync server: ThreadManager, SyncRequest, polling threads",
     r"ThreadManager|SyncRequest|Server::SyncRequestThreadManager|ThreadManager|pthread_cond|futex|"
     r"__lll_lock|sched_yield|CondVar|Waiter|PerThreadSem"),
    ("protobuf (parse/serialize)", r"libprotobuf|google::protobuf|\.pb\.|MessageLite"),
    ("RocksDB", r"rocksdb|librocksdb|crc32c|Crc32c|snappy|lz4|zstd"),
    ("allocator (malloc/free, tcmalloc)",
     r"tcmalloc|\bmalloc\b|\bfree\b|_int_malloc|_int_free|cfree|malloc_consolidate|unlink_chunk|operator new|"
     r"operator delete|\brealloc\b|calloc"),
    ("absl Mutex (gRPC and ours)", r"libabsl_synchronization|absl::.*Mutex|absl::.*Spin"),
    ("gRPC core and C++ (transport, calls, completion queues)", r"libgrpc|libgpr|grpc_|grpc::|grpc_core"),
    ("libc / libstdc++ / clock / other", r"."),
]

LINE = re.compile(r"^\s+([0-9.]+)%\s+(\S+)\s+\[[^\]]+\]\s+(.*)$")


def main():
    totals = collections.Counter()
    symbols = collections.defaultdict(collections.Counter)
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3).strip()
        key = f"{dso} {sym}"
        for name, rule in RULES:
            if re.search(rule, key):
                totals[name] += pct
                symbols[name][sym[:90]] += pct
                break
    for name, pct in totals.most_common():
        top = ", ".join(f"{s} {p:.1f}%" for s, p in symbols[name].most_common(3))
        print(f"  {pct:5.1f}%  {name}")
        print(f"          top: {top}")


if __name__ == "__main__":
    main()
