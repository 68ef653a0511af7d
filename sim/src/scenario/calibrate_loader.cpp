// Calibration files (see talentsim/calibrate_loader.hpp). The structure is
// checked like a scenario's; each target is read by the scenario's own
// question reader, so a target says what a question says; the base must
// load with every parameter at either of its bounds.
#include "talentsim/calibrate_loader.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "question_reader.hpp"
#include "yaml_loader.hpp"

namespace talentsim {
namespace {

using namespace yaml_loader;

const std::vector<std::string> kCalibrationKeys = {
    "name",           "description",      "base",
    "seed",           "replicates",       "particles",
    "generations",    "quantile",         "final_epsilon",
    "min_acceptance", "check_replicates", "parameters",
    "targets",        "predictions"};
const std::vector<std::string> kParameterKeys = {"path", "min", "max", "prior"};
const std::vector<std::string> kTargetKeys = {"value", "tolerance", "source"};
const std::vector<std::string> kPredictionKeys = {"value", "source"};

// prior: uniform | log-uniform | {normal: {mean: M, sd: S}}
bool read_prior(Loader& ld, const YAML::Node& n, const std::string& at, CalibrationParameter& p) {
  if (n.IsScalar() && (n.Scalar() == "uniform" || n.Scalar() == "log-uniform")) {
    p.prior = n.Scalar() == "uniform" ? PriorKind::Uniform : PriorKind::LogUniform;
    return true;
  }
  if (n.IsMap() && n.size() == 1 && n["normal"]) {
    const YAML::Node m = n["normal"];
    const std::string mp = at + ".normal";
    if (!ld.check_map(m, mp, {"mean", "sd"}, "{mean: M, sd: S}")) return false;
    ld.require(m, mp, "mean", "the prior's mean");
    ld.require(m, mp, "sd", "the prior's standard deviation");
    std::optional<double> mean, sd;
    if (m["mean"]) mean = parameter_number(ld, m["mean"], mp + ".mean");
    if (m["sd"]) {
      sd = parameter_number(ld, m["sd"], mp + ".sd");
      if (sd && !(*sd > 0)) {
        ld.error(m["sd"], mp + ".sd", fmt::format("expected sd > 0, found {}", m["sd"].Scalar()),
                 "to fix a value, set it in the base scenario instead of calibrating it");
        sd.reset();
      }
    }
    if (!mean || !sd) return false;
    p.prior = PriorKind::Normal;
    p.mean = *mean;
    p.sd = *sd;
    return true;
  }
  ld.expected(n, at, "uniform, log-uniform or {normal: {mean: M, sd: S}}",
              "the prior is uniform on [min, max] unless you say otherwise; a normal prior is "
              "truncated to [min, max]");
  return false;
}

void read_parameters(Loader& ld, const YAML::Node& list, const YAML::Node& base_root,
                     CalibrationSpec& spec) {
  if (!list.IsSequence() || list.size() == 0) {
    ld.expected(list, "parameters", "a non-empty list of parameters",
                "for example:\n  - {path: market.switching_cost, min: 0.5, max: 4.0}");
    return;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string at = fmt::format("parameters[{}]", i);
    if (!ld.check_map(n, at, kParameterKeys, "a parameter {path: ..., min: ..., max: ...}"))
      continue;
    CalibrationParameter p;
    p.line = n.Mark().line + 1;
    p.column = n.Mark().column + 1;
    ld.require(n, at, "path", "the scenario value to calibrate, as in --set");
    ld.require(n, at, "min", "the least value the parameter may take");
    ld.require(n, at, "max", "the greatest value the parameter may take");
    if (n["path"])
      if (auto text = ld.text(n["path"], at + ".path")) p.path = trim(*text);
    bool ok = !p.path.empty() &&
              check_numeric_path(ld, n["path"], at + ".path", p.path, base_root, "calibrated",
                                 "set by the calibration file itself, not calibrated",
                                 "write `{}: ...` at the top of the calibration file");
    for (const auto& q : spec.parameters)
      if (ok && q.path == p.path) {
        ld.error(n["path"], at + ".path", fmt::format("{} is calibrated twice", p.path),
                 "list each parameter once");
        ok = false;
      }
    std::optional<double> lo, hi;
    if (n["min"]) lo = parameter_number(ld, n["min"], at + ".min");
    if (n["max"]) hi = parameter_number(ld, n["max"], at + ".max");
    if (n["prior"]) ok = read_prior(ld, n["prior"], at + ".prior", p) && ok;
    if (lo && hi) {
      p.low = *lo;
      p.high = *hi;
      if (!(*lo < *hi)) {
        ld.error(
            n["max"], at + ".max",
            fmt::format("expected max > min ({}), found {}", n["min"].Scalar(), n["max"].Scalar()),
            "to fix a value, set it in the base scenario instead of calibrating it");
        ok = false;
      } else if (p.prior == PriorKind::LogUniform && !(*lo > 0)) {
        ld.error(n["min"], at + ".min",
                 fmt::format("a log-uniform prior needs min > 0, found {}", n["min"].Scalar()),
                 "use prior: uniform, or a positive min");
        ok = false;
      } else if (p.prior == PriorKind::Normal) {
        // Almost no prior mass inside the bounds would make proposals fail.
        const auto cdf = [&](double x) {
          return 0.5 * std::erfc(-(x - p.mean) / (p.sd * M_SQRT2));
        };
        if (cdf(p.high) - cdf(p.low) < 1e-3) {
          ld.error(n["prior"], at + ".prior",
                   fmt::format("the normal prior puts {:.2g} of its mass inside [{}, {}]",
                               cdf(p.high) - cdf(p.low), p.low, p.high),
                   "move the prior's mean inside the bounds, or widen them");
          ok = false;
        }
      }
    } else {
      ok = false;
    }
    spec.parameters.push_back(ok ? std::move(p) : CalibrationParameter{});
  }
}

void read_targets(Loader& ld, const YAML::Node& list, const Scenario* base, CalibrationSpec& spec) {
  if (!list.IsSequence() || list.size() == 0) {
    ld.expected(list, "targets", "a non-empty list of targets",
                "for example:\n  - {id: retention_openai, metric: retention, lab: OpenAI,\n"
                "     window: [2026-01-01, 2026-12-31], after: 2, value: 0.67, tolerance: 0.03,\n"
                "     source: FACTS C1}");
    return;
  }
  std::map<std::string, int> ids;
  std::optional<LoadedQuestionContext> names;  // the base's names, listed once
  if (base) names.emplace(*base, ld);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string at = fmt::format("targets[{}]", i);
    CalibrationTarget t;
    if (!n.IsMap()) {
      ld.expected(n, at, "a target {id, metric, lab, window, ..., value, tolerance, source}");
      continue;
    }
    ld.require(n, at, "value", "the published figure to match");
    ld.require(n, at, "tolerance", "how far from value the model may be: the figure's uncertainty");
    ld.require(n, at, "source", "where the figure comes from, e.g. FACTS C1");
    if (n["value"])
      if (auto v = parameter_number(ld, n["value"], at + ".value")) t.value = *v;
    if (n["tolerance"]) {
      if (auto v = parameter_number(ld, n["tolerance"], at + ".tolerance")) {
        t.tolerance = *v;
        if (!(*v > 0))
          ld.error(n["tolerance"], at + ".tolerance",
                   fmt::format("expected a tolerance > 0, found {}", n["tolerance"].Scalar()),
                   "a published figure is never exact: use its uncertainty, e.g. 0.03 for a "
                   "share reported to the nearest few points");
      }
    }
    if (n["source"])
      if (auto v = ld.text(n["source"], at + ".source")) t.source = *v;
    if (names) {
      if (auto q = read_question(ld, n, at, names->context(), kTargetKeys, false)) {
        t.question = std::move(*q);
        t.id = t.question.id;
        if (!ids.emplace(t.id, static_cast<int>(i)).second)
          ld.error(n["id"], at + ".id", fmt::format("duplicate target id \"{}\"", t.id),
                   "give each target its own id");
      }
    }
    spec.targets.push_back(std::move(t));
  }
}

// Questions to answer at the estimate, with an optional published value to
// compare with (not fitted).
void read_predictions(Loader& ld, const YAML::Node& list, const Scenario* base,
                      CalibrationSpec& spec) {
  if (!list.IsSequence()) {
    ld.expected(list, "predictions", "a list of questions (metric, lab, window, ...)",
                "for example:\n  - {id: retention_meta, metric: retention, lab: Meta,\n"
                "     window: [2026-01-01, 2026-12-31], after: 2}");
    return;
  }
  std::map<std::string, int> ids;
  for (const auto& t : spec.targets) ids.emplace(t.id, -1);
  std::optional<LoadedQuestionContext> names;
  if (base) names.emplace(*base, ld);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string at = fmt::format("predictions[{}]", i);
    CalibrationTarget t;
    t.value = std::numeric_limits<double>::quiet_NaN();
    if (!n.IsMap()) {
      ld.expected(n, at, "a question {id, metric, lab, window, ...}");
      continue;
    }
    if (n["value"])
      if (auto v = parameter_number(ld, n["value"], at + ".value")) t.value = *v;
    if (n["source"])
      if (auto v = ld.text(n["source"], at + ".source")) t.source = *v;
    if (names) {
      if (auto q = read_question(ld, n, at, names->context(), kPredictionKeys, false)) {
        t.question = std::move(*q);
        t.id = t.question.id;
        if (!ids.emplace(t.id, static_cast<int>(i)).second)
          ld.error(n["id"], at + ".id", fmt::format("duplicate id \"{}\"", t.id),
                   "targets and predictions each need their own id");
      }
    }
    spec.predictions.push_back(std::move(t));
  }
}

}  // namespace

std::vector<Override> calibration_overrides(const CalibrationSpec& spec,
                                            const std::vector<double>& values) {
  std::vector<Override> out;
  for (std::size_t p = 0; p < spec.parameters.size(); ++p)
    out.push_back({spec.parameters[p].path, format_number(values[p])});
  return out;
}

Scenario load_proposal(const CalibrationSpec& spec, const Scenario& base,
                       const std::vector<Override>& overrides) {
  Scenario s = load_scenario_text(spec.base_text, spec.base.string(), overrides);
  // The parameters are scalars of the market, tiers or labs; the targets'
  // lab, tier and step indices need the base's shape.
  if (s.labs.size() != base.labs.size() || s.tiers.size() != base.tiers.size() ||
      s.steps != base.steps || s.researchers.size() != base.researchers.size())
    throw InputError(std::vector<Diagnostic>{Diagnostic{
        .file = spec.base.string(),
        .message = "a calibration parameter changes the scenario's shape (labs, tiers, steps or "
                   "named researchers)",
        .hint =
            "calibrate market, tier and lab values; do not calibrate step_days, start or end"}});
  for (const auto& t : spec.targets) s.questions.push_back(t.question);
  return s;
}

std::string rewrite_scalars(const std::string& text, const std::string& source_name,
                            const std::vector<Override>& overrides) {
  const auto fail = [&](const Override& o, const std::string& message) {
    throw InputError(std::vector<Diagnostic>{Diagnostic{
        .file = source_name,
        .path = o.path,
        .message = message,
        .hint = "write the value on its own (key: value, or inside {...}) so that it can be "
                "replaced in place"}});
  };
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(std::vector<Diagnostic>{
        Diagnostic{.file = source_name, .message = std::string("not valid YAML: ") + e.what()}});
  }
  // Byte ranges to replace, found before any is replaced.
  std::vector<std::tuple<std::size_t, std::size_t, std::string>> edits;
  for (const auto& o : overrides) {
    const auto segments = split_path(o.path);
    const auto node = segments ? find_path(root, *segments) : std::nullopt;
    if (!node || !node->IsScalar())
      fail(o, fmt::format("{} is not a value of the scenario", o.path));
    const auto begin = static_cast<std::size_t>(node->Mark().pos);
    if (begin >= text.size()) fail(o, fmt::format("{} has no position in the text", o.path));
    std::size_t end = begin;
    const char open = text[begin];
    if (open == '"' || open == '\'') {
      end = text.find(open, begin + 1);
      if (end == std::string::npos) fail(o, fmt::format("{}: unterminated quote", o.path));
      ++end;
    } else {
      while (end < text.size() &&
             std::string_view(" \t\r\n,]}#").find(text[end]) == std::string_view::npos)
        ++end;
    }
    if (trim(text.substr(begin, end - begin)) != trim(node->Scalar()) && open != '"' &&
        open != '\'')
      fail(o, fmt::format("{}: the value \"{}\" is not written as a single plain word", o.path,
                          node->Scalar()));
    edits.emplace_back(begin, end, o.value);
  }
  std::sort(edits.begin(), edits.end(),
            [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::string out = text;
  for (const auto& [begin, end, value] : edits) out.replace(begin, end - begin, value);
  return out;
}

LoadedCalibration load_calibration_file(const std::filesystem::path& path) {
  const std::string text = read_input_file(
      path, "calibration file", "check the path; calibration files live in scenarios/calibration/");
  Loader ld(path.string(), text);
  const YAML::Node root = ld.parse(text);
  CalibrationSpec spec;
  spec.text = text;
  spec.name = path.stem().string();
  if (!root.IsMap()) {
    ld.expected(root, "", "a mapping with base, parameters and targets",
                "see scenarios/calibration/ for examples");
    ld.fail();
  }
  if (root["labs"] && !root["targets"]) {
    ld.error(root["labs"], "labs",
             "expected a calibration file, found a scenario (labs, no targets)",
             "name the scenario as `base:` in a calibration file (see scenarios/calibration/)");
    ld.fail();
  }
  ld.check_map(root, "", kCalibrationKeys, "a calibration");
  ld.require(root, "", "base", "the scenario to calibrate, relative to this file");
  ld.require(root, "", "parameters", "what to fit");
  ld.require(root, "", "targets", "the figures to fit");
  if (root["name"])
    if (auto v = ld.text(root["name"], "name")) spec.name = *v;
  if (root["description"]) ld.text(root["description"], "description", false);

  BaseScenario read = read_base_scenario(ld, root, path, "calibration file");
  spec.base = read.path;
  spec.base_text = read.text;
  std::optional<Scenario>& base = read.scenario;
  const YAML::Node& base_root = read.root;
  spec.abc.seed = base ? base->seed : 1;
  const auto whole = [&](const char* key, std::int64_t lo, std::int64_t hi, auto& into) {
    if (root[key])
      if (auto v = ld.integer(root[key], key, lo, hi))
        into = static_cast<std::decay_t<decltype(into)>>(*v);
  };
  const auto real = [&](const char* key, Range range, double& into) {
    if (root[key])
      if (auto v = ld.real(root[key], key, range)) into = *v;
  };
  std::int64_t seed = static_cast<std::int64_t>(spec.abc.seed & 0x7fffffffffffffffull);
  whole("seed", 0, std::numeric_limits<std::int64_t>::max(), seed);
  spec.abc.seed = static_cast<std::uint64_t>(seed);
  whole("replicates", 1, 1000000, spec.replicates);
  whole("check_replicates", 2, 100000000, spec.check_replicates);
  whole("particles", 10, 1000000, spec.abc.particles);
  whole("generations", 1, 1000, spec.abc.max_generations);
  real("quantile", Range{0.05, 0.95}, spec.abc.quantile);
  real("final_epsilon", kPositive, spec.abc.final_epsilon);
  real("min_acceptance", Range{0.0, 1.0, true}, spec.abc.min_acceptance);
  if (root["parameters"]) read_parameters(ld, root["parameters"], base_root, spec);
  if (root["targets"]) read_targets(ld, root["targets"], base ? &*base : nullptr, spec);
  if (root["predictions"]) read_predictions(ld, root["predictions"], base ? &*base : nullptr, spec);
  if (ld.has_errors() || !base) ld.fail();

  // The base must accept every parameter at either bound (the others as
  // they are): a calibration should not fail half-way on a value.
  for (std::size_t i = 0; i < spec.parameters.size(); ++i) {
    const auto& p = spec.parameters[i];
    for (const double v : {p.low, p.high}) {
      try {
        load_scenario_text(spec.base_text, spec.base.string(), {{p.path, format_number(v)}});
      } catch (const InputError& e) {
        const Diagnostic& d = e.diagnostics().front();
        // A value out of the scenario's range can be fixed by the bounds;
        // anything else (an unknown key) by the path.
        const bool value_problem = d.message.rfind("expected", 0) == 0;
        ld.error(root["parameters"][i], fmt::format("parameters[{}]", i),
                 fmt::format("{} = {} is not accepted by the scenario: {}", p.path,
                             format_number(v), d.message),
                 !value_problem   ? d.hint
                 : d.hint.empty() ? "narrow min and max to values the scenario accepts"
                                  : d.hint + "; narrow min and max");
        break;  // one report per parameter
      }
    }
  }
  if (ld.has_errors()) ld.fail();
  return LoadedCalibration{std::move(spec), std::move(*base), std::move(ld.warnings())};
}

}  // namespace talentsim
