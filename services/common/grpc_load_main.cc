// grpc_load: a closed-loop load driver for any gRPC server, for comparing a
// call with the bare gRPC echo server (bare_echo_server.h) under exactly the
// same client: the same serialized request bytes, sent on `--connections`
// separate HTTP/2 connections with `--streams` calls outstanding on each, for
// `--seconds`. It prints calls/s and latency percentiles as one line
//   name=<name> target=<addr> method=<m> connections=C streams=S seconds=T
//   calls=N errors=E rps=R p50_ms=A p99_ms=B [first_error="..."]
// which ops/bench_grpc_shares.sh parses.
//
// The client is gRPC's generic stub: requests are built once and sent as raw
// bytes, responses are not parsed, so the client costs the same whatever the
// server and method (the bare server answers any method with the request's
// bytes). Built-in requests (--request):
//   echo     lifelong.v1.EchoRequest{payload: "ping"}            (…/Echo)
//   list     ListStatementsRequest{learner, page_size: 50}       (…/ListStatements)
//   record   RecordStatementRequest{statement_json without id}   (…/RecordStatement)
//            every call stores a new statement (the server assigns the id);
//            with --learners=N call i writes learner u<i mod N> instead (to
//            seed data; the bytes then differ per call)
//   file     the bytes of --request_file (a serialized request message)
// --method defaults to the record service's method of the request kind.
//
//   bazel run //services/common:grpc_load -- --target=127.0.0.1:7001
//       --request=list --learner=u000042 --connections=16 --streams=32 --seconds=5
//
// Authentication: --token_file sends "authorization: Bearer <token>" on every
// call; TLS: --tls_ca (PEM roots) with --tls_server_name.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "proto/lifelong/v1/records.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7001", "server address host:port");
ABSL_FLAG(std::string, name, "", "label of the result line (default: the method)");
ABSL_FLAG(std::string, method, "", "full method, /package.Service/Method (default: from --request)");
ABSL_FLAG(std::string, request, "echo", "built-in request: echo | list | record | file");
ABSL_FLAG(std::string, request_file, "", "serialized request message (with --request=file)");
ABSL_FLAG(std::string, learner, "u000042", "learner of the list and record requests");
ABSL_FLAG(int, learners, 0, "record: > 0 spreads the writes over learners u000000..u<N-1> (seeding)");
ABSL_FLAG(int, connections, 16, "HTTP/2 connections (one channel each)");
ABSL_FLAG(int, streams, 32, "calls outstanding on each connection");
ABSL_FLAG(int, threads, 2, "client threads (each drives its share of the connections)");
ABSL_FLAG(double, seconds, 5, "how long to measure");
ABSL_FLAG(int64_t, calls, 0, "> 0: stop after this many calls instead of --seconds");
ABSL_FLAG(double, warmup_s, 0.5, "calls sent before measuring (connections up, caches warm)");
ABSL_FLAG(std::string, token_file, "", "bearer token file: sent as authorization metadata");
ABSL_FLAG(std::string, tls_ca, "", "PEM root certificates: connect with TLS");
ABSL_FLAG(std::string, tls_server_name, "", "TLS: the name the server certificate must carry");
ABSL_FLAG(int, deadline_ms, 30000, "deadline of each call");

namespace lifelong {
namespace {

constexpr char kRecords[] = "/lifelong.v1.LearningRecordService/";

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A completed, valid xAPI statement of the district's vocabulary (Chinese
// course title), without id: the server assigns one per call.
std::string StatementJson(const std::string& learner) {
  return absl::StrCat(
      R"({"actor":{"objectType":"Agent","account":{"homePage":"https://idp.dongcheng.example","name":")", learner,
      R"("}},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"zh-CN":"完成"}},)"
      R"("object":{"objectType":"Activity","id":"https://learn.dongcheng.example/courses/c0007",)"
      R"("definition":{"name":{"zh-CN":"书法入门"}}},"result":{"completion":true}})");
}

struct Request {
  std::string method;
  std::string bytes;
};

absl::StatusOr<Request> BuildRequest(const std::string& kind, int64_t i) {
  Request r;
  if (kind == "echo") {
    v1::EchoRequest req;
    req.set_payload("ping");
    r.method = absl::StrCat(kRecords, "Echo");
    r.bytes = req.SerializeAsString();
  } else if (kind == "list") {
    v1::ListStatementsRequest req;
    req.set_learner(absl::GetFlag(FLAGS_learner));
    req.set_page_size(50);
    r.method = absl::StrCat(kRecords, "ListStatements");
    r.bytes = req.SerializeAsString();
  } else if (kind == "record") {
    int learners = absl::GetFlag(FLAGS_learners);
    v1::RecordStatementRequest req;
    char name[16];
    std::snprintf(name, sizeof(name), "u%06d", static_cast<int>(learners > 0 ? i % learners : 0));
    req.set_statement_json(StatementJson(learners > 0 ? std::string(name) : absl::GetFlag(FLAGS_learner)));
    r.method = absl::StrCat(kRecords, "RecordStatement");
    r.bytes = req.SerializeAsString();
  } else if (kind == "file") {
    absl::StatusOr<std::string> bytes = ReadFile(absl::GetFlag(FLAGS_request_file));
    if (!bytes.ok()) return absl::InvalidArgumentError(absl::StrCat("--request_file: ", bytes.status().message()));
    r.bytes = *bytes;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--request: unknown kind \"", kind, "\" (echo|list|record|file)"));
  }
  if (!absl::GetFlag(FLAGS_method).empty()) r.method = absl::GetFlag(FLAGS_method);
  if (r.method.empty() || r.method[0] != '/') {
    return absl::InvalidArgumentError("--method: needs a full method name, /package.Service/Method");
  }
  return r;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

struct ThreadResult {
  int64_t calls = 0;
  int64_t errors = 0;
  std::string first_error;
  std::vector<double> latencies_ms;
};

// Shared by the client threads: when to start counting and when to stop.
struct Clock {
  std::chrono::steady_clock::time_point measure_from;
  std::chrono::steady_clock::time_point stop_at;
  std::atomic<int64_t> remaining{0};  // with --calls
  bool by_count = false;
};

// Drives `stubs` (one per connection) from one thread: `streams` calls
// outstanding on each, one completion queue.
void Drive(const std::vector<grpc::GenericStub*>& stubs, int streams, const std::string& kind, bool vary,
           const Request& fixed, const std::string& token, Clock* clock, ThreadResult* out) {
  struct Slot {
    grpc::GenericStub* stub = nullptr;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
    grpc::ByteBuffer response;
    grpc::Status status;
    std::chrono::steady_clock::time_point began;
  };
  grpc::CompletionQueue cq;
  std::vector<Slot> slots(stubs.size() * streams);
  const grpc::ByteBuffer fixed_buffer = ToBuffer(fixed.bytes);
  const std::string bearer = token.empty() ? "" : absl::StrCat("Bearer ", token);
  const int deadline_ms = absl::GetFlag(FLAGS_deadline_ms);
  int64_t seq = 0;
  auto issue = [&](size_t s) -> bool {
    if (clock->by_count && clock->remaining.fetch_sub(1) <= 0) return false;
    Slot& slot = slots[s];
    slot.ctx = std::make_unique<grpc::ClientContext>();
    slot.ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    if (!bearer.empty()) slot.ctx->AddMetadata("authorization", bearer);
    slot.began = std::chrono::steady_clock::now();
    if (vary) {
      absl::StatusOr<Request> r = BuildRequest(kind, seq++ * 7919 + s);
      slot.reader = slot.stub->PrepareUnaryCall(slot.ctx.get(), fixed.method, ToBuffer(r->bytes), &cq);
    } else {
      slot.reader = slot.stub->PrepareUnaryCall(slot.ctx.get(), fixed.method, fixed_buffer, &cq);
    }
    slot.reader->StartCall();
    slot.reader->Finish(&slot.response, &slot.status, reinterpret_cast<void*>(s));
    return true;
  };
  out->latencies_ms.reserve(1 << 20);
  int64_t outstanding = 0;
  for (size_t s = 0; s < slots.size(); ++s) {
    slots[s].stub = stubs[s / streams];
    if (issue(s)) ++outstanding;
  }
  bool stopping = false;
  while (outstanding > 0) {
    void* tag;
    bool ok;
    if (!cq.Next(&tag, &ok)) break;
    --outstanding;
    size_t s = reinterpret_cast<size_t>(tag);
    auto now = std::chrono::steady_clock::now();
    if (clock->by_count || (slots[s].began >= clock->measure_from && now <= clock->stop_at)) {
      out->latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - slots[s].began).count());
      ++out->calls;
      if (!slots[s].status.ok()) {
        ++out->errors;
        if (out->first_error.empty()) {
          out->first_error = absl::StrCat(slots[s].status.error_code(), ": ", slots[s].status.error_message());
        }
      }
    }
    if (!clock->by_count && now >= clock->stop_at) stopping = true;
    if (!stopping && issue(s)) ++outstanding;
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

int Main() {
  const std::string kind = absl::GetFlag(FLAGS_request);
  absl::StatusOr<Request> request = BuildRequest(kind, 0);
  if (!request.ok()) {
    std::fprintf(stderr, "grpc_load: %s\n", std::string(request.status().message()).c_str());
    return 2;
  }
  const int connections = absl::GetFlag(FLAGS_connections);
  const int streams = absl::GetFlag(FLAGS_streams);
  const int threads = std::min(absl::GetFlag(FLAGS_threads), connections);
  if (connections < 1 || streams < 1 || threads < 1 || absl::GetFlag(FLAGS_seconds) <= 0) {
    std::fprintf(stderr, "grpc_load: --connections, --streams, --threads and --seconds must be positive\n");
    return 2;
  }
  std::string token;
  if (!absl::GetFlag(FLAGS_token_file).empty()) {
    absl::StatusOr<std::string> t = ReadFile(absl::GetFlag(FLAGS_token_file));
    if (!t.ok()) {
      std::fprintf(stderr, "grpc_load: --token_file: %s\n", std::string(t.status().message()).c_str());
      return 2;
    }
    token = std::string(absl::StripAsciiWhitespace(*t));
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
    absl::StatusOr<std::string> ca = ReadFile(absl::GetFlag(FLAGS_tls_ca));
    if (!ca.ok()) {
      std::fprintf(stderr, "grpc_load: --tls_ca: %s\n", std::string(ca.status().message()).c_str());
      return 2;
    }
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = *ca;
    creds = grpc::SslCredentials(o);
  }
  // One channel per connection; a distinct channel argument keeps gRPC from
  // sharing one subchannel (one TCP connection) between them.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  const std::string target = absl::GetFlag(FLAGS_target);
  for (int c = 0; c < connections; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("lifelong.grpc_load.connection", c);
    args.SetMaxReceiveMessageSize(64 << 20);
    if (!absl::GetFlag(FLAGS_tls_server_name).empty()) {
      args.SetSslTargetNameOverride(absl::GetFlag(FLAGS_tls_server_name));
    }
    channels.push_back(grpc::CreateCustomChannel(target, creds, args));
    if (!channels.back()->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      std::fprintf(stderr, "grpc_load: cannot connect to %s\n", target.c_str());
      return 1;
    }
    stubs.push_back(std::make_unique<grpc::GenericStub>(channels.back()));
  }
  Clock clock;
  clock.by_count = absl::GetFlag(FLAGS_calls) > 0;
  clock.remaining = absl::GetFlag(FLAGS_calls);
  auto t0 = std::chrono::steady_clock::now();
  clock.measure_from = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(clock.by_count ? 0 : absl::GetFlag(FLAGS_warmup_s)));
  clock.stop_at = clock.measure_from + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                           std::chrono::duration<double>(absl::GetFlag(FLAGS_seconds)));
  const bool vary = kind == "record" && absl::GetFlag(FLAGS_learners) > 0;
  std::vector<ThreadResult> results(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    std::vector<grpc::GenericStub*> mine;
    for (int c = t; c < connections; c += threads) mine.push_back(stubs[c].get());
    workers.emplace_back(Drive, mine, streams, kind, vary, *request, token, &clock, &results[t]);
  }
  for (std::thread& w : workers) w.join();
  double seconds = clock.by_count ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                                  : absl::GetFlag(FLAGS_seconds);
  ThreadResult all;
  for (ThreadResult& r : results) {
    all.calls += r.calls;
    all.errors += r.errors;
    if (all.first_error.empty()) all.first_error = r.first_error;
    all.latencies_ms.insert(all.latencies_ms.end(), r.latencies_ms.begin(), r.latencies_ms.end());
  }
  std::sort(all.latencies_ms.begin(), all.latencies_ms.end());
  auto pct = [&](double p) {
    if (all.latencies_ms.empty()) return 0.0;
    size_t i = std::min(all.latencies_ms.size() - 1, static_cast<size_t>(all.latencies_ms.size() * p));
    return all.latencies_ms[i];
  };
  std::string name = absl::GetFlag(FLAGS_name).empty() ? request->method : absl::GetFlag(FLAGS_name);
  std::printf(
      "name=%s target=%s method=%s connections=%d streams=%d seconds=%.1f calls=%lld errors=%lld "
      "rps=%.0f p50_ms=%.2f p99_ms=%.2f",
      name.c_str(), target.c_str(), request->method.c_str(), connections, streams, seconds,
      static_cast<long long>(all.calls), static_cast<long long>(all.errors), all.calls / seconds, pct(0.50), pct(0.99));
  if (!all.first_error.empty()) std::printf(" first_error=\"%s\"", all.first_error.c_str());
  std::printf("\n");
  return all.errors > 0 ? 3 : 0;
}

}  // namespace
}  // namespace lifelong

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil has deadlock detection on; gRPC's locks are absl::Mutex.
  // Off, as in every server, so the client costs what gRPC costs.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return lifelong::Main();
}
