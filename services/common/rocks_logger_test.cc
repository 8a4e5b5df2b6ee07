#include "services/common/rocks_logger.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/common/capture_stderr.h"
#include "services/common/log.h"

namespace lifelong {
namespace {

using testing::CaptureStderr;

TEST(StructuredRocksLogger, WarningsAndErrorsBecomeLinesAndInfoIsDropped) {
  std::shared_ptr<rocksdb::Logger> logger = NewStructuredRocksLogger("records");
  std::vector<std::string> lines = CaptureStderr("rocks.log", [&] {
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, logger, "flush %d started", 7);
    rocksdb::Log(logger, "no level: %s", "info");
    rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, logger, "No space left on device: %s", "000039.sst");
    rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, logger, "background error %d", 2);
  });
  ASSERT_EQ(lines.size(), 2u) << (lines.empty() ? "" : lines[0]);
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "warn");
  EXPECT_EQ(first["event"], "rocksdb");
  EXPECT_EQ(first["store"], "records");
  EXPECT_EQ(first["message"], "No space left on device: 000039.sst");
  auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "error");
  EXPECT_EQ(second["message"], "background error 2");
}

TEST(StructuredRocksLogger, LongAndOddMessagesStayOneValidLine) {
  std::shared_ptr<rocksdb::Logger> logger = NewStructuredRocksLogger("catalog");
  const std::string long_text(5000, 'x');
  std::vector<std::string> lines = CaptureStderr("rocks_odd.log", [&] {
    rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, logger, "%s", long_text.c_str());
    rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, logger, "bad utf-8 \xff\xfe and \"quotes\"\n");
  });
  ASSERT_EQ(lines.size(), 2u);
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["message"].get<std::string>().size(), 1023u);
  auto second = nlohmann::json::parse(lines[1]);
  EXPECT_NE(second["message"].get<std::string>().find("\"quotes\""), std::string::npos);
}

// A flood (a full disk: every failed write and each recovery retry) is cut
// to kRocksLogLinesPerWindow lines a window.
TEST(StructuredRocksLogger, AFloodIsCutToTheWindowsAllowance) {
  std::shared_ptr<rocksdb::Logger> logger = NewStructuredRocksLogger("records");
  std::vector<std::string> lines = CaptureStderr("rocks_flood.log", [&] {
    for (int i = 0; i < 3 * kRocksLogLinesPerWindow; ++i) {
      rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, logger, "Cannot clear hard error %d", i);
    }
  });
  ASSERT_EQ(lines.size(), static_cast<size_t>(kRocksLogLinesPerWindow));
  EXPECT_EQ(nlohmann::json::parse(lines.front())["message"], "Cannot clear hard error 0");
  // Another logger (another store) has its own allowance.
  std::shared_ptr<rocksdb::Logger> other = NewStructuredRocksLogger("catalog");
  lines = CaptureStderr("rocks_flood_other.log",
                        [&] { rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, other, "still heard"); });
  ASSERT_EQ(lines.size(), 1u);
}

// With the logger set, RocksDB writes no LOG file beside the data: nothing
// of the store's own logging can fail on a full disk.
TEST(StructuredRocksLogger, ADatabaseWithItWritesNoLogFile) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/db_with_logger");
  rocksdb::Options options;
  options.create_if_missing = true;
  options.info_log = NewStructuredRocksLogger("test");
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
  ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  db.reset();
  EXPECT_FALSE(std::filesystem::exists(dir + "/LOG"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/CURRENT"));
}

}  // namespace
}  // namespace lifelong
