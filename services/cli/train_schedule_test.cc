#include "services/cli/train_schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "models/model_retirement.h"
#include "models/model_writer.h"
#include "models/trainer.h"

namespace lifelong::cli {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1796000000);

ModelRootState Model(int64_t version, absl::Duration age, uint64_t epoch) {
  ModelRootState s;
  s.newest_version = version;
  s.newest_written = kNow - age;
  s.erasure_epoch = epoch;
  return s;
}

TEST(DecideRetrain, NoModelTrainsAtOnce) {
  RetrainDecision d = DecideRetrain(ModelRootState(), std::nullopt, kNow, absl::Hours(24));
  EXPECT_TRUE(d.train);
  EXPECT_EQ(d.reason, "no model yet");
}

TEST(DecideRetrain, AYoungModelWaitsUntilItIsDue) {
  RetrainDecision d = DecideRetrain(Model(3, absl::Hours(2), 1), 1, kNow, absl::Hours(24));
  EXPECT_FALSE(d.train);
  EXPECT_EQ(d.until_due, absl::Hours(22));
  EXPECT_THAT(d.reason, HasSubstr("model 3 is 2h"));
}

TEST(DecideRetrain, AModelAsOldAsEveryIsRetrained) {
  RetrainDecision d = DecideRetrain(Model(3, absl::Hours(24), 1), 1, kNow, absl::Hours(24));
  EXPECT_TRUE(d.train);
  EXPECT_THAT(d.reason, HasSubstr("model 3 is"));
  EXPECT_THAT(d.reason, HasSubstr("--every=24h"));
}

// An erasure the models do not reflect retrains a model of any age; one
// they reflect (or an epoch that is not known) does not.
TEST(DecideRetrain, AnErasureSinceTheModelRetrainsAtOnce) {
  RetrainDecision d = DecideRetrain(Model(3, absl::Minutes(5), 1), 2, kNow, absl::Hours(24));
  EXPECT_TRUE(d.train);
  EXPECT_THAT(d.reason, HasSubstr("an erasure since model 3 (record service erasure epoch 2 > 1)"));
  EXPECT_FALSE(DecideRetrain(Model(3, absl::Minutes(5), 2), 2, kNow, absl::Hours(24)).train);
  EXPECT_FALSE(DecideRetrain(Model(3, absl::Minutes(5), 0), std::nullopt, kNow, absl::Hours(24)).train);
}

// Erasures that come as fast as a learner may ask (once a minute) do not keep
// the trainer busy: after a training that took T the next one waits
// T * (1 / share - 1), whatever makes it due; a first model never waits.
TEST(DecideRetrain, TrainingsTakeAtMostTheirShareOfTheTime) {
  TrainingPace pace;
  pace.share = 0.25;
  pace.last_took = absl::Seconds(40);
  pace.last_end = kNow - absl::Seconds(30);
  RetrainDecision d = DecideRetrain(Model(3, absl::Seconds(30), 1), 2, kNow, absl::Hours(24), pace);
  EXPECT_FALSE(d.train);
  EXPECT_TRUE(d.paced);
  EXPECT_EQ(d.until_due, absl::Seconds(90));  // 3 x 40 s after the end, 30 s of it gone
  EXPECT_THAT(d.reason, HasSubstr("an erasure since model 3"));
  EXPECT_THAT(d.reason, HasSubstr("waiting 1m30s, since the last training took 40s"));
  EXPECT_THAT(d.reason, HasSubstr("at most 25% of the time (--training_share)"));
  // Due by age, or with no readable time: the same wait.
  EXPECT_TRUE(DecideRetrain(Model(3, absl::Hours(25), 1), 1, kNow, absl::Hours(24), pace).paced);
  ModelRootState unreadable = Model(3, absl::Hours(1), 1);
  unreadable.newest_written.reset();
  EXPECT_TRUE(DecideRetrain(unreadable, 1, kNow, absl::Hours(24), pace).paced);
  // Once the wait is over, it trains.
  d = DecideRetrain(Model(3, absl::Seconds(120), 1), 2, kNow + absl::Seconds(90), absl::Hours(24), pace);
  EXPECT_TRUE(d.train);
  EXPECT_FALSE(d.paced);
  // Not due: not paced, whatever the pace.
  d = DecideRetrain(Model(3, absl::Seconds(30), 2), 2, kNow, absl::Hours(24), pace);
  EXPECT_FALSE(d.train);
  EXPECT_FALSE(d.paced);
  // A first model never waits; nor does anything with a share of 1 or before a first training.
  EXPECT_TRUE(DecideRetrain(ModelRootState(), 2, kNow, absl::Hours(24), pace).train);
  TrainingPace all = pace;
  all.share = 1;
  EXPECT_TRUE(DecideRetrain(Model(3, absl::Seconds(30), 1), 2, kNow, absl::Hours(24), all).train);
  TrainingPace fresh;
  fresh.share = 0.25;
  EXPECT_TRUE(DecideRetrain(Model(3, absl::Seconds(30), 1), 2, kNow, absl::Hours(24), fresh).train);
  EXPECT_EQ(NextTrainingAllowedAt(fresh), absl::InfinitePast());
}

// A record store restored from a backup can count fewer erasures than the
// models recorded: a model trained now would be retired at once, so none is,
// and the reason says what to do.
TEST(DecideRetrain, AnEpochBelowTheModelsBlocksTraining) {
  RetrainDecision d = DecideRetrain(Model(3, absl::Hours(30), 5), 2, kNow, absl::Hours(24));
  EXPECT_FALSE(d.train);
  EXPECT_TRUE(d.blocked);
  EXPECT_THAT(d.reason, HasSubstr("erasure epoch 2 is below the models' 5"));
  EXPECT_THAT(d.reason, HasSubstr("move the versions in the model root aside"));
}

TEST(DecideRetrain, AModelWithoutAWriteTimeIsRetrained) {
  ModelRootState s = Model(3, absl::Minutes(5), 0);
  s.newest_written.reset();
  EXPECT_TRUE(DecideRetrain(s, 0, kNow, absl::Hours(24)).train);
}

models::ModelArrays SmallModel() {
  std::vector<models::Interaction> data;
  for (int l = 0; l < 6; ++l) {
    for (int c = 0; c < 3; ++c) data.push_back({absl::StrCat("u", l), absl::StrCat("c", (l + c) % 5), c, 1.0f});
  }
  return *models::TrainModel(data, {}, models::TrainOptions());
}

// The state of a real model root written by the trainer's writer.
TEST(ReadModelRootState, ReadsTheNewestVersionItsTimeAndTheLargestEpoch) {
  const std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/models";
  std::filesystem::remove_all(root);
  absl::StatusOr<ModelRootState> empty = ReadModelRootState(root);  // no root yet: no model
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->newest_version.has_value());

  const absl::Time before = absl::Now() - absl::Seconds(2);
  nlohmann::json extra = nlohmann::json::object();
  models::SetErasureEpoch(&extra, 4);
  ASSERT_TRUE(models::WriteModelVersion(root, SmallModel(), extra).ok());
  ASSERT_TRUE(models::WriteModelVersion(root, SmallModel(), nlohmann::json::object()).ok());
  std::filesystem::create_directories(root + "/.tmp-7");  // a training in progress is not a version

  absl::StatusOr<ModelRootState> s = ReadModelRootState(root);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->newest_version.has_value());
  EXPECT_EQ(*s->newest_version, 2);
  ASSERT_TRUE(s->newest_written.has_value());
  EXPECT_GE(*s->newest_written, before);
  EXPECT_LE(*s->newest_written, absl::Now() + absl::Seconds(2));
  EXPECT_EQ(s->erasure_epoch, 4u);
  // Retraining is then decided on the newest version.
  EXPECT_FALSE(DecideRetrain(*s, 4, absl::Now(), absl::Hours(1)).train);
  EXPECT_TRUE(DecideRetrain(*s, 5, absl::Now(), absl::Hours(1)).train);
}

}  // namespace
}  // namespace lifelong::cli
