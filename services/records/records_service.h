// The gRPC handler of lifelong.v1.LearningRecordService: validates requests,
// calls RecordStore, and maps absl::Status to gRPC status once, on the way out.
// Thread-safe; does not own the store.
#ifndef LIFELONG_SERVICES_RECORDS_RECORDS_SERVICE_H_
#define LIFELONG_SERVICES_RECORDS_RECORDS_SERVICE_H_

#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/records/record_store.h"

namespace lifelong::records {

// Largest batch accepted by RecordStatements.
inline constexpr int kMaxBatchStatements = 1000;

class RecordsService final : public lifelong::v1::LearningRecordService::Service {
 public:
  explicit RecordsService(RecordStore* store) : store_(store) {}

  grpc::Status RecordStatement(grpc::ServerContext*, const v1::RecordStatementRequest*,
                               v1::Statement*) override;
  grpc::Status RecordStatements(grpc::ServerContext*, const v1::RecordStatementsRequest*,
                                v1::RecordStatementsResponse*) override;
  grpc::Status GetStatement(grpc::ServerContext*, const v1::GetStatementRequest*,
                            v1::Statement*) override;
  grpc::Status ListStatements(grpc::ServerContext*, const v1::ListStatementsRequest*,
                              v1::ListStatementsResponse*) override;
  grpc::Status VoidStatement(grpc::ServerContext*, const v1::VoidStatementRequest*,
                             v1::Statement*) override;
  grpc::Status GetTranscript(grpc::ServerContext*, const v1::GetTranscriptRequest*,
                             v1::Transcript*) override;
  grpc::Status ExportLearner(grpc::ServerContext*, const v1::ExportLearnerRequest*,
                             grpc::ServerWriter<v1::Statement>*) override;
  grpc::Status EraseLearner(grpc::ServerContext*, const v1::EraseLearnerRequest*,
                            v1::EraseLearnerResponse*) override;
  grpc::Status ExportStatements(grpc::ServerContext*, const v1::ExportStatementsRequest*,
                                grpc::ServerWriter<v1::Statement>*) override;
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest*, v1::EchoResponse*) override;

 private:
  // Validates and stores one statement; the stored form goes to `resp`.
  grpc::Status RecordOne(const std::string& json, v1::Statement* resp);

  RecordStore* store_;
};

// Fills `out` from a stored statement; without `json` unless `with_json`.
void ToProto(const StoredStatement& s, v1::Statement* out, bool with_json = true);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_RECORDS_SERVICE_H_
