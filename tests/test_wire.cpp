// Scenarios and results as bytes (wire.hpp), what MPI ranks send each other:
// every member survives the trip, a model built from the decoded scenario
// computes the same bits, and damaged bytes are refused, not misread.
#include <gtest/gtest.h>

#include "talentsim/errors.hpp"
#include "talentsim/wire.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

std::vector<std::filesystem::path> scenario_files() {
  std::vector<std::filesystem::path> files{data_path("every_key.yaml")};
  const std::filesystem::path root(TALENTSIM_SCENARIOS);
  for (const char* dir : {"", "whatif", "bench"})
    for (const auto& e : std::filesystem::directory_iterator(root / dir))
      if (e.path().extension() == ".yaml") files.push_back(e.path());
  return files;
}

TEST(Wire, EveryShippedScenarioSurvivesTheTrip) {
  const auto files = scenario_files();
  ASSERT_GE(files.size(), 9u);
  for (const auto& file : files) {
    const Scenario s = load_scenario_file(file);
    const Scenario back = decode_scenario(encode_scenario(s));
    EXPECT_TRUE(back == s) << file;
    EXPECT_EQ(encode_scenario(back), encode_scenario(s)) << file;
  }
}

// operator== compares every member, so a member left out of the layout
// shows up as a difference once it differs from its default. every_key.yaml
// sets every key; here the members no scenario file sets (optional values
// present and absent, a closed lab) are set by hand.
TEST(Wire, OptionalAndDerivedMembersSurvive) {
  Scenario s = load_scenario_file(data_path("every_key.yaml"));
  ASSERT_FALSE(s.labs.empty());
  ASSERT_FALSE(s.events.empty());
  ASSERT_FALSE(s.questions.empty());
  s.labs[0].open = !s.labs[0].open;
  s.labs[0].capacity = s.labs[0].capacity ? std::optional<std::int64_t>{} : 12345;
  s.events[0].cliff_factor = 0.25;
  s.events[0].mission.reset();
  s.questions[0].at_most = 7;
  s.questions[0].at_least.reset();
  s.questions[0].after_steps = 99;
  s.source_text = std::string("with\0nul", 8);
  const Scenario back = decode_scenario(encode_scenario(s));
  EXPECT_TRUE(back == s);
  EXPECT_EQ(back.source_text.size(), 8u);
}

TEST(Wire, AModelFromTheDecodedScenarioComputesTheSameBits) {
  const Scenario s = load_scenario_file(data_path("every_key.yaml"));
  const Model here(s), there(decode_scenario(encode_scenario(s)));
  const auto a = run_all(here, 6, 11, 2), b = run_all(there, 6, 11, 2);
  for (std::size_t r = 0; r < a.size(); ++r) expect_identical(a[r], b[r]);
}

TEST(Wire, ResultsSurviveTheTripBitForBit) {
  const Model model(load_scenario_file(data_path("every_key.yaml")));
  for (const ReplicateResult& r : run_all(model, 3, 5, 1)) {
    const std::string bytes = encode_result(r);
    const ReplicateResult back = decode_result(bytes);
    expect_identical(r, back);
    EXPECT_EQ(back.market_decisions, r.market_decisions);
    for (const auto member :
         {&ReplicateResult::question_value, &ReplicateResult::question_numerator,
          &ReplicateResult::question_denominator}) {
      ASSERT_EQ((back.*member).size(), (r.*member).size());
      EXPECT_EQ(0, std::memcmp((back.*member).data(), (r.*member).data(),
                               (r.*member).size() * sizeof(double)));  // NaN too
    }
    std::string appended = "xy";
    append_result(r, appended);
    EXPECT_EQ(appended.substr(2), bytes);
  }
}

TEST(Wire, CutShortOrTrailingBytesAreRefused) {
  const Scenario s = load_scenario_file(data_path("every_key.yaml"));
  const std::string bytes = encode_scenario(s);
  for (std::size_t n = 0; n < bytes.size(); n += 1 + n / 8)
    EXPECT_THROW(decode_scenario(std::string_view(bytes).substr(0, n)), InternalError) << n;
  EXPECT_THROW(decode_scenario(bytes + "x"), InternalError);
  const Model model(s);
  const std::string result = encode_result(run_all(model, 1, 5, 1)[0]);
  for (std::size_t n = 0; n < result.size(); n += 1 + n / 8)
    EXPECT_THROW(decode_result(std::string_view(result).substr(0, n)), InternalError) << n;
  // A bool that is neither 0 nor 1: the byte where two scenarios that
  // differ only in one lab's `open` differ.
  Scenario closed = s;
  closed.labs[0].open = !closed.labs[0].open;
  std::string flipped = encode_scenario(closed);
  ASSERT_EQ(flipped.size(), bytes.size());
  std::size_t differ = 0, at = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i)
    if (bytes[i] != flipped[i]) ++differ, at = i;
  ASSERT_EQ(differ, 1u);
  flipped[at] = 2;
  EXPECT_THROW(decode_scenario(flipped), InternalError);
  // Result arrays that do not fit the result's shape.
  ReplicateResult wrong = run_all(model, 1, 5, 1)[0];
  wrong.flows.pop_back();
  EXPECT_THROW(decode_result(encode_result(wrong)), InternalError);
  // A length field claiming more than the message holds.
  std::string huge = bytes;
  const std::uint64_t big = ~std::uint64_t{0};
  std::memcpy(huge.data(), &big, sizeof big);  // the name's length
  EXPECT_THROW(decode_scenario(huge), InternalError);
}

}  // namespace
}  // namespace talentsim::test
