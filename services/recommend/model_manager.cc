#include "services/recommend/model_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "models/model_retirement.h"
#include "services/common/log.h"

namespace lifelong::recommend {

ModelManager::ModelManager(Options options)
    : options_([&] {
        Options o = std::move(options);
        if (!o.loader) {
          o.loader = [build = o.build_options](const std::string& dir) { return models::LoadModelBundle(dir, build); };
        }
        if (!o.lister) o.lister = [](const std::string& root) { return models::ListCompleteVersions(root); };
        if (!o.retired) o.retired = [](const std::string& root) { return models::RetiredVersions(root); };
        return o;
      }()) {}

ModelManager::~ModelManager() { Stop(); }

void ModelManager::Start() {
  if (watcher_.joinable()) return;
  watcher_ = std::thread([this] {
    std::string last_logged;
    do {
      absl::Status s;
      {
        absl::MutexLock lock(&load_mu_);
        s = PollLocked();  // load failures are logged there and kept in Status()
      }
      // Other failures (no directory, no complete version) once per change.
      const std::string message = s.ok() ? "" : std::string(s.message());
      if (!s.ok() && message != last_logged && s.code() != absl::StatusCode::kDataLoss) {
        LogWarn("model_poll_failed", {{"error", message}});
      }
      last_logged = message;
    } while (!stop_.WaitForNotificationWithTimeout(options_.poll_interval));
  });
}

void ModelManager::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (watcher_.joinable()) watcher_.join();
}

absl::Status ModelManager::PollOnce() {
  absl::MutexLock lock(&load_mu_);
  return PollLocked();
}

std::set<int64_t> ModelManager::Retired() {
  absl::StatusOr<std::set<int64_t>> retired = options_.retired(options_.model_dir);
  if (!retired.ok()) {
    if (retired.status().code() != absl::StatusCode::kNotFound) {
      LogWarn("model_retirement_check_failed", {{"error", std::string(retired.status().message())}});
    }
    return {};
  }
  return std::move(*retired);
}

absl::Status ModelManager::PollLocked() {
  absl::StatusOr<std::vector<int64_t>> versions = options_.lister(options_.model_dir);
  if (!versions.ok()) return versions.status();
  std::set<int64_t> retired = Retired();
  bool pinned;
  int64_t pinned_version;
  std::map<int64_t, std::string> rejected;
  {
    absl::MutexLock lock(&mu_);
    available_ = *versions;
    retired_ = retired;
    if (pinned_ && retired.count(pinned_version_)) {
      // Trained before an erasure that a newer version was trained after.
      LogWarn("model_pin_dropped", {{"version", pinned_version_}, {"reason", "retired after an erasure"}});
      pinned_ = false;
      pinned_version_ = 0;
    }
    pinned = pinned_;
    pinned_version = pinned_version_;
    rejected = rejected_;
  }
  ModelPtr current = Current();
  const int64_t current_version = current ? current->version() : 0;
  if (pinned) return absl::OkStatus();  // a pinned version stays until Unpin
  if (versions->empty()) {
    return absl::NotFoundError(absl::StrCat("model_dir ", options_.model_dir, ": no complete model version"));
  }
  // Newest first; stop at the version serving now. A failed load is
  // reported even when an older version ends up serving.
  absl::Status failure = absl::OkStatus();
  bool serving_best_loadable = false;
  for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
    if (retired.count(*it)) continue;
    if (*it == current_version) {
      serving_best_loadable = true;
      break;
    }
    if (rejected.count(*it)) continue;  // reported when it failed
    absl::Status s = LoadAndSwap(*it);
    if (s.ok()) {
      serving_best_loadable = true;
      break;
    }
    if (failure.ok()) failure = s;
  }
  (void)pinned_version;
  if (!failure.ok()) return failure;
  if (!serving_best_loadable && current != nullptr && retired.count(current_version)) {
    std::string message = absl::StrCat("serving retired version ", current_version,
                                       ": no version trained after the latest erasure loads");
    {
      absl::MutexLock lock(&mu_);
      last_error_ = message;
      last_error_version_ = current_version;
    }
    return absl::FailedPreconditionError(message);
  }
  if (!serving_best_loadable) {
    return absl::NotFoundError(absl::StrCat("model_dir ", options_.model_dir, ": no loadable model version"));
  }
  return absl::OkStatus();
}

absl::Status ModelManager::LoadAndSwap(int64_t version) {
  const std::string dir = models::VersionPath(options_.model_dir, version);
  const absl::Time start = absl::Now();
  absl::StatusOr<ModelPtr> loaded = options_.loader(dir);
  if (loaded.ok() && *loaded == nullptr) loaded = absl::InternalError("loader returned null");
  if (loaded.ok() && (*loaded)->version() != version) {
    loaded = absl::DataLossError(absl::StrCat("directory ", version, " holds version ", (*loaded)->version()));
  }
  if (!loaded.ok()) {
    // A corrupt version (DATA_LOSS, INVALID_ARGUMENT) is final; an incomplete
    // one may complete later, and a failure of this process (memory running
    // out while an index is built: RESOURCE_EXHAUSTED, INTERNAL) may pass:
    // both are tried again at the next poll.
    const bool permanent = loaded.status().code() == absl::StatusCode::kDataLoss ||
                           loaded.status().code() == absl::StatusCode::kInvalidArgument;
    std::string message = std::string(loaded.status().message());
    {
      absl::MutexLock lock(&mu_);
      if (permanent) rejected_[version] = message;
      last_error_ = message;
      last_error_version_ = version;
    }
    LogError("model_load_failed", {{"version", version},
                                   {"code", absl::StatusCodeToString(loaded.status().code())},
                                   {"error", message},
                                   {"kept_version", Current() ? Current()->version() : 0}});
    return loaded.status();
  }
  ModelPtr previous = Current();
  std::atomic_store(&current_, *loaded);
  {
    absl::MutexLock lock(&mu_);
    loaded_at_ = absl::Now();
  }
  LogInfo("model_loaded",
          {{"version", version},
           {"items", (*loaded)->num_items()},
           {"index", (*loaded)->index_info().kind},
           {"nprobe", (*loaded)->index_info().nprobe},
           {"recall_at_10", (*loaded)->index_info().calibrated_recall_at_10},
           {"dim", (*loaded)->dim()},
           // The GRU blended in (models/sequence_blend.h), and its weight.
           {"gru", (*loaded)->sequence_model() != nullptr},
           {"gru_blend_w", (*loaded)->sequence_model() != nullptr ? (*loaded)->sequence_blend_w() : 0.0},
           {"load_ms", absl::ToDoubleMilliseconds(absl::Now() - start)},
           {"previous_version", previous ? previous->version() : 0}});
  if (options_.on_swap) options_.on_swap(*loaded);
  return absl::OkStatus();
}

absl::Status ModelManager::Pin(int64_t version) {
  absl::MutexLock lock(&load_mu_);
  absl::StatusOr<std::vector<int64_t>> versions = options_.lister(options_.model_dir);
  if (!versions.ok()) return versions.status();
  {
    absl::MutexLock l(&mu_);
    available_ = *versions;
  }
  if (std::find(versions->begin(), versions->end(), version) == versions->end()) {
    return absl::NotFoundError(
        absl::StrCat("version: no complete model version ", version, " in ", options_.model_dir));
  }
  std::set<int64_t> retired = Retired();
  {
    absl::MutexLock l(&mu_);
    retired_ = retired;
  }
  if (retired.count(version)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version: model version ", version,
        " is retired (trained before an erasure; a version trained after it exists) and may not be served"));
  }
  ModelPtr current = Current();
  if (current == nullptr || current->version() != version) {
    absl::Status s = LoadAndSwap(version);
    if (!s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("version ", version, " failed to load: ", s.message()));
    }
  }
  absl::MutexLock l(&mu_);
  pinned_ = true;
  pinned_version_ = version;
  rejected_.erase(version);
  LogInfo("model_pinned", {{"version", version}});
  return absl::OkStatus();
}

absl::Status ModelManager::Unpin() {
  absl::MutexLock lock(&load_mu_);
  {
    absl::MutexLock l(&mu_);
    pinned_ = false;
    pinned_version_ = 0;
  }
  LogInfo("model_unpinned");
  absl::Status s = PollLocked();
  // Serving an older version because newer ones are corrupt is not an error
  // of Unpin itself.
  if (!s.ok() && Current() != nullptr) return absl::OkStatus();
  return s;
}

ModelManagerStatus ModelManager::Status() const {
  ModelManagerStatus st;
  ModelPtr current = Current();
  absl::MutexLock lock(&mu_);
  st.model_dir = options_.model_dir;
  if (current) {
    st.version = current->version();
    st.loaded_at = loaded_at_;
    st.item_count = current->num_items();
    st.dimension = current->dim();
    const models::IndexInfo& info = current->index_info();
    st.index_kind = info.kind;
    st.ivf_nlist = info.nlist;
    st.ivf_nprobe = info.nprobe;
    st.ivf_recall_at_10 = info.calibrated_recall_at_10;
  }
  st.pinned = pinned_;
  st.available_versions = available_;
  st.retired_versions.assign(retired_.begin(), retired_.end());
  st.last_error = last_error_;
  st.last_error_version = last_error_version_;
  return st;
}

}  // namespace lifelong::recommend
