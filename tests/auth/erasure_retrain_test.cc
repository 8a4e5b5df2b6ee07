// Erasure is complete as far as models go: after EraseLearner, the export
// stream the trainer reads holds nothing of the learner, and a model trained
// from it holds no trace of them (not even a course only they took).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "models/model_retirement.h"
#include "models/model_writer.h"
#include "models/records_export.h"
#include "models/trainer.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/server.h"
#include "services/recommend/model_manager.h"
#include "services/records/record_store.h"
#include "services/records/records_service.h"
#include "services/records/statement.h"
#include "services/records/test_statements.h"
#include "tests/testing/store_files.h"

namespace lifelong {
namespace {

using records::testing::MakeStatement;
using testing::AnyFileContains;
using testing::AnyTableEntryContains;

constexpr char kErased[] = "erase-me-7f3a9c";
constexpr char kOnlyTheirs[] = "c-only-erased-91b2";

// A record service on a fresh store under TEST_TMPDIR/<name>/records, served
// on a real port, and a stub calling it.
struct RecordsOnDisk {
  explicit RecordsOnDisk(const std::string& name) : root(std::string(std::getenv("TEST_TMPDIR")) + "/" + name) {
    std::filesystem::remove_all(root);
    std::filesystem::create_directories(root);
    store = std::move(*records::RecordStore::Open(root + "/records"));
    service = std::make_unique<records::RecordsService>(store.get());
    server = std::move(*StartGrpcServer(GrpcServerOptions{}, {service.get()}));
    stub = v1::LearningRecordService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()), grpc::InsecureChannelCredentials()));
  }

  std::string root;
  std::unique_ptr<records::RecordStore> store;
  std::unique_ptr<records::RecordsService> service;
  std::unique_ptr<RunningGrpcServer> server;
  std::unique_ptr<v1::LearningRecordService::Stub> stub;
};

TEST(ErasureRetrain, StoreFilesHoldNoBytesOfAnErasedStatement) {
  std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/erasure_files";
  std::filesystem::remove_all(root);
  constexpr char kMarker[] = "erased-marker-5e1f0c7d";
  auto store = std::move(*records::RecordStore::Open(root));
  auto record = [&](const records::testing::StatementSpec& spec) {
    std::vector<records::ParsedStatement> batch;
    batch.push_back(*records::ParseStatement(MakeStatement(spec)));
    ASSERT_TRUE(store->Record(std::move(batch)).ok());
  };
  // The learner's statements land in table files (flushed, then compacted
  // with others) and in the write-ahead log (written after the flush).
  for (int i = 0; i < 200; ++i) record({.learner = absl::StrCat("keep-", i % 17), .course = absl::StrCat("c", i % 9)});
  record({.learner = kErased, .course = "c1", .title = kMarker});
  record({.learner = kErased,
          .course = kOnlyTheirs,
          .title = kMarker,
          .registration = "6c0f2a43-9a1b-4c55-8f3e-2b7d9e1c0a11"});
  ASSERT_TRUE(store->WaitForBackgroundWork().ok());
  for (int i = 0; i < 200; ++i) record({.learner = absl::StrCat("keep-", i % 17), .course = absl::StrCat("c", i % 9)});
  record({.learner = kErased, .course = "c2", .title = kMarker});
  // The check can fail: the marker is there before the erasure.
  ASSERT_TRUE(AnyTableEntryContains(root, kMarker));
  ASSERT_TRUE(AnyFileContains(root, kMarker));
  absl::StatusOr<records::RecordStore::ErasureEpoch> before = store->GetErasureEpoch();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->epoch, 0u);

  absl::StatusOr<int64_t> erased = store->EraseLearner(kErased);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(*erased, 3);
  // The purge of the files runs in the background (record_store.h).
  absl::Status purged = store->WaitForPurge();
  ASSERT_TRUE(purged.ok()) << purged;
  EXPECT_FALSE(AnyTableEntryContains(root, kMarker));
  EXPECT_FALSE(AnyFileContains(root, kMarker)) << "write-ahead logs, tables or manifests still hold erased bytes";
  // Nor does any table entry name the learner (index keys, tombstones).
  EXPECT_FALSE(AnyTableEntryContains(root, kErased));
  absl::StatusOr<records::RecordStore::ErasureEpoch> after = store->GetErasureEpoch();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->epoch, 1u);
  EXPECT_GT(after->latest_us, 0);
  // The others' statements are all there, and so after a restart.
  store.reset();
  store = std::move(*records::RecordStore::Open(root));
  int64_t kept = 0;
  ASSERT_TRUE(store->ForEachAfter(0, 0, [&](const records::StoredStatement&) { return ++kept, true; }).ok());
  EXPECT_EQ(kept, 400);
  EXPECT_FALSE(AnyFileContains(root, kMarker));
  EXPECT_EQ(store->GetErasureEpoch()->epoch, 1u);
  // Erasing a learner without statements leaves the epoch alone.
  EXPECT_EQ(*store->EraseLearner("nobody-here"), 0);
  EXPECT_EQ(store->GetErasureEpoch()->epoch, 1u);
}

TEST(ErasureRetrain, NextModelContainsNothingOfAnErasedLearner) {
  RecordsOnDisk on_disk("erasure_retrain");
  const std::string& root = on_disk.root;
  auto& stub = on_disk.stub;

  v1::RecordStatementsRequest req;
  for (int l = 0; l < 30; ++l) {
    for (int c = 0; c < 6; ++c) {
      req.add_statement_json(MakeStatement({.learner = absl::StrCat("keep-", l),
                                            .course = absl::StrCat("c", (l + c) % 8),
                                            .timestamp = absl::StrCat("2026-10-0", 1 + c, "T10:00:00Z")}));
    }
  }
  for (const char* c : {"c1", "c2", kOnlyTheirs, "c3"}) {
    req.add_statement_json(MakeStatement({.learner = kErased, .course = c}));
  }
  v1::RecordStatementsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->RecordStatements(&ctx, req, &resp).ok());

  auto train_to = [&](const std::string& model_root, int64_t* learners) {
    absl::StatusOr<models::RecordsExportResult> data = models::ReadInteractionsFromRecords(stub.get());
    ASSERT_TRUE(data.ok()) << data.status();
    models::TrainOptions options;
    models::TrainStats stats;
    absl::StatusOr<models::ModelArrays> arrays = models::TrainModel(data->interactions, {}, options, &stats);
    ASSERT_TRUE(arrays.ok()) << arrays.status();
    ASSERT_TRUE(models::WriteModelVersion(model_root, *arrays, {{"train", stats.ToJson()}}).ok());
    *learners = stats.learners;
    for (const models::Interaction& i : data->interactions) {
      if (i.learner == kErased) ADD_FAILURE_AT(__FILE__, __LINE__) << "exported before erasure only";
    }
  };

  // Before erasure the learner's only course is in the model: the check can fail.
  int64_t learners = 0;
  absl::StatusOr<models::RecordsExportResult> before = models::ReadInteractionsFromRecords(stub.get());
  ASSERT_TRUE(before.ok());
  models::TrainStats stats_before;
  auto arrays_before = models::TrainModel(before->interactions, {}, models::TrainOptions(), &stats_before);
  ASSERT_TRUE(arrays_before.ok());
  ASSERT_TRUE(models::WriteModelVersion(root + "/model-before", *arrays_before, nlohmann::json::object()).ok());
  EXPECT_TRUE(AnyFileContains(root + "/model-before", kOnlyTheirs));
  EXPECT_EQ(stats_before.learners, 31);

  v1::EraseLearnerRequest erase;
  erase.set_learner(kErased);
  v1::EraseLearnerResponse erased;
  grpc::ClientContext ectx;
  ASSERT_TRUE(stub->EraseLearner(&ectx, erase, &erased).ok());
  EXPECT_EQ(erased.erased_statements(), 4);

  train_to(root + "/model-after", &learners);
  EXPECT_EQ(learners, 30);
  EXPECT_FALSE(AnyFileContains(root + "/model-after", kOnlyTheirs));
  EXPECT_FALSE(AnyFileContains(root + "/model-after", kErased));
}

// After an erasure, the model trained before it is retired: the recommender
// serves the one trained after it, refuses to pin the old one, and the
// trainer's clean-up deletes it.
TEST(ErasureRetrain, ModelsTrainedBeforeAnErasureAreRetired) {
  RecordsOnDisk on_disk("erasure_models");
  const std::string& root = on_disk.root;
  auto& stub = on_disk.stub;
  v1::RecordStatementsRequest req;
  for (int l = 0; l < 12; ++l) {
    for (int c = 0; c < 4; ++c) {
      req.add_statement_json(
          MakeStatement({.learner = absl::StrCat("keep-", l), .course = absl::StrCat("c", (l + c) % 6)}));
    }
  }
  for (const char* c : {"c1", kOnlyTheirs}) req.add_statement_json(MakeStatement({.learner = kErased, .course = c}));
  v1::RecordStatementsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->RecordStatements(&ctx, req, &resp).ok());

  // What models/train does: export, train, record the export's epoch, write.
  const std::string models_root = root + "/models";
  auto train = [&]() -> int64_t {
    absl::StatusOr<models::RecordsExportResult> data = models::ReadInteractionsFromRecords(stub.get());
    EXPECT_TRUE(data.ok()) << data.status();
    EXPECT_TRUE(data->erasure_epoch.has_value()) << "the service reports its erasure epoch";
    nlohmann::json manifest = nlohmann::json::object();
    if (data->erasure_epoch) models::SetErasureEpoch(&manifest, *data->erasure_epoch);
    absl::StatusOr<models::ModelArrays> arrays = models::TrainModel(data->interactions, {}, models::TrainOptions());
    EXPECT_TRUE(arrays.ok()) << arrays.status();
    absl::StatusOr<int64_t> v = models::WriteModelVersion(models_root, *arrays, manifest);
    EXPECT_TRUE(v.ok()) << v.status();
    return *v;
  };
  int64_t before = train();
  recommend::ModelManager::Options mo;
  mo.model_dir = models_root;
  recommend::ModelManager manager(mo);
  ASSERT_TRUE(manager.PollOnce().ok());
  ASSERT_TRUE(manager.Current()->Row(kOnlyTheirs).has_value()) << "the erased learner's course is in the model";
  ASSERT_TRUE(manager.Pin(before).ok());

  v1::EraseLearnerRequest erase;
  erase.set_learner(kErased);
  v1::EraseLearnerResponse erased;
  grpc::ClientContext ectx;
  ASSERT_TRUE(stub->EraseLearner(&ectx, erase, &erased).ok());
  ASSERT_EQ(erased.erased_statements(), 2);
  // Until a model trained after the erasure exists, the old one serves.
  ASSERT_TRUE(manager.PollOnce().ok());
  EXPECT_EQ(manager.Current()->version(), before);

  int64_t after = train();
  ASSERT_TRUE(manager.PollOnce().ok());
  EXPECT_EQ(manager.Current()->version(), after) << "the pin on the retired version is dropped";
  EXPECT_FALSE(manager.Current()->Row(kOnlyTheirs).has_value());
  EXPECT_EQ(manager.Pin(before).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager.Current()->version(), after);
  // A third model makes the retired one deletable (the largest number stays).
  int64_t third = train();
  absl::StatusOr<std::vector<int64_t>> deleted = models::DeleteRetiredVersions(models_root);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, std::vector<int64_t>{before});
  EXPECT_FALSE(AnyFileContains(models_root, kOnlyTheirs));
  EXPECT_EQ(*models::ListCompleteVersions(models_root), (std::vector<int64_t>{after, third}));
}

}  // namespace
}  // namespace lifelong
