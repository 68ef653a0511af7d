// A small synthetic run and a JSON description of what its results file
// must contain, for tests/python/check_results_xarray.py to compare against
// what xarray reads. Dates in the JSON are computed here with std::chrono,
// independently of how the file encodes time.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
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
    } else {
      out += fmt::format("{}", values[i]);  // shortest text that reads back exactly
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

// R = 3, T = 5, L = 3, K = 2 and `named` named researchers. With none, the
// command line is empty too, to check an empty text attribute.
inline SampleRun make_sample_run(int named) {
  SampleRun run;
  run.shape = ResultShape{.steps = 5, .labs = 3, .tiers = 2, .named = named};
  const ResultShape& s = run.shape;
  RunMetadata& meta = run.meta;
  meta.scenario_name = "sample ✓";
  meta.start_date = "2024-12-30";  // the axis crosses a year end
  meta.step_days = 7;
  meta.lab_names = {"Alpha Labs", "Beta Institut für KI", "Γ Research"};
  meta.tier_names = {"junior", "senior"};
  const std::vector<std::string> people = {"Ada Lovelace", "Émile Borel", "Grace Hopper"};
  for (int n = 0; n < named; ++n) meta.named_names.push_back(people[size_t(n) % people.size()]);
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

// What check_results_xarray.py expects to find in the file written from `run`.
inline std::string expected_json(const SampleRun& run) {
  const RunMetadata& meta = run.meta;
  const ResultShape& s = run.shape;
  std::vector<std::int64_t> replicate_ids;
  for (std::int64_t r = 0; r < meta.replicates; ++r) replicate_ids.push_back(r);
  const std::string tlk = R"(["replicate", "time", "lab", "tier"])";
  auto variable = [](const std::string& dims, const char* dtype, const std::string& values,
                     const char* units = nullptr) {
    return fmt::format(R"({{"dims": {}, "dtype": "{}", {}"values": {}}})", dims, dtype,
                       units ? fmt::format(R"("units": "{}", )", units) : "", values);
  };

  std::string j = "{\n";
  j +=
      fmt::format(R"(  "dims": {{"replicate": {}, "time": {}, "lab": {}, "tier": {}, "named": {}, )"
                  R"("from_lab": {}, "to_lab": {}}},)"
                  "\n",
                  meta.replicates, s.steps, s.labs, s.tiers, s.named, s.labs, s.labs);
  j += "  \"coords\": {\n";
  j += fmt::format("    \"replicate\": {},\n", json_list(replicate_ids));
  j += fmt::format("    \"time\": {},\n",
                   json_list(sample_dates(meta.start_date, meta.step_days, s.steps)));
  j += fmt::format("    \"lab\": {},\n", json_list(meta.lab_names));
  j += fmt::format("    \"from_lab\": {},\n", json_list(meta.lab_names));
  j += fmt::format("    \"to_lab\": {},\n", json_list(meta.lab_names));
  j += fmt::format("    \"tier\": {},\n", json_list(meta.tier_names));
  j += fmt::format("    \"named\": {}\n  }},\n", json_list(meta.named_names));
  j += "  \"variables\": {\n";
  j += fmt::format(
      "    \"headcount\": {},\n",
      variable(tlk, "int32", json_list(gather(run, &ReplicateResult::headcount)), "researchers"));
  j += fmt::format(
      "    \"hires\": {},\n",
      variable(tlk, "int32", json_list(gather(run, &ReplicateResult::hires)), "researchers"));
  j += fmt::format(
      "    \"departures\": {},\n",
      variable(tlk, "int32", json_list(gather(run, &ReplicateResult::departures)), "researchers"));
  j += fmt::format("    \"star_power\": {},\n",
                   variable(R"(["replicate", "time", "lab"])", "float64",
                            json_list(gather(run, &ReplicateResult::star_power)), "reputation"));
  j += fmt::format("    \"named_lab\": {},\n",
                   variable(R"(["replicate", "time", "named"])", "int32",
                            json_list(gather(run, &ReplicateResult::named_lab))));
  j += fmt::format("    \"flows\": {}\n  }},\n",
                   variable(R"(["replicate", "from_lab", "to_lab", "tier"])", "int32",
                            json_list(gather(run, &ReplicateResult::flows)), "researchers"));
  j += "  \"attrs\": {\n";
  j += "    \"title\": \"talentsim results\",\n";
  j += "    \"file_type\": \"talentsim-run\",\n";
  j += "    \"Conventions\": \"CF-1.8\",\n";
  j += fmt::format("    \"file_format_version\": {},\n", kFileFormatVersion);
  j += fmt::format("    \"software_version\": {},\n", json_string(kSoftwareVersion));
  j += fmt::format("    \"git_commit\": {},\n", json_string(kGitCommit));
  j += fmt::format("    \"scenario_name\": {},\n", json_string(meta.scenario_name));
  j += fmt::format("    \"scenario\": {},\n", json_string(meta.scenario_text));
  j += fmt::format("    \"seed\": {},\n", meta.seed);
  j += fmt::format("    \"replicates\": {},\n", meta.replicates);
  j += fmt::format("    \"step_days\": {},\n", meta.step_days);
  j += fmt::format("    \"start_date\": {},\n", json_string(meta.start_date));
  j += fmt::format("    \"command_line\": {}\n  }}\n}}\n", json_string(meta.command_line));
  return j;
}

}  // namespace talentsim::test
