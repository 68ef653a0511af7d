#include "cli.hpp"

int main(int argc, char** argv) { return talentsim::cli::main(argc, argv); }
