#include "tests/testing/nats_cluster.h"

#include <arpa/inet.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/testing/service_process.h"

namespace lifelong::testing {

std::string NatsServerBinary() {
  for (const char* p : {"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

std::pair<int, std::string> HttpRequest(int port, const std::string& method, const std::string& path,
                                        const std::string& headers, const std::string& body) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return {0, ""};
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers +
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)!write(fd, req.data(), req.size());
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) resp.append(buf, n);
  close(fd);
  if (resp.size() < 12) return {0, ""};
  int status = std::atoi(resp.substr(9, 3).c_str());
  size_t at = resp.find("\r\n\r\n");
  return {status, at == std::string::npos ? "" : resp.substr(at + 4)};
}

std::pair<int, std::string> HttpGet(int port, const std::string& path) {
  return HttpRequest(port, "GET", path, "", "");
}

nlohmann::json ReplicationStatus(int metrics_port) {
  auto [status, body] = HttpGet(metrics_port, "/replication");
  if (status != 200) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

uint64_t AppliedSeq(int metrics_port) {
  nlohmann::json j = ReplicationStatus(metrics_port);
  return j.contains("applied_seq") ? j["applied_seq"].get<uint64_t>() : 0;
}

namespace {

// Whether member `i` runs and accepts clients within 10 s (false: it exited,
// e.g. because another process took its port between FreeLoopbackPort and its bind).
bool MemberListens(NatsCluster* c, int i) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!c->servers[i].Running()) return false;
    if (AcceptsConnections(c->client_ports[i])) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void StartMember(NatsCluster* c, const std::string& dir, int i) {
  std::vector<std::string> routes;
  for (int port : c->cluster_ports) routes.push_back(absl::StrCat("nats://127.0.0.1:", port));
  absl::StatusOr<Subprocess> p =
      Subprocess::Start({NatsServerBinary(), "-js", "-sd", absl::StrCat(dir, "/nats-", i + 1), "-a", "127.0.0.1", "-p",
                         std::to_string(c->client_ports[i]), "-n", absl::StrCat("nats-", i + 1), "--cluster_name", "c",
                         "--cluster", routes[i], "--routes", absl::StrJoin(routes, ",")},
                        absl::StrCat(dir, "/nats-", i + 1, ".log"));
  if (!p.ok()) {
    std::cerr << "cannot start nats-" << i + 1 << ": " << p.status() << "\n";
    std::abort();
  }
  if (static_cast<int>(c->servers.size()) <= i) {
    c->servers.push_back(std::move(*p));
  } else {
    c->servers[i] = std::move(*p);
  }
}

}  // namespace

NatsCluster StartNatsCluster(const std::string& dir) {
  // Ports are picked free before nats-server binds them (the routes name
  // every member's), so another process may take one in between: then the
  // whole cluster starts again on other ports, from empty storage.
  for (int attempt = 1;; ++attempt) {
    NatsCluster c;
    std::vector<std::string> urls;
    for (int i = 0; i < 3; ++i) {
      for (std::vector<int>* ports : {&c.client_ports, &c.cluster_ports}) {
        absl::StatusOr<int> port = FreeLoopbackPort();
        if (!port.ok()) {
          std::cerr << "nats cluster: " << port.status() << "\n";
          std::abort();
        }
        ports->push_back(*port);
      }
      urls.push_back(absl::StrCat("nats://127.0.0.1:", c.client_ports[i]));
    }
    c.urls = absl::StrJoin(urls, ",");
    for (int i = 0; i < 3; ++i) StartMember(&c, dir, i);
    bool all = true;
    for (int i = 0; i < 3; ++i) all = MemberListens(&c, i) && all;
    if (all) return c;
    if (attempt == 3) {
      std::cerr << "nats cluster: a member did not start in 3 attempts (logs: " << dir << "/nats-N.log)\n";
      std::abort();
    }
    std::cerr << "nats cluster: a member did not start (attempt " << attempt << "); again on other ports\n";
    for (Subprocess& s : c.servers) (void)s.Stop(SIGKILL);
    for (int i = 0; i < 3; ++i) std::filesystem::remove_all(absl::StrCat(dir, "/nats-", i + 1));
  }
}

void RestartNatsMember(NatsCluster* c, const std::string& dir, int i) {
  StartMember(c, dir, i);
  if (!MemberListens(c, i)) {
    std::cerr << "nats cluster: nats-" << i + 1 << " did not start again on port " << c->client_ports[i]
              << " (log: " << dir << "/nats-" << i + 1 << ".log)\n";
  }
}

int DeleteStreamConsumers(const std::string& nats_url, const std::string& stream) {
  int n = 0;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsConsumerNamesList* names = nullptr;
  if (natsConnection_ConnectTo(&nc, nats_url.c_str()) == NATS_OK &&
      natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
      js_ConsumerNames(&names, js, stream.c_str(), nullptr, nullptr) == NATS_OK) {
    for (int i = 0; i < names->Count; ++i) {
      n += js_DeleteConsumer(js, stream.c_str(), names->List[i], nullptr, nullptr) == NATS_OK;
    }
    jsConsumerNamesList_Destroy(names);
  }
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
  return n;
}

}  // namespace lifelong::testing
