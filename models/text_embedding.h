// Content vectors of course text without any downloaded model: character
// n-grams (1..3 code points, after lower-casing ASCII and dropping spaces and
// punctuation) are hashed into kTextHashBuckets buckets, weighted by
// (1 + log tf) * idf, projected to a dense vector by a fixed pseudo-random
// +-1 projection (seeded by the bucket id, so nothing is stored for it), and
// L2-normalised. Chinese needs no word segmentation: overlapping character
// bigrams and trigrams carry most of the signal ("书法入门" and "书法进阶"
// share 书, 法, 书法).
#ifndef LIFELONG_MODELS_TEXT_EMBEDDING_H_
#define LIFELONG_MODELS_TEXT_EMBEDDING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lifelong::models {

inline constexpr int kTextHashBuckets = 1 << 18;
inline constexpr int kDefaultContentDim = 512;

// Hashed n-gram buckets of `text` with their counts, sorted by bucket.
// Invalid UTF-8 bytes are treated as single code points. Thread-safe (pure).
std::vector<std::pair<uint32_t, int>> HashedNgrams(absl::string_view text);

// IDF per bucket from a collection of documents:
// idf[b] = log((1 + num_docs) / (1 + df[b])) + 1. The returned vector has
// kTextHashBuckets entries.
std::vector<float> ComputeIdf(const std::vector<std::string>& documents);

// The content vector of `text` (`dim` floats, L2 norm 1, or all zeros when
// the text has no n-gram). `idf` must have kTextHashBuckets entries.
std::vector<float> EmbedTextWithIdf(absl::string_view text, const std::vector<float>& idf, int dim);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_TEXT_EMBEDDING_H_
