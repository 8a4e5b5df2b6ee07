// bench_recommend: throughput and latency of RecommendationService against
// its own Echo baseline, on the same server setup (RecommendServer: sync gRPC
// server, search batcher, catalog cache, records client), for
//   (1) a 3,000-course catalog (exact flat index), and
//   (2) a synthetic 1,000,000-item catalog (the model's IVF index),
// plus recall@10 of the approximate index against exact search on the same
// learner queries, and every call's share of the bare gRPC callback echo
// server (services/common/bare_echo_server.h) measured with the same client
// threads. Prints figures; not a test.
//
//   bazel run -c opt //services/recommend:bench_recommend -- --duration_s=10
//
// Everything runs in this process: fake record and catalog services (gRPC on
// port 0), the recommendation server, and the client threads. Model versions
// are synthetic (clustered item vectors, query basis = item vectors) and go
// through the real writer and loader.
//
// With --records_target the record service is a real records_server instead
// of the fake (ops/bench_recommend_records.sh starts one, with authentication
// off and on): the learners' histories are recorded there (RecordStatements,
// loader token), the recommender reads and watches it (recommender token),
// and --writers threads record statements for the same learners during every
// measurement, so the recommender's history cache is invalidated as in
// production. The process CPU per call then leaves out the records_server's
// CPU: compare rates.
#include <faiss/IndexFlat.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "models/model_writer.h"
#include "models/sequence_blend.h"
#include "models/sequence_model.h"
#include "models/text_embedding.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/bare_echo_server.h"
#include "services/common/log.h"
#include "services/domain/vocabulary.h"
#include "services/recommend/recommend_server.h"
#include "services/recommend/test_support.h"
#include "services/records/test_statements.h"

ABSL_FLAG(int, duration_s, 10, "seconds per measurement");
ABSL_FLAG(int, clients, 32, "concurrent client threads");
ABSL_FLAG(int, small_courses, 3000, "courses of the small catalog");
ABSL_FLAG(int, large_items, 1000000, "items of the large catalog (0 skips it)");
ABSL_FLAG(int, sparse_items, 0,
          "items of a catalog served from a sparse item-item matrix (format 2, what the trainer "
          "writes above 4,096 collaborative items; 100 entries per row), scanned "
          "exactly by ExactScorer (0 skips it)");
ABSL_FLAG(int, learners, 5000, "learners with history per scenario");
ABSL_FLAG(int, recall_queries, 1000, "learner queries for recall@10");
ABSL_FLAG(int, k, 10, "recommendations per request");
ABSL_FLAG(int, batch_wait_us, 500, "search batcher wait");
ABSL_FLAG(int, max_pollers, 4, "gRPC sync server pollers");
ABSL_FLAG(int, history_cache_learners, 100000, "recommender's learner-history cache (0: off)");
ABSL_FLAG(int, batch_min_items, 0, "models with fewer items are searched without batching");
ABSL_FLAG(int, popular_candidates, 100, "popular courses added to every candidate pool");
ABSL_FLAG(int, dim, 64,
          "dimension of the synthetic item vectors (trained models: 256 above "
          "1,024 items)");
ABSL_FLAG(int64_t, exact_scan_max_floats, -1, "Recommender::Options::exact_scan_max_floats (-1: the server's default)");
ABSL_FLAG(bool, warm_histories, true,
          "right before the learner measurement, one Recommend per learner (--clients threads), so that it sees a "
          "warm history cache, as a running service does; its misses are then the writers' invalidations");
ABSL_FLAG(bool, parse_responses, false,
          "parse every Recommend answer into typed messages on the client (ten course summaries each); default: "
          "the client reads the answer's bytes and checks only its count of recommendations (the bare server's "
          "client parses a one-field echo), so the machine's two cores are not spent on the load driver's parse");
ABSL_FLAG(bool, learner_only, false, "measure only the learner Recommend (profiling)");
ABSL_FLAG(bool, gru, false,
          "the model version carries a GRU sequence model (models/sequence_model.h, the default spec of "
          "train --sequence_model=auto, one epoch on the learners' histories here) blended in with w 1, as "
          "train writes for a district: every Recommend scores every row");
ABSL_FLAG(bool, identity_basis, false,
          "the small catalog's (only) model stores an item-item M dense with an identity query basis, as train writes "
          "for catalogs up to 4,096 courses (M[r][j] = <v_r, v_j> of the synthetic vectors, diagonal 0); default: "
          "the 64-d low-rank vectors themselves");
ABSL_FLAG(bool, bare, true,
          "also measure the bare gRPC callback echo server (in this process, one channel of its own) with the "
          "same client threads, and print each call's share of it");
ABSL_FLAG(std::string, work_dir, "", "where model versions are written (default: a temp dir)");
ABSL_FLAG(std::string, records_target, "",
          "a running records_server (host:port) instead of the in-process fake: histories are recorded there, the "
          "recommender reads and watches it, --writers record during the measurements");
ABSL_FLAG(std::string, records_loader_token_file, "",
          "with --records_target: bearer token (role loader) of the seeding and the writers (empty: none)");
ABSL_FLAG(std::string, records_recommender_token_file, "",
          "with --records_target: bearer token (role recommender) the recommender and the ListStatements "
          "measurement send (empty: none)");
ABSL_FLAG(int, writers, 2,
          "with --records_target: threads recording one durable statement at a time, for the scenario's learners, "
          "during the measurements");

namespace lifelong::recommend {
namespace {

using testing::FakeCatalog;
using testing::FakeRecords;

std::string ReadToken(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  if (token.empty()) {
    std::fprintf(stderr, "no token in %s\n", path.c_str());
    std::exit(1);
  }
  return token;
}

// A real records_server: statements recorded in batches through its public
// API (durable), and concurrent single writes while the load runs.
class RealRecords {
 public:
  RealRecords(const std::string& target, std::string loader_token)
      : stub_(v1::LearningRecordService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))),
        token_(std::move(loader_token)) {}

  // A statement of `learner` for course `course_id` at `time` ("completed"
  // or "attended"); sent with the next Flush (every 500).
  void Add(const std::string& learner, bool completed, const std::string& course_id, absl::Time time) {
    batch_.push_back(MakeStatement(learner, completed, course_id, time));
    if (batch_.size() >= 500) Flush();
  }
  void Flush() {
    if (batch_.empty()) return;
    grpc::ClientContext ctx;
    Authorize(&ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::RecordStatementsRequest req;
    for (std::string& json : batch_) req.add_statement_json(std::move(json));
    batch_.clear();
    v1::RecordStatementsResponse resp;
    grpc::Status s = stub_->RecordStatements(&ctx, req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "seeding records_server: %s\n", s.error_message().c_str());
      std::exit(1);
    }
  }
  // One durable statement; whether it was stored.
  bool RecordOne(const std::string& learner, const std::string& course_id) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement(learner, false, course_id, absl::Now()));
    v1::Statement out;
    return stub_->RecordStatement(&ctx, req, &out).ok();
  }

 private:
  static std::string MakeStatement(const std::string& learner, bool completed, const std::string& course_id,
                                   absl::Time time) {
    records::testing::StatementSpec spec;
    spec.learner = learner;
    spec.verb = completed ? "completed" : "attended";
    spec.course = course_id;
    spec.timestamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
    return records::testing::MakeStatement(spec);
  }
  void Authorize(grpc::ClientContext* ctx) const {
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  }

  std::unique_ptr<v1::LearningRecordService::Stub> stub_;
  const std::string token_;
  std::vector<std::string> batch_;
};

constexpr int kTopics = 1000;
constexpr int kCategories = 30;
constexpr int kVenues = 200;

struct Figures {
  double qps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t errors = 0;
  int64_t calls = 0;
  // Process CPU time (user + system, every thread: clients, server, fakes)
  // per call. Steadier than q/s on a shared machine: other processes'
  // load changes how much CPU this one gets, not what a call costs.
  double cpu_us_per_call = 0;
  // The same less the client threads' own CPU time (CLOCK_THREAD_CPUTIME_ID
  // of each thread that makes the calls): the server's handlers and gRPC's
  // threads (both sides' polling and writes that run off the calling
  // threads), whatever the client does with an answer.
  double server_cpu_us_per_call = 0;
};

double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// The number of RecommendResponse.recommendations (field 1) in an answer's
// bytes, reading only the top-level tags and lengths; -1 when the bytes are
// not a well-formed message of length-delimited and varint fields.
int CountRecommendations(const grpc::ByteBuffer& answer) {
  std::vector<grpc::Slice> slices;
  if (!answer.Dump(&slices).ok()) return -1;
  thread_local std::string joined;
  joined.clear();
  for (const grpc::Slice& s : slices) joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(joined.data());
  const uint8_t* const end = p + joined.size();
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
      const uint8_t b = *p++;
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  int count = 0;
  while (p < end) {
    uint64_t tag = 0, len = 0;
    if (!varint(&tag)) return -1;
    if ((tag & 7) == 0) {
      if (!varint(&len)) return -1;
      continue;
    }
    if ((tag & 7) != 2 || !varint(&len) || len > static_cast<uint64_t>(end - p)) return -1;
    if ((tag >> 3) == 1) ++count;
    p += len;
  }
  return count;
}

// Runs `call(thread, i)` from `clients` threads for `duration`.
template <typename Call>
Figures Measure(int clients, absl::Duration duration, Call call) {
  std::vector<std::vector<float>> lat(clients);
  std::vector<int64_t> errors(clients, 0);
  std::vector<double> client_cpu(clients, 0);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  const double cpu_start = ProcessCpuSeconds();
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      const double thread_cpu_start = ThreadCpuSeconds();
      int64_t i = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const absl::Time s = absl::Now();
        const bool ok = call(t, i++);
        lat[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - s));
        if (!ok) ++errors[t];
      }
      client_cpu[t] = ThreadCpuSeconds() - thread_cpu_start;
    });
  }
  absl::SleepFor(duration);
  stop = true;
  for (auto& th : threads) th.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;
  std::vector<float> all;
  Figures f;
  double client_cpu_seconds = 0;
  for (int t = 0; t < clients; ++t) {
    all.insert(all.end(), lat[t].begin(), lat[t].end());
    f.errors += errors[t];
    client_cpu_seconds += client_cpu[t];
  }
  std::sort(all.begin(), all.end());
  f.calls = all.size();
  f.qps = all.size() / seconds;
  if (!all.empty()) f.cpu_us_per_call = 1e6 * cpu_seconds / all.size();
  if (!all.empty()) f.server_cpu_us_per_call = 1e6 * (cpu_seconds - client_cpu_seconds) / all.size();
  if (!all.empty()) {
    f.p50_ms = all[all.size() / 2];
    f.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return f;
}

// `bare`: the bare gRPC echo server's figures, printed as "(N% of bare)".
void Print(const std::string& name, const Figures& f, const Figures* echo, const Figures* bare = nullptr) {
  std::printf("  %-34s %9.0f q/s  p50 %7.2f ms  p99 %7.2f ms  cpu %5.0f us/call (server %5.0f)  errors %lld",
              name.c_str(), f.qps, f.p50_ms, f.p99_ms, f.cpu_us_per_call, f.server_cpu_us_per_call,
              static_cast<long long>(f.errors));
  if (echo != nullptr && echo->qps > 0 && f.cpu_us_per_call > 0) {
    std::printf("  (%.0f%% of echo; by cpu/call %.0f%%)", 100.0 * f.qps / echo->qps,
                100.0 * echo->cpu_us_per_call / f.cpu_us_per_call);
  }
  if (bare != nullptr && bare->qps > 0 && f.cpu_us_per_call > 0) {
    std::printf("  (%.0f%% of bare; by cpu/call %.0f%%, by server cpu/call %.0f%%)", 100.0 * f.qps / bare->qps,
                100.0 * bare->cpu_us_per_call / f.cpu_us_per_call,
                f.server_cpu_us_per_call > 0 ? 100.0 * bare->server_cpu_us_per_call / f.server_cpu_us_per_call : 0.0);
  }
  std::printf("\n");
  std::fflush(stdout);
}

void SetTs(absl::Time t, google::protobuf::Timestamp* out) { out->set_seconds(absl::ToUnixSeconds(t)); }

// A synthetic catalog: item i belongs to topic i % kTopics, category
// topic % kCategories, venue (i / 7) % kVenues inside Dongcheng.
v1::Course SyntheticCourse(const std::string& prefix, int i, absl::Time now) {
  v1::Course c;
  c.set_id(absl::StrCat(prefix, i));
  const int topic = i % kTopics;
  c.set_title(absl::StrCat("课程", topic, "-", i / kTopics));
  c.set_category(absl::StrCat("类别", topic % kCategories));
  c.set_state(v1::Course::OPEN);
  c.add_audiences(static_cast<v1::Course::Audience>(1 + i % 4));
  if (i % 5 == 0) {
    c.set_mode(v1::Course::ONLINE);
  } else {
    c.set_mode(v1::Course::OFFLINE);
    const int v = (i / 7) % kVenues;
    v1::Venue* venue = c.mutable_venue();
    venue->set_id(absl::StrCat("v", v));
    venue->set_name(absl::StrCat("社区学校", v));
    venue->set_xuequ(absl::StrCat("学区", v % 8));
    venue->set_jiedao(absl::StrCat("街道", v % 17));
    venue->mutable_location()->set_latitude(39.90 + 0.0004 * (v % 100));
    venue->mutable_location()->set_longitude(116.39 + 0.0003 * (v / 2));
  }
  SetTs(now - absl::Hours(24), c.mutable_enrollment_open_time());
  SetTs(now + absl::Hours(24 * 30), c.mutable_enrollment_close_time());
  c.set_capacity(i % 3 == 0 ? 0 : 40);
  c.set_seats_taken(i % 3 == 0 ? 0 : i % 40);
  return c;
}

// Model arrays: clustered item vectors (a topic centre plus noise, scaled),
// query basis = item vectors, popularity skewed.
// A sparse item-item matrix over `n` items: every row holds up to 100
// targets (the size of TrainSparseModel's rows), half of them in the
// course's own topic, positive weights, targets ascending.
void MakeSparse(models::ModelArrays* a) {
  const int n = static_cast<int>(a->course_ids.size());
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> w(0.01f, 1.0f);
  a->sparse = true;
  a->identity_query = true;
  a->dim = n;
  a->item_vectors.clear();
  a->query_basis.clear();
  a->sparse_row_start.assign(1, 0);
  std::vector<int32_t> row;
  for (int i = 0; i < n; ++i) {
    row.clear();
    // Half of the row in the course's topic, half anywhere.
    const int per_topic = std::max(1, n / kTopics);
    for (int e = 0; e < 100; ++e) {
      const int t =
          e % 2 == 0 ? static_cast<int>((i % kTopics) + kTopics * (rng() % per_topic)) : static_cast<int>(rng() % n);
      if (t < n && t != i) row.push_back(t);
    }
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    for (int32_t t : row) {
      a->sparse_target.push_back(t);
      a->sparse_weight.push_back(w(rng));
    }
    a->sparse_row_start.push_back(static_cast<int64_t>(a->sparse_target.size()));
  }
}

// The identity-basis form of SyntheticArrays' model: M[r][j] = <v_r, v_j>
// (0 on the diagonal), stored as train's dense models are (item_vectors row j
// is M's column j, so a learner's score is <history weights, row j>).
void MakeIdentityBasis(models::ModelArrays* a) {
  const int n = static_cast<int>(a->course_ids.size()), d = a->dim;
  std::vector<float> m(static_cast<size_t>(n) * n, 0.0f);
  for (int j = 0; j < n; ++j) {
    const float* vj = a->item_vectors.data() + static_cast<size_t>(j) * d;
    for (int r = 0; r < n; ++r) {
      if (r == j) continue;
      const float* vr = a->item_vectors.data() + static_cast<size_t>(r) * d;
      float s = 0;
      for (int k = 0; k < d; ++k) s += vr[k] * vj[k];
      m[static_cast<size_t>(j) * n + r] = s;
    }
  }
  a->item_vectors = std::move(m);
  a->query_basis.clear();
  a->identity_query = true;
  a->dim = n;
}

models::ModelArrays SyntheticArrays(const std::string& prefix, int n, int content_dim, absl::Time now) {
  const int kDim = absl::GetFlag(FLAGS_dim);
  models::ModelArrays a;
  std::mt19937 rng(42);
  std::normal_distribution<float> g;
  std::vector<float> centres(kTopics * kDim);
  for (float& x : centres) x = g(rng);
  a.course_ids.reserve(n);
  a.counts.reserve(n);
  a.dim = kDim;
  a.identity_query = false;
  a.item_vectors.resize(static_cast<size_t>(n) * kDim);
  for (int i = 0; i < n; ++i) {
    a.course_ids.push_back(absl::StrCat(prefix, i));
    a.counts.push_back(1 + static_cast<int64_t>(10000.0 / (1 + i % 997)));
    const int topic = i % kTopics;
    const float scale = 0.5f + (rng() % 100) / 100.0f;
    for (int d = 0; d < kDim; ++d) {
      a.item_vectors[static_cast<size_t>(i) * kDim + d] = scale * (centres[topic * kDim + d] + 0.6f * g(rng));
    }
  }
  a.query_basis = a.item_vectors;
  if (content_dim > 0) {
    std::vector<std::string> texts;
    for (int i = 0; i < n; ++i) {
      v1::Course c = SyntheticCourse(prefix, i, now);
      texts.push_back(absl::StrCat(c.title(), "\n", c.category(), "\n"));
    }
    a.idf = models::ComputeIdf(texts);
    a.content_dim = content_dim;
    a.content.resize(static_cast<size_t>(n) * content_dim);
    for (int i = 0; i < n; ++i) {
      std::vector<float> v = models::EmbedTextWithIdf(texts[i], a.idf, content_dim);
      std::copy(v.begin(), v.end(), a.content.begin() + static_cast<size_t>(i) * content_dim);
    }
  }
  return a;
}

// The learners' histories: learner j takes 5..20 courses of one topic;
// event e of len (the newest last).
struct LearnerEvent {
  int learner;
  int item;
  int e;
  int len;
};

std::vector<LearnerEvent> LearnerEvents(int items, int learners) {
  std::vector<LearnerEvent> out;
  std::mt19937 rng(7);
  for (int j = 0; j < learners; ++j) {
    const int topic = rng() % kTopics;
    const int len = 5 + rng() % 16;
    const int per_topic = std::max(1, items / kTopics);
    for (int e = 0; e < len; ++e) {
      const int item = topic + kTopics * static_cast<int>(rng() % per_topic);
      if (item < items) out.push_back({j, item, e, len});
    }
  }
  return out;
}

// Learners "<prefix>u<j>" of LearnerEvents, every third event completed,
// the others attended; into the real records_server instead when `real` is
// set.
void AddLearners(FakeRecords* records, RealRecords* real, const std::string& prefix, int items, int learners,
                 absl::Time now) {
  for (const LearnerEvent& x : LearnerEvents(items, learners)) {
    const std::string learner = absl::StrCat(prefix, "u", x.learner), course = absl::StrCat(prefix, x.item);
    const absl::Time when = now - absl::Hours(x.len - x.e);
    if (real != nullptr) {
      real->Add(learner, x.e % 3 == 0, course, when);
    } else {
      records->Add(learner, x.e % 3 == 0 ? vocab::kCompleted : vocab::kAttended, course, when);
    }
  }
  if (real != nullptr) real->Flush();
}

// The GRU of --gru: trained for one epoch on the histories AddLearners
// writes, with the options of train's default spec; blend weight 1.
void AddSequenceModel(const std::string& prefix, int items, models::ModelArrays* arrays) {
  std::vector<models::Interaction> interactions;
  for (const LearnerEvent& x : LearnerEvents(items, absl::GetFlag(FLAGS_learners))) {
    interactions.push_back(
        {absl::StrCat(prefix, "u", x.learner), absl::StrCat(prefix, x.item), x.e, x.e % 3 == 0 ? 1.0f : 0.5f});
  }
  auto options = models::SequenceModelOptions::Parse(models::kDefaultSequenceSpec);
  auto gru = options.ok() ? models::SequenceModel::Create(interactions, *options)
                          : absl::StatusOr<models::SequenceModel>(options.status());
  absl::StatusOr<double> loss = gru.ok() ? gru->TrainEpoch() : absl::StatusOr<double>(gru.status());
  if (!loss.ok()) {
    std::fprintf(stderr, "--gru: %s\n", std::string(loss.status().message()).c_str());
    std::exit(1);
  }
  arrays->sequence_model = gru->Encode();
  arrays->sequence_blend_w = 1.0;
  std::printf("  GRU: %d courses, one epoch (loss %.3f), blend weight 1\n", gru->num_items(), *loss);
}

struct Scenario {
  std::string name;
  std::string prefix;
  int items;
  int content_dim;
  bool sparse = false;  // a format-2 bundle (MakeSparse)
};

void RunScenario(const Scenario& sc, FakeRecords* records, RealRecords* real, FakeCatalog* catalog,
                 const std::string& records_target, const std::string& catalog_target, const std::string& work_dir) {
  const std::string recommender_token = ReadToken(absl::GetFlag(FLAGS_records_recommender_token_file));
  const absl::Time now = absl::Now();
  std::printf("\n== %s: %d items ==\n", sc.name.c_str(), sc.items);
  std::fflush(stdout);
  absl::Time t0 = absl::Now();
  catalog->Clear();
  for (int i = 0; i < sc.items; ++i) catalog->Put(SyntheticCourse(sc.prefix, i, now));
  AddLearners(records, real, sc.prefix, sc.items, absl::GetFlag(FLAGS_learners), now);
  const std::string model_dir = absl::StrCat(work_dir, "/", sc.prefix, "models");
  {
    models::ModelArrays arrays = SyntheticArrays(sc.prefix, sc.items, sc.content_dim, now);
    if (sc.sparse) MakeSparse(&arrays);
    if (absl::GetFlag(FLAGS_identity_basis) && sc.prefix == "s") {
      MakeIdentityBasis(&arrays);
      std::printf("  model: identity query basis, M dense (%d x %d)\n", sc.items, sc.items);
    }
    if (absl::GetFlag(FLAGS_gru) && !sc.sparse) AddSequenceModel(sc.prefix, sc.items, &arrays);
    auto v = models::WriteModelVersion(model_dir, arrays, nlohmann::json::object());
    if (!v.ok()) {
      std::fprintf(stderr, "write model: %s\n", std::string(v.status().message()).c_str());
      std::exit(1);
    }
  }
  std::printf("  setup (catalog, learners, model written): %.1f s\n", absl::ToDoubleSeconds(absl::Now() - t0));

  RecommendServerOptions o;
  o.model_dir = model_dir;
  o.records_target = records_target;
  o.catalog_target = catalog_target;
  o.outgoing_token = recommender_token;
  o.catalog_deadline = absl::Seconds(20);
  o.catalog_refresh = absl::Seconds(5);
  o.catalog_max_staleness = absl::Hours(1);
  o.batcher.max_wait = absl::Microseconds(absl::GetFlag(FLAGS_batch_wait_us));
  o.max_pollers = absl::GetFlag(FLAGS_max_pollers);
  o.history_cache_learners = absl::GetFlag(FLAGS_history_cache_learners);
  o.recommender.popular_candidates = absl::GetFlag(FLAGS_popular_candidates);
  o.batcher.min_items_to_batch = absl::GetFlag(FLAGS_batch_min_items);
  if (absl::GetFlag(FLAGS_exact_scan_max_floats) >= 0) {
    o.recommender.exact_scan_max_floats = absl::GetFlag(FLAGS_exact_scan_max_floats);
  }
  t0 = absl::Now();
  auto server = RecommendServer::Start(o);
  if (!server.ok()) std::exit(1);
  while ((*server)->models().Current() == nullptr) absl::SleepFor(absl::Milliseconds(50));
  {
    const models::IndexInfo& info = (*server)->models().Current()->index_info();
    std::printf(
        "  model load (verify + index build): %.1f s; index %s, nlist %d, nprobe %d, "
        "calibrated recall@10 %.3f\n",
        absl::ToDoubleSeconds(absl::Now() - t0), info.kind.c_str(), info.nlist, info.nprobe,
        info.calibrated_recall_at_10);
  }
  while (!(*server)->catalog().Current().ok()) absl::SleepFor(absl::Milliseconds(50));
  std::printf("  ready (catalog cached): %.1f s\n", absl::ToDoubleSeconds(absl::Now() - t0));
  std::fflush(stdout);

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials());
  auto stub = v1::RecommendationService::NewStub(channel);
  const int clients = absl::GetFlag(FLAGS_clients);
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  const int learners = absl::GetFlag(FLAGS_learners);
  const int k = absl::GetFlag(FLAGS_k);

  const bool parse_responses = absl::GetFlag(FLAGS_parse_responses);
  const grpc::internal::RpcMethod recommend_method("/lifelong.v1.RecommendationService/Recommend",
                                                   grpc::internal::RpcMethod::NORMAL_RPC, channel);
  auto recommend = [&](const std::string& learner, bool kiosk) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RecommendRequest r;
    r.set_learner(learner);
    r.set_k(k);
    if (kiosk) {
      r.mutable_context()->set_channel(v1::RecommendContext::CHANNEL_KIOSK);
      r.mutable_context()->set_kiosk_venue_id("v3");
    }
    if (parse_responses) {
      v1::RecommendResponse out;
      grpc::Status s = stub->Recommend(&ctx, r, &out);
      return s.ok() && out.recommendations_size() == k;
    }
    grpc::ByteBuffer request_bytes;
    bool own_buffer = false;
    if (!grpc::SerializationTraits<v1::RecommendRequest>::Serialize(r, &request_bytes, &own_buffer).ok()) return false;
    grpc::ByteBuffer answer;
    grpc::Status s = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
        channel.get(), recommend_method, &ctx, request_bytes, &answer);
    return s.ok() && CountRecommendations(answer) == k;
  };
  // Warm-up: builds the model x catalog join once.
  for (int i = 0; i < 50; ++i) recommend(absl::StrCat(sc.prefix, "u", i), false);

  // Concurrent writes to the real record service for the same learners,
  // from here to the end of the measurements.
  std::atomic<bool> stop_writers{false};
  std::atomic<int64_t> written{0}, write_errors{0};
  std::vector<std::thread> writer_threads;
  const absl::Time writes_start = absl::Now();
  if (real != nullptr) {
    for (int w = 0; w < absl::GetFlag(FLAGS_writers); ++w) {
      writer_threads.emplace_back([&, w] {
        RealRecords own(records_target, ReadToken(absl::GetFlag(FLAGS_records_loader_token_file)));
        std::mt19937 rng(1000 + w);
        while (!stop_writers.load(std::memory_order_relaxed)) {
          const bool ok =
              own.RecordOne(absl::StrCat(sc.prefix, "u", rng() % learners), absl::StrCat(sc.prefix, rng() % sc.items));
          (ok ? written : write_errors).fetch_add(1);
        }
      });
    }
  }

  // The ceiling: gRPC's own callback server echoing bytes, measured right
  // before the service's Echo with the same client threads.
  Figures bare;
  Figures* bare_ptr = nullptr;
  if (absl::GetFlag(FLAGS_bare)) {
    auto bare_server = StartBareEchoServer(BareEchoOptions{});
    if (!bare_server.ok()) {
      std::fprintf(stderr, "bare echo server: %s\n", std::string(bare_server.status().message()).c_str());
      std::exit(1);
    }
    auto bare_stub = v1::RecommendationService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*bare_server)->port()), grpc::InsecureChannelCredentials()));
    bare = Measure(clients, duration, [&](int, int64_t) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::EchoRequest r;
      r.set_payload("x");
      v1::EchoResponse out;
      return bare_stub->Echo(&ctx, r, &out).ok() && out.payload() == "x";
    });
    (*bare_server)->Shutdown(std::chrono::seconds(2));
    Print("bare gRPC echo (callback API)", bare, nullptr);
    bare_ptr = &bare;
  }
  Figures echo;
  if (!absl::GetFlag(FLAGS_learner_only))
    echo = Measure(clients, duration, [&](int, int64_t) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::EchoRequest r;
      r.set_payload("x");
      v1::EchoResponse out;
      return stub->Echo(&ctx, r, &out).ok();
    });
  Print("Echo (baseline)", echo, nullptr, bare_ptr);
  if (!absl::GetFlag(FLAGS_learner_only)) {
    // What every learner request adds at the least: one ListStatements round
    // trip to the record service (here the in-process fake), the same call
    // RecordsClient makes.
    auto records_stub =
        v1::LearningRecordService::NewStub(grpc::CreateChannel(records_target, grpc::InsecureChannelCredentials()));
    Figures list = Measure(clients, duration, [&](int t, int64_t i) {
      grpc::ClientContext ctx;
      if (!recommender_token.empty()) ctx.AddMetadata("authorization", "Bearer " + recommender_token);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::ListStatementsRequest r;
      r.set_learner(absl::StrCat(sc.prefix, "u", (t * 7919 + i * 104729) % learners));
      r.set_page_size(1000);
      r.set_view(v1::STATEMENT_VIEW_BASIC);
      v1::ListStatementsResponse out;
      return records_stub->ListStatements(&ctx, r, &out).ok();
    });
    Print("ListStatements (record service)", list, &echo, bare_ptr);
  }
  // Right before the learner measurement: the writers have been invalidating
  // entries throughout the measurements above.
  if (absl::GetFlag(FLAGS_warm_histories)) {
    const absl::Time warm_start = absl::Now();
    std::vector<std::thread> warmers;
    for (int t = 0; t < clients; ++t) {
      warmers.emplace_back([&, t] {
        for (int j = t; j < learners; j += clients) recommend(absl::StrCat(sc.prefix, "u", j), false);
      });
    }
    for (std::thread& t : warmers) t.join();
    std::printf("  history cache warmed: one Recommend for each of %d learners, %.1f s\n", learners,
                absl::ToDoubleSeconds(absl::Now() - warm_start));
    std::fflush(stdout);
  }
  const ModelPtr current = (*server)->models().Current();
  const models::SequenceModel* gru = current != nullptr ? current->sequence_model() : nullptr;
  const models::SequenceModel::StateCacheStats gru_before =
      gru != nullptr ? gru->state_cache_stats() : models::SequenceModel::StateCacheStats{};
  const auto before = (*server)->batcher().stats();
  const LearnerHistoryCache::Stats cache_before =
      (*server)->history_cache() ? (*server)->history_cache()->stats() : LearnerHistoryCache::Stats{};
  Figures learner = Measure(clients, duration, [&](int t, int64_t i) {
    return recommend(absl::StrCat(sc.prefix, "u", (t * 7919 + i * 104729) % learners), false);
  });
  const auto after = (*server)->batcher().stats();
  Print(absl::StrCat("Recommend, learner (k=", k, ")"), learner, &echo, bare_ptr);
  if ((*server)->history_cache() != nullptr) {
    const LearnerHistoryCache::Stats c = (*server)->history_cache()->stats();
    const int64_t hits = c.hits - cache_before.hits, misses = c.misses - cache_before.misses;
    std::printf(
        "    learner histories: %lld from the change-feed cache, %lld read from the record service "
        "(%.0f%% hits, %lld of them waited for another request's read; %lld entries dropped by the feed for writes, "
        "feed (re)connected %lld times; feed live: %s)\n",
        static_cast<long long>(hits), static_cast<long long>(misses),
        100.0 * hits / std::max<int64_t>(1, hits + misses), static_cast<long long>(c.joined - cache_before.joined),
        static_cast<long long>(c.invalidations - cache_before.invalidations),
        static_cast<long long>(c.feed_connects - cache_before.feed_connects), c.live ? "yes" : "no");
  } else {
    std::printf("    learner histories: every request reads the record service (--history_cache_learners=0)\n");
  }
  if (gru != nullptr) {
    const models::SequenceModel::StateCacheStats g = gru->state_cache_stats();
    const int64_t hits = g.hits - gru_before.hits, misses = g.misses - gru_before.misses;
    std::printf("    GRU states: %lld from the model's state cache, %lld computed (%.0f%% hits)\n",
                static_cast<long long>(hits), static_cast<long long>(misses),
                100.0 * hits / std::max<int64_t>(1, hits + misses));
  }
  if (after.direct > before.direct) {
    std::printf("    searches on the request thread (no batching): %lld\n",
                static_cast<long long>(after.direct - before.direct));
  }
  if (after.batches > before.batches) {
    std::printf("    search batches: %.1f queries per FAISS call\n",
                static_cast<double>(after.queries - before.queries) / (after.batches - before.batches));
  } else if (after.direct == before.direct) {
    std::printf("    candidate search: exact scan on the request thread (ExactScorer)\n");
  }
  if (!absl::GetFlag(FLAGS_learner_only)) {
    Figures kiosk = Measure(clients, duration, [&](int, int64_t) { return recommend("", true); });
    Print(absl::StrCat("Recommend, anonymous kiosk (k=", k, ")"), kiosk, &echo, bare_ptr);
  }
  if (real != nullptr) {
    stop_writers = true;
    for (std::thread& t : writer_threads) t.join();
    std::printf(
        "    concurrent writes to records_server during the measurements: %lld statements (%.0f/s, "
        "%d writers), %lld failed\n",
        static_cast<long long>(written.load()), written.load() / absl::ToDoubleSeconds(absl::Now() - writes_start),
        absl::GetFlag(FLAGS_writers), static_cast<long long>(write_errors.load()));
  }

  // Recall@10 of the serving index against exact search, same queries.
  ModelPtr model = (*server)->models().Current();
  const int kDim = model->dim();
  if (model->sparse_item_matrix()) {
    std::printf("  sparse item-item matrix: %lld entries, scanned exactly (recall 1 by construction)\n",
                static_cast<long long>(model->sparse_entries()));
  } else if (model->num_items() > models::kExactIndexMaxItems && recommender_token.empty()) {
    const int nq = absl::GetFlag(FLAGS_recall_queries);
    std::vector<float> queries;
    queries.reserve(static_cast<size_t>(nq) * kDim);
    for (int j = 0; j < nq; ++j) {
      auto facts = std::vector<StatementFact>();
      // The same history the service builds for this learner.
      RecordsClient client(grpc::CreateChannel(records_target, grpc::InsecureChannelCredentials()), records_target,
                           absl::Seconds(5));
      auto got = client.LatestStatements(absl::StrCat(sc.prefix, "u", j % learners), 1000);
      if (got.ok()) facts = *got;
      std::vector<float> q = model->LearnerVector(BuildLearnerHistory(facts).events);
      queries.insert(queries.end(), q.begin(), q.end());
    }
    faiss::IndexFlatIP flat(kDim);
    std::vector<float> all(static_cast<size_t>(model->num_items()) * kDim);
    for (int r = 0; r < model->num_items(); ++r) {
      absl::Span<const float> v = model->ItemVector(r);
      std::copy(v.begin(), v.end(), all.begin() + static_cast<size_t>(r) * kDim);
    }
    flat.add(model->num_items(), all.data());
    std::vector<float> dist(static_cast<size_t>(nq) * 10);
    std::vector<faiss::Index::idx_t> exact(static_cast<size_t>(nq) * 10);
    absl::Time ts = absl::Now();
    flat.search(nq, queries.data(), 10, dist.data(), exact.data());
    const double exact_ms = absl::ToDoubleMilliseconds(absl::Now() - ts) / nq;
    ts = absl::Now();
    auto approx = model->SearchBatch(queries, nq, 10);
    const double approx_ms = absl::ToDoubleMilliseconds(absl::Now() - ts) / nq;
    int64_t hits = 0;
    for (int j = 0; j < nq; ++j) {
      std::set<int64_t> truth(exact.begin() + j * 10, exact.begin() + j * 10 + 10);
      for (const models::Candidate& c : (*approx)[j]) hits += truth.count(c.row);
    }
    std::printf(
        "  recall@10 (IVF vs exact, %d learner queries): %.4f  "
        "(batched: IVF %.3f ms/query, exact %.3f ms/query)\n",
        nq, static_cast<double>(hits) / (nq * 10.0), approx_ms, exact_ms);
  }
  (*server)->Shutdown();
}

}  // namespace
}  // namespace lifelong::recommend

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Debug builds of Abseil check every lock order; measured ~2% of CPU here.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using namespace lifelong::recommend;
  std::string work_dir = absl::GetFlag(FLAGS_work_dir);
  const bool own_dir = work_dir.empty();
  if (own_dir) work_dir = testing::NewTempDir("bench_recommend");
  std::printf("bench_recommend: %d clients, %d s per measurement, %u hardware threads\n", absl::GetFlag(FLAGS_clients),
              absl::GetFlag(FLAGS_duration_s), std::thread::hardware_concurrency());
  FakeRecords records;
  FakeCatalog catalog;
  auto records_server = testing::StartFake(&records);
  auto catalog_server = testing::StartFake(&catalog);
  std::string rt = absl::StrCat("127.0.0.1:", records_server->port());
  std::unique_ptr<RealRecords> real;
  if (!absl::GetFlag(FLAGS_records_target).empty()) {
    rt = absl::GetFlag(FLAGS_records_target);
    real = std::make_unique<RealRecords>(rt, ReadToken(absl::GetFlag(FLAGS_records_loader_token_file)));
    std::printf("record service: records_server at %s (%s), %d concurrent writers\n", rt.c_str(),
                absl::GetFlag(FLAGS_records_recommender_token_file).empty() ? "no token" : "bearer tokens",
                absl::GetFlag(FLAGS_writers));
  }
  const std::string ct = absl::StrCat("127.0.0.1:", catalog_server->port());
  if (absl::GetFlag(FLAGS_small_courses) > 0) {
    RunScenario({"small catalog", "s", absl::GetFlag(FLAGS_small_courses), 64}, &records, real.get(), &catalog, rt, ct,
                work_dir);
  }
  if (absl::GetFlag(FLAGS_sparse_items) > 0) {
    RunScenario({"sparse catalog", "p", absl::GetFlag(FLAGS_sparse_items), 64, true}, &records, real.get(), &catalog,
                rt, ct, work_dir);
  }
  if (absl::GetFlag(FLAGS_large_items) > 0) {
    RunScenario({"large catalog", "l", absl::GetFlag(FLAGS_large_items), 0}, &records, real.get(), &catalog, rt, ct,
                work_dir);
  }
  if (own_dir) {
    std::error_code ignored;
    std::filesystem::remove_all(work_dir, ignored);  // ~0.5 GB for the 1M version
  }
  return 0;
}
