#include "services/common/rocks_status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace lifelong {
namespace {

TEST(FromRocks, OkStaysOk) { EXPECT_TRUE(FromRocks(rocksdb::Status::OK(), "read").ok()); }

TEST(FromRocks, MapsEachKindAsDocumented) {
  struct Case {
    rocksdb::Status in;
    absl::StatusCode want;
  };
  const Case cases[] = {
      {rocksdb::Status::NotFound("k"), absl::StatusCode::kNotFound},
      {rocksdb::Status::Corruption("bad block"), absl::StatusCode::kDataLoss},
      {rocksdb::Status::Busy("b"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TimedOut("t"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TryAgain("t"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Incomplete("i"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Aborted("a"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::ShutdownInProgress("s"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::IOError("No space left on device"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::InvalidArgument("cf"), absl::StatusCode::kInternal},
      {rocksdb::Status::NotSupported("n"), absl::StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    absl::Status s = FromRocks(c.in, "read course");
    EXPECT_EQ(s.code(), c.want) << c.in.ToString();
    EXPECT_EQ(s.message(), "read course: " + c.in.ToString());
  }
}

// A real RocksDB refusal: a second open of a locked database is retryable.
TEST(FromRocks, LockedDatabaseIsUnavailable) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/locked";
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* first = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir, &first).ok());
  std::unique_ptr<rocksdb::DB> hold(first);
  rocksdb::DB* second = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &second);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(FromRocks(s, "open").code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace lifelong
