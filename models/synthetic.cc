#include "models/synthetic.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"

namespace lifelong::models {

std::vector<Interaction> GenerateSyntheticInteractions(const SyntheticOptions& o) {
  std::mt19937_64 rng(o.seed);
  const int tracks = std::max(1, std::min(o.tracks, o.items));
  const int per_track = std::max(1, o.items / tracks);
  // Zipf-like popularity over tracks and over random courses.
  std::vector<double> track_w(tracks), item_w(o.items);
  for (int t = 0; t < tracks; ++t) track_w[t] = 1.0 / std::pow(t + 1.0, 0.8);
  std::vector<int> perm(o.items);
  for (int i = 0; i < o.items; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  for (int i = 0; i < o.items; ++i) item_w[perm[i]] = 1.0 / std::pow(i + 1.0, 0.9);
  std::discrete_distribution<int> pick_track(track_w.begin(), track_w.end());
  std::discrete_distribution<int> pick_item(item_w.begin(), item_w.end());
  std::geometric_distribution<int> extra(1.0 / std::max(1.0, o.mean_length - 1.0));
  std::uniform_real_distribution<double> u01(0, 1);
  std::vector<Interaction> out;
  out.reserve(static_cast<size_t>(o.learners * o.mean_length));
  for (int l = 0; l < o.learners; ++l) {
    const std::string learner = absl::StrCat("u", l);
    const int track = pick_track(rng);
    const int length = 2 + extra(rng);
    int pos = std::uniform_int_distribution<int>(0, std::max(0, per_track / 2))(rng);
    for (int step = 0; step < length; ++step) {
      int item;
      if (u01(rng) < o.noise || pos >= per_track) {
        item = pick_item(rng);
      } else {
        item = std::min(o.items - 1, track * per_track + pos);
        pos += u01(rng) < 0.8 ? 1 : 2;
      }
      out.push_back({learner, absl::StrCat("c", item), step, 1.0f});
    }
  }
  return out;
}

}  // namespace lifelong::models
