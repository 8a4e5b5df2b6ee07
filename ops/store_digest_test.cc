#include "ops/store_digest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "rocksdb/db.h"

namespace lifelong::ops {
namespace {

std::string TempDir(const std::string& name) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A store with families default, meta and statements, holding `entries`
// ({family, key, value}) written one Put at a time in the given order.
class TestStore {
 public:
  explicit TestStore(const std::string& dir) {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{"default", {}}, {"meta", {}}, {"statements", {}}};
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(o, dir, cfs, &handles_, &raw).ok());
    db_.reset(raw);
  }
  ~TestStore() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }
  void Put(int family, const std::string& key, const std::string& value) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), handles_[family], key, value).ok());
  }
  void Flush() { ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions(), handles_).ok()); }

 private:
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

constexpr int kMeta = 1, kStatements = 2;
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

DigestOptions Options() {
  DigestOptions o;
  o.exclude_families = {"meta"};
  o.exclude_keys = {"meta:page_token_key"};
  return o;
}

TEST(StoreDigest, EqualContentWrittenInAnotherOrderDigestsEqual) {
  std::string a = TempDir("a"), b = TempDir("b"), scratch = TempDir("scratch");
  {
    TestStore s(a);
    s.Put(kStatements, "k1", "v1");
    s.Put(kStatements, "k2", "v2");
    s.Put(kMeta, "page_token_key", "secret-a");
    s.Put(kMeta, "replication/applied_seq", "42");
    s.Flush();
  }
  {
    TestStore s(b);
    s.Put(kStatements, "k2", "v2");
    s.Put(kMeta, "page_token_key", "secret-b");
    s.Put(kStatements, "k1", "v1");
    s.Put(kMeta, "replication/applied_seq", "42");
    // Not flushed: the secondary reads the WAL too.
  }
  absl::StatusOr<StoreDigest> da = DigestStore(a, scratch + "/a", Options());
  absl::StatusOr<StoreDigest> db = DigestStore(b, scratch + "/b", Options());
  ASSERT_TRUE(da.ok()) << da.status();
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(da->total_sha256_hex, db->total_sha256_hex);
  EXPECT_EQ(da->families.at("statements").entries, 2);
  EXPECT_EQ(da->families.at("statements").sha256_hex, db->families.at("statements").sha256_hex);
  // The node's own secret is left out; the applied position is shown.
  EXPECT_EQ(da->families.at("meta").entries, 1);
  EXPECT_EQ(da->families.at("meta").sha256_hex, db->families.at("meta").sha256_hex);
  EXPECT_EQ(da->meta_text.count("page_token_key"), 0u);
  EXPECT_EQ(da->meta_text.at("replication/applied_seq"), "42");
  EXPECT_EQ(da->families.at("default").sha256_hex, kEmptySha256);
}

TEST(StoreDigest, ADifferentValueKeyOrExtraEntryChangesTheTotal) {
  std::string scratch = TempDir("scratch2");
  auto digest_of = [&](const std::string& name, auto fill) {
    std::string dir = TempDir(name);
    {
      TestStore s(dir);
      fill(s);
    }
    absl::StatusOr<StoreDigest> d = DigestStore(dir, scratch + "/" + name, Options());
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? d->total_sha256_hex : std::string();
  };
  std::string base = digest_of("base", [](TestStore& s) { s.Put(kStatements, "k1", "v1"); });
  EXPECT_NE(base, digest_of("value", [](TestStore& s) { s.Put(kStatements, "k1", "v2"); }));
  EXPECT_NE(base, digest_of("key", [](TestStore& s) { s.Put(kStatements, "k2", "v1"); }));
  EXPECT_NE(base, digest_of("extra", [](TestStore& s) {
              s.Put(kStatements, "k1", "v1");
              s.Put(kStatements, "k0", "");
            }));
  // Length prefixes: moving a byte from the key to the value is a change.
  EXPECT_NE(digest_of("split1", [](TestStore& s) { s.Put(kStatements, "ab", "c"); }),
            digest_of("split2", [](TestStore& s) { s.Put(kStatements, "a", "bc"); }));
  // The meta family is outside the total.
  EXPECT_EQ(base, digest_of("meta", [](TestStore& s) {
              s.Put(kStatements, "k1", "v1");
              s.Put(kMeta, "schema_version", std::string("\0\0\0\1", 4));
            }));
}

TEST(StoreDigest, ReadsAStoreThatIsOpenAndBeingWritten) {
  std::string dir = TempDir("live"), scratch = TempDir("scratch3");
  TestStore s(dir);
  s.Put(kStatements, "k1", "v1");
  absl::StatusOr<StoreDigest> d1 = DigestStore(dir, scratch + "/1", Options());
  ASSERT_TRUE(d1.ok()) << d1.status();
  EXPECT_EQ(d1->families.at("statements").entries, 1);
  s.Put(kStatements, "k2", "v2");
  s.Flush();
  absl::StatusOr<StoreDigest> d2 = DigestStore(dir, scratch + "/2", Options());
  ASSERT_TRUE(d2.ok()) << d2.status();
  EXPECT_EQ(d2->families.at("statements").entries, 2);
  EXPECT_NE(d1->total_sha256_hex, d2->total_sha256_hex);
}

TEST(StoreDigest, NoStoreIsNotFound) {
  std::string dir = TempDir("empty");
  absl::StatusOr<StoreDigest> d = DigestStore(dir, TempDir("scratch4"), Options());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  d = DigestStore(dir + "/missing", TempDir("scratch5"), Options());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
}

TEST(StoreDigest, FormatNamesEveryFamilyTheTotalAndMeta) {
  StoreDigest d;
  d.families["statements"] = {3, "ab"};
  d.total_sha256_hex = "cd";
  d.meta_text["replication/applied_seq"] = "7";
  std::string text = FormatDigest(d);
  EXPECT_NE(text.find("family statements"), std::string::npos) << text;
  EXPECT_NE(text.find("entries          3"), std::string::npos) << text;
  EXPECT_NE(text.find("total sha256 cd"), std::string::npos) << text;
  EXPECT_NE(text.find("meta replication/applied_seq = 7"), std::string::npos) << text;
}

}  // namespace
}  // namespace lifelong::ops
