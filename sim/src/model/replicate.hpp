// One replicate of the reference model (MODEL.md sections 3-7) as an
// evolving state. Internal to the model library; benchmarks include it to
// time the parts of a step.
//
// Cost per step is proportional to what happens in the step (entrants,
// movers, their followers, L x K aggregates), not to the population:
//
// - Market entry by waiting times. A researcher's own entries form a
//   Bernoulli process whose per-step probability p = 1 - exp(-h) changes only
//   at known times (crossing the vesting cliff) or on events (moving, a
//   policy changing the lab's attrition or cliff factor). Entry in the first
//   step at which the cumulative hazard h reaches an Exp(1) threshold has
//   exactly that law: P(no entry in steps a..b) = exp(-sum h). So each
//   researcher carries a threshold ("clock"), is filed in a calendar under
//   the step it fires, and is touched again only then; when the rate changes
//   the unspent part of the threshold, again Exp(1) by memorylessness, is
//   rescheduled under the new rate. A fresh clock starts after each entry
//   and each move.
// - Tenure is stored as the step at which it was 0 (an anchor), so nobody's
//   tenure has to be incremented.
// - Star power and star mass are sums kept up to date by each move with
//   compensated (Neumaier) addition, whose error does not grow with the
//   number of moves.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "talentsim/model.hpp"
#include "talentsim/rng.hpp"

namespace talentsim::detail {

// A clock that does not fire within the run.
inline constexpr std::int32_t kNoEntry = std::numeric_limits<std::int32_t>::max();

// The first step >= start at which a clock with threshold `threshold`
// fires: steps before `cliff_end` carry hazard `hazard_before` each, later
// steps `hazard_after`. kNoEntry if that is not before `steps`. The
// definition, one clock at a time: the engine files its clocks with
// first_entry_steps, which the tests hold to this bit for bit.
std::int32_t first_entry_step(std::int64_t start, double threshold, double hazard_before,
                              double hazard_after, std::int64_t cliff_end, std::int32_t steps);

// first_entry_step(start, threshold[j], hazard_before[j], hazard_after[j],
// cliff_end[j], steps) into at[j] for j < n, four at a time: the same
// steps, bit for bit. The cliffs as doubles (whole numbers).
void first_entry_steps(std::int32_t start, const double* threshold, const double* hazard_before,
                       const double* hazard_after, const double* cliff_end, std::int32_t steps,
                       std::size_t n, std::int32_t* at);

// Hazard accumulated over steps from .. to-1 under the same schedule.
double hazard_between(std::int64_t from, std::int64_t to, double hazard_before, double hazard_after,
                      std::int64_t cliff_end);

// x[j] = -log x[j] for j < n (every x[j] normal and in (0, 1]): the entry
// clocks' Exp(1) thresholds from their uniforms, four at a time.
void exponentials_in_place(double* x, std::size_t n);

// Neumaier's compensated sum: the error stays at a few ulp of the result
// however many additions and subtractions it sees.
class CompensatedSum {
 public:
  void add(double x) {
    const double t = sum_ + x;
    carry_ += std::abs(sum_) >= std::abs(x) ? (sum_ - t) + x : (x - t) + sum_;
    sum_ = t;
  }
  void reset() { sum_ = carry_ = 0; }
  double value() const { return sum_ + carry_; }

 private:
  double sum_ = 0, carry_ = 0;
};

class Replicate {
 public:
  explicit Replicate(const Model& model);
  Replicate(const Model& model, std::uint64_t seed, std::int64_t replicate, MoveObserver* observer);

  // Starts replicate `replicate` afresh, reusing the memory of the last.
  void restart(std::uint64_t seed, std::int64_t replicate, MoveObserver* observer,
               const std::atomic<bool>* cancel = nullptr);

  // Every step, then the result (moved out).
  ReplicateResult run(const std::atomic<bool>* cancel = nullptr);

  // One step = begin_step, market_entry, choose_all, finish_step.
  void step(int t);
  void begin_step(int t);    // 1. events, 2. aggregates
  void market_entry(int t);  // 3. who is on the market: on_market()
  void choose_all(int t);    // 4. choice, 5. capacity
  void finish_step(int t);   // 6. moves, new clocks, 7. record

  // The lab researcher i on the market picks, in the current step, for the uniform u
  // (inverse CDF of the logit), or -1 if no lab is open. No side effects
  // beyond scratch space.
  int pick_lab(std::int32_t i, double u);

  const std::vector<std::int32_t>& on_market() const { return on_market_; }
  // The researchers drawn for this replicate by restart().
  const Population& drawn() const { return pop_; }
  std::size_t population() const { return lab_.size(); }

 private:
  struct Offer {
    std::int32_t researcher;
    int lab;
    double factor;
  };
  std::size_t lk(int l, int k) const { return static_cast<std::size_t>(l) * K_ + k; }
  double hazard(int l, int k, bool before_cliff) const {
    return hazard_[lk(l, k) * 2 + before_cliff];
  }
  std::int64_t cliff_end(std::int32_t i) const { return anchor_[i] + cliff_steps_ceil_; }

  void mark(std::int32_t i, std::uint8_t flag);
  void move(int t, std::int32_t i, int to);
  void forced_move(int t, std::int32_t i, int to);
  void apply_event(int t, const Event& e);
  void poach(const Event& e);
  void close(int l);
  void set_entry_rates(int t, int l, const Event& e);
  void update_hazards(int l);
  void start_clocks(std::int32_t start);
  void draw_batch(Purpose purpose, std::uint32_t index);
  void file_clocks(std::int32_t start);
  void choose(std::int32_t i, std::uint64_t first, std::uint64_t second);
  void admit(int l);
  void reject(std::int32_t i);
  void put_on_market(std::int32_t i);

  const Model& m_;
  const Scenario& s_;
  const std::vector<Identity>& ids_;
  Streams streams_;
  Population pop_;
  MoveObserver* observer_ = nullptr;
  int L_, K_, star_;
  ReplicateResult result_;

  // Researchers.
  // Compact, since choices read the labs of ties at random: L, K < 2^15.
  std::vector<std::int16_t> lab_, tier_;
  std::vector<std::int32_t> anchor_;       // tenure at step t = t - anchor
  std::vector<std::int32_t> clock_start_;  // step the current clock counts from
  std::vector<double> clock_left_;         // its threshold, from clock_start
  std::vector<std::int32_t> entry_step_;   // when it fires; kNoEntry
  std::vector<std::uint8_t> flags_;
  std::vector<std::int32_t> follower_begin_, followers_;
  std::vector<std::vector<std::int32_t>> calendar_;  // [step]: clocks filed there

  // Labs.
  std::vector<std::int64_t> counts_;      // [L][K], current
  std::vector<std::int64_t> lab_total_;   // [L], current
  std::vector<std::int64_t> star_count_;  // [L], current
  std::vector<std::int64_t> lab_counts_;  // H_l frozen at step 2
  std::vector<char> open_;
  std::vector<double> funding0_, funding_, prestige_, mission_, openness_, attrition_,
      cliff_factor_, comp_mult_;
  std::vector<CompensatedSum> power_, mass_;    // current S_l, Q_l
  std::vector<double> star_power_, star_mass_;  // frozen at step 2
  // The parts of V_il that do not depend on the researcher, frozen at step
  // 2, padded to Lp = L rounded up to 4 (padding: closed, all 0), so that
  // the choice vectorises. log_comp_ is [K][Lp]; the others [Lp].
  int Lp_ = 0;
  std::vector<double> log_comp_, prestige_term_, magnet_term_, mission_term_, openness_term_,
      switching_, open_weight_;
  std::vector<double> hazard_;  // [L][K][before cliff]

  // Per step.
  std::vector<std::int32_t> flagged_, moved_now_, moved_prev_, on_market_, reclock_, poach_heap_;
  std::vector<Offer> offers_;
  // Researchers whose draws are computed together, and those draws.
  std::vector<std::int32_t> batch_;
  std::vector<std::uint64_t> batch_who_, batch_words_;
  std::vector<std::uint32_t> batch_index_;
  std::vector<double> thresholds_;                                // entry clocks' Exp(1) thresholds
  std::vector<double> hazard_before_, hazard_after_, cliff_end_;  // theirs
  std::vector<std::int32_t> fire_step_;                           // when they fire
  std::vector<std::pair<std::int32_t, int>> pending_;
  std::vector<std::vector<std::pair<double, std::int32_t>>> applicants_;
  std::vector<double> utility_, magnet_, comp_scratch_;  // [Lp] scratch
  std::vector<double> tie_count_;                        // [1 + Lp] scratch
  std::vector<std::int64_t> tie_lab_;                    // [degree] scratch: labs of ties
  double cliff_steps_ = 0, step_fraction_ = 0;
  std::int64_t cliff_steps_ceil_ = 0;
  // This step's first open lab without a capacity (where the displaced
  // go when rejected) and last open lab (which absorbs rounding at the top
  // of the logit's CDF), set in begin_step after the events; -1 if none.
  int first_uncapped_open_ = -1, last_open_ = -1;
};

}  // namespace talentsim::detail
