// One replicate of the reference model (MODEL.md sections 3-5).
#include "talentsim/model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "replicate.hpp"
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
  if (scenario_.questions.empty()) return detail::Replicate(*this, seed, replicate, observer).run();
  QuestionTracker tracker(scenario_, observer);
  ReplicateResult r = detail::Replicate(*this, seed, replicate, &tracker).run();
  tracker.answer(r);
  return r;
}

}  // namespace talentsim
