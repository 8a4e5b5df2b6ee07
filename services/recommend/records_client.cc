#include "services/recommend/records_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/arena.h"

namespace lifelong::recommend {

RecordsClient::RecordsClient(std::shared_ptr<grpc::Channel> channel, std::string target, absl::Duration deadline,
                             auth::OutgoingToken token)
    : stub_(v1::LearningRecordService::NewStub(channel)),
      target_(std::move(target)),
      deadline_(deadline),
      token_(std::move(token)) {}

absl::StatusOr<std::vector<StatementFact>> RecordsClient::LatestStatements(const std::string& learner, int limit,
                                                                           const std::string& on_behalf_of,
                                                                           absl::Time call_deadline) const {
  grpc::ClientContext ctx;
  const absl::Time own_deadline = absl::Now() + deadline_;
  const bool caller_first = call_deadline < own_deadline;
  ctx.set_deadline(absl::ToChronoTime(caller_first ? call_deadline : own_deadline));
  token_.AttachTo(&ctx);
  if (!on_behalf_of.empty()) ctx.AddMetadata("x-lifelong-on-behalf-of", on_behalf_of);
  v1::ListStatementsRequest request;
  request.set_learner(learner);
  request.set_page_size(limit);
  request.set_view(v1::STATEMENT_VIEW_BASIC);  // verb, activity and time suffice
  // The response is parsed into an arena: a page of statements is a few
  // dozen strings, freed together at the end of this call.
  char initial_block[8192];
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = initial_block;
  arena_options.initial_block_size = sizeof(initial_block);
  google::protobuf::Arena arena(arena_options);
  v1::ListStatementsResponse& response = *google::protobuf::Arena::CreateMessage<v1::ListStatementsResponse>(&arena);
  grpc::Status s = stub_->ListStatements(&ctx, request, &response);
  if (!s.ok()) {
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && caller_first) {
      return absl::DeadlineExceededError(
          absl::StrCat("the call's deadline passed while its history was read from the record service at ", target_));
    }
    switch (s.error_code()) {
      case grpc::StatusCode::NOT_FOUND:
        return std::vector<StatementFact>();
      case grpc::StatusCode::INVALID_ARGUMENT:
        return absl::InvalidArgumentError(absl::StrCat("learner: rejected by the record service: ", s.error_message()));
      default:
        return absl::UnavailableError(
            absl::StrCat("record service at ", target_, " unavailable (",
                         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? "no answer within deadline" : "error",
                         " ", static_cast<int>(s.error_code()), "): ", s.error_message()));
    }
  }
  std::vector<StatementFact> facts;
  facts.reserve(response.statements_size());
  for (const v1::Statement& st : response.statements()) {
    StatementFact f;
    f.verb = st.verb();
    f.activity = st.activity();
    const auto& ts = st.has_timestamp() ? st.timestamp() : st.stored();
    f.time = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
    f.verified = st.verified();
    facts.push_back(std::move(f));
  }
  return facts;
}

}  // namespace lifelong::recommend
