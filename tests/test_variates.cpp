// The engine's own random variates and kernels against their definitions:
// the ziggurat normal, exact bounded integers, the logit exp, and the
// market-entry waiting times. Tolerances are 4 standard errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "model/math_kernels.hpp"
#include "model/replicate.hpp"
#include "talentsim/rng.hpp"
#include "talentsim/scenario_loader.hpp"

namespace talentsim {
namespace {

// Standard normal CDF.
double phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// The Philox codes bits_lanes can be asked for here: portable always, AVX2
// and AVX-512VL where the processor has them.
std::vector<VectorCode> codes_this_processor_runs() {
  std::vector<VectorCode> codes = {VectorCode::portable};
  if (best_vector_code() >= VectorCode::avx2) codes.push_back(VectorCode::avx2);
  if (best_vector_code() >= VectorCode::avx512vl) codes.push_back(VectorCode::avx512vl);
  return codes;
}

TEST(Streams, LanesAndPrefetchedWordStreamsAreBitIdenticalToSingleCalls) {
  const Streams streams(0x0123456789abcdefull, 77);
  std::vector<std::uint64_t> who;
  std::vector<std::uint32_t> index;
  for (int i = 0; i < 37; ++i) {
    std::string name = "r";
    name += std::to_string(i);
    who.push_back(identity_hash(name));
    index.push_back(static_cast<std::uint32_t>(i * 7919 % kMaxStreamIndex));
  }
  // Counters go 16 at a time (with AVX2 or AVX-512VL straight from and to
  // the arrays), the last block 8 at a time if it has at most 8: counts
  // that end in a full, a partly filled wide and a narrow block. Each code
  // this processor runs; the identities' high halves are set, which the
  // AVX-512VL code leaves unmasked until the end.
  const std::vector<VectorCode> codes = codes_this_processor_runs();
  std::cout << "vector codes tested: " << codes.size() << " of 3\n";
  for (const std::size_t count : {std::size_t{5}, std::size_t{16}, std::size_t{29}, who.size()})
    for (const VectorCode code : codes) {
      std::vector<std::uint64_t> out(2 * count);
      bits_lanes(streams, who.data(), Purpose::Ties, index.data(), count, out.data(), code);
      for (std::size_t i = 0; i < count; ++i) {
        const auto w = streams.bits(who[i], Purpose::Ties, index[i]);
        EXPECT_EQ(out[2 * i], std::uint64_t(w[0]) << 32 | w[1])
            << "code " << int(code) << ", " << count;
        EXPECT_EQ(out[2 * i + 1], std::uint64_t(w[2]) << 32 | w[3])
            << "code " << int(code) << ", " << count;
      }
    }
  // A stream whose first 4 words were computed in lanes continues exactly.
  std::vector<std::uint64_t> first(4);
  const std::uint64_t id[2] = {who[3], who[3]};
  const std::uint32_t idx[2] = {0, 1};
  bits_lanes(streams, id, Purpose::Traits, idx, 2, first.data());
  WordStream plain(streams, who[3], Purpose::Traits);
  WordStream primed(streams, who[3], Purpose::Traits, first.data(), 4);
  for (int k = 0; k < 11; ++k) EXPECT_EQ(plain.next(), primed.next()) << "word " << k;
}

// Every code against Random123's Philox4x32-10 on counters with every bit
// pattern the engine can make: random identities, seeds and replicates
// (zero and all ones included), every purpose, indices up to the largest.
TEST(Streams, EveryVectorCodeMatchesRandom123OnRandomCounters) {
  std::mt19937_64 gen(20261128);
  const std::vector<VectorCode> codes = codes_this_processor_runs();
  const std::uint64_t seeds[] = {0, ~std::uint64_t{0}, gen(), gen(), gen()};
  const std::uint64_t replicates[] = {0, 0xffffffffu, gen()};
  const Purpose purposes[] = {Purpose::Traits, Purpose::Tenure,    Purpose::Ties,
                              Purpose::Entry,  Purpose::Choice,    Purpose::Follow,
                              Purpose::Design, Purpose::Bootstrap, Purpose::Calibration};
  const std::size_t count = 16 * 20 + 7;
  std::vector<std::uint64_t> who(count), out(2 * count);
  std::vector<std::uint32_t> index(count);
  int checked = 0;
  for (const auto seed : seeds)
    for (const auto replicate : replicates)
      for (const auto purpose : purposes) {
        const Streams streams(seed, replicate);
        for (std::size_t i = 0; i < count; ++i) {
          who[i] = i % 5 == 0 ? ~std::uint64_t{0} : gen();
          index[i] = i % 7 == 0 ? kMaxStreamIndex - 1
                                : static_cast<std::uint32_t>(gen() % kMaxStreamIndex);
        }
        for (const VectorCode code : codes) {
          std::fill(out.begin(), out.end(), 0);
          bits_lanes(streams, who.data(), purpose, index.data(), count, out.data(), code);
          for (std::size_t i = 0; i < count; ++i) {
            const auto w = streams.bits(who[i], purpose, index[i]);
            ASSERT_EQ(out[2 * i], std::uint64_t(w[0]) << 32 | w[1])
                << "code " << int(code) << ", seed " << seed << ", counter " << i;
            ASSERT_EQ(out[2 * i + 1], std::uint64_t(w[2]) << 32 | w[3])
                << "code " << int(code) << ", seed " << seed << ", counter " << i;
            ++checked;
          }
        }
      }
  std::cout << checked << " counters checked with " << codes.size() << " of 3 vector codes\n";
}

TEST(Ziggurat, MatchesTheNormalCdfIncludingTheTail) {
  const Streams streams(11, 0);
  const int n = 2'000'000;
  const std::vector<double> cuts = {-4.0, -3.7, -3.0, -2.0, -1.0, -0.3, 0.0,
                                    0.3,  1.0,  2.0,  3.0,  3.65, 4.0,  4.5};
  std::vector<std::int64_t> below(cuts.size(), 0);
  double sum = 0, sum2 = 0, sum4 = 0;
  for (int who = 0; who < n / 8; ++who) {
    WordStream words(streams, static_cast<std::uint64_t>(who), Purpose::Traits);
    for (int j = 0; j < 8; ++j) {
      const double z = standard_normal(words);
      sum += z;
      sum2 += z * z;
      sum4 += z * z * z * z;
      for (std::size_t c = 0; c < cuts.size(); ++c) below[c] += z < cuts[c];
    }
  }
  for (std::size_t c = 0; c < cuts.size(); ++c) {
    const double p = phi(cuts[c]), se = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(double(below[c]) / n, p, 4 * se + 1e-9) << "P(Z < " << cuts[c] << ")";
  }
  EXPECT_NEAR(sum / n, 0, 4 / std::sqrt(double(n)));
  EXPECT_NEAR(sum2 / n, 1, 4 * std::sqrt(2.0 / n));
  EXPECT_NEAR(sum4 / n, 3, 4 * std::sqrt(96.0 / n));
}

TEST(Ziggurat, OneWordEachPathIsBitIdenticalToTheStreamAndDeclinesExactlyWhenItMust) {
  // Six normals from precomputed words, as the population draw takes them.
  // Where the batch says it managed, every value equals the stream's and
  // the stream used six words; it declines exactly when the stream needed
  // more, which happens (1 - 0.985^6, about 8.6% of streams) often enough
  // here to be tested.
  const Streams streams(13, 2);
  int declined = 0;
  for (int who = 0; who < 100'000; ++who) {
    WordStream words(streams, static_cast<std::uint64_t>(who), Purpose::Traits);
    std::uint64_t first[7];
    for (auto& w : first) w = words.next();
    double batch[6], one_by_one[6];
    const bool managed = standard_normals_one_word_each(first, 6, batch);
    WordStream again(streams, static_cast<std::uint64_t>(who), Purpose::Traits);
    for (double& z : one_by_one) z = standard_normal(again);
    const bool six_words = again.next() == first[6];
    ASSERT_EQ(managed, six_words) << "stream " << who;
    if (!managed) {
      ++declined;
      continue;
    }
    for (int j = 0; j < 6; ++j) ASSERT_EQ(batch[j], one_by_one[j]) << "stream " << who;
  }
  EXPECT_GT(declined, 3'000);
  EXPECT_LT(declined, 12'000);
}

TEST(UniformBelow, IsExactlyUniformEvenWhenRejectionMatters) {
  // n = 3 * 2^30: a plain multiply-shift, floor(0.75 x), gives the values
  // divisible by 3 two preimages and the others one (P(x % 3 == 0) = 1/2);
  // exact draws give each residue 1/3. A quarter of the draws are rejected.
  const Streams streams(5, 0);
  WordStream words(streams, 1, Purpose::Ties);
  const std::uint32_t n = 3u << 30;
  const int draws = 600'000;
  std::int64_t count[3] = {0, 0, 0};
  for (int d = 0; d < draws; ++d) {
    const auto w = static_cast<std::uint32_t>(words.next() >> 32);
    const std::uint32_t x = uniform_below(n, w, words);
    ASSERT_LT(x, n);
    ++count[x % 3];
  }
  for (auto c : count) EXPECT_NEAR(double(c) / draws, 1.0 / 3, 4 * std::sqrt(2.0 / 9 / draws));
  // Small n: every value equally often.
  std::vector<std::int64_t> small(7, 0);
  for (int d = 0; d < 700'000; ++d)
    ++small[uniform_below(7, static_cast<std::uint32_t>(words.next()), words)];
  for (auto c : small) EXPECT_NEAR(double(c) / 700'000, 1.0 / 7, 4 * std::sqrt(6.0 / 49 / 700'000));
}

// |got - want| in units of the last place of want.
double ulp_error(double got, double want) {
  return std::abs(got - want) / (std::nextafter(std::abs(want), 1e300) - std::abs(want));
}

TEST(ExpKernel, WithinTwoUlpOfStdExp) {
  double worst = 0;
  const auto check = [&worst](double x) {
    worst = std::max(worst, ulp_error(detail::exp_nonpositive(x), std::exp(x)));
  };
  for (double x = -708.0; x <= 0; x += 0.0137) check(x);
  for (double x : {0.0, -0.0, -1e-300, -1e-17, -0.34657359, -0.34657360, -1.0, -700.0}) check(x);
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(detail::exp_nonpositive(0.0), 1.0);
  EXPECT_EQ(detail::exp_nonpositive(-709.0), 0.0);
  EXPECT_EQ(detail::exp_nonpositive(-std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_EQ(detail::exp_nonpositive(3.0), 1.0) << "clamped at 0";
}

TEST(LogKernel, WithinTwoUlpOfStdLogOnTheUnitInterval) {
  // The entry clocks' thresholds -log U: U = (k + 1/2) 2^-53 from a word,
  // so values from 2^-54 to 1, and near 1 most of all.
  double worst = 0;
  const auto check = [&worst](double x) {
    worst = std::max(worst, ulp_error(detail::log_unit(x), std::log(x)));
  };
  for (double x = 1.0; x > 1e-300; x *= 0.9993) check(x);
  for (double x = 1.0 - 0x1.0p-53; x > 0.999; x -= 1.37e-7) check(x);
  for (double x = 0.5; x < 1.0; x += 1.03e-6) check(x);
  for (std::uint64_t word : {std::uint64_t{0}, ~std::uint64_t{0}, std::uint64_t{1} << 63})
    check(open_unit_interval(word));
  check(std::sqrt(0.5));
  check(std::nextafter(std::sqrt(0.5), 0.0));
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(detail::log_unit(1.0), 0.0);
  EXPECT_EQ(detail::log_unit(0.5), std::log(0.5));
  EXPECT_EQ(detail::log_unit(0x1.0p-54), std::log(0x1.0p-54));
}

// The kernels on four lanes, in code compiled for AVX2 where the processor
// has it (as the engine's choice and clocks are) and for the baseline.
TALENTSIM_CLONES_FOR_AVX2 void kernels_on_lanes(const double* in, double* exp_out,
                                                double* log_out) {
  detail::Lanes x, y;
  std::memcpy(&x, in, sizeof x);
  y = -x;  // exp's domain is x <= 0
  detail::exp_nonpositive_in_place(y);
  std::memcpy(exp_out, &y, sizeof y);
  detail::log_unit_in_place(x);
  std::memcpy(log_out, &x, sizeof x);
}

TEST(MathKernels, FourLanesGiveTheScalarBits) {
  // Positive inputs: log takes them as they are (those in its domain), exp
  // their negation. Includes exp's edges (0, -708, -709, -inf, NaN) and
  // log's (2^-54, sqrt(1/2) and its neighbours, 1).
  const double inf = std::numeric_limits<double>::infinity();
  const double r = std::sqrt(0.5);
  std::vector<double> in = {0.0,
                            -0.0,
                            3.0,
                            708.0,
                            709.0,
                            inf,
                            std::numeric_limits<double>::quiet_NaN(),
                            1.0,
                            0.5,
                            0x1.0p-54,
                            r,
                            std::nextafter(r, 0.0),
                            std::nextafter(r, 1.0),
                            1.0 - 0x1.0p-53,
                            0.3,
                            0.7,
                            1e-300,
                            123.456};
  while (in.size() % 4 != 0) in.push_back(0.25);
  const auto same = [](double a, double b) {
    return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
  };
  for (std::size_t j = 0; j < in.size(); j += 4) {
    double exp_lanes[4], log_lanes[4];
    kernels_on_lanes(in.data() + j, exp_lanes, log_lanes);
    for (std::size_t k = 0; k < 4; ++k) {
      const double x = in[j + k];
      EXPECT_TRUE(same(exp_lanes[k], detail::exp_nonpositive(-x))) << "exp(-" << x << ")";
      if (x > 0x1.0p-1022 && x <= 1.0) {
        EXPECT_TRUE(same(log_lanes[k], detail::log_unit(x))) << "log(" << x << ")";
      }
    }
  }
}

TEST(MathKernels, ExponentialsInPlaceTakeAnyLength) {
  // The entry clocks' batch: whole lanes, then a padded tail.
  for (std::size_t n = 0; n <= 9; ++n) {
    std::vector<double> x(n);
    for (std::size_t j = 0; j < n; ++j) x[j] = 0.1 + 0.1 * double(j);
    detail::exponentials_in_place(x.data(), n);
    for (std::size_t j = 0; j < n; ++j)
      EXPECT_EQ(x[j], -detail::log_unit(0.1 + 0.1 * double(j))) << "n " << n << ", j " << j;
  }
}

TEST(CountLabs, ComparisonsAndHistogramCountTheSame) {
  // A choice's ties by lab, both ways, against a plain count: random labs
  // (-1: in no lab) for lab counts and degrees on both sides of the switch.
  std::mt19937_64 gen(11);
  for (const std::size_t lp : {4, 8, 12, 16, 20, 24, 28, 64, 132})  // every group count after 16s
    for (const std::size_t n : {0, 1, 2, 9, 40, 300}) {
      std::vector<std::int64_t> labs(n);
      std::vector<double> want(lp + 1, 0.0);
      for (auto& l : labs) {
        l = static_cast<std::int64_t>(gen() % (lp + 1)) - 1;
        if (l >= 0) want[static_cast<std::size_t>(l) + 1] += 1;
      }
      std::vector<double> by_compare(lp + 1, -7.0), by_histogram(lp + 1, -7.0), chosen(lp + 1);
      detail::count_labs_by_compare(labs.data(), n, lp, by_compare.data());
      detail::count_labs_by_histogram(labs.data(), n, lp, by_histogram.data());
      detail::count_labs(labs.data(), n, lp, chosen.data());
      for (std::size_t l = 1; l <= lp; ++l) {
        EXPECT_EQ(by_compare[l], want[l]) << "lp " << lp << ", n " << n << ", lab " << l - 1;
        EXPECT_EQ(by_histogram[l], want[l]) << "lp " << lp << ", n " << n << ", lab " << l - 1;
        EXPECT_EQ(chosen[l], want[l]) << "lp " << lp << ", n " << n << ", lab " << l - 1;
      }
      EXPECT_EQ(by_compare[0], -7.0) << "slot 0 (no lab) is the histogram's only";
    }
}

TEST(EntryClock, FiresWithTheGeometricLawOnBothSidesOfTheCliff) {
  // Hazard 0.1 per step before step 5, 0.4 after: P(first entry at step s)
  // = exp(-H(s)) (1 - exp(-h_s)), H(s) the hazard of steps 0..s-1.
  const double before = 0.1, after = 0.4;
  const int steps = 12, n = 400'000;
  const Streams streams(3, 0);
  std::vector<std::int64_t> count(steps + 1, 0);
  for (int i = 0; i < n; ++i) {
    const auto w = streams.bits(static_cast<std::uint64_t>(i), Purpose::Entry, 0);
    const auto at = detail::first_entry_step(0, -detail::log_unit(uniform_open01(w[0], w[1])),
                                             before, after, 5, steps);
    ++count[at == detail::kNoEntry ? steps : at];
  }
  double spent = 0;
  for (int s = 0; s <= steps; ++s) {
    const double h = s < 5 ? before : after;
    const double p = s < steps ? std::exp(-spent) * -std::expm1(-h) : std::exp(-spent);
    spent += h;
    EXPECT_NEAR(double(count[s]) / n, p, 4 * std::sqrt(p * (1 - p) / n)) << "step " << s;
  }
  // Starting mid-way and with the cliff already passed.
  EXPECT_EQ(detail::first_entry_step(7, 0.39, before, after, 5, steps), 7);
  EXPECT_EQ(detail::first_entry_step(7, 0.41, before, after, 5, steps), 8);
  EXPECT_EQ(detail::first_entry_step(3, 0.25, before, after, 5, steps),
            5);  // 0.2 before, then 0.05
  EXPECT_EQ(detail::first_entry_step(0, 100, before, 0.0, 5, steps), detail::kNoEntry);
  EXPECT_DOUBLE_EQ(detail::hazard_between(3, 8, before, after, 5), 2 * before + 3 * after);
}

TEST(EntryClock, FourAtATimeGiveTheSameStepsAsOneAtATime) {
  // first_entry_steps (the engine's, four lanes) against first_entry_step
  // over starts, cliffs before, at and after the start, zero, tiny and
  // large hazards, thresholds of 0, typical and huge, and boundaries where
  // threshold / hazard is a whole number of steps, or the cliff is near
  // 2^31 steps away; lengths leave every tail (n % 4 = 0, 1, 2, 3).
  std::mt19937_64 gen(5);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::vector<double> hazards = {0.0, 4.9e-324, 1e-300, 1e-6, 0.0077,
                                       0.1, 0.25,     1.0,    3.0,  1e300};
  const std::int32_t steps = 40;
  std::size_t tail = 0;
  for (const std::int32_t start : {0, 1, 17, 39, 40}) {
    const std::size_t n = 4000 + tail++ % 4;
    std::vector<double> threshold(n), before(n), after(n), cliff(n);
    for (std::size_t j = 0; j < n; ++j) {
      before[j] = hazards[gen() % hazards.size()];
      after[j] = hazards[gen() % hazards.size()];
      cliff[j] = static_cast<double>(start) + static_cast<double>(gen() % 60) - 20;
      if (gen() % 50 == 0) cliff[j] = 0x1p31 + static_cast<double>(gen() % 100) - 50;
      const double span = cliff[j] - static_cast<double>(start);
      switch (gen() % 6) {
        case 0:
          threshold[j] = 0;
          break;
        case 1:
          threshold[j] = 1e300;
          break;
        case 2:  // on a step boundary of the hazard after the cliff (or before)
          threshold[j] = static_cast<double>(gen() % 50) * (gen() % 2 ? after[j] : before[j]);
          break;
        case 3:  // spent exactly at the cliff
          threshold[j] = span > 0 ? span * before[j] : 0.0;
          break;
        default:
          threshold[j] = -std::log(1 - unit(gen));
          break;
      }
    }
    std::vector<std::int32_t> at(n, -7);
    detail::first_entry_steps(start, threshold.data(), before.data(), after.data(), cliff.data(),
                              steps, n, at.data());
    for (std::size_t j = 0; j < n; ++j)
      ASSERT_EQ(at[j], detail::first_entry_step(start, threshold[j], before[j], after[j],
                                                static_cast<std::int64_t>(cliff[j]), steps))
          << "start " << start << ", threshold " << threshold[j] << ", hazards " << before[j]
          << " / " << after[j] << ", cliff " << cliff[j];
  }
}

TEST(LogitChoice, InverseCdfSkipsClosedLabsAtBothEndsAndAtExactBoundaries) {
  // Five labs, A, D and E closed; B and C alike in everything, so each open
  // lab has weight 1 of 2 for the researcher at A (all tastes 0, the same
  // switching cost to both). u < 1/2 picks B, u >= 1/2 picks C: the
  // boundary itself goes up (the first lab whose cumulative weight
  // exceeds u * total), and nothing picks a closed lab. Five labs leave
  // three padding lanes in the vectors of eight. Search rates are 0, so
  // nobody moves; C closes at step 1, and then everything picks B.
  const Scenario s = load_scenario_text(R"(
name: cdf
start: 2026-01-01
end: 2026-02-01
tiers: [{name: r, search_rate: 0, reputation: {median: 1, sigma: 0}}]
market: {switching_cost: 1}
labs:
  - {name: A, headcount: {r: 1}, comp: {r: 1}, open: false}
  - {name: B, comp: {r: 1}}
  - {name: C, comp: {r: 1}}
  - {name: D, comp: {r: 1}, open: false}
  - {name: E, comp: {r: 1}, open: false}
events:
  - {date: 2026-01-08, type: close, lab: C}
)",
                                        "cdf.yaml");
  const Model model(s);
  detail::Replicate r(model, 1, 0, nullptr);
  r.begin_step(0);
  EXPECT_EQ(r.pick_lab(0, 0.0), 1);
  EXPECT_EQ(r.pick_lab(0, std::nextafter(0.5, 0.0)), 1);
  EXPECT_EQ(r.pick_lab(0, 0.5), 2);
  EXPECT_EQ(r.pick_lab(0, std::nextafter(1.0, 0.0)), 2);
  EXPECT_EQ(r.pick_lab(0, 1.0), 2);  // u * total = total: the last open lab absorbs it
  r.market_entry(0);
  r.choose_all(0);
  r.finish_step(0);
  r.begin_step(1);
  for (const double u : {0.0, 0.5, std::nextafter(1.0, 0.0), 1.0}) EXPECT_EQ(r.pick_lab(0, u), 1);
}

}  // namespace
}  // namespace talentsim
