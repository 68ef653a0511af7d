// exp(x) for x <= 0, written so that a loop over labs vectorises: only
// adds, multiplies and bit moves, no branches, no libm call. Used for the
// logit weights exp(V_il - max V), which are never positive.
//
// x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite, two-part ln2); e^r by its
// Taylor series to degree 13 (truncation < 4.2e-18 relative); times 2^n by
// building the exponent bits. Below -708 (where 2^n would leave the normal
// range) the weight is 0: a lab that is e^708 times less likely than the
// best one is never picked in practice (probability < 1e-307).
// Accuracy: within 2 ulp of the correctly rounded value (tests check it
// against std::exp).
#pragma once

#include <bit>
#include <cstdint>

namespace talentsim::detail {

inline double exp_nonpositive(double x) {
  constexpr double kLog2e = 1.4426950408889634;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // low 32 bits zero: n * hi exact
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kShift = 0x1.8p52;  // adding it rounds to an integer in the low bits
  x = x > 0 ? 0 : x;
  const bool underflow = x < -708.0;
  x = underflow ? 0 : x;
  const double shifted = x * kLog2e + kShift;
  const double n = shifted - kShift;
  const double r = (x - n * kLn2Hi) - n * kLn2Lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^n: n sits in the low bits of `shifted`; move it into the exponent.
  const auto bits = std::bit_cast<std::uint64_t>(shifted);
  const double scale = std::bit_cast<double>((bits + 1023) << 52);
  return underflow ? 0.0 : p * scale;
}

}  // namespace talentsim::detail
