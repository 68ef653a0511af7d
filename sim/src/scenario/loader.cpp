// Scenario loading and validation. The loader walks the YAML tree once,
// collecting every problem it finds before giving up, so a user fixes a file
// in one pass. Each yaml-cpp node remembers its line and column (0-based).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "fmt/format.h"
#include "question_reader.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/scenario_loader.hpp"
#include "text_util.hpp"
#include "yaml_loader.hpp"

namespace talentsim {

std::optional<double> parse_money(const std::string& raw) {
  std::string text = trim(raw);
  const bool cut = text.rfind("-$", 0) == 0;  // "-$500M", as "$-500M" and "-500M" read
  if (cut) text.erase(0, 1);
  if (!text.empty() && text.front() == '$') text.erase(0, 1);
  if (cut && (text.empty() || text.front() == '-' || text.front() == '+')) return std::nullopt;
  if (text.empty()) return std::nullopt;
  double scale = 1;
  switch (text.back()) {
    case 'K':
    case 'k':
      scale = 1e3;
      break;
    case 'M':
    case 'm':
      scale = 1e6;
      break;
    case 'B':
    case 'b':
      scale = 1e9;
      break;
    case 'T':
    case 't':
      scale = 1e12;
      break;
    default:
      break;
  }
  if (scale != 1) text.pop_back();
  const auto v = parse_real(text);
  if (!v || !std::isfinite(*v * scale)) return std::nullopt;
  return (cut ? -*v : *v) * scale;
}

Override parse_override(const std::string& argument) {
  const auto eq = argument.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(std::vector<Diagnostic>{Diagnostic{
        .file = "--set",
        .path = argument,
        .message = fmt::format("expected PATH=VALUE, found \"{}\"", argument),
        .hint = "for example --set market.star_magnet=1.5 or --set labs.Anthropic.funding=950B"}});
  return {trim(argument.substr(0, eq)), trim(argument.substr(eq + 1))};
}

namespace {

using namespace yaml_loader;

// ---------------------------------------------------------------------------

const std::vector<std::string> kTopKeys = {
    "name",   "description", "start",   "end",  "step_days",   "replicates", "seed",     "tiers",
    "tastes", "market",      "network", "labs", "researchers", "events",     "questions"};
const std::vector<std::string> kTierKeys = {"name", "search_rate", "reputation"};
const std::vector<std::string> kReputationKeys = {"median", "sigma"};
const std::vector<std::string> kTasteKeys = {"mean", "sd"};
const std::vector<std::string> kMarketKeys = {
    "switching_cost",          "cliff_years",       "cliff_factor",
    "comp_funding_elasticity", "prestige_feedback", "star_magnet",
    "star_magnet_scale",       "peer_magnet",       "follow_prob"};
const std::vector<std::string> kNetworkKeys = {"degree", "within_lab"};
const std::vector<std::string> kLabKeys = {"name",         "headcount", "comp",     "funding",
                                           "prestige",     "mission",   "openness", "attrition",
                                           "cliff_factor", "capacity",  "open"};
const std::vector<std::string> kResearcherKeys = {"name", "tier", "lab", "reputation"};
const std::vector<std::string> kQuestionKeys = {"id",      "text",  "metric",    "lab",
                                                "tiers",   "from",  "window",    "at_least",
                                                "at_most", "after", "researcher"};

struct EventSpec {
  EventType type;
  std::vector<std::string> keys;      // besides date and type
  std::vector<std::string> required;  // besides date and type
};
const std::vector<std::pair<std::string, EventSpec>> kEventSpecs = {
    {"raise", {EventType::Raise, {"lab", "amount"}, {"lab", "amount"}}},
    {"comp", {EventType::Comp, {"lab", "factor", "tiers"}, {"lab", "factor"}}},
    {"prestige", {EventType::Prestige, {"lab", "delta"}, {"lab", "delta"}}},
    {"policy",
     {EventType::Policy, {"lab", "mission", "openness", "attrition", "cliff_factor"}, {"lab"}}},
    {"move", {EventType::Move, {"researcher", "lab"}, {"researcher", "lab"}}},
    {"poach",
     {EventType::Poach,
      {"lab", "count", "offer_factor", "tiers", "from"},
      {"lab", "count", "offer_factor"}}},
    {"found", {EventType::Found, {"lab", "founders"}, {"lab"}}},
    {"close", {EventType::Close, {"lab"}, {"lab"}}},
};

const std::vector<std::pair<std::string, Metric>> kMetrics = {
    {"hires", Metric::Hires},         {"departures", Metric::Departures},
    {"net_flow", Metric::NetFlow},    {"headcount", Metric::Headcount},
    {"share", Metric::Share},         {"named_at", Metric::NamedAt},
    {"retention", Metric::Retention}, {"flow_ratio", Metric::FlowRatio},
    {"tenure", Metric::Tenure}};

template <class T>
void assign(std::optional<T> v, T& out) {
  if (v) out = *v;
}

std::vector<std::string> names_of(const std::vector<std::pair<std::string, EventSpec>>& specs) {
  std::vector<std::string> out;
  for (const auto& s : specs) out.push_back(s.first);
  return out;
}

// Reads a list section, calling `each` for every element.
void for_each_item(Loader& ld, const YAML::Node& root, const std::string& key,
                   const std::function<void(const YAML::Node&, const std::string&)>& each) {
  const YAML::Node list = root[key];
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) {
    ld.expected(list, key, "a list (entries starting with '-')",
                "write each entry on its own line starting with '- ', as in "
                "scenarios/baseline_2026.yaml");
    return;
  }
  for (std::size_t i = 0; i < list.size(); ++i) each(list[i], fmt::format("{}[{}]", key, i));
}

Scenario build(Loader& ld, const YAML::Node& root) {
  Scenario s;
  if (!root.IsMap()) {
    ld.expected(root, "", "a mapping of scenario keys (name, start, end, tiers, labs, ...)",
                root.IsNull() ? "the file is empty; see scenarios/baseline_2026.yaml for a "
                                "complete example"
                              : "a scenario is a set of `key: value` lines; see "
                                "scenarios/baseline_2026.yaml for a complete example");
    ld.fail();
  }
  if (root["base"] && root["parameters"] && !root["labs"]) {
    ld.error(root["base"], "base", "expected a scenario, found a sweep file (base, parameters)",
             "run a sweep with `talentsim sweep FILE`; a sweep's base is a scenario");
    ld.fail();
  }
  ld.check_map(root, "", kTopKeys, "a mapping");
  ld.require(root, "", "name", "the scenario's label");
  ld.require(root, "", "start", "first day of the run, YYYY-MM-DD");
  ld.require(root, "", "end", "day after the run, YYYY-MM-DD");
  ld.require(root, "", "tiers", "a list of at least one tier, lowest first");
  ld.require(root, "", "labs", "a list of at least one lab");

  if (root["name"]) assign(ld.text(root["name"], "name"), s.name);
  if (root["description"])
    assign(ld.text(root["description"], "description", false), s.description);
  std::optional<Date> start, end;
  if (root["start"]) start = ld.date(root["start"], "start");
  if (root["end"]) end = ld.date(root["end"], "end");
  if (start && end && *end <= *start)
    ld.error(
        root["end"], "end",
        fmt::format("expected a date after start ({}), found {}", to_iso(*start), to_iso(*end)),
        "end is exclusive: a run of 2026 has start 2026-01-01 and end 2027-01-01");
  if (root["step_days"])
    if (auto v = ld.integer(root["step_days"], "step_days", 1, 36525)) s.step_days = int(*v);
  if (root["replicates"])
    assign(
        ld.integer(root["replicates"], "replicates", 1, std::numeric_limits<std::int32_t>::max()),
        s.replicates);
  if (root["seed"]) {
    const YAML::Node n = root["seed"];
    std::uint64_t v = 0;
    const std::string t = n.IsScalar() ? n.Scalar() : "";
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (!n.IsScalar() || ec != std::errc{} || ptr != t.data() + t.size() || t.empty())
      ld.expected(n, "seed", "a whole number from 0 to 18446744073709551615",
                  "any whole number works as a seed, for example 2026");
    else
      s.seed = v;
  }
  const bool have_dates = start && end && *end > *start;
  if (have_dates) {
    s.start = *start;
    s.end = *end;
    s.steps = (end->days - start->days + s.step_days - 1) / s.step_days;
  }
  auto check_in_run = [&](const YAML::Node& n, const std::string& path, Date d) {
    if (have_dates && (d < s.start || !(d < s.end)))
      ld.error(n, path,
               fmt::format("expected a date within the run [{}, {}), found {}", to_iso(s.start),
                           to_iso(s.end), to_iso(d)),
               "move the date inside the run or change start/end (end is exclusive)");
    return have_dates && !(d < s.start) && d < s.end;
  };

  // Tiers.
  std::vector<std::string> tier_names;
  if (root["tiers"]) {
    const YAML::Node tiers = root["tiers"];
    if (tiers.IsNull() || (tiers.IsSequence() && tiers.size() == 0)) {  // else for_each_item
      ld.expected(tiers, "tiers", "a list of at least one tier, lowest first",
                  "for example:\n    tiers:\n      - {name: junior, search_rate: 0.3, "
                  "reputation: {median: 1, sigma: 0.5}}");
    }
    for_each_item(ld, root, "tiers", [&](const YAML::Node& n, const std::string& p) {
      Tier t;
      if (ld.check_map(n, p, kTierKeys, "a tier {name, search_rate, reputation}")) {
        ld.require(n, p, "name", "the tier's label");
        ld.require(n, p, "search_rate", "market entries per year, >= 0");
        ld.require(n, p, "reputation", "{median > 0, sigma >= 0}");
        if (n["name"]) {
          if (auto v = ld.text(n["name"], p + ".name")) {
            if (std::find(tier_names.begin(), tier_names.end(), *v) != tier_names.end())
              ld.error(n["name"], p + ".name", fmt::format("duplicate tier name \"{}\"", *v),
                       "tier names must be unique");
            t.name = *v;
          }
        }
        if (n["search_rate"])
          assign(ld.real(n["search_rate"], p + ".search_rate", kNonNegative), t.search_rate);
        if (const YAML::Node r = n["reputation"]) {
          const std::string rp = p + ".reputation";
          if (ld.check_map(r, rp, kReputationKeys, "{median > 0, sigma >= 0}")) {
            ld.require(r, rp, "median", "a number > 0");
            ld.require(r, rp, "sigma", "a number >= 0");
            if (r["median"])
              assign(ld.real(r["median"], rp + ".median", kPositive), t.reputation_median);
            if (r["sigma"])
              assign(ld.real(r["sigma"], rp + ".sigma", kNonNegative), t.reputation_sigma);
          }
        }
      }
      tier_names.push_back(t.name);
      s.tiers.push_back(t);
    });
  }

  // Tastes.
  if (const YAML::Node tastes = root["tastes"]) {
    std::vector<std::string> motives(kMotiveNames, kMotiveNames + kMotiveCount);
    if (ld.check_map(tastes, "tastes", motives, "a mapping of motives to {mean, sd}")) {
      for (int m = 0; m < kMotiveCount; ++m) {
        const YAML::Node t = tastes[kMotiveNames[m]];
        if (!t) continue;
        const std::string p = std::string("tastes.") + kMotiveNames[m];
        if (ld.check_map(t, p, kTasteKeys, "{mean, sd}")) {
          if (t["mean"]) assign(ld.real(t["mean"], p + ".mean"), s.tastes[m].mean);
          if (t["sd"]) assign(ld.real(t["sd"], p + ".sd", kNonNegative), s.tastes[m].sd);
        }
      }
    }
  }

  // Market and network.
  if (const YAML::Node m = root["market"]) {
    if (ld.check_map(m, "market", kMarketKeys, "a mapping of market parameters")) {
      auto get = [&](const char* key, double& out, Range r) {
        if (m[key]) assign(ld.real(m[key], std::string("market.") + key, r), out);
      };
      get("switching_cost", s.market.switching_cost, kNonNegative);
      get("cliff_years", s.market.cliff_years, kNonNegative);
      get("cliff_factor", s.market.cliff_factor, kNonNegative);
      get("comp_funding_elasticity", s.market.comp_funding_elasticity, kAny);
      get("prestige_feedback", s.market.prestige_feedback, kAny);
      get("star_magnet", s.market.star_magnet, kAny);
      get("star_magnet_scale", s.market.star_magnet_scale, kPositive);
      get("peer_magnet", s.market.peer_magnet, kAny);
      get("follow_prob", s.market.follow_prob, kUnit);
    }
  }
  if (const YAML::Node n = root["network"]) {
    if (ld.check_map(n, "network", kNetworkKeys, "{degree, within_lab}")) {
      if (n["degree"])
        assign(ld.integer(n["degree"], "network.degree", 0, 10000), s.network.degree);
      if (n["within_lab"])
        assign(ld.real(n["within_lab"], "network.within_lab", kUnit), s.network.within_lab);
    }
  }

  // Labs.
  std::vector<std::string> lab_names;
  if (root["labs"] && (root["labs"].IsNull() ||  // other kinds: for_each_item
                       (root["labs"].IsSequence() && root["labs"].size() == 0)))
    ld.expected(root["labs"], "labs", "a list of at least one lab",
                "for example:\n    labs:\n      - {name: A, comp: {junior: 300K, star: 2M}}");
  for_each_item(ld, root, "labs", [&](const YAML::Node& n, const std::string& p) {
    Lab lab;
    lab.headcount.assign(s.tiers.size(), 0);
    lab.comp.assign(s.tiers.size(), 1);
    lab.cliff_factor = s.market.cliff_factor;
    if (ld.check_map(n, p, kLabKeys, "a lab {name, headcount, comp, ...}")) {
      ld.require(n, p, "name", "the lab's label");
      ld.require(n, p, "comp", "annual compensation for every tier");
      if (n["name"]) {
        if (auto v = ld.text(n["name"], p + ".name")) {
          if (std::find(lab_names.begin(), lab_names.end(), *v) != lab_names.end())
            ld.error(n["name"], p + ".name", fmt::format("duplicate lab name \"{}\"", *v),
                     "lab names must be unique");
          lab.name = *v;
        }
      }
      // Per-tier maps.
      auto per_tier = [&](const char* key, auto&& read) {
        const YAML::Node map = n[key];
        const std::string mp = p + "." + key;
        if (!map || tier_names.empty()) return;  // no tiers: reported already
        if (!map.IsMap()) {
          ld.expected(map, mp, "a mapping of tier names to values",
                      fmt::format("one value per tier, for example {}: {{{}: ...}}", key,
                                  tier_names.empty() ? "junior" : tier_names.front()));
          return;
        }
        std::set<std::string> seen;
        for (auto it = map.begin(); it != map.end(); ++it) {
          const std::string tier = it->first.IsScalar() ? it->first.Scalar() : "";
          const std::string tp = mp + "." + tier;
          const YAML::Node at =
              it->first.Mark().line >= 0 ? YAML::Node(it->first) : YAML::Node(it->second);
          const auto k = std::find(tier_names.begin(), tier_names.end(), tier);
          if (!seen.insert(tier).second) {
            ld.error(at, tp, fmt::format("duplicate tier \"{}\"", tier), "list each tier once");
          } else if (k == tier_names.end()) {
            ld.error(at, tp, fmt::format("unknown tier \"{}\"", tier),
                     suggestion(tier, tier_names, "tiers in this scenario: "));
          } else {
            read(it->second, tp, static_cast<std::size_t>(k - tier_names.begin()));
          }
        }
      };
      per_tier("headcount", [&](const YAML::Node& v, const std::string& tp, std::size_t k) {
        assign(ld.integer(v, tp, 0, 100'000'000), lab.headcount[k]);
      });
      std::vector<bool> has_comp(s.tiers.size(), false);
      per_tier("comp", [&](const YAML::Node& v, const std::string& tp, std::size_t k) {
        has_comp[k] = true;
        assign(ld.money(v, tp, kPositive), lab.comp[k]);
      });
      if (n["comp"] && n["comp"].IsMap())
        for (std::size_t k = 0; k < tier_names.size(); ++k)
          if (!has_comp[k])
            ld.error(
                n["comp"], p + ".comp." + tier_names[k],
                fmt::format("missing compensation for tier \"{}\"", tier_names[k]),
                "comp needs an annual amount for every tier, e.g. " + tier_names[k] + ": 500K");
      if (n["funding"]) assign(ld.money(n["funding"], p + ".funding", kNonNegative), lab.funding);
      if (n["prestige"]) assign(ld.real(n["prestige"], p + ".prestige"), lab.prestige);
      if (n["mission"]) assign(ld.real(n["mission"], p + ".mission", kUnit), lab.mission);
      if (n["openness"]) assign(ld.real(n["openness"], p + ".openness", kUnit), lab.openness);
      if (n["attrition"])
        assign(ld.real(n["attrition"], p + ".attrition", kPositive), lab.attrition);
      if (n["cliff_factor"])
        assign(ld.real(n["cliff_factor"], p + ".cliff_factor", kNonNegative), lab.cliff_factor);
      if (n["capacity"]) {
        if (auto c = ld.integer(n["capacity"], p + ".capacity", 0, 1'000'000'000)) lab.capacity = c;
      }
      if (n["open"]) assign(ld.boolean(n["open"], p + ".open"), lab.open);
    }
    lab_names.push_back(lab.name);
    s.labs.push_back(lab);
  });

  // Named researchers.
  std::vector<std::string> researcher_names;
  for_each_item(ld, root, "researchers", [&](const YAML::Node& n, const std::string& p) {
    NamedResearcher r;
    if (ld.check_map(n, p, kResearcherKeys, "a researcher {name, tier, lab, reputation}")) {
      ld.require(n, p, "name", "the researcher's name");
      ld.require(n, p, "tier", "one of the scenario's tiers");
      if (n["name"]) {
        if (auto v = ld.text(n["name"], p + ".name")) {
          if (std::find(researcher_names.begin(), researcher_names.end(), *v) !=
              researcher_names.end())
            ld.error(n["name"], p + ".name", fmt::format("duplicate researcher name \"{}\"", *v),
                     "researcher names must be unique");
          r.name = *v;
        }
      }
      if (n["tier"]) assign(ld.lookup(n["tier"], p + ".tier", tier_names, "tier"), r.tier);
      if (n["lab"]) assign(ld.lookup(n["lab"], p + ".lab", lab_names, "lab"), r.lab);
      if (n["reputation"])
        if (auto v = ld.real(n["reputation"], p + ".reputation", kPositive)) r.reputation = v;
    }
    researcher_names.push_back(r.name);
    s.researchers.push_back(r);
  });

  // Events.
  const auto event_types = names_of(kEventSpecs);
  std::map<int, std::string> founded;  // lab -> path of its found event
  struct RaiseAt {
    int step, lab;
    double amount;
    YAML::Node node;
    std::string path;
  };
  std::vector<RaiseAt> raises;  // file order, to follow each lab's funding
  for_each_item(ld, root, "events", [&](const YAML::Node& n, const std::string& p) {
    if (!n.IsMap()) {
      ld.expected(n, p, "an event {date, type, ...}",
                  "for example - {date: 2026-03-01, type: raise, lab: A, amount: 1B}");
      return;
    }
    Event e;
    const EventSpec* spec = nullptr;
    ld.require(n, p, "date", "when the event happens, YYYY-MM-DD");
    ld.require(n, p, "type", "one of " + join_list(event_types));
    if (n["type"]) {
      const YAML::Node t = n["type"];
      for (const auto& [name, sp] : kEventSpecs)
        if (t.IsScalar() && t.Scalar() == name) spec = &sp;
      if (!spec)
        ld.error(t, p + ".type", fmt::format("unknown event type {}", describe(t)),
                 suggestion(t.IsScalar() ? t.Scalar() : "", event_types, "event types: "));
    }
    std::vector<std::string> allowed = {"date", "type"};
    if (spec) {
      allowed.insert(allowed.end(), spec->keys.begin(), spec->keys.end());
      ld.check_map(n, p, allowed, "an event");
      for (const auto& key : spec->required)
        ld.require(n, p, key, fmt::format("a {} event needs it", to_string(spec->type)));
      e.type = spec->type;
    }
    if (n["date"])
      if (auto d = ld.date(n["date"], p + ".date")) {
        e.date = *d;
        if (check_in_run(n["date"], p + ".date", *d)) e.step = s.step_of(*d);
      }
    if (!spec) return;
    if (n["lab"]) assign(ld.lookup(n["lab"], p + ".lab", lab_names, "lab"), e.lab);
    switch (e.type) {
      case EventType::Raise:
        // MODEL.md section 5: F_l += amount, of either sign (a cut is a
        // negative raise); the funding it leaves is checked below.
        if (n["amount"])
          if (auto v = ld.money(n["amount"], p + ".amount", kAny)) {
            e.amount = *v;
            if (e.lab >= 0) raises.push_back({e.step, e.lab, e.amount, n["amount"], p + ".amount"});
          }
        break;
      case EventType::Comp:
        if (n["factor"]) assign(ld.real(n["factor"], p + ".factor", kPositive), e.factor);
        if (n["tiers"]) e.tiers = ld.lookup_list(n["tiers"], p + ".tiers", tier_names, "tier");
        break;
      case EventType::Prestige:
        if (n["delta"]) assign(ld.real(n["delta"], p + ".delta"), e.delta);
        break;
      case EventType::Policy: {
        bool any = false;
        auto opt = [&](const char* key, std::optional<double>& out, Range r) {
          if (!n[key]) return;
          any = true;
          out = ld.real(n[key], p + "." + key, r);
        };
        opt("mission", e.mission, kUnit);
        opt("openness", e.openness, kUnit);
        opt("attrition", e.attrition, kPositive);
        opt("cliff_factor", e.cliff_factor, kNonNegative);
        if (!any)
          ld.error(n, p, "a policy event sets nothing",
                   "give at least one of mission, openness, attrition, cliff_factor");
        break;
      }
      case EventType::Move:
        if (n["researcher"])
          assign(ld.lookup(n["researcher"], p + ".researcher", researcher_names, "researcher"),
                 e.researcher);
        break;
      case EventType::Poach:
        if (n["count"]) assign(ld.integer(n["count"], p + ".count", 0, 100'000'000), e.count);
        if (n["offer_factor"])
          assign(ld.real(n["offer_factor"], p + ".offer_factor", kPositive), e.factor);
        if (n["tiers"]) e.tiers = ld.lookup_list(n["tiers"], p + ".tiers", tier_names, "tier");
        if (n["from"]) {
          e.from = ld.lookup_list(n["from"], p + ".from", lab_names, "lab");
          // MODEL.md section 5 poaches "in other labs": the lab itself in
          // `from` adds no one (the engine skips its own researchers), and
          // alone it leaves no one to poach.
          if (e.lab >= 0 && std::find(e.from.begin(), e.from.end(), e.lab) != e.from.end()) {
            const bool only =
                std::all_of(e.from.begin(), e.from.end(), [&](int l) { return l == e.lab; });
            ld.warn(n["from"], p + ".from",
                    only ? fmt::format("from lists only \"{}\", the poaching lab, whose own "
                                       "researchers are never its targets (MODEL.md section 5: "
                                       "researchers in other labs): this poach selects no one",
                                       lab_names[e.lab])
                         : fmt::format("\"{}\" in from adds no one: a lab's own researchers are "
                                       "never its poaching targets (MODEL.md section 5: "
                                       "researchers in other labs)",
                                       lab_names[e.lab]),
                    only ? "list the labs to poach from, or remove from to poach from every "
                           "other lab"
                         : "remove the poaching lab from `from`");
          }
        }
        break;
      case EventType::Found:
        if (e.lab >= 0) {
          if (s.labs[e.lab].open)
            ld.error(n["lab"], p + ".lab",
                     fmt::format("lab \"{}\" is open from the start, so it cannot be founded",
                                 lab_names[e.lab]),
                     fmt::format("declare it with `open: false` in labs[{}]", e.lab));
          else if (founded.count(e.lab))
            ld.error(n["lab"], p + ".lab",
                     fmt::format("lab \"{}\" is already founded by {}", lab_names[e.lab],
                                 founded[e.lab]),
                     "found each lab once");
          else
            founded[e.lab] = p;
        }
        if (n["founders"])
          e.founders =
              ld.lookup_list(n["founders"], p + ".founders", researcher_names, "researcher");
        break;
      case EventType::Close:
        break;
    }
    s.events.push_back(e);
  });
  std::stable_sort(s.events.begin(), s.events.end(),
                   [](const Event& a, const Event& b) { return a.step < b.step; });
  // Pay scales as (F_l(t) / F_l(0))^eta when F_l(0) > 0, which needs
  // F_l(t) > 0; without starting funding, pay ignores it, but funding is
  // still never negative.
  // (Indices are sorted, not the records: assigning a YAML::Node rewrites
  // the node it refers to, in the document.)
  std::vector<std::size_t> order(raises.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return raises[a].step < raises[b].step; });
  std::vector<double> funding;
  for (const auto& l : s.labs) funding.push_back(l.funding);
  for (const std::size_t i : order) {
    const RaiseAt& r = raises[i];
    const double before = funding[r.lab], start = s.labs[r.lab].funding;
    funding[r.lab] += r.amount;
    if (start > 0 ? funding[r.lab] > 0 : funding[r.lab] >= 0) continue;
    ld.error(
        r.node, r.path,
        fmt::format("this raise takes {}'s funding from {:g} to {:g}, expected funding {} 0",
                    lab_names[r.lab], before, funding[r.lab], start > 0 ? "above" : "of at least"),
        start > 0 ? "pay scales as (funding now / funding at start)^comp_funding_elasticity, "
                    "which needs funding above 0: cut by less than the funding left"
                  : "cut by no more than the funding raised so far");
    funding[r.lab] = before;  // one report per cause
  }

  // Questions.
  std::set<std::string> question_ids;
  const QuestionContext context{s, lab_names, tier_names, researcher_names, check_in_run};
  for_each_item(ld, root, "questions", [&](const YAML::Node& n, const std::string& p) {
    const auto q = read_question(ld, n, p, context, {}, true);
    if (!q) return;
    if (!q->id.empty() && !question_ids.insert(q->id).second)
      ld.error(n["id"], p + ".id", fmt::format("duplicate question id \"{}\"", q->id),
               "question ids must be unique");
    s.questions.push_back(*q);
  });
  return s;
}

Scenario load(const std::string& text, const std::string& source,
              const std::vector<Override>& overrides, std::vector<Diagnostic>* warnings) {
  Loader ld(source, text);
  YAML::Node root = ld.parse(text);
  for (const auto& o : overrides) ld.apply(root, o);
  if (ld.has_errors()) ld.fail();
  Scenario s = build(ld, root);
  if (ld.has_errors()) ld.fail();
  if (warnings) warnings->insert(warnings->end(), ld.warnings().begin(), ld.warnings().end());
  s.source_name = source;
  if (overrides.empty()) {
    s.source_text = text;
  } else {
    YAML::Emitter out;
    out << root;
    std::string header = "# " + source + ", as run with";
    for (const auto& o : overrides) header += " --set " + o.text();
    s.source_text = header + "\n" + out.c_str() + "\n";
  }
  return s;
}

}  // namespace

namespace yaml_loader {

std::optional<Question> read_question(Loader& ld, const YAML::Node& n, const std::string& p,
                                      const QuestionContext& c,
                                      const std::vector<std::string>& extra_keys,
                                      bool need_outcome) {
  std::vector<std::string> metric_names;
  for (const auto& m : kMetrics) metric_names.push_back(m.first);
  Question q;
  std::vector<std::string> allowed = kQuestionKeys;
  allowed.insert(allowed.end(), extra_keys.begin(), extra_keys.end());
  if (!ld.check_map(n, p, allowed, "a question {id, metric, lab, window, ...}"))
    return std::nullopt;
  ld.require(n, p, "id", "a short label");
  ld.require(n, p, "metric", "one of " + join_list(metric_names));
  ld.require(n, p, "lab", "the lab the question is about");
  ld.require(n, p, "window", "[from_date, to_date]");
  if (n["id"])
    if (auto v = ld.text(n["id"], p + ".id")) q.id = *v;
  if (n["text"]) assign(ld.text(n["text"], p + ".text", false), q.text);
  bool metric_ok = false;
  if (const YAML::Node m = n["metric"]) {
    for (const auto& [name, metric] : kMetrics)
      if (m.IsScalar() && m.Scalar() == name) {
        q.metric = metric;
        metric_ok = true;
      }
    if (!metric_ok)
      ld.error(m, p + ".metric", fmt::format("unknown metric {}", describe(m)),
               suggestion(m.IsScalar() ? m.Scalar() : "", metric_names, "metrics: "));
  }
  if (n["lab"]) assign(ld.lookup(n["lab"], p + ".lab", c.lab_names, "lab"), q.lab);
  if (n["tiers"]) {
    q.tiers = ld.lookup_list(n["tiers"], p + ".tiers", c.tier_names, "tier");
    // MODEL.md section 8 allows the key and says share ignores it; named_at
    // is one person. Accepted, ignored, and said.
    if (metric_ok && (q.metric == Metric::Share || q.metric == Metric::NamedAt)) {
      ld.warn(n["tiers"], p + ".tiers",
              q.metric == Metric::Share
                  ? "share always covers every tier (MODEL.md section 8): tiers is ignored"
                  : "named_at asks where one named researcher is: tiers is ignored",
              q.metric == Metric::Share
                  ? "remove tiers; a share of star power is always of every tier's"
                  : "remove tiers");
      q.tiers.clear();
    }
  }
  if (n["from"]) {
    q.from = ld.lookup_list(n["from"], p + ".from", c.lab_names, "lab");
    // MODEL.md section 8 defines `from` for hires only: it is cleared for
    // the other metrics, whose answers would otherwise use it (net_flow's
    // hires would count only those from these labs).
    if (metric_ok && q.metric != Metric::Hires && q.metric != Metric::Retention &&
        q.metric != Metric::FlowRatio) {
      ld.warn(n["from"], p + ".from",
              fmt::format("from selects the source labs of hires (MODEL.md section 8); metric "
                          "{} ignores it",
                          to_string(q.metric)),
              q.metric == Metric::NetFlow
                  ? "remove from; net_flow counts every hire and departure. For hires from "
                    "these labs alone, add a question with metric: hires and this from"
                  : "remove from, or use metric: hires");
      q.from.clear();
    }
    // A move from a lab into itself is not a move (MODEL.md section 4).
    const bool lists_itself =
        q.lab >= 0 && std::find(q.from.begin(), q.from.end(), q.lab) != q.from.end();
    if (metric_ok && lists_itself && (q.metric == Metric::Hires || q.metric == Metric::Retention)) {
      const bool only =
          std::all_of(q.from.begin(), q.from.end(), [&](int l) { return l == q.lab; });
      ld.warn(n["from"], p + ".from",
              fmt::format("\"{}\" in from adds nothing: moving to one's own lab is not a move{}",
                          c.lab_names[q.lab], only ? ", so this question counts no one" : ""),
              "remove the question's own lab from `from`");
    }
    if (metric_ok && q.metric == Metric::FlowRatio && q.from.empty())
      ld.error(n["from"], p + ".from",
               "expected at least one lab (flow_ratio compares moves from the `from` labs into "
               "lab with moves back), found an empty list",
               "list the labs, for example from: [<lab>]");
    if (metric_ok && q.metric == Metric::FlowRatio && lists_itself)
      ld.error(n["from"], p + ".from",
               fmt::format("from lists \"{}\", the question's own lab", c.lab_names[q.lab]),
               "flow_ratio compares moves from the `from` labs into `lab` with moves back; "
               "remove the lab itself from `from`");
  } else if (metric_ok && q.metric == Metric::FlowRatio) {
    ld.error(n, p + ".from",
             "missing required key \"from\" (metric flow_ratio compares moves from these "
             "labs into lab with moves back)",
             fmt::format(
                 "add `from: [<lab>, ...]`, for example from: [{}]",
                 q.lab >= 0 && c.lab_names.size() > 1 ? c.lab_names[q.lab == 0 ? 1 : 0] : "<lab>"));
  }
  if (n["researcher"]) {
    assign(ld.lookup(n["researcher"], p + ".researcher", c.researcher_names, "researcher"),
           q.researcher);
    if (metric_ok && q.metric != Metric::NamedAt)
      ld.error(n["researcher"], p + ".researcher", "researcher applies only to metric named_at",
               "remove researcher, or use metric: named_at");
  } else if (metric_ok && q.metric == Metric::NamedAt) {
    ld.error(n, p + ".researcher",
             "missing required key \"researcher\" (metric named_at asks "
             "where a named researcher is)",
             "add `researcher: <name>`");
  }
  bool window_ok = false;  // q.step_to is the window's last step
  if (const YAML::Node w = n["window"]) {
    const std::string wp = p + ".window";
    if (!w.IsSequence() || w.size() != 2) {
      ld.expected(w, wp, "a list of two dates [from_date, to_date]",
                  "for example window: [2026-01-01, 2026-06-30]; a single day is [d, d]");
    } else {
      auto a = ld.date(w[0], wp + "[0]");
      auto b = ld.date(w[1], wp + "[1]");
      if (a && b && *b < *a)
        ld.error(w[1], wp + "[1]",
                 fmt::format("expected a date on or after {}, found {}", to_iso(*a), to_iso(*b)),
                 "a window runs from its first date to its second: swap them");
      if (a && c.check_in_run(w[0], wp + "[0]", *a)) {
        q.window_from = *a;
        q.step_from = c.s.step_of(*a);
      }
      if (b && c.check_in_run(w[1], wp + "[1]", *b)) {
        q.window_to = *b;
        q.step_to = c.s.step_of(*b);
        window_ok = !(a && *b < *a);
      }
    }
  }
  // retention: a join lasts if the researcher stays H = after steps; the
  // run must reach H steps past the window's last step.
  if (const YAML::Node a = n["after"]) {
    if (metric_ok && q.metric != Metric::Retention) {
      ld.error(a, p + ".after", "after applies only to metric retention",
               "remove after, or use metric: retention");
    } else if (auto v = ld.real(a, p + ".after", kPositive)) {
      q.after = *v;
      const double steps = *v * 365.25 / c.s.step_days;
      q.after_steps = steps < 1e9 ? static_cast<int>(std::llround(steps)) : 1'000'000'000;
      if (q.after_steps < 1) {
        ld.error(a, p + ".after",
                 fmt::format("expected at least half a step ({} days), found {} years ({:.3g} "
                             "days)",
                             0.5 * c.s.step_days, *v, *v * 365.25),
                 fmt::format("after is in years and rounds to whole steps of {} days; for "
                             "example after: 1",
                             c.s.step_days));
      } else if (window_ok &&
                 static_cast<std::int64_t>(q.step_to) + q.after_steps > c.s.steps - 1) {
        const std::int64_t last = static_cast<std::int64_t>(q.step_to) + q.after_steps;
        const Date needed{static_cast<std::int32_t>(std::min<std::int64_t>(
            c.s.start.days + last * c.s.step_days + 1, std::numeric_limits<std::int32_t>::max()))};
        ld.error(a, p + ".after",
                 fmt::format("the run ends before the cohort can be observed: joins up to the "
                             "step containing {} must be followed for {} steps ({:g} {}), to "
                             "step {}, but the run's last step is {} (end {})",
                             to_iso(q.window_to), q.after_steps, *v, *v == 1 ? "year" : "years",
                             last, c.s.steps - 1, to_iso(c.s.end)),
                 fmt::format("extend `end` to at least {}, end the window earlier or shorten "
                             "`after`",
                             to_iso(needed)));
      }
    }
  } else if (metric_ok && q.metric == Metric::Retention) {
    ld.error(n, p + ".after",
             "missing required key \"after\" (metric retention asks how many joins are "
             "still there this many years later)",
             "add `after: <years>`, for example after: 2");
  }
  if (n["at_least"]) q.at_least = ld.real(n["at_least"], p + ".at_least");
  if (n["at_most"]) q.at_most = ld.real(n["at_most"], p + ".at_most");
  // MODEL.md section 8 does not require a bound: a question without one
  // still has its value's distribution, and every replicate has its
  // (empty) outcome.
  if (need_outcome && !n["at_least"] && !n["at_most"])
    ld.warn(n, p,
            "a question without at_least or at_most has no outcome to count: its P is 1, and "
            "only its value's distribution says anything",
            "for a probability, add `at_least: 2`, `at_most: 5` or both");
  if (q.at_least && q.at_most && *q.at_most < *q.at_least)
    ld.error(n["at_most"], p + ".at_most",
             fmt::format("expected at_most >= at_least ({}), found {}", *q.at_least, *q.at_most),
             "no outcome can be both; swap the bounds, or drop one of them");
  return q;
}

}  // namespace yaml_loader

Scenario load_scenario_text(const std::string& text, const std::string& source_name,
                            const std::vector<Override>& overrides,
                            std::vector<Diagnostic>* warnings) {
  return load(text, source_name, overrides, warnings);
}

Scenario load_scenario_file(const std::filesystem::path& path,
                            const std::vector<Override>& overrides,
                            std::vector<Diagnostic>* warnings) {
  return load(read_input_file(path, "scenario file", kScenarioPathHint), path.string(), overrides,
              warnings);
}

}  // namespace talentsim
