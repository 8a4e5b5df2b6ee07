#include "models/records_export.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/grpc_status.h"
#include "services/domain/vocabulary.h"

namespace lifelong::models {
void SortInExportOrder(std::vector<Interaction>* interactions) {
  std::sort(interactions->begin(), interactions->end(), [](const Interaction& a, const Interaction& b) {
    return std::tie(a.learner, a.order, a.course_id, a.weight) < std::tie(b.learner, b.order, b.course_id, b.weight);
  });
}

std::optional<Interaction> StatementToInteraction(const lifelong::v1::Statement& s) {
  if (s.voided() || s.verb() == vocab::kVoided) return std::nullopt;
  std::string course = vocab::CourseIdFromIri(s.activity());
  if (course.empty() || s.learner().empty()) return std::nullopt;
  const float weight = VerbWeight(s.verb());
  if (!(weight > 0)) return std::nullopt;
  const google::protobuf::Timestamp& t = s.has_timestamp() ? s.timestamp() : s.stored();
  Interaction it;
  it.learner = s.learner();
  it.course_id = std::move(course);
  it.order = t.seconds() * 1000000 + t.nanos() / 1000;
  it.weight = weight;
  return it;
}

absl::StatusOr<RecordsExportResult> ReadInteractionsFromRecords(
    lifelong::v1::LearningRecordService::StubInterface* stub, const RecordsExportOptions& options) {
  RecordsExportResult result;
  result.last_cursor = options.after_cursor;
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(options.deadline);
  int resumes = 0;
  while (true) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline);
    if (!options.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options.token);
    lifelong::v1::ExportStatementsRequest req;
    req.set_after_cursor(result.last_cursor);
    req.set_view(lifelong::v1::STATEMENT_VIEW_BASIC);  // the indexed fields suffice
    if (options.limit > 0)
      req.set_limit(static_cast<int32_t>(std::min<int64_t>(options.limit - result.statements, INT32_MAX)));
    std::unique_ptr<grpc::ClientReaderInterface<lifelong::v1::Statement>> reader = stub->ExportStatements(&ctx, req);
    lifelong::v1::Statement st;
    int64_t progress = 0;
    while (reader->Read(&st)) {
      ++result.statements;
      ++progress;
      if (options.on_progress && result.statements % 100000 == 0) options.on_progress(result.statements);
      if (!st.cursor().empty()) result.last_cursor = st.cursor();
      if (std::optional<Interaction> it = StatementToInteraction(st)) {
        result.interactions.push_back(std::move(*it));
      } else {
        ++result.skipped;
      }
      if (options.limit > 0 && result.statements >= options.limit) {
        ctx.TryCancel();
        break;
      }
    }
    grpc::Status status = reader->Finish();
    {
      const auto& md = ctx.GetServerInitialMetadata();
      auto it = md.find(kErasureEpochMetadata);
      uint64_t epoch = 0;
      if (it != md.end() && absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &epoch) &&
          (!result.erasure_epoch || epoch < *result.erasure_epoch)) {
        result.erasure_epoch = epoch;
      }
    }
    if ((options.limit > 0 && result.statements >= options.limit) || status.ok()) {
      SortInExportOrder(&result.interactions);
      return result;
    }
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && progress > 0 && resumes < options.max_resumes) {
      ++resumes;
      continue;
    }
    absl::Status s = FromGrpcStatus(status);
    return absl::Status(s.code(),
                        absl::StrCat("ExportStatements after ", result.statements, " statements: ", s.message()));
  }
}

absl::StatusOr<RecordsExportResult> ReadInteractionsFromRecords(const std::string& address,
                                                                const RecordsExportOptions& options) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = lifelong::v1::LearningRecordService::NewStub(channel);
  return ReadInteractionsFromRecords(stub.get(), options);
}

}  // namespace lifelong::models
