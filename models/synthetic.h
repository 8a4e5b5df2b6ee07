// Seeded synthetic interactions with sequential structure, for tests and the
// training benchmark: courses form ordered "tracks" (a series such as
// 书法入门 -> 书法进阶 -> ...); a learner follows one track from a random
// starting point, mostly taking the next course of it, sometimes a random
// popular course. Course ids are "c<index>", learners "u<index>", order the
// position in the learner's sequence.
#ifndef LIFELONG_MODELS_SYNTHETIC_H_
#define LIFELONG_MODELS_SYNTHETIC_H_

#include <cstdint>
#include <vector>

#include "models/interaction.h"

namespace lifelong::models {

struct SyntheticOptions {
  int learners = 1000;
  int items = 100;
  int tracks = 10;         // items are split evenly into this many tracks
  double mean_length = 8;  // mean courses per learner (at least 2)
  double noise = 0.2;      // probability that a step is a random course
  uint64_t seed = 1;
};

// Deterministic for given options. Thread-safe (pure).
std::vector<Interaction> GenerateSyntheticInteractions(const SyntheticOptions& options);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_SYNTHETIC_H_
