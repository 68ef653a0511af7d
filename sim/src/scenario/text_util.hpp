// Small text helpers for the scenario loader: strict number parsing, key
// paths and did-you-mean suggestions.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace talentsim {

inline std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// YAML spellings of NaN and infinity, and the usual C ones.
inline bool is_nan_or_inf(const std::string& text) {
  std::string t = lower(trim(text));
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) t.erase(0, 1);
  return t == ".nan" || t == "nan" || t == ".inf" || t == "inf" || t == "infinity";
}

// A decimal number, entirely consumed; nullopt otherwise.
inline std::optional<double> parse_real(const std::string& raw) {
  std::string text = trim(raw);
  if (!text.empty() && text[0] == '+') text.erase(0, 1);
  if (text.empty() || is_nan_or_inf(text)) return std::nullopt;
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<double>::infinity();
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

// Offset of the first byte that does not begin a valid UTF-8 character, or
// npos. Overlong forms, surrogates, code points above U+10FFFF and the
// noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF) count as invalid: yaml-cpp
// reads such bytes as they are but writes each as U+FFFD when it re-emits a
// scenario (the text as run with --set), which would then be another one.
inline std::size_t invalid_utf8(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The lead byte gives the length n and the smallest code point of that
    // length (anything less is an overlong form).
    const std::size_t n = (c & 0xE0) == 0xC0   ? 2
                          : (c & 0xF0) == 0xE0 ? 3
                          : (c & 0xF8) == 0xF0 ? 4
                                               : 0;
    if (n == 0 || text.size() - i < n) return i;
    const char32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    char32_t cp = c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) {
      const auto t = static_cast<unsigned char>(text[i + k]);
      if ((t & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (t & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
        (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE)
      return i;
    i += n;
  }
  return std::string::npos;
}

inline std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

inline std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

inline std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    prev.swap(cur);
  }
  return prev[b.size()];
}

// "did you mean 'x'?" for a close name, else the list of valid names.
inline std::string suggestion(const std::string& given, const std::vector<std::string>& valid,
                              const std::string& list_intro) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& v : valid) {
    const std::size_t d = edit_distance(lower(given), lower(v));
    if (d < best_d) {
      best_d = d;
      best = v;
    }
  }
  const std::size_t limit = std::max<std::size_t>(2, given.size() / 3);
  if (!best.empty() && best_d <= limit) return "did you mean \"" + best + "\"?";
  if (valid.empty()) return "";
  return list_intro + join_list(valid);
}

struct PathSegment {
  std::string text;                  // key or entry name
  std::optional<std::size_t> index;  // [i]
};

// "labs.Anthropic.comp.star" or "events[3].amount" into segments; a
// segment "events[3]" becomes two: key "events", then index 3.
inline std::optional<std::vector<PathSegment>> split_path(const std::string& path) {
  std::vector<PathSegment> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    const std::size_t dot = path.find('.', i);
    const std::string part = path.substr(i, dot == std::string::npos ? std::string::npos : dot - i);
    std::size_t b = part.find('[');
    const std::string key = part.substr(0, b);
    if (!key.empty()) out.push_back({key, std::nullopt});
    while (b != std::string::npos) {
      const std::size_t e = part.find(']', b);
      if (e == std::string::npos) return std::nullopt;
      const std::string inner = part.substr(b + 1, e - b - 1);
      std::size_t idx = 0;
      const auto [ptr, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), idx);
      if (!inner.empty() && ec == std::errc{} && ptr == inner.data() + inner.size())
        out.push_back({"[" + inner + "]", idx});
      else if (!inner.empty())
        out.push_back({inner, std::nullopt});  // [name] picks a list entry by name
      else
        return std::nullopt;
      b = e + 1 < part.size() ? part.find('[', e + 1) : std::string::npos;
      if (b == std::string::npos && e + 1 != part.size()) return std::nullopt;
      if (b != std::string::npos && b != e + 1) return std::nullopt;
    }
    if (key.empty() && part.find('[') != 0) return std::nullopt;  // empty segment "a..b"
    if (dot == std::string::npos) break;
    i = dot + 1;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace talentsim
