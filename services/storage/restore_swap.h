// Offline restore of RocksDB backups into place, shared by every store's
// restore (records: RestoreBackup in services/records/backups.h; catalog:
// RestoreCatalogBackup in services/catalog/catalog_backups.h).
//
// The contract: a target directory DIR that a running process holds (its
// RocksDB `LOCK`) is never touched; a non-empty DIR is replaced only when
// forced; a restore is built in a sibling DIR.restoring-<time>, checked by
// the caller, and swapped in only when everything succeeded, never deleting
// DIR before its replacement is in place:
//   1. every existing DIR is renamed to DIR.replaced-<time>, the parent fsynced;
//   2. every DIR.restoring-<time> is renamed to DIR, the parent fsynced;
//   3. every DIR.replaced-<time> is deleted.
// A failure before the last rename of step 2 moves everything back. A crash
// can leave, beside DIR:
//   - DIR.restoring-<time> only: the restore had not reached the swap; DIR
//     is untouched. Delete DIR.restoring-<time>.
//   - DIR missing, DIR.replaced-<time> and DIR.restoring-<time> present: the
//     crash came between the renames. Both are complete: move one of them to
//     DIR (`mv DIR.replaced-<time> DIR` keeps the old data) and delete the
//     other. Start no server on DIR before (CheckNoInterruptedRestore).
//   - DIR and DIR.replaced-<time>: the swap finished; DIR.replaced-<time> is
//     the previous store, to delete.
#ifndef LIFELONG_SERVICES_STORAGE_RESTORE_SWAP_H_
#define LIFELONG_SERVICES_STORAGE_RESTORE_SWAP_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace lifelong::storage {

// The steps of moving a restored copy into place, in order, each done for
// every target before the next begins.
enum class RestoreSwapStep {
  kMoveAside,       // rename DIR to DIR.replaced-<time>, fsync the parent
  kMoveIntoPlace,   // rename DIR.restoring-<time> to DIR, fsync the parent
  kRemoveReplaced,  // delete DIR.replaced-<time>
};

// For tests: called before each step of the swap with the directory it is
// about to act on (the target; for kRemoveReplaced the replaced one); a
// non-OK status makes that step fail as an I/O error would.
using RestoreSwapFault = std::function<absl::Status(RestoreSwapStep step, const std::string& target)>;

// FAILED_PRECONDITION naming `dir` when a process holds its RocksDB lock (a
// running server). The probe lock is released at once.
absl::Status CheckNotLocked(const std::string& dir);

// OK when `dir` is missing or empty, or when it is an unlocked directory and
// `force` is set. Otherwise FAILED_PRECONDITION naming `flag`: not a
// directory, held by a running process (even with `force`), or not empty
// ("pass --force to replace it").
absl::Status CheckRestoreTarget(const std::string& dir, const std::string& flag, bool force);

// Siblings of `target` that an interrupted restore left: `<name>.restoring-*`
// and `<name>.replaced-*`, sorted.
std::vector<std::string> RestoreLeftovers(const std::string& target);

// OK unless `data_dir` is missing while a `<data_dir>.replaced-*` sibling
// exists: a restore was interrupted between its renames, and a server
// started there would create an empty store beside both complete copies.
// Then FAILED_PRECONDITION naming the directories and what to do.
absl::Status CheckNoInterruptedRestore(const std::string& data_dir);

// The backup a restore asked for among `all` (oldest first, each with an
// `id`): backup `id`, or the newest when `id` is 0. NOT_FOUND naming
// backup_dir when there is none, backup_id when `id` is not among them.
template <typename Info>
absl::StatusOr<Info> PickBackup(const std::vector<Info>& all, uint32_t id, const std::string& backup_dir) {
  if (all.empty()) return absl::NotFoundError(absl::StrCat("backup_dir: ", backup_dir, " holds no backup"));
  if (id == 0) return all.back();
  auto it = std::find_if(all.begin(), all.end(), [id](const Info& b) { return b.id == id; });
  if (it == all.end()) return absl::NotFoundError(absl::StrCat("backup_id: no backup ", id, " in ", backup_dir));
  return *it;
}

// One directory a restore writes: backup `backup_id` of the engine at
// `engine_dir` goes to `dir`; errors about `dir` name `flag`.
struct RestoreTarget {
  std::string engine_dir;
  uint32_t backup_id = 0;
  std::string dir;
  std::string flag;
};

struct RestoreOutcome {
  // Replaced directories (DIR.replaced-<time>) that could not be deleted
  // after the swap: the previous contents, to delete by hand.
  std::vector<std::string> not_removed;
  // DIR.restoring-* and DIR.replaced-* siblings left by an earlier,
  // interrupted restore (never touched).
  std::vector<std::string> leftovers;
};

// Called with the restored copies (DIR.restoring-<time>, in target order)
// before the swap: opens and checks them, may write to them. A non-OK
// status aborts the restore (the copies are deleted, the targets untouched).
using RestoredCheck = std::function<absl::Status(const std::vector<std::string>& restored)>;

// Restores every target as the contract above says: checks each target
// (CheckRestoreTarget), restores into the siblings, runs `check`, checks
// the targets again (a server may have started), swaps. Returns the
// engine's error (DATA_LOSS for a checksum mismatch, ...) or `check`'s;
// UNAVAILABLE when a step of the swap fails (the targets are then as they
// were; should moving back fail too, the message says where each directory
// is). Targets named with a trailing slash restore beside, not into, them.
absl::StatusOr<RestoreOutcome> RestoreIntoPlace(const std::vector<RestoreTarget>& targets, bool force,
                                                const RestoredCheck& check, const RestoreSwapFault& swap_fault);

}  // namespace lifelong::storage

#endif  // LIFELONG_SERVICES_STORAGE_RESTORE_SWAP_H_
