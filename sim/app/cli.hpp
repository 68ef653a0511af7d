#pragma once

#include <string>

namespace talentsim::cli {
// `s` as one word for a POSIX shell: as it is when that is safe, else in
// single quotes. Used to print the command lines that were run.
std::string shell_quote(const std::string& s);

// The whole command line; returns the process exit code.
int main(int argc, char** argv);
}  // namespace talentsim::cli
