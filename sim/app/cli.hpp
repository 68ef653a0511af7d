#pragma once

#include <string>

namespace talentsim::cli {
// `s` as one word for a POSIX shell: as it is when that is safe, else in
// single quotes. Used to print the command lines that were run.
std::string shell_quote(const std::string& s);

// A file name from a scenario or sweep name: letters, digits, '-', '_' and
// '.', anything else as '_'.
std::string file_stem(const std::string& name);

// The whole command line; returns the process exit code.
int main(int argc, char** argv);
}  // namespace talentsim::cli
