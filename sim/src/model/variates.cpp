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

}  // namespace

double standard_normal(WordStream& words) {
  const Ziggurat& z = ziggurat();
  for (;;) {
    const std::uint64_t w = words.next();
    const int i = static_cast<int>(w & 0xff);
    const bool negative = (w >> 8) & 1;
    const double x = static_cast<double>(w >> 11) * 0x1.0p-53 * z.x[i];
    if (x < z.x[i + 1]) return negative ? -x : x;
    if (i == 0) {
      // The tail beyond r (Marsaglia 1964).
      double a, b;
      do {
        a = -std::log(words.open01()) / kTailStart;
        b = -std::log(words.open01());
      } while (b + b < a * a);
      return negative ? -(kTailStart + a) : kTailStart + a;
    }
    // A wedge: accept under the density.
    const double y = z.f[i] + words.open01() * (z.f[i + 1] - z.f[i]);
    if (y < density(x)) return negative ? -x : x;
  }
}

}  // namespace talentsim
