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
#include <string_view>

namespace talentsim {

enum class Purpose : std::uint32_t {
  Traits = 1,  // reputation and the five tastes: six normals (a WordStream)
  Tenure = 3,
  Ties = 4,     // network ties: one 64-bit word per tie (a WordStream)
  Entry = 16,   // market-entry clock: one Exp(1) threshold per clock start (index = that step)
  Choice = 17,  // logit choice and capacity priority
  Follow = 18,  // whom a mover pulls onto the market: a WordStream per mover, of at_step(t)
  // Sweeps (talentsim_sweep), keyed by Streams(seed, 0) of the sweep's seed:
  Design = 32,     // random and Latin hypercube designs (see make_design in talentsim/sweep.hpp)
  Bootstrap = 33,  // Sobol' index intervals: a WordStream per bootstrap resample
  // Calibration (talentsim_calibrate), keyed by Streams(seed, 0) of the
  // calibration's seed: a WordStream per proposal, who = generation << 32 | number.
  Calibration = 34,
};

inline constexpr std::uint32_t kMaxStreamIndex = 1u << 24;

class Streams {
 public:
  Streams(std::uint64_t seed, std::uint64_t replicate)
      : key_{{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}},
        replicate_(static_cast<std::uint32_t>(replicate)) {}

  // The streams of step t, for per-step draws that need more than one
  // counter: the key becomes seed ^ (t + 1) * 0x9E3779B97F4A7C15, distinct
  // for distinct steps of one seed (an odd multiplier is a bijection).
  Streams at_step(std::uint32_t t) const {
    const std::uint64_t seed = (static_cast<std::uint64_t>(key_.v[1]) << 32 | key_.v[0]) ^
                               (static_cast<std::uint64_t>(t) + 1) * 0x9E3779B97F4A7C15ull;
    return Streams(seed, replicate_);
  }

  std::uint64_t seed() const { return static_cast<std::uint64_t>(key_.v[1]) << 32 | key_.v[0]; }
  std::uint32_t replicate() const { return replicate_; }

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

// Uniform on [0, 1) from the top 53 bits of a 64-bit word.
inline double unit_interval(std::uint64_t word) {
  return static_cast<double>(word >> 11) * 0x1.0p-53;
}

// Uniform on (0, 1] from the top 53 bits: never 0, so safe under log (the
// largest words round to 1).
inline double open_unit_interval(std::uint64_t word) {
  return (static_cast<double>(word >> 11) + 0.5) * 0x1.0p-53;
}

// The same from two 32-bit words (hi, lo) of a Philox output.
inline double uniform01(std::uint32_t hi, std::uint32_t lo) {
  return unit_interval(static_cast<std::uint64_t>(hi) << 32 | lo);
}
inline double uniform_open01(std::uint32_t hi, std::uint32_t lo) {
  return open_unit_interval(static_cast<std::uint64_t>(hi) << 32 | lo);
}

// The 64-bit words of one (who, purpose) stream, in order: counter index
// 0, 1, 2, ... each giving two. For draws whose number of words is not fixed
// (rejection sampling): a retry takes the next word, and the stream stays a
// pure function of (seed, replicate, who, purpose).
class WordStream {
 public:
  WordStream(const Streams& streams, std::uint64_t who, Purpose purpose)
      : streams_(streams), who_(who), purpose_(purpose) {}
  // The same stream, its first `count` (even) words already computed (by
  // bits_lanes) and passed in `first`.
  WordStream(const Streams& streams, std::uint64_t who, Purpose purpose, const std::uint64_t* first,
             int count)
      : streams_(streams),
        who_(who),
        purpose_(purpose),
        index_(static_cast<std::uint32_t>(count / 2)),
        first_(first),
        first_left_(count) {}

  std::uint64_t next() {
    if (first_left_ > 0) {
      --first_left_;
      return *first_++;
    }
    if (left_ == 0) {
      // Words beyond index 2^24 would alias another purpose: not reachable
      // for any draw here (callers bound the words they need).
      const auto w = streams_.bits(who_, purpose_, index_++ & (kMaxStreamIndex - 1));
      words_[0] = static_cast<std::uint64_t>(w[0]) << 32 | w[1];
      words_[1] = static_cast<std::uint64_t>(w[2]) << 32 | w[3];
      left_ = 2;
    }
    return words_[2 - left_--];
  }
  // Uniform on (0, 1).
  double open01() { return open_unit_interval(next()); }

 private:
  const Streams& streams_;
  std::uint64_t who_;
  Purpose purpose_;
  std::uint32_t index_ = 0;
  const std::uint64_t* first_ = nullptr;
  int first_left_ = 0;
  std::uint64_t words_[2] = {0, 0};
  int left_ = 0;
};

// The code that computes many Philox counters at once, slowest first:
// portable C++, AVX2, AVX2 with AVX-512VL's three-input logic (on 256-bit
// registers). All give the same bits.
enum class VectorCode { portable, avx2, avx512vl };

// The fastest of them that this processor runs.
VectorCode best_vector_code();

// Many draws at once: for each i < count, the two words of
// streams.bits(who[i], purpose, index[i]) as 64-bit words out[2i], out[2i+1]
// (the order WordStream uses). Bit-identical to calling bits() count times;
// computed 16 counters at a time (8 for a short last block), by `code` or
// the best this processor has if that is less: by default the fastest it
// runs (tests pick each).
void bits_lanes(const Streams& streams, const std::uint64_t* who, Purpose purpose,
                const std::uint32_t* index, std::size_t count, std::uint64_t* out,
                VectorCode code = VectorCode::avx512vl);

// Standard normal by the ziggurat method (Marsaglia and Tsang 2000, 256
// layers), exact up to floating point: the layer, the sign and the abscissa
// come from disjoint bits of one word, so they are independent (Doornik
// 2005); about 1.5% of draws take further words for a wedge or the tail (the
// top layer always does).
double standard_normal(WordStream& words);

// The first `count` standard normals of a stream whose first `count` words
// are `words`, in the common case that each takes exactly one word (each
// does with probability 0.985): then they are written to `out`, equal bit
// for bit to `count` calls of standard_normal, and the result is true.
// Otherwise false, and `out` holds nothing useful: draw them one by one.
// Without the stream object, the loop has no calls and no data-dependent
// branches.
bool standard_normals_one_word_each(const std::uint64_t* words, int count, double* out);

// Uniform on 0 .. n-1 (n >= 1), exactly: Lemire's multiply-and-reject on 32
// bits (rejection probability below n / 2^32). `word` supplies the first 32
// bits; retries take more from `words`.
inline std::uint32_t uniform_below(std::uint32_t n, std::uint32_t word, WordStream& words) {
  std::uint64_t m = static_cast<std::uint64_t>(word) * n;
  if (static_cast<std::uint32_t>(m) < n) {
    const std::uint32_t threshold = (0u - n) % n;
    while (static_cast<std::uint32_t>(m) < threshold)
      m = static_cast<std::uint64_t>(static_cast<std::uint32_t>(words.next())) * n;
  }
  return static_cast<std::uint32_t>(m >> 32);
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
