#include "models/text_embedding.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace lifelong::models {
namespace {

// Decodes UTF-8 into code points; an invalid byte becomes its own code point
// (0xDC00 + byte) so that nothing is lost or crashes.
std::vector<uint32_t> DecodeUtf8(absl::string_view s) {
  std::vector<uint32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(0xDC00 + c);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

// Whether a code point separates n-grams (ASCII space/punctuation, CJK and
// full-width punctuation, general punctuation block).
bool IsSeparator(uint32_t cp) {
  if (cp < 0x80) return !((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'));
  if (cp >= 0x2000 && cp <= 0x206F) return true;  // general punctuation
  if (cp >= 0x3000 && cp <= 0x303F) return true;  // CJK symbols and punctuation
  if (cp >= 0xFF00 && cp <= 0xFF0F) return true;  // full-width punctuation
  if (cp >= 0xFF1A && cp <= 0xFF20) return true;
  if (cp >= 0xFF3B && cp <= 0xFF40) return true;
  if (cp >= 0xFF5B && cp <= 0xFF65) return true;
  return false;
}

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

std::vector<std::pair<uint32_t, int>> HashedNgrams(absl::string_view text) {
  std::vector<uint32_t> cps = DecodeUtf8(text);
  absl::flat_hash_map<uint32_t, int> counts;
  // Split into runs of non-separator code points; n-grams stay inside a run.
  size_t start = 0;
  while (start < cps.size()) {
    while (start < cps.size() && IsSeparator(cps[start])) ++start;
    size_t end = start;
    while (end < cps.size() && !IsSeparator(cps[end])) ++end;
    for (size_t i = start; i < end; ++i) {
      uint64_t h = 0x51ED27ULL;
      for (size_t n = 1; n <= 3 && i + n <= end; ++n) {
        uint32_t cp = cps[i + n - 1];
        if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
        h = Mix(h ^ (static_cast<uint64_t>(cp) + (n << 32)));
        counts[static_cast<uint32_t>(h % kTextHashBuckets)] += 1;
      }
    }
    start = end;
  }
  std::vector<std::pair<uint32_t, int>> out(counts.begin(), counts.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<float> ComputeIdf(const std::vector<std::string>& documents) {
  std::vector<int> df(kTextHashBuckets, 0);
  for (const std::string& doc : documents) {
    for (const auto& [bucket, count] : HashedNgrams(doc)) df[bucket] += 1;
  }
  std::vector<float> idf(kTextHashBuckets);
  const double n = static_cast<double>(documents.size());
  for (int b = 0; b < kTextHashBuckets; ++b) {
    idf[b] = static_cast<float>(std::log((1.0 + n) / (1.0 + df[b])) + 1.0);
  }
  return idf;
}

std::vector<float> EmbedTextWithIdf(absl::string_view text, const std::vector<float>& idf, int dim) {
  std::vector<float> v(dim, 0.0f);
  for (const auto& [bucket, count] : HashedNgrams(text)) {
    const float w = (1.0f + std::log(static_cast<float>(count))) * (bucket < idf.size() ? idf[bucket] : 1.0f);
    // +-1 projection row of this bucket, 64 signs per hash.
    for (int base = 0; base < dim; base += 64) {
      uint64_t bits = Mix((static_cast<uint64_t>(bucket) << 20) ^ static_cast<uint64_t>(base));
      for (int k = 0; k < 64 && base + k < dim; ++k) {
        v[base + k] += ((bits >> k) & 1) ? w : -w;
      }
    }
  }
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : v) x *= inv;
  }
  return v;
}

}  // namespace lifelong::models
