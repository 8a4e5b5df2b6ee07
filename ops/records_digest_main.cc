// records_digest: prints a SHA-256 digest of a record store (ops/store_digest.h),
// per column family and in total, so that the stores of two replicas can be
// compared (docs/replication.md, "Disk-loss drill").
//
//   records_digest var/cluster/records-1 var/cluster/records-2 var/cluster/records-3
//   records_digest --db=var/cluster/records-1,var/cluster/records-2
//
// Safe on a running node (read as a RocksDB secondary). Compare replicas that
// report the same applied position (meta replication/applied_seq), i.e. after
// writes stop and every node's lag is 0. The total leaves out the meta family
// (node-local bookkeeping; its values are printed), the audit family (each
// node records the reads it served) and the key meta:page_token_key
// (each node's own secret unless the store replicates it). With more than one
// store, exits 1 unless all totals are equal.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "ops/store_digest.h"

ABSL_FLAG(std::vector<std::string>, db, {}, "store directories, comma separated (or as arguments)");
ABSL_FLAG(std::string, scratch_dir, "",
          "where RocksDB's secondary-instance files go (default: a fresh directory under $TMPDIR)");
ABSL_FLAG(std::vector<std::string>, exclude_families, std::vector<std::string>({"meta", "audit"}),
          "families left out of the total (still digested and printed)");
ABSL_FLAG(std::vector<std::string>, exclude_keys, {"meta:page_token_key"}, "family:key entries left out everywhere");

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> dbs = absl::GetFlag(FLAGS_db);
  for (size_t i = 1; i < args.size(); ++i) dbs.push_back(args[i]);
  if (dbs.empty()) {
    std::fprintf(stderr, "usage: records_digest DATA_DIR [DATA_DIR...]  (records_server --data_dir)\n");
    return 2;
  }
  std::string scratch = absl::GetFlag(FLAGS_scratch_dir);
  if (scratch.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/store_digest.XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      std::perror("records_digest: mkdtemp");
      return 1;
    }
    scratch = buf.data();
  }
  lifelong::ops::DigestOptions options;
  for (const auto& f : absl::GetFlag(FLAGS_exclude_families)) options.exclude_families.insert(f);
  for (const auto& k : absl::GetFlag(FLAGS_exclude_keys)) options.exclude_keys.insert(k);
  std::vector<std::string> totals;
  int i = 0;
  for (const std::string& db : dbs) {
    absl::StatusOr<lifelong::ops::StoreDigest> d =
        lifelong::ops::DigestStore(db, scratch + "/" + std::to_string(i++), options);
    if (!d.ok()) {
      std::fprintf(stderr, "records_digest: %s\n", std::string(d.status().message()).c_str());
      return 1;
    }
    std::printf("== %s\n%s", db.c_str(), lifelong::ops::FormatDigest(*d).c_str());
    totals.push_back(d->total_sha256_hex);
  }
  std::error_code ec;
  if (absl::GetFlag(FLAGS_scratch_dir).empty()) std::filesystem::remove_all(scratch, ec);
  for (const std::string& t : totals) {
    if (t != totals.front()) {
      std::printf("DIFFERENT: the stores' totals differ\n");
      return 1;
    }
  }
  if (totals.size() > 1) std::printf("EQUAL: %zu stores, total sha256 %s\n", totals.size(), totals.front().c_str());
  return 0;
}
