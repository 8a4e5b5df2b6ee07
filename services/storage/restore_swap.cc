#include "services/storage/restore_swap.h"

#include <fcntl.h>
#include <rocksdb/env.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/status_macros.h"
#include "services/storage/backup_engine.h"

namespace lifelong::storage {
namespace {

namespace fs = std::filesystem;

bool IsEmptyOrMissingDir(const std::string& path, std::error_code* ec) {
  if (!fs::exists(path, *ec)) return true;
  return fs::is_directory(path, *ec) && fs::is_empty(path, *ec);
}

// fsyncs directory `dir`, so that renames in it survive a crash.
absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("open ", dir, ": ", std::strerror(errno)));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("fsync ", dir, ": ", std::strerror(err)));
  return absl::OkStatus();
}

// Renames `from` to `to` and fsyncs the parent of `to` (both are siblings).
absl::Status RenameDurably(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", from, " to ", to, ": ", ec.message()));
  return SyncDir(fs::path(to).parent_path().string());
}

// `dir` made absolute and normalized, a trailing slash dropped, then
// `suffix` appended: a sibling of the directory `dir` names.
std::string Sibling(const std::string& dir, const std::string& suffix) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p.string() + suffix;
}

// One target of a restore: the restored copy `tmp` goes to `target`; an
// existing `target` is first moved to `aside`. Paths are absolute and
// normalized, siblings of each other.
struct Swap {
  std::string tmp;
  std::string target;
  std::string aside;
  bool moved_aside = false;
  bool in_place = false;
};

// Swaps the restored copies into place (the header's contract): every
// existing target aside, every copy into place, then the old ones deleted.
// On a failure before the last copy is in place, moves everything back and
// returns the error (the copies are back at their `tmp`, for the caller to
// delete). Replaced directories that cannot be deleted go to `not_removed`.
absl::Status SwapIntoPlace(std::vector<Swap>& swaps, const RestoreSwapFault& swap_fault,
                           std::vector<std::string>* not_removed) {
  auto fault = [&](RestoreSwapStep step, const std::string& target) {
    return swap_fault ? swap_fault(step, target) : absl::OkStatus();
  };
  auto roll_back = [&](absl::Status cause) {
    std::string stuck;
    for (auto it = swaps.rbegin(); it != swaps.rend(); ++it) {
      if (it->in_place && !RenameDurably(it->target, it->tmp).ok()) {
        // The previous store stays aside: never rename over a store.
        absl::StrAppend(&stuck, " ", it->target, " holds the restored copy",
                        it->moved_aside ? absl::StrCat(", the previous one is in ", it->aside) : "", ";");
        continue;
      }
      it->in_place = false;
      if (it->moved_aside) {
        if (RenameDurably(it->aside, it->target).ok()) {
          it->moved_aside = false;
        } else {
          absl::StrAppend(&stuck, " the previous ", it->target, " is in ", it->aside, " (move it back by hand);");
        }
      }
    }
    if (stuck.empty()) return cause;
    return absl::Status(cause.code(), absl::StrCat(cause.message(), "; moving back failed:", stuck));
  };
  std::error_code ec;
  for (Swap& w : swaps) {
    if (!fs::exists(w.target, ec)) continue;
    absl::Status s = fault(RestoreSwapStep::kMoveAside, w.target);
    if (s.ok()) s = RenameDurably(w.target, w.aside);
    if (!s.ok()) {
      // The rename may have happened and only the fsync failed.
      w.moved_aside = !fs::exists(w.target, ec) && fs::exists(w.aside, ec);
      return roll_back(s);
    }
    w.moved_aside = true;
  }
  for (Swap& w : swaps) {
    absl::Status s = fault(RestoreSwapStep::kMoveIntoPlace, w.target);
    if (s.ok()) s = RenameDurably(w.tmp, w.target);
    if (!s.ok()) {
      w.in_place = !fs::exists(w.tmp, ec) && fs::exists(w.target, ec);
      return roll_back(s);
    }
    w.in_place = true;
  }
  for (Swap& w : swaps) {
    if (!w.moved_aside) continue;
    absl::Status s = fault(RestoreSwapStep::kRemoveReplaced, w.aside);
    if (s.ok()) {
      fs::remove_all(w.aside, ec);
      if (ec) s = absl::UnavailableError(ec.message());
    }
    if (!s.ok()) not_removed->push_back(w.aside);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckNotLocked(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "LOCK", ec)) return absl::OkStatus();
  rocksdb::Env* env = rocksdb::Env::Default();
  rocksdb::FileLock* lock = nullptr;
  rocksdb::Status s = env->LockFile((fs::path(dir) / "LOCK").string(), &lock);
  if (!s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, ": a running process holds the database lock; stop the server before restoring (", s.ToString(), ")"));
  }
  env->UnlockFile(lock);
  return absl::OkStatus();
}

absl::Status CheckRestoreTarget(const std::string& dir, const std::string& flag, bool force) {
  std::error_code ec;
  if (IsEmptyOrMissingDir(dir, &ec)) return absl::OkStatus();
  if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(flag, ": ", dir, " exists and is not a directory"));
  }
  LL_RETURN_IF_ERROR(CheckNotLocked(dir));
  if (!force) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": ", dir, " is not empty; restore into an empty directory, or pass --force to replace it"));
  }
  return absl::OkStatus();
}

std::vector<std::string> RestoreLeftovers(const std::string& target) {
  std::vector<std::string> out;
  const fs::path p(target);
  const std::string name = p.filename().string();
  std::error_code ec;
  for (fs::directory_iterator it(p.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string f = it->path().filename().string();
    for (const char* suffix : {".restoring-", ".replaced-"}) {
      if (absl::StartsWith(f, absl::StrCat(name, suffix))) out.push_back(it->path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status CheckNoInterruptedRestore(const std::string& data_dir) {
  std::error_code ec;
  fs::path dir(data_dir);
  if (!dir.has_filename()) dir = dir.parent_path();
  if (fs::exists(dir, ec)) return absl::OkStatus();
  std::vector<std::string> replaced;
  for (const std::string& l : RestoreLeftovers(dir.string())) {
    if (absl::StrContains(l, ".replaced-")) replaced.push_back(l);
  }
  if (replaced.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "data_dir: ", dir.string(), " is missing and ", replaced.back(),
      " holds the store an interrupted restore moved aside; move it (or the restored ", dir.string(),
      ".restoring-* copy) back to ", dir.string(), " before starting, or an empty store would be created there"));
}

absl::StatusOr<RestoreOutcome> RestoreIntoPlace(const std::vector<RestoreTarget>& targets, bool force,
                                                const RestoredCheck& check, const RestoreSwapFault& swap_fault) {
  for (const RestoreTarget& t : targets) LL_RETURN_IF_ERROR(CheckRestoreTarget(t.dir, t.flag, force));
  const int64_t started = WallMicros();
  const std::string suffix = absl::StrCat(".restoring-", started);
  const std::string aside_suffix = absl::StrCat(".replaced-", started);
  RestoreOutcome outcome;
  std::vector<Swap> swaps;
  std::vector<std::string> restored;
  for (const RestoreTarget& t : targets) {
    swaps.push_back({Sibling(t.dir, suffix), Sibling(t.dir, ""), Sibling(t.dir, aside_suffix)});
    restored.push_back(swaps.back().tmp);
    std::error_code ec;
    fs::create_directories(fs::path(swaps.back().tmp).parent_path(), ec);
    for (std::string& l : RestoreLeftovers(swaps.back().target)) outcome.leftovers.push_back(std::move(l));
  }
  auto cleanup = [&] {
    std::error_code ignored;
    for (const std::string& tmp : restored) fs::remove_all(tmp, ignored);
  };
  absl::Status s;
  for (size_t i = 0; s.ok() && i < targets.size(); ++i) {
    s = RestoreEngineBackup(targets[i].engine_dir, targets[i].backup_id, restored[i]);
  }
  if (s.ok() && check) s = check(restored);
  // Targets were checked above; check again (a server may have started).
  for (size_t i = 0; s.ok() && i < targets.size(); ++i) s = CheckRestoreTarget(targets[i].dir, targets[i].flag, force);
  if (s.ok()) s = SwapIntoPlace(swaps, swap_fault, &outcome.not_removed);
  if (!s.ok()) {
    cleanup();
    return s;
  }
  return outcome;
}

}  // namespace lifelong::storage
