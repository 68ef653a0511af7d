// Scenario validation: one test per class of error, asserting on the text a
// user sees, line and column included.
#include <gtest/gtest.h>

#include "talentsim/errors.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

// Loads `text` expecting failure; returns every formatted diagnostic.
std::vector<Diagnostic> problems(const std::string& text,
                                 const std::vector<Override>& overrides = {}) {
  try {
    load_scenario_text(text, "s.yaml", overrides);
  } catch (const InputError& e) {
    return e.diagnostics();
  }
  ADD_FAILURE() << "expected the scenario to be rejected:\n" << text;
  return {};
}

// The single diagnostic of a scenario with exactly one problem.
Diagnostic only_problem(const std::string& text, const std::vector<Override>& overrides = {}) {
  auto all = problems(text, overrides);
  EXPECT_EQ(all.size(), 1u) << [&] {
    std::string s;
    for (auto& d : all) s += d.format() + "\n";
    return s;
  }();
  return all.empty() ? Diagnostic{} : all.front();
}

// Line (1-based) of the first line of `text` containing `needle`.
int line_of(const std::string& text, const std::string& needle) {
  int line = 1;
  std::size_t pos = text.find(needle);
  EXPECT_NE(pos, std::string::npos) << needle;
  for (std::size_t i = 0; i < pos; ++i) line += text[i] == '\n';
  return line;
}

TEST(ScenarioErrors, ValidTinyScenarioLoadsWithDefaults) {
  const Scenario s = load_scenario_text(tiny_scenario(), "s.yaml");
  EXPECT_EQ(s.name, "tiny");
  EXPECT_EQ(s.step_days, 7);
  EXPECT_EQ(s.steps, 53);  // ceil(365 / 7)
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.replicates, 10);
  EXPECT_DOUBLE_EQ(s.labs[0].comp[0], 300e3);
  EXPECT_DOUBLE_EQ(s.labs[1].comp[1], 1.5e6);
  EXPECT_DOUBLE_EQ(s.labs[0].mission, 0.5);
  EXPECT_DOUBLE_EQ(s.labs[0].openness, 0.5);
  EXPECT_DOUBLE_EQ(s.labs[0].attrition, 1);
  EXPECT_DOUBLE_EQ(s.labs[0].cliff_factor, 1);
  EXPECT_TRUE(s.labs[0].open);
  EXPECT_FALSE(s.labs[0].capacity.has_value());
  EXPECT_DOUBLE_EQ(s.market.star_magnet_scale, 1);
  EXPECT_DOUBLE_EQ(s.tastes[kComp].sd, 0);
}

TEST(ScenarioErrors, EveryKeyExampleIsValid) {
  const Scenario s = load_scenario_file(data_path("every_key.yaml"));
  EXPECT_EQ(s.labs.size(), 4u);
  EXPECT_EQ(s.events.size(), 9u);
  EXPECT_EQ(s.questions.size(), 7u);
  EXPECT_DOUBLE_EQ(s.labs[1].cliff_factor, 0.5);  // market default
  EXPECT_DOUBLE_EQ(s.labs[0].cliff_factor, 1.0);  // lab's own
  EXPECT_EQ(s.researchers[2].lab, -1);            // starts nowhere
}

TEST(ScenarioErrors, MoneyAcceptsNumbersAndSuffixes) {
  EXPECT_DOUBLE_EQ(*parse_money("950B"), 950e9);
  EXPECT_DOUBLE_EQ(*parse_money("$1.5M"), 1.5e6);
  EXPECT_DOUBLE_EQ(*parse_money("400K"), 400e3);
  EXPECT_DOUBLE_EQ(*parse_money("2T"), 2e12);
  EXPECT_DOUBLE_EQ(*parse_money("123456"), 123456);
  EXPECT_FALSE(parse_money("ten million"));
  EXPECT_FALSE(parse_money("$"));
  EXPECT_FALSE(parse_money("1.5MM"));
  EXPECT_FALSE(parse_money("1,500"));
}

TEST(ScenarioErrors, YamlSyntaxErrorHasLineAndColumn) {
  const std::string text = tiny_scenario("events: [unclosed\n");
  const auto d = only_problem(text);
  EXPECT_EQ(d.file, "s.yaml");
  EXPECT_GT(d.line, 0);
  EXPECT_GT(d.column, 0);
  EXPECT_NE(d.message.find("not valid YAML"), std::string::npos) << d.format();
}

TEST(ScenarioErrors, UnknownKeySuggestsTheNearestOne) {
  std::string text = tiny_scenario("market:\n  star_magnit: 1.0\n");
  const auto d = only_problem(text);
  EXPECT_EQ(d.line, line_of(text, "star_magnit"));
  EXPECT_EQ(d.column, 3);
  EXPECT_EQ(d.path, "market.star_magnit");
  EXPECT_NE(d.message.find("unknown key \"star_magnit\""), std::string::npos);
  EXPECT_EQ(d.hint, "did you mean \"star_magnet\"?");
  const std::string formatted = d.format();
  EXPECT_NE(formatted.find("s.yaml:" + std::to_string(d.line) + ":3: error: market.star_magnit"),
            std::string::npos)
      << formatted;
  EXPECT_NE(formatted.find("^"), std::string::npos) << "a caret under the key";
}

TEST(ScenarioErrors, WrongTypeSaysWhatWasExpectedAndFound) {
  std::string text = tiny_scenario();
  text.replace(text.find("star: 2M}"), 9, "star: ten million}");
  const auto d = only_problem(text);
  EXPECT_EQ(d.path, "labs[0].comp.star");
  EXPECT_EQ(d.line, line_of(text, "ten million"));
  EXPECT_EQ(d.column,
            static_cast<int>(
                text.substr(text.rfind('\n', text.find("ten million")) + 1).find("ten million")) +
                1);
  EXPECT_NE(d.message.find("expected an amount of money"), std::string::npos);
  EXPECT_NE(d.message.find("found \"ten million\""), std::string::npos);
}

TEST(ScenarioErrors, OutOfRangeValues) {
  auto check = [](const std::string& extra, const std::string& path, const std::string& expect) {
    const auto d = only_problem(tiny_scenario(extra));
    EXPECT_EQ(d.path, path);
    EXPECT_NE(d.message.find(expect), std::string::npos) << d.format();
    EXPECT_GT(d.line, 0);
  };
  check("market: {follow_prob: 1.5}\n", "market.follow_prob", "expected a number in [0, 1]");
  check("market: {switching_cost: -1}\n", "market.switching_cost", "expected a number >= 0");
  check("market: {star_magnet_scale: 0}\n", "market.star_magnet_scale", "expected a number > 0");
  check("tastes: {comp: {mean: 1, sd: -0.1}}\n", "tastes.comp.sd", "expected a number >= 0");
  check("network: {degree: -2}\n", "network.degree", "expected a whole number from 0");
  check("network: {within_lab: 2}\n", "network.within_lab", "in [0, 1]");
  check("step_days: 0\n", "step_days", "from 1 to");
  check("network: {degree: 2.5}\n", "network.degree", "whole number");
}

TEST(ScenarioErrors, NanAndInfinityAreRejected) {
  const auto nan = only_problem(tiny_scenario("market: {star_magnet: .nan}\n"));
  EXPECT_EQ(nan.path, "market.star_magnet");
  EXPECT_NE(nan.message.find("not a finite number"), std::string::npos);
  const auto inf = only_problem(tiny_scenario("market: {peer_magnet: -.inf}\n"));
  EXPECT_NE(inf.message.find("not a finite number"), std::string::npos);
  const auto huge = only_problem(tiny_scenario("market: {peer_magnet: 1e999}\n"));
  EXPECT_NE(huge.message.find("too large"), std::string::npos) << huge.format();
}

TEST(ScenarioErrors, EventDateOutsideTheRun) {
  std::string text =
      tiny_scenario("events:\n  - {date: 2027-01-01, type: raise, lab: A, amount: 1B}\n");
  const auto d = only_problem(text);
  EXPECT_EQ(d.path, "events[0].date");
  EXPECT_NE(d.message.find("within the run [2026-01-01, 2027-01-01)"), std::string::npos);
  EXPECT_NE(d.message.find("found 2027-01-01"), std::string::npos);
  EXPECT_EQ(d.line, line_of(text, "2027-01-01, type"));
}

TEST(ScenarioErrors, MalformedDate) {
  const auto d =
      only_problem(tiny_scenario("events:\n  - {date: 2026-02-30, type: close, lab: A}\n"));
  EXPECT_EQ(d.path, "events[0].date");
  EXPECT_NE(d.message.find("expected a date YYYY-MM-DD, found \"2026-02-30\""), std::string::npos);
}

TEST(ScenarioErrors, UnknownReferences) {
  const auto lab = only_problem(
      tiny_scenario("events:\n  - {date: 2026-03-01, type: raise, lab: Anthropix, amount: 1B}\n"));
  EXPECT_EQ(lab.path, "events[0].lab");
  EXPECT_NE(lab.message.find("unknown lab \"Anthropix\""), std::string::npos);
  EXPECT_NE(lab.hint.find("labs in this scenario: A, B"), std::string::npos) << lab.hint;

  const auto tier = only_problem(tiny_scenario(
      "events:\n  - {date: 2026-03-01, type: comp, lab: A, factor: 1.1, tiers: [stars]}\n"));
  EXPECT_EQ(tier.path, "events[0].tiers[0]");
  EXPECT_EQ(tier.hint, "did you mean \"star\"?");

  const auto who = only_problem(
      tiny_scenario("researchers:\n  - {name: Ada, tier: star, lab: A}\n"
                    "events:\n  - {date: 2026-03-01, type: move, researcher: Bob, lab: B}\n"));
  EXPECT_EQ(who.path, "events[0].researcher");
  EXPECT_NE(who.message.find("unknown researcher \"Bob\""), std::string::npos);

  std::string text = tiny_scenario();
  text.replace(text.find("headcount: {junior: 20"), 22, "headcount: {juniors: 20");
  const auto head = only_problem(text);
  EXPECT_EQ(head.path, "labs[0].headcount.juniors");
  EXPECT_EQ(head.hint, "did you mean \"junior\"?");
}

TEST(ScenarioErrors, DuplicateNames) {
  std::string text = tiny_scenario();
  text.replace(text.find("name: B"), 7, "name: A");
  const auto d = only_problem(text);
  EXPECT_EQ(d.path, "labs[1].name");
  EXPECT_NE(d.message.find("duplicate lab name \"A\""), std::string::npos);
  EXPECT_EQ(d.line, line_of(text, "  - name: A\n    headcount: {junior: 10"));

  const auto key = only_problem(tiny_scenario("seed: 1\nseed: 2\n"));
  EXPECT_NE(key.message.find("duplicate key \"seed\""), std::string::npos);
}

TEST(ScenarioErrors, MissingRequiredKeys) {
  std::string text = tiny_scenario();
  text.erase(text.find("start: 2026-01-01\n"), 18);
  const auto d = only_problem(text);
  EXPECT_EQ(d.path, "start");
  EXPECT_NE(d.message.find("missing required key \"start\""), std::string::npos);

  std::string comp = tiny_scenario();
  comp.replace(comp.find("comp: {junior: 250K, star: 1.5M}"), 32, "comp: {junior: 250K}");
  const auto c = only_problem(comp);
  EXPECT_EQ(c.path, "labs[1].comp.star");
  EXPECT_NE(c.message.find("missing compensation for tier \"star\""), std::string::npos);
  EXPECT_EQ(c.line, line_of(comp, "comp: {junior: 250K}"));
}

TEST(ScenarioErrors, EventKeysMustFitTheType) {
  const auto d = only_problem(tiny_scenario(
      "events:\n  - {date: 2026-03-01, type: raise, lab: A, amount: 1B, factor: 2}\n"));
  EXPECT_EQ(d.path, "events[0].factor");
  EXPECT_NE(d.message.find("unknown key \"factor\""), std::string::npos);
  const auto t =
      only_problem(tiny_scenario("events:\n  - {date: 2026-03-01, type: rasie, lab: A}\n"));
  EXPECT_EQ(t.hint, "did you mean \"raise\"?");
  const auto f =
      only_problem(tiny_scenario("events:\n  - {date: 2026-03-01, type: found, lab: A}\n"));
  EXPECT_NE(f.message.find("open from the start"), std::string::npos);
  EXPECT_NE(f.hint.find("open: false"), std::string::npos);
}

TEST(ScenarioErrors, AllErrorsInAFileAreReported) {
  const auto all = problems(
      tiny_scenario("market: {follow_prob: 2, star_magnit: 1}\nnetwork: {degree: -1}\n"
                    "events:\n  - {date: 2030-01-01, type: raise, lab: Nope, amount: 1B}\n"));
  EXPECT_EQ(all.size(), 5u);
}

TEST(ScenarioErrors, EmptyFileAndNonMapping) {
  const auto empty = only_problem("");
  EXPECT_NE(empty.message.find("expected a mapping of scenario keys"), std::string::npos);
  EXPECT_NE(empty.hint.find("empty"), std::string::npos);
  const auto list = only_problem("- 1\n- 2\n");
  EXPECT_NE(list.message.find("found a list"), std::string::npos);
}

TEST(ScenarioErrors, EmptyListsSaySo) {
  std::string text = tiny_scenario();
  text.replace(text.find("labs:"), text.size(), "labs: []\n");
  const auto d = only_problem(text);
  EXPECT_EQ(d.path, "labs");
  EXPECT_NE(d.message.find("found an empty list"), std::string::npos) << d.format();
}

TEST(ScenarioErrors, LongOrBinaryLinesAreShownAroundTheColumn) {
  Diagnostic d{.file = "f.yaml", .line = 1, .column = 500, .message = "bad"};
  d.excerpt = std::string(499, 'a') + "X" + std::string(499, 'b') + '\x01';
  const std::string out = d.format();
  const auto excerpt_line =
      out.substr(out.find(" 1 | ") + 5, out.find('\n', out.find(" 1 | ")) - out.find(" 1 | ") - 5);
  EXPECT_LE(excerpt_line.size(), 110u);
  const auto caret_line = out.substr(out.rfind('\n') + 1);
  // The caret sits under the X.
  EXPECT_EQ(excerpt_line[caret_line.find('^') - 5], 'X') << out;
}

TEST(ScenarioErrors, QuotedNumbersAreNotNumbers) {
  const auto d = only_problem(tiny_scenario("market: {star_magnet: \"1.5\"}\n"));
  EXPECT_EQ(d.hint, "write the number without quotes");
}

TEST(ScenarioErrors, QuestionsAreValidated) {
  const auto d = only_problem(tiny_scenario(
      "questions:\n  - {id: q, metric: hire, lab: A, window: [2026-01-01, 2026-06-30], "
      "at_least: 1}\n"));
  EXPECT_EQ(d.path, "questions[0].metric");
  EXPECT_EQ(d.hint, "did you mean \"hires\"?");
  const auto w = only_problem(tiny_scenario(
      "questions:\n  - {id: q, metric: hires, lab: A, window: [2026-06-30, 2026-01-01], "
      "at_least: 1}\n"));
  EXPECT_EQ(w.path, "questions[0].window[1]");
}

// MODEL.md section 8 lets a question carry `tiers` (share "always covers
// every tier") and defines `from` for hires only: such keys are accepted,
// ignored and said, where they stand, rather than refusing the file.
TEST(ScenarioWarnings, KeysTheModelIgnoresAreAcceptedAndSaid) {
  const std::string questions =
      "researchers:\n  - {name: Ada, tier: star, lab: A}\n"
      "questions:\n"
      "  - {id: s, metric: share, lab: A, tiers: [star], window: [2026-01-01, 2026-06-30], "
      "at_least: 0}\n"
      "  - {id: n, metric: named_at, lab: B, researcher: Ada, tiers: [junior],\n"
      "     window: [2026-01-01, 2026-06-30], at_least: 0}\n"
      "  - {id: f, metric: net_flow, lab: A, from: [B], window: [2026-01-01, 2026-06-30], "
      "at_least: 0}\n"
      "  - {id: d, metric: departures, lab: B, from: [A], tiers: [star],\n"
      "     window: [2026-01-01, 2026-06-30], at_least: 0}\n"
      "  - {id: h, metric: hires, lab: A, from: [B], tiers: [star],\n"
      "     window: [2026-01-01, 2026-06-30], at_least: 0}\n";
  const std::string text = tiny_scenario(questions);
  std::vector<Diagnostic> warnings;
  const Scenario s = load_scenario_text(text, "s.yaml", {}, &warnings);

  // The same questions without the ignored keys: identical once loaded.
  const std::string plain =
      "researchers:\n  - {name: Ada, tier: star, lab: A}\n"
      "questions:\n"
      "  - {id: s, metric: share, lab: A, window: [2026-01-01, 2026-06-30], at_least: 0}\n"
      "  - {id: n, metric: named_at, lab: B, researcher: Ada, window: [2026-01-01, 2026-06-30], "
      "at_least: 0}\n"
      "  - {id: f, metric: net_flow, lab: A, window: [2026-01-01, 2026-06-30], at_least: 0}\n"
      "  - {id: d, metric: departures, lab: B, tiers: [star], window: [2026-01-01, 2026-06-30], "
      "at_least: 0}\n"
      "  - {id: h, metric: hires, lab: A, from: [B], tiers: [star],\n"
      "     window: [2026-01-01, 2026-06-30], at_least: 0}\n";
  const Scenario expected = load_scenario_text(tiny_scenario(plain), "s.yaml");
  ASSERT_EQ(s.questions.size(), 5u);
  for (std::size_t q = 0; q < s.questions.size(); ++q)
    EXPECT_EQ(s.questions[q], expected.questions[q]) << s.questions[q].id;
  EXPECT_EQ(s.questions[3].tiers, std::vector<int>{1});  // departures keep their tiers
  EXPECT_EQ(s.questions[4].from, std::vector<int>{1});   // hires keep their source labs

  ASSERT_EQ(warnings.size(), 4u);
  const struct {
    const char* path;
    const char* needle;  // where in the text the key stands
    const char* message;
  } want[] = {
      {"questions[0].tiers", "[star], window: [2026-01-01, 2026-06-30], at_least: 0}\n  - {id: n",
       "share always covers every tier (MODEL.md section 8): tiers is ignored"},
      {"questions[1].tiers", "[junior]",
       "named_at asks where one named researcher is: tiers is ignored"},
      {"questions[2].from", "[B], window",
       "from selects the source labs of hires (MODEL.md section 8); metric net_flow ignores it"},
      {"questions[3].from", "[A]",
       "from selects the source labs of hires (MODEL.md section 8); metric departures ignores "
       "it"},
  };
  for (std::size_t w = 0; w < warnings.size(); ++w) {
    const Diagnostic& d = warnings[w];
    EXPECT_TRUE(d.warning);
    EXPECT_EQ(d.path, want[w].path);
    EXPECT_EQ(d.message, want[w].message);
    EXPECT_FALSE(d.hint.empty());
    const std::size_t at = text.find(want[w].needle);
    ASSERT_NE(at, std::string::npos) << want[w].needle;
    const std::size_t line_start = text.rfind('\n', at) + 1;
    EXPECT_EQ(d.line, line_of(text, want[w].needle)) << d.format();
    EXPECT_EQ(d.column, static_cast<int>(at - line_start) + 1) << d.format();
    const std::string head = "s.yaml:" + std::to_string(d.line) + ":" + std::to_string(d.column) +
                             ": warning: " + d.path + ": " + d.message;
    EXPECT_EQ(d.format().rfind(head, 0), 0u) << d.format();
  }
  // Without somewhere to put them, they are dropped; the scenario is the same.
  EXPECT_EQ(load_scenario_text(text, "s.yaml"), s);
}

// A poacher listed in its own `from` adds no one: MODEL.md poaches "in
// other labs". Accepted with a warning that says what the run does.
TEST(ScenarioWarnings, APoacherInItsOwnFromAddsNoOne) {
  const auto with_from = [](const std::string& from) {
    return tiny_scenario(
        "  - name: C\n"
        "    headcount: {junior: 10, star: 1}\n"
        "    comp: {junior: 250K, star: 1.5M}\n"
        "events:\n  - {date: 2026-03-01, type: poach, lab: A, count: 3, "
        "offer_factor: 2" +
        from + "}\n");
  };
  const auto run = [&](const std::string& from, std::vector<Diagnostic>* warnings = nullptr) {
    return run_all(Model(load_scenario_text(with_from(from), "s.yaml", {}, warnings)), 4, 3);
  };
  const auto same = [](const std::vector<ReplicateResult>& a,
                       const std::vector<ReplicateResult>& b) {
    for (std::size_t r = 0; r < a.size(); ++r)
      if (a[r].hires != b[r].hires || a[r].departures != b[r].departures) return false;
    return true;
  };

  std::vector<Diagnostic> warnings;
  const auto mixed = run(", from: [B, A]", &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].path, "events[0].from");
  EXPECT_EQ(warnings[0].line, 19);
  EXPECT_EQ(warnings[0].column, 78);
  EXPECT_EQ(warnings[0].message,
            "\"A\" in from adds no one: a lab's own researchers are never its poaching targets "
            "(MODEL.md section 5: researchers in other labs)");
  EXPECT_TRUE(same(mixed, run(", from: [B]")));
  EXPECT_FALSE(same(mixed, run("")));  // so the comparison can tell a wrong reading

  warnings.clear();
  const auto alone = run(", from: [A]", &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].message,
            "from lists only \"A\", the poaching lab, whose own researchers are never its "
            "targets (MODEL.md section 5: researchers in other labs): this poach selects no one");
  EXPECT_EQ(warnings[0].hint,
            "list the labs to poach from, or remove from to poach from every other lab");
  const auto none = run_all(
      Model(load_scenario_text(tiny_scenario("  - name: C\n    headcount: {junior: 10, star: 1}\n"
                                             "    comp: {junior: 250K, star: 1.5M}\n"),
                               "s.yaml")),
      4, 3);
  EXPECT_TRUE(same(alone, none));
}

// Hires from a lab into itself never happen; flow_ratio needs a lab in
// `from`; a warning is not lost when the file also has errors.
TEST(ScenarioWarnings, OwnLabInAQuestionsFromAndWarningsBesideErrors) {
  std::vector<Diagnostic> warnings;
  const Scenario s = load_scenario_text(
      tiny_scenario("questions:\n"
                    "  - {id: h, metric: hires, lab: A, from: [A], window: [2026-01-01, "
                    "2026-06-30], at_least: 1}\n"),
      "s.yaml", {}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].message,
            "\"A\" in from adds nothing: moving to one's own lab is not a move, so this "
            "question counts no one");
  EXPECT_EQ(s.questions[0].from, std::vector<int>{0});

  const auto empty = only_problem(tiny_scenario(
      "questions:\n  - {id: f, metric: flow_ratio, lab: A, from: [], window: [2026-01-01, "
      "2026-06-30], at_least: 1}\n"));
  EXPECT_EQ(empty.path, "questions[0].from");
  EXPECT_EQ(empty.message.rfind("expected at least one lab", 0), 0u) << empty.message;

  const auto both = problems(tiny_scenario(
      "questions:\n"
      "  - {id: s, metric: share, lab: A, tiers: [star], window: [2026-01-01, 2026-06-30], "
      "at_least: 0}\n"
      "  - {id: t, metric: share, lab: Nowhere, window: [2026-01-01, 2026-06-30], "
      "at_least: 0}\n"));
  ASSERT_EQ(both.size(), 2u);
  EXPECT_FALSE(both[0].warning);
  EXPECT_EQ(both[0].path, "questions[1].lab");
  EXPECT_TRUE(both[1].warning);
  EXPECT_EQ(both[1].path, "questions[0].tiers");
}

// MODEL.md section 5: raise is F_l += amount, so a cut is a negative raise;
// pay scales with funding / starting funding, which must stay above 0.
TEST(ScenarioErrors, ARaiseMayCutFundingButNotToNothing) {
  const auto with_raises = [](const std::string& raises) {
    std::string text = tiny_scenario("events:\n" + raises);
    text.replace(text.find("    comp: {junior: 300K"), 0, "    funding: 1B\n");
    return text;
  };
  const Scenario s = load_scenario_text(
      with_raises("  - {date: 2026-02-01, type: raise, lab: A, amount: -$400M}\n"
                  "  - {date: 2026-03-01, type: raise, lab: A, amount: \"-500M\"}\n"),
      "s.yaml");
  EXPECT_DOUBLE_EQ(s.events[0].amount, -400e6);
  EXPECT_DOUBLE_EQ(s.events[1].amount, -500e6);
  // Applied in date order: the earlier-dated cut written second is first.
  const std::string text = with_raises(
      "  - {date: 2026-03-01, type: raise, lab: A, amount: -600M}\n"
      "  - {date: 2026-02-01, type: raise, lab: A, amount: -400M}\n");
  const auto d = only_problem(text);
  EXPECT_EQ(d.path, "events[0].amount");
  EXPECT_EQ(d.line, line_of(text, "-600M"));
  EXPECT_EQ(d.message, "this raise takes A's funding from 6e+08 to 0, expected funding above 0");
  // Without starting funding, pay ignores it; it still cannot go negative.
  const auto none = only_problem(
      tiny_scenario("events:\n  - {date: 2026-02-01, type: raise, lab: B, amount: -1}\n"));
  EXPECT_EQ(none.message,
            "this raise takes B's funding from 0 to -1, expected funding of at "
            "least 0");
  EXPECT_FALSE(parse_money("-$-1B").has_value());
  EXPECT_EQ(parse_money("-$1.5K"), -1500.0);
}

// --set overrides ---------------------------------------------------------

TEST(ScenarioOverrides, SetChangesScalarsByPath) {
  const Scenario s = load_scenario_text(
      tiny_scenario("events:\n  - {date: 2026-03-01, type: raise, lab: A, amount: 1B}\n"), "s.yaml",
      {{"market.star_magnet", "1.5"},
       {"labs.B.funding", "950B"},
       {"labs[0].comp.star", "$3M"},
       {"events[0].amount", "65B"},
       {"replicates", "7"}});
  EXPECT_DOUBLE_EQ(s.market.star_magnet, 1.5);
  EXPECT_DOUBLE_EQ(s.labs[1].funding, 950e9);
  EXPECT_DOUBLE_EQ(s.labs[0].comp[1], 3e6);
  EXPECT_DOUBLE_EQ(s.events[0].amount, 65e9);
  EXPECT_EQ(s.replicates, 7);
  EXPECT_NE(s.source_text.find("--set market.star_magnet=1.5"), std::string::npos);
  // The text as run parses back to the same scenario.
  const Scenario again = load_scenario_text(s.source_text, "again.yaml");
  EXPECT_DOUBLE_EQ(again.labs[1].funding, 950e9);
  EXPECT_DOUBLE_EQ(again.events[0].amount, 65e9);
}

TEST(ScenarioOverrides, BadValueIsReportedAgainstTheSet) {
  const auto d = only_problem(tiny_scenario(), {{"market.follow_prob", "1.5"}});
  EXPECT_EQ(d.file, "--set market.follow_prob=1.5");
  EXPECT_EQ(d.path, "market.follow_prob");
  EXPECT_NE(d.message.find("expected a number in [0, 1], found 1.5"), std::string::npos);
}

TEST(ScenarioOverrides, UnknownPathsAreReported) {
  const auto key = only_problem(tiny_scenario(), {{"market.star_magnit", "1"}});
  EXPECT_EQ(key.file, "--set market.star_magnit=1");
  EXPECT_EQ(key.hint, "did you mean \"star_magnet\"?");
  const auto lab = only_problem(tiny_scenario(), {{"labs.Anthropix.funding", "1B"}});
  EXPECT_NE(lab.message.find("no entry named \"Anthropix\""), std::string::npos);
  const auto idx = only_problem(tiny_scenario(), {{"labs[5].funding", "1B"}});
  EXPECT_NE(idx.message.find("out of range"), std::string::npos);
  EXPECT_THROW(parse_override("no-equals-sign"), InputError);
}

}  // namespace
}  // namespace talentsim::test

namespace talentsim::test {
namespace {

// Found by the fuzzer (tests/fuzz): 13 KB of aliases to a mapping with a
// thousand bad entries made 1.5 million diagnostics (14 GB, two minutes).
TEST(ScenarioErrors, AliasesCannotMultiplyProblemsWithoutBound) {
  const std::string path =
      std::string(TALENTSIM_TESTS_DIR) + "/fuzz/corpus/scenario/crash_alias_bomb_diagnostics.yaml";
  try {
    load_scenario_file(path);
    FAIL() << "the file is invalid";
  } catch (const InputError& e) {
    ASSERT_EQ(e.diagnostics().size(), 101u);
    EXPECT_NE(e.diagnostics().back().message.find("expected at most 100 problems, found more"),
              std::string::npos);
    EXPECT_NE(e.diagnostics().back().hint.find("alias"), std::string::npos);
  }
}

// Also the fuzzer's: invalid UTF-8 would come back changed (U+FFFD) in the
// scenario text kept in the results file, so it is refused where it is.
TEST(ScenarioErrors, InvalidUtf8IsRefusedWithItsPlace) {
  try {
    load_scenario_text(tiny_scenario() + "description: \"caf\xe9\"\n", "u.yaml");
    FAIL() << "the text is invalid";
  } catch (const InputError& e) {
    const std::string text = e.diagnostics().front().format();
    EXPECT_NE(text.find("u.yaml:15:18: error:"), std::string::npos) << text;
    EXPECT_NE(text.find("expected UTF-8 text, found the byte 0xE9"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace talentsim::test
