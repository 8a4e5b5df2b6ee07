// Measures issue #13 item 3's figures for the xAPI endpoint: with 1,000 idle
// and 64 trickling connections (one header byte every 2 s) open, how fast an
// honest client's GET /xapi/about and statement POST are answered (fresh
// connection each), and the accepted-write rate of honest keep-alive writers
// compared with the same writers unattacked. docs/security.md has the numbers.
//
//   bazel run //tests/security:xapi_slowloris_bench -- [--tls_dir=DIR]
//       [--idle=1000] [--trickling=64] [--seconds=10] [--writers=16] [--rounds=3]
//
// With --tls_dir (made by ops/dev-ca.sh DIR) the endpoint serves HTTPS with
// DIR/records.pem and the attack trickles a TLS record instead.
#include <httplib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/records/record_store.h"
#include "services/records/test_statements.h"
#include "services/xapi/credentials.h"
#include "services/xapi/document_store.h"
#include "services/xapi/xapi_handler.h"
#include "services/xapi/xapi_http_server.h"
#include "tests/security/attack_clients.h"

ABSL_FLAG(std::string, tls_dir, "", "serve HTTPS with the certificates of ops/dev-ca.sh in this directory");
ABSL_FLAG(int, idle, 1000, "idle attack connections");
ABSL_FLAG(int, trickling, 64, "trickling attack connections");
ABSL_FLAG(int, trickle_ms, 2000, "one byte per trickling connection every this many ms");
ABSL_FLAG(int, seconds, 10, "length of each write-rate phase");
ABSL_FLAG(int, rounds, 3, "unattacked + attacked write phases");
ABSL_FLAG(int, writers, 16, "honest keep-alive writers");
ABSL_FLAG(int, probes, 20, "honest GET /xapi/about and POST probes (fresh connection each)");

namespace lifelong::xapi {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<httplib::Client> NewClient(int port, const std::string& tls_dir) {
  auto c = std::make_unique<httplib::Client>(absl::StrCat(tls_dir.empty() ? "http" : "https", "://127.0.0.1:", port));
  if (!tls_dir.empty()) {
    c->set_ca_cert_path((tls_dir + "/ca.pem").c_str());
    c->enable_server_certificate_verification(true);
  }
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(5, 0);
  // As curl and most HTTP clients: without it, cpp-httplib's TLS client sends
  // headers and body in two records and Nagle holds the second one for the
  // server's delayed ACK (~40 ms a POST, measured).
  c->set_tcp_nodelay(true);
  return c;
}

const httplib::Headers& Headers() {
  static const httplib::Headers h = {{"Authorization", "Basic " + absl::Base64Escape("lrs:s3cret")},
                                     {"X-Experience-API-Version", "2.0.0"}};
  return h;
}

// Accepted statement POSTs per second by `writers` keep-alive clients.
double WriteRate(int port, const std::string& tls_dir, int writers, int seconds, std::atomic<int>* seq) {
  std::atomic<int64_t> accepted{0};
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      auto c = NewClient(port, tls_dir);
      c->set_keep_alive(true);
      while (Clock::now() < end) {
        const int n = seq->fetch_add(1);
        auto r = c->Post("/xapi/statements", Headers(),
                         records::testing::MakeStatement({.learner = absl::StrCat("u", n % 5000)}), "application/json");
        if (r && r->status == 200) accepted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  return static_cast<double>(accepted.load()) / seconds;
}

struct Latency {
  double p50_ms = 0, max_ms = 0;
  int failed = 0;
};

Latency Probe(int port, const std::string& tls_dir, int probes, bool post, std::atomic<int>* seq) {
  std::vector<double> ms;
  Latency l;
  for (int i = 0; i < probes; ++i) {
    auto c = NewClient(port, tls_dir);  // fresh connection (and handshake) each
    auto t0 = Clock::now();
    httplib::Result r =
        post ? c->Post("/xapi/statements", Headers(),
                       records::testing::MakeStatement({.learner = absl::StrCat("p", seq->fetch_add(1))}),
                       "application/json")
             : c->Get("/xapi/about", Headers());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!r || r->status != 200) ++l.failed;
  }
  std::sort(ms.begin(), ms.end());
  l.p50_ms = ms[ms.size() / 2];
  l.max_ms = ms.back();
  return l;
}

int Main() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);

  const std::string tls_dir = absl::GetFlag(FLAGS_tls_dir);
  const std::string dir = std::filesystem::temp_directory_path() / absl::StrCat("xapi_slowloris_", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = std::move(*records::RecordStore::Open(dir + "/records"));
  auto docs = std::move(*DocumentStore::Open(dir + "/docs"));
  auto creds = *Credentials::Parse("lrs:s3cret\n");
  XapiHandler handler(store.get(), docs.get(), &creds, "/xapi");
  XapiHttpOptions o;
  o.port = 0;
  if (!tls_dir.empty()) {
    o.tls.cert_file = tls_dir + "/records.pem";
    o.tls.key_file = tls_dir + "/records.key";
    o.tls.ca_file = tls_dir + "/ca.pem";
  }
  auto http = XapiHttpServer::Start(o, &handler);
  if (!http.ok()) {
    std::fprintf(stderr, "start: %s\n", http.status().ToString().c_str());
    return 1;
  }
  const int port = (*http)->port();
  std::atomic<int> seq{0};
  const int writers = absl::GetFlag(FLAGS_writers), seconds = absl::GetFlag(FLAGS_seconds);
  const int probes = absl::GetFlag(FLAGS_probes);
  std::printf("xAPI %s on port %d; %d writers, %d s per phase\n", tls_dir.empty() ? "HTTP" : "HTTPS", port, writers,
              seconds);

  const Latency about0 = Probe(port, tls_dir, probes, false, &seq);
  const Latency post0 = Probe(port, tls_dir, probes, true, &seq);
  std::printf("unattacked probes: about p50 %.1f ms max %.1f ms; POST p50 %.1f ms max %.1f ms\n", about0.p50_ms,
              about0.max_ms, post0.p50_ms, post0.max_ms);

  security::AttackOptions a;
  a.port = port;
  a.idle = absl::GetFlag(FLAGS_idle);
  a.trickling = absl::GetFlag(FLAGS_trickling);
  a.trickle_interval = std::chrono::milliseconds(absl::GetFlag(FLAGS_trickle_ms));
  a.tls = !tls_dir.empty();
  security::Attack attack(a);
  // Unattacked and attacked write phases alternate, so that load from other
  // programs on the machine weighs on both alike.
  double base_sum = 0, attacked_sum = 0;
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    const double base = WriteRate(port, tls_dir, writers, seconds, &seq);
    if (absl::Status s = attack.Open(); !s.ok()) {
      std::fprintf(stderr, "attack: %s\n", s.ToString().c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::seconds(3));  // trickling is under way
    const int open_before = attack.open_connections();
    if (round == 0) {
      const Latency about = Probe(port, tls_dir, probes, false, &seq);
      const Latency post = Probe(port, tls_dir, probes, true, &seq);
      std::printf(
          "attacked probes (%d idle + %d trickling, %d open): about p50 %.1f ms max %.1f ms (%d "
          "failed); POST p50 %.1f ms max %.1f ms (%d failed)\n",
          a.idle, a.trickling, open_before, about.p50_ms, about.max_ms, about.failed, post.p50_ms, post.max_ms,
          post.failed);
    }
    const double attacked = WriteRate(port, tls_dir, writers, seconds, &seq);
    std::printf(
        "round %d: unattacked %.0f writes/s, attacked %.0f writes/s (%d open before, %d after, %d "
        "reopened after a server close) = %.0f%%\n",
        round, base, attacked, open_before, attack.open_connections(), attack.reopened(),
        base > 0 ? 100.0 * attacked / base : 0.0);
    attack.Close();
    base_sum += base;
    attacked_sum += attacked;
  }
  std::printf("all rounds: attacked writes = %.0f%% of unattacked\n",
              base_sum > 0 ? 100.0 * attacked_sum / base_sum : 0.0);
  attack.Close();
  (*http)->Stop();
  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace lifelong::xapi

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return lifelong::xapi::Main();
}
