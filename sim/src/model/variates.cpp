#if defined(__x86_64__)
#include <immintrin.h>
#define TALENTSIM_HAVE_AVX2_PATH 1
#endif

#include <algorithm>
#include <array>
#include <cmath>

#include "talentsim/rng.hpp"

namespace talentsim {
namespace {

constexpr int kLayers = 256;
// Right edge of the base strip and the common area of the strips, for the
// unnormalised density f(x) = exp(-x^2 / 2) (Marsaglia and Tsang 2000).
constexpr double kTailStart = 3.6541528853610088;
constexpr double kStripArea = 4.92867323399e-3;

double density(double x) { return std::exp(-0.5 * x * x); }

// Strip i covers [0, x[i]] x [f(x[i]), f(x[i+1])]; strip 0 is the base,
// whose rectangle is widened to x[0] = V / f(r) to stand for the tail.
struct Ziggurat {
  std::array<double, kLayers + 1> x{}, f{};
  Ziggurat() {
    x[0] = kStripArea / density(kTailStart);
    x[1] = kTailStart;
    for (int i = 1; i < kLayers - 1; ++i)
      x[i + 1] = std::sqrt(-2.0 * std::log(density(x[i]) + kStripArea / x[i]));
    x[kLayers] = 0;
    for (int i = 0; i <= kLayers; ++i) f[i] = density(x[i]);
  }
};

const Ziggurat& ziggurat() {
  static const Ziggurat z;
  return z;
}

// A draw's first step with word w: the abscissa x in layer i (the low 8
// bits), accepted at once if it falls inside the layer's rectangle, and the
// sign (bit 8), as a mask for the sign bit of a double.
struct FirstStep {
  int i;
  double x;
  bool inside;
  std::uint64_t sign;
};

FirstStep first_step(const Ziggurat& z, std::uint64_t w) {
  const int i = static_cast<int>(w & 0xff);
  const double x = unit_interval(w) * z.x[i];
  return {i, x, x < z.x[i + 1], (w >> 8 & 1) << 63};
}

// x with the sign of the draw: -x exactly when the sign bit is set, as
// negation would give, but without a branch (the sign is a fair coin, so a
// branch on it is mispredicted half the time).
double with_sign(double x, std::uint64_t sign) {
  return __builtin_bit_cast(double, __builtin_bit_cast(std::uint64_t, x) ^ sign);
}

}  // namespace

double standard_normal(WordStream& words) {
  const Ziggurat& z = ziggurat();
  for (;;) {
    const auto [i, x, inside, sign] = first_step(z, words.next());
    if (inside) return with_sign(x, sign);
    if (i == 0) {
      // The tail beyond r (Marsaglia 1964).
      double a, b;
      do {
        a = -std::log(words.open01()) / kTailStart;
        b = -std::log(words.open01());
      } while (b + b < a * a);
      return with_sign(kTailStart + a, sign);
    }
    // A wedge: accept under the density.
    const double y = z.f[i] + words.open01() * (z.f[i + 1] - z.f[i]);
    if (y < density(x)) return with_sign(x, sign);
  }
}

bool standard_normals_one_word_each(const std::uint64_t* words, int count, double* out) {
  const Ziggurat& z = ziggurat();
  bool inside = true;
  for (int j = 0; j < count; ++j) {
    const auto step = first_step(z, words[j]);
    inside &= step.inside;
    out[j] = with_sign(step.x, step.sign);
  }
  return inside;
}

namespace {

// Counters computed together: up to 16, in groups of 8 when fewer are asked.
constexpr int kWideLanes = 16;

// Philox4x32-10 (Salmon et al. 2011, as Random123 defines it) on the first
// kLanes counters, sharing a key, lane by lane.
template <int kLanes>
void philox_lanes(std::uint32_t k0, std::uint32_t k1, const std::uint32_t (&in)[4][kWideLanes],
                  std::uint32_t (&out)[4][kWideLanes]) {
  constexpr std::uint64_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  std::uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  for (int j = 0; j < kLanes; ++j) {
    c0[j] = in[0][j];
    c1[j] = in[1][j];
    c2[j] = in[2][j];
    c3[j] = in[3][j];
  }
  for (int round = 0; round < 10; ++round) {
    for (int j = 0; j < kLanes; ++j) {
      const std::uint64_t p0 = kM0 * c0[j], p1 = kM1 * c2[j];
      const auto n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1[j] ^ k0;
      const auto n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3[j] ^ k1;
      c1[j] = static_cast<std::uint32_t>(p1);
      c3[j] = static_cast<std::uint32_t>(p0);
      c0[j] = n0;
      c2[j] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int j = 0; j < kLanes; ++j) {
    out[0][j] = c0[j];
    out[1][j] = c1[j];
    out[2][j] = c2[j];
    out[3][j] = c3[j];
  }
}

#if TALENTSIM_HAVE_AVX2_PATH
// The ten Philox4x32 rounds on 4 * kGroups counters, word w of counters
// 4h .. 4h+3 in the low halves of c[w][h]'s 64-bit lanes.
template <int kGroups>
__attribute__((target("avx2"), always_inline)) inline void philox_rounds_avx2(
    std::uint32_t k0, std::uint32_t k1, __m256i (&c)[4][kGroups]) {
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53), m1 = _mm256_set1_epi64x(0xCD9E8D57);
  const __m256i low = _mm256_set1_epi64x(0xffffffff);
  for (int round = 0; round < 10; ++round) {
    const __m256i key0 = _mm256_set1_epi64x(k0), key1 = _mm256_set1_epi64x(k1);
    for (int h = 0; h < kGroups; ++h) {
      const __m256i p0 = _mm256_mul_epu32(c[0][h], m0), p1 = _mm256_mul_epu32(c[2][h], m1);
      const __m256i n0 =
          _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c[1][h]), key0);
      const __m256i n2 =
          _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c[3][h]), key1);
      c[1][h] = _mm256_and_si256(p1, low);
      c[3][h] = _mm256_and_si256(p0, low);
      c[0][h] = n0;
      c[2][h] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// The same with AVX2 intrinsics on 4 * kGroups counters: each 32-bit word
// in the low half of a 64-bit lane, so the 32 x 32 -> 64 multiplies are
// single vpmuludq and no shuffles are needed (about 3x fewer instructions
// than what compilers make of the portable loop). A round is a chain of
// multiply, shift and xors about 8 cycles long; with 4 groups of lanes in
// flight instead of 2 the processor overlaps the chains, so a counter costs
// about half as much.
template <int kGroups>
__attribute__((target("avx2"))) void philox_groups_avx2(std::uint32_t k0, std::uint32_t k1,
                                                        const std::uint32_t (&in)[4][kWideLanes],
                                                        std::uint32_t (&out)[4][kWideLanes]) {
  static_assert(4 * kGroups <= kWideLanes);
  __m256i c[4][kGroups];
  for (int w = 0; w < 4; ++w)
    for (int h = 0; h < kGroups; ++h)
      c[w][h] =
          _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&in[w][4 * h])));
  philox_rounds_avx2<kGroups>(k0, k1, c);
  const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  for (int w = 0; w < 4; ++w)
    for (int h = 0; h < kGroups; ++h)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(&out[w][4 * h]),
                       _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(c[w][h], pick)));
}

// 16 counters straight from the callers' arrays to theirs: the counter
// words are built and the output words assembled in vector registers
// (the generic path packs and unpacks them one lane at a time, which cost
// about as much as the rounds themselves).
__attribute__((target("avx2"))) void philox16_avx2(std::uint32_t k0, std::uint32_t k1,
                                                   std::uint32_t replicate, std::uint32_t high,
                                                   const std::uint64_t* who,
                                                   const std::uint32_t* index, std::uint64_t* out) {
  constexpr int kGroups = 4;
  const __m256i low = _mm256_set1_epi64x(0xffffffff);
  __m256i c[4][kGroups];
  for (int h = 0; h < kGroups; ++h) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(who + 4 * h));
    c[0][h] = _mm256_set1_epi64x(replicate);
    c[1][h] = _mm256_and_si256(w, low);
    c[2][h] = _mm256_srli_epi64(w, 32);
    c[3][h] = _mm256_or_si256(
        _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(index + 4 * h))),
        _mm256_set1_epi64x(high));
  }
  philox_rounds_avx2<kGroups>(k0, k1, c);
  // Counter j's words: (c0 << 32 | c1, c2 << 32 | c3), at out[2j], out[2j+1].
  for (int h = 0; h < kGroups; ++h) {
    const __m256i first = _mm256_or_si256(_mm256_slli_epi64(c[0][h], 32), c[1][h]);
    const __m256i second = _mm256_or_si256(_mm256_slli_epi64(c[2][h], 32), c[3][h]);
    const __m256i even = _mm256_unpacklo_epi64(first, second);  // counters 0 and 2
    const __m256i odd = _mm256_unpackhi_epi64(first, second);   // counters 1 and 3
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * h),
                        _mm256_permute2x128_si256(even, odd, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * h + 4),
                        _mm256_permute2x128_si256(even, odd, 0x31));
  }
}

// The same on processors with AVX-512VL (on 256-bit registers): each
// round's two exclusive ors are one vpternlogq, and the low halves are not
// masked every round. A multiply reads only the low 32 bits of its lanes
// and a shift right by 32 brings a clean high half down, so what the
// skipped masks would have cleared never reaches a low half; the words are
// masked once, when the output is assembled. 6 operations a round instead
// of 10.
__attribute__((target("avx2,avx512f,avx512vl"))) void philox16_avx512vl(
    std::uint32_t k0, std::uint32_t k1, std::uint32_t replicate, std::uint32_t high,
    const std::uint64_t* who, const std::uint32_t* index, std::uint64_t* out) {
  constexpr int kGroups = 4;
  const __m256i low = _mm256_set1_epi64x(0xffffffff);
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53), m1 = _mm256_set1_epi64x(0xCD9E8D57);
  __m256i c[4][kGroups];
  for (int h = 0; h < kGroups; ++h) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(who + 4 * h));
    c[0][h] = _mm256_set1_epi64x(replicate);
    c[1][h] = w;  // high half: ignored until the output
    c[2][h] = _mm256_srli_epi64(w, 32);
    c[3][h] = _mm256_or_si256(
        _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(index + 4 * h))),
        _mm256_set1_epi64x(high));
  }
  for (int round = 0; round < 10; ++round) {
    const __m256i key0 = _mm256_set1_epi64x(k0), key1 = _mm256_set1_epi64x(k1);
    for (int h = 0; h < kGroups; ++h) {
      const __m256i p0 = _mm256_mul_epu32(c[0][h], m0), p1 = _mm256_mul_epu32(c[2][h], m1);
      const __m256i n0 = _mm256_ternarylogic_epi64(_mm256_srli_epi64(p1, 32), c[1][h], key0, 0x96);
      const __m256i n2 = _mm256_ternarylogic_epi64(_mm256_srli_epi64(p0, 32), c[3][h], key1, 0x96);
      c[1][h] = p1;
      c[3][h] = p0;
      c[0][h] = n0;
      c[2][h] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int h = 0; h < kGroups; ++h) {
    // (c0 << 32) | (c1 & low): the shift drops c0's high half.
    const __m256i first =
        _mm256_ternarylogic_epi64(_mm256_slli_epi64(c[0][h], 32), c[1][h], low, 0xF8);
    const __m256i second =
        _mm256_ternarylogic_epi64(_mm256_slli_epi64(c[2][h], 32), c[3][h], low, 0xF8);
    const __m256i even = _mm256_unpacklo_epi64(first, second);
    const __m256i odd = _mm256_unpackhi_epi64(first, second);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * h),
                        _mm256_permute2x128_si256(even, odd, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * h + 4),
                        _mm256_permute2x128_si256(even, odd, 0x31));
  }
}

#endif

}  // namespace

VectorCode best_vector_code() {
#if TALENTSIM_HAVE_AVX2_PATH
  static const VectorCode best = __builtin_cpu_supports("avx2") &&
                                         __builtin_cpu_supports("avx512f") &&
                                         __builtin_cpu_supports("avx512vl")
                                     ? VectorCode::avx512vl
                                 : __builtin_cpu_supports("avx2") ? VectorCode::avx2
                                                                  : VectorCode::portable;
  return best;
#else
  return VectorCode::portable;
#endif
}

void bits_lanes(const Streams& streams, const std::uint64_t* who, Purpose purpose,
                const std::uint32_t* index, std::size_t count, std::uint64_t* out,
                VectorCode code) {
  // Never more than the processor has: a test may ask for any code.
  const VectorCode best = best_vector_code();
  if (static_cast<int>(code) > static_cast<int>(best)) code = best;
  const std::uint64_t seed = streams.seed();
  const auto k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  const std::uint32_t high = static_cast<std::uint32_t>(purpose) << 24;
  std::uint32_t in[4][kWideLanes], res[4][kWideLanes];
  std::size_t start = 0;
#if TALENTSIM_HAVE_AVX2_PATH
  const bool vector_unit = code != VectorCode::portable;
  if (code == VectorCode::avx512vl)
    for (; start + kWideLanes <= count; start += kWideLanes)
      philox16_avx512vl(k0, k1, streams.replicate(), high, who + start, index + start,
                        out + 2 * start);
  if (vector_unit)
    for (; start + kWideLanes <= count; start += kWideLanes)
      philox16_avx2(k0, k1, streams.replicate(), high, who + start, index + start, out + 2 * start);
#endif
  for (std::size_t base = start; base < count; base += kWideLanes) {
    const std::size_t n = std::min<std::size_t>(kWideLanes, count - base);
    const bool wide = n > kWideLanes / 2;
    for (std::size_t j = 0; j < kWideLanes; ++j) {
      const std::size_t at = base + (j < n ? j : 0);
      in[0][j] = streams.replicate();
      in[1][j] = static_cast<std::uint32_t>(who[at]);
      in[2][j] = static_cast<std::uint32_t>(who[at] >> 32);
      in[3][j] = high | index[at];
    }
#if TALENTSIM_HAVE_AVX2_PATH
    if (vector_unit && wide)
      philox_groups_avx2<4>(k0, k1, in, res);
    else if (vector_unit)
      philox_groups_avx2<2>(k0, k1, in, res);
    else
#endif
        if (wide)
      philox_lanes<kWideLanes>(k0, k1, in, res);
    else
      philox_lanes<kWideLanes / 2>(k0, k1, in, res);
    for (std::size_t j = 0; j < n; ++j) {
      out[2 * (base + j)] = static_cast<std::uint64_t>(res[0][j]) << 32 | res[1][j];
      out[2 * (base + j) + 1] = static_cast<std::uint64_t>(res[2][j]) << 32 | res[3][j];
    }
  }
}

}  // namespace talentsim
