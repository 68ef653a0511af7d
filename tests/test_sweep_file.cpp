// Tests of the sweep file: round trips through SweepWriter and read_sweep
// (with and without the per-step arrays, with and without Sobol' indices),
// independence of the order of writes, the temporary-file discipline, the
// errors both report, and what xarray sees. The HDF5 C API is used directly
// only to read the per-step arrays (read_sweep does not return them), to
// check chunking and to forge damaged files.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "talentsim/errors.hpp"
#include "talentsim/results_file.hpp"
#include "talentsim/sweep_file.hpp"
#include "talentsim/version.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using talentsim::InputError;
using talentsim::InternalError;
using talentsim::kSummaryQuantileCount;
using talentsim::PointSummary;
using talentsim::QuestionInfo;
using talentsim::read_sweep;
using talentsim::ReplicateResult;
using talentsim::results_file_type;
using talentsim::ResultShape;
using talentsim::ResultsWriter;
using talentsim::RunError;
using talentsim::RunMetadata;
using talentsim::RunReader;
using talentsim::SensitivityTable;
using talentsim::SweepFile;
using talentsim::SweepFileMetadata;
using talentsim::SweepWriter;
using talentsim::test::fresh_test_dir;
using talentsim::test::run_python_check;

namespace {

constexpr std::int64_t kPoints = 3, kReplicates = 2;
const ResultShape kShape{.steps = 4, .labs = 3, .tiers = 2, .named = 1, .questions = 2};

RunMetadata base_meta() {
  RunMetadata m;
  m.scenario_name = "base";
  m.start_date = "2026-01-05";
  m.step_days = 7;
  m.lab_names = {"OpenAI", "Google DeepMind", "Ünïcode Labs ✓"};
  m.tier_names = {"junior", "star"};
  m.named_names = {"Émilie"};
  const double none = std::numeric_limits<double>::quiet_NaN();
  m.questions = {{"q_hires", "Will OpenAI hire ≥ 5 stars?", "hires", "OpenAI", 5, none},
                 {"q_share", "", "share", "Ünïcode Labs ✓", none, 0.25}};
  m.replicates = kReplicates;
  m.seed = 0x8000000000000005ULL;  // above INT64_MAX: stored as uint64
  m.scenario_text = "name: base\nstart: 2026-01-05\n";
  m.command_line = "talentsim sweep s.yaml";
  return m;
}

SweepFileMetadata sweep_meta(bool full, bool sobol) {
  SweepFileMetadata m;
  m.name = "tiny_sweep";
  m.sweep_text = "name: tiny_sweep\nscenario: base.yaml\n";
  m.command_line = "talentsim sweep s.yaml";
  m.created = "2026-02-03T04:05:06Z";
  m.design = sobol ? "sobol" : "lhs";
  m.base_samples = sobol ? 1 : kPoints;
  m.points = kPoints;
  m.parameter_paths = {"labs[0].comp.star", "market.star_magnet"};
  m.parameter_scales = {"log", "linear"};
  m.parameter_values = {1e6, 0.5, 2e6, 1.25, 4e6, -0.0};
  m.full = full;
  m.base = base_meta();
  return m;
}

// Values that differ in every cell, point and replicate.
ReplicateResult make_replicate(std::int64_t point, std::int64_t replicate,
                               const ResultShape& shape = kShape) {
  ReplicateResult r(shape);
  r.replicate = replicate;
  const auto base = std::int32_t(1000 * point + 100 * replicate);
  for (size_t i = 0; i < r.headcount.size(); ++i) {
    r.headcount[i] = base + std::int32_t(i);
    r.hires[i] = base + 50 + std::int32_t(i);
    r.departures[i] = -base - std::int32_t(i);
  }
  for (size_t i = 0; i < r.star_power.size(); ++i) {
    r.star_power[i] = double(point) + 0.5 * double(replicate) + 0.25 * double(i);
  }
  for (size_t i = 0; i < r.named_lab.size(); ++i) r.named_lab[i] = std::int32_t(i % 3);
  for (size_t i = 0; i < r.flows.size(); ++i) r.flows[i] = base + 7 * std::int32_t(i);
  for (size_t q = 0; q < r.question_value.size(); ++q) {
    r.question_value[q] = 10.0 * double(point) + double(replicate) + 0.125 * double(q);
  }
  if (point == 1 && replicate == 1) r.question_value[1] = std::nan("");
  return r;
}

PointSummary make_summary(std::int64_t point) {
  PointSummary s;
  const double p = double(point);
  const size_t L = size_t(kShape.labs);
  for (int q = 0; q < kShape.questions; ++q) {
    s.question_probability.push_back(0.1 * p + 0.01 * q);
    s.question_low.push_back(0.05 * p + 0.01 * q);
    s.question_high.push_back(0.2 * p + 0.01 * q);
    s.question_mean.push_back(p + 0.5 * q);
  }
  for (size_t l = 0; l < L; ++l) s.headcount_mean.push_back(100 * p + double(l));
  for (int q = 0; q < kSummaryQuantileCount; ++q) {
    for (size_t l = 0; l < L; ++l) s.headcount_quantile.push_back(100 * p + 10 * q + double(l));
  }
  return s;
}

SensitivityTable make_table() {
  SensitivityTable t;
  t.outputs = {"q_hires", "q_share", "headcount[OpenAI]"};
  const size_t n = 2 * t.outputs.size();
  for (size_t i = 0; i < n; ++i) {
    t.first.push_back(0.1 * double(i));
    t.first_low.push_back(0.1 * double(i) - 0.05);
    t.first_high.push_back(0.1 * double(i) + 0.05);
    t.total.push_back(0.2 * double(i));
    t.total_low.push_back(0.2 * double(i) - 0.05);
    t.total_high.push_back(0.2 * double(i) + 0.05);
  }
  t.output_variance = {0.25, 0.5, 12.0};
  t.output_noise_variance = {0.01, 0.02, 0.5};
  t.resamples = 200;
  return t;
}

// Bitwise equality, so that NaN == NaN and -0.0 != 0.0.
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 8) == 0);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A whole dataset of a file, read with the HDF5 C API.
template <typename T>
std::vector<T> read_dataset(const fs::path& file, const char* name, hid_t memory_type,
                            std::vector<hsize_t>* dims = nullptr) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0);
  const hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  EXPECT_GE(d, 0) << name;
  const hid_t space = H5Dget_space(d);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (dims != nullptr) {
    dims->resize(size_t(H5Sget_simple_extent_ndims(space)));
    H5Sget_simple_extent_dims(space, dims->data(), nullptr);
  }
  std::vector<T> values(size_t(std::max<hssize_t>(n, 0)));
  EXPECT_GE(H5Dread(d, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Sclose(space);
  H5Dclose(d);
  H5Fclose(f);
  return values;
}

bool has_link(const fs::path& file, const char* name) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0);
  const bool exists = H5Lexists(f, name, H5P_DEFAULT) > 0;
  H5Fclose(f);
  return exists;
}

// Chunk extent of a dataset (empty when contiguous), and whether its
// filters are shuffle then deflate.
std::pair<std::vector<hsize_t>, bool> storage_of(const fs::path& file, const char* name) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  const hid_t dcpl = H5Dget_create_plist(d);
  std::vector<hsize_t> chunk;
  bool filters = false;
  if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
    chunk.resize(8);
    chunk.resize(size_t(H5Pget_chunk(dcpl, 8, chunk.data())));
    unsigned flags = 0, level = 0;
    size_t n = 1;
    filters =
        H5Pget_nfilters(dcpl) == 2 &&
        H5Pget_filter2(dcpl, 0, &flags, &n, &level, 0, nullptr, nullptr) == H5Z_FILTER_SHUFFLE &&
        (n = 1, H5Pget_filter2(dcpl, 1, &flags, &n, &level, 0, nullptr, nullptr)) ==
            H5Z_FILTER_DEFLATE &&
        level == 4;
  }
  H5Pclose(dcpl);
  H5Dclose(d);
  H5Fclose(f);
  return {chunk, filters};
}

class SweepFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_test_dir("talentsim-sweep"); }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Writes a whole sweep: replicates in the given order of (point,
  // replicate), each point's summary once its replicates are in (or first,
  // with `summaries_first`), the Sobol' table first or last.
  void write_sweep(const fs::path& dest, bool full, bool sobol,
                   std::vector<std::pair<std::int64_t, std::int64_t>> order = {},
                   bool summaries_first = false, bool overwrite = false) {
    if (order.empty()) {
      for (std::int64_t p = 0; p < kPoints; ++p) {
        for (std::int64_t r = 0; r < kReplicates; ++r) order.emplace_back(p, r);
      }
    }
    SweepWriter writer(dest, sweep_meta(full, sobol), kShape, overwrite);
    if (sobol && summaries_first) writer.write_sensitivity(make_table());
    if (summaries_first) {
      for (std::int64_t p = kPoints - 1; p >= 0; --p) writer.write_summary(p, make_summary(p));
    }
    std::vector<int> seen(size_t(kPoints), 0);
    for (const auto& [p, r] : order) {
      writer.write(p, make_replicate(p, r));
      if (!summaries_first && ++seen[size_t(p)] == kReplicates) {
        writer.write_summary(p, make_summary(p));
      }
    }
    if (sobol && !summaries_first) writer.write_sensitivity(make_table());
    writer.commit();
  }

  fs::path dir_;
};

// --- round trips -------------------------------------------------------------

class RoundTrip : public SweepFileTest,
                  public ::testing::WithParamInterface<std::pair<bool, bool>> {};

TEST_P(RoundTrip, ReadsBackWhatWasWritten) {
  const auto [full, sobol] = GetParam();
  const fs::path dest = dir_ / "sweep.h5";
  write_sweep(dest, full, sobol);
  ASSERT_TRUE(fs::exists(dest));

  const SweepFile f = read_sweep(dest);
  const SweepFileMetadata want = sweep_meta(full, sobol);
  EXPECT_EQ(f.meta.name, want.name);
  EXPECT_EQ(f.meta.sweep_text, want.sweep_text);
  EXPECT_EQ(f.meta.command_line, want.command_line);
  EXPECT_EQ(f.meta.created, want.created);
  EXPECT_EQ(f.meta.design, want.design);
  EXPECT_EQ(f.meta.base_samples, want.base_samples);
  EXPECT_EQ(f.meta.points, kPoints);
  EXPECT_EQ(f.meta.parameter_paths, want.parameter_paths);
  EXPECT_EQ(f.meta.parameter_scales, want.parameter_scales);
  EXPECT_TRUE(same_bits(f.meta.parameter_values, want.parameter_values));
  EXPECT_EQ(f.meta.full, full);

  const RunMetadata& b = f.meta.base;
  EXPECT_EQ(b.scenario_name, want.base.scenario_name);
  EXPECT_EQ(b.start_date, want.base.start_date);
  EXPECT_EQ(b.step_days, want.base.step_days);
  EXPECT_EQ(b.lab_names, want.base.lab_names);
  EXPECT_EQ(b.tier_names, want.base.tier_names);
  EXPECT_TRUE(b.named_names.empty());  // not stored
  ASSERT_EQ(b.questions.size(), want.base.questions.size());
  for (size_t q = 0; q < b.questions.size(); ++q) {
    const QuestionInfo &got = b.questions[q], &w = want.base.questions[q];
    EXPECT_EQ(got.id, w.id);
    EXPECT_EQ(got.text, w.text);
    EXPECT_EQ(got.metric, w.metric);
    EXPECT_EQ(got.lab, w.lab);
    EXPECT_TRUE(same_bits({got.at_least, got.at_most}, {w.at_least, w.at_most})) << got.id;
  }
  EXPECT_EQ(b.replicates, kReplicates);
  EXPECT_EQ(b.seed, want.base.seed);
  EXPECT_EQ(b.scenario_text, want.base.scenario_text);
  EXPECT_EQ(b.command_line, want.command_line);

  EXPECT_EQ(f.shape.steps, kShape.steps);
  EXPECT_EQ(f.shape.labs, kShape.labs);
  EXPECT_EQ(f.shape.tiers, kShape.tiers);
  EXPECT_EQ(f.shape.named, 0);
  EXPECT_EQ(f.shape.questions, kShape.questions);

  EXPECT_EQ(f.attributes.at("file_type"), "talentsim-sweep");
  EXPECT_EQ(f.attributes.at("title"), "talentsim sweep");
  EXPECT_EQ(f.attributes.at("Conventions"), "CF-1.8");
  EXPECT_EQ(f.attributes.at("file_format_version"), std::to_string(talentsim::kFileFormatVersion));
  EXPECT_EQ(f.attributes.at("software_version"), talentsim::kSoftwareVersion);
  EXPECT_EQ(f.attributes.at("points"), "3");
  EXPECT_EQ(f.attributes.at("replicates"), "2");
  EXPECT_EQ(f.attributes.at("seed"), "9223372036854775813");
  EXPECT_EQ(f.attributes.at("full"), full ? "1" : "0");
  EXPECT_EQ(f.attributes.at("steps"), "4");
  EXPECT_EQ(f.attributes.at("scenario"), want.base.scenario_text);
  EXPECT_EQ(f.attributes.count("bootstrap_resamples"), sobol ? 1u : 0u);

  // Per replicate: question values, and the headcount of the last step.
  const size_t Q = 2, L = 3, K = 2, T = 4;
  std::vector<double> question_value;
  std::vector<std::int32_t> headcount;
  for (std::int64_t p = 0; p < kPoints; ++p) {
    for (std::int64_t r = 0; r < kReplicates; ++r) {
      const ReplicateResult rep = make_replicate(p, r);
      question_value.insert(question_value.end(), rep.question_value.begin(),
                            rep.question_value.end());
      headcount.insert(headcount.end(), rep.headcount.begin() + std::ptrdiff_t((T - 1) * L * K),
                       rep.headcount.end());
    }
  }
  EXPECT_TRUE(same_bits(f.question_value, question_value));
  EXPECT_EQ(f.headcount, headcount);
  EXPECT_EQ(question_value.size(), size_t(kPoints * kReplicates) * Q);

  ASSERT_EQ(f.summaries.size(), size_t(kPoints));
  for (std::int64_t p = 0; p < kPoints; ++p) {
    const PointSummary &got = f.summaries[size_t(p)], w = make_summary(p);
    EXPECT_TRUE(same_bits(got.question_probability, w.question_probability)) << p;
    EXPECT_TRUE(same_bits(got.question_low, w.question_low)) << p;
    EXPECT_TRUE(same_bits(got.question_high, w.question_high)) << p;
    EXPECT_TRUE(same_bits(got.question_mean, w.question_mean)) << p;
    EXPECT_TRUE(same_bits(got.headcount_mean, w.headcount_mean)) << p;
    EXPECT_TRUE(same_bits(got.headcount_quantile, w.headcount_quantile)) << p;
  }

  EXPECT_EQ(f.has_sensitivity, sobol);
  if (sobol) {
    const SensitivityTable w = make_table();
    EXPECT_EQ(f.sensitivity.outputs, w.outputs);
    EXPECT_TRUE(same_bits(f.sensitivity.first, w.first));
    EXPECT_TRUE(same_bits(f.sensitivity.first_low, w.first_low));
    EXPECT_TRUE(same_bits(f.sensitivity.first_high, w.first_high));
    EXPECT_TRUE(same_bits(f.sensitivity.total, w.total));
    EXPECT_TRUE(same_bits(f.sensitivity.total_low, w.total_low));
    EXPECT_TRUE(same_bits(f.sensitivity.total_high, w.total_high));
    EXPECT_TRUE(same_bits(f.sensitivity.output_variance, w.output_variance));
    EXPECT_TRUE(same_bits(f.sensitivity.output_noise_variance, w.output_noise_variance));
    EXPECT_EQ(f.sensitivity.resamples, w.resamples);
  }
  EXPECT_EQ(has_link(dest, "output"), sobol);
  EXPECT_EQ(has_link(dest, "sobol_total_high"), sobol);

  // The per-step arrays, straight from the file.
  EXPECT_EQ(has_link(dest, "time"), full);
  EXPECT_EQ(has_link(dest, "from_lab"), full);
  for (const char* name :
       {"step_headcount", "step_hires", "step_departures", "step_star_power", "flows"}) {
    EXPECT_EQ(has_link(dest, name), full) << name;
  }
  if (full) {
    std::vector<std::int32_t> step_headcount, hires, departures, flows;
    std::vector<double> star_power;
    for (std::int64_t p = 0; p < kPoints; ++p) {
      for (std::int64_t r = 0; r < kReplicates; ++r) {
        const ReplicateResult rep = make_replicate(p, r);
        step_headcount.insert(step_headcount.end(), rep.headcount.begin(), rep.headcount.end());
        hires.insert(hires.end(), rep.hires.begin(), rep.hires.end());
        departures.insert(departures.end(), rep.departures.begin(), rep.departures.end());
        flows.insert(flows.end(), rep.flows.begin(), rep.flows.end());
        star_power.insert(star_power.end(), rep.star_power.begin(), rep.star_power.end());
      }
    }
    std::vector<hsize_t> dims;
    EXPECT_EQ(read_dataset<std::int32_t>(dest, "step_headcount", H5T_NATIVE_INT32, &dims),
              step_headcount);
    EXPECT_EQ(dims, (std::vector<hsize_t>{3, 2, T, L, K}));
    EXPECT_EQ(read_dataset<std::int32_t>(dest, "step_hires", H5T_NATIVE_INT32), hires);
    EXPECT_EQ(read_dataset<std::int32_t>(dest, "step_departures", H5T_NATIVE_INT32), departures);
    EXPECT_EQ(read_dataset<std::int32_t>(dest, "flows", H5T_NATIVE_INT32, &dims), flows);
    EXPECT_EQ(dims, (std::vector<hsize_t>{3, 2, L, L, K}));
    EXPECT_TRUE(
        same_bits(read_dataset<double>(dest, "step_star_power", H5T_NATIVE_DOUBLE), star_power));
    EXPECT_EQ(read_dataset<std::int32_t>(dest, "time", H5T_NATIVE_INT32),
              (std::vector<std::int32_t>{0, 7, 14, 21}));
    // One replicate of one point per chunk, compressed by the standard filters.
    const auto [chunk, filtered] = storage_of(dest, "step_headcount");
    EXPECT_EQ(chunk, (std::vector<hsize_t>{1, 1, T, L, K}));
    EXPECT_TRUE(filtered);
  }
  const auto [chunk, filtered] = storage_of(dest, "headcount");
  EXPECT_EQ(chunk.size(), 4u);
  EXPECT_TRUE(filtered);
  EXPECT_EQ(read_dataset<std::int64_t>(dest, "point", H5T_NATIVE_INT64),
            (std::vector<std::int64_t>{0, 1, 2}));
}

INSTANTIATE_TEST_SUITE_P(FullAndSobol, RoundTrip,
                         ::testing::Values(std::pair{false, false}, std::pair{true, false},
                                           std::pair{false, true}, std::pair{true, true}),
                         [](const auto& info) {
                           return std::string(info.param.first ? "Full" : "Summary") +
                                  (info.param.second ? "Sobol" : "NoSobol");
                         });

TEST_F(SweepFileTest, OrderOfWritesDoesNotMatter) {
  const fs::path in_order = dir_ / "in_order.h5", shuffled = dir_ / "shuffled.h5";
  write_sweep(in_order, true, true);
  std::vector<std::pair<std::int64_t, std::int64_t>> order;
  for (std::int64_t p = 0; p < kPoints; ++p) {
    for (std::int64_t r = 0; r < kReplicates; ++r) order.emplace_back(p, r);
  }
  std::mt19937 rng(12345);
  std::shuffle(order.begin(), order.end(), rng);
  write_sweep(shuffled, true, true, order, /*summaries_first=*/true);

  const SweepFile a = read_sweep(in_order), b = read_sweep(shuffled);
  EXPECT_TRUE(same_bits(a.question_value, b.question_value));
  EXPECT_EQ(a.headcount, b.headcount);
  ASSERT_EQ(a.summaries.size(), b.summaries.size());
  for (size_t p = 0; p < a.summaries.size(); ++p) {
    EXPECT_TRUE(
        same_bits(a.summaries[p].question_probability, b.summaries[p].question_probability));
    EXPECT_TRUE(same_bits(a.summaries[p].headcount_quantile, b.summaries[p].headcount_quantile));
  }
  EXPECT_TRUE(same_bits(a.sensitivity.total, b.sensitivity.total));
  auto without_created = [](std::map<std::string, std::string> m) {
    m.erase("created");
    return m;
  };
  EXPECT_EQ(without_created(a.attributes), without_created(b.attributes));
  for (const char* name : {"step_headcount", "step_hires", "step_departures", "flows"}) {
    EXPECT_EQ(read_dataset<std::int32_t>(in_order, name, H5T_NATIVE_INT32),
              read_dataset<std::int32_t>(shuffled, name, H5T_NATIVE_INT32))
        << name;
  }
  EXPECT_TRUE(same_bits(read_dataset<double>(in_order, "step_star_power", H5T_NATIVE_DOUBLE),
                        read_dataset<double>(shuffled, "step_star_power", H5T_NATIVE_DOUBLE)));
}

// Many replicates of many labs in a random order, so that chunks of several
// replicates are evicted from the cache before they are whole, and
// completed later.
TEST_F(SweepFileTest, ManyReplicatesInRandomOrder) {
  const std::int64_t P = 6, R = 300;
  const ResultShape shape{.steps = 2, .labs = 40, .tiers = 10, .named = 0, .questions = 2};
  const size_t LK = 400;
  SweepFileMetadata meta = sweep_meta(false, false);
  meta.points = P;
  meta.base.replicates = R;
  meta.base.named_names.clear();
  meta.base.lab_names.clear();
  for (int l = 0; l < shape.labs; ++l) meta.base.lab_names.push_back("lab" + std::to_string(l));
  meta.base.tier_names.assign(size_t(shape.tiers), "tier");
  meta.parameter_values.assign(size_t(P) * 2, 1.5);
  std::vector<std::pair<std::int64_t, std::int64_t>> order;
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t r = 0; r < R; ++r) order.emplace_back(p, r);
  }
  std::mt19937 rng(7);
  std::shuffle(order.begin(), order.end(), rng);
  const fs::path dest = dir_ / "many.h5";
  {
    SweepWriter writer(dest, meta, shape, false);
    for (const auto& [p, r] : order) writer.write(p, make_replicate(p, r, shape));
    PointSummary summary;
    summary.question_probability = summary.question_low = summary.question_high =
        summary.question_mean = {0.5, 0.25};
    summary.headcount_mean.assign(LK / 10, 1.0);
    summary.headcount_quantile.assign(LK / 10 * kSummaryQuantileCount, 2.0);
    for (std::int64_t p = 0; p < P; ++p) writer.write_summary(p, summary);
    writer.commit();
  }
  const SweepFile f = read_sweep(dest);
  ASSERT_EQ(f.headcount.size(), size_t(P * R) * LK);
  ASSERT_EQ(f.question_value.size(), size_t(P * R * 2));
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t r = 0; r < R; ++r) {
      const ReplicateResult rep = make_replicate(p, r, shape);
      const size_t at = size_t(p * R + r);
      ASSERT_TRUE(std::equal(rep.headcount.end() - std::ptrdiff_t(LK), rep.headcount.end(),
                             f.headcount.begin() + std::ptrdiff_t(at * LK)))
          << p << " " << r;
      ASSERT_TRUE(
          same_bits(rep.question_value, {f.question_value[at * 2], f.question_value[at * 2 + 1]}))
          << p << " " << r;
    }
  }
}

TEST_F(SweepFileTest, EmptyDesignAndNoQuestions) {
  SweepFileMetadata meta = sweep_meta(true, false);
  meta.points = 0;
  meta.parameter_values.clear();
  meta.base.questions.clear();
  ResultShape shape = kShape;
  shape.questions = 0;
  const fs::path dest = dir_ / "empty.h5";
  {
    SweepWriter writer(dest, meta, shape, false);
    writer.commit();
  }
  const SweepFile f = read_sweep(dest);
  EXPECT_EQ(f.meta.points, 0);
  EXPECT_TRUE(f.question_value.empty());
  EXPECT_TRUE(f.summaries.empty());
  EXPECT_EQ(f.shape.questions, 0);
}

// --- the temporary file and the destination ----------------------------------

TEST_F(SweepFileTest, ExistingDestinationIsRefusedWithoutOverwrite) {
  const fs::path dest = dir_ / "sweep.h5";
  std::ofstream(dest) << "precious";
  try {
    SweepWriter writer(dest, sweep_meta(false, false), kShape, false);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("already exists"), std::string::npos) << what;
    EXPECT_NE(what.find("--force"), std::string::npos) << what;
    EXPECT_NE(what.find(dest.string()), std::string::npos) << what;
  }
  EXPECT_EQ(slurp(dest), "precious");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);

  write_sweep(dest, false, false, {}, false, /*overwrite=*/true);
  EXPECT_EQ(read_sweep(dest).meta.points, kPoints);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SweepFileTest, DirectoryDestinationIsRefused) {
  EXPECT_THROW(SweepWriter(dir_, sweep_meta(false, false), kShape, true), InputError);
}

TEST_F(SweepFileTest, NoTemporaryFileLeftWithoutCommit) {
  const fs::path dest = dir_ / "sub" / "sweep.h5";
  fs::path temporary;
  {
    SweepWriter writer(dest, sweep_meta(true, false), kShape, false);
    temporary = writer.temporary_path();
    EXPECT_EQ(temporary.parent_path(), dest.parent_path());
    EXPECT_TRUE(fs::exists(temporary));
    EXPECT_FALSE(fs::exists(dest));
    writer.write(0, make_replicate(0, 1));
    writer.write_summary(2, make_summary(2));
  }
  EXPECT_FALSE(fs::exists(temporary));
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_TRUE(fs::is_empty(dest.parent_path()));
}

TEST_F(SweepFileTest, IncompleteSweepIsNotCommitted) {
  const fs::path dest = dir_ / "sweep.h5";
  {
    SweepWriter writer(dest, sweep_meta(false, false), kShape, false);
    for (std::int64_t p = 0; p < kPoints; ++p) writer.write_summary(p, make_summary(p));
    writer.write(0, make_replicate(0, 0));
    try {
      writer.commit();
      FAIL() << "expected RunError";
    } catch (const RunError& e) {
      EXPECT_NE(std::string(e.what()).find("only 1 of 6 replicates"), std::string::npos)
          << e.what();
    }
  }
  {
    SweepWriter writer(dest, sweep_meta(false, false), kShape, false);
    for (std::int64_t p = 0; p < kPoints; ++p) {
      for (std::int64_t r = 0; r < kReplicates; ++r) writer.write(p, make_replicate(p, r));
    }
    writer.write_summary(1, make_summary(1));
    try {
      writer.commit();
      FAIL() << "expected RunError";
    } catch (const RunError& e) {
      EXPECT_NE(std::string(e.what()).find("summaries of only 1 of 3 points"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(SweepFileTest, MisuseIsAnInternalError) {
  const fs::path dest = dir_ / "sweep.h5";
  SweepWriter writer(dest, sweep_meta(false, false), kShape, false);
  writer.write(1, make_replicate(1, 0));
  EXPECT_THROW(writer.write(1, make_replicate(1, 0)), InternalError);  // twice
  EXPECT_THROW(writer.write(3, make_replicate(0, 0)), InternalError);  // no such point
  EXPECT_THROW(writer.write(0, make_replicate(0, 2)), InternalError);  // no such replicate
  ReplicateResult wrong(ResultShape{.steps = 5, .labs = 3, .tiers = 2, .named = 1, .questions = 2});
  EXPECT_THROW(writer.write(0, wrong), InternalError);
  PointSummary short_summary = make_summary(0);
  short_summary.headcount_quantile.pop_back();
  EXPECT_THROW(writer.write_summary(0, short_summary), InternalError);
  SensitivityTable table = make_table();
  table.output_variance.pop_back();
  EXPECT_THROW(writer.write_sensitivity(table), InternalError);

  SweepFileMetadata bad = sweep_meta(false, false);
  bad.parameter_values.pop_back();
  EXPECT_THROW(SweepWriter(dir_ / "bad.h5", bad, kShape, false), InternalError);
  EXPECT_FALSE(fs::exists(dir_ / "bad.h5"));
}

// --- reading what is not a sweep file -----------------------------------------

class ReadSweepErrors : public SweepFileTest {
 protected:
  void expect_run_error(const fs::path& p, const std::vector<std::string>& fragments) {
    try {
      read_sweep(p);
      ADD_FAILURE() << "expected RunError for " << p;
    } catch (const RunError& e) {
      const std::string what = e.what();
      for (const auto& f : fragments) {
        EXPECT_NE(what.find(f), std::string::npos) << "'" << f << "' not in: " << what;
      }
    }
  }
  fs::path run_file() {
    const fs::path p = dir_ / "run.h5";
    RunMetadata meta = base_meta();
    meta.replicates = 1;
    ResultsWriter writer(p, meta, kShape, false);
    writer.write(make_replicate(0, 0));
    writer.commit();
    return p;
  }
};

TEST_F(ReadSweepErrors, RunFile) {
  expect_run_error(run_file(), {"not a sweep file", "talentsim-run", "run.h5"});
}

TEST_F(ReadSweepErrors, GarbageFile) {
  std::ofstream(dir_ / "garbage.h5") << "not HDF5\n";
  expect_run_error(dir_ / "garbage.h5", {"garbage.h5", "not an HDF5 file"});
  expect_run_error(dir_ / "absent.h5", {"absent.h5", "does not exist"});
  const fs::path foreign = dir_ / "foreign.h5";
  H5Fclose(H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  expect_run_error(foreign, {"not a talentsim results file", "file_type"});
}

TEST_F(ReadSweepErrors, DamagedOrOfAnotherVersion) {
  const fs::path p = dir_ / "sweep.h5";
  write_sweep(p, true, false);
  {
    const hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, "step_hires", H5P_DEFAULT), 0);
    H5Fclose(f);
  }
  expect_run_error(p, {"damaged or incomplete", "'step_hires'", "sweep.h5"});

  write_sweep(p, false, false, {}, false, true);
  {
    const hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Adelete(f, "file_format_version"), 0);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr =
        H5Acreate2(f, "file_format_version", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    const int version = 99;
    ASSERT_GE(H5Awrite(attr, H5T_NATIVE_INT, &version), 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Fclose(f);
  }
  expect_run_error(p, {"version 99"});
}

TEST_F(ReadSweepErrors, FileTypeAndRunReader) {
  const fs::path p = dir_ / "sweep.h5";
  write_sweep(p, false, false);
  EXPECT_EQ(results_file_type(p), "talentsim-sweep");
  EXPECT_EQ(results_file_type(run_file()), "talentsim-run");
  try {
    RunReader reader(p);
    ADD_FAILURE() << "expected RunError";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("is a sweep file"), std::string::npos) << e.what();
  }
}

// --- what xarray sees -----------------------------------------------------------

std::string json_strings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    out += i ? ", \"" : "\"";
    for (const char c : v[i])
      out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    out += "\"";
  }
  return out + "]";
}

class XarrayReadsTheSweep : public SweepFileTest,
                            public ::testing::WithParamInterface<std::pair<bool, bool>> {};

TEST_P(XarrayReadsTheSweep, AsLabelledArrays) {
  const auto [full, sobol] = GetParam();
  const fs::path file = dir_ / "sweep.h5";
  write_sweep(file, full, sobol);
  const SweepFileMetadata meta = sweep_meta(full, sobol);
  std::ostringstream expected;
  expected << "{\"parameters\": " << json_strings(meta.parameter_paths)
           << ", \"scales\": " << json_strings(meta.parameter_scales)
           << ", \"questions\": " << json_strings({"q_hires", "q_share"})
           << ", \"labs\": " << json_strings(meta.base.lab_names)
           << ", \"tiers\": " << json_strings(meta.base.tier_names) << ", \"start_date\": \""
           << meta.base.start_date << "\", \"outputs\": "
           << (sobol ? json_strings(make_table().outputs) : std::string("null")) << "}";
  run_python_check("check_sweep_xarray.py", dir_, file, expected.str());
}

INSTANTIATE_TEST_SUITE_P(FullAndSobol, XarrayReadsTheSweep,
                         ::testing::Values(std::pair{false, false}, std::pair{true, true}),
                         [](const auto& info) {
                           return std::string(info.param.first ? "Full" : "Summary") +
                                  (info.param.second ? "Sobol" : "NoSobol");
                         });

}  // namespace
