#include "talentsim/errors.hpp"

#include <algorithm>
#include <string>

namespace talentsim {

namespace {

std::string join_messages(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) {
    if (!out.empty()) out += '\n';
    out += d.format();
  }
  return out;
}

}  // namespace

std::string Diagnostic::format() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) {
      out += ':' + std::to_string(line);
      if (column > 0) out += ':' + std::to_string(column);
    }
    out += ": ";
  }
  out += warning ? "warning: " : "error: ";
  if (!path.empty()) out += path + ": ";
  out += message;
  if (!excerpt.empty() && line > 0) {
    // Show at most kWidth characters of the line, around the column, with
    // control characters made visible, so garbage input prints sanely.
    constexpr int kWidth = 100;
    std::string text = excerpt;
    int caret = column;
    if (static_cast<int>(text.size()) > kWidth) {
      const int from =
          std::max(0, std::min(column - kWidth / 2, static_cast<int>(text.size()) - kWidth));
      text = (from > 0 ? "..." : "") + text.substr(static_cast<size_t>(from), kWidth) + "...";
      if (caret > 0) caret = caret - from + (from > 0 ? 3 : 0);
    }
    for (auto& c : text)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) c = '?';
    const std::string gutter = std::to_string(line);
    out += "\n " + gutter + " | " + text;
    if (caret > 0) {
      std::string pad;
      // Keep tabs so the caret lines up under the offending character.
      for (int i = 0; i < caret - 1 && i < static_cast<int>(text.size()); ++i)
        pad += text[static_cast<size_t>(i)] == '\t' ? '\t' : ' ';
      out += "\n " + std::string(gutter.size(), ' ') + " | " + pad + '^';
    }
  }
  if (!hint.empty()) out += "\n  hint: " + hint;
  return out;
}

InputError::InputError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_messages(diagnostics)), diagnostics_(std::move(diagnostics)) {}

InputError::InputError(const std::string& message)
    : std::runtime_error(message), diagnostics_{Diagnostic{.message = message}} {}

}  // namespace talentsim
