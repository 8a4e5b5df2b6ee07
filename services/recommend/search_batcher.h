// SearchBatcher: gathers concurrent candidate searches into one
// ModelBundle::SearchBatch call. Debian's FAISS answers one query at a time
// without SIMD (~5 ms on 100k x 64) but a batch through BLAS at a fraction of
// that per query, so concurrent requests wait a short moment for company.
//
// Worker threads run the searches: an idle worker that finds a query waits at
// most `max_wait` for others (or until `max_batch` are queued); while workers
// are busy, arriving queries queue up and form the next batch. Queries for
// different model versions are searched separately (each against the version
// its request holds); k of a batch is the largest k in it, and each caller
// gets its own k.
//
// Thread-safety: Search may be called from any number of threads. The
// destructor waits for queued searches to finish.
#ifndef LIFELONG_SERVICES_RECOMMEND_SEARCH_BATCHER_H_
#define LIFELONG_SERVICES_RECOMMEND_SEARCH_BATCHER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "models/model_bundle.h"

namespace lifelong::recommend {

class SearchBatcher {
 public:
  struct Options {
    int max_batch = 256;
    absl::Duration max_wait = absl::Microseconds(500);
    // Worker threads, each taking the next batch when free. Two keep both
    // cores of these machines searching without FAISS's OpenMP team.
    int workers = 2;
    // OpenMP threads FAISS may use inside one search call. 1 keeps FAISS's
    // OpenMP team from spinning on cores that gRPC needs (2-core machines).
    int search_threads = 1;
    // FAISS computes flat-index distances through BLAS (AVX2 kernels chosen
    // at run time) from this many queries per call, and with its own
    // non-SIMD loop below it. Debian's FAISS is built for baseline x86-64,
    // so BLAS wins from the first query; FAISS's default is 20. This sets a
    // process-wide FAISS global (faiss::distance_compute_blas_threshold)
    // when the batcher is created; <= 0 leaves it alone.
    int blas_threshold = 1;
    // Process-wide: openblas_set_num_threads(1) when the batcher is created.
    bool single_threaded_blas = true;
    // Models with fewer items are searched directly on the caller's thread,
    // without batching. 0 (batch always) measured best here once FAISS and
    // OpenBLAS were kept single-threaded (docs/recommend.md).
    int min_items_to_batch = 0;
  };

  struct Stats {
    int64_t queries = 0;  // searched through the batch worker
    int64_t batches = 0;  // FAISS calls the worker made for them
    int64_t direct = 0;   // searched on the calling thread
  };

  explicit SearchBatcher(Options options);
  ~SearchBatcher();
  SearchBatcher(const SearchBatcher&) = delete;
  SearchBatcher& operator=(const SearchBatcher&) = delete;

  // Top-`k` items of `model` for `query` (model->dim() floats), as
  // ModelBundle::SearchBatch would answer for it alone. Blocks until done.
  // Models below min_items_to_batch are searched on the calling thread.
  // INVALID_ARGUMENT on a wrong query size or k <= 0.
  absl::StatusOr<std::vector<models::Candidate>> Search(std::shared_ptr<const models::ModelBundle> model,
                                                        std::vector<float> query, int k);

  Stats stats() const;

 private:
  struct Pending {
    std::shared_ptr<const models::ModelBundle> model;
    std::vector<float> query;
    int k = 0;
    bool done = false;  // guarded by mu_
    std::condition_variable cv;
    absl::StatusOr<std::vector<models::Candidate>> result;
  };

  void Run();
  void SearchGroup(std::vector<Pending*>& group);

  const Options options_;
  // std::mutex rather than absl::Mutex: with dozens of waiting handler
  // threads on two cores, absl's condition re-evaluation and spinning
  // (sched_yield) cost more than the searches.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // queue_ grew or stopping_
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> direct_{0};
  std::vector<std::thread> workers_;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_SEARCH_BATCHER_H_
