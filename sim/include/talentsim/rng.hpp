// Counter-based random streams (Random123 Philox4x32-10), keyed by identity
// rather than by the order in which draws happen. A draw is a pure function
// of (seed, replicate, who, purpose, index): results do not depend on thread
// count or scheduling, and two scenarios run with the same seed give the same
// researcher the same draws (common random numbers).
//
//   key     = seed (64 bits)
//   counter = (replicate, who low 32 bits, who high 32 bits, purpose << 24 | index)
//
// `index` is the step for per-step draws and the draw number for the
// population; it must be below 2^24.
#pragma once

#include <Random123/philox.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>

namespace talentsim {

enum class Purpose : std::uint32_t {
  Reputation = 1,
  Taste = 2,
  Tenure = 3,
  Ties = 4,
  Entry = 16,   // market-entry clock: one Exp(1) threshold per clock start (index = that step)
  Choice = 17,  // logit choice and capacity priority
  Follow = 18,  // following a tie who moved in the previous step
};

inline constexpr std::uint32_t kMaxStreamIndex = 1u << 24;

class Streams {
 public:
  Streams(std::uint64_t seed, std::uint64_t replicate)
      : key_{{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}},
        replicate_(static_cast<std::uint32_t>(replicate)) {}

  // Four independent 32-bit words.
  std::array<std::uint32_t, 4> bits(std::uint64_t who, Purpose purpose, std::uint32_t index) const {
    r123::Philox4x32::ctr_type ctr{{replicate_, static_cast<std::uint32_t>(who),
                                    static_cast<std::uint32_t>(who >> 32),
                                    (static_cast<std::uint32_t>(purpose) << 24) | index}};
    const auto out = r123::Philox4x32{}(ctr, key_);
    return {out.v[0], out.v[1], out.v[2], out.v[3]};
  }

 private:
  r123::Philox4x32::key_type key_;
  std::uint32_t replicate_;
};

// Uniform on [0, 1) with 53 random bits.
inline double uniform01(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t x = (static_cast<std::uint64_t>(hi) << 32 | lo) >> 11;
  return static_cast<double>(x) * 0x1.0p-53;
}

// Uniform on (0, 1): never 0, so safe under log.
inline double uniform_open01(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t x = (static_cast<std::uint64_t>(hi) << 32 | lo) >> 11;
  return (static_cast<double>(x) + 0.5) * 0x1.0p-53;
}

// Exp(1) from two words: never 0 or infinite.
inline double standard_exponential(std::uint32_t hi, std::uint32_t lo) {
  return -std::log(uniform_open01(hi, lo));
}

// Two independent standard normals from four words (Box-Muller).
inline std::array<double, 2> standard_normal_pair(const std::array<std::uint32_t, 4>& w) {
  const double u1 = uniform_open01(w[0], w[1]);
  const double u2 = uniform01(w[2], w[3]);
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  return {radius * std::cos(angle), radius * std::sin(angle)};
}

// Stable 64-bit identity of a string (FNV-1a, then a splitmix64 finaliser).
inline std::uint64_t identity_hash(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

}  // namespace talentsim
