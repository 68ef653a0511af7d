// The bad-input corpus (tests/bad_inputs/cases.yaml): each case runs the
// talentsim binary on an invalid scenario, sweep file or --set in a fresh
// copy of tests/bad_inputs/ and checks that it fails as a user needs it to:
// the expected exit code, every message fragment (file:line:column, key
// path, what was expected, hint), no crash, no internal error, no sanitizer
// report, nothing on stdout and no file left behind.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace talentsim::test {
namespace {

namespace fs = std::filesystem;

fs::path corpus_dir() { return fs::path(TALENTSIM_TESTS_DIR) / "bad_inputs"; }

struct BadInput {
  std::string name;      // the test's name
  std::string file;      // relative to bad_inputs/; may be empty
  std::string generate;  // contents to write to `file` first, if any
  std::vector<std::string> args;
  int exit_code = 2;
  std::vector<std::string> fragments;
  std::string problem;  // the manifest itself is broken: fail with this
};

// Test names in ctest show the case's name, not its bytes.
void PrintTo(const BadInput& b, std::ostream* os) { *os << b.name; }

// A test name: letters, digits and '_'.
std::string test_name(std::string n) {
  for (auto& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

// Every case of the manifest; a single failing case if it cannot be read.
std::vector<BadInput> load_cases() {
  const fs::path manifest = corpus_dir() / "cases.yaml";
  std::vector<BadInput> out;
  std::set<std::string> names;
  try {
    const YAML::Node root = YAML::LoadFile(manifest.string());
    for (const YAML::Node& c : root["cases"]) {
      BadInput b;
      if (c["file"]) b.file = c["file"].as<std::string>();
      // "scenario/dup_lab_name.yaml" -> "scenario_dup_lab_name".
      b.name = test_name(c["name"] ? c["name"].as<std::string>()
                                   : fs::path(b.file).replace_extension().string());
      if (const YAML::Node g = c["generate"])
        for (const YAML::Node& part : g) {
          const std::string text = part["text"].as<std::string>();
          const int times = part["times"] ? part["times"].as<int>() : 1;
          for (int i = 0; i < times; ++i) b.generate += text;
        }
      for (const YAML::Node& a : c["args"]) {
        std::string arg = a.as<std::string>();
        for (std::size_t at; (at = arg.find("{file}")) != std::string::npos;)
          arg.replace(at, 6, b.file);
        b.args.push_back(arg);
      }
      b.exit_code = c["exit"].as<int>();
      for (const YAML::Node& f : c["stderr"]) b.fragments.push_back(f.as<std::string>());
      if (b.name.empty() || b.args.empty() || b.fragments.empty()) {
        b.problem = "a case needs a name or file, args and stderr fragments";
        if (b.name.empty()) b.name = "unnamed_" + std::to_string(out.size());
      }
      if (!names.insert(b.name).second) {
        b.problem = "two cases are named " + b.name;
        b.name += "_again_" + std::to_string(out.size());  // gtest refuses equal names
      }
      out.push_back(std::move(b));
    }
  } catch (const YAML::Exception& e) {
    out.clear();
    out.push_back(BadInput{.name = "manifest", .problem = manifest.string() + ": " + e.what()});
  }
  if (out.empty())
    out.push_back(BadInput{.name = "manifest", .problem = manifest.string() + " has no cases"});
  return out;
}

// Every file and folder under `dir`, relative to it.
std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.insert(fs::relative(e.path(), dir).string());
  return out;
}

class BadInputs : public ::testing::TestWithParam<BadInput> {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("talentsim-bad-inputs");
    fs::copy(corpus_dir(), dir_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_P(BadInputs, FailCleanlyWithALocatedHint) {
  const BadInput& b = GetParam();
  ASSERT_TRUE(b.problem.empty()) << b.problem;
  if (!b.generate.empty()) {
    ASSERT_FALSE(fs::exists(dir_ / b.file)) << b.file << " is generated; do not store it";
    std::ofstream(dir_ / b.file, std::ios::binary) << b.generate;
  } else if (!b.file.empty()) {
    ASSERT_TRUE(fs::exists(dir_ / b.file)) << "missing case file " << b.file;
  }
  std::string args;
  for (const auto& a : b.args) args += shell_quote(a) + " ";
  const auto before = listing(dir_);
  const Outcome o = talentsim(args, dir_);
  const std::string context = "talentsim " + args + "\nstderr:\n" + o.err;

  // A signal (a crash) shows as -1 or as the shell's 128 + signal.
  ASSERT_TRUE(o.exit_code >= 0 && o.exit_code < 128) << "killed by a signal? " << context;
  EXPECT_EQ(o.exit_code, b.exit_code) << context;
  for (const auto& f : b.fragments)
    EXPECT_NE(o.err.find(f), std::string::npos) << "missing fragment: " << f << "\n" << context;
  EXPECT_EQ(o.err.find("internal error"), std::string::npos) << context;
  for (const char* sanitizer : {"Sanitizer", "runtime error:", "Segmentation fault", "Aborted"})
    EXPECT_EQ(o.err.find(sanitizer), std::string::npos) << context;
  EXPECT_EQ(o.out, "") << "nothing may be run or printed for bad input\n" << context;

  // Nothing written: no results file, no .partial journal, no temporary.
  std::vector<std::string> created;
  for (const auto& p : listing(dir_))
    if (!before.count(p)) created.push_back(p);
  EXPECT_TRUE(created.empty()) << "left behind: " << created.front() << "\n" << context;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadInputs, ::testing::ValuesIn(load_cases()),
                         [](const auto& info) { return info.param.name; });

// The corpus is what the manifest says: every stored case file is run, and
// the base the --set and sweep cases start from is itself valid.
TEST(BadInputsManifest, EveryStoredCaseIsListedAndTheBaseIsValid) {
  std::set<std::string> listed;
  for (const auto& b : load_cases()) listed.insert(b.file);
  for (const char* folder : {"scenario", "sweep"})
    for (const auto& e : fs::directory_iterator(corpus_dir() / folder))
      if (e.is_regular_file()) {
        const std::string file = std::string(folder) + "/" + e.path().filename().string();
        EXPECT_TRUE(listed.count(file)) << file << " is not in cases.yaml";
      }
  const fs::path dir = fresh_test_dir("talentsim-bad-inputs");
  const Outcome valid =
      talentsim("validate " + shell_quote((corpus_dir() / "valid" / "base.yaml").string()), dir);
  EXPECT_EQ(valid.exit_code, 0) << valid.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace talentsim::test
