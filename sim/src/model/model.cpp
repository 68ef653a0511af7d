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

  // Who can be tied to whom: researchers who start in a lab.
  if (s.network.degree > 0) {
    if (static_cast<std::uint64_t>(s.network.degree) >= kMaxStreamIndex)
      throw InternalError("Model: network.degree too large for the random stream layout");
    members_.resize(s.lab_count());
    position_in_lab_.assign(identities_.size(), -1);
    position_in_all_.assign(identities_.size(), -1);
    for (std::size_t i = 0; i < identities_.size(); ++i) {
      const int l = identities_[i].lab;
      if (l < 0) continue;
      position_in_lab_[i] = static_cast<std::int32_t>(members_[l].size());
      members_[l].push_back(static_cast<std::int32_t>(i));
      position_in_all_[i] = static_cast<std::int32_t>(everyone_.size());
      everyone_.push_back(static_cast<std::int32_t>(i));
    }
  }

  events_at_step_.assign(s.steps, {});
  for (int e = 0; e < static_cast<int>(s.events.size()); ++e)
    events_at_step_.at(s.events[e].step).push_back(e);
}

ResultShape Model::shape() const {
  return {scenario_.steps, scenario_.lab_count(), scenario_.tier_count(), scenario_.named_count(),
          static_cast<int>(scenario_.questions.size())};
}

Population Model::draw_population(std::uint64_t seed, std::int64_t replicate) const {
  Population pop;
  draw_population(seed, replicate, pop);
  return pop;
}

void Model::draw_population(std::uint64_t seed, std::int64_t replicate, Population& pop,
                            const std::atomic<bool>* cancel) const {
  const auto check_cancel = [cancel] {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw ReplicateCancelled{};
  };
  const Scenario& s = scenario_;
  const Streams streams(seed, static_cast<std::uint64_t>(replicate));
  const std::size_t n = identities_.size();
  pop.reputation.resize(n);
  pop.tastes.resize(n);
  pop.tenure.resize(n);

  const std::int64_t tenure_span =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(4 * 365.25 / s.step_days)));

  // The first words of every researcher's streams are computed in blocks,
  // 16 Philox counters at a time (bits_lanes); the draws below consume them
  // exactly as if each were computed on demand.
  constexpr std::size_t kBlock = 64;
  constexpr int kTraitWords = 6;  // six normals usually take one word each
  std::uint64_t who[kBlock * kTraitWords / 2];
  std::uint32_t index[kBlock * kTraitWords / 2];
  std::uint64_t trait_words[kBlock * kTraitWords], tenure_words[kBlock * 2];
  for (std::size_t block = 0; block < n; block += kBlock) {
    check_cancel();
    const std::size_t m = std::min(kBlock, n - block);
    for (std::size_t r = 0; r < m; ++r)
      for (int c = 0; c < kTraitWords / 2; ++c) {
        who[r * kTraitWords / 2 + c] = identities_[block + r].who;
        index[r * kTraitWords / 2 + c] = static_cast<std::uint32_t>(c);
      }
    bits_lanes(streams, who, Purpose::Traits, index, m * kTraitWords / 2, trait_words);
    for (std::size_t r = 0; r < m; ++r) {
      who[r] = identities_[block + r].who;
      index[r] = 0;
    }
    bits_lanes(streams, who, Purpose::Tenure, index, m, tenure_words);

    for (std::size_t r = 0; r < m; ++r) {
      const std::size_t i = block + r;
      const Identity& id = identities_[i];
      const Tier& tier = s.tiers[id.tier];
      // Six normals: reputation first, then the tastes in motive order. A
      // fixed reputation still takes its normal, so the tastes are the same
      // person's whatever the scenario fixes. Usually each takes one of the
      // words already computed; else (8.6% of researchers) the stream, exactly.
      static_assert(kTraitWords == 1 + kMotiveCount);
      double z[kTraitWords];
      if (!standard_normals_one_word_each(trait_words + r * kTraitWords, kTraitWords, z)) {
        WordStream traits(streams, id.who, Purpose::Traits, trait_words + r * kTraitWords,
                          kTraitWords);
        for (double& normal : z) normal = standard_normal(traits);
      }
      pop.reputation[i] = id.fixed_reputation > 0
                              ? id.fixed_reputation
                              : tier.reputation_median * std::exp(tier.reputation_sigma * z[0]);
      for (int k = 0; k < kMotiveCount; ++k)
        pop.tastes[i].b[k] = s.tastes[k].mean + s.tastes[k].sd * z[1 + k];
      const bool named = static_cast<int>(i) >= named_offset_;
      const double u = unit_interval(tenure_words[2 * r]);
      pop.tenure[i] = named ? 0
                            : static_cast<std::int32_t>(std::min<std::int64_t>(
                                  tenure_span - 1, static_cast<std::int64_t>(u * tenure_span)));
    }
  }

  // Ties: only researchers who start in a lab have them and are them. Each
  // tie takes one 64-bit word: the low 32 bits decide "within the lab"
  // (P = within_lab to 2^-33), the high 32 bits pick the other researcher
  // exactly uniformly.
  const std::int64_t degree = s.network.degree;
  pop.tie_begin.assign(n + 1, 0);
  pop.ties.clear();
  if (degree <= 0 || everyone_.size() < 2) return;
  pop.ties.resize(everyone_.size() * static_cast<std::size_t>(degree));
  const auto within_threshold = static_cast<std::uint64_t>(
      std::llround(std::clamp(s.network.within_lab, 0.0, 1.0) * 0x1.0p32));
  // Each researcher's first words (up to 32), computed a block at a time.
  const std::size_t calls = std::min<std::size_t>(16, static_cast<std::size_t>((degree + 1) / 2)),
                    words_each = 2 * calls;
  std::vector<std::uint64_t> tie_who(kBlock * calls), tie_words(kBlock * words_each);
  std::vector<std::uint32_t> tie_index(kBlock * calls);
  std::size_t next = 0;
  for (std::size_t block = 0; block < n; block += kBlock) {
    check_cancel();
    const std::size_t m = std::min(kBlock, n - block);
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t c = 0; c < calls; ++c) {
        tie_who[r * calls + c] = identities_[block + r].who;
        tie_index[r * calls + c] = static_cast<std::uint32_t>(c);
      }
    bits_lanes(streams, tie_who.data(), Purpose::Ties, tie_index.data(), m * calls,
               tie_words.data());
    for (std::size_t r = 0; r < m; ++r) {
      const std::size_t i = block + r;
      pop.tie_begin[i] = static_cast<std::int32_t>(next);
      const int l = identities_[i].lab;
      if (l < 0) continue;
      // A uniformly drawn element of the lab's members or of everyone,
      // other than oneself. Which set is a coin with P = within_lab, so it
      // indexes two-entry tables (0: everyone, 1: the lab) rather than
      // being a branch the processor would mispredict.
      const auto& lab = members_[l];
      const std::uint32_t lab_usable = lab.size() >= 2 ? 1 : 0;
      const std::int32_t* const set[2] = {everyone_.data(), lab.data()};
      const std::uint32_t others[2] = {static_cast<std::uint32_t>(everyone_.size() - 1),
                                       static_cast<std::uint32_t>(lab.size() - 1)};
      const std::int32_t self[2] = {position_in_all_[i], position_in_lab_[i]};
      // Which set a tie's word picks, and the k-th member of it other than
      // oneself.
      const auto set_of = [&](std::uint64_t w) -> std::uint32_t {
        return ((w & 0xffffffffu) < within_threshold ? 1u : 0u) & lab_usable;
      };
      const auto other = [&](std::uint32_t within, std::uint32_t k) {
        return set[within][k + (static_cast<std::int32_t>(k) >= self[within] ? 1 : 0)];
      };
      // Tie d takes word d unless an earlier tie's index was redrawn
      // (Lemire's rejection, possible with probability (n - 1) / 2^32 for a
      // tie among n): the words already computed serve in one pass without
      // the stream, which is redone exactly in the rare case that a
      // rejection was possible.
      const std::uint64_t* first = tie_words.data() + r * words_each;
      std::int32_t* out = pop.ties.data() + next;
      bool may_reject = static_cast<std::size_t>(degree) > words_each;
      for (std::int64_t d = 0; d < degree && !may_reject; ++d) {
        const std::uint64_t w = first[d];
        const std::uint32_t within = set_of(w);
        const std::uint64_t product = (w >> 32) * others[within];
        may_reject |= static_cast<std::uint32_t>(product) < others[within];
        out[d] = other(within, static_cast<std::uint32_t>(product >> 32));
      }
      if (may_reject) {
        WordStream words(streams, identities_[i].who, Purpose::Ties, first,
                         static_cast<int>(words_each));
        for (std::int64_t d = 0; d < degree; ++d) {
          const std::uint64_t w = words.next();
          const std::uint32_t within = set_of(w);
          out[d] = other(within,
                         uniform_below(others[within], static_cast<std::uint32_t>(w >> 32), words));
        }
      }
      next += static_cast<std::size_t>(degree);
    }
  }
  pop.tie_begin[n] = static_cast<std::int32_t>(next);
}

namespace {

// Counts the moves that the questions ask about, as they happen, and passes
// every move on to the caller's observer. Retention and tenure need each
// researcher's lab, the step their current spell began and where they came
// from: kept here, and only when such a question is asked.
class QuestionTracker : public MoveObserver {
 public:
  QuestionTracker(const Model& m, MoveObserver* next)
      : s_(m.scenario()),
        ids_(m.identities()),
        next_(next),
        hires_(s_.questions.size(), 0),
        departures_(s_.questions.size(), 0),
        broken_(s_.questions.size(), 0),
        tenure_steps_(s_.questions.size(), 0),
        tenure_count_(s_.questions.size(), 0) {
    about_lab_.resize(static_cast<std::size_t>(s_.lab_count()) + 1);
    for (std::size_t q = 0; q < s_.questions.size(); ++q) {
      const Question& qu = s_.questions[q];
      researchers_ = researchers_ || qu.metric == Metric::Retention || qu.metric == Metric::Tenure;
      if (qu.lab < -1 || qu.lab >= s_.lab_count())
        throw InternalError("QuestionTracker: question lab out of range");
      if (counts_moves(qu.metric)) about_lab_[static_cast<std::size_t>(qu.lab + 1)].push_back(q);
    }
  }

  // Before the first step, with the replicate's population: everyone's
  // spell at their starting lab began tau steps before the run (MODEL.md
  // section 3), as the replicate's tenure anchors.
  void start(const Population& pop) {
    if (!researchers_) return;
    const std::size_t n = ids_.size();
    lab_.resize(n);
    since_.resize(n);
    came_from_.assign(n, -1);
    for (std::size_t i = 0; i < n; ++i) {
      lab_[i] = ids_[i].lab;
      since_[i] = -pop.tenure[i];
    }
  }

  // Only the questions about `from` or `to` can count a move: a hire is a
  // move into the question's lab, a departure or a broken join one out of it.
  void on_move(int step, int researcher, int from, int to, int tier) override {
    for (const std::size_t q : about_lab_[static_cast<std::size_t>(from + 1)])
      count_move(q, step, researcher, from, to, tier);
    if (to != from)  // never equal for a move; were it, count once
      for (const std::size_t q : about_lab_[static_cast<std::size_t>(to + 1)])
        count_move(q, step, researcher, from, to, tier);
    if (researchers_) {
      const auto i = static_cast<std::size_t>(researcher);
      lab_[i] = to;
      since_[i] = step + 1;
      came_from_[i] = from;
    }
    if (next_) next_->on_move(step, researcher, from, to, tier);
  }

  // Question q's counts for one move.
  void count_move(std::size_t q, int step, int researcher, int from, int to, int tier) {
    const Question& qu = s_.questions[q];
    if (qu.metric == Metric::Retention && from == qu.lab) {
      // Leaving ends the spell that began at step since - 1: a join of
      // the cohort that did not last H steps.
      const int joined = since_[static_cast<std::size_t>(researcher)] - 1;
      if (joined >= qu.step_from && joined <= qu.step_to && step <= joined + qu.after_steps &&
          in_tiers(qu, tier) && from_listed(qu, came_from_[static_cast<std::size_t>(researcher)]))
        ++broken_[q];
    }
    if (step < qu.step_from || step > qu.step_to || !in_tiers(qu, tier)) return;
    if (to == qu.lab && from_listed(qu, from)) ++hires_[q];
    if (from == qu.lab && (qu.metric != Metric::FlowRatio ||
                           std::find(qu.from.begin(), qu.from.end(), to) != qu.from.end()))
      ++departures_[q];
  }

  void on_step_end(int step) override {
    for (std::size_t q = 0; q < s_.questions.size(); ++q) {
      const Question& qu = s_.questions[q];
      if (qu.metric != Metric::Tenure || qu.step_to != step) continue;
      std::int64_t steps = 0, count = 0;
      for (std::size_t i = 0; i < lab_.size(); ++i) {
        if (lab_[i] != qu.lab || !in_tiers(qu, ids_[i].tier)) continue;
        steps += step + 1 - since_[i];
        ++count;
      }
      tenure_steps_[q] = steps;
      tenure_count_[q] = count;
    }
    if (next_) next_->on_step_end(step);
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
        case Metric::Retention:
          set_ratio(r, q, static_cast<double>(hires_[q] - broken_[q]),
                    static_cast<double>(hires_[q]));
          continue;
        case Metric::FlowRatio:
          set_ratio(r, q, static_cast<double>(hires_[q]), static_cast<double>(departures_[q]));
          continue;
        case Metric::Tenure:
          set_ratio(r, q, static_cast<double>(tenure_steps_[q]) * s_.step_days / 365.25,
                    static_cast<double>(tenure_count_[q]));
          continue;
      }
      r.question_value[q] = value;
      r.question_numerator[q] = value;
      r.question_denominator[q] = 1;
    }
  }

 private:
  // The metrics answered from hires_, departures_ and broken_.
  static bool counts_moves(Metric m) {
    return m == Metric::Hires || m == Metric::Departures || m == Metric::NetFlow ||
           m == Metric::Retention || m == Metric::FlowRatio;
  }
  static bool in_tiers(const Question& q, int tier) {
    return q.tiers.empty() || std::find(q.tiers.begin(), q.tiers.end(), tier) != q.tiers.end();
  }
  // Whether a move from `from` counts as a hire (-1: from nowhere, which
  // counts only when the question lists no labs).
  static bool from_listed(const Question& q, int from) {
    return q.from.empty() || std::find(q.from.begin(), q.from.end(), from) != q.from.end();
  }

  // value = numerator / denominator (ratio_value: NaN or +infinity when the
  // denominator is 0).
  static void set_ratio(ReplicateResult& r, std::size_t q, double numerator, double denominator) {
    r.question_numerator[q] = numerator;
    r.question_denominator[q] = denominator;
    r.question_value[q] = ratio_value(numerator, denominator);
  }

  const Scenario& s_;
  const std::vector<Identity>& ids_;
  MoveObserver* next_;
  // Per question: moves into and out of its lab in its window (for a
  // retention question, hires are the cohort's joins; for a flow ratio,
  // departures only those to its `from` labs); joins that did not last;
  // tenure summed in steps, and researchers counted.
  std::vector<std::int64_t> hires_, departures_, broken_, tenure_steps_, tenure_count_;
  bool researchers_ = false;
  // [1 + lab]: the questions about that lab (or nowhere) answered from
  // moves, in file order.
  std::vector<std::vector<std::size_t>> about_lab_;
  // Per researcher, when researchers_: lab now (-1 nowhere), the step after
  // their last move (-tau at start) and the lab they came from then.
  std::vector<std::int32_t> lab_, since_, came_from_;
};

}  // namespace

bool question_outcome(const Question& q, double value) {
  return (!q.at_least || value >= *q.at_least) && (!q.at_most || value <= *q.at_most);
}

Workspace::Workspace() = default;
Workspace::~Workspace() = default;

ReplicateResult Model::run(std::uint64_t seed, std::int64_t replicate, MoveObserver* observer,
                           Workspace* workspace, const std::atomic<bool>* cancel) const {
  Workspace local;
  Workspace& w = workspace ? *workspace : local;
  if (w.model_ != this || !w.replicate_) {
    w.replicate_ = std::make_unique<detail::Replicate>(*this);
    w.model_ = this;
  }
  detail::Replicate& state = *w.replicate_;
  if (scenario_.questions.empty()) {
    state.restart(seed, replicate, observer, cancel);
    return state.run(cancel);
  }
  QuestionTracker tracker(*this, observer);
  state.restart(seed, replicate, &tracker, cancel);
  tracker.start(state.drawn());
  ReplicateResult r = state.run(cancel);
  tracker.answer(r);
  return r;
}

}  // namespace talentsim
