// PowerLossFileSystem: a RocksDB FileSystem wrapper that simulates a power
// cut, in the manner of RocksDB's own FaultInjectionTestFS (whose header
// Debian's librocksdb does not ship).
//
// It tracks, for every file written through it, how many bytes were made
// durable by Sync/Fsync (those written before the sync began: bytes appended
// while it runs are not covered), and for every file created through it whether its
// directory entry was made durable by an fsync of its directory. Crash()
// freezes the disk: from then on every mutating call (append, sync, create,
// rename, delete, directory fsync) fails with an IOError and changes nothing.
// Once the database using it is closed, DropUnsyncedData() makes the files on
// disk look like they would after the power cut: each tracked file is
// truncated to its synced length, and files whose directory entry was never
// synced are deleted. RangeSync (sync_file_range) is not a durability
// guarantee and counts for nothing; a rename is treated as atomic and durable
// (ext4/xfs keep the renamed inode's entry once the rename has returned and
// the old name is replaced).
//
// Thread-safe. Test-only.
#ifndef LIFELONG_TESTS_CRASH_POWER_LOSS_FS_H_
#define LIFELONG_TESTS_CRASH_POWER_LOSS_FS_H_

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace lifelong::testing {

class PowerLossFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit PowerLossFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base);
  static const char* kClassName() { return "lifelong.PowerLossFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // From now on nothing reaches the disk (see the class comment).
  void Crash();
  bool crashed() const;
  // Applies the power cut to the files on disk. Call after the database is
  // closed. Returns how many bytes were cut and files removed, for the log.
  struct Dropped {
    uint64_t bytes = 0;
    int files_truncated = 0;
    int files_removed = 0;
  };
  absl::StatusOr<Dropped> DropUnsyncedData();

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
  rocksdb::IOStatus NewRandomRWFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io_opts,
                                 std::unique_ptr<rocksdb::FSDirectory>* result, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& target, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& dirname, const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& fname, size_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;

  // --- called by the wrapped files and directories ---
  struct FileState {
    uint64_t size = 0;         // bytes written so far
    uint64_t synced = 0;       // bytes known durable
    bool entry_synced = true;  // false: created, directory not fsynced since
  };
  rocksdb::IOStatus OnAppend(const std::string& fname, uint64_t end_offset);
  // The bytes written so far; a sync that begins now makes them durable.
  uint64_t SizeOf(const std::string& fname);
  // A sync that began when `covered` bytes were written returned.
  rocksdb::IOStatus OnSync(const std::string& fname, uint64_t covered);
  rocksdb::IOStatus OnTruncate(const std::string& fname, uint64_t size);
  rocksdb::IOStatus OnDirSync(const std::string& dirname);
  rocksdb::IOStatus CheckAlive() const;

 private:
  rocksdb::IOStatus TrackNew(const std::string& fname, bool keep_existing_size);

  mutable absl::Mutex mu_;
  bool crashed_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
};

// An Env over a PowerLossFileSystem on the default file system. `fs` receives
// the file system (for Crash / DropUnsyncedData); the Env must outlive every
// database opened with it.
std::unique_ptr<rocksdb::Env> NewPowerLossEnv(std::shared_ptr<PowerLossFileSystem>* fs);

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_CRASH_POWER_LOSS_FS_H_
