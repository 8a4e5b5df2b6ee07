#include "tests/crash/power_loss_fs.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace lifelong::testing {
namespace {

// "a//b/" -> "a/b": RocksDB joins paths with '/', sometimes doubling it.
std::string Normalize(const std::string& path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string ParentOf(const std::string& normalized) {
  size_t slash = normalized.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return normalized.substr(0, slash);
}

rocksdb::IOStatus Frozen() { return rocksdb::IOStatus::IOError("simulated power loss: the disk is gone"); }

class TrackedFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedFile(std::unique_ptr<rocksdb::FSWritableFile> target, PowerLossFileSystem* fs, std::string name, uint64_t size)
      : FSWritableFileOwnerWrapper(std::move(target)), fs_(fs), name_(std::move(name)), size_(size) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Append(data, o, dbg);
    if (!s.ok()) return s;
    size_ += data.size();
    return fs_->OnAppend(name_, size_);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo&, rocksdb::IODebugContext* dbg) override {
    return Append(data, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    rocksdb::IOStatus s = FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, dbg);
    if (!s.ok()) return s;
    size_ = std::max<uint64_t>(size_, offset + data.size());
    return fs_->OnAppend(name_, size_);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     const rocksdb::DataVerificationInfo&, rocksdb::IODebugContext* dbg) override {
    return PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Truncate(size, o, dbg);
    if (!s.ok()) return s;
    size_ = size;
    return fs_->OnTruncate(name_, size);
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Flush(o, dbg);
  }
  // A sync makes durable what was written before it began: RocksDB's
  // SyncWAL runs concurrently with appends to the same log, and what they
  // add meanwhile is not covered.
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    const uint64_t covered = fs_->SizeOf(name_);
    rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Sync(o, dbg);
    if (!s.ok()) return s;
    return fs_->OnSync(name_, covered);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    const uint64_t covered = fs_->SizeOf(name_);
    rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Fsync(o, dbg);
    if (!s.ok()) return s;
    return fs_->OnSync(name_, covered);
  }
  // sync_file_range starts write-back; it promises nothing about a power cut.
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::RangeSync(offset, nbytes, o, dbg);
  }
  rocksdb::IOStatus Allocate(uint64_t offset, uint64_t len, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Allocate(offset, len, o, dbg);
  }

 private:
  PowerLossFileSystem* fs_;
  std::string name_;
  uint64_t size_;
};

class TrackedDirectory : public rocksdb::FSDirectory {
 public:
  TrackedDirectory(std::unique_ptr<rocksdb::FSDirectory> target, PowerLossFileSystem* fs, std::string name)
      : target_(std::move(target)), fs_(fs), name_(std::move(name)) {}
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    rocksdb::IOStatus s = target_->Fsync(o, dbg);
    if (!s.ok()) return s;
    return fs_->OnDirSync(name_);
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& d) override {
    if (auto s = fs_->CheckAlive(); !s.ok()) return s;
    rocksdb::IOStatus s = target_->FsyncWithDirOptions(o, dbg, d);
    if (!s.ok()) return s;
    return fs_->OnDirSync(name_);
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return target_->Close(o, dbg);
  }
  size_t GetUniqueId(char* id, size_t max_size) const override { return target_->GetUniqueId(id, max_size); }

 private:
  std::unique_ptr<rocksdb::FSDirectory> target_;
  PowerLossFileSystem* fs_;
  std::string name_;
};

}  // namespace

PowerLossFileSystem::PowerLossFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base)
    : rocksdb::FileSystemWrapper(base) {}

void PowerLossFileSystem::Crash() {
  absl::MutexLock lock(&mu_);
  crashed_ = true;
}

bool PowerLossFileSystem::crashed() const {
  absl::MutexLock lock(&mu_);
  return crashed_;
}

rocksdb::IOStatus PowerLossFileSystem::CheckAlive() const {
  absl::MutexLock lock(&mu_);
  return crashed_ ? Frozen() : rocksdb::IOStatus::OK();
}

rocksdb::IOStatus PowerLossFileSystem::TrackNew(const std::string& fname, bool keep_existing_size) {
  absl::MutexLock lock(&mu_);
  if (crashed_) return Frozen();
  std::string name = Normalize(fname);
  auto it = files_.find(name);
  if (keep_existing_size && it != files_.end()) return rocksdb::IOStatus::OK();
  FileState st;
  st.entry_synced = false;
  files_[name] = st;
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus PowerLossFileSystem::NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                       rocksdb::IODebugContext* dbg) {
  if (auto s = TrackNew(fname, false); !s.ok()) return s;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->NewWritableFile(fname, opts, &file, dbg);
  if (!s.ok()) return s;
  result->reset(new TrackedFile(std::move(file), this, Normalize(fname), 0));
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                                          std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                          rocksdb::IODebugContext* dbg) {
  if (auto s = CheckAlive(); !s.ok()) return s;
  uint64_t size = 0;
  bool existed = target()->GetFileSize(fname, rocksdb::IOOptions(), &size, dbg).ok();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReopenWritableFile(fname, opts, &file, dbg);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    std::string name = Normalize(fname);
    if (files_.count(name) == 0) {
      FileState st;
      st.size = st.synced = existed ? size : 0;  // what was there before is durable
      st.entry_synced = existed;
      files_[name] = st;
    }
  }
  result->reset(new TrackedFile(std::move(file), this, Normalize(fname), existed ? size : 0));
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                                         const rocksdb::FileOptions& opts,
                                                         std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                         rocksdb::IODebugContext* dbg) {
  // Recycled logs are off in the record store; behave as rename + new file.
  if (auto s = RenameFile(old_fname, fname, rocksdb::IOOptions(), dbg); !s.ok()) return s;
  return NewWritableFile(fname, opts, result, dbg);
}

rocksdb::IOStatus PowerLossFileSystem::NewRandomRWFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                                       std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                                       rocksdb::IODebugContext* dbg) {
  if (auto s = CheckAlive(); !s.ok()) return s;
  return target()->NewRandomRWFile(fname, opts, result, dbg);
}

rocksdb::IOStatus PowerLossFileSystem::NewDirectory(const std::string& name, const rocksdb::IOOptions& io_opts,
                                                    std::unique_ptr<rocksdb::FSDirectory>* result,
                                                    rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  rocksdb::IOStatus s = target()->NewDirectory(name, io_opts, &dir, dbg);
  if (!s.ok()) return s;
  result->reset(new TrackedDirectory(std::move(dir), this, Normalize(name)));
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                                                  rocksdb::IODebugContext* dbg) {
  if (auto s = CheckAlive(); !s.ok()) return s;
  rocksdb::IOStatus s = target()->DeleteFile(fname, options, dbg);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    files_.erase(Normalize(fname));
  }
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::RenameFile(const std::string& src, const std::string& dst,
                                                  const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) {
  if (auto s = CheckAlive(); !s.ok()) return s;
  rocksdb::IOStatus s = target()->RenameFile(src, dst, options, dbg);
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = files_.find(Normalize(src));
  if (it != files_.end()) {
    FileState st = it->second;
    st.entry_synced = true;  // see the class comment: renames count as durable
    files_.erase(it);
    files_[Normalize(dst)] = st;
  } else {
    files_.erase(Normalize(dst));
  }
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::LinkFile(const std::string& src, const std::string& dst,
                                                const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) {
  if (auto s = CheckAlive(); !s.ok()) return s;
  return target()->LinkFile(src, dst, options, dbg);
}

rocksdb::IOStatus PowerLossFileSystem::CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* dbg) {
  if (auto s = CheckAlive(); !s.ok()) return s;
  return target()->CreateDir(dirname, options, dbg);
}

rocksdb::IOStatus PowerLossFileSystem::CreateDirIfMissing(const std::string& dirname, const rocksdb::IOOptions& options,
                                                          rocksdb::IODebugContext* dbg) {
  if (auto s = CheckAlive(); !s.ok()) return s;
  return target()->CreateDirIfMissing(dirname, options, dbg);
}

rocksdb::IOStatus PowerLossFileSystem::DeleteDir(const std::string& dirname, const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* dbg) {
  if (auto s = CheckAlive(); !s.ok()) return s;
  return target()->DeleteDir(dirname, options, dbg);
}

rocksdb::IOStatus PowerLossFileSystem::Truncate(const std::string& fname, size_t size,
                                                const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) {
  if (auto s = CheckAlive(); !s.ok()) return s;
  rocksdb::IOStatus s = target()->Truncate(fname, size, options, dbg);
  if (s.ok()) s = OnTruncate(Normalize(fname), size);
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::OnAppend(const std::string& fname, uint64_t end_offset) {
  absl::MutexLock lock(&mu_);
  FileState& st = files_[fname];
  st.size = std::max(st.size, end_offset);
  return rocksdb::IOStatus::OK();
}

uint64_t PowerLossFileSystem::SizeOf(const std::string& fname) {
  absl::MutexLock lock(&mu_);
  return files_[fname].size;
}

rocksdb::IOStatus PowerLossFileSystem::OnSync(const std::string& fname, uint64_t covered) {
  absl::MutexLock lock(&mu_);
  FileState& st = files_[fname];
  st.synced = std::max(st.synced, std::min(covered, st.size));
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus PowerLossFileSystem::OnTruncate(const std::string& fname, uint64_t size) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(fname);
  if (it == files_.end()) return rocksdb::IOStatus::OK();
  it->second.size = size;
  it->second.synced = std::min(it->second.synced, size);
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus PowerLossFileSystem::OnDirSync(const std::string& dirname) {
  absl::MutexLock lock(&mu_);
  for (auto& [name, st] : files_) {
    if (ParentOf(name) == dirname) st.entry_synced = true;
  }
  return rocksdb::IOStatus::OK();
}

absl::StatusOr<PowerLossFileSystem::Dropped> PowerLossFileSystem::DropUnsyncedData() {
  std::map<std::string, FileState> files;
  {
    absl::MutexLock lock(&mu_);
    if (!crashed_) return absl::FailedPreconditionError("DropUnsyncedData: Crash() was not called");
    files.swap(files_);
  }
  Dropped d;
  for (const auto& [name, st] : files) {
    uint64_t size = 0;
    if (!target()->GetFileSize(name, rocksdb::IOOptions(), &size, nullptr).ok()) continue;  // gone already
    if (!st.entry_synced) {
      if (::unlink(name.c_str()) != 0)
        return absl::InternalError(absl::StrCat("remove ", name, ": ", std::strerror(errno)));
      d.bytes += size;
      ++d.files_removed;
    } else if (size > st.synced) {
      if (::truncate(name.c_str(), static_cast<off_t>(st.synced)) != 0) {
        return absl::InternalError(absl::StrCat("truncate ", name, ": ", std::strerror(errno)));
      }
      d.bytes += size - st.synced;
      ++d.files_truncated;
    }
  }
  return d;
}

std::unique_ptr<rocksdb::Env> NewPowerLossEnv(std::shared_ptr<PowerLossFileSystem>* fs) {
  *fs = std::make_shared<PowerLossFileSystem>(rocksdb::FileSystem::Default());
  return rocksdb::NewCompositeEnv(*fs);
}

}  // namespace lifelong::testing
