#include "replicate.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "math_kernels.hpp"
#include "talentsim/errors.hpp"

namespace talentsim::detail {

TALENTSIM_CLONES_FOR_AVX2 void exponentials_in_place(double* x, std::size_t n) {
  const auto exponential = [](Lanes& u) {
    log_unit_in_place(u);
    u = -u;
  };
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    Lanes u;
    std::memcpy(&u, x + j, sizeof u);
    exponential(u);
    std::memcpy(x + j, &u, sizeof u);
  }
  if (j < n) {  // the last n % 4, in lanes padded with 1 (whose log is 0)
    Lanes u = {1.0, 1.0, 1.0, 1.0};
    std::memcpy(&u, x + j, (n - j) * sizeof(double));
    exponential(u);
    std::memcpy(x + j, &u, (n - j) * sizeof(double));
  }
}

std::int32_t first_entry_step(std::int64_t start, double threshold, double hazard_before,
                              double hazard_after, std::int64_t cliff_end, std::int32_t steps) {
  // Fires in the step start + j with j = floor(threshold / h) under a
  // constant hazard h: P(j) = exp(-j h) (1 - exp(-h)), the geometric law of
  // a Bernoulli(1 - exp(-h)) process.
  std::int64_t s = start;
  if (s < cliff_end) {
    const std::int64_t span = cliff_end - s;
    if (hazard_before > 0) {
      const double j = std::floor(threshold / hazard_before);
      if (j < static_cast<double>(span)) {
        const std::int64_t at = s + static_cast<std::int64_t>(j);
        return at < steps ? static_cast<std::int32_t>(at) : kNoEntry;
      }
      threshold = std::max(0.0, threshold - static_cast<double>(span) * hazard_before);
    }
    s = cliff_end;
  }
  if (s >= steps || !(hazard_after > 0)) return kNoEntry;
  // j is clamped to the run so that the conversion is always defined.
  const double j = std::floor(threshold / hazard_after);
  const double left = static_cast<double>(steps - s);
  const auto at = static_cast<std::int32_t>(s + static_cast<std::int64_t>(std::min(left, j)));
  return j < left ? at : kNoEntry;
}

TALENTSIM_CLONES_FOR_AVX2 void first_entry_steps(std::int32_t start, const double* threshold,
                                                 const double* hazard_before,
                                                 const double* hazard_after,
                                                 const double* cliff_end, std::int32_t steps,
                                                 std::size_t n, std::int32_t* at) {
  // first_entry_step's arithmetic, in the same IEEE operations, on four
  // clocks at once, its branches turned into selects. Step numbers are
  // whole doubles (exact below 2^53). floor(x) < k for a whole k iff x < k,
  // and a step is only taken where that holds, so floor is needed only for
  // 0 <= x < k < 2^33 (a span to a cliff up to 2^31 steps past an anchor),
  // where rounding to a whole number (by adding and removing 2^52) and
  // stepping down where that went up is exact (it is on all of [0, 2^52)).
  const auto floor_small = [](const Lanes& x, Lanes& r) {
    r = (x + 0x1p52) - 0x1p52;
    r = r > x ? r - 1.0 : r;
  };
  const double s = start, last = steps;
  for (std::size_t j = 0; j < n; j += 4) {
    const std::size_t m = std::min<std::size_t>(4, n - j);
    Lanes t = {0, 0, 0, 0}, hb = t, ha = t, ce = t;  // the last n % 4 padded
    std::memcpy(&t, threshold + j, m * sizeof(double));
    std::memcpy(&hb, hazard_before + j, m * sizeof(double));
    std::memcpy(&ha, hazard_after + j, m * sizeof(double));
    std::memcpy(&ce, cliff_end + j, m * sizeof(double));
    // Before the cliff: fires there if threshold / hazard_before < span.
    const auto before = s < ce;
    const Lanes span = ce - s;
    const Lanes xb = t / hb;
    const auto spends_before = before & (hb > 0);
    const auto fires_before = spends_before & (xb < span);
    Lanes at_before;
    floor_small(xb, at_before);
    at_before += s;
    // Else from the cliff (or the start) on, with what is left.
    const Lanes left_after_cliff = t - span * hb;
    const Lanes rest = spends_before ? (0.0 < left_after_cliff ? left_after_cliff : 0.0) : t;
    const Lanes from = before ? ce : s;
    const Lanes xa = rest / ha;
    const auto fires_after = (from < last) & (ha > 0) & (xa < last - from);
    Lanes at_after;
    floor_small(xa, at_after);
    at_after += from;
    const auto fires = fires_before ? at_before < last : fires_after;
    const Lanes step = fires_before ? at_before : at_after;
    for (std::size_t k = 0; k < m; ++k)
      at[j + k] = fires[k] ? static_cast<std::int32_t>(step[k]) : kNoEntry;
  }
}

double hazard_between(std::int64_t from, std::int64_t to, double hazard_before, double hazard_after,
                      std::int64_t cliff_end) {
  if (to <= from) return 0;
  const std::int64_t before = std::clamp<std::int64_t>(cliff_end - from, 0, to - from);
  const std::int64_t after = (to - from) - before;
  return (before > 0 ? static_cast<double>(before) * hazard_before : 0.0) +
         (after > 0 ? static_cast<double>(after) * hazard_after : 0.0);
}

namespace {

// Flags of a researcher for the current step.
enum : std::uint8_t {
  kForced = 1,     // moved by a move or found event: not on the market at all
  kPoached = 2,    // targeted by a poach event
  kDisplaced = 4,  // their lab closed
  kMovedNow = 8,   // moved during this step (by any cause)
  kOnMarket = 16,  // on the market this step
  kReclock = 32,   // needs a fresh entry clock from the next step
};

}  // namespace

Replicate::Replicate(const Model& model)
    : m_(model),
      s_(model.scenario()),
      ids_(model.identities()),
      streams_(0, 0),
      L_(s_.lab_count()),
      K_(s_.tier_count()),
      star_(s_.star_tier()) {
  if (L_ >= std::numeric_limits<std::int16_t>::max() ||
      K_ >= std::numeric_limits<std::int16_t>::max())
    throw InternalError("Replicate: more than 32,766 labs or tiers");
  tier_.resize(ids_.size());
  for (std::size_t i = 0; i < ids_.size(); ++i) tier_[i] = static_cast<std::int16_t>(ids_[i].tier);
}

Replicate::Replicate(const Model& model, std::uint64_t seed, std::int64_t replicate,
                     MoveObserver* observer)
    : Replicate(model) {
  restart(seed, replicate, observer);
}

// Fresh clocks from step `start` for the researchers in batch_: their
// words computed 16 at a time, their thresholds 4 at a time. Defined
// before its first use: Clang refuses to make a function multiversioned
// (target_clones) after a call to it, should its clones be enabled again
// (math_kernels.hpp says why they are off).
TALENTSIM_CLONES_FOR_AVX2 void Replicate::start_clocks(std::int32_t start) {
  if (start >= s_.steps) {
    for (const auto i : batch_) entry_step_[i] = kNoEntry;
    return;
  }
  draw_batch(Purpose::Entry, static_cast<std::uint32_t>(start));
  const std::size_t n = batch_.size();
  thresholds_.resize(n);
  for (std::size_t b = 0; b < n; ++b) thresholds_[b] = open_unit_interval(batch_words_[2 * b]);
  exponentials_in_place(thresholds_.data(), n);
  file_clocks(start);
}

// The clocks of batch_, from step `start`, with thresholds_: each clock's
// hazards and cliff, then the steps they fire, four at a time, then each
// filed in the calendar under its step.
void Replicate::file_clocks(std::int32_t start) {
  const std::size_t n = batch_.size();
  hazard_before_.resize(n);
  hazard_after_.resize(n);
  cliff_end_.resize(n);
  fire_step_.resize(n);
  for (std::size_t b = 0; b < n; ++b) {
    const auto i = batch_[b];
    hazard_before_[b] = hazard(lab_[i], tier_[i], true);
    hazard_after_[b] = hazard(lab_[i], tier_[i], false);
    cliff_end_[b] = static_cast<double>(cliff_end(i));
  }
  first_entry_steps(start, thresholds_.data(), hazard_before_.data(), hazard_after_.data(),
                    cliff_end_.data(), s_.steps, n, fire_step_.data());
  for (std::size_t b = 0; b < n; ++b) {
    const auto i = batch_[b];
    const std::int32_t at = fire_step_[b];
    clock_start_[i] = start;
    clock_left_[i] = thresholds_[b];
    entry_step_[i] = at;
    if (at != kNoEntry) calendar_[static_cast<std::size_t>(at)].push_back(i);
  }
}

void Replicate::restart(std::uint64_t seed, std::int64_t replicate, MoveObserver* observer,
                        const std::atomic<bool>* cancel) {
  streams_ = Streams(seed, static_cast<std::uint64_t>(replicate));
  m_.draw_population(seed, replicate, pop_, cancel);
  observer_ = observer;
  result_ = ReplicateResult(m_.shape());
  result_.replicate = replicate;
  for (auto* list : {&flagged_, &moved_now_, &moved_prev_, &on_market_, &reclock_}) list->clear();
  offers_.clear();
  pending_.clear();
  const std::size_t n = ids_.size();
  lab_.resize(n);
  anchor_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    lab_[i] = static_cast<std::int16_t>(ids_[i].lab);
    anchor_[i] = -pop_.tenure[i];
  }
  clock_start_.assign(n, 0);
  clock_left_.assign(n, 0);
  entry_step_.assign(n, kNoEntry);
  flags_.assign(n, 0);

  counts_.assign(static_cast<std::size_t>(L_) * K_, 0);
  lab_total_.assign(L_, 0);
  star_count_.assign(L_, 0);
  power_.assign(L_, {});
  mass_.assign(L_, {});
  // Researchers come lab by lab (named ones last), so each lab's star power
  // is summed in a register over its run of researchers and stored when the
  // lab changes: the same additions in the same order, without a store and
  // a reload between consecutive ones (0.1 ms of a replicate's start).
  // Headcounts likewise, by (lab, tier) cell; the labs' totals and star
  // counts follow from them.
  CompensatedSum power, mass;
  int power_lab = -1, mass_lab = -1;
  constexpr std::size_t kNoCell = ~std::size_t{0};
  std::size_t cell = kNoCell;
  std::int64_t in_cell = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int l = lab_[i];
    if (l < 0) continue;
    const int k = tier_[i];
    if (lk(l, k) != cell) {
      if (cell != kNoCell) counts_[cell] += in_cell;
      cell = lk(l, k);
      in_cell = 0;
    }
    ++in_cell;
    if (l != power_lab) {
      if (power_lab >= 0) power_[power_lab] = power;
      power = power_[l];
      power_lab = l;
    }
    power.add(pop_.reputation[i]);
    if (k == star_) {
      if (l != mass_lab) {
        if (mass_lab >= 0) mass_[mass_lab] = mass;
        mass = mass_[l];
        mass_lab = l;
      }
      mass.add(pop_.reputation[i]);
    }
  }
  if (cell != kNoCell) counts_[cell] += in_cell;
  if (power_lab >= 0) power_[power_lab] = power;
  if (mass_lab >= 0) mass_[mass_lab] = mass;
  for (int l = 0; l < L_; ++l) {
    for (int k = 0; k < K_; ++k) lab_total_[l] += counts_[lk(l, k)];
    star_count_[l] = counts_[lk(l, star_)];
  }

  open_.resize(L_);
  funding0_.resize(L_);
  funding_.resize(L_);
  prestige_.resize(L_);
  mission_.resize(L_);
  openness_.resize(L_);
  attrition_.resize(L_);
  cliff_factor_.resize(L_);
  comp_mult_.assign(static_cast<std::size_t>(L_) * K_, 1.0);
  for (int l = 0; l < L_; ++l) {
    const Lab& lab = s_.labs[l];
    open_[l] = lab.open;
    funding0_[l] = funding_[l] = lab.funding;
    prestige_[l] = lab.prestige;
    mission_[l] = lab.mission;
    openness_[l] = lab.openness;
    attrition_[l] = lab.attrition;
    cliff_factor_[l] = lab.cliff_factor;
  }

  // Followers of each researcher: the reverse of the tie lists, by a
  // counting sort. j's followers are counted at follower_begin_[j + 2], so
  // that the prefix sums leave the start of j's list at [j + 1], the cursor
  // at which they are placed; placing them moves it to j's end, the start of
  // j + 1's, and so leaves [j] at the start of j's list for every j. The
  // ties are placed in population order, so each list is in population
  // order. The loop bounds are read once: the stores could alias them.
  if (s_.market.follow_prob > 0 && !pop_.ties.empty()) {
    follower_begin_.assign(n + 2, 0);
    for (auto j : pop_.ties) ++follower_begin_[static_cast<std::size_t>(j) + 2];
    std::partial_sum(follower_begin_.begin(), follower_begin_.end(), follower_begin_.begin());
    followers_.resize(pop_.ties.size());
    std::int32_t* const cursor = follower_begin_.data() + 1;
    std::int32_t* const out = followers_.data();
    const std::int32_t* const ties = pop_.ties.data();
    const std::int32_t* const tie_begin = pop_.tie_begin.data();
    for (std::int32_t i = 0, count = static_cast<std::int32_t>(n); i < count; ++i)
      for (std::int32_t t = tie_begin[i], last = tie_begin[i + 1]; t < last; ++t)
        out[cursor[ties[t]]++] = i;
  }

  step_fraction_ = s_.step_days / 365.25;
  cliff_steps_ = s_.market.cliff_years * 365.25 / s_.step_days;
  // Whole-step tenure tau is before the cliff iff tau < cliff_steps, i.e.
  // tau < ceil(cliff_steps). Tenures are below 2^31 steps, so a cliff
  // beyond that is the same as one at 2^31.
  cliff_steps_ceil_ = static_cast<std::int64_t>(std::ceil(std::min(cliff_steps_, 0x1p31)));
  hazard_.assign(static_cast<std::size_t>(L_) * K_ * 2, 0.0);
  for (int l = 0; l < L_; ++l) update_hazards(l);

  calendar_.resize(static_cast<std::size_t>(s_.steps));
  for (auto& bucket : calendar_) bucket.clear();
  batch_.clear();
  for (std::size_t i = 0; i < n; ++i)
    if (lab_[i] >= 0) batch_.push_back(static_cast<std::int32_t>(i));
  start_clocks(0);

  star_power_.assign(L_, 0);
  star_mass_.assign(L_, 0);
  lab_counts_.assign(L_, 0);
  Lp_ = (L_ + 3) / 4 * 4;
  const auto lp = static_cast<std::size_t>(Lp_);
  log_comp_.assign(lp * K_, 0.0);
  for (auto* v : {&prestige_term_, &magnet_term_, &mission_term_, &openness_term_, &switching_,
                  &open_weight_, &utility_, &magnet_, &comp_scratch_})
    v->assign(lp, 0.0);
  tie_count_.assign(lp + 1, 0.0);
  tie_lab_.resize(static_cast<std::size_t>(std::max<std::int64_t>(1, s_.network.degree)));
  applicants_.resize(L_);
}

ReplicateResult Replicate::run(const std::atomic<bool>* cancel) {
  for (int t = 0; t < s_.steps; ++t) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw ReplicateCancelled{};
    step(t);
  }
  return std::move(result_);
}

void Replicate::step(int t) {
  begin_step(t);
  market_entry(t);
  choose_all(t);
  finish_step(t);
}

// Per-step hazard h = lambda D / 365.25 of lab l's researchers of tier k,
// so that the entry probability is p = 1 - exp(-h) (MODEL.md section 1).
void Replicate::update_hazards(int l) {
  for (int k = 0; k < K_; ++k) {
    const double h = s_.tiers[k].search_rate * attrition_[l] * step_fraction_;
    hazard_[lk(l, k) * 2 + 0] = h;
    hazard_[lk(l, k) * 2 + 1] = h * cliff_factor_[l];
  }
}

// The first two words of (who, purpose, index) for everyone in batch_.
void Replicate::draw_batch(Purpose purpose, std::uint32_t index) {
  const std::size_t n = batch_.size();
  batch_who_.resize(n);
  batch_index_.assign(n, index);
  batch_words_.resize(2 * n);
  for (std::size_t b = 0; b < n; ++b) batch_who_[b] = ids_[batch_[b]].who;
  bits_lanes(streams_, batch_who_.data(), purpose, batch_index_.data(), n, batch_words_.data());
}

void Replicate::mark(std::int32_t i, std::uint8_t flag) {
  if (!flags_[i]) flagged_.push_back(i);
  flags_[i] |= flag;
}

void Replicate::move(int t, std::int32_t i, int to) {
  const int from = lab_[i];
  const int k = tier_[i];
  const double r = pop_.reputation[i];
  if (from >= 0) {
    --counts_[lk(from, k)];
    ++result_.departures[result_.tlk(t, from, k)];
    power_[from].add(-r);
    if (--lab_total_[from] == 0) power_[from].reset();
    if (k == star_) {
      mass_[from].add(-r);
      if (--star_count_[from] == 0) mass_[from].reset();
    }
  }
  if (to >= 0) {
    ++counts_[lk(to, k)];
    ++result_.hires[result_.tlk(t, to, k)];
    ++lab_total_[to];
    power_[to].add(r);
    if (k == star_) {
      ++star_count_[to];
      mass_[to].add(r);
    }
  }
  if (from >= 0 && to >= 0) ++result_.flows[result_.flk(from, to, k)];
  lab_[i] = static_cast<std::int16_t>(to);
  if (!(flags_[i] & kMovedNow)) moved_now_.push_back(i);
  mark(i, kMovedNow);
  if (observer_) observer_->on_move(t, i, from, to, k);
}

void Replicate::forced_move(int t, std::int32_t i, int to) {
  if (lab_[i] == to) return;  // already there: not a move (documented reading)
  mark(i, kForced);
  move(t, i, to);
}

void Replicate::apply_event(int t, const Event& e) {
  const int l = e.lab;
  switch (e.type) {
    case EventType::Raise:
      funding_[l] += e.amount;
      break;
    case EventType::Comp:
      for (int k = 0; k < K_; ++k)
        if (e.tiers.empty() || std::find(e.tiers.begin(), e.tiers.end(), k) != e.tiers.end())
          comp_mult_[lk(l, k)] *= e.factor;
      break;
    case EventType::Prestige:
      prestige_[l] += e.delta;
      break;
    case EventType::Policy:
      if (e.mission) mission_[l] = *e.mission;
      if (e.openness) openness_[l] = *e.openness;
      if (e.attrition || e.cliff_factor) set_entry_rates(t, l, e);
      break;
    case EventType::Move:
      forced_move(t, m_.named_index(e.researcher), l);
      break;
    case EventType::Found:
      open_[l] = true;
      for (int f : e.founders) forced_move(t, m_.named_index(f), l);
      break;
    case EventType::Close:
      close(l);
      break;
    case EventType::Poach:
      poach(e);
      break;
  }
}

// A policy changes lab l's entry rates from step t on: each member's clock
// keeps the part of its threshold not yet spent (Exp(1) again, by
// memorylessness) and is rescheduled under the new rates. Someone who moved
// this step gets a fresh clock at the end of it anyway.
void Replicate::set_entry_rates(int t, int l, const Event& e) {
  batch_.clear();
  thresholds_.clear();
  for (std::size_t j = 0; j < lab_.size(); ++j) {
    const auto i = static_cast<std::int32_t>(j);
    if (lab_[i] != l || (flags_[i] & kMovedNow) || clock_start_[i] > t) continue;
    const int k = tier_[i];
    const double spent =
        hazard_between(clock_start_[i], t, hazard(l, k, true), hazard(l, k, false), cliff_end(i));
    batch_.push_back(i);
    thresholds_.push_back(std::max(0.0, clock_left_[i] - spent));
  }
  if (e.attrition) attrition_[l] = *e.attrition;
  if (e.cliff_factor) cliff_factor_[l] = *e.cliff_factor;
  update_hazards(l);
  file_clocks(t);
}

void Replicate::close(int l) {
  open_[l] = false;
  for (std::size_t i = 0; i < lab_.size(); ++i)
    if (lab_[i] == l) mark(static_cast<std::int32_t>(i), kDisplaced);
}

// The `count` highest-reputation researchers in other labs (within the
// event's tiers and source labs) are on the market with an offer.
// Researchers already moved by an event this step are not eligible; equal
// reputations are broken by population order. One pass keeps the best so
// far in a heap whose top is the weakest of them: once it is full, most
// researchers fail the first comparison and are not looked at further.
void Replicate::poach(const Event& e) {
  const auto higher = [&](std::int32_t a, std::int32_t b) {
    if (pop_.reputation[a] != pop_.reputation[b]) return pop_.reputation[a] > pop_.reputation[b];
    return a < b;
  };
  const auto eligible = [&](std::int32_t i) {
    const int at = lab_[i];
    if (at < 0 || at == e.lab || (flags_[i] & kForced)) return false;
    if (!e.tiers.empty() && std::find(e.tiers.begin(), e.tiers.end(), tier_[i]) == e.tiers.end())
      return false;
    return e.from.empty() || std::find(e.from.begin(), e.from.end(), at) != e.from.end();
  };
  const auto take = static_cast<std::size_t>(std::max<std::int64_t>(0, e.count));
  auto& best = poach_heap_;  // a heap under `higher`: its front is the weakest kept
  best.clear();
  if (take == 0) return;
  const auto n = static_cast<std::int32_t>(lab_.size());
  for (std::int32_t i = 0; i < n; ++i) {
    if (best.size() == take && !higher(i, best.front())) continue;
    if (!eligible(i)) continue;
    if (best.size() == take) {
      std::pop_heap(best.begin(), best.end(), higher);
      best.back() = i;
    } else {
      best.push_back(i);
    }
    std::push_heap(best.begin(), best.end(), higher);
  }
  std::sort_heap(best.begin(), best.end(), higher);
  for (const auto i : best) {
    mark(i, kPoached);
    offers_.push_back({i, e.lab, e.factor});
  }
}

void Replicate::begin_step(int t) {
  // 1. Events, in file order.
  for (int e : m_.events_at(t)) apply_event(t, s_.events[e]);

  // 2. Aggregates, frozen for the rest of the step.
  double total_power = 0;
  for (int l = 0; l < L_; ++l) {
    star_power_[l] = power_[l].value();
    star_mass_[l] = mass_[l].value();
    total_power += star_power_[l];
    lab_counts_[l] = lab_total_[l];
  }
  first_uncapped_open_ = last_open_ = -1;
  for (int l = 0; l < L_; ++l) {
    if (open_[l] && !s_.labs[l].capacity && first_uncapped_open_ < 0) first_uncapped_open_ = l;
    if (open_[l]) last_open_ = l;
  }

  const Market& mk = s_.market;
  for (int l = 0; l < L_; ++l) {
    const double share = total_power > 0 ? star_power_[l] / total_power : 0.0;
    const double f = (funding0_[l] > 0 && mk.comp_funding_elasticity != 0)
                         ? std::pow(funding_[l] / funding0_[l], mk.comp_funding_elasticity)
                         : 1.0;
    for (int k = 0; k < K_; ++k)
      log_comp_[static_cast<std::size_t>(k) * Lp_ + l] =
          std::log(s_.labs[l].comp[k] * comp_mult_[lk(l, k)] * f);
    prestige_term_[l] = prestige_[l] + mk.prestige_feedback * share;
    magnet_term_[l] = mk.star_magnet * std::log1p(star_mass_[l] / mk.star_magnet_scale);
    mission_term_[l] = mission_[l];
    openness_term_[l] = openness_[l];
    switching_[l] = mk.switching_cost;
    open_weight_[l] = open_[l] ? 1.0 : 0.0;
  }
}

void Replicate::put_on_market(std::int32_t i) {
  if (flags_[i] & kOnMarket) return;
  mark(i, kOnMarket);
  on_market_.push_back(i);
}

void Replicate::market_entry(int t) {
  on_market_.clear();
  // Researchers whose own clock fires now. Entries left behind by a
  // rescheduled clock no longer match entry_step_ and are skipped.
  const auto& due = calendar_[static_cast<std::size_t>(t)];
  for (std::size_t c = 0, n = due.size(); c < n; ++c) {
    if (c + 8 < n) {
      __builtin_prefetch(&entry_step_[due[c + 8]]);
      __builtin_prefetch(&flags_[due[c + 8]]);
    }
    const auto i = due[c];
    if (entry_step_[i] != t) continue;
    entry_step_[i] = kNoEntry;
    mark(i, kReclock);
    reclock_.push_back(i);
    if (!(flags_[i] & kForced)) put_on_market(i);
  }
  // Poached and displaced (event-moved researchers are off the market).
  for (std::size_t f = 0, n = flagged_.size(); f < n; ++f) {
    const auto i = flagged_[f];
    const auto fl = flags_[i];
    if ((fl & (kPoached | kDisplaced)) && !(fl & kForced) && lab_[i] >= 0) put_on_market(i);
  }
  // Followers: each tie to someone who moved in the previous step pulls
  // independently with probability f, so a researcher with m such ties is
  // on the market with probability 1 - (1 - f)^m. Walking a mover's follower
  // list by geometric gaps between pulls draws about 1 + f n words for n
  // followers and touches only those pulled.
  if (!followers_.empty() && !moved_prev_.empty()) {
    const double log_miss = std::log1p(-s_.market.follow_prob);
    const Streams now = streams_.at_step(static_cast<std::uint32_t>(t));
    // Every mover's first two words at once; follower lists, scattered
    // over the population, fetched a few movers ahead.
    const std::size_t movers = moved_prev_.size();
    batch_who_.resize(movers);
    batch_index_.assign(movers, 0);
    batch_words_.resize(2 * movers);
    for (std::size_t b = 0; b < movers; ++b) batch_who_[b] = ids_[moved_prev_[b]].who;
    bits_lanes(now, batch_who_.data(), Purpose::Follow, batch_index_.data(), movers,
               batch_words_.data());
    constexpr std::size_t kFar = 8, kNear = 4;
    for (std::size_t b = 0; b < movers; ++b) {
      if (b + kFar < movers) __builtin_prefetch(&follower_begin_[moved_prev_[b + kFar]]);
      if (b + kNear < movers)
        __builtin_prefetch(followers_.data() + follower_begin_[moved_prev_[b + kNear]]);
      const auto j = moved_prev_[b];
      const std::int64_t begin = follower_begin_[j], n = follower_begin_[j + 1] - begin;
      if (n == 0) continue;
      WordStream words(now, ids_[j].who, Purpose::Follow, batch_words_.data() + 2 * b, 2);
      for (std::int64_t at = -1;;) {
        const double gap = std::floor(std::log(words.open01()) / log_miss);
        if (!(gap < static_cast<double>(n - 1 - at))) break;
        at += static_cast<std::int64_t>(gap) + 1;
        const auto i = followers_[static_cast<std::size_t>(begin + at)];
        if (lab_[i] >= 0 && !(flags_[i] & kForced)) put_on_market(i);
      }
    }
  }
}

void Replicate::choose_all(int t) {
  pending_.clear();
  for (auto& a : applicants_) a.clear();
  batch_.assign(on_market_.begin(), on_market_.end());
  draw_batch(Purpose::Choice, static_cast<std::uint32_t>(t));
  // The choosers are scattered over the population, so their tastes and
  // ties are rarely in cache: fetch them a few choices ahead (tie lists in
  // two stages, since where they start is itself a scattered read).
  constexpr std::size_t kFar = 8, kNear = 4;
  const std::size_t n = batch_.size();
  for (std::size_t b = 0; b < n; ++b) {
    if (b + kFar < n) {
      const auto j = static_cast<std::size_t>(batch_[b + kFar]);
      __builtin_prefetch(&pop_.tastes[j]);
      __builtin_prefetch(reinterpret_cast<const char*>(&pop_.tastes[j] + 1) - 1);
      __builtin_prefetch(&pop_.tie_begin[j]);
    }
    if (b + kNear < n) {
      const auto j = static_cast<std::size_t>(batch_[b + kNear]);
      __builtin_prefetch(pop_.ties.data() + pop_.tie_begin[j]);
    }
    choose(batch_[b], batch_words_[2 * b], batch_words_[2 * b + 1]);
  }
  for (int l = 0; l < L_; ++l) admit(l);
}

void Replicate::finish_step(int t) {
  // 6. Moves, together; a mover's tenure is 0 at the next step.
  for (const auto& [i, to] : pending_) move(t, i, to);
  for (const auto i : moved_now_) {
    anchor_[i] = t + 1;
    if (!(flags_[i] & kReclock)) {
      mark(i, kReclock);
      reclock_.push_back(i);
    }
  }
  // Fresh clocks after an entry by one's own clock and after any move.
  batch_.clear();
  for (const auto i : reclock_) {
    if (lab_[i] >= 0)
      batch_.push_back(i);
    else
      entry_step_[i] = kNoEntry;
  }
  start_clocks(t + 1);
  reclock_.clear();
  calendar_[static_cast<std::size_t>(t)].clear();

  // 7. Record.
  for (int l = 0; l < L_; ++l) {
    result_.star_power[result_.tl(t, l)] = power_[l].value();
    for (int k = 0; k < K_; ++k)
      result_.headcount[result_.tlk(t, l, k)] = static_cast<std::int32_t>(counts_[lk(l, k)]);
  }
  for (int r = 0; r < s_.named_count(); ++r)
    result_.named_lab[result_.tn(t, r)] = lab_[m_.named_index(r)];

  // Reset per-step state; this step's movers are the next step's leaders.
  for (auto i : flagged_) flags_[i] = 0;
  flagged_.clear();
  offers_.clear();
  moved_prev_.swap(moved_now_);
  moved_now_.clear();
  if (observer_) observer_->on_step_end(t);
}

// The per-lab work is on Lanes: written so rather than left to the
// auto-vectoriser, a choice among 13 labs went from 129 to 110 ns (no alias
// checks, loop tails or separate passes).
TALENTSIM_CLONES_FOR_AVX2 int Replicate::pick_lab(std::int32_t i, double u) {
  const int here = lab_[i];
  const int k = tier_[i];
  const Market& mk = s_.market;
  const auto& b = pop_.tastes[i].b;
  const double b_comp = b[kComp], b_prestige = b[kPrestige], b_magnet = b[kMagnet],
               b_mission = b[kMission], b_openness = b[kOpenness];
  const std::size_t lp = static_cast<std::size_t>(Lp_);
  double* const v = utility_.data();

  // Researcher-specific parts: one's own star mass does not pull (Q'_il),
  // ties at each lab (n_il / d_i), offers from poaching labs (o_il).
  const double* magnet = magnet_term_.data();
  if (k == star_ && here >= 0) {
    std::copy_n(magnet, lp, magnet_.data());
    magnet_[here] =
        mk.star_magnet * std::log1p((star_mass_[here] - pop_.reputation[i]) / mk.star_magnet_scale);
    magnet = magnet_.data();
  }
  // Ties at each lab l, in ties_at[1 + l] (count_labs).
  const auto degree = pop_.degree(static_cast<std::size_t>(i));
  const bool peers = degree > 0 && mk.peer_magnet != 0;
  const double per_tie = peers ? mk.peer_magnet / degree : 0.0;
  double* const ties_at = tie_count_.data();
  if (peers) {
    const std::int32_t* const ties = pop_.ties.data() + pop_.tie_begin[i];
    // Every researcher in a lab has network.degree ties (draw_population),
    // which restart() sized this for; grown here should that ever change.
    if (static_cast<std::size_t>(degree) > tie_lab_.size())
      tie_lab_.resize(static_cast<std::size_t>(degree));
    std::int64_t* const labs = tie_lab_.data();
    for (std::int32_t d = 0; d < degree; ++d) labs[d] = lab_[ties[d]];
    count_labs(labs, static_cast<std::size_t>(degree), lp, ties_at);
  }
  const double* log_comp = log_comp_.data() + static_cast<std::size_t>(k) * lp;
  if (!offers_.empty()) {
    bool offered = false;
    for (const auto& o : offers_)
      if (o.researcher == i) {
        if (!offered) std::copy_n(log_comp, lp, comp_scratch_.data());
        offered = true;
        comp_scratch_[o.lab] = log_comp[o.lab] + std::log(o.factor);  // a later offer stands
      }
    if (offered) log_comp = comp_scratch_.data();
  }

  // V_il four labs at a time; switching is free to stay. Then max V over
  // the open labs (lane by lane, then across lanes: max is exact, so the
  // order does not matter) and the weights exp(V - max V), 0 for closed labs.
  if (here >= 0) switching_[here] = 0;
  const double *prestige = prestige_term_.data(), *mission = mission_term_.data(),
               *openness = openness_term_.data(), *switching = switching_.data(),
               *open = open_weight_.data();
  constexpr double kNone = -std::numeric_limits<double>::infinity();
  Lanes lane_best = {kNone, kNone, kNone, kNone};
  for (std::size_t l = 0; l < lp; l += 4) {
    Lanes c, pr, mg, mi, op, sw, is_open;
    std::memcpy(&c, log_comp + l, sizeof c);
    std::memcpy(&pr, prestige + l, sizeof pr);
    std::memcpy(&mg, magnet + l, sizeof mg);
    if (peers) {
      Lanes n;
      std::memcpy(&n, ties_at + 1 + l, sizeof n);
      mg = mg + per_tie * n;
    }
    std::memcpy(&mi, mission + l, sizeof mi);
    std::memcpy(&op, openness + l, sizeof op);
    std::memcpy(&sw, switching + l, sizeof sw);
    std::memcpy(&is_open, open + l, sizeof is_open);
    const Lanes lv =
        b_comp * c + b_prestige * pr + b_magnet * mg + b_mission * mi + b_openness * op - sw;
    std::memcpy(v + l, &lv, sizeof lv);
    const Lanes candidate = is_open > 0 ? lv : kNone;
    lane_best = lane_best < candidate ? candidate : lane_best;
  }
  if (here >= 0) switching_[here] = mk.switching_cost;
  const double best =
      std::max(std::max(lane_best[0], lane_best[1]), std::max(lane_best[2], lane_best[3]));
  if (best == kNone) return -1;  // no lab open

  for (std::size_t l = 0; l < lp; l += 4) {
    Lanes w, is_open;
    std::memcpy(&w, v + l, sizeof w);
    std::memcpy(&is_open, open + l, sizeof is_open);
    w -= best;
    exp_nonpositive_in_place(w);
    w = is_open * w;
    std::memcpy(v + l, &w, sizeof w);
  }
  // Inverse CDF: the first lab whose cumulative weight exceeds u * total.
  // The cumulative weights are summed in lab order, in place (closed labs
  // add 0, so they never come first); the labs at or below the target are
  // then counted without a branch, since the sums never decrease. The last
  // open lab absorbs rounding at the top end.
  double cumulative = 0;
  for (int l = 0; l < L_; ++l) v[l] = cumulative += v[l];
  const double target = u * cumulative;
  // A NaN weight makes the total NaN, and every `c <= NaN` is false: the
  // count would be 0, lab 0, perhaps closed. The loop this replaced fell
  // through to the last open lab; so does this.
  if (std::isnan(target)) return last_open_;
  std::fill(v + L_, v + lp, std::numeric_limits<double>::infinity());  // padding: never below
  using Count = std::int64_t __attribute__((vector_size(32)));
  Count below = {0, 0, 0, 0};
  for (std::size_t l = 0; l < lp; l += 4) {
    Lanes c;
    std::memcpy(&c, v + l, sizeof c);
    below -= c <= target;  // -1 where true
  }
  const auto count = static_cast<int>((below[0] + below[1]) + (below[2] + below[3]));
  return count < L_ ? count : last_open_;
}

// Multinomial-logit choice among open labs, by inverse CDF of one uniform.
// `first` and `second` are the words of (who, Choice, t): the logit's
// uniform and the capacity priority.
void Replicate::choose(std::int32_t i, std::uint64_t first, std::uint64_t second) {
  ++result_.market_decisions;
  const int chosen = pick_lab(i, unit_interval(first));
  const double u_priority = unit_interval(second);
  if (chosen == lab_[i]) return;  // staying is not a move
  if (chosen >= 0 && s_.labs[chosen].capacity) {
    applicants_[chosen].push_back({u_priority, i});
    return;
  }
  if (chosen >= 0)
    pending_.push_back({i, chosen});
  else
    reject(i);
}

// Capacity: admit at most C - H_l applicants, in uniformly random order.
void Replicate::admit(int l) {
  auto& apps = applicants_[l];
  if (apps.empty()) return;
  const std::int64_t free = std::max<std::int64_t>(0, *s_.labs[l].capacity - lab_counts_[l]);
  std::sort(apps.begin(), apps.end());
  for (std::size_t a = 0; a < apps.size(); ++a) {
    if (static_cast<std::int64_t>(a) < free)
      pending_.push_back({apps[a].second, l});
    else
      reject(apps[a].second);
  }
}

// A rejected researcher stays, unless their lab closed: then the first open
// lab without a capacity, in file order, or no lab at all.
void Replicate::reject(std::int32_t i) {
  if (open_[lab_[i]]) return;
  pending_.push_back({i, first_uncapped_open_});
}

}  // namespace talentsim::detail
