// libnats plumbing shared by the record service's and the catalog's logs
// (services/records/replication, services/catalog/replication): the error
// text of a failed call, the connection options both connect with, the
// ordered consumer their appliers read through and its stall watch.
#ifndef LIFELONG_SERVICES_COMMON_NATS_CLIENT_H_
#define LIFELONG_SERVICES_COMMON_NATS_CLIENT_H_

#include <nats/nats.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lifelong::nats {

// "<status text> (<the library's last error>) [JetStream error N]".
std::string NatsErrorText(natsStatus s, jsErrCode err = static_cast<jsErrCode>(0));

// UNAVAILABLE "<prefix>: <what>: <NatsErrorText>".
absl::Status NatsUnavailable(absl::string_view prefix, absl::string_view what, natsStatus s,
                             jsErrCode err = static_cast<jsErrCode>(0));

// The prefix of the inboxes of NATS user `user` ("_INBOX_records"): ops/
// cluster.sh lets each user subscribe to its own only.
std::string InboxPrefix(const std::string& user);

// New options for a log's connection: `servers`, client name `name`, the
// user and password when `user` is set (with the user's inbox prefix,
// InboxPrefix), a 2 s connect timeout, reconnecting
// for ever every 250 ms (a node rejoins when NATS comes back), a ping every
// second and two missed pongs to notice a dead server. The caller adds its
// callbacks and destroys the options.
natsStatus NewLogConnectionOptions(const std::vector<std::string>& servers, const std::string& name,
                                   const std::string& user, const std::string& password, natsOptions** out);

// An ordered JetStream consumer of `stream` on "<subject_prefix>.>", from
// stream sequence `from` on: every message once, in sequence order (the
// library recreates the consumer after a gap). The caller destroys *sub.
natsStatus SubscribeOrderedFrom(jsCtx* js, const std::string& stream, const std::string& subject_prefix, uint64_t from,
                                natsSubscription** sub, jsErrCode* err);

// Tells when an applier's ordered consumer has gone silent: the log has held
// positions beyond what the store applied for `timeout` and nothing was
// delivered meanwhile (a consumer the server lost, or one the library failed
// to re-create, is otherwise silent for ever). One per subscription, used by
// the applier's thread only.
class ConsumerStallWatch {
 public:
  explicit ConsumerStallWatch(absl::Duration timeout) : timeout_(timeout) {}
  // A message of the stream was delivered.
  void Delivered() { quiet_since_ = absl::Now(); }
  // After a wait that delivered nothing: true once the log's end
  // (`log_last`, as last read) has been beyond `applied` with nothing
  // delivered for the timeout; the caller subscribes again.
  bool Stalled(uint64_t applied, uint64_t log_last) {
    if (log_last <= applied) quiet_since_ = absl::Now();
    return absl::Now() - quiet_since_ > timeout_;
  }
  // How long nothing has been delivered while behind.
  absl::Duration Silent() const { return absl::Now() - quiet_since_; }

 private:
  absl::Duration timeout_;
  absl::Time quiet_since_ = absl::Now();
};

}  // namespace lifelong::nats

#endif  // LIFELONG_SERVICES_COMMON_NATS_CLIENT_H_
