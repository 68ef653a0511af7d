// exp and log for the engine's hot loops, on one double or on four
// (Lanes), written so that they vectorise: only adds, multiplies, one
// division (log) and bit moves, no branches, no libm call. Each lane does
// the same IEEE operations, so scalar, SSE2 and AVX2 code give the same
// bits on every x86-64 machine, whatever the libm, as long as nothing fuses
// a multiply and an add or reorders: the build sets -ffp-contract=off and
// never -ffast-math (CMakeLists.txt).
//
// exp_nonpositive: exp(x) for x <= 0, for the logit weights
// exp(V_il - max V), which are never positive.
// x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite, two-part ln2); e^r by its
// Taylor series to degree 13 (truncation < 4.2e-18 relative), evaluated by
// Estrin's scheme rather than Horner's: a chain of 10 dependent operations
// instead of 26, which made a choice among 13 labs 12% faster; times 2^n by
// building the exponent bits. Below -708 (where 2^n would leave the normal
// range) the weight is 0: a lab that is e^708 times less likely than the
// best one is never picked in practice (probability < 1e-307).
// Accuracy: within 2 ulp of the correctly rounded value (tests check it
// against std::exp); the worst of 20 million random points was 1.02 ulp
// (Horner's order: 1.15).
//
// log_unit: log(x) for normal x in (0, 1], for the entry clocks' Exp(1)
// thresholds -log(U). x = 2^e m with m in (sqrt(1/2), sqrt(2)]; log m =
// log1p(f), f = m - 1 (exact), = 2 atanh(z) with z = f / (2 + f), |z| <=
// 0.1716: 2z (1 + z^2/3 + ... + z^18/19), truncation < 3e-17 relative,
// summed as f - (z f - 2z (z^2/3 + ...)) so that the rounding of z barely
// matters; e ln2 is added in two parts, the first exact. Accuracy: the
// worst of 20 million random points was 1.13 ulp, 97% correctly rounded
// (tests check within 2 ulp of std::log).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace talentsim::detail {

// Four doubles (four labs' utilities, four researchers' thresholds), and
// their bits, as GCC/Clang vector extensions: one AVX2 instruction per
// operation in code compiled for AVX2, two SSE2 ones elsewhere, and the same
// IEEE result in every lane either way. Passed by reference only, so that
// no function's calling convention depends on the instruction set.
using Lanes = double __attribute__((vector_size(32)));
using LaneBits = std::uint64_t __attribute__((vector_size(32)));

// Marks a function to be compiled twice, for AVX2 and for any x86-64, the
// version picked when the program is loaded; the kernels inline into each
// and give both the same bits. Not under ThreadSanitizer: the resolver runs
// while the program is loaded, before TSan's runtime is up, and its
// instrumented code crashes there. Not with Clang (14) either: a call from
// another translation unit, which sees a plain declaration, is left
// unresolved at link time, and with the attribute on the declaration too
// it calls the resolver as if it were the function. Both versions give
// the same bits, so a Clang build is correct, only slower.
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && !defined(__clang__)
#define TALENTSIM_CLONES_FOR_AVX2 __attribute__((target_clones("avx2", "default")))
#else
#define TALENTSIM_CLONES_FOR_AVX2
#endif

// The bits of a double, or of four.
template <class Real>
using BitsOf = std::conditional_t<std::is_same_v<Real, double>, std::uint64_t, LaneBits>;

// ln 2 in two parts: the high one has its low 32 bits zero, so that n * hi
// is exact for the integers n both kernels multiply it by.
inline constexpr double kLn2Hi = 6.93147180369123816490e-01;
inline constexpr double kLn2Lo = 1.90821492927058770002e-10;

// x = exp(x) for one double or for four.
template <class Real>
[[gnu::always_inline]] inline void exp_nonpositive_in_place(Real& x) {
  using Bits = BitsOf<Real>;
  constexpr double kLog2e = 1.4426950408889634;
  constexpr double kShift = 0x1.8p52;  // adding it rounds to an integer in the low bits
  x = x > 0 ? 0 : x;
  const auto underflow = x < -708.0;
  x = underflow ? 0 : x;
  const Real shifted = x * kLog2e + kShift;
  const Real n = shifted - kShift;
  const Real r = (x - n * kLn2Hi) - n * kLn2Lo;
  // e^r = 1 + (r + r^2 q(r)), q of degree 11 by Estrin's scheme: a short
  // dependency chain, and the leading terms added last, in the order that
  // keeps the rounding error small.
  const Real r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const Real d0 = 1.0 / 2 + r * (1.0 / 6), d1 = 1.0 / 24 + r * (1.0 / 120),
             d2 = 1.0 / 720 + r * (1.0 / 5040), d3 = 1.0 / 40320 + r * (1.0 / 362880),
             d4 = 1.0 / 3628800 + r * (1.0 / 39916800),
             d5 = 1.0 / 479001600 + r * (1.0 / 6227020800);
  const Real q = (d0 + r2 * d1) + r4 * (d2 + r2 * d3) + r8 * (d4 + r2 * d5);
  const Real p = 1.0 + (r + r2 * q);
  // 2^n: n sits in the low bits of `shifted`; move it into the exponent.
  const Bits bits = __builtin_bit_cast(Bits, shifted);
  const Real scale = __builtin_bit_cast(Real, (bits + 1023) << 52);
  x = underflow ? 0.0 : p * scale;
}

// x = log(x) for one double or for four, each normal and in (0, 1].
template <class Real>
[[gnu::always_inline]] inline void log_unit_in_place(Real& x) {
  using Bits = BitsOf<Real>;
  constexpr double kSqrt2 = 1.4142135623730951;
  const Bits bits = __builtin_bit_cast(Bits, x);
  // The biased exponent as a double, through the bits of 2^52 + it.
  const Real biased = __builtin_bit_cast(Real, (bits >> 52) | 0x4330000000000000u) - 0x1.0p52;
  Real m = __builtin_bit_cast(Real, (bits & 0x000fffffffffffffu) | 0x3ff0000000000000u);
  const auto high = m > kSqrt2;
  m = high ? m * 0.5 : m;
  const Real e = (biased - 1023) + (high ? 1.0 : 0.0);
  const Real f = m - 1.0;
  const Real z = f / (2.0 + f);
  const Real s = z * z, s2 = s * s, s4 = s2 * s2, s8 = s4 * s4;
  const Real p = ((1.0 / 3 + s * (1.0 / 5)) + s2 * (1.0 / 7 + s * (1.0 / 9))) +
                 s4 * ((1.0 / 11 + s * (1.0 / 13)) + s2 * (1.0 / 15 + s * (1.0 / 17))) +
                 s8 * (1.0 / 19);
  const Real log_m = f - (z * f - 2.0 * z * (s * p));  // 2z = f - z f
  x = e * kLn2Hi + (log_m + e * kLn2Lo);
}

inline double log_unit(double x) {
  log_unit_in_place(x);
  return x;
}

inline double exp_nonpositive(double x) {
  exp_nonpositive_in_place(x);
  return x;
}

// How many of a chooser's ties are at each lab: counts[1 + l] for each lab
// l < lp (lp a multiple of 4), from labs[0 .. n), each tie's lab or -1 for
// none. Two ways, giving the same counts:
// - by comparing every tie's lab with four lab indices at a time: n lp / 4
//   comparisons, independent of each other;
// - by a histogram (which also counts ties in no lab, in counts[0]): n
//   increments, but those of one slot wait on each other through memory,
//   and most ties are within one lab.
// count_labs compares while n lp <= kCountLabsByCompareUpTo: a choice among
// 13 labs with 9 ties went from 88 to 74 ns (BM_LogitChoice).
inline constexpr std::size_t kCountLabsByCompareUpTo = 512;

// Labs first .. first + 4G - 1: each tie's lab is read once and compared
// with all of them, the G counts kept in registers.
template <int G>
[[gnu::always_inline]] inline void count_labs_by_compare_from(const std::int64_t* labs,
                                                              std::size_t n, std::int64_t first,
                                                              double* counts) {
  using Indices = std::int64_t __attribute__((vector_size(32)));
  const Indices index = {first, first + 1, first + 2, first + 3};
  Indices count[G] = {};
  for (std::size_t d = 0; d < n; ++d) {
    const std::int64_t lab = labs[d];
    for (int g = 0; g < G; ++g) count[g] -= index + 4 * g == lab;  // -1 where equal
  }
  // The counts (0 .. n < 2^52) as doubles, exactly: 2^52 + count, less 2^52.
  for (int g = 0; g < G; ++g) {
    const Lanes c = __builtin_bit_cast(Lanes, count[g] | 0x4330000000000000) - 0x1p52;
    std::memcpy(counts + 1 + first + 4 * g, &c, sizeof c);
  }
}

[[gnu::always_inline]] inline void count_labs_by_compare(const std::int64_t* labs, std::size_t n,
                                                         std::size_t lp, double* counts) {
  std::size_t l = 0;
  for (; l + 16 <= lp; l += 16)
    count_labs_by_compare_from<4>(labs, n, static_cast<std::int64_t>(l), counts);
  const auto first = static_cast<std::int64_t>(l);
  switch ((lp - l) / 4) {
    case 3:
      count_labs_by_compare_from<3>(labs, n, first, counts);
      break;
    case 2:
      count_labs_by_compare_from<2>(labs, n, first, counts);
      break;
    case 1:
      count_labs_by_compare_from<1>(labs, n, first, counts);
      break;
    default:
      break;
  }
}

[[gnu::always_inline]] inline void count_labs_by_histogram(const std::int64_t* labs, std::size_t n,
                                                           std::size_t lp, double* counts) {
  std::fill_n(counts, lp + 1, 0.0);
  for (std::size_t d = 0; d < n; ++d) counts[labs[d] + 1] += 1;
}

[[gnu::always_inline]] inline void count_labs(const std::int64_t* labs, std::size_t n,
                                              std::size_t lp, double* counts) {
  if (n * lp <= kCountLabsByCompareUpTo)
    count_labs_by_compare(labs, n, lp, counts);
  else
    count_labs_by_histogram(labs, n, lp, counts);
}

}  // namespace talentsim::detail
