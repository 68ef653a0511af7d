// Two kinds of failure, kept apart as in Arbor: a user's mistake (bad input,
// a refused destination) carries what is needed to fix it and exits 2; a
// failure while running (I/O, resources) exits 1; an InternalError is a bug.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace talentsim {

// One problem found in an input, located as precisely as the input allows.
struct Diagnostic {
  std::string file;      // scenario path, or "--set" for a command-line override
  int line = 0;          // 1-based; 0 when unknown
  int column = 0;        // 1-based; 0 when unknown
  std::string path;      // key path, e.g. "labs[2].comp.star"
  std::string message;   // what was expected and what was found
  std::string hint;      // how to fix it; may be empty
  std::string excerpt;   // the offending source line; may be empty
  bool warning = false;  // accepted and reported, not refused

  // "file:line:column: error: path: message" (or "warning:") plus excerpt,
  // caret and hint.
  std::string format() const;
};

// A user's input is wrong. Holds every problem found, not only the first.
class InputError : public std::runtime_error {
 public:
  explicit InputError(std::vector<Diagnostic> diagnostics);
  explicit InputError(const std::string& message);  // a single unlocated problem
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Something failed while running: a file could not be written, etc.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A broken invariant: a bug in talentsim, never the user's fault.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace talentsim
