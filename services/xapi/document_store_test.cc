#include "services/xapi/document_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace lifelong::xapi {
namespace {

class DocumentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string dir =
        std::string(base ? base : "/tmp") + "/docs_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir);
    store_ = std::move(*DocumentStore::Open(dir));
  }
  std::unique_ptr<DocumentStore> store_;
};

DocKey State(const std::string& id, const std::string& reg = "") {
  return DocKey{DocKind::kState, "http://a/1", "u1", reg, id};
}

TEST_F(DocumentStoreTest, PutGetEtagAndConditions) {
  ASSERT_TRUE(store_->Put(State("s1"), "application/json", R"({"a":1})", {}, 10).ok());
  absl::StatusOr<Document> d = store_->Get(State("s1"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->content, R"({"a":1})");
  EXPECT_EQ(d->etag.size(), 40u);
  EXPECT_EQ(d->updated_us, 10);
  // Overwrite without a condition: 409-style ALREADY_EXISTS.
  WriteCondition strict;
  strict.require_condition_if_exists = true;
  EXPECT_EQ(store_->Put(State("s1"), "application/json", "{}", strict, 11).code(), absl::StatusCode::kAlreadyExists);
  WriteCondition wrong = strict;
  wrong.if_match = "deadbeef";
  EXPECT_EQ(store_->Put(State("s1"), "application/json", "{}", wrong, 11).code(),
            absl::StatusCode::kFailedPrecondition);
  WriteCondition right = strict;
  right.if_match = d->etag;
  EXPECT_TRUE(store_->Put(State("s1"), "application/json", R"({"b":2})", right, 12).ok());
  WriteCondition none;
  none.if_none_match_star = true;
  EXPECT_EQ(store_->Put(State("s1"), "application/json", "{}", none, 13).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Get(State("s1"))->content, R"({"b":2})");
  EXPECT_EQ(store_->Get(State("nope")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DocumentStoreTest, MergeJsonObjectsOnly) {
  ASSERT_TRUE(store_->Merge(State("s1"), "application/json", R"({"a":1,"b":1})", {}, 1).ok());
  ASSERT_TRUE(store_->Merge(State("s1"), "application/json", R"({"b":2,"c":3})", {}, 2).ok());
  EXPECT_EQ(store_->Get(State("s1"))->content, R"({"a":1,"b":2,"c":3})");
  ASSERT_TRUE(store_->Put(State("bin"), "application/octet-stream", "xyz", {}, 3).ok());
  EXPECT_EQ(store_->Merge(State("bin"), "application/json", R"({"a":1})", {}, 4).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DocumentStoreTest, ListSinceAndDeleteAllAndErase) {
  ASSERT_TRUE(store_->Put(State("s1"), "text/plain", "1", {}, 100).ok());
  ASSERT_TRUE(store_->Put(State("s2"), "text/plain", "2", {}, 200).ok());
  ASSERT_TRUE(store_->Put(State("s3", "ec531277-b57b-4c15-8d91-d292c5b2b8f7"), "text/plain", "3", {}, 300).ok());
  EXPECT_EQ(*store_->ListIds(State(""), std::nullopt), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(*store_->ListIds(State(""), 150), (std::vector<std::string>{"s2"}));
  EXPECT_EQ(*store_->ListIds(State("", "ec531277-b57b-4c15-8d91-d292c5b2b8f7"), std::nullopt),
            (std::vector<std::string>{"s3"}));
  ASSERT_TRUE(store_->Put(DocKey{DocKind::kAgentProfile, "", "u1", "", "p"}, "text/plain", "x", {}, 1).ok());
  ASSERT_TRUE(store_->Put(DocKey{DocKind::kAgentProfile, "", "u2", "", "p"}, "text/plain", "x", {}, 1).ok());
  EXPECT_EQ(*store_->EraseLearner("u1"), 4);
  EXPECT_EQ(store_->Get(State("s1")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Get(DocKey{DocKind::kAgentProfile, "", "u2", "", "p"}).ok());
}

// A condition names one document: on a delete of every document under a
// key (empty id) it was ignored, so If-Match with a wrong ETag deleted them.
TEST_F(DocumentStoreTest, ADeleteOfASetWithAConditionIsRefusedAndDeletesNothing) {
  ASSERT_TRUE(store_->Put(State("s1"), "text/plain", "1", {}, 100).ok());
  ASSERT_TRUE(store_->Put(State("s2"), "text/plain", "2", {}, 200).ok());
  WriteCondition wrong;
  wrong.if_match = "0000";
  EXPECT_EQ(store_->Delete(State(""), wrong).code(), absl::StatusCode::kInvalidArgument);
  WriteCondition none;
  none.if_none_match_star = true;
  EXPECT_EQ(store_->Delete(State(""), none).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->ListIds(State(""), std::nullopt), (std::vector<std::string>{"s1", "s2"}));
  // One document: the condition is checked.
  EXPECT_EQ(store_->Delete(State("s1"), wrong).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->Delete(State(""), {}).ok());
  EXPECT_TRUE(store_->ListIds(State(""), std::nullopt)->empty());
}

// Key strings and content types are stored with 16-bit lengths: one of 64 KiB
// or more would wrap and alias another document, or hide a learner's State
// from their erasure. Each is refused naming its field, and nothing is stored.
TEST_F(DocumentStoreTest, OverlongKeysAndContentTypesAreRefusedNamingTheField) {
  const std::string huge(70000, 'a');
  DocKey long_activity{DocKind::kState, "http://a/" + huge, "u1", "", "s"};
  absl::Status put = store_->Put(long_activity, "application/json", "{}", {}, 1);
  EXPECT_EQ(put.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(put.message()), ::testing::HasSubstr("activityId"));
  absl::Status type = store_->Put(State("s"), "application/json;" + huge, "{}", {}, 1);
  EXPECT_EQ(type.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(type.message()), ::testing::HasSubstr("Content-Type"));
  EXPECT_EQ(store_->Merge(State(huge), "application/json", "{}", {}, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Get(long_activity).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListIds(DocKey{DocKind::kAgentProfile, "", huge, "", ""}, std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Delete(State(huge), {}).code(), absl::StatusCode::kInvalidArgument);
  // The longest allowed still round-trips, and the learner's erasure finds it.
  DocKey longest{DocKind::kState, std::string(kMaxDocKeyField, 'b'), "u1", "", "s"};
  ASSERT_TRUE(store_->Put(longest, std::string(kMaxDocContentType, 't'), "x", {}, 1).ok());
  EXPECT_EQ(store_->Get(longest)->content, "x");
  EXPECT_EQ(*store_->EraseLearner("u1"), 1);
}

// The registry (column_families.h) is enforced on open: a database with a
// family this version does not know is refused, not half read; a second open
// of a held database is retryable.
TEST(DocumentStoreOpen, RefusesUnknownFamilyAndHeldDatabase) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(base ? base : "/tmp") + "/docs_unknown_family";
  std::filesystem::remove_all(dir);
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::ColumnFamilyHandle* h = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "from_the_future", &h).ok());
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  absl::StatusOr<std::unique_ptr<DocumentStore>> refused = DocumentStore::Open(dir);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("from_the_future"), absl::string_view::npos);

  const std::string fresh = dir + "_fresh";
  std::filesystem::remove_all(fresh);
  absl::StatusOr<std::unique_ptr<DocumentStore>> first = DocumentStore::Open(fresh);
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::unique_ptr<DocumentStore>> second = DocumentStore::Open(fresh);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
TEST(CheckJsonDocumentDepth, CountsBracketsOutsideStrings) {
  EXPECT_TRUE(CheckJsonDocumentDepth(R"({"a":[[1]]})", 3).ok());
  EXPECT_EQ(CheckJsonDocumentDepth(R"({"a":[[[1]]]})", 3).code(), absl::StatusCode::kInvalidArgument);
  // Brackets in strings, escaped quotes included, do not count.
  EXPECT_TRUE(CheckJsonDocumentDepth(R"({"a":"[[[[{{{{","b":"\"[[[[","c":[1]})", 2).ok());
  EXPECT_EQ(CheckJsonDocumentDepth(R"({"a":"\\",:[[[1]]]})", 3).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckJsonDocumentDepth(std::string(64, '[') + std::string(64, ']')).ok());
  absl::Status deep = CheckJsonDocumentDepth(std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(deep.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(deep.message().find("document:"), std::string::npos);
}

}  // namespace lifelong::xapi
