// What the fuzz harnesses require of the scenario loader, shared by
// fuzz_scenario.cpp and fuzz_set.cpp. An InputError is the expected answer
// to bad input; a crash, a sanitizer report, a hang, any other exception or
// a broken check below is a bug, and the harness aborts so that libFuzzer
// saves the input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include "talentsim/errors.hpp"
#include "talentsim/scenario.hpp"
#include "talentsim/scenario_loader.hpp"

namespace talentsim::fuzz {

[[noreturn]] inline void bug(const std::string& what) {
  std::fprintf(stderr, "\n==fuzz== BUG: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, what)                                               \
  do {                                                                       \
    if (!(cond)) ::talentsim::fuzz::bug(std::string(#cond) + ": " + (what)); \
  } while (0)

// An InputError must say something about every problem, and format it;
// it holds at least one error (warnings alone refuse nothing), errors
// first.
inline void check_input_error(const InputError& e) {
  FUZZ_CHECK(!e.diagnostics().empty() && !e.diagnostics().front().warning,
             "an InputError without an error");
  bool warned = false;
  for (const Diagnostic& d : e.diagnostics()) {
    const std::string text = d.format();
    FUZZ_CHECK(!d.file.empty(), "a diagnostic names no file: " + text);
    FUZZ_CHECK(!d.message.empty(), "a diagnostic without a message: " + text);
    FUZZ_CHECK(d.line >= 0 && d.column >= 0, "a negative line or column: " + text);
    FUZZ_CHECK(text.find(d.warning ? "warning: " : "error: ") != std::string::npos,
               "format() lost the message: " + text);
    FUZZ_CHECK(!warned || d.warning, "an error after a warning: " + text);
    warned = d.warning;
  }
}

// Anything but an InputError escaping the loader is a bug; say which.
[[noreturn]] inline void other_exception(const std::exception& e) {
  bug(std::string("unexpected exception ") + typeid(e).name() + ": " + e.what());
}

// The scenario `load()` returns, or nothing if it refused the input with
// a well-formed InputError; any other exception is a bug.
template <class Load>
std::optional<Scenario> load_or_refuse(Load&& load) {
  try {
    return load();
  } catch (const InputError& e) {
    check_input_error(e);
  } catch (const std::exception& e) {
    other_exception(e);
  }
  return std::nullopt;
}

// The scenario `load()` returns, which it must not refuse: a refusal is a
// bug, reported as `what`, every diagnostic, then `after`.
template <class Load>
Scenario must_load(Load&& load, const std::string& what, const std::string& after = "") {
  try {
    return load();
  } catch (const InputError& e) {
    std::string all;
    for (const auto& d : e.diagnostics()) all += "\n" + d.format();
    bug(what + all + after);
  } catch (const std::exception& e) {
    other_exception(e);
  }
}

// What the engine relies on in a scenario the loader accepted.
inline void check_valid(const Scenario& s) {
  const auto tiers = static_cast<int>(s.tiers.size());
  const auto labs = static_cast<int>(s.labs.size());
  const auto named = static_cast<int>(s.researchers.size());
  FUZZ_CHECK(tiers > 0 && labs > 0, "accepted without tiers or labs");
  FUZZ_CHECK(s.step_days >= 1 && s.steps >= 1 && s.start.days < s.end.days, "bad run dates");
  FUZZ_CHECK(s.replicates >= 1, "replicates < 1");
  for (const Lab& l : s.labs) {
    FUZZ_CHECK(static_cast<int>(l.headcount.size()) == tiers, "headcount per tier: " + l.name);
    FUZZ_CHECK(static_cast<int>(l.comp.size()) == tiers, "comp per tier: " + l.name);
    for (double c : l.comp) FUZZ_CHECK(c > 0 && c < 1e308, "comp not positive: " + l.name);
    for (auto h : l.headcount) FUZZ_CHECK(h >= 0, "negative headcount: " + l.name);
  }
  for (const NamedResearcher& r : s.researchers)
    FUZZ_CHECK(r.tier >= 0 && r.tier < tiers && r.lab >= -1 && r.lab < labs,
               "researcher index out of range: " + r.name);
  auto in = [](const std::vector<int>& v, int n) {
    for (int i : v)
      if (i < 0 || i >= n) return false;
    return true;
  };
  for (const Event& e : s.events) {
    FUZZ_CHECK(e.step >= 0 && e.step < s.steps, "event step outside the run");
    FUZZ_CHECK(e.lab >= 0 && e.lab < labs, "event lab out of range");
    FUZZ_CHECK(in(e.tiers, tiers) && in(e.from, labs) && in(e.founders, named),
               "event list index out of range");
    if (e.type == EventType::Move)
      FUZZ_CHECK(e.researcher >= 0 && e.researcher < named, "move of no researcher");
  }
  for (const Question& q : s.questions) {
    FUZZ_CHECK(q.lab >= 0 && q.lab < labs, "question lab out of range: " + q.id);
    FUZZ_CHECK(0 <= q.step_from && q.step_from <= q.step_to && q.step_to < s.steps,
               "question window outside the run: " + q.id);
    FUZZ_CHECK(in(q.tiers, tiers) && in(q.from, labs), "question list out of range: " + q.id);
    if (q.metric == Metric::NamedAt)
      FUZZ_CHECK(q.researcher >= 0 && q.researcher < named, "named_at of no one: " + q.id);
    if (q.metric == Metric::Retention)
      FUZZ_CHECK(q.after_steps >= 1 && std::int64_t{q.step_to} + q.after_steps < s.steps,
                 "retention cohort not observable within the run: " + q.id);
    if (q.metric == Metric::FlowRatio)
      FUZZ_CHECK(!q.from.empty() && std::find(q.from.begin(), q.from.end(), q.lab) == q.from.end(),
                 "flow_ratio without from, or from its own lab: " + q.id);
    // Keys MODEL.md lets a question carry but its metric ignores are
    // cleared, so that no answer can use them.
    if (q.metric == Metric::Share || q.metric == Metric::NamedAt)
      FUZZ_CHECK(q.tiers.empty(), "tiers kept on a share or named_at question: " + q.id);
    if (q.metric != Metric::Hires && q.metric != Metric::Retention && q.metric != Metric::FlowRatio)
      FUZZ_CHECK(q.from.empty(), "from kept on a metric that ignores it: " + q.id);
  }
}

// The text as run (source_text, written to every results file) must load
// again to the same scenario. The seed may differ: callers override it.
inline void check_same(const Scenario& a, const Scenario& b) {
  FUZZ_CHECK(a.name == b.name, "name changed: [" + a.name + "] -> [" + b.name + "]");
  FUZZ_CHECK(a.description == b.description,
             "description changed: [" + a.description + "] -> [" + b.description + "]");
  FUZZ_CHECK(a.start.days == b.start.days && a.end.days == b.end.days && a.steps == b.steps &&
                 a.step_days == b.step_days && a.replicates == b.replicates,
             "run dates or replicates changed");
  FUZZ_CHECK(a.tiers.size() == b.tiers.size() && a.labs.size() == b.labs.size() &&
                 a.researchers.size() == b.researchers.size() &&
                 a.events.size() == b.events.size() && a.questions.size() == b.questions.size(),
             "a list changed length");
  for (std::size_t i = 0; i < a.tiers.size(); ++i)
    FUZZ_CHECK(a.tiers[i].name == b.tiers[i].name &&
                   a.tiers[i].search_rate == b.tiers[i].search_rate &&
                   a.tiers[i].reputation_median == b.tiers[i].reputation_median,
               "tier changed: " + a.tiers[i].name);
  for (std::size_t i = 0; i < a.labs.size(); ++i) {
    const Lab &x = a.labs[i], &y = b.labs[i];
    FUZZ_CHECK(x.name == y.name && x.headcount == y.headcount && x.comp == y.comp &&
                   x.funding == y.funding && x.prestige == y.prestige && x.open == y.open &&
                   x.capacity == y.capacity,
               "lab changed: " + x.name);
  }
  for (std::size_t i = 0; i < a.events.size(); ++i)
    FUZZ_CHECK(a.events[i].date.days == b.events[i].date.days &&
                   a.events[i].type == b.events[i].type && a.events[i].lab == b.events[i].lab &&
                   a.events[i].amount == b.events[i].amount,
               "event changed");
  for (std::size_t i = 0; i < a.questions.size(); ++i)
    FUZZ_CHECK(a.questions[i].id == b.questions[i].id &&
                   a.questions[i].at_least == b.questions[i].at_least &&
                   a.questions[i].at_most == b.questions[i].at_most,
               "question changed: " + a.questions[i].id);
}

// `s` was loaded with overrides: its source_text must load to the same.
inline void check_round_trip(const Scenario& s) {
  const Scenario again =
      must_load([&] { return load_scenario_text(s.source_text, "as-run.yaml"); },
                "the text as run does not load again:", "\n--- text as run ---\n" + s.source_text);
  check_valid(again);
  check_same(s, again);
}

}  // namespace talentsim::fuzz
