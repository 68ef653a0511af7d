#pragma once

namespace talentsim::cli {
// The whole command line; returns the process exit code.
int main(int argc, char** argv);
}  // namespace talentsim::cli
