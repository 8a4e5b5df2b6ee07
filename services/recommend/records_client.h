// RecordsClient: reads a learner's latest statements from the record service
// (LearningRecordService.ListStatements) with a deadline on every call, and
// the current token of its OutgoingToken (a re-minted token file is used
// without a restart). Thread-safe (a gRPC stub and an OutgoingToken are).
#ifndef LIFELONG_SERVICES_RECOMMEND_RECORDS_CLIENT_H_
#define LIFELONG_SERVICES_RECOMMEND_RECORDS_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/outgoing_token.h"
#include "services/recommend/learner_history.h"

namespace lifelong::recommend {

class RecordsClient {
 public:
  // `target` ("host:port") is used in error messages.
  // `token`: the bearer token sent with every call (default none).
  RecordsClient(std::shared_ptr<grpc::Channel> channel, std::string target, absl::Duration deadline,
                auth::OutgoingToken token = auth::OutgoingToken());

  // `on_behalf_of`: the caller of the recommendation, for the record
  // service's audit log ("" none). `call_deadline`: the deadline of the call
  // this read serves; the read's own is the earlier of it and now + the
  // constructor's `deadline`, and the record service is told it.
  // The learner's latest statements, newest first, at most `limit`
  // (1..1000; one page). Outcomes: OK (possibly empty: unknown learner);
  // UNAVAILABLE "record service at <target> unavailable: ..." when the
  // service cannot be reached or does not answer within the deadline;
  // DEADLINE_EXCEEDED when `call_deadline` ended the read first;
  // INVALID_ARGUMENT "learner: ..." when it rejects the learner key.
  absl::StatusOr<std::vector<StatementFact>> LatestStatements(const std::string& learner, int limit,
                                                              const std::string& on_behalf_of = "",
                                                              absl::Time call_deadline = absl::InfiniteFuture()) const;

 private:
  std::unique_ptr<v1::LearningRecordService::Stub> stub_;
  const std::string target_;
  const absl::Duration deadline_;
  const auth::OutgoingToken token_;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_RECORDS_CLIENT_H_
