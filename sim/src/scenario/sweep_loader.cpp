// Sweep files. The structure is checked like a scenario's (yaml_loader.hpp);
// then every point of the design is loaded as the base scenario with the
// point's values set, so that a sweep never fails half-way on a value the
// scenario does not accept.
#include "talentsim/sweep_loader.hpp"

#include <stdexcept>

#include "yaml_loader.hpp"

namespace talentsim {
namespace {

using namespace yaml_loader;

const std::vector<std::string> kSweepKeys = {"name",    "description", "base", "design",
                                             "samples", "replicates",  "seed", "parameters",
                                             "output",  "bootstrap"};
const std::vector<std::string> kParameterKeys = {"path",   "min",    "max",    "scale",
                                                 "values", "levels", "integer"};
const std::vector<std::pair<std::string, DesignKind>> kDesigns = {
    {"grid", DesignKind::Grid},
    {"random", DesignKind::Random},
    {"lhs", DesignKind::LatinHypercube},
    {"sobol", DesignKind::Sobol}};

std::string describe_point(const SweepSpec& spec, const SweepDesign& design, std::size_t point) {
  std::string out;
  for (std::size_t p = 0; p < spec.parameters.size(); ++p)
    out += fmt::format("{}{} = {}", p ? ", " : "", spec.parameters[p].path,
                       format_number(design.value(point, p)));
  return out;
}

// Reads the parameters list; `base_root` is the base scenario's YAML.
void read_parameters(Loader& ld, const YAML::Node& list, const YAML::Node& base_root,
                     SweepSpec& spec) {
  if (!list.IsSequence() || list.size() == 0) {
    ld.expected(list, "parameters", "a non-empty list of parameters",
                "for example:\n  - {path: market.star_magnet, min: 0.0, max: 2.0}");
    return;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string at = fmt::format("parameters[{}]", i);
    if (!ld.check_map(n, at, kParameterKeys, "a parameter {path: ..., min: ..., max: ...}"))
      continue;
    SweepParameter p;
    p.line = n.Mark().line + 1;
    p.column = n.Mark().column + 1;
    ld.require(n, at, "path", "the scenario value to vary, as in --set");
    if (n["path"]) {
      if (auto text = ld.text(n["path"], at + ".path")) p.path = trim(*text);
    }
    bool ok = !p.path.empty() && check_numeric_path(ld, n["path"], at + ".path", p.path, base_root,
                                                    "swept", "set by the sweep itself, not swept",
                                                    "write `{}: ...` at the top of the sweep file");
    for (std::size_t j = 0; j < i && ok; ++j)
      if (spec.parameters.size() > j && spec.parameters[j].path == p.path) {
        ld.error(n["path"], at + ".path", fmt::format("{} is swept twice", p.path),
                 "list each parameter once");
        ok = false;
      }

    if (n["values"]) {
      const YAML::Node v = n["values"];
      if (!v.IsSequence() || v.size() == 0) {
        ld.expected(v, at + ".values", "a non-empty list of numbers", "for example [8M, 10M, 12M]");
        ok = false;
      } else {
        for (std::size_t k = 0; k < v.size(); ++k) {
          const auto x = parameter_number(ld, v[k], fmt::format("{}.values[{}]", at, k));
          if (!x) {
            ok = false;
            continue;
          }
          if (std::find(p.values.begin(), p.values.end(), *x) != p.values.end()) {
            ld.error(v[k], fmt::format("{}.values[{}]", at, k),
                     fmt::format("{} is listed twice", v[k].Scalar()), "list each level once");
            ok = false;
          }
          p.values.push_back(*x);
        }
      }
      for (const char* key : {"min", "max", "levels", "scale", "integer"})
        if (n[key]) {
          ld.error(n[key], join(at, key), fmt::format("\"{}\" does not go with listed values", key),
                   "give either values: [...] or min and max");
          ok = false;
        }
    } else {
      if (!n["min"] || !n["max"]) {
        ld.error(n, at, "expected min and max, or a list of values",
                 "for example {path: market.switching_cost, min: 0.5, max: 4.0}");
        ok = false;
      }
      std::optional<double> lo, hi;
      if (n["min"]) lo = parameter_number(ld, n["min"], at + ".min");
      if (n["max"]) hi = parameter_number(ld, n["max"], at + ".max");
      if (n["scale"]) {
        const YAML::Node s = n["scale"];
        if (s.IsScalar() && (s.Scalar() == "log" || s.Scalar() == "linear")) {
          p.log_scale = s.Scalar() == "log";
        } else {
          ld.expected(s, at + ".scale", "linear or log");
          ok = false;
        }
      }
      if (lo && hi) {
        p.min = *lo;
        p.max = *hi;
        if (!(*lo < *hi)) {
          ld.error(n["max"], at + ".max",
                   fmt::format("expected max > min ({}), found {}", n["min"].Scalar(),
                               n["max"].Scalar()),
                   "to fix a value, set it in the base scenario instead of sweeping it");
          ok = false;
        } else if (p.log_scale && !(*lo > 0)) {
          ld.error(n["min"], at + ".min",
                   fmt::format("a log scale needs min > 0, found {}", n["min"].Scalar()),
                   "use scale: linear, or a positive min");
          ok = false;
        }
      } else {
        ok = false;
      }
      if (n["levels"]) {
        if (const auto k = ld.integer(n["levels"], at + ".levels", 2, 1000000))
          p.levels = static_cast<int>(*k);
        else
          ok = false;
      }
      if (n["integer"]) {
        if (const auto b = ld.boolean(n["integer"], at + ".integer"))
          p.integer = *b;
        else
          ok = false;
      }
      if (p.integer && ok) {
        for (const auto& [key, v] : {std::pair{"min", p.min}, std::pair{"max", p.max}})
          if (std::floor(v) != v) {
            ld.error(n[key], join(at, key),
                     fmt::format("expected a whole number for a whole-number parameter, found {}",
                                 n[key].Scalar()),
                     "round it, or remove `integer: true`");
            ok = false;
          }
        if (ok && p.levels > p.max - p.min + 1) {
          ld.error(n["levels"], at + ".levels",
                   fmt::format("{} levels do not fit between {} and {} in whole numbers", p.levels,
                               n["min"].Scalar(), n["max"].Scalar()),
                   fmt::format("use at most {} levels", p.max - p.min + 1));
          ok = false;
        }
      }
    }
    if (ok)
      spec.parameters.push_back(std::move(p));
    else
      spec.parameters.push_back(SweepParameter{});  // keeps indices aligned
  }
}

}  // namespace

std::vector<Override> point_overrides(const SweepSpec& spec, const SweepDesign& design,
                                      std::size_t point) {
  std::vector<Override> out;
  for (std::size_t p = 0; p < spec.parameters.size(); ++p)
    out.push_back({spec.parameters[p].path, format_number(design.value(point, p))});
  return out;
}

Scenario load_point(const SweepSpec& spec, const SweepDesign& design, std::size_t point) {
  return load_scenario_text(spec.base_text, spec.base.string(),
                            point_overrides(spec, design, point));
}

LoadedSweep load_sweep_file(const std::filesystem::path& path) {
  const std::string text = read_input_file(
      path, "sweep file", "check the path; example sweeps live in scenarios/sweeps/");
  Loader ld(path.string(), text);
  const YAML::Node root = ld.parse(text);
  SweepSpec spec;
  spec.text = text;
  spec.name = path.stem().string();
  if (!root.IsMap()) {
    ld.expected(root, "", "a mapping with base, design and parameters",
                "see scenarios/sweeps/ for examples");
    ld.fail();
  }
  if (root["labs"] && !root["parameters"]) {
    ld.error(root["labs"], "labs", "expected a sweep file, found a scenario (labs, no parameters)",
             "run a scenario with `talentsim run FILE`; to sweep it, name it as `base:` in a sweep "
             "file (see scenarios/sweeps/)");
    ld.fail();
  }
  ld.check_map(root, "", kSweepKeys, "a sweep");
  ld.require(root, "", "base", "the scenario to sweep, relative to this file");
  ld.require(root, "", "design", "grid, random, lhs or sobol");
  ld.require(root, "", "parameters", "what to vary");
  if (root["name"])
    if (auto v = ld.text(root["name"], "name")) spec.name = *v;
  if (root["description"]) ld.text(root["description"], "description", false);

  // The base scenario: it must load as it is.
  BaseScenario read = read_base_scenario(ld, root, path, "sweep file");
  spec.base = read.path;
  spec.base_text = read.text;
  std::optional<Scenario>& base = read.scenario;
  const YAML::Node& base_root = read.root;

  bool design_ok = false;  // the design is known, so its own rules apply
  if (root["design"]) {
    const YAML::Node d = root["design"];
    const auto it = std::find_if(kDesigns.begin(), kDesigns.end(), [&](const auto& k) {
      return d.IsScalar() && k.first == d.Scalar();
    });
    std::vector<std::string> names;
    for (const auto& k : kDesigns) names.push_back(k.first);
    if (it == kDesigns.end())
      ld.expected(d, "design", "grid, random, lhs or sobol",
                  suggestion(d.IsScalar() ? d.Scalar() : "", names, "designs: "));
    else
      spec.design = it->second;
    design_ok = it != kDesigns.end();
  }
  const bool grid = spec.design == DesignKind::Grid;
  if (root["samples"] && design_ok) {  // whether samples belong depends on the design
    if (grid)
      ld.error(root["samples"], "samples",
               "a grid takes no samples: its points are every combination of the levels",
               "remove samples, or choose design: random, lhs or sobol");
    else if (auto n = ld.integer(root["samples"], "samples", 1, 100000000))
      spec.samples = static_cast<std::size_t>(*n);
  } else if (!root["samples"] && !grid && design_ok) {
    ld.error(root, "samples", "missing required key \"samples\" (points of the design)",
             spec.design == DesignKind::Sobol
                 ? "add `samples: 256`; a Sobol design runs samples x (parameters + 2) points"
                 : "add `samples: 100`");
  }
  spec.replicates = base ? base->replicates : 1;
  spec.seed = base ? base->seed : 1;
  if (root["replicates"])
    if (auto n = ld.integer(root["replicates"], "replicates", 1,
                            std::numeric_limits<std::int32_t>::max()))
      spec.replicates = *n;
  if (root["seed"])
    if (auto n = ld.integer(root["seed"], "seed", 0, std::numeric_limits<std::int64_t>::max()))
      spec.seed = static_cast<std::uint64_t>(*n);
  if (root["output"]) {
    const YAML::Node o = root["output"];
    if (o.IsScalar() && (o.Scalar() == "full" || o.Scalar() == "summary"))
      spec.full = o.Scalar() == "full";
    else
      ld.expected(o, "output", "summary or full",
                  "full also stores every per-step array of every point");
  }
  if (root["bootstrap"]) {
    if (auto n = ld.integer(root["bootstrap"], "bootstrap", 100, 1000000))
      spec.bootstrap = static_cast<int>(*n);
  }
  if (root["parameters"]) read_parameters(ld, root["parameters"], base_root, spec);

  // Design-specific rules, per parameter.
  for (std::size_t i = 0; i < spec.parameters.size(); ++i) {
    const auto& p = spec.parameters[i];
    if (p.path.empty()) continue;
    const YAML::Node n = root["parameters"][i];
    const std::string at = fmt::format("parameters[{}]", i);
    if (!design_ok) continue;
    if (grid && p.values.empty() && p.levels == 0)
      ld.error(n, at, "a grid needs the levels of each parameter",
               "add `levels: 5` (evenly spaced from min to max) or list `values: [...]`");
    if (!grid && p.levels != 0)
      ld.error(n["levels"], at + ".levels",
               fmt::format("levels apply to a grid, not to a {} design", design_name(spec.design)),
               "remove levels; the design spreads samples over min..max");
  }
  if (spec.design == DesignKind::Sobol && spec.parameters.size() > max_sobol_parameters())
    ld.error(root["parameters"], "parameters",
             fmt::format("a Sobol design supports at most {} parameters, found {}",
                         max_sobol_parameters(), spec.parameters.size()),
             "fix the less interesting ones in the base scenario, or use design: lhs");
  if (ld.has_errors() || !base) ld.fail();

  SweepDesign design;
  try {
    design = make_design(spec.design, spec.parameters, spec.samples, spec.seed);
  } catch (const std::invalid_argument& e) {
    ld.error(root["design"], "design", e.what(), "use fewer levels or samples");
    ld.fail();
  }

  // Every point must load and keep the base's shape.
  for (std::size_t point = 0; point < design.points; ++point) {
    std::optional<Scenario> s;
    try {
      s = load_point(spec, design, point);
    } catch (const InputError& e) {
      for (const auto& d : e.diagnostics()) {
        if (d.warning) continue;  // the base's, already reported from its own load
        std::size_t which = spec.parameters.size();
        for (std::size_t p = 0; p < spec.parameters.size(); ++p)
          if (d.file.rfind("--set " + spec.parameters[p].path + "=", 0) == 0) which = p;
        if (which == spec.parameters.size()) {
          ld.error(
              root["parameters"], "parameters",
              fmt::format("the scenario at point {} ({}) is invalid: {}: {}", point,
                          describe_point(spec, design, point), d.path, d.message),
              d.hint.empty() ? "narrow the ranges so that every combination is valid" : d.hint);
          continue;
        }
        const auto& p = spec.parameters[which];
        const bool whole = d.message.find("a whole number") != std::string::npos;
        ld.error(root["parameters"][which], fmt::format("parameters[{}]", which),
                 fmt::format("{} = {} (point {}) is not accepted by the scenario: {}", p.path,
                             format_number(design.value(point, which)), point, d.message),
                 whole && !p.integer && p.values.empty()
                     ? "add `integer: true` to the parameter to sweep whole numbers"
                 : d.message.rfind("expected", 0) != 0 ? d.hint
                 : d.hint.empty() ? "narrow min and max, or list values the scenario accepts"
                                  : d.hint + "; narrow min and max, or list accepted values");
      }
      ld.fail();  // the first bad point says enough
    }
    const auto count = [](const Scenario& x) {
      return std::make_tuple(x.labs.size(), x.tiers.size(), x.questions.size(), x.steps,
                             x.researchers.size());
    };
    if (count(*s) != count(*base)) {
      ld.error(root["parameters"], "parameters",
               fmt::format("point {} ({}) changes the scenario's shape: it has {} labs, {} "
                           "tiers, {} questions, {} steps and {} named researchers where the "
                           "base has {}, {}, {}, {} and {}",
                           point, describe_point(spec, design, point), s->labs.size(),
                           s->tiers.size(), s->questions.size(), s->steps, s->researchers.size(),
                           base->labs.size(), base->tiers.size(), base->questions.size(),
                           base->steps, base->researchers.size()),
               "every point of a sweep must share labs, tiers, questions and steps: do not sweep "
               "step_days");
      ld.fail();
    }
  }
  return LoadedSweep{std::move(spec), std::move(*base), std::move(design),
                     std::move(ld.warnings())};
}

}  // namespace talentsim
