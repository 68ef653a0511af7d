// One replicate of the reference model (MODEL.md sections 3-5).
#include "talentsim/model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "talentsim/errors.hpp"
#include "talentsim/rng.hpp"

namespace talentsim {

std::uint64_t synthetic_identity(const std::string& lab, const std::string& tier,
                                 std::int64_t ordinal) {
  return identity_hash("synthetic\x1f" + lab + '\x1f' + tier + '\x1f' + std::to_string(ordinal));
}

std::uint64_t named_identity(const std::string& name) { return identity_hash("named\x1f" + name); }

Model::Model(Scenario scenario) : scenario_(std::move(scenario)) {
  const Scenario& s = scenario_;
  if (s.tiers.empty() || s.labs.empty() || s.steps <= 0)
    throw InternalError("Model: scenario was not validated (no tiers, labs or steps)");
  if (static_cast<std::uint32_t>(s.steps) >= kMaxStreamIndex)
    throw InternalError("Model: too many steps for the random stream layout");
  for (int l = 0; l < s.lab_count(); ++l) {
    for (int k = 0; k < s.tier_count(); ++k) {
      for (std::int64_t o = 0; o < s.labs[l].headcount[k]; ++o)
        identities_.push_back({synthetic_identity(s.labs[l].name, s.tiers[k].name, o), l, k, 0});
    }
  }
  named_offset_ = static_cast<int>(identities_.size());
  for (const auto& r : s.researchers)
    identities_.push_back({named_identity(r.name), r.lab, r.tier, r.reputation.value_or(0)});
  if (identities_.size() >= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    throw InternalError("Model: population too large for 32-bit indices");

  events_at_step_.assign(s.steps, {});
  for (int e = 0; e < static_cast<int>(s.events.size()); ++e)
    events_at_step_.at(s.events[e].step).push_back(e);
}

ResultShape Model::shape() const {
  return {scenario_.steps, scenario_.lab_count(), scenario_.tier_count(), scenario_.named_count(),
          static_cast<int>(scenario_.questions.size())};
}

Population Model::draw_population(std::uint64_t seed, std::int64_t replicate) const {
  const Scenario& s = scenario_;
  const Streams streams(seed, static_cast<std::uint64_t>(replicate));
  const std::size_t n = identities_.size();
  Population pop;
  pop.reputation.resize(n);
  for (auto& t : pop.taste) t.resize(n);
  pop.tenure.resize(n);

  const std::int64_t tenure_span =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(4 * 365.25 / s.step_days)));

  for (std::size_t i = 0; i < n; ++i) {
    const Identity& id = identities_[i];
    const Tier& tier = s.tiers[id.tier];
    if (id.fixed_reputation > 0) {
      pop.reputation[i] = id.fixed_reputation;
    } else {
      const double z = standard_normal_pair(streams.bits(id.who, Purpose::Reputation, 0))[0];
      pop.reputation[i] = tier.reputation_median * std::exp(tier.reputation_sigma * z);
    }
    for (int m = 0; m < kMotiveCount; m += 2) {
      const auto z = standard_normal_pair(streams.bits(id.who, Purpose::Taste, m / 2));
      for (int j = 0; j < 2 && m + j < kMotiveCount; ++j)
        pop.taste[m + j][i] = s.tastes[m + j].mean + s.tastes[m + j].sd * z[j];
    }
    const bool named = static_cast<int>(i) >= named_offset_;
    if (named) {
      pop.tenure[i] = 0;
    } else {
      const auto w = streams.bits(id.who, Purpose::Tenure, 0);
      pop.tenure[i] = static_cast<std::int32_t>(std::min<std::int64_t>(
          tenure_span - 1, static_cast<std::int64_t>(uniform01(w[0], w[1]) * tenure_span)));
    }
  }

  // Ties: only researchers who start in a lab have them and are them.
  std::vector<std::vector<std::int32_t>> members(s.lab_count());
  std::vector<std::int32_t> everyone;
  std::vector<std::int32_t> pos_in_lab(n, -1), pos_in_all(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    const int l = identities_[i].lab;
    if (l < 0) continue;
    pos_in_lab[i] = static_cast<std::int32_t>(members[l].size());
    members[l].push_back(static_cast<std::int32_t>(i));
    pos_in_all[i] = static_cast<std::int32_t>(everyone.size());
    everyone.push_back(static_cast<std::int32_t>(i));
  }
  // A uniformly drawn element of `set` other than the one at position `self`.
  auto pick_other = [](const std::vector<std::int32_t>& set, std::int32_t self, double u) {
    const auto others = static_cast<std::int64_t>(set.size()) - 1;
    auto k = std::min<std::int64_t>(others - 1, static_cast<std::int64_t>(u * others));
    if (k >= self) ++k;
    return set[static_cast<std::size_t>(k)];
  };
  const std::int64_t degree = s.network.degree;
  const bool can_tie = degree > 0 && everyone.size() >= 2;
  if (can_tie && static_cast<std::uint64_t>(degree) >= kMaxStreamIndex)
    throw InternalError("Model: network.degree too large for the random stream layout");
  pop.tie_begin.assign(n + 1, 0);
  if (can_tie) pop.ties.reserve(everyone.size() * static_cast<std::size_t>(degree));
  for (std::size_t i = 0; i < n; ++i) {
    pop.tie_begin[i] = static_cast<std::int32_t>(pop.ties.size());
    const int l = identities_[i].lab;
    if (!can_tie || l < 0) continue;
    for (std::int64_t d = 0; d < degree; ++d) {
      const auto w = streams.bits(identities_[i].who, Purpose::Ties, static_cast<std::uint32_t>(d));
      const bool within = uniform01(w[0], w[1]) < s.network.within_lab;
      const double u = uniform01(w[2], w[3]);
      if (within && members[l].size() >= 2)
        pop.ties.push_back(pick_other(members[l], pos_in_lab[i], u));
      else
        pop.ties.push_back(pick_other(everyone, pos_in_all[i], u));
    }
  }
  pop.tie_begin[n] = static_cast<std::int32_t>(pop.ties.size());
  return pop;
}

namespace {

// Market flags of a researcher for the current step.
enum : std::uint8_t {
  kForced = 1,     // moved by a move or found event: not on the market at all
  kPoached = 2,    // targeted by a poach event
  kDisplaced = 4,  // their lab closed
  kMovedNow = 8,   // moved during this step (by any cause)
};

struct Offer {
  std::int32_t researcher;
  int lab;
  double factor;
};

// The evolving state of one replicate.
class Replicate {
 public:
  Replicate(const Model& model, std::uint64_t seed, std::int64_t replicate, MoveObserver* observer)
      : m_(model),
        s_(model.scenario()),
        ids_(model.identities()),
        streams_(seed, static_cast<std::uint64_t>(replicate)),
        pop_(model.draw_population(seed, replicate)),
        observer_(observer),
        L_(s_.lab_count()),
        K_(s_.tier_count()),
        result_(model.shape()) {
    result_.replicate = replicate;
    const std::size_t n = ids_.size();
    lab_.resize(n);
    for (std::size_t i = 0; i < n; ++i) lab_[i] = ids_[i].lab;
    flags_.assign(n, 0);
    follow_count_.assign(n, 0);
    counts_.assign(static_cast<std::size_t>(L_) * K_, 0);
    for (std::size_t i = 0; i < n; ++i)
      if (lab_[i] >= 0) ++counts_[static_cast<std::size_t>(lab_[i]) * K_ + ids_[i].tier];

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
    // Followers of each researcher: the reverse of the tie lists.
    follower_begin_.assign(n + 1, 0);
    for (auto j : pop_.ties) ++follower_begin_[static_cast<std::size_t>(j) + 1];
    std::partial_sum(follower_begin_.begin(), follower_begin_.end(), follower_begin_.begin());
    followers_.resize(pop_.ties.size());
    std::vector<std::int32_t> fill(follower_begin_.begin(), follower_begin_.end() - 1);
    for (std::size_t i = 0; i < n; ++i)
      for (auto t = pop_.tie_begin[i]; t < pop_.tie_begin[i + 1]; ++t)
        followers_[fill[pop_.ties[t]]++] = static_cast<std::int32_t>(i);

    star_power_.assign(L_, 0);
    star_mass_.assign(L_, 0);
    cliff_steps_ = s_.market.cliff_years * 365.25 / s_.step_days;
    step_fraction_ = s_.step_days / 365.25;
    lab_counts_.assign(L_, 0);
    lab_utility_.resize(static_cast<std::size_t>(L_) * K_);
    utility_.resize(L_);
    lab_counts_tmp_.resize(L_);
    entry_p_.resize(static_cast<std::size_t>(L_) * K_ * 2);
    applicants_.resize(L_);
  }

  ReplicateResult run() {
    for (int t = 0; t < s_.steps; ++t) step(t);
    return std::move(result_);
  }

 private:
  void move(int t, std::int32_t i, int to) {
    const int from = lab_[i];
    const int k = ids_[i].tier;
    if (from >= 0) {
      --counts_[static_cast<std::size_t>(from) * K_ + k];
      ++result_.departures[result_.tlk(t, from, k)];
    }
    if (to >= 0) {
      ++counts_[static_cast<std::size_t>(to) * K_ + k];
      ++result_.hires[result_.tlk(t, to, k)];
    }
    if (from >= 0 && to >= 0) ++result_.flows[result_.flk(from, to, k)];
    lab_[i] = to;
    if (!(flags_[i] & kMovedNow)) moved_now_.push_back(i);
    flags_[i] |= kMovedNow;
    if (observer_) observer_->on_move(t, i, from, to, k);
  }

  void forced_move(int t, std::int32_t i, int to) {
    if (lab_[i] == to) return;  // already there: not a move (documented reading)
    if (!flags_[i]) touched_.push_back(i);
    flags_[i] |= kForced;
    move(t, i, to);
  }

  void mark(std::int32_t i, std::uint8_t flag) {
    if (!flags_[i]) touched_.push_back(i);
    flags_[i] |= flag;
  }

  void apply_event(int t, const Event& e) {
    const int l = e.lab;
    switch (e.type) {
      case EventType::Raise:
        funding_[l] += e.amount;
        break;
      case EventType::Comp:
        for (int k = 0; k < K_; ++k)
          if (e.tiers.empty() || std::find(e.tiers.begin(), e.tiers.end(), k) != e.tiers.end())
            comp_mult_[static_cast<std::size_t>(l) * K_ + k] *= e.factor;
        break;
      case EventType::Prestige:
        prestige_[l] += e.delta;
        break;
      case EventType::Policy:
        if (e.mission) mission_[l] = *e.mission;
        if (e.openness) openness_[l] = *e.openness;
        if (e.attrition) attrition_[l] = *e.attrition;
        if (e.cliff_factor) cliff_factor_[l] = *e.cliff_factor;
        break;
      case EventType::Move:
        forced_move(t, m_.named_index(e.researcher), l);
        membership_changed_ = true;
        break;
      case EventType::Found:
        open_[l] = true;
        for (int f : e.founders) forced_move(t, m_.named_index(f), l);
        membership_changed_ = true;
        break;
      case EventType::Close:
        open_[l] = false;
        for (std::size_t i = 0; i < lab_.size(); ++i)
          if (lab_[i] == l) mark(static_cast<std::int32_t>(i), kDisplaced);
        break;
      case EventType::Poach:
        poach(e);
        break;
    }
  }

  // The `count` highest-reputation researchers in other labs (within the
  // event's tiers and source labs) are on the market with an offer.
  // Researchers already moved by an event this step are not eligible; equal
  // reputations are broken by population order.
  void poach(const Event& e) {
    std::vector<std::int32_t> candidates;
    for (std::size_t i = 0; i < lab_.size(); ++i) {
      const int at = lab_[i];
      if (at < 0 || at == e.lab || (flags_[i] & kForced)) continue;
      if (!e.tiers.empty() &&
          std::find(e.tiers.begin(), e.tiers.end(), ids_[i].tier) == e.tiers.end())
        continue;
      if (!e.from.empty() && std::find(e.from.begin(), e.from.end(), at) == e.from.end()) continue;
      candidates.push_back(static_cast<std::int32_t>(i));
    }
    const auto take = static_cast<std::size_t>(
        std::min<std::int64_t>(e.count, static_cast<std::int64_t>(candidates.size())));
    auto higher = [&](std::int32_t a, std::int32_t b) {
      if (pop_.reputation[a] != pop_.reputation[b]) return pop_.reputation[a] > pop_.reputation[b];
      return a < b;
    };
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(take),
                      candidates.end(), higher);
    for (std::size_t c = 0; c < take; ++c) {
      mark(candidates[c], kPoached);
      offers_.push_back({candidates[c], e.lab, e.factor});
    }
  }

  void compute_star_power() {
    std::fill(star_power_.begin(), star_power_.end(), 0.0);
    std::fill(star_mass_.begin(), star_mass_.end(), 0.0);
    const int star = s_.star_tier();
    for (std::size_t i = 0; i < lab_.size(); ++i) {
      const int l = lab_[i];
      if (l < 0) continue;
      star_power_[l] += pop_.reputation[i];
      if (ids_[i].tier == star) star_mass_[l] += pop_.reputation[i];
    }
  }

  double entry_probability(int l, int k, bool before_cliff) const {
    double rate = s_.tiers[k].search_rate * attrition_[l];
    if (before_cliff) rate *= cliff_factor_[l];
    return -std::expm1(-rate * step_fraction_);
  }

  void step(int t) {
    // 1. Events, in file order.
    membership_changed_ = (t == 0);
    for (int e : m_.events_at(t)) apply_event(t, s_.events[e]);

    // 2. Aggregates, frozen for the rest of the step.
    if (membership_changed_) compute_star_power();
    double total_power = 0;
    for (int l = 0; l < L_; ++l) total_power += star_power_[l];
    for (int l = 0; l < L_; ++l) {
      std::int64_t h = 0;
      for (int k = 0; k < K_; ++k) h += counts_[static_cast<std::size_t>(l) * K_ + k];
      lab_counts_[l] = h;
    }
    first_uncapped_open_ = -1;
    for (int l = 0; l < L_ && first_uncapped_open_ < 0; ++l)
      if (open_[l] && !s_.labs[l].capacity) first_uncapped_open_ = l;

    // Per-lab, per-tier parts of the utility that do not depend on the
    // researcher's tastes. Stored as the five motive attributes.
    const Market& mk = s_.market;
    for (int l = 0; l < L_; ++l) {
      const double share = total_power > 0 ? star_power_[l] / total_power : 0.0;
      const double f = (funding0_[l] > 0 && mk.comp_funding_elasticity != 0)
                           ? std::pow(funding_[l] / funding0_[l], mk.comp_funding_elasticity)
                           : 1.0;
      for (int k = 0; k < K_; ++k) {
        auto& a = lab_utility_[static_cast<std::size_t>(l) * K_ + k];
        const std::size_t lk = static_cast<std::size_t>(l) * K_ + k;
        a.log_comp = std::log(s_.labs[l].comp[k] * comp_mult_[lk] * f);
        a.prestige = prestige_[l] + mk.prestige_feedback * share;
      }
    }

    // 3. Market entry. Followers first: movers of the previous step pull
    // the researchers who follow them.
    for (auto j : moved_prev_)
      for (auto f = follower_begin_[j]; f < follower_begin_[j + 1]; ++f) {
        const auto i = followers_[f];
        if (follow_count_[i]++ == 0) followed_.push_back(i);
      }
    on_market_.clear();
    const std::size_t n = lab_.size();
    const double follow_stay = 1.0 - mk.follow_prob;
    for (int l = 0; l < L_; ++l)
      for (int k = 0; k < K_; ++k)
        for (int c = 0; c < 2; ++c)
          entry_p_[(static_cast<std::size_t>(l) * K_ + k) * 2 + c] = entry_probability(l, k, c);
    for (std::size_t i = 0; i < n; ++i) {
      const int l = lab_[i];
      if (l < 0) continue;
      const std::uint8_t fl = flags_[i];
      if (fl & kForced) continue;
      const auto w = streams_.bits(ids_[i].who, Purpose::Entry, static_cast<std::uint32_t>(t));
      const bool before_cliff = pop_.tenure[i] < cliff_steps_;
      const double p =
          entry_p_[(static_cast<std::size_t>(l) * K_ + ids_[i].tier) * 2 + (before_cliff ? 1 : 0)];
      bool on = (fl & (kPoached | kDisplaced)) || uniform01(w[0], w[1]) < p;
      if (const int m = follow_count_[i]; m > 0 && !on)
        on = uniform01(w[2], w[3]) < 1.0 - std::pow(follow_stay, m);
      if (on) on_market_.push_back(static_cast<std::int32_t>(i));
    }
    for (auto i : followed_) follow_count_[i] = 0;
    followed_.clear();

    // 4. Choice, and 5. capacity.
    pending_.clear();
    for (auto& a : applicants_) a.clear();
    for (auto i : on_market_) choose(t, i);
    for (int l = 0; l < L_; ++l) admit(l);

    // 6. Moves, together.
    for (const auto& [i, to] : pending_) move(t, i, to);
    for (std::size_t i = 0; i < n; ++i) ++pop_.tenure[i];
    for (auto i : moved_now_) pop_.tenure[i] = 0;

    // 7. Record.
    compute_star_power();
    for (int l = 0; l < L_; ++l) {
      result_.star_power[result_.tl(t, l)] = star_power_[l];
      for (int k = 0; k < K_; ++k)
        result_.headcount[result_.tlk(t, l, k)] =
            static_cast<std::int32_t>(counts_[static_cast<std::size_t>(l) * K_ + k]);
    }
    for (int r = 0; r < s_.named_count(); ++r)
      result_.named_lab[result_.tn(t, r)] = lab_[m_.named_index(r)];

    // Reset per-step state; this step's movers are the next step's leaders.
    for (auto i : touched_) flags_[i] = 0;
    for (auto i : moved_now_) flags_[i] = 0;
    touched_.clear();
    offers_.clear();
    moved_prev_.swap(moved_now_);
    moved_now_.clear();
  }

  // Multinomial-logit choice among open labs, by inverse CDF of one uniform.
  void choose(int t, std::int32_t i) {
    const auto w = streams_.bits(ids_[i].who, Purpose::Choice, static_cast<std::uint32_t>(t));
    const double u_choice = uniform01(w[0], w[1]);
    const double u_priority = uniform01(w[2], w[3]);
    const int here = lab_[i];
    const int k = ids_[i].tier;
    const bool star = k == s_.star_tier();
    const Market& mk = s_.market;
    const double b_comp = pop_.taste[kComp][i], b_prestige = pop_.taste[kPrestige][i],
                 b_magnet = pop_.taste[kMagnet][i], b_mission = pop_.taste[kMission][i],
                 b_openness = pop_.taste[kOpenness][i];
    const auto degree = pop_.degree(static_cast<std::size_t>(i));
    std::fill(lab_counts_tmp_.begin(), lab_counts_tmp_.end(), 0);
    if (degree > 0 && mk.peer_magnet != 0)
      for (auto tie = pop_.tie_begin[i]; tie < pop_.tie_begin[i + 1]; ++tie)
        if (const int at = lab_[pop_.ties[tie]]; at >= 0) ++lab_counts_tmp_[at];

    double best = -std::numeric_limits<double>::infinity();
    int options = 0;
    for (int l = 0; l < L_; ++l) {
      if (!open_[l]) {
        utility_[l] = -std::numeric_limits<double>::infinity();
        continue;
      }
      ++options;
      const auto& a = lab_utility_[static_cast<std::size_t>(l) * K_ + k];
      double offer = 1.0;
      for (const auto& o : offers_)
        if (o.researcher == i && o.lab == l) offer = o.factor;
      const double q = (star && l == here) ? star_mass_[l] - pop_.reputation[i] : star_mass_[l];
      double magnet = mk.star_magnet * std::log1p(q / mk.star_magnet_scale);
      if (degree > 0) magnet += mk.peer_magnet * lab_counts_tmp_[l] / degree;
      double v = b_comp * (offer == 1.0 ? a.log_comp : a.log_comp + std::log(offer)) +
                 b_prestige * a.prestige + b_magnet * magnet + b_mission * mission_[l] +
                 b_openness * openness_[l];
      if (l != here) v -= mk.switching_cost;
      utility_[l] = v;
      best = std::max(best, v);
    }
    int chosen = -1;
    if (options > 0) {
      double total = 0;
      for (int l = 0; l < L_; ++l) {
        utility_[l] = open_[l] ? std::exp(utility_[l] - best) : 0.0;
        total += utility_[l];
      }
      const double target = u_choice * total;
      double cumulative = 0;
      for (int l = 0; l < L_; ++l) {
        if (!open_[l]) continue;
        chosen = l;  // the last open lab absorbs rounding at the top end
        cumulative += utility_[l];
        if (target < cumulative) break;
      }
    }
    if (chosen == here) return;  // staying is not a move
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
  void admit(int l) {
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
  void reject(std::int32_t i) {
    if (open_[lab_[i]]) return;
    pending_.push_back({i, first_uncapped_open_});
  }

  struct LabUtility {
    double log_comp = 0;
    double prestige = 0;
  };

  const Model& m_;
  const Scenario& s_;
  const std::vector<Identity>& ids_;
  Streams streams_;
  Population pop_;
  MoveObserver* observer_;
  int L_, K_;
  ReplicateResult result_;
  std::vector<std::int32_t> lab_;
  std::vector<std::uint8_t> flags_;
  std::vector<std::int32_t> touched_, moved_now_, moved_prev_, on_market_, followed_;
  std::vector<std::int32_t> follow_count_;
  std::vector<std::int32_t> follower_begin_, followers_;
  std::vector<std::int64_t> counts_;      // [L][K], current
  std::vector<std::int64_t> lab_counts_;  // H_l frozen at step 2
  std::vector<char> open_;
  std::vector<double> funding0_, funding_, prestige_, mission_, openness_, attrition_,
      cliff_factor_, comp_mult_;
  std::vector<double> star_power_, star_mass_;
  std::vector<LabUtility> lab_utility_;
  std::vector<double> utility_;
  std::vector<std::int32_t> lab_counts_tmp_;
  std::vector<Offer> offers_;
  std::vector<std::pair<std::int32_t, int>> pending_;
  std::vector<std::vector<std::pair<double, std::int32_t>>> applicants_;
  std::vector<double> entry_p_;  // [L][K][before cliff]
  double cliff_steps_ = 0, step_fraction_ = 0;
  int first_uncapped_open_ = -1;
  bool membership_changed_ = false;
};

}  // namespace

namespace {

// Counts the moves that count-type questions ask about, as they happen, and
// passes every move on to the caller's observer.
class QuestionTracker : public MoveObserver {
 public:
  QuestionTracker(const Scenario& s, MoveObserver* next)
      : s_(s), next_(next), hires_(s.questions.size(), 0), departures_(s.questions.size(), 0) {}

  void on_move(int step, int researcher, int from, int to, int tier) override {
    for (std::size_t q = 0; q < s_.questions.size(); ++q) {
      const Question& qu = s_.questions[q];
      if (step < qu.step_from || step > qu.step_to) continue;
      if (!qu.tiers.empty() && std::find(qu.tiers.begin(), qu.tiers.end(), tier) == qu.tiers.end())
        continue;
      if (to == qu.lab &&
          (qu.from.empty() || std::find(qu.from.begin(), qu.from.end(), from) != qu.from.end()))
        ++hires_[q];
      if (from == qu.lab) ++departures_[q];
    }
    if (next_) next_->on_move(step, researcher, from, to, tier);
  }

  // Every question's value, from the counts and the recorded state.
  void answer(ReplicateResult& r) const {
    for (std::size_t q = 0; q < s_.questions.size(); ++q) {
      const Question& qu = s_.questions[q];
      const int t = qu.step_to;
      double value = 0;
      switch (qu.metric) {
        case Metric::Hires:
          value = static_cast<double>(hires_[q]);
          break;
        case Metric::Departures:
          value = static_cast<double>(departures_[q]);
          break;
        case Metric::NetFlow:
          value = static_cast<double>(hires_[q] - departures_[q]);
          break;
        case Metric::Headcount:
          for (int k = 0; k < r.shape.tiers; ++k)
            if (qu.tiers.empty() ||
                std::find(qu.tiers.begin(), qu.tiers.end(), k) != qu.tiers.end())
              value += r.headcount[r.tlk(t, qu.lab, k)];
          break;
        case Metric::Share: {
          double total = 0;
          for (int l = 0; l < r.shape.labs; ++l) total += r.star_power[r.tl(t, l)];
          value = total > 0 ? r.star_power[r.tl(t, qu.lab)] / total : 0.0;
          break;
        }
        case Metric::NamedAt:
          value = r.named_lab[r.tn(t, qu.researcher)] == qu.lab ? 1.0 : 0.0;
          break;
      }
      r.question_value[q] = value;
    }
  }

 private:
  const Scenario& s_;
  MoveObserver* next_;
  std::vector<std::int64_t> hires_, departures_;
};

}  // namespace

bool question_outcome(const Question& q, double value) {
  return (!q.at_least || value >= *q.at_least) && (!q.at_most || value <= *q.at_most);
}

ReplicateResult Model::run(std::uint64_t seed, std::int64_t replicate,
                           MoveObserver* observer) const {
  if (scenario_.questions.empty()) return Replicate(*this, seed, replicate, observer).run();
  QuestionTracker tracker(scenario_, observer);
  ReplicateResult r = Replicate(*this, seed, replicate, &tracker).run();
  tracker.answer(r);
  return r;
}

}  // namespace talentsim
