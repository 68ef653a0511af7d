#include "talentsim/wire.hpp"

#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#include "talentsim/bytes.hpp"
#include "talentsim/errors.hpp"

namespace talentsim {
namespace {

template <class C, class T>
void each(C& c, T& t);

// Field by field, in declaration order. Each Codec::field() call names one
// member; the same function serves encoding and decoding, so the two cannot
// drift apart.
class Encoder {
 public:
  std::string out;
  template <class T>
  void field(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      put(out, static_cast<std::uint8_t>(v));
    } else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
      put(out, v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      put(out, static_cast<std::uint64_t>(v.size()));
      out += v;
    } else if constexpr (std::is_same_v<T, Date>) {
      put(out, v.days);
    } else {
      each(*this, v);
    }
  }
  template <class T>
  void field(const std::optional<T>& v) {
    put(out, static_cast<std::uint8_t>(v.has_value()));
    if (v) field(*v);
  }
  template <class T>
  void field(const std::vector<T>& v) {
    put(out, static_cast<std::uint64_t>(v.size()));
    if constexpr (std::is_arithmetic_v<T>)
      put(out, v.data(), v.size());
    else
      for (const T& x : v) field(x);
  }
};

class Decoder {
 public:
  explicit Decoder(std::string_view bytes) : in_(bytes) {}
  template <class T>
  void field(T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      std::uint8_t b = 0;  // any other byte in a bool would be undefined
      need(in_.get(b) && b <= 1);
      v = b != 0;
    } else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
      need(in_.get(v));
    } else if constexpr (std::is_same_v<T, std::string>) {
      v.resize(size());
      need(in_.get(v.data(), v.size()));
    } else if constexpr (std::is_same_v<T, Date>) {
      need(in_.get(v.days));
    } else {
      each(*this, v);
    }
  }
  template <class T>
  void field(std::optional<T>& v) {
    std::uint8_t has = 0;
    need(in_.get(has) && has <= 1);
    v.reset();
    if (has) field(v.emplace());
  }
  template <class T>
  void field(std::vector<T>& v) {
    v.resize(size());
    if constexpr (std::is_arithmetic_v<T>)
      need(in_.get(v.data(), v.size()));
    else
      for (T& x : v) field(x);
  }
  void finish() { need(in_.at_end()); }
  static void need(bool ok) {
    if (!ok) throw InternalError("wire: bytes cut short or malformed");
  }

 private:
  std::size_t size() {
    std::uint64_t n = 0;
    need(in_.get(n));
    // Every element takes at least one byte: a length beyond what is left
    // is damage, not a reason to allocate.
    need(n <= in_.left());
    return static_cast<std::size_t>(n);
  }
  RecordReader in_;
};

// The members of each type, for both directions. A member added to
// scenario.hpp must be added here; the round-trip test compares whole
// scenarios with operator==, which does see every member.
template <class C, class T>
void each(C& c, T& t) {
  using U = std::remove_const_t<T>;
  if constexpr (std::is_same_v<U, Tier>) {
    c.field(t.name), c.field(t.search_rate), c.field(t.reputation_median),
        c.field(t.reputation_sigma);
  } else if constexpr (std::is_same_v<U, Taste>) {
    c.field(t.mean), c.field(t.sd);
  } else if constexpr (std::is_same_v<U, Market>) {
    c.field(t.switching_cost), c.field(t.cliff_years), c.field(t.cliff_factor),
        c.field(t.comp_funding_elasticity), c.field(t.prestige_feedback), c.field(t.star_magnet),
        c.field(t.star_magnet_scale), c.field(t.peer_magnet), c.field(t.follow_prob);
  } else if constexpr (std::is_same_v<U, Network>) {
    c.field(t.degree), c.field(t.within_lab);
  } else if constexpr (std::is_same_v<U, Lab>) {
    c.field(t.name), c.field(t.headcount), c.field(t.comp), c.field(t.funding), c.field(t.prestige),
        c.field(t.mission), c.field(t.openness), c.field(t.attrition), c.field(t.cliff_factor),
        c.field(t.capacity), c.field(t.open);
  } else if constexpr (std::is_same_v<U, NamedResearcher>) {
    c.field(t.name), c.field(t.tier), c.field(t.lab), c.field(t.reputation);
  } else if constexpr (std::is_same_v<U, Event>) {
    c.field(t.date), c.field(t.step), c.field(t.type), c.field(t.lab), c.field(t.amount),
        c.field(t.factor), c.field(t.tiers), c.field(t.delta), c.field(t.mission),
        c.field(t.openness), c.field(t.attrition), c.field(t.cliff_factor), c.field(t.researcher),
        c.field(t.count), c.field(t.from), c.field(t.founders);
  } else if constexpr (std::is_same_v<U, Question>) {
    c.field(t.id), c.field(t.text), c.field(t.metric), c.field(t.lab), c.field(t.tiers),
        c.field(t.from), c.field(t.researcher), c.field(t.window_from), c.field(t.window_to),
        c.field(t.step_from), c.field(t.step_to), c.field(t.after), c.field(t.after_steps),
        c.field(t.at_least), c.field(t.at_most);
  } else if constexpr (std::is_same_v<U, Scenario>) {
    c.field(t.name), c.field(t.description), c.field(t.start), c.field(t.end), c.field(t.step_days),
        c.field(t.steps), c.field(t.replicates), c.field(t.seed), c.field(t.tiers);
    for (auto& taste : t.tastes) c.field(taste);
    c.field(t.market), c.field(t.network), c.field(t.labs), c.field(t.researchers),
        c.field(t.events), c.field(t.questions), c.field(t.source_text), c.field(t.source_name);
  } else if constexpr (std::is_same_v<U, ResultShape>) {
    c.field(t.steps), c.field(t.labs), c.field(t.tiers), c.field(t.named), c.field(t.questions);
  } else if constexpr (std::is_same_v<U, ReplicateResult>) {
    c.field(t.replicate), c.field(t.shape), c.field(t.headcount), c.field(t.hires),
        c.field(t.departures), c.field(t.star_power), c.field(t.named_lab), c.field(t.flows),
        c.field(t.question_value), c.field(t.question_numerator), c.field(t.question_denominator),
        c.field(t.market_decisions);
  } else {
    static_assert(!sizeof(U), "no wire layout for this type");
  }
}

}  // namespace

std::string encode_scenario(const Scenario& s) {
  Encoder e;
  e.field(s);
  return std::move(e.out);
}

Scenario decode_scenario(std::string_view bytes) {
  Decoder d(bytes);
  Scenario s;
  d.field(s);
  d.finish();
  return s;
}

void append_result(const ReplicateResult& r, std::string& out) {
  Encoder e;
  e.out = std::move(out);
  e.field(r);
  out = std::move(e.out);
}

std::string encode_result(const ReplicateResult& r) {
  std::string out;
  append_result(r, out);
  return out;
}

ReplicateResult decode_result(std::string_view bytes) {
  Decoder d(bytes);
  ReplicateResult r;
  d.field(r);
  d.finish();
  // The arrays must have the sizes their shape gives.
  const ResultShape& s = r.shape;
  Decoder::need(s.steps >= 0 && s.labs >= 0 && s.tiers >= 0 && s.named >= 0 && s.questions >= 0);
  const ReplicateResult sized(s);
  Decoder::need(
      r.headcount.size() == sized.headcount.size() && r.hires.size() == sized.hires.size() &&
      r.departures.size() == sized.departures.size() &&
      r.star_power.size() == sized.star_power.size() &&
      r.named_lab.size() == sized.named_lab.size() && r.flows.size() == sized.flows.size() &&
      r.question_value.size() == sized.question_value.size() &&
      r.question_numerator.size() == sized.question_numerator.size() &&
      r.question_denominator.size() == sized.question_denominator.size());
  return r;
}

}  // namespace talentsim
