// A deliberately plain reference implementation ("oracle") of MODEL.md, for
// tests only. It simulates the model exactly as the text reads: one draw per
// researcher per step for market entry, one draw per tie to a mover for
// following, a full logit for every choice. It shares no code with the
// engine (sim/src/model) and was written from MODEL.md and the README's
// "Readings we chose where the specification is open" alone, so that
// agreement in distribution between the two is evidence that the engine's
// shortcuts (waiting times, geometric follower walks, vectorised exp) sample
// the specified law.
//
// Randomness: std::mt19937_64 seeded per (seed, replicate) through
// std::seed_seq, whose output the C++ standard fixes; the distributions are
// written out here, so results do not depend on the standard library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numbers>
#include <random>
#include <utility>
#include <vector>

#include "talentsim/result.hpp"
#include "talentsim/scenario.hpp"

namespace talentsim::oracle {

class Random {
 public:
  Random(std::uint64_t seed, std::int64_t replicate) {
    const auto r = static_cast<std::uint64_t>(replicate);
    std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                      static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(r >> 32),
                      0x0bac1eu};
    gen_.seed(seq);
  }
  // Uniform on [0, 1) from the top 53 bits.
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  // Uniform on (0, 1]: safe under a log.
  double uniform_positive() { return (static_cast<double>(gen_() >> 11) + 1) * 0x1.0p-53; }
  // Standard normal by Box-Muller (one of the pair; plainness over thrift).
  double normal() {
    const double radius = std::sqrt(-2 * std::log(uniform_positive()));
    return radius * std::cos(2 * std::numbers::pi * uniform());
  }
  // Uniform integer on 0..n-1 (n >= 1), exact by rejection.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = gen_();
    while (x >= limit);
    return x % n;
  }
  bool bernoulli(double p) { return uniform() < p; }

 private:
  std::mt19937_64 gen_;
};

struct Person {
  int lab = -1;  // -1: nowhere
  int tier = 0;
  int named = -1;  // index into Scenario::researchers, or -1 if synthetic
  double reputation = 0;
  double taste[kMotiveCount] = {};
  int tenure = 0;         // whole steps
  std::vector<int> ties;  // "this person follows ties[j]", with replacement
};

struct LabState {
  double funding = 0, prestige = 0, mission = 0.5, openness = 0.5, attrition = 1, cliff_factor = 1;
  std::vector<double> comp_multiplier;  // m_lk, per tier
  bool open = true;
};

inline ReplicateResult run_oracle(const Scenario& s, std::uint64_t seed, std::int64_t replicate) {
  const int L = s.lab_count(), K = s.tier_count(), N = s.named_count(), T = s.steps;
  const double D = s.step_days;
  const int star = s.star_tier();
  const Market& mk = s.market;
  Random rng(seed, replicate);

  // ---- Section 3: the population, drawn per replicate. Order: labs in file
  // order, tiers lowest first, then named researchers (the README's
  // population order, which breaks poaching ties).
  std::vector<Person> people;
  for (int l = 0; l < L; ++l)
    for (int k = 0; k < K; ++k)
      for (std::int64_t c = 0; c < s.labs[l].headcount[k]; ++c) {
        Person p;
        p.lab = l;
        p.tier = k;
        people.push_back(p);
      }
  const int first_named = static_cast<int>(people.size());
  for (int n = 0; n < N; ++n) {
    Person p;
    p.lab = s.researchers[n].lab;
    p.tier = s.researchers[n].tier;
    p.named = n;
    people.push_back(p);
  }
  const int P = static_cast<int>(people.size());
  // n of section 3; at least 1, so that steps longer than four years give
  // tenure 0 (README reading) rather than an empty range.
  const int tenure_span = std::max(1, static_cast<int>(std::floor(4 * 365.25 / D)));
  for (auto& p : people) {
    const Tier& tier = s.tiers[p.tier];
    // Reputation ~ LogNormal(ln median, sigma), unless a named one fixes it.
    if (p.named >= 0 && s.researchers[p.named].reputation)
      p.reputation = *s.researchers[p.named].reputation;
    else
      p.reputation =
          std::exp(std::log(tier.reputation_median) + tier.reputation_sigma * rng.normal());
    for (int m = 0; m < kMotiveCount; ++m)
      p.taste[m] = s.tastes[m].mean + s.tastes[m].sd * rng.normal();
    // Tenure uniform on 0..n-1; named researchers start at 0.
    p.tenure =
        p.named >= 0 ? 0 : static_cast<int>(rng.below(static_cast<std::uint64_t>(tenure_span)));
  }
  // Ties: only among people who start in a lab.
  std::vector<std::vector<int>> members(L);
  std::vector<int> everyone;
  for (int i = 0; i < P; ++i)
    if (people[i].lab >= 0) {
      members[people[i].lab].push_back(i);
      everyone.push_back(i);
    }
  // A uniformly drawn member of `pool` other than i (pool holds i).
  auto other_than = [&](const std::vector<int>& pool, int i) {
    int j;
    do j = pool[rng.below(pool.size())];
    while (j == i);
    return j;
  };
  for (int i = 0; i < P; ++i) {
    Person& p = people[i];
    if (p.lab < 0 || everyone.size() < 2) continue;  // starts nowhere: no ties
    for (std::int64_t d = 0; d < s.network.degree; ++d) {
      const bool alone = members[p.lab].size() < 2;
      if (rng.bernoulli(s.network.within_lab))
        p.ties.push_back(other_than(alone ? everyone : members[p.lab], i));
      else
        p.ties.push_back(other_than(everyone, i));
    }
  }

  // ---- Section 2: lab state, changed by events.
  std::vector<LabState> labs(L);
  for (int l = 0; l < L; ++l) {
    const Lab& lab = s.labs[l];
    labs[l] = {lab.funding,
               lab.prestige,
               lab.mission,
               lab.openness,
               lab.attrition,
               lab.cliff_factor,
               std::vector<double>(K, 1.0),
               lab.open};
  }

  ReplicateResult out(ResultShape{T, L, K, N, 0});
  out.replicate = replicate;
  const double cliff_steps = mk.cliff_years * 365.25 / D;  // not rounded (README reading)
  std::vector<char> moved_last_step(P, 0);

  for (int t = 0; t < T; ++t) {
    std::vector<char> moved(P, 0);                // moved during this step, by any cause
    std::vector<char> event_moved(P, 0);          // moved by a move or found event: off the market
    std::vector<char> forced(P, 0);               // poached or displaced: on the market regardless
    std::map<std::pair<int, int>, double> offer;  // (person, lab) -> o_il

    auto record_move = [&](int i, int from, int to) {
      const int k = people[i].tier;
      if (from >= 0) ++out.departures[out.tlk(t, from, k)];
      if (to >= 0) ++out.hires[out.tlk(t, to, k)];
      if (from >= 0 && to >= 0) ++out.flows[out.flk(from, to, k)];
      people[i].lab = to;
      moved[i] = 1;
    };
    // A forced move (section 5: move, founders). Moving to where one is is
    // not a move and leaves the person eligible for the market (README).
    auto force_move = [&](int i, int to) {
      if (people[i].lab == to) return;
      record_move(i, people[i].lab, to);
      event_moved[i] = 1;
    };

    // ---- Section 4.1 / 5: events of this step, in file order.
    for (const Event& e : s.events) {
      if (e.step != t) continue;
      switch (e.type) {
        case EventType::Raise:
          labs[e.lab].funding += e.amount;
          break;
        case EventType::Comp:
          for (int k = 0; k < K; ++k)
            if (e.tiers.empty() || std::find(e.tiers.begin(), e.tiers.end(), k) != e.tiers.end())
              labs[e.lab].comp_multiplier[k] *= e.factor;
          break;
        case EventType::Prestige:
          labs[e.lab].prestige += e.delta;
          break;
        case EventType::Policy:
          if (e.mission) labs[e.lab].mission = *e.mission;
          if (e.openness) labs[e.lab].openness = *e.openness;
          if (e.attrition) labs[e.lab].attrition = *e.attrition;
          if (e.cliff_factor) labs[e.lab].cliff_factor = *e.cliff_factor;
          break;
        case EventType::Move:
          force_move(first_named + e.researcher, e.lab);
          break;
        case EventType::Poach: {
          // Targets chosen now, among people in other (listed) labs, of the
          // listed tiers, not already moved by an event this step; highest
          // reputation first, ties by population order (README).
          std::vector<int> candidates;
          for (int i = 0; i < P; ++i) {
            const Person& p = people[i];
            if (p.lab < 0 || p.lab == e.lab || event_moved[i]) continue;
            if (!e.from.empty() && std::find(e.from.begin(), e.from.end(), p.lab) == e.from.end())
              continue;
            if (!e.tiers.empty() &&
                std::find(e.tiers.begin(), e.tiers.end(), p.tier) == e.tiers.end())
              continue;
            candidates.push_back(i);
          }
          std::stable_sort(candidates.begin(), candidates.end(), [&](int a, int b) {
            return people[a].reputation > people[b].reputation;
          });
          const auto n =
              std::min<std::size_t>(candidates.size(), static_cast<std::size_t>(e.count));
          for (std::size_t c = 0; c < n; ++c) {
            forced[candidates[c]] = 1;
            offer[{candidates[c], e.lab}] = e.factor;  // the later offer stands
          }
          break;
        }
        case EventType::Found:
          labs[e.lab].open = true;
          for (int f : e.founders) force_move(first_named + f, e.lab);
          break;
        case EventType::Close:
          labs[e.lab].open = false;
          for (int i = 0; i < P; ++i)
            if (people[i].lab == e.lab) forced[i] = 1;
          break;
      }
    }

    // ---- Section 4.2: aggregates, frozen after the events (README).
    std::vector<double> S(L, 0.0), Q(L, 0.0);
    std::vector<std::int64_t> H(L, 0);
    for (const Person& p : people) {
      if (p.lab < 0) continue;
      S[p.lab] += p.reputation;
      if (p.tier == star) Q[p.lab] += p.reputation;
      ++H[p.lab];
    }
    double S_total = 0;
    for (int l = 0; l < L; ++l) S_total += S[l];  // closed labs included (README)
    std::vector<double> share(L, 0.0);
    for (int l = 0; l < L; ++l) share[l] = S_total > 0 ? S[l] / S_total : 0;
    std::vector<double> comp_scale(L, 1.0);  // m_lk aside: f_l(t)
    for (int l = 0; l < L; ++l)
      if (s.labs[l].funding > 0)
        comp_scale[l] = std::pow(labs[l].funding / s.labs[l].funding, mk.comp_funding_elasticity);

    // ---- Section 4.3: who is on the market.
    std::vector<char> on_market(P, 0);
    for (int i = 0; i < P; ++i) {
      const Person& p = people[i];
      if (p.lab < 0 || event_moved[i]) continue;
      // Own search: one Bernoulli draw per researcher per step.
      const LabState& lab = labs[p.lab];
      const double factor = p.tenure < cliff_steps ? lab.cliff_factor : 1.0;
      const double lambda = s.tiers[p.tier].search_rate * lab.attrition * factor;
      bool on = rng.bernoulli(1 - std::exp(-lambda * D / 365.25));
      // Following: each tie to someone who moved last step pulls
      // independently with follow_prob (README: ties counted with multiplicity).
      for (int j : p.ties)
        if (moved_last_step[j] && rng.bernoulli(mk.follow_prob)) on = true;
      on_market[i] = on || forced[i];
    }

    // ---- Section 4.4: choice by multinomial logit over open labs.
    std::vector<int> choice(P, -1);
    std::vector<double> V(L), w(L);
    for (int i = 0; i < P; ++i) {
      if (!on_market[i]) continue;
      const Person& p = people[i];
      ++out.market_decisions;
      std::vector<int> ties_at(L, 0);
      for (int j : p.ties)
        if (people[j].lab >= 0) ++ties_at[people[j].lab];
      const double d = static_cast<double>(p.ties.size());
      double vmax = -INFINITY;
      for (int l = 0; l < L; ++l) {
        if (!labs[l].open) continue;
        const auto o = offer.find({i, l});
        const double o_il = o == offer.end() ? 1.0 : o->second;
        const double comp =
            s.labs[l].comp[p.tier] * labs[l].comp_multiplier[p.tier] * comp_scale[l];
        const double q = Q[l] - (p.tier == star && p.lab == l ? p.reputation : 0.0);
        const double peer = d > 0 ? mk.peer_magnet * ties_at[l] / d : 0.0;
        V[l] = p.taste[kComp] * std::log(comp * o_il) +
               p.taste[kPrestige] * (labs[l].prestige + mk.prestige_feedback * share[l]) +
               p.taste[kMagnet] * (mk.star_magnet * std::log(1 + q / mk.star_magnet_scale) + peer) +
               p.taste[kMission] * labs[l].mission + p.taste[kOpenness] * labs[l].openness -
               (l != p.lab ? mk.switching_cost : 0.0);
        vmax = std::max(vmax, V[l]);
      }
      double total = 0;
      for (int l = 0; l < L; ++l) {
        w[l] = labs[l].open ? std::exp(V[l] - vmax) : 0.0;
        total += w[l];
      }
      const double u = rng.uniform() * total;
      double acc = 0;
      int pick = -1;
      for (int l = 0; l < L; ++l) {
        if (!labs[l].open) continue;
        pick = l;  // the last open lab catches rounding at the top
        acc += w[l];
        if (u < acc) break;
      }
      choice[i] = pick;
    }

    // ---- Section 4.5: capacity, with H_l from the frozen aggregates.
    std::vector<int> dest(P, -1);
    for (int i = 0; i < P; ++i)
      if (on_market[i]) dest[i] = choice[i];
    int fallback = -1;  // first open lab without a capacity, in file order
    for (int l = 0; l < L && fallback < 0; ++l)
      if (labs[l].open && !s.labs[l].capacity) fallback = l;
    for (int l = 0; l < L; ++l) {
      if (!s.labs[l].capacity) continue;
      std::vector<int> applicants;  // from elsewhere, in population order
      for (int i = 0; i < P; ++i)
        if (on_market[i] && choice[i] == l && people[i].lab != l) applicants.push_back(i);
      // Uniformly random order: Fisher-Yates.
      for (std::size_t a = applicants.size(); a > 1; --a)
        std::swap(applicants[a - 1], applicants[rng.below(a)]);
      const std::int64_t slots = std::max<std::int64_t>(0, *s.labs[l].capacity - H[l]);
      for (std::size_t a = static_cast<std::size_t>(
               std::min<std::int64_t>(slots, static_cast<std::int64_t>(applicants.size())));
           a < applicants.size(); ++a) {
        const int i = applicants[a];
        dest[i] = labs[people[i].lab].open ? people[i].lab : fallback;  // stay, or be sent on
      }
    }

    // ---- Section 4.6: moves applied together; tenure.
    for (int i = 0; i < P; ++i)
      if (on_market[i] && dest[i] != people[i].lab) record_move(i, people[i].lab, dest[i]);
    for (int i = 0; i < P; ++i) people[i].tenure = moved[i] ? 0 : people[i].tenure + 1;
    moved_last_step = moved;

    // ---- Section 4.7 / 7: record the end of the step.
    for (const Person& p : people) {
      if (p.lab < 0) continue;
      ++out.headcount[out.tlk(t, p.lab, p.tier)];
      out.star_power[out.tl(t, p.lab)] += p.reputation;
    }
    for (int n = 0; n < N; ++n) out.named_lab[out.tn(t, n)] = people[first_named + n].lab;
  }
  return out;
}

}  // namespace talentsim::oracle
