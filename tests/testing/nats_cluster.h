// Test helper: a real 3-member NATS JetStream cluster (Debian's nats-server)
// on free loopback ports, its file storage under a test directory; and the
// small socket helpers the replication tests share.
#ifndef LIFELONG_TESTS_TESTING_NATS_CLUSTER_H_
#define LIFELONG_TESTS_TESTING_NATS_CLUSTER_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/subprocess.h"

namespace lifelong::testing {

// The installed nats-server, or "" (the caller skips its test).
std::string NatsServerBinary();

// An HTTP/1.1 request to 127.0.0.1:port (`headers`: "Name: value\r\n"
// lines): (status, body); status 0 when unreachable.
std::pair<int, std::string> HttpRequest(int port, const std::string& method, const std::string& path,
                                        const std::string& headers, const std::string& body);

// GET http://127.0.0.1:port/path: (status, body); status 0 when unreachable.
std::pair<int, std::string> HttpGet(int port, const std::string& path);

// GET /replication on a replicated node's metrics port, parsed (an empty
// object when it does not answer 200 with JSON), and its "applied_seq" (0 then).
nlohmann::json ReplicationStatus(int metrics_port);
uint64_t AppliedSeq(int metrics_port);

struct NatsCluster {
  std::vector<Subprocess> servers;  // nats-1..3
  std::vector<int> client_ports;
  std::vector<int> cluster_ports;
  std::string urls;  // "nats://127.0.0.1:a,...", for --replication_nats
};

// Starts nats-1..3 (JetStream on, storage in dir/nats-N, logs dir/nats-N.log).
NatsCluster StartNatsCluster(const std::string& dir);

// Starts member `i` (0-based) of `c` again (after a kill), same ports and storage.
void RestartNatsMember(NatsCluster* c, const std::string& dir, int i);

// Deletes every consumer of `stream` on the server at `nats_url` (the
// ordered consumers a replicated node's applier reads through, lost as a
// stream leader's failover can lose them); returns how many it deleted.
int DeleteStreamConsumers(const std::string& nats_url, const std::string& stream);

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_TESTING_NATS_CLUSTER_H_
