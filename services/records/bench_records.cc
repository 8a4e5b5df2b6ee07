// bench_records: throughput and latency of the record service, measured in
// one run against a trivial Echo call on the same server setup.
//
//   bazel build -c opt //services/records:bench_records
//   bazel-bin/services/records/bench_records --data_dir=/tmp/bench_fresh --prefill=1000000 --learners=100000
//
// Pre-fills the store (directly, in synced batches of 1,000) unless it
// already holds --prefill statements, starts the gRPC server in-process as
// records_server does, and drives it with a closed-loop async client:
//   "latest 50 statements of a learner" queries (on a cold and then a warm
//   block cache, then straight on the store); durable single-statement
//   writes; durable batches of 100 (over gRPC, then straight into the store,
//   then into RocksDB alone under the store's configuration, with the store's
//   layout and with the least layout the indexes need: the ceiling).
//   Each phase starts on a quiescent store (flushes and compactions of
//   earlier phases finished; a write phase's own background work runs during
//   it), and each compared phase right after its own baseline, an Echo call
//   on the same server for half the phase's time (the steady-state queries
//   alternate with theirs: 4 slices each).
//
// With --target it drives a running records_server instead (no pre-fill, no
// store-only phases; a pause stands in for waiting on the store):
// ops/bench_records_server.sh runs it that way against a pre-filled server in
// its own process, and ops/xapi/bench.sh beside the xAPI endpoint.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>
#include <tuple>

#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/bare_echo_server.h"
#include "services/common/bench_driver.h"
#include "services/common/server.h"
#include "services/records/column_families.h"
#include "services/records/key_codec.h"
#include "services/records/record_store.h"
#include "services/records/records_service.h"
#include "services/records/test_statements.h"

ABSL_FLAG(std::string, data_dir, "/tmp/lifelong_bench_records", "store directory (reused across runs)");
ABSL_FLAG(int, prefill, 1000000, "statements in the store before measuring");
ABSL_FLAG(int, learners, 100000, "distinct learners of the pre-filled statements");
ABSL_FLAG(double, seconds, 8, "duration of each measurement");
ABSL_FLAG(int, concurrency, 64, "outstanding calls");
ABSL_FLAG(std::string, target, "",
          "host:port of a running records_server to drive instead of the in-process one (no pre-fill, "
          "no store-only phase)");
ABSL_FLAG(int, block_cache_mb, 1024, "RocksDB block cache in MiB (records_server's --block_cache_mb)");
ABSL_FLAG(bool, ascending, false, "learner queries oldest first (profiling aid)");
ABSL_FLAG(int, watchers, 0,
          "change-feed watchers (WatchLearnerChanges) connected during the run, acknowledging every change as "
          "the recommender's history cache does (writes then wait for their acknowledgements)");
ABSL_FLAG(int, min_pollers, 1, "sync server: fewest threads polling for calls");
ABSL_FLAG(int, max_pollers, 64, "sync server: most idle threads kept polling (records_server's default)");
ABSL_FLAG(bool, queries_first, false,
          "with --target: run the queries before the writes (the target's store is pre-filled, e.g. by "
          "ops/bench_records_server.sh); without --target they always run first");
ABSL_FLAG(double, settle_seconds, 10,
          "with --target: pause before each phase so that the previous phase's flushes and compactions "
          "finish (in-process, the bench waits for the store's background work instead)");
ABSL_FLAG(int, max_concurrent_calls, 0,
          "in-process server: calls in progress admitted (records_server's --max_concurrent_calls; 0: no limit)");
ABSL_FLAG(bool, bare, true,
          "also measure the bare gRPC callback echo server (in this process, its own connection) before each "
          "phase, and print each call's share of it");
ABSL_FLAG(bool, ceiling_single_writer, false,
          "also measure RocksDB alone (the store's keys and values) with one writer thread instead of four: what "
          "a single committer doing nothing but RocksDB's write could reach");
ABSL_FLAG(int, ceiling_nice, lifelong::records::RecordStoreOptions().write_slot_nice,
          "nice value of the RocksDB-alone ceiling's writer threads: by default the store's write slot's "
          "(RecordStoreOptions::write_slot_nice), so that both write at the same priority");
ABSL_FLAG(std::string, skip, "", "comma-separated phases to skip: validate,query,single,batch,direct,floor");

namespace lifelong::records {
namespace {

const char* kVerbs[] = {"registered", "attended", "attended", "attended", "completed", "passed", "experienced"};

// splitmix64: a cheap deterministic stream per statement number.
struct Mix {
  uint64_t x;
  uint64_t operator()() {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

const char* kVerbIris[] = {"http://adlnet.gov/expapi/verbs/registered", "http://adlnet.gov/expapi/verbs/attended",
                           "http://adlnet.gov/expapi/verbs/attended",   "http://adlnet.gov/expapi/verbs/attended",
                           "http://adlnet.gov/expapi/verbs/completed",  "http://adlnet.gov/expapi/verbs/passed",
                           "http://adlnet.gov/expapi/verbs/experienced"};

// A realistic ~750-byte statement (a kiosk check-in or a completion with
// credits), built from a template so generation costs little.
std::string Statement(int64_t n, int learners) {
  Mix rng{static_cast<uint64_t>(n)};
  uint64_t learner = rng() % learners, verb = rng() % 7, course = rng() % 3000;
  const char* mode = rng() % 2 ? "online" : "offline";
  return absl::StrCat(
      R"({"actor":{"objectType":"Agent","account":{"homePage":"https://id.dongcheng.gov.cn","name":"u)", learner,
      R"("}},"verb":{"id":")", kVerbIris[verb], R"(","display":{"en-US":")", kVerbs[verb],
      R"("}},"object":{"objectType":"Activity","id":"https://lifelong.dongcheng.edu.cn/courses/c)", course,
      R"(","definition":{"name":{"zh-CN":"智能手机与数字生活（入门）"},"type":"http://adlnet.gov/expapi/activities/course"}},)",
      R"("context":{"platform":"kiosk","language":"zh-CN","extensions":{)",
      R"("https://lifelong.dongcheng.edu.cn/xapi/ext/credits":1,"https://lifelong.dongcheng.edu.cn/xapi/ext/hours":2,)",
      R"("https://lifelong.dongcheng.edu.cn/xapi/ext/mode":")", mode,
      R"(","https://lifelong.dongcheng.edu.cn/xapi/ext/xuequ":"和平里学区"}},"timestamp":"2026-11-28T10:00:00+08:00"})");
}

// CPU time (user + system) of this whole process so far, in seconds:
// every thread's, RocksDB's background flushes and compactions included.
double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// How many cores the last StatementsPerSecond run kept busy and its CPU per
// statement, printed (PrintLastCpu) under the line that names the run.
std::string last_cpu;
void PrintLastCpu() { std::printf("%s", last_cpu.c_str()); }

// Calls `write` (it returns how many statements it stored) in a loop on each
// of `threads` threads until `seconds` have passed; returns statements/s and
// keeps the process's CPU use meanwhile for PrintLastCpu.
double StatementsPerSecond(int threads, double seconds, const std::function<int64_t()>& write) {
  std::atomic<int64_t> done{0};
  const double cpu0 = ProcessCpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  auto stop_at = t0 + std::chrono::duration<double>(seconds);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      while (std::chrono::steady_clock::now() < stop_at) done += write();
    });
  }
  for (auto& w : workers) w.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = ProcessCpuSeconds() - cpu0;
  last_cpu = absl::StrFormat("  cpu: %.2f cores, %.1f us of CPU per statement\n", cpu / wall,
                             1e6 * cpu / std::max<double>(1, done.load()));
  return done / wall;
}

// The batched-write ceiling of RocksDB alone on this machine, under exactly
// the store's configuration (MakeRecordStoreRocksConfig): a fresh database in
// `dir`, `prefill` statements written unsynced (then flushed and compacted),
// then synced batches of 100 from 4 threads for `seconds`, with no parsing,
// validation, idempotency check, voiding or group-commit bookkeeping; the
// keys and values are computed up front or are a few bytes of key building.
// `covering`: the store's own keys and values (the record under its id and
// copied into the learner index, empty values in the other indexes);
// otherwise the least the issue's layout asks for (the record once, under its
// id, and every index entry key-only). Returns statements/s; removes `dir`.
double RocksDbAlone(const std::string& dir, bool covering, int prefill, int learners, double seconds,
                    size_t cache_bytes, int writers = 4) {
  std::filesystem::remove_all(dir);
  // 100,000 distinct statements, cycled under fresh ids and sequences.
  struct Entry {
    std::string learner, activity, verb, value;
  };
  const int kDistinct = 100000;
  std::vector<Entry> entries(kDistinct);
  // What the store adds to the JSON: stored time, authority (and here the
  // timestamp is present, so nothing else).
  const std::string suffix =
      absl::StrCat(R"(,"stored":"2026-11-28T02:00:00.000000Z","authority":)", RecordStoreOptions().authority_json);
  for (int i = 0; i < kDistinct; ++i) {
    ParsedStatement p = *ParseStatement(Statement(i, learners));
    StatementRecord r;
    r.stored_seq = 1;
    r.timestamp_us = p.timestamp_us.value_or(0);
    r.learners = p.learners;
    r.verb = p.verb;
    r.activity = p.activity;
    r.json = absl::StrCat(p.text.substr(0, p.body_end), suffix, p.text.substr(p.body_end));
    entries[i] = {p.learners.front(), p.activity, p.verb, *EncodeStatementRecord(r)};
  }
  RecordStoreRocksConfig config = MakeRecordStoreRocksConfig(cache_bytes);
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  rocksdb::Status st = rocksdb::DB::Open(config.db, dir, config.families, &h, &raw);
  if (!st.ok()) {
    std::fprintf(stderr, "rocksdb alone: %s\n", st.ToString().c_str());
    return 0;
  }
  auto close_and_remove = [&] {
    for (auto* cf : h) raw->DestroyColumnFamilyHandle(cf);
    delete raw;
    std::filesystem::remove_all(dir);
  };
  std::atomic<uint64_t> seq{static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()))};
  auto put = [&](rocksdb::WriteBatch* b, uint64_t n) {
    const Entry& e = entries[n % kDistinct];
    Mix rng{n * 0x2545F4914F6CDD1DULL + 1};
    Uuid id;
    uint64_t a = rng(), c = rng();
    std::memcpy(id.data(), &a, 8);
    std::memcpy(id.data() + 8, &c, 8);
    uint64_t s = seq.fetch_add(1);
    b->Put(h[static_cast<int>(Cf::kStatements)], rocksdb::Slice(reinterpret_cast<const char*>(id.data()), 16), e.value);
    b->Put(h[static_cast<int>(Cf::kByLearner)], EncodeStringIndexKey(e.learner, s, id),
           covering ? rocksdb::Slice(e.value) : rocksdb::Slice());
    b->Put(h[static_cast<int>(Cf::kByActivity)], EncodeStringIndexKey(e.activity, s, id), rocksdb::Slice());
    b->Put(h[static_cast<int>(Cf::kByVerb)], EncodeStringIndexKey(e.verb, s, id), rocksdb::Slice());
    b->Put(h[static_cast<int>(Cf::kByStored)], EncodeStoredKey(s, id), rocksdb::Slice());
  };
  rocksdb::WriteOptions unsynced;
  unsynced.disableWAL = true;
  for (int i = 0; i < prefill && st.ok(); i += 1000) {
    rocksdb::WriteBatch b;
    for (int j = i; j < std::min(prefill, i + 1000); ++j) put(&b, j);
    st = raw->Write(unsynced, &b);
  }
  // The pre-fill's flushes and compactions finish before the measurement.
  absl::Status settled = st.ok() ? WaitForRocksBackgroundWork(raw, h) : absl::InternalError(st.ToString());
  if (!settled.ok()) {
    std::fprintf(stderr, "rocksdb alone, pre-fill: %s\n", std::string(settled.message()).c_str());
    close_and_remove();
    return 0;
  }
  std::atomic<uint64_t> next{static_cast<uint64_t>(prefill)};
  rocksdb::WriteOptions synced;
  synced.sync = true;
  // RocksDB's split of each Write (its perf context on the writing thread),
  // as the store times its own (RecordStoreStats::commit_wal_micros): with
  // several writers, pipelined, one group's memtable inserts overlap the next
  // group's WAL append and sync.
  std::atomic<uint64_t> wal_ns{0}, memtable_ns{0}, written{0};
  const int nice = absl::GetFlag(FLAGS_ceiling_nice);
  double rate = StatementsPerSecond(writers, seconds, [&]() -> int64_t {
    // The writers at the priority of the store's write slot (once a thread).
    thread_local bool prioritized = false;
    if (!prioritized && nice != 0) {
      if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice) != 0) {
        std::fprintf(stderr, "rocksdb alone: nice %d: %s (default priority kept)\n", nice, std::strerror(errno));
      }
    }
    prioritized = true;
    rocksdb::WriteBatch b;
    for (int k = 0; k < 100; ++k) put(&b, next++);
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableTimeExceptForMutex);
    rocksdb::PerfContext* perf = rocksdb::get_perf_context();
    perf->Reset();
    const bool ok = raw->Write(synced, &b).ok();
    wal_ns += perf->write_wal_time;
    memtable_ns += perf->write_memtable_time;
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    if (ok) written += 100;
    return ok ? 100 : 0;
  });
  last_cpu += absl::StrFormat(
      "  write: %.1f us WAL (append and sync) + %.1f us memtable inserts per statement, summed over the writers' "
      "Writes (pipelined: they overlap)\n",
      1e-3 * double(wal_ns) / std::max<uint64_t>(1, written),
      1e-3 * double(memtable_ns) / std::max<uint64_t>(1, written));
  close_and_remove();
  return rate;
}

int Main() {
  const std::string dir = absl::GetFlag(FLAGS_data_dir);
  const int prefill = absl::GetFlag(FLAGS_prefill);
  const int learners = absl::GetFlag(FLAGS_learners);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int conc = absl::GetFlag(FLAGS_concurrency);

  const std::string target = absl::GetFlag(FLAGS_target);
  std::unique_ptr<RecordStore> store;
  std::unique_ptr<RecordsService> service;
  std::unique_ptr<RunningGrpcServer> server;
  std::string address = target;
  if (target.empty()) {
    RecordStoreOptions store_options;
    store_options.block_cache_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_block_cache_mb)) << 20;
    auto store_or = RecordStore::Open(dir, store_options);
    if (!store_or.ok()) {
      std::fprintf(stderr, "open: %s\n", std::string(store_or.status().message()).c_str());
      return 1;
    }
    store = std::move(*store_or);
    uint64_t have = store->ApproximateStatementCount();
    if (have < static_cast<uint64_t>(prefill) * 9 / 10) {
      std::printf("pre-filling %d statements from %d learners into %s ...\n", prefill, learners, dir.c_str());
      auto t0 = std::chrono::steady_clock::now();
      for (int i = static_cast<int>(have); i < prefill; i += 1000) {
        std::vector<ParsedStatement> batch;
        for (int j = i; j < std::min(prefill, i + 1000); ++j) batch.push_back(*ParseStatement(Statement(j, learners)));
        auto r = store->Record(std::move(batch));
        if (!r.ok()) {
          std::fprintf(stderr, "prefill: %s\n", std::string(r.status().message()).c_str());
          return 1;
        }
        if ((i / 1000) % 100 == 0) {
          double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::printf("  %d/%d (%.0f statements/s)\n", i, prefill, (i - have + 1) / std::max(el, 1e-3));
          std::fflush(stdout);
        }
      }
    }
    std::printf("store holds ~%llu statements; waiting for flushes and compactions to finish ...\n",
                static_cast<unsigned long long>(store->ApproximateStatementCount()));
    std::fflush(stdout);
    if (absl::Status s = store->WaitForBackgroundWork(); !s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return 1;
    }

    service = std::make_unique<RecordsService>(store.get());
    GrpcServerOptions options;
    options.min_pollers = absl::GetFlag(FLAGS_min_pollers);
    options.max_pollers = absl::GetFlag(FLAGS_max_pollers);
    options.max_concurrent_calls = absl::GetFlag(FLAGS_max_concurrent_calls);
    auto started = StartGrpcServer(options, {service.get()});
    if (!started.ok()) return 1;
    server = std::move(*started);
    address = absl::StrCat("127.0.0.1:", server->port());
  }
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = v1::LearningRecordService::NewStub(channel);
  // The ceiling: gRPC's own callback server echoing bytes, driven the same
  // way (same driver, concurrency and one channel of its own).
  std::unique_ptr<BareEchoServer> bare_server;
  std::unique_ptr<v1::LearningRecordService::Stub> bare_stub;
  if (absl::GetFlag(FLAGS_bare)) {
    auto bare_started = StartBareEchoServer(BareEchoOptions{});
    if (!bare_started.ok()) {
      std::fprintf(stderr, "%s\n", std::string(bare_started.status().message()).c_str());
      return 1;
    }
    bare_server = std::move(*bare_started);
    bare_stub = v1::LearningRecordService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", bare_server->port()), grpc::InsecureChannelCredentials()));
  }

  // Change-feed watchers, as the recommender's history cache.
  std::vector<std::thread> watcher_threads;
  std::vector<std::unique_ptr<grpc::ClientContext>> watcher_contexts;
  std::atomic<int64_t> changes_acknowledged{0};
  for (int i = 0; i < absl::GetFlag(FLAGS_watchers); ++i) {
    watcher_contexts.push_back(std::make_unique<grpc::ClientContext>());
    grpc::ClientContext* ctx = watcher_contexts.back().get();
    watcher_threads.emplace_back([&stub, ctx, &changes_acknowledged] {
      auto stream = stub->WatchLearnerChanges(ctx);
      v1::LearnerChanges m;
      if (stream->Read(&m)) {       // sequence 0: live
        while (stream->Read(&m)) {  // changes and heartbeats, each acknowledged
          v1::LearnerChangesAck ack;
          ack.set_sequence(m.sequence());
          if (!stream->Write(ack)) break;
          if (m.learners_size() > 0) ++changes_acknowledged;
        }
      }
      stream->Finish();
    });
  }
  if (!watcher_threads.empty()) std::printf("%zu change-feed watcher(s) connected\n", watcher_threads.size());

  // Statements to write, generated before timing starts.
  const int64_t kPool = 400000;
  std::printf("generating %lld statements to write ...\n", static_cast<long long>(kPool));
  std::vector<std::string> pool(kPool);
  int64_t base = 1000000000LL + std::chrono::system_clock::now().time_since_epoch().count() % 1000000000LL;
  for (int64_t i = 0; i < kPool; ++i) pool[i] = Statement(base + i, learners);

  std::printf("\nrecord service benchmark (%s, %d outstanding calls, %.0fs each)\n",
              store ? "in-process server, sync API" : absl::StrCat("records_server at ", target).c_str(), conc,
              seconds);
  const std::string skip = absl::GetFlag(FLAGS_skip);
  auto skipped = [&](const char* phase) { return skip.find(phase) != std::string::npos; };
  // Validation alone (ParseStatement: what every write does first) of the
  // statements to write, on this thread: CPU time per statement, which the
  // machine's other load inflates far less than it does the rates below.
  if (!skipped("validate")) {
    const int64_t n = std::min<int64_t>(kPool, 100000);
    int64_t valid = 0;
    timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (int64_t i = 0; i < n; ++i) valid += ParseStatement(pool[i]).ok();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    const double cpu_us = 1e6 * (c1.tv_sec - c0.tv_sec) + 1e-3 * (c1.tv_nsec - c0.tv_nsec);
    std::printf("%-34s %.2f us of thread CPU per statement (%lld of %lld valid)\n", "validate 1 statement", cpu_us / n,
                static_cast<long long>(valid), static_cast<long long>(n));
  }
  // Every phase starts on a quiescent store: the flushes and compactions a
  // write phase leaves behind would otherwise run during (and be charged to)
  // the next phase. A write phase's own background work runs during it.
  bool first_phase = true;
  auto quiesce = [&](const char* phase) {
    if (skipped(phase)) return;
    if (!store) {  // a running server: give its background work time instead
      double settle = absl::GetFlag(FLAGS_settle_seconds);
      if (!first_phase && settle > 0) {
        std::printf("  (paused %.0f s for the server's flushes and compactions before this phase)\n", settle);
        std::fflush(stdout);
        std::this_thread::sleep_for(std::chrono::duration<double>(settle));
      }
      first_phase = false;
      return;
    }
    auto t0 = std::chrono::steady_clock::now();
    if (absl::Status s = store->WaitForBackgroundWork(); !s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      std::exit(1);
    }
    std::printf("  (waited %.1f s for flushes and compactions before this phase)\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fflush(stdout);
  };
  // Each measured phase gets its own baseline, an echo on the same server and
  // the same quiescent store, run just before it (or alternating with it, for
  // the steady-state queries): the ratio then compares calls measured seconds
  // apart rather than a minute apart (these machines drift).
  bench::StartFn<v1::EchoResponse> echo_call = [&](grpc::ClientContext* ctx, int64_t, grpc::CompletionQueue* cq) {
    v1::EchoRequest req;
    req.set_payload("ping");
    return stub->AsyncEcho(ctx, req, cq);
  };
  bench::StartFn<v1::EchoResponse> bare_call = [&](grpc::ClientContext* ctx, int64_t, grpc::CompletionQueue* cq) {
    v1::EchoRequest req;
    req.set_payload("ping");
    return bare_stub->AsyncEcho(ctx, req, cq);
  };
  // The bare server's figure right before a phase (empty with --nobare).
  auto run_bare = [&](const std::string& before) {
    bench::LoadResult r;
    if (!bare_stub) return r;
    r = bench::RunClosedLoop<v1::EchoResponse>(absl::StrCat("bare grpc echo (before ", before, ")"), conc, seconds / 2,
                                               bare_call);
    bench::PrintResult(r);
    return r;
  };
  bench::LoadResult bare;  // the latest bare figure, set by run_echo
  auto run_echo = [&](const std::string& before) {
    bare = run_bare(before);
    bench::LoadResult r = bench::RunClosedLoop<v1::EchoResponse>(absl::StrCat("echo (baseline, before ", before, ")"),
                                                                 conc, seconds / 2, echo_call);
    bench::PrintResult(r, 1, nullptr, &bare);
    return r;
  };
  auto ratio = [](const bench::LoadResult& r, const bench::LoadResult& base) {
    return base.calls_per_sec > 0 ? r.calls_per_sec / base.calls_per_sec : 0.0;
  };
  // Calls `call` on this thread, in rounds of 100, for `run_seconds`; returns
  // {calls, elapsed seconds}.
  auto time_calls = [](double run_seconds, const std::function<void()>& call) {
    int64_t n = 0;
    auto t0 = std::chrono::steady_clock::now();
    auto stop_at = t0 + std::chrono::duration<double>(run_seconds);
    while (std::chrono::steady_clock::now() < stop_at) {
      for (int k = 0; k < 100; ++k, ++n) call();
    }
    return std::make_pair(n, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };

  // Queries run first on the in-process store, i.e. on the pre-filled store
  // as it is (the write phases below add ~0.5M statements); against a
  // running server (--target, nothing pre-filled) they run after the writes,
  // so that there is something to read.
  std::mt19937_64 rng(42);
  bench::LoadResult query, query_echo, query_bare;
  auto run_queries = [&] {
    if (skipped("query")) {
      std::printf("latest 50 of a learner: skipped\n");
      return;
    }
    quiesce("query");
    bench::StartFn<v1::ListStatementsResponse> latest50 = [&](grpc::ClientContext* ctx, int64_t,
                                                              grpc::CompletionQueue* cq) {
      v1::ListStatementsRequest req;
      req.set_learner(absl::StrCat("u", rng() % learners));
      req.set_page_size(50);
      req.set_ascending(absl::GetFlag(FLAGS_ascending));
      return stub->AsyncListStatements(ctx, req, cq);
    };
    // First on a cold block cache (the store was just opened), then after one
    // pass over the learner index, as records_server does at start-up: the
    // steady state of a running server.
    if (store) {  // a running server (--target) warmed its cache at start-up
      bench::LoadResult base = run_echo("cold-cache queries");
      bench::LoadResult cold = bench::RunClosedLoop<v1::ListStatementsResponse>("latest 50 of a learner, cold cache",
                                                                                conc, seconds, latest50);
      bench::PrintResult(cold, 1, &base, &bare);
      auto t0 = std::chrono::steady_clock::now();
      absl::StatusOr<uint64_t> warmed = store->WarmLearnerIndex();
      if (!warmed.ok()) {
        std::fprintf(stderr, "%s\n", std::string(warmed.status().message()).c_str());
        std::exit(1);
      }
      std::printf("  (learner index read into the block cache: %.0f MB in %.1f s)\n", *warmed / 1e6,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    // Reads leave no background work, so the steady-state queries alternate
    // with their echo baseline (4 slices each) rather than follow it.
    query_bare = run_bare("steady-state queries");
    std::tie(query_echo, query) = bench::RunInterleaved<v1::EchoResponse, v1::ListStatementsResponse>(
        "echo (baseline, interleaved)", echo_call, "latest 50 of a learner", latest50, conc, seconds, 4);
    bench::PrintResult(query_echo, 1, nullptr, &query_bare);
    bench::PrintResult(query, 1, &query_echo, &query_bare);
    if (store) {  // the same queries straight on the store, one thread: the store's share of a call
      std::mt19937_64 local(7);
      int64_t returned = 0;
      auto [n, el] = time_calls(std::min(seconds, 3.0), [&] {
        StatementQuery q;
        q.learner = *CanonicalLearnerKey(absl::StrCat("u", local() % learners), "learner");
        q.page_size = 50;
        absl::StatusOr<StatementPage> page = store->List(q);
        if (page.ok()) returned += static_cast<int64_t>(page->statements.size());
      });
      std::printf("%-34s threads=1  calls/s=%9.0f  (%.1f us per query, %.1f statements each; store only)\n",
                  "latest 50 of a learner, in-process", n / el, 1e6 * el / n,
                  double(returned) / std::max<int64_t>(1, n));
      // The same through the service's handler, plus the response's
      // serialization and the client's parse: everything but gRPC's transport.
      std::string wire;
      std::tie(n, el) = time_calls(std::min(seconds, 3.0), [&] {
        v1::ListStatementsRequest req;
        req.set_learner(absl::StrCat("u", local() % learners));
        req.set_page_size(50);
        v1::ListStatementsResponse resp, parsed;
        service->ListStatements(nullptr, &req, &resp);
        resp.SerializeToString(&wire);
        parsed.ParseFromString(wire);
      });
      std::printf(
          "%-34s threads=1  calls/s=%9.0f  (%.1f us per query; handler, serialization and the "
          "client's parse, no transport)\n",
          "latest 50 of a learner, in-process", n / el, 1e6 * el / n);
    }
  };
  const bool queries_first = store != nullptr || absl::GetFlag(FLAGS_queries_first);
  if (queries_first) run_queries();

  int64_t cursor = 0;
  // Statements from the pool straight into the store (no gRPC, parsing
  // included) from `threads` threads, `per_call` per Record() call, for
  // `run_seconds`; returns statements/s.
  auto record_directly = [&](int threads, int per_call, double run_seconds) {
    std::atomic<int64_t> next{cursor};
    double rate = StatementsPerSecond(threads, run_seconds, [&]() -> int64_t {
      std::vector<ParsedStatement> b;
      for (int k = 0; k < per_call; ++k) b.push_back(*ParseStatement(pool[next++ % kPool]));
      return store->Record(std::move(b)).ok() ? per_call : 0;
    });
    cursor = next;
    return rate;
  };
  bench::LoadResult single, single_echo, single_bare;
  if (skipped("single")) {
    std::printf("record 1 statement: skipped\n");
  } else {
    quiesce("single");
    single_echo = run_echo("single writes");
    single_bare = bare;
    RecordStoreStats before = store ? store->stats() : RecordStoreStats{};
    single = bench::RunClosedLoop<v1::Statement>("record 1 statement (durable)", conc, seconds,
                                                 [&](grpc::ClientContext* ctx, int64_t, grpc::CompletionQueue* cq) {
                                                   v1::RecordStatementRequest req;
                                                   req.set_statement_json(pool[cursor++ % kPool]);
                                                   return stub->AsyncRecordStatement(ctx, req, cq);
                                                 });
    bench::PrintResult(single, 1, &single_echo, &single_bare);
    RecordStoreStats after = store ? store->stats() : RecordStoreStats{};
    if (store) {
      std::printf("  group commit during single writes: %.1f statements per synced write\n",
                  double(after.statements_written - before.statements_written) /
                      std::max<uint64_t>(1, after.groups_committed - before.groups_committed));
      // The same writes straight into the store from as many threads as there
      // were outstanding calls: the store's share of a call.
      quiesce("single");
      std::printf("%-34s threads=%-3d items/s=%10.0f  (store only, no gRPC)\n", "record 1 statement, in-process", conc,
                  record_directly(conc, 1, seconds / 2));
      PrintLastCpu();
    }
  }

  bench::LoadResult batch;
  if (skipped("batch")) {
    std::printf("record batch of 100: skipped\n");
  } else {
    quiesce("batch");
    const double client_cpu0 = ProcessCpuSeconds();
    batch = bench::RunClosedLoop<v1::RecordStatementsResponse>(
        "record batch of 100 (durable)", std::max(1, conc / 4), seconds,
        [&](grpc::ClientContext* ctx, int64_t, grpc::CompletionQueue* cq) {
          v1::RecordStatementsRequest req;
          for (int k = 0; k < 100; ++k) req.add_statement_json(pool[cursor++ % kPool]);
          return stub->AsyncRecordStatements(ctx, req, cq);
        });
    bench::PrintResult(batch, 100);
    // This process's CPU during the phase only (not the pool's generation
    // before it); without --target it includes the in-process server's.
    const double client_cpu = ProcessCpuSeconds() - client_cpu0;
    std::printf("  %s: %.2f cores, %.1f us of CPU per statement\n", store ? "client and server" : "client",
                client_cpu / std::max(1e-9, batch.seconds),
                1e6 * client_cpu / std::max<double>(1, 100.0 * (batch.calls - batch.errors)));
  }

  // The same batches straight into the store (no gRPC), parsing included:
  // shows how much of the batched figure the store itself allows.
  if (store && !skipped("direct")) {
    quiesce("direct");
    const RecordStoreStats before = store->stats();
    const auto t0 = std::chrono::steady_clock::now();
    const double rate = record_directly(4, 100, seconds);
    const double wall_us = 1e6 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const RecordStoreStats after = store->stats();
    std::printf("%-34s threads=4  items/s=%10.0f  (store only, no gRPC)\n", "record batch of 100, in-process", rate);
    PrintLastCpu();
    // The committer: each group's batch is built (while the group before is
    // in RocksDB's Write, with build ahead), then written; Writes one at a
    // time (WAL, fdatasync, memtable). Build and write may overlap, so their
    // sum may exceed 100%; the write share is how busy the one write slot was.
    const uint64_t groups = after.groups_committed - before.groups_committed;
    const double build = after.commit_build_micros - before.commit_build_micros;
    const double write = after.commit_write_micros - before.commit_write_micros;
    const double wait = after.commit_wait_micros - before.commit_wait_micros;
    const double written = std::max<uint64_t>(1, after.statements_written - before.statements_written);
    std::printf(
        "  committer: %llu groups, %.0f statements per group, busy %.0f%% of the time (building batches %.0f%%, "
        "RocksDB's write %.0f%%; built groups waiting for the write before %.0f%%), %.0f us build + %.0f us write "
        "per group; building: %.2f us of CPU per statement\n"
        "  write per statement: %.1f us, of it %.1f us WAL (append and sync) + %.1f us memtable inserts\n",
        static_cast<unsigned long long>(groups), written / std::max<uint64_t>(1, groups),
        100 * (build + write) / wall_us, 100 * build / wall_us, 100 * write / wall_us, 100 * wait / wall_us,
        build / std::max<uint64_t>(1, groups), write / std::max<uint64_t>(1, groups),
        (after.commit_build_cpu_micros - before.commit_build_cpu_micros) / written, write / written,
        (after.commit_wal_micros - before.commit_wal_micros) / written,
        (after.commit_memtable_micros - before.commit_memtable_micros) / written);
  }

  // RocksDB alone, same configuration, no store logic: the ceiling any
  // store logic on this layout works under (each in a fresh database beside
  // the store's, pre-filled with as many statements).
  if (store && !skipped("floor")) {
    const size_t cache_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_block_cache_mb)) << 20;
    quiesce("floor");
    std::printf(
        "%-34s threads=4  items/s=%10.0f  (RocksDB alone: the store's keys and values, covering copy included)\n",
        "rocksdb alone, batch of 100",
        RocksDbAlone(dir + "-rocksdb-alone", true, prefill, learners, seconds, cache_bytes));
    PrintLastCpu();
    std::printf("%-34s threads=4  items/s=%10.0f  (RocksDB alone: the record once, every index entry key-only)\n",
                "rocksdb alone, batch of 100",
                RocksDbAlone(dir + "-rocksdb-alone", false, prefill, learners, seconds, cache_bytes));
    PrintLastCpu();
    if (absl::GetFlag(FLAGS_ceiling_single_writer)) {
      std::printf("%-34s threads=1  items/s=%10.0f  (RocksDB alone: the store's keys and values, one writer)\n",
                  "rocksdb alone, batch of 100",
                  RocksDbAlone(dir + "-rocksdb-alone", true, prefill, learners, seconds, cache_bytes, 1));
      PrintLastCpu();
    }
  }

  if (!queries_first) run_queries();
  auto verdict = [](bool ran, bool met) { return !ran ? "skipped" : met ? "MET" : "NOT MET"; };
  std::printf(
      "\ntargets: single writes >= 50%% of echo: %s (%.0f%%); batched >= 100000 statements/s: %s (%.0f); "
      "learner queries >= 50%% of echo: %s (%.0f%%)\n",
      verdict(single.calls > 0, ratio(single, single_echo) >= 0.5), 100 * ratio(single, single_echo),
      verdict(batch.calls > 0, batch.calls_per_sec * 100 >= 100000), batch.calls_per_sec * 100,
      verdict(query.calls > 0, ratio(query, query_echo) >= 0.5), 100 * ratio(query, query_echo));
  if (bare_stub) {
    std::printf(
        "share of bare gRPC (callback echo server): echo %.0f%%, single writes %.0f%%, "
        "learner queries %.0f%%\n",
        100 * ratio(single_echo.calls > 0 ? single_echo : query_echo, single_echo.calls > 0 ? single_bare : query_bare),
        100 * ratio(single, single_bare), 100 * ratio(query, query_bare));
  }
  if (store) {
    RecordStoreStats st = store->stats();
    std::printf("group commit: %llu statements in %llu synced writes (%.1f per sync)\n",
                static_cast<unsigned long long>(st.statements_written),
                static_cast<unsigned long long>(st.groups_committed),
                st.groups_committed ? double(st.statements_written) / st.groups_committed : 0.0);
  }
  if (!watcher_threads.empty()) {
    std::printf(
        "change-feed messages acknowledged by the watchers: %lld; watchers dropped for a late "
        "acknowledgement: %lld\n",
        static_cast<long long>(changes_acknowledged.load()),
        static_cast<long long>(service ? service->change_feed().dropped_watchers() : -1));
    for (auto& ctx : watcher_contexts) ctx->TryCancel();
    for (auto& t : watcher_threads) t.join();
  }
  if (server) server->Shutdown(std::chrono::seconds(2));
  if (bare_server) bare_server->Shutdown(std::chrono::seconds(2));
  return 0;
}

}  // namespace
}  // namespace lifelong::records

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return lifelong::records::Main();
}
