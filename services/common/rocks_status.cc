#include "services/common/rocks_status.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace lifelong {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsIncomplete() || s.IsAborted() || s.IsShutdownInProgress() ||
      s.IsIOError()) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

}  // namespace lifelong
