// The YAML reading and diagnostics shared by the scenario and sweep
// loaders: typed scalars with ranges, key checks with did-you-mean hints,
// --set overrides, and every problem located at file:line:column with the
// offending line quoted. Private to talentsim_scenario.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "talentsim/errors.hpp"
#include "talentsim/scenario.hpp"
#include "talentsim/scenario_loader.hpp"
#include "text_util.hpp"

namespace talentsim::yaml_loader {

// Where a missing scenario is usually looked for.
inline constexpr const char* kScenarioPathHint = "check the path; scenarios live in scenarios/";

// The whole of an input file; InputError naming it ("no such <what>", with
// `hint`, or "cannot read the <what>") when it cannot be read.
inline std::string read_input_file(const std::filesystem::path& path, const std::string& what,
                                   const std::string& hint) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    throw InputError(std::vector<Diagnostic>{
        Diagnostic{.file = path.string(),
                   .message = exists ? "cannot read the " + what : "no such " + what,
                   .hint = exists ? "check its permissions" : hint}});
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

constexpr double kInf = std::numeric_limits<double>::infinity();

// What a node looks like, for "found ..." in messages.
inline std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing (an empty value)";
    case YAML::NodeType::Sequence:
      return n.size() ? "a list" : "an empty list";
    case YAML::NodeType::Map:
      return n.size() ? "a mapping" : "an empty mapping";
    case YAML::NodeType::Scalar:
      return fmt::format("\"{}\"", n.Scalar());
    default:
      return "an undefined value";
  }
}

// Plain (unquoted) scalars may be numbers; quoted ones are strings.
inline bool is_quoted(const YAML::Node& n) { return n.Tag() == "!"; }

inline std::string format_number(double v) { return fmt::format("{}", v); }

struct Range {
  double lo = -kInf, hi = kInf;
  bool lo_open = false, hi_open = false;
  bool contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  std::string text() const {
    if (lo == -kInf && hi == kInf) return "a finite number";
    if (hi == kInf) return fmt::format("a number {} {}", lo_open ? ">" : ">=", format_number(lo));
    if (lo == -kInf) return fmt::format("a number {} {}", hi_open ? "<" : "<=", format_number(hi));
    return fmt::format("a number in {}{}, {}{}", lo_open ? "(" : "[", format_number(lo),
                       format_number(hi), hi_open ? ")" : "]");
  }
};
constexpr Range kAny{};
constexpr Range kNonNegative{0, kInf};
constexpr Range kPositive{0, kInf, true};
constexpr Range kUnit{0, 1};

struct SetEntry {
  Override override_;
  YAML::Node node;  // the scalar it put in place
};

class Loader {
 public:
  Loader(std::string source, const std::string& text) : source_(std::move(source)) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines_.push_back(line);
    }
  }

  [[noreturn]] void fail() { throw InputError(std::move(diagnostics_)); }
  bool has_errors() const { return !diagnostics_.empty(); }

  YAML::Node parse(const std::string& text) {
    try {
      return YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      Diagnostic d;
      d.file = source_;
      d.line = e.mark.line + 1;
      d.column = e.mark.column + 1;
      d.message = fmt::format("this is not valid YAML: {}", e.msg);
      d.hint = "check indentation, a missing ':' or an unclosed quote or bracket near here";
      if (e.msg.find("flow") != std::string::npos)
        d.hint +=
            "; inside { } or [ ], quote text that holds brackets or commas, e.g. "
            "{path: \"events[3].amount\", ...}";
      d.excerpt = excerpt(d.line);
      diagnostics_.push_back(std::move(d));
      fail();
    }
  }

  // Applies one --set, recording the node it placed so errors can point at it.
  void apply(YAML::Node& root, const Override& o) {
    auto report = [&](const std::string& message, const std::string& hint) {
      diagnostics_.push_back(Diagnostic{
          .file = "--set " + o.text(), .path = o.path, .message = message, .hint = hint});
    };
    const auto segments = split_path(o.path);
    if (!segments) {
      report(fmt::format("expected a key path like market.star_magnet or events[3].amount, found "
                         "\"{}\"",
                         o.path),
             "keys are joined by '.', list entries are picked by name or by [index]");
      return;
    }
    if (o.value.empty()) {
      report("expected a value after '=', found nothing", "for example --set " + o.path + "=1.5");
      return;
    }
    YAML::Node value;
    try {
      value = YAML::Load(o.value);
    } catch (const YAML::Exception&) {
      value = YAML::Node(o.value);
    }
    if (!value.IsScalar()) {
      report(fmt::format("expected a single value (--set replaces one scalar), found {}",
                         describe(value)),
             "edit lists and mappings in the scenario file");
      return;
    }
    if (!root.IsMap()) return;  // the file's own error is reported already
    YAML::Node cur;
    cur.reset(root);
    std::string where;
    for (std::size_t s = 0; s < segments->size(); ++s) {
      const auto& seg = (*segments)[s];
      const bool last = s + 1 == segments->size();
      const std::string here = where.empty() ? seg.text : where + "." + seg.text;
      if (cur.IsSequence()) {
        std::optional<std::size_t> idx = seg.index;
        if (!idx) {
          std::vector<std::string> names;
          for (std::size_t i = 0; i < cur.size(); ++i) {
            const YAML::Node e = cur[i];
            for (const char* key : {"name", "id"})
              if (e.IsMap() && e[key] && e[key].IsScalar()) {
                names.push_back(e[key].Scalar());
                if (e[key].Scalar() == seg.text) idx = i;
              }
          }
          if (!idx) {
            report(fmt::format("{} has no entry named \"{}\"", where, seg.text),
                   suggestion(seg.text, names, "entries: "));
            return;
          }
        } else if (*idx >= cur.size()) {
          report(fmt::format("{} has {} entries, so index {} is out of range", where, cur.size(),
                             *idx),
                 cur.size() ? fmt::format("use an index from 0 to {}", cur.size() - 1) : "");
          return;
        }
        if (last) {
          cur[*idx] = value;
        } else {
          YAML::Node next = cur[*idx];
          cur.reset(next);
        }
      } else if (cur.IsMap() || cur.IsNull()) {
        if (seg.index) {
          report(fmt::format("{} is not a list, so [{}] does not apply", where, *seg.index), "");
          return;
        }
        if (last) {
          cur[seg.text] = value;
        } else {
          if (!cur[seg.text]) cur[seg.text] = YAML::Node(YAML::NodeType::Map);
          YAML::Node next = cur[seg.text];
          cur.reset(next);
        }
      } else {
        report(fmt::format("{} is a single value, so it has no key \"{}\"", where, seg.text), "");
        return;
      }
      where = here;
    }
    sets_.push_back({o, value});
  }

  // ---- diagnostics -------------------------------------------------------

  void error(const YAML::Node& at, const std::string& path, const std::string& message,
             const std::string& hint = "") {
    Diagnostic d;
    d.path = path;
    d.message = message;
    d.hint = hint;
    for (const auto& s : sets_)
      if (at.is(s.node)) {
        d.file = "--set " + s.override_.text();
        diagnostics_.push_back(std::move(d));
        return;
      }
    d.file = source_;
    const YAML::Mark m = at.Mark();
    if (m.line >= 0) {
      d.line = m.line + 1;
      d.column = m.column + 1;
      d.excerpt = excerpt(d.line);
    }
    diagnostics_.push_back(std::move(d));
  }

  void expected(const YAML::Node& at, const std::string& path, const std::string& what,
                const std::string& hint = "") {
    error(at, path, fmt::format("expected {}, found {}", what, describe(at)), hint);
  }

  // ---- structure ---------------------------------------------------------

  // Checks that `map` is a mapping whose keys are all in `allowed`, without
  // duplicates. Returns false (after reporting) when it is not a mapping.
  bool check_map(const YAML::Node& map, const std::string& path,
                 const std::vector<std::string>& allowed, const std::string& what) {
    if (!map.IsMap()) {
      expected(map, path, what);
      return false;
    }
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      const std::string name = key.IsScalar() ? key.Scalar() : "";
      const YAML::Node located = key.Mark().line >= 0 ? key : YAML::Node(it->second);
      const std::string key_path = join(path, name);
      if (!key.IsScalar()) {
        error(located, path, fmt::format("expected a key name, found {}", describe(key)));
        continue;
      }
      if (!seen.insert(name).second) {
        error(located, key_path, fmt::format("duplicate key \"{}\"", name),
              "each key may appear once; remove or merge the repeated one");
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        error(located, key_path, fmt::format("unknown key \"{}\"", name),
              suggestion(name, allowed, "allowed keys here: "));
    }
    return true;
  }

  void require(const YAML::Node& map, const std::string& path, const std::string& key,
               const std::string& what) {
    if (map.IsMap() && !map[key])
      error(map, join(path, key), fmt::format("missing required key \"{}\" ({})", key, what),
            fmt::format("add `{}: ...` here", key));
  }

  // ---- scalars -----------------------------------------------------------

  std::optional<double> real(const YAML::Node& n, const std::string& path, Range range = kAny) {
    if (!n.IsScalar() || is_quoted(n)) {
      expected(n, path, range.text(), is_quoted(n) ? "write the number without quotes" : "");
      return std::nullopt;
    }
    const std::string text = n.Scalar();
    if (is_nan_or_inf(text)) {
      error(n, path,
            fmt::format("expected {}, found {} (not a finite number)", range.text(), text));
      return std::nullopt;
    }
    const auto v = parse_real(text);
    if (!v) {
      expected(n, path, range.text());
      return std::nullopt;
    }
    if (!std::isfinite(*v)) {
      error(n, path,
            fmt::format("expected {}, found {} (too large to represent)", range.text(), text));
      return std::nullopt;
    }
    if (!range.contains(*v)) {
      error(n, path, fmt::format("expected {}, found {}", range.text(), text));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::int64_t> integer(const YAML::Node& n, const std::string& path, std::int64_t lo,
                                      std::int64_t hi, const std::string& hint = "") {
    const std::string what = hi == std::numeric_limits<std::int64_t>::max()
                                 ? fmt::format("a whole number >= {}", lo)
                                 : fmt::format("a whole number from {} to {}", lo, hi);
    if (!n.IsScalar() || is_quoted(n)) {
      expected(n, path, what, hint);
      return std::nullopt;
    }
    std::int64_t v = 0;
    const std::string& text = n.Scalar();
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range) {
      error(n, path, fmt::format("expected {}, found {} (too large)", what, text), hint);
      return std::nullopt;
    }
    if (ec != std::errc{} || ptr != text.data() + text.size()) {
      // Accept integral reals like 1e3; reject 2.5.
      const auto r = parse_real(text);
      if (r && std::isfinite(*r) && std::floor(*r) == *r && std::abs(*r) < 9.0e18) {
        v = static_cast<std::int64_t>(*r);
      } else {
        expected(n, path, what, hint);
        return std::nullopt;
      }
    }
    if (v < lo || v > hi) {
      error(n, path, fmt::format("expected {}, found {}", what, text), hint);
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> money(const YAML::Node& n, const std::string& path, Range range) {
    const std::string what =
        "an amount of money (a number, or text like \"950B\", \"$1.5M\", "
        "\"400K\")";
    if (!n.IsScalar()) {
      expected(n, path, what);
      return std::nullopt;
    }
    if (is_nan_or_inf(n.Scalar())) {
      error(n, path, fmt::format("expected {}, found {} (not a finite number)", what, n.Scalar()));
      return std::nullopt;
    }
    const auto v = parse_money(n.Scalar());
    if (!v) {
      expected(n, path, what, "use digits with an optional '$' and one suffix K, M, B or T");
      return std::nullopt;
    }
    if (!range.contains(*v)) {
      error(n, path,
            fmt::format("expected {} amount, found {}",
                        range.lo_open ? "a positive" : "a non-negative", n.Scalar()));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string> text(const YAML::Node& n, const std::string& path,
                                  bool non_empty = true) {
    if (!n.IsScalar() || (non_empty && trim(n.Scalar()).empty())) {
      expected(n, path, non_empty ? "a non-empty text" : "a text");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<Date> date(const YAML::Node& n, const std::string& path) {
    if (n.IsScalar())
      if (auto d = parse_iso_date(trim(n.Scalar()))) return d;
    expected(n, path, "a date YYYY-MM-DD", "dates are ISO 8601, for example 2026-05-19");
    return std::nullopt;
  }

  std::optional<bool> boolean(const YAML::Node& n, const std::string& path) {
    if (n.IsScalar() && !is_quoted(n)) {
      const std::string v = n.Scalar();
      if (v == "true" || v == "True" || v == "TRUE" || v == "yes") return true;
      if (v == "false" || v == "False" || v == "FALSE" || v == "no") return false;
    }
    expected(n, path, "true or false");
    return std::nullopt;
  }

  // A name from `names`; reports unknown names with a suggestion.
  std::optional<int> lookup(const YAML::Node& n, const std::string& path,
                            const std::vector<std::string>& names, const std::string& kind) {
    if (!n.IsScalar()) {
      expected(n, path, fmt::format("the name of a {}", kind));
      return std::nullopt;
    }
    const auto it = std::find(names.begin(), names.end(), n.Scalar());
    if (it == names.end()) {
      error(n, path, fmt::format("unknown {} \"{}\"", kind, n.Scalar()),
            suggestion(n.Scalar(), names, fmt::format("{}s in this scenario: ", kind)));
      return std::nullopt;
    }
    return static_cast<int>(it - names.begin());
  }

  // A list of names (a single name is taken as a list of one).
  std::vector<int> lookup_list(const YAML::Node& n, const std::string& path,
                               const std::vector<std::string>& names, const std::string& kind) {
    std::vector<int> out;
    if (n.IsScalar()) {
      if (auto i = lookup(n, path, names, kind)) out.push_back(*i);
      return out;
    }
    if (!n.IsSequence()) {
      expected(n, path, fmt::format("a list of {} names", kind));
      return out;
    }
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string p = fmt::format("{}[{}]", path, i);
      if (auto idx = lookup(n[i], p, names, kind)) {
        if (std::find(out.begin(), out.end(), *idx) != out.end())
          error(n[i], p, fmt::format("{} \"{}\" is listed twice", kind, n[i].Scalar()),
                "list each once");
        else
          out.push_back(*idx);
      }
    }
    return out;
  }

  const std::vector<SetEntry>& sets() const { return sets_; }

 private:
  std::string excerpt(int line) const {
    if (line >= 1 && line <= static_cast<int>(lines_.size())) return lines_[line - 1];
    return "";
  }

  std::string source_;
  std::vector<std::string> lines_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<SetEntry> sets_;
};

}  // namespace talentsim::yaml_loader
