// DiskFullFileSystem: a RocksDB FileSystem wrapper that simulates a disk
// running out of space, and a disk whose fsync fails.
//
// Every byte appended to a file written through it counts against a budget of
// free bytes. An append that does not fit is refused whole with RocksDB's
// no-space IOStatus (what ENOSPC becomes in RocksDB's POSIX file system) and
// writes nothing; GetFreeSpace reports what is left of the budget, which is
// what RocksDB's recovery from a full disk polls. SetFreeBytes() changes the
// budget at any time ("an operator freed space"). FailSyncs(true) makes every
// file Sync/Fsync fail with an IOError until FailSyncs(false).
//
// Thread-safe. Test-only.
#ifndef LIFELONG_TESTS_CRASH_DISK_FULL_FS_H_
#define LIFELONG_TESTS_CRASH_DISK_FULL_FS_H_

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

namespace lifelong::testing {

class DiskFullFileSystem : public rocksdb::FileSystemWrapper {
 public:
  static constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

  explicit DiskFullFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base);
  static const char* kClassName() { return "lifelong.DiskFullFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // Bytes that may still be appended (kUnlimited: no limit).
  void SetFreeBytes(uint64_t free);
  void FailSyncs(bool fail) { fail_syncs_ = fail; }
  // Appends refused for lack of space, and syncs failed, so far.
  int64_t refused_appends() const { return refused_appends_.load(); }
  int64_t failed_syncs() const { return failed_syncs_.load(); }

  // Takes `bytes` from the budget; false (nothing taken) when they do not fit.
  bool Reserve(uint64_t bytes);
  // The IOError a sync gets while FailSyncs(true); OK otherwise.
  rocksdb::IOStatus SyncFault();

  // --- FileSystem ---
  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& opts,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetFreeSpace(const std::string& path, const rocksdb::IOOptions& options, uint64_t* diskfree,
                                 rocksdb::IODebugContext* dbg) override;

 private:
  std::atomic<uint64_t> free_{kUnlimited};
  std::atomic<bool> fail_syncs_{false};
  std::atomic<int64_t> refused_appends_{0};
  std::atomic<int64_t> failed_syncs_{0};
};

// An Env over a DiskFullFileSystem on the default file system. `fs` receives
// the file system; the Env must outlive every database opened with it.
std::unique_ptr<rocksdb::Env> NewDiskFullEnv(std::shared_ptr<DiskFullFileSystem>* fs);

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_CRASH_DISK_FULL_FS_H_
