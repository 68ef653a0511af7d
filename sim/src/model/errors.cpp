#include "talentsim/errors.hpp"

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
  out += "error: ";
  if (!path.empty()) out += path + ": ";
  out += message;
  if (!excerpt.empty() && line > 0) {
    const std::string gutter = std::to_string(line);
    out += "\n " + gutter + " | " + excerpt;
    if (column > 0) {
      std::string pad;
      // Keep tabs so the caret lines up under the offending character.
      for (int i = 0; i < column - 1 && i < static_cast<int>(excerpt.size()); ++i)
        pad += excerpt[static_cast<size_t>(i)] == '\t' ? '\t' : ' ';
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
