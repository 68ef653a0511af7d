// YAML -> Scenario: parsing, defaults and strict validation. Every problem in
// a file is reported, each with file:line:column, key path, what was
// expected, what was found and, where possible, how to fix it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "talentsim/errors.hpp"
#include "talentsim/scenario.hpp"

namespace talentsim {

// A command-line override `--set PATH=VALUE` of one scalar of the scenario.
// PATH uses dots for keys, a name to pick a list entry (labs.Anthropic,
// researchers.Ada, questions.q1), or [i] for a position (events[3]).
struct Override {
  std::string path;
  std::string value;
  std::string text() const { return path + '=' + value; }
};

// Splits "PATH=VALUE"; throws InputError when there is no '='.
Override parse_override(const std::string& argument);

// Throws InputError listing every problem found. Keys that MODEL.md
// accepts but ignores where they stand (a share question's tiers) are
// appended to *warnings when it is given.
Scenario load_scenario_file(const std::filesystem::path& path,
                            const std::vector<Override>& overrides = {},
                            std::vector<Diagnostic>* warnings = nullptr);
Scenario load_scenario_text(const std::string& text, const std::string& source_name,
                            const std::vector<Override>& overrides = {},
                            std::vector<Diagnostic>* warnings = nullptr);

// Money: a number, or a string with an optional '$' and a suffix K, M, B or T
// ("950B", "$1.5M", "400K"). nullopt when malformed.
std::optional<double> parse_money(const std::string& text);

}  // namespace talentsim
