#include "models/sequence_model.h"

#include <cblas.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "models/interaction.h"

namespace lifelong::models {

namespace {

constexpr double kClipNorm = 5.0;
constexpr double kBeta1 = 0.9;
constexpr double kBeta2 = 0.999;
constexpr double kAdamEps = 1e-8;

// [0, 1) from the raw generator output (24 bits, exact in float).
float Uniform01(std::mt19937_64& rng) { return static_cast<float>(rng() >> 40) * (1.0f / 16777216.0f); }

// The element-wise work of a minibatch (the softmax's exponentials, the
// gates, the backward pass) four floats at a time, through GCC's vector
// extensions (SSE2 on x86-64, NEON on arm64, plain code elsewhere): libm's
// scalar expf and the scalar loops around it were 45% of an epoch beside
// sgemm's 52% (perf, 2026-12-07). Training and Score use the same functions,
// so served scores are the trained model's.
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));

inline F4 Splat(float x) { return F4{x, x, x, x}; }

// The first n (1..4) floats at p; the other lanes 0.
inline F4 Load(const float* p, int n = 4) {
  F4 v = Splat(0.0f);
  if (n == 4) {
    std::memcpy(&v, p, sizeof v);
  } else {
    std::memcpy(&v, p, static_cast<size_t>(n) * sizeof(float));
  }
  return v;
}

inline void Store(float* p, F4 v, int n = 4) {
  if (n == 4) {
    std::memcpy(p, &v, sizeof v);
  } else {
    std::memcpy(p, &v, static_cast<size_t>(n) * sizeof(float));
  }
}

// e^x in every lane: Cephes' expf (x = n ln2 + r with ln2 in two parts,
// |r| <= ln2/2, a degree-5 polynomial for e^r, 2^n put in the exponent bits).
// Relative error under 2e-7. x is clamped to [-87.3, 88] (so the result is
// never a denormal and never overflows); a NaN stays NaN (a diverged model
// keeps a NaN loss).
inline F4 Exp4(F4 x) {
  const F4 hi = Splat(88.0f), lo = Splat(-87.3f);
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  const F4 magic = Splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  F4 n = x * Splat(1.44269504088896341f) + magic;
  n = n - magic;
  const F4 r = x - n * Splat(0.693359375f) - n * Splat(-2.12194440e-4f);
  F4 p = Splat(1.9875691500e-4f);
  p = p * r + Splat(1.3981999507e-3f);
  p = p * r + Splat(8.3334519073e-3f);
  p = p * r + Splat(4.1665795894e-2f);
  p = p * r + Splat(1.6666665459e-1f);
  p = p * r + Splat(5.0000001201e-1f);
  p = p * (r * r) + r + Splat(1.0f);
  const I4 bits = (__builtin_convertvector(n, I4) + 127) << 23;
  F4 scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline F4 Sigmoid4(F4 x) { return Splat(1.0f) / (Splat(1.0f) + Exp4(-x)); }

// tanh through e^2x (glibc's tanhf goes through expm1f, which profiled at
// ~40x the cost of expf). Saturates to +-1.
inline F4 Tanh4(F4 x) { return Splat(1.0f) - Splat(2.0f) / (Exp4(x + x) + Splat(1.0f)); }

// One GRU step for one row of H units, 4 at a time: from the input part gx
// (3H, bias bx included), the recurrent part gh = Uh h (3H, no bias), the
// recurrent bias bh and the previous state hp, the gates r, z, n, the
// recurrent candidate part hn = (Uh h)_n + bh_n, and h'.
void GruGates(const float* gx, const float* gh, const float* bh, const float* hp, int H, float* r_out, float* z_out,
              float* n_out, float* hn_out, float* h_out) {
  for (int k = 0; k < H; k += 4) {
    const int w = std::min(4, H - k);
    const F4 r = Sigmoid4(Load(gx + k, w) + Load(gh + k, w) + Load(bh + k, w));
    const F4 z = Sigmoid4(Load(gx + H + k, w) + Load(gh + H + k, w) + Load(bh + H + k, w));
    const F4 hn = Load(gh + 2 * H + k, w) + Load(bh + 2 * H + k, w);
    const F4 nn = Tanh4(Load(gx + 2 * H + k, w) + r * hn);
    const F4 h = (Splat(1.0f) - z) * nn + z * Load(hp + k, w);
    if (r_out != nullptr) {
      Store(r_out + k, r, w);
      Store(z_out + k, z, w);
      Store(n_out + k, nn, w);
      Store(hn_out + k, hn, w);
    }
    Store(h_out + k, h, w);
  }
}

// row[j] += bias[j] (j < n); returns the largest.
float AddBiasAndMax(float* row, const float* bias, int n) {
  F4 m = Splat(-1e30f);
  for (int j = 0; j < n; j += 4) {
    const int w = std::min(4, n - j);
    const F4 x = Load(row + j, w) + Load(bias + j, w);
    Store(row + j, x, w);
    const F4 lanes = w == 4 ? x : (Splat(static_cast<float>(w)) > F4{0.0f, 1.0f, 2.0f, 3.0f} ? x : Splat(-1e30f));
    m = lanes > m ? lanes : m;
  }
  return std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
}

// row[j] = e^(row[j] - mx) (j < n); returns their sum.
double ExpAndSum(float* row, int n, float mx) {
  F4 sum = Splat(0.0f);
  for (int j = 0; j < n; j += 4) {
    const int w = std::min(4, n - j);
    F4 e = Exp4(Load(row + j, w) - Splat(mx));
    Store(row + j, e, w);
    if (w < 4) e = Splat(static_cast<float>(w)) > F4{0.0f, 1.0f, 2.0f, 3.0f} ? e : Splat(0.0f);
    sum += e;
  }
  return (static_cast<double>(sum[0]) + sum[1]) + (static_cast<double>(sum[2]) + sum[3]);
}

// The sum of v[i]^2 over i < n (four float lanes, added up in double).
double SumOfSquares(const float* v, size_t n) {
  double total = 0;
  for (size_t i = 0; i < n;) {
    F4 acc = Splat(0.0f);
    const size_t end = std::min(n, i + 1024);  // bounds a float lane's run
    for (; i < end; i += 4) {
      const F4 x = Load(v + i, static_cast<int>(std::min<size_t>(4, end - i)));
      acc += x * x;
    }
    total += (static_cast<double>(acc[0]) + acc[1]) + (static_cast<double>(acc[2]) + acc[3]);
  }
  return total;
}

inline F4 Sqrt4(F4 x) {
#if defined(__SSE__)
  return (F4)_mm_sqrt_ps((__m128)x);
#else
  return F4{std::sqrt(x[0]), std::sqrt(x[1]), std::sqrt(x[2]), std::sqrt(x[3])};
#endif
}

// Adam (beta 0.9 / 0.999) on n parameters from their gradients g (times
// clip): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// p -= step m / (sqrt(v) + eps), where step and eps carry the bias
// corrections.
struct AdamStep {
  float clip = 1, step = 0, eps = 0;
  void Apply(const float* g, size_t n, float* p, float* m, float* v) const {
    const F4 b1 = Splat(static_cast<float>(kBeta1)), b2 = Splat(static_cast<float>(kBeta2));
    const F4 a1 = Splat(1.0f - static_cast<float>(kBeta1)), a2 = Splat(1.0f - static_cast<float>(kBeta2));
    for (size_t i = 0; i < n; i += 4) {
      const int w = static_cast<int>(std::min<size_t>(4, n - i));
      const F4 gc = Load(g + i, w) * Splat(clip);
      const F4 mi = b1 * Load(m + i, w) + a1 * gc;
      const F4 vi = b2 * Load(v + i, w) + a2 * gc * gc;
      Store(m + i, mi, w);
      Store(v + i, vi, w);
      Store(p + i, Load(p + i, w) - Splat(step) * mi / (Sqrt4(vi) + Splat(eps)), w);
    }
  }
};

// sums[j] += m[i][j] for the rows i < rows of the row-major rows x n matrix m
// (row by row, so each sum adds in the order of the rows).
void AddRows(const float* m, int rows, int n, float* sums) {
  for (int i = 0; i < rows; ++i) {
    const float* row = m + static_cast<size_t>(i) * n;
    for (int j = 0; j < n; j += 4) {
      const int w = std::min(4, n - j);
      Store(sums + j, Load(sums + j, w) + Load(row + j, w), w);
    }
  }
}

absl::Status OutOfRange(const char* field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("sequence model option ", field, ": ", why));
}

}  // namespace

absl::Status SequenceModelOptions::Validate() const {
  if (dim < 1 || dim > 1024) return OutOfRange("dim", absl::StrCat("must be in [1, 1024], got ", dim));
  if (hidden < 1 || hidden > 1024) return OutOfRange("hidden", absl::StrCat("must be in [1, 1024], got ", hidden));
  if (max_len < 2 || max_len > 1000) return OutOfRange("max_len", absl::StrCat("must be in [2, 1000], got ", max_len));
  if (epochs < 1 || epochs > 1000) return OutOfRange("epochs", absl::StrCat("must be in [1, 1000], got ", epochs));
  if (patience < 1 || patience > 100) {
    return OutOfRange("patience", absl::StrCat("must be in [1, 100], got ", patience));
  }
  if (batch < 1 || batch > 100000) return OutOfRange("batch", absl::StrCat("must be in [1, 100000], got ", batch));
  if (negatives < 0 || negatives > 100000) {
    return OutOfRange("negatives", absl::StrCat("must be in [0, 100000], got ", negatives));
  }
  if (final_model != "scratch" && final_model != "warm" && final_model != "validation") {
    return OutOfRange("final", absl::StrCat("must be scratch, warm or validation, got '", final_model, "'"));
  }
  if (max_predictions < 0 || max_predictions > 1000000000000) {
    return OutOfRange("max_predictions", absl::StrCat("must be in [0, 1e12], got ", max_predictions));
  }
  if (!(learning_rate > 0 && learning_rate <= 1)) {
    return OutOfRange("lr", absl::StrCat("must be in (0, 1], got ", learning_rate));
  }
  return absl::OkStatus();
}

std::string SequenceModelOptions::ToString() const {
  return absl::StrCat("dim=", dim, ",hidden=", hidden, ",max_len=", max_len, ",epochs=", epochs, ",patience=", patience,
                      ",batch=", batch, ",negatives=", negatives, ",lr=", learning_rate, ",seed=", seed,
                      ",final=", final_model,
                      max_predictions > 0 ? absl::StrCat(",max_predictions=", max_predictions) : "");
}

absl::StatusOr<SequenceModelOptions> SequenceModelOptions::Parse(absl::string_view spec) {
  SequenceModelOptions o;
  absl::flat_hash_set<std::string> seen;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    const std::string& key = kv.first;
    const std::string& value = kv.second;
    if (!seen.insert(key).second) return OutOfRange(key.c_str(), "given twice");
    auto as_int = [&](int* field) -> absl::Status {
      if (!absl::SimpleAtoi(value, field))
        return OutOfRange(key.c_str(), absl::StrCat("not an integer: '", value, "'"));
      return absl::OkStatus();
    };
    absl::Status s;
    if (key == "dim") {
      s = as_int(&o.dim);
    } else if (key == "hidden") {
      s = as_int(&o.hidden);
    } else if (key == "max_len") {
      s = as_int(&o.max_len);
    } else if (key == "epochs") {
      s = as_int(&o.epochs);
    } else if (key == "patience") {
      s = as_int(&o.patience);
    } else if (key == "batch") {
      s = as_int(&o.batch);
    } else if (key == "negatives") {
      s = as_int(&o.negatives);
    } else if (key == "final") {
      o.final_model = value;
    } else if (key == "lr") {
      if (!absl::SimpleAtod(value, &o.learning_rate)) {
        s = OutOfRange("lr", absl::StrCat("not a number: '", value, "'"));
      }
    } else if (key == "max_predictions") {
      if (!absl::SimpleAtoi(value, &o.max_predictions)) {
        s = OutOfRange("max_predictions", absl::StrCat("not an integer: '", value, "'"));
      }
    } else if (key == "seed") {
      if (!absl::SimpleAtoi(value, &o.seed)) s = OutOfRange("seed", absl::StrCat("not an integer: '", value, "'"));
    } else {
      s = absl::InvalidArgumentError(
          absl::StrCat("sequence model option '", key,
                       "': unknown (dim, hidden, max_len, epochs, patience, batch, negatives, lr, seed, final, "
                       "max_predictions)"));
    }
    if (!s.ok()) return s;
  }
  absl::Status s = o.Validate();
  if (!s.ok()) return s;
  return o;
}

absl::StatusOr<SequenceModel> SequenceModel::Create(const std::vector<Interaction>& interactions,
                                                    const SequenceModelOptions& options) {
  absl::Status s = options.Validate();
  if (!s.ok()) return s;
  SequenceModel m;
  m.options_ = options;
  for (const Interaction& x : interactions) {
    if (!(x.weight > 0)) continue;
    auto [it, inserted] = m.row_of_.emplace(x.course_id, static_cast<int>(m.course_ids_.size()));
    if (inserted) m.course_ids_.push_back(x.course_id);
  }
  if (m.num_items() > kSequenceModelMaxItems) {
    return absl::FailedPreconditionError(absl::StrCat("sequence model: ", m.num_items(), " courses > ",
                                                      kSequenceModelMaxItems,
                                                      " (the softmax and Adam state grow with it)"));
  }
  for (const auto& [learner, seq] : GroupSequences(interactions)) {
    if (seq.size() < 2) continue;
    std::vector<int> rows;
    const size_t first = seq.size() > static_cast<size_t>(options.max_len) ? seq.size() - options.max_len : 0;
    for (size_t i = first; i < seq.size(); ++i) rows.push_back(m.row_of_.at(seq[i].course_id));
    m.predictions_ += static_cast<int64_t>(rows.size()) - 1;
    m.sequences_.push_back(std::move(rows));
  }
  if (m.sequences_.empty()) {
    return absl::InvalidArgumentError("sequence model: no learner has two courses (nothing to predict)");
  }
  {
    std::vector<int64_t> count(m.course_ids_.size(), 0);
    for (const std::vector<int>& rows : m.sequences_) {
      for (size_t i = 1; i < rows.size(); ++i) ++count[rows[i]];
    }
    m.target_share_.resize(count.size());
    m.proposal_.resize(count.size());
    m.proposal_cdf_.resize(count.size());
    double proposal_sum = 0;
    for (size_t j = 0; j < count.size(); ++j) {
      m.target_share_[j] = static_cast<double>(count[j]) / static_cast<double>(m.predictions_);
      m.proposal_[j] = std::sqrt(static_cast<double>(count[j]) + 1.0);
      proposal_sum += m.proposal_[j];
    }
    double cumulative = 0;
    for (size_t j = 0; j < count.size(); ++j) {
      m.proposal_[j] /= proposal_sum;
      cumulative += m.proposal_[j];
      m.proposal_cdf_[j] = cumulative;
    }
  }
  const size_t n = m.course_ids_.size(), d = options.dim, h = options.hidden;
  const size_t total = m.SetOffsets();
  m.params_.assign(total, 0.0f);
  m.grads_.assign(total, 0.0f);
  m.adam_m_.assign(total, 0.0f);
  m.adam_v_.assign(total, 0.0f);
  std::mt19937_64 rng(options.seed);
  auto fill = [&](size_t off, size_t count, float scale) {
    for (size_t i = 0; i < count; ++i) m.params_[off + i] = (2.0f * Uniform01(rng) - 1.0f) * scale;
  };
  fill(m.off_ein_, n * d, 1.0f / std::sqrt(static_cast<float>(d)));
  fill(m.off_wx_, 3 * h * d, 1.0f / std::sqrt(static_cast<float>(d)));
  fill(m.off_uh_, 3 * h * h, 1.0f / std::sqrt(static_cast<float>(h)));
  fill(m.off_eout_, n * h, 1.0f / std::sqrt(static_cast<float>(h)));
  return m;
}

size_t SequenceModel::SetOffsets() {
  const size_t n = course_ids_.size(), d = options_.dim, h = options_.hidden;
  off_ein_ = 0;
  off_wx_ = off_ein_ + n * d;
  off_bx_ = off_wx_ + 3 * h * d;
  off_uh_ = off_bx_ + 3 * h;
  off_bh_ = off_uh_ + 3 * h * h;
  off_eout_ = off_bh_ + 3 * h;
  off_bout_ = off_eout_ + n * h;
  return off_bout_ + n;
}

namespace {

constexpr absl::string_view kEncodedMagic("LLGRU01\n", 8);

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Reads little-endian integers and byte runs from `data`; false past its end.
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  bool U32(uint32_t* v) {
    if (data_.size() - pos_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v |= static_cast<uint32_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += 4;
    return true;
  }
  bool U64(uint64_t* v) {
    if (data_.size() - pos_ < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= static_cast<uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return true;
  }
  bool Bytes(size_t n, absl::string_view* out) {
    if (data_.size() - pos_ < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

absl::Status Corrupt(const std::string& why) {
  return absl::DataLossError(absl::StrCat("sequence model bytes: ", why));
}

}  // namespace

std::string SequenceModel::Encode() const {
  std::string out(kEncodedMagic);
  PutU32(&out, kSequenceModelLayoutVersion);
  PutU32(&out, static_cast<uint32_t>(course_ids_.size()));
  PutU32(&out, static_cast<uint32_t>(options_.dim));
  PutU32(&out, static_cast<uint32_t>(options_.hidden));
  PutU32(&out, static_cast<uint32_t>(options_.max_len));
  for (const std::string& id : course_ids_) {
    PutU32(&out, static_cast<uint32_t>(id.size()));
    out += id;
  }
  PutU64(&out, params_.size());
  const size_t at = out.size();
  out.resize(at + params_.size() * sizeof(float));
  std::memcpy(&out[at], params_.data(), params_.size() * sizeof(float));  // little-endian platform
  return out;
}

absl::StatusOr<SequenceModel> SequenceModel::Decode(absl::string_view bytes) {
  Reader in(bytes);
  absl::string_view magic;
  if (!in.Bytes(kEncodedMagic.size(), &magic) || magic != kEncodedMagic) return Corrupt("not a sequence model (magic)");
  uint32_t version = 0, n = 0, d = 0, h = 0, max_len = 0;
  if (!in.U32(&version)) return Corrupt("truncated header");
  if (version != kSequenceModelLayoutVersion) {
    return Corrupt(absl::StrCat("layout version ", version, " (this build reads ", kSequenceModelLayoutVersion, ")"));
  }
  if (!in.U32(&n) || !in.U32(&d) || !in.U32(&h) || !in.U32(&max_len)) return Corrupt("truncated header");
  SequenceModel m;
  m.options_.dim = static_cast<int>(std::min<uint32_t>(d, 1u << 30));
  m.options_.hidden = static_cast<int>(std::min<uint32_t>(h, 1u << 30));
  m.options_.max_len = static_cast<int>(std::min<uint32_t>(max_len, 1u << 30));
  if (absl::Status s = m.options_.Validate(); !s.ok()) return Corrupt(std::string(s.message()));
  if (n < 1 || n > static_cast<uint32_t>(kSequenceModelMaxItems)) {
    return Corrupt(absl::StrCat("items ", n, " out of [1, ", kSequenceModelMaxItems, "]"));
  }
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t len = 0;
    absl::string_view id;
    if (!in.U32(&len) || !in.Bytes(len, &id)) return Corrupt(absl::StrCat("truncated course id ", i));
    if (id.empty()) return Corrupt(absl::StrCat("course id ", i, " is empty"));
    if (!m.row_of_.emplace(std::string(id), static_cast<int>(i)).second) {
      return Corrupt(absl::StrCat("course id '", id, "' repeated"));
    }
    m.course_ids_.emplace_back(id);
  }
  const size_t expected = m.SetOffsets();
  uint64_t count = 0;
  if (!in.U64(&count)) return Corrupt("truncated parameter count");
  if (count != expected) return Corrupt(absl::StrCat("parameter count ", count, ", the shapes give ", expected));
  absl::string_view raw;
  if (!in.Bytes(expected * sizeof(float), &raw)) return Corrupt("truncated parameters");
  if (in.remaining() != 0) return Corrupt(absl::StrCat(in.remaining(), " trailing bytes"));
  m.params_.resize(expected);
  std::memcpy(m.params_.data(), raw.data(), raw.size());
  for (size_t i = 0; i < expected; ++i) {
    if (!std::isfinite(m.params_[i])) return Corrupt(absl::StrCat("parameter ", i, " is not finite"));
  }
  // A decoded model never trains: its input gates per course are computed
  // once (what Step would compute per history course and request).
  const size_t h3 = 3 * static_cast<size_t>(m.options_.hidden);
  m.input_gates_.resize(static_cast<size_t>(n) * h3);
  for (uint32_t i = 0; i < n; ++i) m.InputGates(static_cast<int>(i), m.input_gates_.data() + i * h3);
  m.set_state_cache_bytes(kSequenceStateCacheBytes);
  return m;
}

absl::Status SequenceModel::WarmStart(const SequenceModel& from) {
  const size_t d = options_.dim, H = options_.hidden;
  if (from.options_.dim != options_.dim || from.options_.hidden != options_.hidden) {
    return absl::InvalidArgumentError(
        absl::StrCat("warm start: dim/hidden ", from.options_.dim, "/", from.options_.hidden, " against ", d, "/", H));
  }
  // Weights, and Adam's moments where `from` has them (a decoded model has
  // none: they start at zero).
  const bool moments = from.adam_m_.size() == from.params_.size();
  std::fill(adam_m_.begin(), adam_m_.end(), 0.0f);
  std::fill(adam_v_.begin(), adam_v_.end(), 0.0f);
  auto copy = [&](size_t from_at, size_t at, size_t count) {
    std::copy_n(from.params_.begin() + from_at, count, params_.begin() + at);
    if (!moments) return;
    std::copy_n(from.adam_m_.begin() + from_at, count, adam_m_.begin() + at);
    std::copy_n(from.adam_v_.begin() + from_at, count, adam_v_.begin() + at);
  };
  copy(from.off_wx_, off_wx_, off_eout_ - off_wx_);  // wx, bx, uh, bh
  for (size_t j = 0; j < course_ids_.size(); ++j) {
    const int r = from.Row(course_ids_[j]);
    if (r < 0) continue;
    copy(from.off_ein_ + r * d, off_ein_ + j * d, d);
    copy(from.off_eout_ + r * H, off_eout_ + j * H, H);
    copy(from.off_bout_ + r, off_bout_ + j, 1);
  }
  adam_steps_ = moments ? from.adam_steps_ : 0;
  input_gates_.clear();  // the weights changed
  state_cache_.reset();
  return absl::OkStatus();
}

int SequenceModel::Row(absl::string_view course_id) const {
  auto it = row_of_.find(course_id);
  return it == row_of_.end() ? -1 : it->second;
}

int64_t SequenceModel::bytes() const {
  return static_cast<int64_t>(sizeof(float) *
                              (params_.size() + grads_.size() + adam_m_.size() + adam_v_.size() + input_gates_.size()));
}

absl::StatusOr<double> SequenceModel::TrainEpoch(const std::function<void(int64_t, int64_t)>& progress) {
  if (sequences_.empty()) {
    return absl::FailedPreconditionError("sequence model: no training sequences (a decoded model only scores)");
  }
  // Fisher-Yates over the raw output of a generator seeded by (seed, epoch).
  std::vector<int> order(sequences_.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options_.seed * 1000003ULL + static_cast<uint64_t>(epochs_done_) + 1);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  double loss = 0;
  int64_t predictions = 0;
  const int64_t total = static_cast<int64_t>(order.size());
  for (int64_t start = 0; start < total; start += options_.batch) {
    const int64_t end = std::min<int64_t>(total, start + options_.batch);
    std::vector<int> batch(order.begin() + start, order.begin() + end);
    int64_t p = 0;
    loss += TrainBatch(batch, &p);
    predictions += p;
    if (progress) progress(end, total);
  }
  ++epochs_done_;
  if (!std::isfinite(loss)) return absl::InternalError("sequence model: the training loss diverged (lower lr)");
  return loss / std::max<int64_t>(1, predictions);
}

double SequenceModel::LossAndGradient(std::vector<float>* gradient, uint64_t sample_seed) {
  if (sequences_.empty()) {  // a decoded model: nothing to predict
    gradient->assign(params_.size(), 0.0f);
    return 0;
  }
  std::vector<int> all(sequences_.size());
  std::iota(all.begin(), all.end(), 0);
  int64_t predictions = 0;
  const double loss = ForwardBackward(all, &predictions, sample_seed);
  *gradient = grads_;
  return loss / std::max<int64_t>(1, predictions);
}

double SequenceModel::TrainBatch(const std::vector<int>& batch, int64_t* num_predictions) {
  const double loss = ForwardBackward(batch, num_predictions,
                                      options_.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(adam_steps_));
  // The gradient is zero outside the GRU's weights and the touched rows
  // (ForwardBackward's contract), so the norm and the step visit only those.
  const size_t d = options_.dim, H = options_.hidden;
  double norm2 = 0;
  auto add_norm = [&](size_t begin, size_t count) { norm2 += SumOfSquares(grads_.data() + begin, count); };
  add_norm(off_wx_, off_eout_ - off_wx_);
  for (int row : touched_in_) add_norm(off_ein_ + row * d, d);
  for (int row : touched_out_) {
    add_norm(off_eout_ + row * H, H);
    add_norm(off_bout_ + row, 1);
  }
  const float clip = norm2 > kClipNorm * kClipNorm ? static_cast<float>(kClipNorm / std::sqrt(norm2)) : 1.0f;
  ++adam_steps_;
  const double c1 = 1.0 - std::pow(kBeta1, static_cast<double>(adam_steps_));
  const double c2 = 1.0 - std::pow(kBeta2, static_cast<double>(adam_steps_));
  AdamStep adam_step;
  adam_step.clip = clip;
  adam_step.step = static_cast<float>(options_.learning_rate * std::sqrt(c2) / c1);
  adam_step.eps = static_cast<float>(kAdamEps * std::sqrt(c2));
  auto adam = [&](size_t begin, size_t count) {
    adam_step.Apply(grads_.data() + begin, count, params_.data() + begin, adam_m_.data() + begin,
                    adam_v_.data() + begin);
  };
  adam(off_wx_, off_eout_ - off_wx_);
  for (int row : touched_in_) adam(off_ein_ + row * d, d);
  for (int row : touched_out_) {
    adam(off_eout_ + row * H, H);
    adam(off_bout_ + row, 1);
  }
  return loss;
}

void SequenceModel::DrawCandidates(const std::vector<int>& targets, uint64_t sample_seed, std::vector<int>* candidates,
                                   std::vector<float>* log_q) const {
  candidates->clear();
  absl::flat_hash_set<int> seen;
  for (int t : targets) {
    if (seen.insert(t).second) candidates->push_back(t);
  }
  std::mt19937_64 rng(sample_seed);
  for (int s = 0; s < options_.negatives; ++s) {
    // Inverse CDF on 53 random bits.
    const double u = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
    int j = static_cast<int>(std::upper_bound(proposal_cdf_.begin(), proposal_cdf_.end(), u) - proposal_cdf_.begin());
    j = std::min(j, num_items() - 1);
    if (seen.insert(j).second) candidates->push_back(j);
  }
  const double r = static_cast<double>(targets.size()), negatives = static_cast<double>(options_.negatives);
  log_q->resize(candidates->size());
  for (size_t c = 0; c < candidates->size(); ++c) {
    const int j = (*candidates)[c];
    // log(1 - (1 - f)^R (1 - q)^S), computed through log1p for small shares.
    const double log_miss = r * std::log1p(-target_share_[j]) + negatives * std::log1p(-proposal_[j]);
    (*log_q)[c] = static_cast<float>(std::log(-std::expm1(log_miss)));
  }
}

double SequenceModel::ForwardBackward(const std::vector<int>& batch_in, int64_t* num_predictions,
                                      uint64_t sample_seed) {
  const int d = options_.dim, H = options_.hidden, H3 = 3 * options_.hidden;
  const int n = num_items();
  // Longest first: the sequences still running at step t are a prefix.
  std::vector<int> batch = batch_in;
  std::stable_sort(batch.begin(), batch.end(),
                   [this](int x, int y) { return sequences_[x].size() > sequences_[y].size(); });
  const int steps = static_cast<int>(sequences_[batch[0]].size()) - 1;
  std::vector<int> active(steps), off(steps + 1, 0);
  for (int t = 0; t < steps; ++t) {
    int a = 0;
    while (a < static_cast<int>(batch.size()) && static_cast<int>(sequences_[batch[a]].size()) - 1 > t) ++a;
    active[t] = a;
    off[t + 1] = off[t] + a;
  }
  const int R = off[steps];
  *num_predictions = R;
  const float* ein = params_.data() + off_ein_;
  const float* wx = params_.data() + off_wx_;
  const float* bx = params_.data() + off_bx_;
  const float* uh = params_.data() + off_uh_;
  const float* bh = params_.data() + off_bh_;
  const float* eout = params_.data() + off_eout_;
  const float* bout = params_.data() + off_bout_;

  std::vector<int> input(R), target(R);
  Workspace& w = workspace_;
  std::vector<float>& x = w.x;
  x.resize(static_cast<size_t>(R) * d);
  for (int t = 0; t < steps; ++t) {
    for (int b = 0; b < active[t]; ++b) {
      const std::vector<int>& s = sequences_[batch[b]];
      input[off[t] + b] = s[t];
      target[off[t] + b] = s[t + 1];
      std::copy(ein + static_cast<size_t>(s[t]) * d, ein + static_cast<size_t>(s[t] + 1) * d,
                x.begin() + static_cast<size_t>(off[t] + b) * d);
    }
  }
  // Input gates for every step at once: gx = x Wx^T + bx (R x 3H).
  std::vector<float>& gx = w.gx;
  gx.resize(static_cast<size_t>(R) * H3);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, H3, d, 1.0f, x.data(), d, wx, d, 0.0f, gx.data(), H3);
  for (int i = 0; i < R; ++i) {
    for (int k = 0; k < H3; ++k) gx[static_cast<size_t>(i) * H3 + k] += bx[k];
  }
  std::vector<float>&hprev = w.hprev, &hall = w.hall, &rg = w.rg, &zg = w.zg, &ng = w.ng, &ghn = w.ghn, &gh = w.gh;
  for (std::vector<float>* v : {&hprev, &hall, &rg, &zg, &ng, &ghn}) v->resize(static_cast<size_t>(R) * H);
  std::fill(hprev.begin(), hprev.begin() + static_cast<size_t>(active[0]) * H, 0.0f);  // h_0 = 0
  gh.resize(static_cast<size_t>(batch.size()) * H3);
  for (int t = 0; t < steps; ++t) {
    const int a = active[t];
    if (t > 0) {
      std::copy(hall.begin() + static_cast<size_t>(off[t - 1]) * H,
                hall.begin() + static_cast<size_t>(off[t - 1] + a) * H,
                hprev.begin() + static_cast<size_t>(off[t]) * H);
    }
    const float* hp = hprev.data() + static_cast<size_t>(off[t]) * H;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, a, H3, H, 1.0f, hp, H, uh, H, 0.0f, gh.data(), H3);
    for (int b = 0; b < a; ++b) {
      const size_t row = static_cast<size_t>(off[t] + b);
      const float* gxr = gx.data() + row * H3;
      const float* ghr = gh.data() + static_cast<size_t>(b) * H3;
      GruGates(gxr, ghr, bh, hp + static_cast<size_t>(b) * H, H, &rg[row * H], &zg[row * H], &ng[row * H],
               &ghn[row * H], &hall[row * H]);
    }
  }
  // The softmax's classes: the whole vocabulary, or the sampled candidates
  // (their output rows gathered into ec/bc, logits corrected by -log Q).
  const bool sampled = options_.negatives > 0;
  std::vector<int> candidates;
  std::vector<float> log_q;
  std::vector<float>&ec = w.ec, &bc = w.bc;
  int nc = n;
  const float* out_w = eout;
  if (sampled) {
    DrawCandidates(target, sample_seed, &candidates, &log_q);
    nc = static_cast<int>(candidates.size());
    ec.resize(static_cast<size_t>(nc) * H);
    bc.resize(nc);
    absl::flat_hash_map<int, int> column_of;
    for (int c = 0; c < nc; ++c) {
      const int j = candidates[c];
      std::copy(eout + static_cast<size_t>(j) * H, eout + static_cast<size_t>(j + 1) * H,
                ec.begin() + static_cast<size_t>(c) * H);
      bc[c] = bout[j] - log_q[c];
      column_of[j] = c;
    }
    for (int i = 0; i < R; ++i) target[i] = column_of.at(target[i]);
    out_w = ec.data();
  }
  const float* out_b = sampled ? bc.data() : bout;
  // Logits, softmax, cross-entropy; p becomes dLoss/dlogits (mean over R).
  std::vector<float>& p = w.p;
  p.resize(static_cast<size_t>(R) * nc);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, nc, H, 1.0f, hall.data(), H, out_w, H, 0.0f, p.data(), nc);
  double loss = 0;
  const float inv_r = 1.0f / static_cast<float>(R);
  for (int i = 0; i < R; ++i) {
    float* row = p.data() + static_cast<size_t>(i) * nc;
    const float mx = AddBiasAndMax(row, out_b, nc);
    const double sum = ExpAndSum(row, nc, mx);
    const float inv = static_cast<float>(1.0 / sum);
    // NaN stays NaN (std::max would turn it into 1e-30, and TrainEpoch
    // would not see a diverged model).
    const double q = static_cast<double>(row[target[i]]) / sum;
    loss -= std::isnan(q) ? q : std::log(std::max(1e-30, q));
    const F4 scale = Splat(inv * inv_r);
    for (int j = 0; j < nc; j += 4) {
      const int w = std::min(4, nc - j);
      Store(row + j, Load(row + j, w) * scale, w);
    }
    row[target[i]] -= inv_r;
  }
  // Zero the gradient where the last call left it nonzero (the GRU's
  // weights and its touched rows), then record this call's touched rows.
  std::fill(grads_.begin() + off_wx_, grads_.begin() + off_eout_, 0.0f);
  for (int row : touched_in_) std::fill_n(grads_.begin() + off_ein_ + static_cast<size_t>(row) * d, d, 0.0f);
  for (int row : touched_out_) {
    std::fill_n(grads_.begin() + off_eout_ + static_cast<size_t>(row) * H, H, 0.0f);
    grads_[off_bout_ + row] = 0.0f;
  }
  touched_in_ = input;
  std::sort(touched_in_.begin(), touched_in_.end());
  touched_in_.erase(std::unique(touched_in_.begin(), touched_in_.end()), touched_in_.end());
  if (sampled) {
    touched_out_ = candidates;
  } else {
    touched_out_.resize(n);
    std::iota(touched_out_.begin(), touched_out_.end(), 0);
  }
  float* g_ein = grads_.data() + off_ein_;
  float* g_wx = grads_.data() + off_wx_;
  float* g_bx = grads_.data() + off_bx_;
  float* g_uh = grads_.data() + off_uh_;
  float* g_bh = grads_.data() + off_bh_;
  float* g_eout = grads_.data() + off_eout_;
  float* g_bout = grads_.data() + off_bout_;
  if (sampled) {
    // Gradients of the candidates' rows, scattered back to their courses.
    std::vector<float>& gc = w.gc;
    gc.resize(static_cast<size_t>(nc) * H);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nc, H, R, 1.0f, p.data(), nc, hall.data(), H, 0.0f, gc.data(),
                H);
    for (int c = 0; c < nc; ++c) {
      std::copy(gc.begin() + static_cast<size_t>(c) * H, gc.begin() + static_cast<size_t>(c + 1) * H,
                g_eout + static_cast<size_t>(candidates[c]) * H);
    }
    std::vector<float> column_sums(nc, 0.0f);
    AddRows(p.data(), R, nc, column_sums.data());
    for (int c = 0; c < nc; ++c) g_bout[candidates[c]] = column_sums[c];
  } else {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, H, R, 1.0f, p.data(), n, hall.data(), H, 0.0f, g_eout, H);
    AddRows(p.data(), R, n, g_bout);
  }
  std::vector<float>& dh_all = w.dh_all;
  dh_all.resize(static_cast<size_t>(R) * H);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, H, nc, 1.0f, p.data(), nc, out_w, H, 0.0f, dh_all.data(),
              H);
  // Back through time. carry = dLoss/dh_{t} from step t+1 (rows < active[t+1]).
  std::vector<float>&dgx = w.dgx, &dgh = w.dgh, &carry = w.carry, &next = w.next;
  dgx.resize(static_cast<size_t>(R) * H3);
  dgh.resize(static_cast<size_t>(R) * H3);
  carry.resize(static_cast<size_t>(batch.size()) * H);  // read only where b < carried
  next.resize(carry.size());
  int carried = 0;
  for (int t = steps - 1; t >= 0; --t) {
    const int a = active[t];
    const float* hp = hprev.data() + static_cast<size_t>(off[t]) * H;
    const F4 one = Splat(1.0f);
    for (int b = 0; b < a; ++b) {
      const size_t row = static_cast<size_t>(off[t] + b);
      float* dgxr = dgx.data() + row * H3;
      float* dghr = dgh.data() + row * H3;
      for (int k = 0; k < H; k += 4) {
        const int v = std::min(4, H - k);
        const size_t at = row * H + k;
        F4 dh = Load(&dh_all[at], v);
        if (b < carried) dh += Load(&carry[static_cast<size_t>(b) * H + k], v);
        const F4 r = Load(&rg[at], v), z = Load(&zg[at], v), nn = Load(&ng[at], v), hn = Load(&ghn[at], v);
        const F4 hpk = Load(hp + static_cast<size_t>(b) * H + k, v);
        const F4 dan = dh * (one - z) * (one - nn * nn);
        const F4 daz = dh * (hpk - nn) * z * (one - z);
        const F4 dar = dan * hn * r * (one - r);
        Store(dgxr + k, dar, v);
        Store(dgxr + H + k, daz, v);
        Store(dgxr + 2 * H + k, dan, v);
        Store(dghr + k, dar, v);
        Store(dghr + H + k, daz, v);
        Store(dghr + 2 * H + k, dan * r, v);
        Store(&next[static_cast<size_t>(b) * H + k], dh * z, v);
      }
    }
    // dLoss/dh_{t-1} = dh * z + dgh Uh.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a, H, H3, 1.0f,
                dgh.data() + static_cast<size_t>(off[t]) * H3, H3, uh, H, 1.0f, next.data(), H);
    std::swap(carry, next);
    carried = a;
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H3, d, R, 1.0f, dgx.data(), H3, x.data(), d, 0.0f, g_wx, d);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H3, H, R, 1.0f, dgh.data(), H3, hprev.data(), H, 0.0f, g_uh, H);
  AddRows(dgx.data(), R, H3, g_bx);
  AddRows(dgh.data(), R, H3, g_bh);
  std::vector<float>& dx = w.dx;
  dx.resize(static_cast<size_t>(R) * d);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, d, H3, 1.0f, dgx.data(), H3, wx, d, 0.0f, dx.data(), d);
  for (int i = 0; i < R; ++i)
    AddRows(dx.data() + static_cast<size_t>(i) * d, 1, d, g_ein + static_cast<size_t>(input[i]) * d);
  return loss;
}

void SequenceModel::InputGates(int item, float* gx) const {
  const int d = options_.dim, H3 = 3 * options_.hidden;
  std::copy(params_.begin() + off_bx_, params_.begin() + off_bx_ + H3, gx);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, H3, d, 1.0f, params_.data() + off_wx_, d,
              params_.data() + off_ein_ + static_cast<size_t>(item) * d, 1, 1.0f, gx, 1);
}

void SequenceModel::Step(int item, const float* h, float* h_out) const {
  const int H = options_.hidden, H3 = 3 * options_.hidden;
  // As in training: gx = Wx e + bx (a decoded model's table holds it, made
  // by the same call), gh = Uh h, the recurrent bias in GruGates.
  thread_local std::vector<float> gx_buffer, gh;
  const float* gx;
  if (!input_gates_.empty()) {
    gx = input_gates_.data() + static_cast<size_t>(item) * H3;
  } else {
    gx_buffer.resize(H3);
    InputGates(item, gx_buffer.data());
    gx = gx_buffer.data();
  }
  gh.resize(H3);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, H3, H, 1.0f, params_.data() + off_uh_, H, h, 1, 0.0f, gh.data(), 1);
  GruGates(gx, gh.data(), params_.data() + off_bh_, h, H, nullptr, nullptr, nullptr, nullptr, h_out);
}

// Score's final hidden states by the rows read (sequence_model.h). Sharded
// by the key's hash; each shard holds two generations of at most
// per_generation states: lookups try both (a hit in the older moves the state
// to the current), inserts go to the current, and a full current becomes
// the older (the older's states are dropped). Bounded, and a state in use
// keeps being found.
struct SequenceModel::StateCache {
  static constexpr int kShards = 16;
  using Map = absl::flat_hash_map<std::vector<int>, std::vector<float>>;
  struct Shard {
    absl::Mutex mu;
    Map current ABSL_GUARDED_BY(mu);
    Map older ABSL_GUARDED_BY(mu);
  };

  // A state's bytes, estimated: key and value with their vector headers and
  // allocation overhead, and the map's slot at its 7/8 maximum load.
  StateCache(int hidden, int max_len, int64_t bytes)
      : per_generation(
            static_cast<size_t>(std::max<int64_t>(1, bytes / (2 * kShards * (4 * (int64_t{hidden} + max_len) + 96))))) {
  }

  Shard& ShardOf(const std::vector<int>& key) { return shards[absl::Hash<std::vector<int>>{}(key) % kShards]; }

  // Copies the state of `key` into h (H floats) and returns true, or false.
  bool Find(const std::vector<int>& key, std::vector<float>* h) {
    Shard& s = ShardOf(key);
    absl::MutexLock lock(&s.mu);
    if (auto it = s.current.find(key); it != s.current.end()) {
      *h = it->second;
      hits.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    auto it = s.older.find(key);
    if (it == s.older.end()) {
      misses.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    *h = it->second;
    hits.fetch_add(1, std::memory_order_relaxed);
    auto node = s.older.extract(it);
    PutLocked(&s, std::move(node.key()), std::move(node.mapped()));
    return true;
  }

  void Insert(std::vector<int> key, const std::vector<float>& h) {
    Shard& s = ShardOf(key);
    absl::MutexLock lock(&s.mu);
    PutLocked(&s, std::move(key), h);
  }

  void PutLocked(Shard* s, std::vector<int> key, std::vector<float> h) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
    if (s->current.size() >= per_generation) {
      s->older = std::move(s->current);
      s->current = Map();
    }
    s->current.insert_or_assign(std::move(key), std::move(h));
  }

  const size_t per_generation;
  Shard shards[kShards];
  std::atomic<int64_t> hits{0};
  std::atomic<int64_t> misses{0};
};

void SequenceModel::set_state_cache_bytes(int64_t bytes) {
  if (input_gates_.empty()) return;  // not a decoded model
  state_cache_ = std::make_shared<StateCache>(options_.hidden, options_.max_len, bytes);
}

SequenceModel::StateCacheStats SequenceModel::state_cache_stats() const {
  StateCacheStats out;
  if (state_cache_ != nullptr) {
    out.hits = state_cache_->hits.load(std::memory_order_relaxed);
    out.misses = state_cache_->misses.load(std::memory_order_relaxed);
  }
  return out;
}

absl::StatusOr<std::vector<float>> SequenceModel::Score(const std::vector<std::string>& history) const {
  if (history.empty()) return absl::InvalidArgumentError("history: empty");
  std::vector<int> rows;
  for (const std::string& c : history) {
    const int r = Row(c);
    if (r >= 0) rows.push_back(r);
  }
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("history: none of its ", history.size(), " courses is in the sequence model's vocabulary"));
  }
  const size_t first = rows.size() > static_cast<size_t>(options_.max_len) ? rows.size() - options_.max_len : 0;
  const int H = options_.hidden;
  std::vector<float> h(H, 0.0f), h2(H);
  std::vector<int> window;
  if (state_cache_ != nullptr) window.assign(rows.begin() + first, rows.end());
  if (state_cache_ == nullptr || !state_cache_->Find(window, &h)) {
    for (size_t i = first; i < rows.size(); ++i) {
      Step(rows[i], h.data(), h2.data());
      std::swap(h, h2);
    }
    if (state_cache_ != nullptr) state_cache_->Insert(std::move(window), h);
  }
  std::vector<float> out(params_.begin() + off_bout_, params_.begin() + off_bout_ + num_items());
  cblas_sgemv(CblasRowMajor, CblasNoTrans, num_items(), H, 1.0f, params_.data() + off_eout_, H, h.data(), 1, 1.0f,
              out.data(), 1);
  return out;
}

std::vector<float> SequenceModel::PriorScores() const {
  return std::vector<float>(params_.begin() + off_bout_, params_.begin() + off_bout_ + num_items());
}

}  // namespace lifelong::models
