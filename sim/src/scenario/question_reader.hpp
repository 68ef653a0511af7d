// One forecast question read from YAML against a loaded scenario (its labs,
// tiers, named researchers and steps): shared by scenario files, whose
// `questions:` need an outcome, and calibration files, whose targets are
// questions with a published value instead.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "talentsim/scenario.hpp"
#include "yaml_loader.hpp"

namespace talentsim::yaml_loader {

// What a question is read against: the scenario as loaded so far (dates,
// steps), the names its labs, tiers and named researchers go by, and the
// check that a date lies within the run (reporting it if not).
struct QuestionContext {
  const Scenario& s;
  const std::vector<std::string>& lab_names;
  const std::vector<std::string>& tier_names;
  const std::vector<std::string>& researcher_names;
  std::function<bool(const YAML::Node&, const std::string&, Date)> check_in_run;
};

// Reads the question at `n` (key path `path`), reporting every problem to
// `ld`; nullopt when `n` is not a mapping. `extra_keys` are allowed beside
// the question's own; `need_outcome` requires at_least or at_most. Whether
// its id is unique is the caller's to check.
std::optional<Question> read_question(Loader& ld, const YAML::Node& n, const std::string& path,
                                      const QuestionContext& c,
                                      const std::vector<std::string>& extra_keys,
                                      bool need_outcome);

// The context of a scenario that loaded without errors.
struct LoadedQuestionContext {
  explicit LoadedQuestionContext(const Scenario& scenario, Loader& ld) : s(scenario) {
    for (const auto& l : s.labs) labs.push_back(l.name);
    for (const auto& t : s.tiers) tiers.push_back(t.name);
    for (const auto& r : s.researchers) researchers.push_back(r.name);
    loader = &ld;
  }
  QuestionContext context() const {
    const Scenario& sc = s;
    Loader* l = loader;
    return QuestionContext{s, labs, tiers, researchers,
                           [&sc, l](const YAML::Node& n, const std::string& path, Date d) {
                             const bool inside = !(d < sc.start) && d < sc.end;
                             if (!inside)
                               l->error(n, path,
                                        fmt::format("expected a date within the run [{}, {}), "
                                                    "found {}",
                                                    to_iso(sc.start), to_iso(sc.end), to_iso(d)),
                                        "move the date inside the run or change the scenario's "
                                        "start/end (end is exclusive)");
                             return inside;
                           }};
  }
  const Scenario& s;
  std::vector<std::string> labs, tiers, researchers;
  Loader* loader = nullptr;
};

}  // namespace talentsim::yaml_loader
