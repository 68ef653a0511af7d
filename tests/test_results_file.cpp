// Tests of the results file: round trips through ResultsWriter and
// read_results/RunReader (run and comparison files), the distribution
// summaries against a brute-force computation, the temporary-file
// discipline, and the errors both report. The HDF5 C API is used directly
// only to forge damaged or foreign files, to read root attributes and to
// check how variables are chunked.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "../sim/src/io/results_layout.hpp"  // the time-chunk knob
#include "../sim/src/io/summaries.hpp"       // the block-size knobs, to exercise several blocks
#include "sample_results.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/results_file.hpp"
#include "talentsim/version.hpp"
#include "test_util.hpp"

namespace talentsim {
// How gtest (and so ctest's test names) shows a RoundTrip parameter.
void PrintTo(const ResultShape& s, std::ostream* out) {
  *out << "T=" << s.steps << " L=" << s.labs << " K=" << s.tiers << " N=" << s.named
       << " Q=" << s.questions;
}
}  // namespace talentsim

namespace fs = std::filesystem;
using talentsim::DistributionSummaries;
using talentsim::InputError;
using talentsim::InternalError;
using talentsim::kSummaryQuantileCount;
using talentsim::kSummaryQuantiles;
using talentsim::QuestionInfo;
using talentsim::read_results;
using talentsim::ReplicateResult;
using talentsim::results_file_type;
using talentsim::ResultShape;
using talentsim::ResultsWriter;
using talentsim::RunError;
using talentsim::RunMetadata;
using talentsim::RunReader;
using talentsim::test::fresh_test_dir;
using talentsim::test::run_python_check;

namespace {

// True if `s` looks like 2026-11-27T03:04:05Z. (Checked by hand: std::regex
// alone tripled this file's compile time under the sanitizers.)
bool is_utc_timestamp(const std::string& s) {
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:ddZ";
  if (s.size() != shape.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool ok = shape[i] == 'd' ? s[i] >= '0' && s[i] <= '9' : s[i] == shape[i];
    if (!ok) return false;
  }
  return true;
}

RunMetadata sample_meta(const ResultShape& s, std::int64_t replicates) {
  RunMetadata m;
  m.scenario_name = "baseline";
  m.start_date = "2025-01-06";
  m.step_days = 7;
  const std::vector<std::string> labs = {"OpenAI", "Google DeepMind", "Ünïcode Labs ✓"};
  const std::vector<std::string> tiers = {"junior", "senior", "star"};
  const std::vector<std::string> people = {"Ilya", "Noam", "Émilie"};
  for (int i = 0; i < s.labs; ++i) m.lab_names.push_back(labs[size_t(i) % labs.size()]);
  for (int i = 0; i < s.tiers; ++i) m.tier_names.push_back(tiers[size_t(i) % tiers.size()]);
  for (int i = 0; i < s.named; ++i) m.named_names.push_back(people[size_t(i) % people.size()]);
  const double none = std::numeric_limits<double>::quiet_NaN();
  const std::vector<QuestionInfo> questions = {
      {"q_hires", "Will OpenAI hire ≥ 5 stars?", "hires", "OpenAI", 5, none},
      {"q_share", "", "share", "Ünïcode Labs ✓", none, 0.25},
      {"q_named", "Is Émilie at OpenAI?", "named_at", "OpenAI", none, none},
  };
  for (int i = 0; i < s.questions; ++i) m.questions.push_back(questions[size_t(i) % 3]);
  m.replicates = replicates;
  m.seed = std::numeric_limits<std::uint64_t>::max() - 41;  // needs all 64 bits
  m.scenario_text =
      "name: baseline\n# Ünïcode ✓, \"quotes\", a\ttab\nlabs:\n  - name: OpenAI\n    star: 0.5\n";
  m.command_line = "talentsim run baseline.yaml --set replicates=3 -o results/out.h5";
  return m;
}

// Values differ in every replicate, time, lab, tier and variable, and the
// doubles include ones a lossy path would not carry bit for bit.
ReplicateResult sample_replicate(std::int64_t r, const ResultShape& s) {
  ReplicateResult out(s);
  out.replicate = r;
  const double specials[] = {-0.0, std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN(), -1e300};
  for (int t = 0; t < s.steps; ++t) {
    for (int l = 0; l < s.labs; ++l) {
      for (int k = 0; k < s.tiers; ++k) {
        const auto i = out.tlk(t, l, k);
        out.headcount[i] = std::int32_t(1'000'000 * r + 1000 * t + 10 * l + k);
        out.hires[i] = std::int32_t(-(r + 1) * (t + l + k + 1));
        out.departures[i] =
            std::int32_t(std::numeric_limits<std::int32_t>::max() - std::int64_t(i) - (r & 0xff));
      }
      const size_t i = out.tl(t, l);
      out.star_power[i] =
          i % 7 == 3 ? specials[(i + size_t(r)) % 5] : std::sin(double(r) + 0.1 * t) / (l + 3.0);
    }
    for (int n = 0; n < s.named; ++n) out.named_lab[out.tn(t, n)] = (t + n + int(r)) % 4 - 1;
  }
  for (int f = 0; f < s.labs; ++f) {
    for (int to = 0; to < s.labs; ++to) {
      for (int k = 0; k < s.tiers; ++k)
        out.flows[out.flk(f, to, k)] = std::int32_t(r * 100 + f * 10 + to + k);
    }
  }
  for (int q = 0; q < s.questions; ++q) {
    out.question_value[size_t(q)] = q == 1 ? specials[size_t(r) % 5] : double(r) / 3.0 - q;
    out.question_numerator[size_t(q)] = q == 1 ? specials[size_t(r + 2) % 5] : double(r + q);
    out.question_denominator[size_t(q)] = q == 1 ? 0.0 : double(q);
  }
  return out;
}

template <typename T>
bool bit_identical(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

void expect_same_replicate(const ReplicateResult& got, const ReplicateResult& want) {
  EXPECT_EQ(got.replicate, want.replicate);
  EXPECT_EQ(got.shape.steps, want.shape.steps);
  EXPECT_EQ(got.shape.labs, want.shape.labs);
  EXPECT_EQ(got.shape.tiers, want.shape.tiers);
  EXPECT_EQ(got.shape.named, want.shape.named);
  EXPECT_EQ(got.shape.questions, want.shape.questions);
  EXPECT_TRUE(bit_identical(got.headcount, want.headcount))
      << "headcount, replicate " << want.replicate;
  EXPECT_TRUE(bit_identical(got.hires, want.hires)) << "hires, replicate " << want.replicate;
  EXPECT_TRUE(bit_identical(got.departures, want.departures))
      << "departures, replicate " << want.replicate;
  EXPECT_TRUE(bit_identical(got.star_power, want.star_power))
      << "star_power, replicate " << want.replicate;
  EXPECT_TRUE(bit_identical(got.named_lab, want.named_lab))
      << "named_lab, replicate " << want.replicate;
  EXPECT_TRUE(bit_identical(got.flows, want.flows)) << "flows, replicate " << want.replicate;
  EXPECT_TRUE(bit_identical(got.question_value, want.question_value))
      << "question_value, replicate " << want.replicate;
  EXPECT_TRUE(bit_identical(got.question_numerator, want.question_numerator))
      << "question_numerator, replicate " << want.replicate;
  EXPECT_TRUE(bit_identical(got.question_denominator, want.question_denominator))
      << "question_denominator, replicate " << want.replicate;
}

bool same_double(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_same_questions(const std::vector<QuestionInfo>& got,
                           const std::vector<QuestionInfo>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t q = 0; q < want.size(); ++q) {
    EXPECT_EQ(got[q].id, want[q].id);
    EXPECT_EQ(got[q].text, want[q].text);
    EXPECT_EQ(got[q].metric, want[q].metric);
    EXPECT_EQ(got[q].lab, want[q].lab);
    EXPECT_TRUE(same_double(got[q].at_least, want[q].at_least))
        << q << ": " << got[q].at_least << " vs " << want[q].at_least;
    EXPECT_TRUE(same_double(got[q].at_most, want[q].at_most))
        << q << ": " << got[q].at_most << " vs " << want[q].at_most;
  }
}

void expect_same_meta(const RunMetadata& got, const RunMetadata& want) {
  EXPECT_EQ(got.scenario_name, want.scenario_name);
  EXPECT_EQ(got.start_date, want.start_date);
  EXPECT_EQ(got.step_days, want.step_days);
  EXPECT_EQ(got.lab_names, want.lab_names);
  EXPECT_EQ(got.tier_names, want.tier_names);
  EXPECT_EQ(got.named_names, want.named_names);
  expect_same_questions(got.questions, want.questions);
  EXPECT_EQ(got.replicates, want.replicates);
  EXPECT_EQ(got.seed, want.seed);
  EXPECT_EQ(got.scenario_text, want.scenario_text);
  EXPECT_EQ(got.command_line, want.command_line);
}

// Percentiles by brute force: all values of one cell, sorted; NaN if any is
// NaN (as numpy.quantile); type 7 interpolation.
std::vector<double> brute_percentiles(std::vector<double> values) {
  std::vector<double> out(kSummaryQuantileCount, std::numeric_limits<double>::quiet_NaN());
  if (values.empty()) return out;
  for (const double v : values) {
    if (std::isnan(v)) return out;
  }
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  for (int i = 0; i < kSummaryQuantileCount; ++i) {
    const double h = double(n - 1) * kSummaryQuantiles[i];
    const size_t lo = size_t(std::floor(h));
    out[size_t(i)] =
        lo + 1 < n ? values[lo] + (h - double(lo)) * (values[lo + 1] - values[lo]) : values[lo];
  }
  return out;
}

// The summaries of `all` computed cell by cell from whole replicates.
DistributionSummaries brute_summaries(const std::vector<ReplicateResult>& all,
                                      const ResultShape& s) {
  constexpr int Q = kSummaryQuantileCount;
  DistributionSummaries out;
  out.headcount.resize(size_t(Q) * s.steps * s.labs * s.tiers);
  out.total_headcount.resize(size_t(Q) * s.steps * s.labs);
  out.share.resize(out.total_headcount.size());
  for (int t = 0; t < s.steps; ++t) {
    for (int l = 0; l < s.labs; ++l) {
      for (int k = 0; k < s.tiers; ++k) {
        std::vector<double> values;
        for (const auto& r : all) values.push_back(r.headcount[r.tlk(t, l, k)]);
        const auto p = brute_percentiles(values);
        for (int q = 0; q < Q; ++q) {
          out.headcount[((size_t(q) * s.steps + t) * s.labs + l) * s.tiers + k] = p[size_t(q)];
        }
      }
      std::vector<double> totals, shares;
      for (const auto& r : all) {
        std::int64_t total = 0;
        for (int k = 0; k < s.tiers; ++k) total += r.headcount[r.tlk(t, l, k)];
        totals.push_back(double(total));
        double sum = 0;
        for (int m = 0; m < s.labs; ++m) sum += r.star_power[r.tl(t, m)];
        shares.push_back(sum == 0 ? 0.0 : r.star_power[r.tl(t, l)] / sum);
      }
      const auto pt = brute_percentiles(totals);
      const auto ps = brute_percentiles(shares);
      for (int q = 0; q < Q; ++q) {
        out.total_headcount[(size_t(q) * s.steps + t) * s.labs + l] = pt[size_t(q)];
        out.share[(size_t(q) * s.steps + t) * s.labs + l] = ps[size_t(q)];
      }
    }
  }
  return out;
}

void expect_same_values(const std::vector<double>& got, const std::vector<double>& want,
                        const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!same_double(got[i], want[i]) && reported++ < 5) {
      ADD_FAILURE() << what << "[" << i << "] is " << got[i] << ", expected " << want[i];
    }
  }
}

void expect_same_summaries(const DistributionSummaries& got, const DistributionSummaries& want) {
  expect_same_values(got.headcount, want.headcount, "headcount");
  expect_same_values(got.total_headcount, want.total_headcount, "total_headcount");
  expect_same_values(got.share, want.share, "share");
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Opens an HDF5 file read-write for forging, with HDF5's printing off.
class ForgeFile {
 public:
  explicit ForgeFile(const fs::path& p) {
    H5Eget_auto2(H5E_DEFAULT, &print_, &print_data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    id_ = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    EXPECT_GE(id_, 0) << p;
  }
  ~ForgeFile() {
    if (id_ >= 0) H5Fclose(id_);
    H5Eset_auto2(H5E_DEFAULT, print_, print_data_);
  }
  ForgeFile(const ForgeFile&) = delete;
  ForgeFile& operator=(const ForgeFile&) = delete;
  hid_t id() const { return id_; }

  void replace_int_attribute(const char* name, int value) {
    ASSERT_GE(H5Adelete(id_, name), 0);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(id_, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(attr, 0);
    ASSERT_GE(H5Awrite(attr, H5T_NATIVE_INT, &value), 0);
    H5Aclose(attr);
    H5Sclose(space);
  }
  void replace_string_attribute(const char* name, const std::string& value) {
    ASSERT_GE(H5Adelete(id_, name), 0);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.size());
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(id_, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(attr, 0);
    ASSERT_GE(H5Awrite(attr, type, value.data()), 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  H5E_auto2_t print_ = nullptr;
  void* print_data_ = nullptr;
};

class ResultsFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_test_dir("talentsim-results"); }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Writes a complete file of the given shape, replicates in reverse order.
  std::vector<ReplicateResult> write_file(const fs::path& dest, const ResultShape& s,
                                          std::int64_t replicates = 3) {
    std::vector<ReplicateResult> all;
    for (std::int64_t r = 0; r < replicates; ++r) all.push_back(sample_replicate(r, s));
    ResultsWriter writer(dest, sample_meta(s, replicates), s, /*overwrite=*/true);
    for (std::int64_t r = replicates - 1; r >= 0; --r) writer.write(all[size_t(r)]);
    writer.commit();
    return all;
  }

  fs::path dir_;
};

// --- round trips ---------------------------------------------------------

class RoundTrip : public ResultsFileTest, public ::testing::WithParamInterface<ResultShape> {};

TEST_P(RoundTrip, ArraysAndMetadataComeBackExactly) {
  const ResultShape shape = GetParam();
  const std::int64_t replicates = 3;
  const RunMetadata meta = sample_meta(shape, replicates);
  std::vector<ReplicateResult> written;
  for (std::int64_t r = 0; r < replicates; ++r) written.push_back(sample_replicate(r, shape));

  const fs::path dest = dir_ / "out.h5";
  {
    ResultsWriter writer(dest, meta, shape, /*overwrite=*/false);
    for (const std::int64_t r : {2, 0, 1}) writer.write(written[size_t(r)]);  // out of order
    writer.commit();
  }
  const talentsim::ResultsFile file = read_results(dest);

  EXPECT_EQ(file.shape.steps, shape.steps);
  EXPECT_EQ(file.shape.labs, shape.labs);
  EXPECT_EQ(file.shape.tiers, shape.tiers);
  EXPECT_EQ(file.shape.named, shape.named);
  EXPECT_EQ(file.shape.questions, shape.questions);
  expect_same_meta(file.meta, meta);
  ASSERT_EQ(file.replicates.size(), written.size());
  for (size_t r = 0; r < written.size(); ++r) expect_same_replicate(file.replicates[r], written[r]);

  // The same, one replicate at a time, and the summaries.
  const RunReader reader(dest);
  expect_same_meta(reader.meta(), meta);
  EXPECT_EQ(reader.attributes(), file.attributes);
  for (const std::int64_t r : {1, 0, 2}) expect_same_replicate(reader.read(r), written[size_t(r)]);
  EXPECT_THROW(reader.read(3), InternalError);
  EXPECT_THROW(reader.read(-1), InternalError);
  expect_same_summaries(reader.summaries(), brute_summaries(written, shape));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RoundTrip,
    ::testing::Values(ResultShape{.steps = 4, .labs = 3, .tiers = 2, .named = 2, .questions = 2},
                      ResultShape{.steps = 4, .labs = 3, .tiers = 2, .named = 0, .questions = 0},
                      ResultShape{.steps = 1, .labs = 1, .tiers = 1, .named = 1, .questions = 3},
                      ResultShape{.steps = 0, .labs = 2, .tiers = 1, .named = 0, .questions = 1},
                      ResultShape{.steps = 3, .labs = 0, .tiers = 2, .named = 1, .questions = 0}),
    [](const auto& info) {
      const ResultShape& s = info.param;
      return "T" + std::to_string(s.steps) + "L" + std::to_string(s.labs) + "K" +
             std::to_string(s.tiers) + "N" + std::to_string(s.named) + "Q" +
             std::to_string(s.questions);
    });

// Files written before question_numerator and question_denominator existed
// (same format version) read as value / 1, which is what they held.
TEST_F(ResultsFileTest, AFileWithoutQuestionRatiosReadsAsValueOverOne) {
  const ResultShape shape{.steps = 3, .labs = 2, .tiers = 1, .named = 0, .questions = 2};
  const fs::path dest = dir_ / "older.h5";
  std::vector<ReplicateResult> written;
  {
    ResultsWriter writer(dest, sample_meta(shape, 2), shape, /*overwrite=*/false);
    for (std::int64_t r = 0; r < 2; ++r) {
      written.push_back(sample_replicate(r, shape));
      writer.write(written.back());
    }
    writer.commit();
  }
  {
    ForgeFile f(dest);
    ASSERT_GE(H5Ldelete(f.id(), "question_numerator", H5P_DEFAULT), 0);
    ASSERT_GE(H5Ldelete(f.id(), "question_denominator", H5P_DEFAULT), 0);
  }
  const RunReader reader(dest);
  for (std::int64_t r = 0; r < 2; ++r) {
    ReplicateResult want = written[size_t(r)];
    want.question_numerator = want.question_value;
    want.question_denominator.assign(want.question_value.size(), 1.0);
    expect_same_replicate(reader.read(r), want);
  }
}

// --- distribution summaries ----------------------------------------------

class Summaries : public ResultsFileTest {
 protected:
  void TearDown() override {
    talentsim::summaries::block_bytes = talentsim::summaries::kDefaultBlockBytes;
    talentsim::summaries::chunks_per_read = talentsim::summaries::kDefaultChunksPerRead;
    talentsim::layout::time_chunk_steps = talentsim::layout::kTimeChunkSteps;
    talentsim::layout::replicate_chunk = talentsim::layout::kReplicateChunk;
    talentsim::layout::writer_buffer_bytes = talentsim::layout::kWriterBufferBytes;
    ResultsFileTest::TearDown();
  }

  // Replicates with ties, a step whose star power sums to 0 (share 0), NaN
  // and infinities (from sample_replicate) and negative values.
  static std::vector<ReplicateResult> replicates(const ResultShape& s, std::int64_t count) {
    std::vector<ReplicateResult> all;
    for (std::int64_t r = 0; r < count; ++r) {
      ReplicateResult x = sample_replicate(r, s);
      for (int t = 0; t < s.steps; ++t) {
        for (int l = 0; l < s.labs; ++l) {
          for (int k = 0; k < s.tiers; ++k) {
            x.headcount[x.tlk(t, l, k)] = std::int32_t((r * 7 + t * 3 + l + k) % 5 + 100 * t);
          }
          if (t == 4) x.star_power[x.tl(t, l)] = 0.0;
        }
      }
      all.push_back(std::move(x));
    }
    return all;
  }

  DistributionSummaries write_and_summarize(const ResultShape& s,
                                            const std::vector<ReplicateResult>& all) {
    const fs::path dest = dir_ / "summaries.h5";
    fs::remove(dest);
    ResultsWriter writer(dest, sample_meta(s, std::int64_t(all.size())), s, false);
    for (auto it = all.rbegin(); it != all.rend(); ++it) writer.write(*it);
    writer.commit();
    return RunReader(dest).summaries();
  }
};

TEST_F(Summaries, MatchABruteForceComputation) {
  const ResultShape s{.steps = 6, .labs = 3, .tiers = 2, .named = 1, .questions = 1};
  for (const std::int64_t count : {7, 1, 2, 20}) {
    const auto all = replicates(s, count);
    const DistributionSummaries want = brute_summaries(all, s);
    SCOPED_TRACE(count);
    expect_same_summaries(write_and_summarize(s, all), want);
  }
}

TEST_F(Summaries, AreTheSameComputedInSeveralBlocksOfSteps) {
  const ResultShape s{.steps = 6, .labs = 3, .tiers = 2, .named = 0, .questions = 0};
  const auto all = replicates(s, 9);
  const DistributionSummaries want = brute_summaries(all, s);
  for (const size_t bytes : {size_t{1}, size_t{2000}, size_t{3000}}) {  // 6, 3, 2 blocks
    talentsim::summaries::block_bytes = bytes;
    SCOPED_TRACE(bytes);
    expect_same_summaries(write_and_summarize(s, all), want);
  }
}

TEST_F(Summaries, BlocksHoldWhatTheCapAllows) {
  using talentsim::summaries::steps_per_block;
  const ResultShape s{.steps = 157, .labs = 12, .tiers = 3, .named = 0, .questions = 0};
  EXPECT_EQ(steps_per_block(200, s), 157);  // 200 replicates: all steps at once
  const std::int64_t b = steps_per_block(2000, s);
  EXPECT_LT(b, 157);
  EXPECT_GE(b, 1);
  EXPECT_EQ(steps_per_block(100'000'000, s), 1);  // never less than one step
  talentsim::summaries::block_bytes = 1;
  EXPECT_EQ(steps_per_block(3, s), 1);
}

TEST_F(Summaries, AreTheSameWhateverTheChunksBlocksAndReads) {
  namespace sm = talentsim::summaries;
  // 11 replicates in chunks of 4 (a partial last row) or all 11 (16
  // clamped); 13 steps in chunks of 1, 2, 4 and 5 steps (a partial last
  // chunk) or all 13 (16 clamped); blocks of 1 step up to all 13 (per step, 11 replicates
  // take 528 bytes and their percentiles 480): parts of a chunk, whole
  // chunks, several chunks and a partial last block; reads of 1 chunk (so a
  // row of them) or the default.
  const ResultShape s{.steps = 13, .labs = 3, .tiers = 2, .named = 1, .questions = 0};
  const auto all = replicates(s, 11);
  const DistributionSummaries want = brute_summaries(all, s);
  std::vector<DistributionSummaries> got;
  for (const std::int64_t rows : {4, 16}) {
    for (const std::int64_t chunk : {1, 2, 4, 5, 16}) {
      for (const size_t bytes :
           {size_t{1}, size_t{3000}, size_t{5000}, size_t{6100}, sm::kDefaultBlockBytes}) {
        for (const size_t reads : {size_t{1}, sm::kDefaultChunksPerRead}) {
          talentsim::layout::replicate_chunk = rows;
          talentsim::layout::time_chunk_steps = chunk;
          sm::block_bytes = bytes;
          sm::chunks_per_read = reads;
          SCOPED_TRACE(testing::Message()
                       << rows << " replicates by " << chunk << " steps per chunk, block bytes "
                       << bytes << ", chunks per read " << reads);
          got.push_back(write_and_summarize(s, all));
          expect_same_summaries(got.back(), want);
          // Bit for bit, -0.0 and NaN included.
          EXPECT_TRUE(bit_identical(got.back().headcount, got.front().headcount));
          EXPECT_TRUE(bit_identical(got.back().total_headcount, got.front().total_headcount));
          EXPECT_TRUE(bit_identical(got.back().share, got.front().share));
        }
      }
    }
  }
}

TEST_F(Summaries, TimeChunksAreAsManyStepsAsTheBlocksHold) {
  using talentsim::summaries::time_chunk_steps;
  const ResultShape s{.steps = 157, .labs = 13, .tiers = 3, .named = 10, .questions = 5};
  // 260 bytes per replicate and step, 12 MiB (3/4 of 16): 16 steps up to
  // ~3,000 replicates, then blocks of equal size that fit.
  EXPECT_EQ(time_chunk_steps(1, s, 16), 16);
  EXPECT_EQ(time_chunk_steps(3000, s, 16), 16);
  EXPECT_EQ(time_chunk_steps(5000, s, 16), 9);    // 9 fit; 18 blocks of 9 (the last 4)
  EXPECT_EQ(time_chunk_steps(10'000, s, 16), 4);  // 4 fit
  EXPECT_EQ(time_chunk_steps(100'000'000, s, 16), 1);
  EXPECT_EQ(time_chunk_steps(10, ResultShape{.steps = 5, .labs = 1, .tiers = 1}, 16), 5);
  // Blocks follow the chunks, so each chunk is read once.
  for (const std::int64_t r : {1000, 5000, 10'000, 30'000}) {
    const std::int64_t tc = time_chunk_steps(r, s, 16);
    EXPECT_EQ(talentsim::summaries::steps_per_block(r, s, tc) % tc, 0) << r;
  }
}

TEST_F(Summaries, BlocksAreWholeChunksOrPartsOfOne) {
  using talentsim::summaries::steps_per_block;
  const ResultShape s{.steps = 157, .labs = 10, .tiers = 3, .named = 0, .questions = 0};
  // 200 bytes per replicate and step, 2,000 of percentiles, 16 MiB: all
  // steps, then 5 chunks of 16 in each of 2 blocks, then one chunk, then
  // half of one.
  EXPECT_EQ(steps_per_block(100, s, 16), 157);
  EXPECT_EQ(steps_per_block(1000, s, 16), 80);
  EXPECT_EQ(steps_per_block(5000, s, 16), 16);
  EXPECT_EQ(steps_per_block(10'000, s, 16), 8);
  for (const size_t bytes : {size_t{1}, size_t{100'000}, size_t{1} << 20, size_t{16} << 20}) {
    talentsim::summaries::block_bytes = bytes;
    for (const std::int64_t chunk : {1, 5, 16, 157, 200}) {
      for (const std::int64_t r : {1, 10, 100, 1000, 10'000, 100'000}) {
        const std::int64_t b = steps_per_block(r, s, chunk);
        const std::int64_t c = std::min<std::int64_t>(chunk, s.steps);
        SCOPED_TRACE(testing::Message() << bytes << " bytes, chunk " << chunk << ", " << r);
        ASSERT_GE(b, 1);
        ASSERT_LE(b, s.steps);
        EXPECT_TRUE(b == s.steps || b % c == 0 || c % b == 0) << b;
        const size_t per_step = size_t(r) * 200 + 2000;
        EXPECT_TRUE(b == 1 || size_t(b) * per_step <= bytes) << b;
        // Never fewer steps than the cap and the chunks allow.
        if (size_t(c) * per_step <= bytes) {
          EXPECT_GE(b, c);
        }
      }
    }
  }
}

TEST_F(Summaries, VariablesAreChunkedByReplicatesAndSteps) {
  const ResultShape s{.steps = 40, .labs = 3, .tiers = 2, .named = 2, .questions = 1};
  const fs::path dest = dir_ / "chunks.h5";
  const std::int64_t replicates = 5;
  for (const auto& [rows, chunk] :
       {std::pair{talentsim::layout::kReplicateChunk, talentsim::layout::kTimeChunkSteps},
        std::pair{std::int64_t{2}, std::int64_t{64}},
        std::pair{std::int64_t{1}, std::int64_t{16}}}) {
    talentsim::layout::replicate_chunk = rows;
    talentsim::layout::time_chunk_steps = chunk;
    const hsize_t rc = hsize_t(std::min<std::int64_t>(rows, replicates));
    const hsize_t tc = hsize_t(std::min<std::int64_t>(chunk, s.steps));
    fs::remove(dest);
    ResultsWriter writer(dest, sample_meta(s, replicates), s, false);
    for (std::int64_t r = 0; r < replicates; ++r) writer.write(sample_replicate(r, s));
    writer.commit();

    const std::vector<std::pair<const char*, std::vector<hsize_t>>> want = {
        {"headcount", {rc, tc, 3, 2}},    {"hires", {rc, tc, 3, 2}},
        {"departures", {rc, tc, 3, 2}},   {"star_power", {rc, tc, 3}},
        {"named_lab", {rc, tc, 2}},       {"flows", {rc, 3, 3, 2}},
        {"question_value", {rc, 1}},      {"question_numerator", {rc, 1}},
        {"question_denominator", {rc, 1}}};
    const hid_t file = H5Fopen(dest.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    for (const auto& [name, dims] : want) {
      SCOPED_TRACE(testing::Message() << name << ", rows " << rows << ", chunk " << chunk);
      const hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
      ASSERT_GE(dataset, 0);
      const hid_t dcpl = H5Dget_create_plist(dataset);
      EXPECT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED);
      std::vector<hsize_t> got(4, 0);
      const int rank = H5Pget_chunk(dcpl, 4, got.data());
      ASSERT_GE(rank, 0);
      got.resize(size_t(rank));
      EXPECT_EQ(got, dims);
      EXPECT_EQ(H5Pget_nfilters(dcpl), 2);  // shuffle, deflate
      unsigned flags = 0, values[1] = {0};
      size_t count = 1;
      EXPECT_EQ(H5Pget_filter2(dcpl, 0, &flags, &count, values, 0, nullptr, nullptr),
                H5Z_FILTER_SHUFFLE);
      count = 1;
      EXPECT_EQ(H5Pget_filter2(dcpl, 1, &flags, &count, values, 0, nullptr, nullptr),
                H5Z_FILTER_DEFLATE);
      H5Pclose(dcpl);
      H5Dclose(dataset);
    }
    H5Fclose(file);
    // Each chunk stored once, whole: rows of replicates by blocks of steps.
    const hid_t again = H5Fopen(dest.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t headcount = H5Dopen2(again, "headcount", H5P_DEFAULT);
    const hid_t space = H5Dget_space(headcount);
    hsize_t chunks = 0;
    EXPECT_GE(H5Dget_num_chunks(headcount, space, &chunks), 0);
    EXPECT_EQ(chunks, ((replicates + rc - 1) / rc) * ((s.steps + tc - 1) / tc));
    H5Sclose(space);
    H5Dclose(headcount);
    H5Fclose(again);
    EXPECT_EQ(RunReader(dest).read(replicates - 1).headcount,
              sample_replicate(replicates - 1, s).headcount);
  }
}

// Chunks of several replicates: whatever the order the replicates come in,
// however many there are, and however many rows the writer may hold (down
// to two, so that rows are written before they are whole and the rest
// merged in later), every value comes back bit for bit and the summaries
// are exact.
class ChunkRows : public Summaries {
 protected:
  void write_and_check(const ResultShape& s, const std::vector<ReplicateResult>& all,
                       const std::vector<std::int64_t>& order) {
    const fs::path dest = dir_ / "rows.h5";
    fs::remove(dest);
    {
      ResultsWriter writer(dest, sample_meta(s, std::int64_t(all.size())), s, false);
      for (const std::int64_t r : order) writer.write(all[size_t(r)]);
      writer.commit();
    }
    const RunReader reader(dest);
    std::vector<std::int64_t> backwards = order;
    std::reverse(backwards.begin(), backwards.end());
    for (const std::int64_t r : backwards) expect_same_replicate(reader.read(r), all[size_t(r)]);
    expect_same_summaries(reader.summaries(), brute_summaries(all, s));
  }

  static std::vector<std::int64_t> shuffled(std::int64_t n, std::uint32_t seed) {
    std::vector<std::int64_t> order(static_cast<size_t>(n));
    for (std::int64_t r = 0; r < n; ++r) order[size_t(r)] = r;
    for (size_t i = order.size(); i > 1; --i) {
      seed = seed * 1664525u + 1013904223u;
      std::swap(order[i - 1], order[(seed >> 8) % i]);
    }
    return order;
  }
};

TEST_F(ChunkRows, ComeBackExactlyInAnyOrder) {
  const ResultShape s{.steps = 7, .labs = 3, .tiers = 2, .named = 2, .questions = 2};
  talentsim::layout::replicate_chunk = 4;
  talentsim::layout::time_chunk_steps = 3;  // edge chunks on both axes
  for (const std::int64_t count : {11, 12, 1, 3, 4, 5}) {
    const auto all = replicates(s, count);
    std::vector<std::int64_t> ascending = shuffled(count, 0), descending;
    std::sort(ascending.begin(), ascending.end());
    descending.assign(ascending.rbegin(), ascending.rend());
    for (const auto& order : {ascending, descending, shuffled(count, 1), shuffled(count, 2)}) {
      SCOPED_TRACE(testing::Message() << count << " replicates, first " << order.front());
      write_and_check(s, all, order);
    }
  }
}

TEST_F(ChunkRows, ComeBackExactlyWhenRowsAreWrittenBeforeTheyAreWhole) {
  const ResultShape s{.steps = 9, .labs = 2, .tiers = 3, .named = 1, .questions = 1};
  talentsim::layout::replicate_chunk = 4;
  talentsim::layout::time_chunk_steps = 4;
  talentsim::layout::writer_buffer_bytes = 1;  // two rows at most
  const std::int64_t count = 18;
  const auto all = replicates(s, count);
  // One replicate of each row in turn: every row opened is pushed out by
  // the next but one, several times over.
  std::vector<std::int64_t> strided;
  for (std::int64_t i = 0; i < 4; ++i) {
    for (std::int64_t r = i; r < count; r += 4) strided.push_back(r);
  }
  write_and_check(s, all, strided);
  write_and_check(s, all, shuffled(count, 3));
}

// A row whose replicates are split between two threads' stretches waits
// for the second thread; once the writer has gone on for 16 rows' worth of
// replicates, it writes the row as it is and completes it later.
TEST_F(ChunkRows, ComeBackExactlyWhenARowWaitsLong) {
  const ResultShape s{.steps = 5, .labs = 2, .tiers = 2, .named = 1, .questions = 1};
  talentsim::layout::replicate_chunk = 2;
  std::int64_t count = 41;
  auto all = replicates(s, count);
  std::vector<std::int64_t> order = {0};
  for (std::int64_t r = 2; r < count; ++r) order.push_back(r);
  order.push_back(1);
  write_and_check(s, all, order);
  // Twice over (rows of 3, so 48 replicates make a row wait long): row 1
  // waits with replicate 3, is written; waits with 4, is written again
  // with 3 read back; and 5 completes it.
  talentsim::layout::replicate_chunk = 3;
  count = 131;
  all = replicates(s, count);
  order = {3};
  for (std::int64_t r = 6; r < 61; ++r) order.push_back(r);
  order.push_back(4);
  for (std::int64_t r = 61; r < 121; ++r) order.push_back(r);
  for (std::int64_t r : {5, 0, 1, 2}) order.push_back(r);
  for (std::int64_t r = 121; r < count; ++r) order.push_back(r);
  write_and_check(s, all, order);
}

TEST_F(ChunkRows, ASingleReplicate) {
  const ResultShape s{.steps = 20, .labs = 3, .tiers = 2, .named = 1, .questions = 1};
  write_and_check(s, replicates(s, 1), {0});
}

// Values the writer's compressor must code every way it can: noise (stored
// blocks), long runs (matches, cut at 258 bytes), runs of 1 and 2, a single
// value, all values, and runs that cross from one plane of bytes to the next.
TEST_F(ChunkRows, AnyValuesComeBackExactly) {
  const ResultShape s{.steps = 64, .labs = 5, .tiers = 4, .named = 3, .questions = 2};
  talentsim::layout::replicate_chunk = 3;
  talentsim::layout::time_chunk_steps = 64;
  std::vector<ReplicateResult> all;
  std::uint64_t noise = 88172645463325252ull;
  auto next = [&] {
    noise ^= noise << 13;
    noise ^= noise >> 7;
    noise ^= noise << 17;
    return noise;
  };
  for (std::int64_t r = 0; r < 7; ++r) {
    ReplicateResult x(s);
    x.replicate = r;
    for (size_t i = 0; i < x.headcount.size(); ++i) {
      x.headcount[i] = std::int32_t(next());                                     // noise
      x.hires[i] = r % 2 == 0 ? 0 : std::int32_t(i / (1 + size_t(r)) % 3);       // runs
      x.departures[i] = std::int32_t(i % 256 == 255 ? next() % 7 : 0x01010101);  // a byte
    }
    for (size_t i = 0; i < x.star_power.size(); ++i) {
      std::uint64_t bits = next();
      double v;
      std::memcpy(&v, &bits, sizeof v);
      x.star_power[i] = r == 3 ? 0.0 : r == 4 ? double(i % 2) : v;  // NaN among them
    }
    for (size_t i = 0; i < x.named_lab.size(); ++i) x.named_lab[i] = std::int32_t(i % 256) - 1;
    for (size_t i = 0; i < x.flows.size(); ++i) x.flows[i] = std::int32_t(next() % 3);
    for (size_t i = 0; i < x.question_value.size(); ++i) x.question_value[i] = double(next());
    all.push_back(std::move(x));
  }
  write_and_check(s, all, {6, 0, 3, 1, 2, 5, 4});
}

TEST_F(Summaries, AreNaNWithoutReplicates) {
  const ResultShape s{.steps = 2, .labs = 2, .tiers = 1, .named = 0, .questions = 0};
  const DistributionSummaries got = write_and_summarize(s, {});
  ASSERT_EQ(got.headcount.size(), size_t(kSummaryQuantileCount) * 2 * 2);
  for (const double v : got.headcount) EXPECT_TRUE(std::isnan(v));
  for (const double v : got.share) EXPECT_TRUE(std::isnan(v));
}

TEST(Percentiles, FollowNumpysDefaultMethod) {
  // numpy.quantile([10, 1, 4, 2], [.05, .25, .5, .75, .95]) (type 7)
  std::vector<double> values = {10, 1, 4, 2};
  std::array<double, 5> out{};
  talentsim::summaries::percentiles(values, out);
  const std::array<double, 5> want = {1.15, 1.75, 3.0, 5.5, 9.1};
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(out[i], want[i], 1e-12) << i;
  std::vector<double> one = {42};
  talentsim::summaries::percentiles(one, out);
  for (const double v : out) EXPECT_EQ(v, 42);
  std::vector<double> with_nan = {1, std::numeric_limits<double>::quiet_NaN(), 3};
  talentsim::summaries::percentiles(with_nan, out);
  for (const double v : out) EXPECT_TRUE(std::isnan(v));
}

// Many values go through buckets rather than selection: the same as a sort,
// with ties, negative values, a spread too wide to bucket and infinities.
TEST(Percentiles, OfManyValuesAreThoseOfASort) {
  std::uint64_t state = 99;
  auto uniform = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return double(state >> 11) * 0x1.0p-53;
  };
  const double inf = std::numeric_limits<double>::infinity();
  for (const size_t n : {63, 64, 65, 100, 1000, 4099}) {
    for (int kind = 0; kind < 6; ++kind) {
      std::vector<double> values;
      for (size_t i = 0; i < n; ++i) {
        const double u = uniform();
        switch (kind) {
          case 0:
            values.push_back(u);
            break;  // spread evenly
          case 1:
            values.push_back(std::floor(u * 7) - 3);
            break;  // ties
          case 2:
            values.push_back(std::pow(u, 40) * 1e6 - 1);
            break;  // skewed
          case 3:
            values.push_back(i % 2 ? -1.7e308 : 1.7e308 * u);
            break;  // too wide
          case 4:
            values.push_back(i == 5 ? -inf : u);
            break;
          default:
            values.push_back(i % 9 == 0 ? 0.25 : 0.5 + u * 1e-12);
            break;
        }
      }
      std::array<double, 5> got{};
      std::vector<double> copy = values;
      talentsim::summaries::percentiles(copy, got);
      const std::vector<double> want = brute_percentiles(values);
      SCOPED_TRACE(testing::Message() << n << " values of kind " << kind);
      for (size_t q = 0; q < 5; ++q) EXPECT_TRUE(same_double(got[q], want[q])) << q;
    }
  }
}

// Integers by counting (narrow range) or as doubles (wide): bit for bit what
// percentiles() gives for the same values as doubles.
TEST(Percentiles, OfIntegersAreThoseOfTheSameDoubles) {
  std::uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  std::vector<std::uint32_t> histogram;
  std::vector<double> scratch;
  for (const std::int64_t spread :
       {std::int64_t{1}, std::int64_t{2}, std::int64_t{7}, std::int64_t{1000},
        std::int64_t{100'000}, std::int64_t{1} << 31}) {
    for (const size_t n : {1, 2, 3, 4, 5, 19, 20, 21, 100, 1001}) {
      std::vector<std::int32_t> ints;
      std::vector<std::int64_t> wide;
      for (size_t i = 0; i < n; ++i) {
        const std::int64_t v = std::int64_t(next() % std::uint64_t(spread)) - spread / 3;
        ints.push_back(std::int32_t(v));
        wide.push_back(v * 3);
      }
      std::vector<double> doubles(ints.begin(), ints.end());
      std::array<double, 5> want{}, got{};
      talentsim::summaries::percentiles(doubles, want);
      talentsim::summaries::integer_percentiles<std::int32_t>(ints, histogram, scratch, got);
      SCOPED_TRACE(testing::Message() << "spread " << spread << ", " << n << " values");
      EXPECT_EQ(std::memcmp(got.data(), want.data(), sizeof want), 0);
      doubles.assign(wide.begin(), wide.end());
      talentsim::summaries::percentiles(doubles, want);
      talentsim::summaries::integer_percentiles<std::int64_t>(wide, histogram, scratch, got);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), sizeof want), 0);
    }
  }
  std::array<double, 5> none{};
  talentsim::summaries::integer_percentiles<std::int32_t>({}, histogram, scratch, none);
  for (const double v : none) EXPECT_TRUE(std::isnan(v));
}

// --- comparison files ----------------------------------------------------

class Comparison : public ResultsFileTest {
 protected:
  // The what-if has one more lab, one more step, a question and one named
  // researcher fewer than the baseline.
  const ResultShape baseline_shape{.steps = 4, .labs = 3, .tiers = 2, .named = 2, .questions = 0};
  const ResultShape whatif_shape{.steps = 5, .labs = 4, .tiers = 2, .named = 1, .questions = 1};
  static constexpr std::int64_t kReplicates = 3;

  RunMetadata baseline_meta() const { return sample_meta(baseline_shape, kReplicates); }
  RunMetadata whatif_meta() const {
    RunMetadata m = sample_meta(whatif_shape, kReplicates);
    m.scenario_name = "what if ✓";
    m.start_date = "2025-03-03";
    m.step_days = 14;
    m.lab_names.back() = "Newco";
    m.scenario_text += "# what-if\n";
    return m;
  }

  void write_comparison(const fs::path& dest) {
    ResultsWriter writer(dest, baseline_meta(), baseline_shape, whatif_meta(), whatif_shape,
                         "talentsim compare a.yaml b.yaml", false);
    for (const std::int64_t r : {2, 0, 1}) {
      writer.write(sample_replicate(r, whatif_shape), 1);
      writer.write(sample_replicate(kReplicates - 1 - r, baseline_shape), 0);
    }
    writer.commit();
  }
};

TEST_F(Comparison, EachRunComesBackExactlyFromItsGroup) {
  const fs::path dest = dir_ / "compare.h5";
  write_comparison(dest);
  EXPECT_EQ(results_file_type(dest), "talentsim-compare");
  for (const auto& [group, shape, meta] :
       {std::tuple{talentsim::kBaselineGroup, baseline_shape, baseline_meta()},
        std::tuple{talentsim::kWhatifGroup, whatif_shape, whatif_meta()}}) {
    SCOPED_TRACE(group);
    const talentsim::ResultsFile file = read_results(dest, group);
    EXPECT_EQ(file.shape.steps, shape.steps);
    EXPECT_EQ(file.shape.labs, shape.labs);
    EXPECT_EQ(file.shape.named, shape.named);
    EXPECT_EQ(file.shape.questions, shape.questions);
    expect_same_meta(file.meta, meta);
    std::vector<ReplicateResult> written;
    for (std::int64_t r = 0; r < kReplicates; ++r) written.push_back(sample_replicate(r, shape));
    ASSERT_EQ(file.replicates.size(), written.size());
    for (size_t r = 0; r < written.size(); ++r) {
      expect_same_replicate(file.replicates[r], written[r]);
    }
    EXPECT_EQ(file.attributes.at("scenario_name"), meta.scenario_name);
    EXPECT_EQ(file.attributes.at("start_date"), meta.start_date);
    EXPECT_EQ(file.attributes.at("step_days"), std::to_string(meta.step_days));
    EXPECT_EQ(file.attributes.at("scenario"), meta.scenario_text);
    expect_same_summaries(RunReader(dest, group).summaries(), brute_summaries(written, shape));
  }
}

// Root attributes read with the HDF5 C API: the reader has no use for them.
std::string root_text_attribute(const fs::path& path, const char* name) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t attribute = H5Aopen(file, name, H5P_DEFAULT);
  const hid_t type = H5Aget_type(attribute);
  std::string value(H5Tget_size(type), '\0');
  const bool ok = attribute >= 0 && H5Aread(attribute, type, value.data()) >= 0;
  H5Tclose(type);
  H5Aclose(attribute);
  H5Fclose(file);
  return ok ? value.substr(0, value.find('\0')) : "<unreadable " + std::string(name) + ">";
}

TEST_F(Comparison, RootAttributesDescribeTheComparison) {
  const fs::path dest = dir_ / "compare.h5";
  write_comparison(dest);
  EXPECT_EQ(root_text_attribute(dest, "file_type"), "talentsim-compare");
  EXPECT_EQ(root_text_attribute(dest, "baseline_name"), baseline_meta().scenario_name);
  EXPECT_EQ(root_text_attribute(dest, "whatif_name"), whatif_meta().scenario_name);
  EXPECT_EQ(root_text_attribute(dest, "command_line"), "talentsim compare a.yaml b.yaml");
  EXPECT_EQ(root_text_attribute(dest, "software_version"), talentsim::kSoftwareVersion);
}

TEST_F(Comparison, RejectsMisuse) {
  const fs::path dest = dir_ / "compare.h5";
  RunMetadata other_seed = whatif_meta();
  other_seed.seed += 1;
  EXPECT_THROW(
      ResultsWriter(dest, baseline_meta(), baseline_shape, other_seed, whatif_shape, "", false),
      InternalError);
  RunMetadata no_questions = whatif_meta();
  no_questions.questions.clear();
  EXPECT_THROW(
      ResultsWriter(dest, baseline_meta(), baseline_shape, no_questions, whatif_shape, "", false),
      InternalError);
  ResultsWriter writer(dest, baseline_meta(), baseline_shape, whatif_meta(), whatif_shape, "",
                       false);
  EXPECT_THROW(writer.write(sample_replicate(0, baseline_shape), 2), InternalError);
  EXPECT_THROW(writer.write(sample_replicate(0, baseline_shape), -1), InternalError);
  EXPECT_THROW(writer.write(sample_replicate(0, baseline_shape), 1), InternalError);  // shape
  for (std::int64_t r = 0; r < kReplicates; ++r) writer.write(sample_replicate(r, baseline_shape));
  writer.write(sample_replicate(0, whatif_shape), 1);
  try {
    writer.commit();
    FAIL() << "an incomplete what-if run was committed";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("1 of 3 replicates of the whatif run"), std::string::npos)
        << e.what();
  }
}

TEST_F(Comparison, RunFileRejectsASecondRun) {
  const ResultShape shape{.steps = 1, .labs = 1, .tiers = 1, .named = 0};
  ResultsWriter writer(dir_ / "out.h5", sample_meta(shape, 1), shape, false);
  EXPECT_THROW(writer.write(sample_replicate(0, shape), 1), InternalError);
}

TEST_F(ResultsFileTest, RootAttributesDescribeTheRun) {
  const ResultShape shape{.steps = 2, .labs = 2, .tiers = 1, .named = 0};
  const fs::path dest = dir_ / "out.h5";
  write_file(dest, shape);
  const RunMetadata meta = sample_meta(shape, 3);
  const auto attrs = read_results(dest).attributes;
  auto attr = [&](const std::string& key) {
    const auto it = attrs.find(key);
    return it == attrs.end() ? std::string("<missing " + key + ">") : it->second;
  };
  EXPECT_EQ(attr("title"), "talentsim results");
  EXPECT_EQ(attr("file_type"), "talentsim-run");
  EXPECT_EQ(attr("Conventions"), "CF-1.8");
  EXPECT_EQ(attr("file_format_version"), std::to_string(talentsim::kFileFormatVersion));
  EXPECT_EQ(attr("software_version"), talentsim::kSoftwareVersion);
  EXPECT_EQ(attr("git_commit"), talentsim::kGitCommit);
  EXPECT_EQ(attr("scenario_name"), meta.scenario_name);
  EXPECT_EQ(attr("scenario"), meta.scenario_text);
  EXPECT_EQ(attr("seed"), std::to_string(meta.seed));
  EXPECT_EQ(attr("replicates"), "3");
  EXPECT_EQ(attr("step_days"), "7");
  EXPECT_EQ(attr("start_date"), "2025-01-06");
  EXPECT_EQ(attr("command_line"), meta.command_line);
  EXPECT_FALSE(is_utc_timestamp("2026-11-27 03:04:05Z"));  // the check can fail
  EXPECT_TRUE(is_utc_timestamp(attr("created"))) << attr("created");
}

TEST_F(ResultsFileTest, EmptyTextRoundTrips) {
  const ResultShape shape{.steps = 1, .labs = 1, .tiers = 1, .named = 0};
  RunMetadata meta = sample_meta(shape, 1);
  meta.command_line = "";
  meta.scenario_text = "";
  const fs::path dest = dir_ / "out.h5";
  ResultsWriter writer(dest, meta, shape, false);
  writer.write(sample_replicate(0, shape));
  writer.commit();
  const auto file = read_results(dest);
  EXPECT_EQ(file.meta.command_line, "");
  EXPECT_EQ(file.meta.scenario_text, "");
  EXPECT_EQ(file.attributes.at("command_line"), "");
}

// --- the temporary file --------------------------------------------------

TEST_F(ResultsFileTest, TemporaryFileLiesBesideTheDestination) {
  const ResultShape shape{.steps = 1, .labs = 1, .tiers = 1, .named = 0};
  const fs::path dest = dir_ / "out.h5";
  ResultsWriter writer(dest, sample_meta(shape, 1), shape, false);
  EXPECT_EQ(writer.destination(), dest);
  EXPECT_EQ(writer.temporary_path().parent_path(), dest.parent_path());
  EXPECT_EQ(writer.temporary_path().filename().string().rfind("out.h5.tmp.", 0), 0u)
      << writer.temporary_path();
  EXPECT_TRUE(fs::exists(writer.temporary_path()));
  EXPECT_FALSE(fs::exists(dest));
}

TEST_F(ResultsFileTest, DestructionWithoutCommitRemovesTheTemporaryFile) {
  const ResultShape shape{.steps = 2, .labs = 2, .tiers = 2, .named = 1};
  const fs::path dest = dir_ / "out.h5";
  fs::path temporary;
  {
    ResultsWriter writer(dest, sample_meta(shape, 2), shape, false);
    temporary = writer.temporary_path();
    writer.write(sample_replicate(1, shape));
    EXPECT_TRUE(fs::exists(temporary));
  }
  EXPECT_FALSE(fs::exists(temporary));
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(ResultsFileTest, CommitMovesTheTemporaryFileIntoPlace) {
  const ResultShape shape{.steps = 2, .labs = 2, .tiers = 2, .named = 1};
  const fs::path dest = dir_ / "out.h5";
  ResultsWriter writer(dest, sample_meta(shape, 1), shape, false);
  writer.write(sample_replicate(0, shape));
  writer.commit();
  EXPECT_FALSE(fs::exists(writer.temporary_path()));
  EXPECT_TRUE(fs::is_regular_file(dest));
  EXPECT_THROW(writer.commit(), InternalError);
  EXPECT_THROW(writer.write(sample_replicate(0, shape)), InternalError);
}

TEST_F(ResultsFileTest, IncompleteFileIsNotCommitted) {
  const ResultShape shape{.steps = 2, .labs = 2, .tiers = 1, .named = 0};
  const fs::path dest = dir_ / "out.h5";
  fs::path temporary;
  {
    ResultsWriter writer(dest, sample_meta(shape, 3), shape, false);
    temporary = writer.temporary_path();
    writer.write(sample_replicate(0, shape));
    writer.write(sample_replicate(2, shape));
    try {
      writer.commit();
      FAIL() << "commit of 2 of 3 replicates succeeded";
    } catch (const RunError& e) {
      EXPECT_NE(std::string(e.what()).find("2 of 3"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(temporary));
}

// --- destinations --------------------------------------------------------

TEST_F(ResultsFileTest, RefusesAnExistingDestinationWithoutOverwrite) {
  const ResultShape shape{.steps = 1, .labs = 1, .tiers = 1, .named = 0};
  const fs::path dest = dir_ / "out.h5";
  std::ofstream(dest) << "precious";
  try {
    ResultsWriter writer(dest, sample_meta(shape, 1), shape, /*overwrite=*/false);
    FAIL() << "an existing destination was accepted";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(dest.string()), std::string::npos) << message;
    EXPECT_NE(message.find("--force"), std::string::npos) << message;
    EXPECT_NE(message.find("-o"), std::string::npos) << message;
  }
  EXPECT_EQ(slurp(dest), "precious");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(ResultsFileTest, OverwritesAnExistingDestinationWhenAllowed) {
  const ResultShape shape{.steps = 3, .labs = 2, .tiers = 2, .named = 1};
  const fs::path dest = dir_ / "out.h5";
  std::ofstream(dest) << "old results";
  ResultsWriter writer(dest, sample_meta(shape, 1), shape, /*overwrite=*/true);
  EXPECT_EQ(slurp(dest), "old results");  // untouched until commit
  writer.write(sample_replicate(0, shape));
  writer.commit();
  const auto file = read_results(dest);
  ASSERT_EQ(file.replicates.size(), 1u);
  expect_same_replicate(file.replicates[0], sample_replicate(0, shape));
}

TEST_F(ResultsFileTest, RefusesADirectoryAsDestination) {
  const ResultShape shape{.steps = 1, .labs = 1, .tiers = 1, .named = 0};
  fs::create_directory(dir_ / "out.h5");
  EXPECT_THROW(ResultsWriter(dir_ / "out.h5", sample_meta(shape, 1), shape, true), InputError);
}

TEST_F(ResultsFileTest, CreatesMissingParentDirectories) {
  const ResultShape shape{.steps = 1, .labs = 1, .tiers = 1, .named = 0};
  const fs::path dest = dir_ / "results" / "nested" / "out.h5";
  write_file(dest, shape, 1);
  EXPECT_TRUE(fs::is_regular_file(dest));
}

TEST_F(ResultsFileTest, UnwritableDirectoryIsARunError) {
  // Tests run as root, so permissions cannot make a directory unwritable; a
  // path through a regular file cannot be created by anyone.
  const ResultShape shape{.steps = 1, .labs = 1, .tiers = 1, .named = 0};
  std::ofstream(dir_ / "file.txt") << "not a directory";
  const fs::path dest = dir_ / "file.txt" / "sub" / "out.h5";
  try {
    ResultsWriter writer(dest, sample_meta(shape, 1), shape, false);
    FAIL() << "a destination under a regular file was accepted";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find(dest.string()), std::string::npos) << e.what();
  }
}

TEST_F(ResultsFileTest, HdfCreationFailureIsAQuietRunErrorWithTheReason) {
  // A directory squatting on the temporary file's name makes H5Fcreate fail.
  const ResultShape shape{.steps = 1, .labs = 1, .tiers = 1, .named = 0};
  const fs::path dest = dir_ / "out.h5";
  const fs::path squatter = dir_ / ("out.h5.tmp." + std::to_string(::getpid()));
  fs::create_directory(squatter);
  ::testing::internal::CaptureStderr();
  std::string message;
  try {
    ResultsWriter writer(dest, sample_meta(shape, 1), shape, false);
  } catch (const RunError& e) {
    message = e.what();
  }
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(message.find(squatter.string()), std::string::npos) << message;
  EXPECT_NE(message.find("Is a directory"), std::string::npos) << message;
  EXPECT_EQ(printed, "") << "HDF5 printed its error stack";
  EXPECT_TRUE(fs::is_directory(squatter)) << "the writer removed what it did not create";
}

// Writes into `dest` under a file-size limit, standing in for a full disk,
// and returns 0 only if the writer threw RunError (reported on stderr) and
// removed its temporary file. Meant for a child process: the limit stays.
int write_until_the_disk_is_full(const fs::path& dest) {
  std::signal(SIGXFSZ, SIG_IGN);  // fail the write with EFBIG instead
  const rlimit limit{.rlim_cur = 512 * 1024, .rlim_max = 512 * 1024};
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) return 4;
  const ResultShape shape{.steps = 100, .labs = 20, .tiers = 5, .named = 10};
  fs::path temporary;
  std::uint32_t noise = 12345;  // incompressible values, so the limit is reached
  try {
    ResultsWriter writer(dest, sample_meta(shape, 100), shape, false);
    temporary = writer.temporary_path();
    for (std::int64_t r = 0; r < 100; ++r) {
      ReplicateResult result = sample_replicate(r, shape);
      for (auto& v : result.headcount) v = std::int32_t(noise = noise * 1664525u + 1013904223u);
      writer.write(result);
    }
    writer.commit();
    return 5;
  } catch (const RunError& e) {
    std::fprintf(stderr, "RunError: %s\n", e.what());
  }
  return !temporary.empty() && !fs::exists(temporary) && !fs::exists(dest) ? 0 : 3;
}

TEST_F(ResultsFileTest, WriteFailureIsARunErrorAndTheProcessStillExitsCleanly) {
  // exit() in the child also runs HDF5's cleanup if it was installed, which
  // crashes after a failed close in HDF5 1.10 (see hdf5_support.cpp).
  const fs::path dest = dir_ / "big.h5";
  EXPECT_EXIT(std::exit(write_until_the_disk_is_full(dest)), ::testing::ExitedWithCode(0),
              "RunError: cannot write .*: File too large");
}

// --- misuse by the caller ------------------------------------------------

TEST_F(ResultsFileTest, RejectsReplicatesThatDoNotFit) {
  const ResultShape shape{.steps = 2, .labs = 2, .tiers = 1, .named = 1};
  ResultsWriter writer(dir_ / "out.h5", sample_meta(shape, 2), shape, false);
  EXPECT_THROW(writer.write(sample_replicate(2, shape)), InternalError);
  EXPECT_THROW(writer.write(sample_replicate(-1, shape)), InternalError);
  ResultShape other = shape;
  other.tiers = 2;
  EXPECT_THROW(writer.write(sample_replicate(0, other)), InternalError);
  ReplicateResult short_one = sample_replicate(0, shape);
  short_one.star_power.pop_back();
  EXPECT_THROW(writer.write(short_one), InternalError);
  other = shape;
  other.questions = 1;
  EXPECT_THROW(writer.write(sample_replicate(0, other)), InternalError);
  ReplicateResult long_one = sample_replicate(0, shape);
  long_one.question_value.push_back(1.0);
  EXPECT_THROW(writer.write(long_one), InternalError);
  writer.write(sample_replicate(0, shape));
  EXPECT_THROW(writer.write(sample_replicate(0, shape)), InternalError);
}

TEST_F(ResultsFileTest, RejectsMetadataThatDoesNotMatchTheShape) {
  const ResultShape shape{.steps = 2, .labs = 2, .tiers = 1, .named = 1};
  RunMetadata meta = sample_meta(shape, 1);
  meta.lab_names.pop_back();
  EXPECT_THROW(ResultsWriter(dir_ / "a.h5", meta, shape, false), InternalError);
  meta = sample_meta(shape, 1);
  meta.start_date = "06/01/2025";
  EXPECT_THROW(ResultsWriter(dir_ / "b.h5", meta, shape, false), InternalError);
  meta = sample_meta(shape, 1);
  meta.questions.push_back(QuestionInfo{.id = "extra"});
  EXPECT_THROW(ResultsWriter(dir_ / "c.h5", meta, shape, false), InternalError);
  EXPECT_TRUE(fs::is_empty(dir_));
}

// --- reading files that are not results files ----------------------------

class ReaderErrors : public ResultsFileTest {
 protected:
  // read_results(path) must throw RunError whose message contains each of
  // `fragments`, and print nothing itself.
  void expect_run_error(const fs::path& path, const std::vector<std::string>& fragments,
                        const std::string& group = "") {
    ::testing::internal::CaptureStderr();
    std::string message = "<no exception>";
    try {
      read_results(path, group);
    } catch (const RunError& e) {
      message = e.what();
    }
    const std::string printed = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(printed, "") << "something printed to stderr";
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    for (const auto& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << message;
  }
  fs::path valid_file() {
    const fs::path p = dir_ / "valid.h5";
    write_file(p, ResultShape{.steps = 2, .labs = 2, .tiers = 1, .named = 1, .questions = 2});
    return p;
  }
};

TEST_F(ReaderErrors, MissingFile) { expect_run_error(dir_ / "absent.h5", {"does not exist"}); }

TEST_F(ReaderErrors, GarbageFile) {
  std::ofstream(dir_ / "garbage.h5") << "this is not HDF5 at all\n";
  expect_run_error(dir_ / "garbage.h5", {"not an HDF5 file"});
}

TEST_F(ReaderErrors, ForeignHdf5File) {
  const fs::path p = dir_ / "foreign.h5";
  H5Fclose(H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  expect_run_error(p, {"not a talentsim results file", "file_type"});
}

TEST_F(ReaderErrors, WrongFileType) {
  const fs::path p = valid_file();
  ForgeFile(p).replace_string_attribute("file_type", "other-tool");
  expect_run_error(p, {"not a talentsim results file", "other-tool"});
}

TEST_F(ReaderErrors, UnsupportedFormatVersion) {
  const fs::path p = valid_file();
  ForgeFile(p).replace_int_attribute("file_format_version", 99);
  expect_run_error(
      p, {"version 99", "reads only version " + std::to_string(talentsim::kFileFormatVersion)});
}

TEST_F(ReaderErrors, MissingVariable) {
  const fs::path p = valid_file();
  {
    ForgeFile f(p);
    ASSERT_GE(H5Ldelete(f.id(), "hires", H5P_DEFAULT), 0);
  }
  expect_run_error(p, {"'hires'"});
}

TEST_F(ReaderErrors, MissingQuestionVariable) {
  const fs::path p = valid_file();
  {
    ForgeFile f(p);
    ASSERT_GE(H5Ldelete(f.id(), "question_at_most", H5P_DEFAULT), 0);
  }
  expect_run_error(p, {"damaged or incomplete", "'question_at_most'"});
}

TEST_F(ReaderErrors, MissingSummaryIsReportedWhenSummariesAreRead) {
  const fs::path p = valid_file();
  {
    ForgeFile f(p);
    ASSERT_GE(H5Ldelete(f.id(), "share_quantiles", H5P_DEFAULT), 0);
  }
  const RunReader reader(p);  // the replicates are still readable
  EXPECT_EQ(reader.read(0).replicate, 0);
  try {
    reader.summaries();
    FAIL() << "a missing summary went unnoticed";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("'share_quantiles'"), std::string::npos) << e.what();
  }
}

TEST_F(ReaderErrors, GroupOfARunFile) {
  expect_run_error(valid_file(), {"(group whatif)", "no group 'whatif'", "no groups"}, "whatif");
}

class ComparisonErrors : public ReaderErrors {
 protected:
  fs::path comparison_file() {
    const fs::path p = dir_ / "compare.h5";
    const ResultShape a{.steps = 2, .labs = 2, .tiers = 1, .named = 0, .questions = 0};
    const ResultShape b{.steps = 2, .labs = 3, .tiers = 1, .named = 0, .questions = 1};
    ResultsWriter writer(p, sample_meta(a, 1), a, sample_meta(b, 1), b, "", false);
    writer.write(sample_replicate(0, a), 0);
    writer.write(sample_replicate(0, b), 1);
    writer.commit();
    return p;
  }
};

TEST_F(ComparisonErrors, WrongGroupName) {
  expect_run_error(comparison_file(),
                   {"(group what-if)", "no group 'what-if'", "'baseline', 'whatif'"}, "what-if");
}

TEST_F(ComparisonErrors, RootOfAComparisonFile) {
  expect_run_error(comparison_file(), {"comparison file", "'baseline'", "'whatif'"});
}

TEST_F(ComparisonErrors, DamagedGroupIsNamed) {
  const fs::path p = comparison_file();
  {
    ForgeFile f(p);
    ASSERT_GE(H5Ldelete(f.id(), "whatif/question_value", H5P_DEFAULT), 0);
  }
  expect_run_error(p, {"(group whatif)", "damaged or incomplete", "'question_value'"}, "whatif");
  EXPECT_EQ(read_results(p, "baseline").replicates.size(), 1u);
}

TEST_F(ComparisonErrors, UnsupportedFormatVersion) {
  const fs::path p = comparison_file();
  ForgeFile(p).replace_int_attribute("file_format_version", 99);
  expect_run_error(p, {"version 99"}, "baseline");
  EXPECT_THROW(results_file_type(p), RunError);
}

TEST_F(ReaderErrors, FileTypeOfEachKind) {
  EXPECT_EQ(results_file_type(valid_file()), "talentsim-run");
  std::ofstream(dir_ / "garbage.h5") << "not HDF5\n";
  EXPECT_THROW(results_file_type(dir_ / "garbage.h5"), RunError);
  EXPECT_THROW(results_file_type(dir_ / "absent.h5"), RunError);
  const fs::path foreign = dir_ / "foreign.h5";
  H5Fclose(H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  EXPECT_THROW(results_file_type(foreign), RunError);
}

// --- what xarray sees ----------------------------------------------------

// Writes the sample run (replicates out of order) and has xarray read it.
// The parameter is (named researchers, questions).
class XarrayReadsTheFile : public ResultsFileTest,
                           public ::testing::WithParamInterface<std::pair<int, int>> {};

TEST_P(XarrayReadsTheFile, AsLabelledArrays) {
  const auto [named, questions] = GetParam();
  const talentsim::test::SampleRun run = talentsim::test::make_sample_run(named, questions);
  const fs::path file = dir_ / "sample.h5";
  {
    ResultsWriter writer(file, run.meta, run.shape, false);
    for (const std::int64_t r : {1, 2, 0}) writer.write(run.replicates[size_t(r)]);
    writer.commit();
  }
  run_python_check("check_results_xarray.py", dir_, file, talentsim::test::expected_json(run));
}

INSTANTIATE_TEST_SUITE_P(NamedResearchers, XarrayReadsTheFile,
                         ::testing::Values(std::pair{2, 2}, std::pair{0, 0}), [](const auto& info) {
                           return "N" + std::to_string(info.param.first) + "Q" +
                                  std::to_string(info.param.second);
                         });

// Chunks of 2 replicates by 2 steps, so that both the last row (replicate 2)
// and the last step (4) lie in edge chunks that netCDF-C must cut.
TEST_F(ResultsFileTest, XarrayReadsEdgeChunks) {
  const talentsim::test::SampleRun run = talentsim::test::make_sample_run(2, 1);
  const fs::path file = dir_ / "edges.h5";
  talentsim::layout::replicate_chunk = 2;
  talentsim::layout::time_chunk_steps = 2;
  {
    ResultsWriter writer(file, run.meta, run.shape, false);
    for (const std::int64_t r : {2, 0, 1}) writer.write(run.replicates[size_t(r)]);
    writer.commit();
  }
  talentsim::layout::replicate_chunk = talentsim::layout::kReplicateChunk;
  talentsim::layout::time_chunk_steps = talentsim::layout::kTimeChunkSteps;
  run_python_check("check_results_xarray.py", dir_, file, talentsim::test::expected_json(run));
}

// A comparison file of two differently shaped runs: each group opens in
// xarray as a run, the root as an empty dataset with the comparison's
// attributes.
TEST_F(ResultsFileTest, XarrayReadsTheComparisonFileGroups) {
  const talentsim::test::SampleRun baseline = talentsim::test::make_sample_run(2, 0);
  talentsim::test::SampleRun whatif = talentsim::test::make_sample_run(1, 1, 4, 6);
  whatif.meta.scenario_name = "what if ✓";
  whatif.meta.start_date = "2025-02-03";
  whatif.meta.command_line = "";
  const std::string command_line = "talentsim compare base.yaml 'what if.yaml'";
  const fs::path file = dir_ / "compare.h5";
  {
    ResultsWriter writer(file, baseline.meta, baseline.shape, whatif.meta, whatif.shape,
                         command_line, false);
    for (const std::int64_t r : {2, 0, 1}) {
      writer.write(whatif.replicates[size_t(r)], 1);
      writer.write(baseline.replicates[size_t(r)], 0);
    }
    writer.commit();
  }
  run_python_check("check_results_xarray.py", dir_, file,
                   talentsim::test::expected_compare_json(baseline, whatif, command_line));
}

}  // namespace
