#include "tests/crash/disk_full_fs.h"

#include <utility>

namespace lifelong::testing {
namespace {

class BudgetedFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  BudgetedFile(std::unique_ptr<rocksdb::FSWritableFile> target, DiskFullFileSystem* fs, std::string name)
      : FSWritableFileOwnerWrapper(std::move(target)), fs_(fs), name_(std::move(name)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    if (!fs_->Reserve(data.size())) return NoSpace();
    return FSWritableFileOwnerWrapper::Append(data, o, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo&, rocksdb::IODebugContext* dbg) override {
    return Append(data, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    if (!fs_->Reserve(data.size())) return NoSpace();
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     const rocksdb::DataVerificationInfo&, rocksdb::IODebugContext* dbg) override {
    return PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->SyncFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Sync(o, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->SyncFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Fsync(o, dbg);
  }

 private:
  // What RocksDB's POSIX file system returns for ENOSPC.
  rocksdb::IOStatus NoSpace() const {
    return rocksdb::IOStatus::NoSpace("While appending to file: " + name_, "No space left on device");
  }

  DiskFullFileSystem* fs_;
  std::string name_;
};

}  // namespace

DiskFullFileSystem::DiskFullFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base)
    : rocksdb::FileSystemWrapper(base) {}

void DiskFullFileSystem::SetFreeBytes(uint64_t free) { free_ = free; }

bool DiskFullFileSystem::Reserve(uint64_t bytes) {
  uint64_t free = free_.load();
  while (true) {
    if (free == kUnlimited) return true;
    if (bytes > free) {
      ++refused_appends_;
      return false;
    }
    if (free_.compare_exchange_weak(free, free - bytes)) return true;
  }
}

rocksdb::IOStatus DiskFullFileSystem::SyncFault() {
  if (!fail_syncs_.load()) return rocksdb::IOStatus::OK();
  ++failed_syncs_;
  return rocksdb::IOStatus::IOError("simulated failed fsync", "Input/output error");
}

rocksdb::IOStatus DiskFullFileSystem::NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                      rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->NewWritableFile(fname, opts, &file, dbg);
  if (s.ok()) result->reset(new BudgetedFile(std::move(file), this, fname));
  return s;
}

rocksdb::IOStatus DiskFullFileSystem::ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                                         std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                         rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReopenWritableFile(fname, opts, &file, dbg);
  if (s.ok()) result->reset(new BudgetedFile(std::move(file), this, fname));
  return s;
}

rocksdb::IOStatus DiskFullFileSystem::ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                                        const rocksdb::FileOptions& opts,
                                                        std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                        rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, opts, &file, dbg);
  if (s.ok()) result->reset(new BudgetedFile(std::move(file), this, fname));
  return s;
}

rocksdb::IOStatus DiskFullFileSystem::GetFreeSpace(const std::string& path, const rocksdb::IOOptions& options,
                                                   uint64_t* diskfree, rocksdb::IODebugContext* dbg) {
  const uint64_t free = free_.load();
  if (free == kUnlimited) return target()->GetFreeSpace(path, options, diskfree, dbg);
  *diskfree = free;
  return rocksdb::IOStatus::OK();
}

std::unique_ptr<rocksdb::Env> NewDiskFullEnv(std::shared_ptr<DiskFullFileSystem>* fs) {
  *fs = std::make_shared<DiskFullFileSystem>(rocksdb::FileSystem::Default());
  return rocksdb::NewCompositeEnv(*fs);
}

}  // namespace lifelong::testing
