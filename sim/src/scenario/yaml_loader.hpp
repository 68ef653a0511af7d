// The YAML reading and diagnostics shared by the scenario and sweep
// loaders: typed scalars with ranges, key checks with did-you-mean hints,
// --set overrides, and every problem located at file:line:column with the
// offending line quoted. Private to talentsim_scenario.
#pragma once

#include <yaml-cpp/depthguard.h>
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

// A scalar's text for a message: long ones (a 400-digit number, a line of
// garbage) are cut, the excerpt under the message shows where.
inline std::string shown(const std::string& text) {
  constexpr std::size_t kMax = 40;
  if (text.size() <= kMax) return text;
  return fmt::format("{}... ({} characters)", text.substr(0, kMax), text.size());
}

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
      return fmt::format("\"{}\"", shown(n.Scalar()));
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
  // How to write a value that fits, for the hint.
  std::string hint() const {
    if (lo == 0 && hi == 1 && !lo_open && !hi_open)
      return "use a share from 0 (none) to 1 (all), for example 0.5";
    if (lo == 0 && hi == kInf)
      return lo_open ? "use a number above 0, for example 1" : "use 0 or a positive number";
    return "write an ordinary number, for example 0.5";
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
  // Problems reported at most; at the next one the loader gives up (error()).
  static constexpr std::size_t kMaxDiagnostics = 100;

  Loader(std::string source, const std::string& text) : source_(std::move(source)) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines_.push_back(line);
    }
  }

  // Throws the errors, then the warnings, so that none is lost.
  [[noreturn]] void fail() {
    diagnostics_.insert(diagnostics_.end(), warnings_.begin(), warnings_.end());
    throw InputError(std::move(diagnostics_));
  }
  bool has_errors() const { return !diagnostics_.empty(); }

  YAML::Node parse(const std::string& text) {
    if (const std::size_t bad = invalid_utf8(text); bad != std::string::npos)
      fail_at_offset(text, bad,
                     fmt::format("expected UTF-8 text, found the byte 0x{:02X}, which does not "
                                 "begin a valid UTF-8 character",
                                 static_cast<unsigned char>(text[bad])),
                     "save the file as UTF-8; Unicode noncharacters (U+FFFE, U+FDD0...) are not "
                     "allowed either");
    check_control_characters(text);
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp refuses to recurse deeper than it can afford; say so.
      fail_at(e.mark.line + 1, e.mark.column + 1,
              "expected a few levels of lists and mappings, found them nested too deeply to "
              "read (hundreds of levels)",
              "scenarios and sweeps nest only a few levels (labs[0].comp.star); look for "
              "brackets opened and never closed, or indentation that keeps growing");
    } catch (const YAML::ParserException& e) {
      std::string hint =
          "check indentation, a missing ':' or an unclosed quote or bracket near here";
      if (e.msg.find("flow") != std::string::npos)
        hint +=
            "; inside { } or [ ], quote text that holds brackets or commas, e.g. "
            "{path: \"events[3].amount\", ...}";
      fail_at(e.mark.line + 1, e.mark.column + 1, fmt::format("this is not valid YAML: {}", e.msg),
              hint);
    }
    check_quotes_closed(root, text);
    return root;
  }

  // Applies one --set, recording the node it placed so errors can point at it.
  void apply(YAML::Node& root, const Override& o) {
    auto report = [&](const std::string& message, const std::string& hint) {
      diagnostics_.push_back(Diagnostic{
          .file = "--set " + o.text(), .path = o.path, .message = message, .hint = hint});
    };
    if (invalid_utf8(o.path) != std::string::npos || invalid_utf8(o.value) != std::string::npos) {
      report("expected UTF-8 text, found bytes that are not valid UTF-8",
             "check the terminal's or the script's encoding; Unicode noncharacters (U+FFFE, "
             "U+FDD0...) are not allowed either");
      return;
    }
    const std::string both = o.path + o.value;
    if (const auto c = std::find_if(both.begin(), both.end(), is_control); c != both.end()) {
      report(fmt::format("expected text, found the control character 0x{:02X}",
                         static_cast<unsigned char>(*c)),
             "remove it; check the quoting of the command line or script");
      return;
    }
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
    if (value.IsNull()) value = YAML::Node(o.value);  // "~", "null", "&x": take the text
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
          const std::string key = cur.IsMap() && cur.size() && cur.begin()->first.IsScalar()
                                      ? cur.begin()->first.Scalar()
                                      : "key";
          report(fmt::format("{} is not a list, so [{}] does not apply",
                             where.empty() ? "the scenario" : where, *seg.index),
                 where.empty() ? fmt::format("start with a key, for example {}", key)
                               : fmt::format("pick a key of {} with '.', for example {}.{}", where,
                                             where, key));
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
        report(fmt::format("{} is a single value, so it has no key \"{}\"", where, seg.text),
               fmt::format("set it as a whole: --set {}=VALUE", where));
        return;
      }
      where = here;
    }
    sets_.push_back({o, value});
  }

  // ---- diagnostics -------------------------------------------------------

  void error(const YAML::Node& at, const std::string& path, const std::string& message,
             const std::string& hint = "") {
    // Aliases repeat a problem wherever they point: a few kilobytes such as
    // `labs: [*a, *a, ...]` over a large anchored mapping make millions of
    // diagnostics (gigabytes, minutes). Stop well before.
    if (diagnostics_.size() >= kMaxDiagnostics) {
      diagnostics_.push_back(Diagnostic{
          .file = source_,
          .message = fmt::format("expected at most {} problems, found more; stopped there",
                                 kMaxDiagnostics),
          .hint = "fix these and check again; a problem inside an anchored (&name) entry "
                  "repeats at every alias (*name) of it"});
      fail();
    }
    diagnostics_.push_back(locate(at, path, message, hint));
  }

  // A key that MODEL.md accepts and ignores where it stands: reported to
  // the user, not refused. The first kMaxDiagnostics are kept.
  void warn(const YAML::Node& at, const std::string& path, const std::string& message,
            const std::string& hint = "") {
    if (warnings_.size() >= kMaxDiagnostics) return;
    Diagnostic d = locate(at, path, message, hint);
    d.warning = true;
    warnings_.push_back(std::move(d));
  }
  std::vector<Diagnostic>& warnings() { return warnings_; }

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
        error(located, path, fmt::format("expected a key name, found {}", describe(key)),
              "a key is a plain name followed by ':', for example star_magnet: 0.5");
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
      expected(n, path, range.text(),
               is_quoted(n) ? "write the number without quotes"
                            : "write a single plain number here, for example 0.5");
      return std::nullopt;
    }
    const std::string text = n.Scalar();
    if (is_nan_or_inf(text)) {
      error(n, path, fmt::format("expected {}, found {} (not a finite number)", range.text(), text),
            "NaN and infinity are not allowed; " + range.hint());
      return std::nullopt;
    }
    const auto v = parse_real(text);
    if (!v) {
      expected(n, path, range.text(), "write digits, without units or words, for example 0.5");
      return std::nullopt;
    }
    if (!std::isfinite(*v)) {
      error(
          n, path,
          fmt::format("expected {}, found {} (too large to represent)", range.text(), shown(text)),
          "check for extra digits or a misplaced exponent");
      return std::nullopt;
    }
    if (!range.contains(*v)) {
      error(n, path, fmt::format("expected {}, found {}", range.text(), text), range.hint());
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::int64_t> integer(const YAML::Node& n, const std::string& path, std::int64_t lo,
                                      std::int64_t hi, const std::string& hint = "") {
    const std::string what = hi == std::numeric_limits<std::int64_t>::max()
                                 ? fmt::format("a whole number >= {}", lo)
                                 : fmt::format("a whole number from {} to {}", lo, hi);
    const std::string largest = hint.empty() && hi != std::numeric_limits<std::int64_t>::max()
                                    ? fmt::format("the largest accepted is {}", hi)
                                : hint.empty() ? "check for extra digits"
                                               : hint;
    if (!n.IsScalar() || is_quoted(n)) {
      expected(n, path, what,
               !hint.empty()  ? hint
               : is_quoted(n) ? "write the number without quotes"
                              : fmt::format("write a single whole number here, for example {}",
                                            std::max<std::int64_t>(lo, 1)));
      return std::nullopt;
    }
    std::int64_t v = 0;
    const std::string& text = n.Scalar();
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range) {
      error(n, path, fmt::format("expected {}, found {} (too large)", what, shown(text)), largest);
      return std::nullopt;
    }
    if (ec != std::errc{} || ptr != text.data() + text.size()) {
      // Accept integral reals like 1e3; reject 2.5.
      const auto r = parse_real(text);
      if (r && std::isfinite(*r) && std::floor(*r) == *r && std::abs(*r) < 9.0e18) {
        v = static_cast<std::int64_t>(*r);
      } else {
        expected(n, path, what,
                 !hint.empty() ? hint
                 : r && std::isfinite(*r) && std::floor(*r) == *r
                     ? largest
                     : "write a whole number with digits only, without a decimal point or units");
        return std::nullopt;
      }
    }
    if (v < lo || v > hi) {
      error(n, path, fmt::format("expected {}, found {}", what, shown(text)),
            !hint.empty() ? hint
            : v < lo      ? fmt::format("the smallest accepted is {}", lo)
                          : largest);
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> money(const YAML::Node& n, const std::string& path, Range range) {
    const std::string what =
        "an amount of money (a number, or text like \"950B\", \"$1.5M\", "
        "\"400K\")";
    if (!n.IsScalar()) {
      expected(n, path, what, "write a single amount here, for example 1.5M");
      return std::nullopt;
    }
    if (is_nan_or_inf(n.Scalar())) {
      error(n, path, fmt::format("expected {}, found {} (not a finite number)", what, n.Scalar()),
            "NaN and infinity are not allowed; write an amount such as 950B");
      return std::nullopt;
    }
    const auto v = parse_money(n.Scalar());
    std::string digits = trim(n.Scalar());  // without '$' and suffix: a number too large?
    if (!digits.empty() && digits.front() == '$') digits.erase(0, 1);
    if (!digits.empty() && std::string("KkMmBbTt").find(digits.back()) != std::string::npos)
      digits.pop_back();
    if (!v && parse_real(digits)) {
      error(n, path,
            fmt::format("expected {}, found {} (too large to represent)", what, shown(n.Scalar())),
            "check for extra digits or a misplaced exponent");
      return std::nullopt;
    }
    if (!v) {
      expected(n, path, what, "use digits with an optional '$' and one suffix K, M, B or T");
      return std::nullopt;
    }
    if (!range.contains(*v)) {
      error(n, path,
            fmt::format("expected {} amount, found {}",
                        range.lo_open ? "a positive" : "a non-negative", n.Scalar()),
            range.lo_open ? "an amount here must be above 0, for example 300K"
                          : "use 0 for none, or an amount such as 1.5B");
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string> text(const YAML::Node& n, const std::string& path,
                                  bool non_empty = true) {
    if (!n.IsScalar() || (non_empty && trim(n.Scalar()).empty())) {
      expected(n, path, non_empty ? "a non-empty text" : "a text",
               n.IsScalar() ? "write a short text after the ':'"
                            : "write plain text; quote it if it holds ':', '#', '[' or '{', for "
                              "example \"a [draft]\"");
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
    expected(n, path, "true or false", "write true or false, without quotes");
    return std::nullopt;
  }

  // A name from `names`; reports unknown names with a suggestion.
  std::optional<int> lookup(const YAML::Node& n, const std::string& path,
                            const std::vector<std::string>& names, const std::string& kind) {
    if (!n.IsScalar()) {
      expected(n, path, fmt::format("the name of a {}", kind),
               fmt::format("write one {} name here", kind));
      return std::nullopt;
    }
    const auto it = std::find(names.begin(), names.end(), n.Scalar());
    if (it == names.end()) {
      error(n, path, fmt::format("unknown {} \"{}\"", kind, n.Scalar()),
            names.empty()
                ? fmt::format("this scenario declares no {0}s; add it under `{0}s:` first", kind)
                : suggestion(n.Scalar(), names, fmt::format("{}s in this scenario: ", kind)));
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
      expected(n, path, fmt::format("a list of {} names", kind),
               fmt::format("for example [{}]", names.empty() ? kind : names.front()));
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
  // A diagnostic at `at`: a --set override's text when `at` is the value it
  // put in place, else the file's line, column and that line.
  Diagnostic locate(const YAML::Node& at, const std::string& path, const std::string& message,
                    const std::string& hint) const {
    Diagnostic d;
    d.path = path;
    d.message = message;
    d.hint = hint;
    for (const auto& s : sets_)
      if (at.is(s.node)) {
        d.file = "--set " + s.override_.text();
        break;
      }
    if (d.file.empty()) {
      d.file = source_;
      const YAML::Mark m = at.Mark();
      if (m.line >= 0) {
        d.line = m.line + 1;
        d.column = m.column + 1;
        d.excerpt = excerpt(d.line);
      }
    }
    return d;
  }

  // YAML allows no control characters but tab and line breaks.
  static bool is_control(char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
  }

  // A NUL or an escape byte means a binary file (or a damaged one).
  void check_control_characters(const std::string& text) {
    const auto bad = std::find_if(text.begin(), text.end(), is_control);
    if (bad == text.end()) return;
    fail_at_offset(text, static_cast<std::size_t>(bad - text.begin()),
                   fmt::format("expected YAML text, found the control character 0x{:02X}",
                               static_cast<unsigned char>(*bad)),
                   "this looks like a binary or damaged file: check that it is the scenario you "
                   "meant (not a results .h5 file), or delete the stray character");
  }

  // A problem with the text itself, at a 1-based line and column: the
  // file cannot be read further.
  [[noreturn]] void fail_at(int line, int column, std::string message, std::string hint) {
    if (line > static_cast<int>(lines_.size())) message += " (at the end of the file)";
    diagnostics_.push_back(Diagnostic{.file = source_,
                                      .line = line,
                                      .column = column,
                                      .message = std::move(message),
                                      .hint = std::move(hint),
                                      .excerpt = excerpt(line)});
    fail();
  }
  // The same at a byte offset into the text.
  [[noreturn]] void fail_at_offset(const std::string& text, std::size_t at, std::string message,
                                   std::string hint) {
    const std::size_t line_start = at == 0 ? 0 : text.rfind('\n', at - 1) + 1;  // npos + 1 = 0
    const auto line = 1 + static_cast<int>(std::count(
                              text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
    fail_at(line, 1 + static_cast<int>(at - line_start), std::move(message), std::move(hint));
  }

  // yaml-cpp 0.7 lets a quote that is never closed run to the end of the
  // file, swallowing every key after it. Finds such a quote.
  void check_quotes_closed(const YAML::Node& root, const std::string& text) {
    const std::size_t bom = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
    std::vector<std::pair<YAML::Node, std::string>> todo{{root, ""}};  // node, key path
    std::set<std::pair<int, int>> seen;  // collections, by position: aliases may recurse
    while (!todo.empty()) {
      const auto [n, path] = todo.back();
      todo.pop_back();
      if (n.IsMap() || n.IsSequence()) {
        if (!seen.insert({n.Mark().line, n.Mark().column}).second) continue;
        std::size_t i = 0;
        for (auto it = n.begin(); it != n.end(); ++it, ++i) {
          if (n.IsMap()) {
            todo.emplace_back(it->first, path);
            todo.emplace_back(it->second,
                              join(path, it->first.IsScalar() ? it->first.Scalar() : "?"));
          } else {
            todo.emplace_back(*it, fmt::format("{}[{}]", path, i));
          }
        }
        continue;
      }
      const YAML::Mark m = n.Mark();
      if (!n.IsScalar() || !is_quoted(n) || m.line < 0 || m.line >= static_cast<int>(lines_.size()))
        continue;
      std::size_t col = static_cast<std::size_t>(m.column) + (m.line == 0 ? bom : 0);
      const std::string& first = lines_[static_cast<std::size_t>(m.line)];
      if (col >= first.size() || (first[col] != '"' && first[col] != '\'')) continue;
      const char quote = first[col];
      bool closed = false;
      for (std::size_t l = static_cast<std::size_t>(m.line); l < lines_.size() && !closed; ++l) {
        const std::string& line = lines_[l];
        for (std::size_t i = l == static_cast<std::size_t>(m.line) ? col + 1 : 0;
             i < line.size() && !closed; ++i) {
          if (quote == '"' && line[i] == '\\')
            ++i;  // an escape
          else if (line[i] == quote && quote == '\'' && i + 1 < line.size() && line[i + 1] == '\'')
            ++i;  // '' is a quote inside '...'
          else if (line[i] == quote)
            closed = true;
        }
      }
      if (closed) continue;
      error(n, path,
            fmt::format("expected a closing {} for the text that starts here, found the end of "
                        "the file",
                        quote),
            fmt::format("close the quote: everything after an unclosed {} is read as one text",
                        quote));
      fail();
    }
  }

  std::string excerpt(int line) const {
    if (line >= 1 && line <= static_cast<int>(lines_.size())) return lines_[line - 1];
    return "";
  }

  std::string source_;
  std::vector<std::string> lines_;
  std::vector<Diagnostic> diagnostics_, warnings_;
  std::vector<SetEntry> sets_;
};

// The node at `path` in a scenario's YAML; nullopt if there is none.
inline std::optional<YAML::Node> find_path(const YAML::Node& root,
                                           const std::vector<PathSegment>& segments) {
  YAML::Node cur;
  cur.reset(root);
  for (const auto& seg : segments) {
    std::optional<YAML::Node> next;
    if (cur.IsSequence()) {
      if (seg.index) {
        if (*seg.index < cur.size()) next = cur[*seg.index];
      } else {
        for (std::size_t i = 0; i < cur.size() && !next; ++i)
          for (const char* key : {"name", "id"})
            if (cur[i].IsMap() && cur[i][key] && cur[i][key].IsScalar() &&
                cur[i][key].Scalar() == seg.text)
              next = cur[i];
      }
    } else if (cur.IsMap() && !seg.index) {
      const YAML::Node& c = cur;
      if (c[seg.text]) next = c[seg.text];
    }
    if (!next) return std::nullopt;
    cur.reset(*next);
  }
  return cur;
}

// A number as a parameter takes it: plain, or money ("8M", "$1.5B").
inline std::optional<double> parameter_number(Loader& ld, const YAML::Node& n,
                                              const std::string& path) {
  if (!n.IsScalar() || is_nan_or_inf(n.Scalar()) || !parse_money(n.Scalar())) {
    ld.expected(n, path, "a finite number (money may use K, M, B or T, as in 8M)",
                "write a plain number such as 0.5, or money such as 8M; NaN and infinity are not "
                "allowed");
    return std::nullopt;
  }
  return parse_money(n.Scalar());
}

// Checks a parameter's `path` (a sweep's or a calibration's): a key path
// that names a single number of the base scenario, and not replicates or
// seed, which the file itself sets (`own_message`, and `own_hint` whose {}
// is the key). `verb` says what the file does with it ("swept").
inline bool check_numeric_path(Loader& ld, const YAML::Node& at_node, const std::string& at,
                               const std::string& path, const YAML::Node& base_root,
                               const std::string& verb, const std::string& own_message,
                               const std::string& own_hint) {
  const auto segments = split_path(path);
  if (!segments) {
    ld.error(at_node, at,
             fmt::format("expected a key path like market.star_magnet or events[3].amount, "
                         "found \"{}\"",
                         path),
             "keys are joined by '.', list entries are picked by name or by [index]");
    return false;
  }
  if (path == "replicates" || path == "seed") {
    ld.error(at_node, at, fmt::format("{} is {}", path, own_message),
             fmt::format(fmt::runtime(own_hint), path));
    return false;
  }
  if (!base_root || !base_root.IsMap()) return true;
  const auto found = find_path(base_root, *segments);
  const YAML::Node target = found ? *found : YAML::Node(YAML::NodeType::Undefined);
  if (target && !target.IsScalar()) {
    ld.error(
        at_node, at,
        fmt::format("{} is {} in the base scenario, not a single number", path, describe(target)),
        "a parameter is one numeric value, e.g. labs.Anthropic.comp.star");
    return false;
  }
  if (target && target.IsScalar() && !parse_money(target.Scalar())) {
    ld.error(at_node, at,
             fmt::format("{} is \"{}\" in the base scenario, not a number", path, target.Scalar()),
             fmt::format("only numeric values can be {}", verb));
    return false;
  }
  return true;
}

// The base scenario a sweep or calibration file names (`base:`, relative to
// that file): its path, text, the scenario as loaded (its own errors name
// its lines) and its YAML tree; scenario empty when it is missing or does
// not load. `kind` names the naming file in the hint ("sweep file").
struct BaseScenario {
  std::filesystem::path path;
  std::string text;
  std::optional<Scenario> scenario;
  YAML::Node root;
};
inline BaseScenario read_base_scenario(Loader& ld, const YAML::Node& root,
                                       const std::filesystem::path& file, const std::string& kind) {
  BaseScenario b;
  if (!root["base"]) return b;
  const auto name = ld.text(root["base"], "base");
  if (!name) return b;
  b.path = file.parent_path() / *name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(b.path, ec)) {
    ld.error(root["base"], "base", fmt::format("no such scenario file {}", b.path.string()),
             fmt::format("the path is relative to the {}'s folder", kind));
    return b;
  }
  b.text = read_input_file(b.path, "scenario file", kScenarioPathHint);
  b.scenario = load_scenario_text(b.text, b.path.string(), {},  // errors name its lines
                                  &ld.warnings());
  try {
    b.root = YAML::Load(b.text);
  } catch (const YAML::Exception&) {
  }
  return b;
}

}  // namespace talentsim::yaml_loader
