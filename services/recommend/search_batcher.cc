#include "services/recommend/search_batcher.h"

#include <faiss/utils/distances.h>
#include <omp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

// OpenBLAS (linked through //third_party/sys:faiss).
extern "C" void openblas_set_num_threads(int num_threads);

namespace lifelong::recommend {

SearchBatcher::SearchBatcher(Options options) : options_(options) {
  if (options_.blas_threshold > 0) faiss::distance_compute_blas_threshold = options_.blas_threshold;
  // OpenBLAS's own worker threads spin in sched_yield between calls; with
  // searches already spread over `workers` threads they only burn the cores.
  if (options_.single_threaded_blas) openblas_set_num_threads(1);
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { Run(); });
  }
}

SearchBatcher::~SearchBatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

absl::StatusOr<std::vector<models::Candidate>> SearchBatcher::Search(std::shared_ptr<const models::ModelBundle> model,
                                                                     std::vector<float> query, int k) {
  if (model == nullptr) return absl::FailedPreconditionError("no model");
  if (k <= 0) return absl::InvalidArgumentError("k: must be positive");
  if (static_cast<int>(query.size()) != model->dim()) {
    return absl::InvalidArgumentError(
        absl::StrCat("query: has ", query.size(), " floats, model dim is ", model->dim()));
  }
  if (model->num_items() < options_.min_items_to_batch) {
    direct_.fetch_add(1, std::memory_order_relaxed);
    thread_local bool omp_configured = false;
    if (!omp_configured) {
      omp_set_num_threads(std::max(1, options_.search_threads));
      omp_configured = true;
    }
    absl::StatusOr<std::vector<std::vector<models::Candidate>>> r = model->SearchBatch(query, 1, k);
    if (!r.ok()) return r.status();
    return std::move((*r)[0]);
  }
  Pending p;
  p.model = std::move(model);
  p.query = std::move(query);
  p.k = k;
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&p);
  if (queue_.size() == 1 || static_cast<int>(queue_.size()) >= options_.max_batch) {
    work_cv_.notify_one();
  }
  p.cv.wait(lock, [&p] { return p.done; });
  return std::move(p.result);
}

SearchBatcher::Stats SearchBatcher::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.direct = direct_.load(std::memory_order_relaxed);
  return s;
}

void SearchBatcher::Run() {
  // OpenMP settings are per thread: this one runs every search.
  omp_set_num_threads(std::max(1, options_.search_threads));
  const auto max_wait = absl::ToChronoMicroseconds(options_.max_wait);
  while (true) {
    std::vector<Pending*> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      if (static_cast<int>(queue_.size()) < options_.max_batch && max_wait.count() > 0) {
        work_cv_.wait_for(lock, max_wait,
                          [this] { return stopping_ || static_cast<int>(queue_.size()) >= options_.max_batch; });
      }
      const size_t n = std::min<size_t>(queue_.size(), options_.max_batch);
      batch.assign(queue_.begin(), queue_.begin() + n);
      queue_.erase(queue_.begin(), queue_.begin() + n);
      stats_.queries += n;
    }
    // Group by model version (almost always one group).
    std::stable_sort(batch.begin(), batch.end(),
                     [](const Pending* a, const Pending* b) { return a->model.get() < b->model.get(); });
    size_t i = 0;
    int groups = 0;
    while (i < batch.size()) {
      size_t j = i;
      while (j < batch.size() && batch[j]->model == batch[i]->model) ++j;
      std::vector<Pending*> group(batch.begin() + i, batch.begin() + j);
      SearchGroup(group);
      ++groups;
      i = j;
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.batches += groups;
    for (Pending* p : batch) {
      p->done = true;
      p->cv.notify_one();
    }
  }
}

void SearchBatcher::SearchGroup(std::vector<Pending*>& group) {
  const models::ModelBundle& model = *group[0]->model;
  const int dim = model.dim();
  int k = 0;
  std::vector<float> queries(group.size() * dim);
  for (size_t q = 0; q < group.size(); ++q) {
    k = std::max(k, group[q]->k);
    std::copy(group[q]->query.begin(), group[q]->query.end(), queries.begin() + q * dim);
  }
  absl::StatusOr<std::vector<std::vector<models::Candidate>>> results =
      model.SearchBatch(queries, static_cast<int>(group.size()), k);
  for (size_t q = 0; q < group.size(); ++q) {
    if (!results.ok()) {
      group[q]->result = results.status();
      continue;
    }
    std::vector<models::Candidate>& r = (*results)[q];
    if (static_cast<int>(r.size()) > group[q]->k) r.resize(group[q]->k);
    group[q]->result = std::move(r);
  }
}

}  // namespace lifelong::recommend
