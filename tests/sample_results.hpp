// A small synthetic run and a JSON description of what its results file
// must contain, for tests/python/check_results_xarray.py to compare against
// what xarray reads. Dates in the JSON are computed here with std::chrono,
// independently of how the file encodes time.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "talentsim/result.hpp"
#include "talentsim/results_file.hpp"
#include "talentsim/version.hpp"

namespace talentsim::test {

struct SampleRun {
  RunMetadata meta;
  ResultShape shape;
  std::vector<ReplicateResult> replicates;  // index = replicate
};

inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;  // UTF-8 passes through: JSON text is UTF-8
        }
    }
  }
  return out + "\"";
}

template <typename T>
std::string json_list(const std::vector<T>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    if constexpr (std::is_same_v<T, std::string>) {
      out += json_string(values[i]);
    } else if constexpr (std::is_floating_point_v<T>) {
      // JSON has no NaN: null stands for it. Shortest text that reads back exactly.
      out += std::isnan(values[i]) ? std::string("null") : fmt::format("{}", values[i]);
    } else {
      out += fmt::format("{}", values[i]);
    }
  }
  return out + "]";
}

// Dates of the time axis, start + t * step_days, as YYYY-MM-DD.
inline std::vector<std::string> sample_dates(const std::string& start, int step_days, int steps) {
  using namespace std::chrono;
  const year_month_day first{year{std::stoi(start.substr(0, 4))},
                             month{unsigned(std::stoi(start.substr(5, 2)))},
                             day{unsigned(std::stoi(start.substr(8, 2)))}};
  std::vector<std::string> out;
  for (int t = 0; t < steps; ++t) {
    const year_month_day d{sys_days{first} + days{t * step_days}};
    out.push_back(
        fmt::format("{:04}-{:02}-{:02}", int(d.year()), unsigned(d.month()), unsigned(d.day())));
  }
  return out;
}

// Forecast questions for a sample run: bounds of each kind, NaN (no bound)
// included.
inline std::vector<QuestionInfo> sample_questions(int count, const std::vector<std::string>& labs) {
  const double none = std::numeric_limits<double>::quiet_NaN();
  const std::vector<QuestionInfo> all = {
      {"hires_gamma", "Will Γ Research hire at least 3 people?", "hires", labs.back(), 3, none},
      {"share_alpha", "Alpha's share of star power between 0.2 and 0.5 — \"really\"?", "share",
       labs.front(), 0.2, 0.5},
      {"net_beta", "Net flow of Beta at most -1", "net_flow", labs[1 % labs.size()], none, -1},
  };
  std::vector<QuestionInfo> out;
  for (int q = 0; q < count; ++q) out.push_back(all[size_t(q) % all.size()]);
  return out;
}

// R = 3, T = `steps`, L = `labs` (3 or more), K = 2, `named` named
// researchers and `questions` forecast questions. With no named researcher,
// the command line is empty too, to check an empty text attribute.
inline SampleRun make_sample_run(int named, int questions = 0, int labs = 3, int steps = 5) {
  SampleRun run;
  run.shape =
      ResultShape{.steps = steps, .labs = labs, .tiers = 2, .named = named, .questions = questions};
  const ResultShape& s = run.shape;
  RunMetadata& meta = run.meta;
  meta.scenario_name = "sample ✓";
  meta.start_date = "2024-12-30";  // the axis crosses a year end
  meta.step_days = 7;
  meta.lab_names = {"Alpha Labs", "Beta Institut für KI", "Γ Research"};
  for (int l = 3; l < labs; ++l) meta.lab_names.push_back(fmt::format("Δ Lab {}", l));
  meta.tier_names = {"junior", "senior"};
  const std::vector<std::string> people = {"Ada Lovelace", "Émile Borel", "Grace Hopper"};
  for (int n = 0; n < named; ++n) meta.named_names.push_back(people[size_t(n) % people.size()]);
  meta.questions = sample_questions(questions, meta.lab_names);
  meta.replicates = 3;
  meta.seed = 9223372036854775808ULL + 12345;  // above INT64_MAX
  meta.scenario_text =
      "# sample scenario\nname: \"sample ✓\"\nlabs:\n  - name: Γ Research\n"
      "    note: 'tab\there, backslash \\ done'\n";
  meta.command_line = named == 0 ? "" : "talentsim run sample.yaml --set seed=1 -o 'out file.h5'";

  for (std::int64_t r = 0; r < meta.replicates; ++r) {
    ReplicateResult out(s);
    out.replicate = r;
    for (int t = 0; t < s.steps; ++t) {
      for (int l = 0; l < s.labs; ++l) {
        for (int k = 0; k < s.tiers; ++k) {
          out.headcount[out.tlk(t, l, k)] = std::int32_t(1000 * r + 100 * t + 10 * l + k);
          out.hires[out.tlk(t, l, k)] = std::int32_t((r + t + l + k) % 4);
          out.departures[out.tlk(t, l, k)] = std::int32_t((r * 3 + t + 2 * l + k) % 5);
        }
        // Values with no short decimal form, to check they arrive bit for bit.
        out.star_power[out.tl(t, l)] = (double(r) + 1.0) / 3.0 + t * 0.1 - l / 7.0;
      }
      for (int n = 0; n < s.named; ++n) {
        out.named_lab[out.tn(t, n)] = (t + n + int(r)) % (s.labs + 1) - 1;  // -1: at no lab
      }
    }
    for (int f = 0; f < s.labs; ++f) {
      for (int to = 0; to < s.labs; ++to) {
        for (int k = 0; k < s.tiers; ++k) {
          out.flows[out.flk(f, to, k)] = f == to ? 0 : std::int32_t(r + 7 * f + 3 * to + k);
        }
      }
    }
    for (int q = 0; q < s.questions; ++q) {
      // value = numerator / denominator, as the model makes them.
      out.question_numerator[size_t(q)] = (r + 1) * 3.0 + q;
      out.question_denominator[size_t(q)] = q % 2 == 0 ? 2.0 : 1.0;
      out.question_value[size_t(q)] =
          out.question_numerator[size_t(q)] / out.question_denominator[size_t(q)];
    }
    run.replicates.push_back(std::move(out));
  }
  return run;
}

// All replicates of one variable, flattened in (replicate, ...) order.
template <typename T>
std::vector<T> gather(const SampleRun& run, std::vector<T> ReplicateResult::*member) {
  std::vector<T> out;
  for (const auto& r : run.replicates)
    out.insert(out.end(), (r.*member).begin(), (r.*member).end());
  return out;
}

// The questions' auxiliary coordinates, as check_results_xarray.py expects them.
inline std::string question_json(const RunMetadata& meta) {
  std::vector<std::string> text, metric, lab;
  std::vector<double> at_least, at_most;
  for (const QuestionInfo& q : meta.questions) {
    text.push_back(q.text);
    metric.push_back(q.metric);
    lab.push_back(q.lab);
    at_least.push_back(q.at_least);
    at_most.push_back(q.at_most);
  }
  return fmt::format(R"({{"question_text": {}, "question_metric": {}, "question_lab": {}, )"
                     R"("question_at_least": {}, "question_at_most": {}}})",
                     json_list(text), json_list(metric), json_list(lab), json_list(at_least),
                     json_list(at_most));
}

// What check_results_xarray.py expects to find in a run written from `run`,
// at the root of a run file or in a group of a comparison file. The
// summaries are described, not given: the script computes them with numpy
// from the data variables it has checked.
inline std::string run_json(const SampleRun& run, const std::string& indent = "") {
  const RunMetadata& meta = run.meta;
  const ResultShape& s = run.shape;
  std::vector<std::int64_t> replicate_ids;
  for (std::int64_t r = 0; r < meta.replicates; ++r) replicate_ids.push_back(r);
  std::vector<std::string> question_ids;
  for (const QuestionInfo& q : meta.questions) question_ids.push_back(q.id);
  const std::vector<double> quantiles(std::begin(kSummaryQuantiles), std::end(kSummaryQuantiles));
  const std::string tlk = R"(["replicate", "time", "lab", "tier"])";
  auto variable = [](const std::string& dims, const char* dtype, const std::string& values,
                     const char* units = nullptr) {
    return fmt::format(R"({{"dims": {}, "dtype": "{}", {}"values": {}}})", dims, dtype,
                       units ? fmt::format(R"("units": "{}", )", units) : "", values);
  };
  const std::string& i = indent;

  std::string j = "{\n";
  j += fmt::format(
      R"({}  "dims": {{"replicate": {}, "time": {}, "lab": {}, "tier": {}, "named": {}, )"
      R"("from_lab": {}, "to_lab": {}, "question": {}, "quantile": {}}},)"
      "\n",
      i, meta.replicates, s.steps, s.labs, s.tiers, s.named, s.labs, s.labs, s.questions,
      kSummaryQuantileCount);
  j += i + "  \"coords\": {\n";
  j += fmt::format("{}    \"replicate\": {},\n", i, json_list(replicate_ids));
  j += fmt::format("{}    \"time\": {},\n", i,
                   json_list(sample_dates(meta.start_date, meta.step_days, s.steps)));
  j += fmt::format("{}    \"lab\": {},\n", i, json_list(meta.lab_names));
  j += fmt::format("{}    \"from_lab\": {},\n", i, json_list(meta.lab_names));
  j += fmt::format("{}    \"to_lab\": {},\n", i, json_list(meta.lab_names));
  j += fmt::format("{}    \"tier\": {},\n", i, json_list(meta.tier_names));
  j += fmt::format("{}    \"named\": {},\n", i, json_list(meta.named_names));
  j += fmt::format("{}    \"question\": {},\n", i, json_list(question_ids));
  j += fmt::format("{}    \"quantile\": {}\n{}  }},\n", i, json_list(quantiles), i);
  j += fmt::format("{}  \"question_coords\": {},\n", i, question_json(meta));
  j += i + "  \"variables\": {\n";
  j += fmt::format(
      "{}    \"headcount\": {},\n", i,
      variable(tlk, "int32", json_list(gather(run, &ReplicateResult::headcount)), "researchers"));
  j += fmt::format(
      "{}    \"hires\": {},\n", i,
      variable(tlk, "int32", json_list(gather(run, &ReplicateResult::hires)), "researchers"));
  j += fmt::format(
      "{}    \"departures\": {},\n", i,
      variable(tlk, "int32", json_list(gather(run, &ReplicateResult::departures)), "researchers"));
  j += fmt::format("{}    \"star_power\": {},\n", i,
                   variable(R"(["replicate", "time", "lab"])", "float64",
                            json_list(gather(run, &ReplicateResult::star_power)), "reputation"));
  j += fmt::format("{}    \"named_lab\": {},\n", i,
                   variable(R"(["replicate", "time", "named"])", "int32",
                            json_list(gather(run, &ReplicateResult::named_lab))));
  j += fmt::format("{}    \"flows\": {},\n", i,
                   variable(R"(["replicate", "from_lab", "to_lab", "tier"])", "int32",
                            json_list(gather(run, &ReplicateResult::flows)), "researchers"));
  j += fmt::format("{}    \"question_value\": {},\n", i,
                   variable(R"(["replicate", "question"])", "float64",
                            json_list(gather(run, &ReplicateResult::question_value))));
  j += fmt::format("{}    \"question_numerator\": {},\n", i,
                   variable(R"(["replicate", "question"])", "float64",
                            json_list(gather(run, &ReplicateResult::question_numerator))));
  j += fmt::format("{}    \"question_denominator\": {}\n{}  }},\n", i,
                   variable(R"(["replicate", "question"])", "float64",
                            json_list(gather(run, &ReplicateResult::question_denominator))),
                   i);
  j += i + "  \"summaries\": {\n";
  j += i + R"(    "headcount_quantiles": {"dims": ["quantile", "time", "lab", "tier"], )"
           R"("of": "headcount", "units": "researchers"},)"
           "\n";
  j += i + R"(    "total_headcount_quantiles": {"dims": ["quantile", "time", "lab"], )"
           R"("of": "total_headcount", "units": "researchers"},)"
           "\n";
  j += i + R"(    "share_quantiles": {"dims": ["quantile", "time", "lab"], "of": "share", )"
           R"("units": "1"})"
           "\n";
  j += i + "  },\n";
  j += i + "  \"attrs\": {\n";
  j += i + "    \"title\": \"talentsim results\",\n";
  j += i + "    \"file_type\": \"talentsim-run\",\n";
  j += i + "    \"Conventions\": \"CF-1.8\",\n";
  j += fmt::format("{}    \"file_format_version\": {},\n", i, kFileFormatVersion);
  j += fmt::format("{}    \"software_version\": {},\n", i, json_string(kSoftwareVersion));
  j += fmt::format("{}    \"git_commit\": {},\n", i, json_string(kGitCommit));
  j += fmt::format("{}    \"scenario_name\": {},\n", i, json_string(meta.scenario_name));
  j += fmt::format("{}    \"scenario\": {},\n", i, json_string(meta.scenario_text));
  j += fmt::format("{}    \"seed\": {},\n", i, meta.seed);
  j += fmt::format("{}    \"replicates\": {},\n", i, meta.replicates);
  j += fmt::format("{}    \"step_days\": {},\n", i, meta.step_days);
  j += fmt::format("{}    \"start_date\": {},\n", i, json_string(meta.start_date));
  j += fmt::format("{}    \"command_line\": {}\n{}  }}\n{}}}", i, json_string(meta.command_line), i,
                   i);
  return j;
}

// What check_results_xarray.py expects to find in the run file written from `run`.
inline std::string expected_json(const SampleRun& run) { return run_json(run) + "\n"; }

// What check_results_xarray.py expects to find in the comparison file
// written from `baseline` and `whatif` with `command_line`.
inline std::string expected_compare_json(const SampleRun& baseline, const SampleRun& whatif,
                                         const std::string& command_line) {
  std::string j = "{\n";
  j += "  \"attrs\": {\n";
  j += "    \"title\": \"talentsim comparison\",\n";
  j += "    \"file_type\": \"talentsim-compare\",\n";
  j += "    \"Conventions\": \"CF-1.8\",\n";
  j += fmt::format("    \"file_format_version\": {},\n", kFileFormatVersion);
  j += fmt::format("    \"software_version\": {},\n", json_string(kSoftwareVersion));
  j += fmt::format("    \"git_commit\": {},\n", json_string(kGitCommit));
  j += fmt::format("    \"seed\": {},\n", baseline.meta.seed);
  j += fmt::format("    \"replicates\": {},\n", baseline.meta.replicates);
  j += fmt::format("    \"baseline_name\": {},\n", json_string(baseline.meta.scenario_name));
  j += fmt::format("    \"whatif_name\": {},\n", json_string(whatif.meta.scenario_name));
  j += fmt::format("    \"command_line\": {}\n  }},\n", json_string(command_line));
  j += "  \"groups\": {\n";
  j += fmt::format("    \"{}\": {},\n", kBaselineGroup, run_json(baseline, "    "));
  j += fmt::format("    \"{}\": {}\n", kWhatifGroup, run_json(whatif, "    "));
  j += "  }\n}\n";
  return j;
}

}  // namespace talentsim::test
