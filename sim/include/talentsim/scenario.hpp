// The validated, immutable description of one run: every key of MODEL.md
// with its default filled in and every name resolved to an index. Built by
// the scenario loader (scenario_loader.hpp); read by the model and the I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace talentsim {

// A calendar date as days since 1970-01-01 (proleptic Gregorian).
struct Date {
  std::int32_t days = 0;
  friend auto operator<=>(const Date&, const Date&) = default;
};
std::string to_iso(Date d);
// Parses YYYY-MM-DD strictly; nullopt when malformed or not a real date.
std::optional<Date> parse_iso_date(const std::string& text);

struct Tier {
  std::string name;
  double search_rate = 0;  // market entries per year
  double reputation_median = 1;
  double reputation_sigma = 0;
  friend bool operator==(const Tier&, const Tier&) = default;
};

// Index of each motive in a researcher's taste vector.
enum Motive : int { kComp = 0, kPrestige, kMagnet, kMission, kOpenness, kMotiveCount };
inline constexpr const char* kMotiveNames[kMotiveCount] = {"comp", "prestige", "magnet", "mission",
                                                           "openness"};

struct Taste {
  double mean = 0;
  double sd = 0;
  friend bool operator==(const Taste&, const Taste&) = default;
};

struct Market {
  double switching_cost = 0;  // kappa
  double cliff_years = 0;
  double cliff_factor = 1;
  double comp_funding_elasticity = 0;  // eta
  double prestige_feedback = 0;        // rho
  double star_magnet = 0;              // w_star
  double star_magnet_scale = 1;        // q0
  double peer_magnet = 0;              // w_peer
  double follow_prob = 0;
  friend bool operator==(const Market&, const Market&) = default;
};

struct Network {
  std::int64_t degree = 0;
  double within_lab = 0;
  friend bool operator==(const Network&, const Network&) = default;
};

struct Lab {
  std::string name;
  std::vector<std::int64_t> headcount;  // per tier: synthetic researchers at start
  std::vector<double> comp;             // per tier: annual total compensation, USD
  double funding = 0;
  double prestige = 0;
  double mission = 0.5;
  double openness = 0.5;
  double attrition = 1;
  double cliff_factor = 1;  // market.cliff_factor unless the lab sets it
  std::optional<std::int64_t> capacity;
  bool open = true;
  friend bool operator==(const Lab&, const Lab&) = default;
};

struct NamedResearcher {
  std::string name;
  int tier = 0;
  int lab = -1;  // -1: starts nowhere
  std::optional<double> reputation;
  friend bool operator==(const NamedResearcher&, const NamedResearcher&) = default;
};

enum class EventType { Raise, Comp, Prestige, Policy, Move, Poach, Found, Close };
const char* to_string(EventType t);

struct Event {
  Date date;
  int step = 0;  // the step containing `date`
  EventType type = EventType::Raise;
  int lab = -1;
  // raise
  double amount = 0;
  // comp: factor; poach: offer_factor
  double factor = 1;
  std::vector<int> tiers;  // comp, poach: empty means every tier
  // prestige
  double delta = 0;
  // policy
  std::optional<double> mission, openness, attrition, cliff_factor;
  // move
  int researcher = -1;
  // poach
  std::int64_t count = 0;
  std::vector<int> from;  // empty means every other lab
  // found
  std::vector<int> founders;
  friend bool operator==(const Event&, const Event&) = default;
};

enum class Metric {
  Hires,
  Departures,
  NetFlow,
  Headcount,
  Share,
  NamedAt,
  Retention,
  FlowRatio,
  Tenure
};
const char* to_string(Metric m);
// Whether a metric's value is a ratio numerator / denominator whose
// estimate over many replicates pools them (retention, flow_ratio, tenure);
// the others are counts or levels, with denominator 1.
bool is_ratio(Metric m);
bool is_ratio_metric(const std::string& name);

// A forecast question (MODEL.md section 8). Parsed and validated with the
// scenario; answered by the question layer.
struct Question {
  std::string id;
  std::string text;
  Metric metric = Metric::Hires;
  int lab = -1;
  std::vector<int> tiers;  // empty: all tiers
  std::vector<int> from;   // empty: all labs (and arrivals from nowhere)
  int researcher = -1;     // named_at
  Date window_from, window_to;
  int step_from = 0, step_to = 0;
  // retention: how long a join must last, in years (`after`) and in steps,
  // H = llround(after * 365.25 / step_days) >= 1.
  double after = 0;
  int after_steps = 0;
  std::optional<double> at_least, at_most;
  friend bool operator==(const Question&, const Question&) = default;
};

struct Scenario {
  std::string name;
  std::string description;
  Date start, end;
  int step_days = 7;
  int steps = 0;  // T = ceil((end - start) / step_days)
  std::int64_t replicates = 100;
  std::uint64_t seed = 1;

  std::vector<Tier> tiers;  // lowest first; the last one is the star tier
  Taste tastes[kMotiveCount];
  Market market;
  Network network;
  std::vector<Lab> labs;
  std::vector<NamedResearcher> researchers;
  std::vector<Event> events;  // file order
  std::vector<Question> questions;

  // The YAML text as run (after --set overrides), kept for provenance.
  std::string source_text;
  std::string source_name;

  friend bool operator==(const Scenario&, const Scenario&) = default;

  int star_tier() const { return static_cast<int>(tiers.size()) - 1; }
  int lab_count() const { return static_cast<int>(labs.size()); }
  int tier_count() const { return static_cast<int>(tiers.size()); }
  int named_count() const { return static_cast<int>(researchers.size()); }
  // Start date of step t.
  Date step_start(int t) const { return Date{start.days + t * step_days}; }
  // The step containing date d (d must be within [start, end)).
  int step_of(Date d) const { return (d.days - start.days) / step_days; }
  // Researchers in labs at `start`, per lab (synthetic plus named).
  std::vector<std::int64_t> initial_headcount() const;
};

}  // namespace talentsim
