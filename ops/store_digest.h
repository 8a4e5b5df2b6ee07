// StoreDigest: a SHA-256 over every key and value of a RocksDB store, per
// column family and in total, so that the drills (tests/cluster, the
// disk-loss drill in docs/replication.md) can prove that two replicas hold the
// same statements and the same index entries byte for byte.
//
// The store is opened as a RocksDB secondary instance (a read-only follower of
// the files, safe next to a running records_server or on a stopped one) in a
// scratch directory of its own, and read in one consistent view. It knows
// nothing of the records layout beyond column-family names: every family the
// store has is read with the bytewise comparator in key order, so the digest
// does not depend on prefix extractors or tuning options.
//
// Digest input, per column family in name order: for each entry in key order
//   u32 BE key length | key | u32 BE value length | value
// and the total digest is the SHA-256 of the concatenated
//   family name | NUL | family digest (32 bytes)
// over the families that are not excluded entirely. Keys named in
// `exclude_keys` ("family:key", e.g. "meta:page_token_key", a node's own
// secret) are left out of both.
#ifndef LIFELONG_OPS_STORE_DIGEST_H_
#define LIFELONG_OPS_STORE_DIGEST_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace lifelong::ops {

struct FamilyDigest {
  int64_t entries = 0;
  std::string sha256_hex;
};

struct StoreDigest {
  std::map<std::string, FamilyDigest> families;  // by name
  std::string total_sha256_hex;                  // over the families not in exclude_families
  // The meta family's values that are printable text or 1..8-byte integers,
  // for the report (e.g. "replication/applied_seq").
  std::map<std::string, std::string> meta_text;
};

struct DigestOptions {
  std::set<std::string> exclude_families;  // left out of the total (still digested)
  std::set<std::string> exclude_keys;      // "family:key", left out everywhere
  std::string meta_family = "meta";
};

// Digests the store in `db_dir`, using `scratch_dir` (created; its contents
// are RocksDB's secondary-instance files, removable afterwards).
// NOT_FOUND when `db_dir` holds no RocksDB store; UNAVAILABLE when it cannot
// be read.
absl::StatusOr<StoreDigest> DigestStore(const std::string& db_dir, const std::string& scratch_dir,
                                        const DigestOptions& options);

// A report of `d`, one family a line, then the total and the meta values.
std::string FormatDigest(const StoreDigest& d);

}  // namespace lifelong::ops

#endif  // LIFELONG_OPS_STORE_DIGEST_H_
