// SweepWriter and read_sweep: the results file of a parameter sweep, laid
// out by the run file's conventions (results_file.cpp): netCDF-4 dimension
// scales, variable-length UTF-8 labels, CF time units, text attributes as
// fixed-length UTF-8, creation order tracked; so xarray.open_dataset(path)
// gives labelled arrays with a `point` dimension.
//
// The run file's coordinates (replicate, time, lab, tier, from_lab, to_lab,
// question, quantile) and the questions' auxiliary coordinates are made by
// the same code (hdf5_support.cpp); the sweep adds point, parameter (the
// parameters' paths, with parameter_scale an auxiliary coordinate) and, once
// write_sensitivity() is called, output.
//
// Every dataset is created at its full extent (P points of R replicates,
// known up front). write() stores one replicate of one point at once as a
// hyperslab, and nothing of the sweep is buffered, so memory does not grow
// with P or R (a bit per replicate of each point records what was written).
// HDF5 compresses through its standard filters (shuffle + deflate); speed
// matters little here, unlike the run file's writer:
// - per-step variables and flows: chunks of one replicate of one point, so
//   each write() fills whole chunks, compressed and stored at once (no
//   chunk cache);
// - question_value and headcount: chunks of all (or as many as fit
//   kTargetChunkBytes) replicates of one point or more, filled through a
//   chunk cache; a chunk evicted before it is whole is read back when the
//   rest arrives, so writes may come in any order;
// - per-point summaries likewise, by rows of points;
// - the design and the Sobol' tables: contiguous.
#include "talentsim/sweep_file.hpp"

#include <fmt/format.h>
#include <hdf5_hl.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "hdf5_support.hpp"
#include "results_layout.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/version.hpp"

namespace fs = std::filesystem;

namespace talentsim {

using h5::Handle;
using layout::Dim;

namespace {

// Chunks of several replicates (or points) hold up to this many bytes.
constexpr size_t kTargetChunkBytes = size_t{256} << 10;
// Cache of a dataset whose chunks fill over several writes: a few chunks.
constexpr size_t kChunkCacheBytes = size_t{1} << 20;
// A chunk of one replicate larger than this is split along time.
constexpr size_t kMaxChunkBytes = size_t{64} << 20;

// Dimensions of a sweep file, in the order their coordinates are created.
enum class SDim {
  point,
  parameter,
  replicate,
  time,
  lab,
  tier,
  from_lab,
  to_lab,
  question,
  quantile,
  output
};
inline constexpr size_t kSweepDimCount = 11;

// The run file's dimension of the same name and meaning.
constexpr Dim run_dim(SDim d) {
  switch (d) {
    case SDim::replicate:
      return Dim::replicate;
    case SDim::time:
      return Dim::time;
    case SDim::lab:
      return Dim::lab;
    case SDim::tier:
      return Dim::tier;
    case SDim::from_lab:
      return Dim::from_lab;
    case SDim::to_lab:
      return Dim::to_lab;
    case SDim::question:
      return Dim::question;
    case SDim::quantile:
      return Dim::quantile;
    default:  // point, parameter, output: a sweep's own
      throw InternalError("run_dim: a sweep-only dimension has no run-file twin");
  }
}

// Its name: a run file dimension's, or one of the three a sweep adds.
constexpr const char* sdim_name(SDim d) {
  switch (d) {
    case SDim::point:
      return "point";
    case SDim::parameter:
      return "parameter";
    case SDim::output:
      return "output";
    default:
      return layout::dim_name(run_dim(d));
  }
}

// The variables of a sweep file other than the design and the Sobol'
// tables. Per replicate: written by write(); per point: by write_summary().
enum class V {
  question_value,
  headcount,
  step_headcount,
  step_hires,
  step_departures,
  step_star_power,
  flows,
  question_probability,
  question_low,
  question_high,
  question_mean,
  headcount_mean,
  headcount_quantile,
};
inline constexpr size_t kVariableCount = 13;
inline constexpr size_t kFirstSummary = size_t(V::question_probability);

struct SweepVariable {
  const char* name;
  std::vector<SDim> dims;
  bool integer;   // int32, else float64
  bool per_step;  // stored only with `output: full`
  const char* long_name;
  const char* description;
  const char* units;        // nullptr: no units attribute
  const char* coordinates;  // nullptr: no CF coordinates attribute
};

// The run file's variable of this name, whose long_name, description and
// units the per-step variables share.
const layout::Variable& run_variable(std::string_view name) {
  for (const layout::Variable& v : layout::kVariables) {
    if (name == v.name) return v;
  }
  throw InternalError(fmt::format("sweep file: no run-file variable '{}'", name));
}

const std::array<SweepVariable, kVariableCount>& sweep_variables() {
  static const std::array<SweepVariable, kVariableCount> variables = [] {
    using enum SDim;
    const layout::Variable& run_question = run_variable("question_value");
    const layout::Variable& run_headcount = run_variable("headcount");
    const layout::Variable& run_hires = run_variable("hires");
    const layout::Variable& run_departures = run_variable("departures");
    const layout::Variable& run_star_power = run_variable("star_power");
    const layout::Variable& run_flows = run_variable("flows");
    return std::array<SweepVariable, kVariableCount>{{
        {"question_value",
         {point, replicate, question},
         false,
         false,
         run_question.long_name,
         "value of each forecast question in each replicate of the point; the outcome is "
         "at_least <= value <= at_most",
         nullptr,
         layout::kQuestionCoordinates},
        {"headcount",
         {point, replicate, lab, tier},
         true,
         false,
         "headcount at the end",
         "researchers at the lab, by tier, at the end of the last step of the run",
         "researchers",
         nullptr},
        {"step_headcount",
         {point, replicate, time, lab, tier},
         true,
         true,
         run_headcount.long_name,
         run_headcount.description,
         run_headcount.units,
         nullptr},
        {"step_hires",
         {point, replicate, time, lab, tier},
         true,
         true,
         run_hires.long_name,
         run_hires.description,
         run_hires.units,
         nullptr},
        {"step_departures",
         {point, replicate, time, lab, tier},
         true,
         true,
         run_departures.long_name,
         run_departures.description,
         run_departures.units,
         nullptr},
        {"step_star_power",
         {point, replicate, time, lab},
         false,
         true,
         run_star_power.long_name,
         run_star_power.description,
         run_star_power.units,
         nullptr},
        {"flows",
         {point, replicate, from_lab, to_lab, tier},
         true,
         true,
         run_flows.long_name,
         run_flows.description,
         run_flows.units,
         nullptr},
        {"question_probability",
         {point, question},
         false,
         false,
         "probability of the forecast question",
         "fraction of the point's replicates whose value satisfies at_least <= value <= at_most",
         "1",
         nullptr},
        {"question_low",
         {point, question},
         false,
         false,
         "probability, lower bound",
         "lower end of the 95% interval (Wilson score) of question_probability",
         "1",
         nullptr},
        {"question_high",
         {point, question},
         false,
         false,
         "probability, upper bound",
         "upper end of the 95% interval (Wilson score) of question_probability",
         "1",
         nullptr},
        {"question_mean",
         {point, question},
         false,
         false,
         "mean value of the question",
         "mean of question_value over the point's replicates whose value is a finite number; "
         "for a ratio (metric retention, flow_ratio or tenure), the point's pooled estimate: "
         "the sum over its replicates of the value's numerators over the sum of its "
         "denominators",
         nullptr,
         nullptr},
        {"headcount_mean",
         {point, lab},
         false,
         false,
         "mean headcount at the end",
         "mean over the point's replicates of the researchers at the lab, all tiers, at the end "
         "of the run",
         "researchers",
         nullptr},
        {"headcount_quantile",
         {point, quantile, lab},
         false,
         false,
         "headcount percentiles at the end",
         "percentiles across the point's replicates of the lab's headcount, all tiers, at the end "
         "of the run, by numpy's default method (type 7, linear interpolation): with the R values "
         "sorted ascending as x[0..R-1], h = (R - 1) * quantile, lo = floor(h), value = x[lo] + "
         "(h - lo) * (x[lo + 1] - x[lo])",
         "researchers",
         nullptr},
    }};
  }();
  return variables;
}

// The Sobol' tables, all float64 on (parameter, output).
struct SobolVariable {
  const char* name;
  std::vector<double> SensitivityTable::*values;
  const char* long_name;
  const char* description;
};

inline constexpr const char* kInterval =
    "of the bootstrap 95% percentile interval (bootstrap_resamples resamples of the design's "
    "base rows)";

const std::array<SobolVariable, 6>& sobol_variables() {
  static const std::array<SobolVariable, 6> variables = [] {
    static const std::string first_low = fmt::format("lower end {} of sobol_first", kInterval);
    static const std::string first_high = fmt::format("upper end {} of sobol_first", kInterval);
    static const std::string total_low = fmt::format("lower end {} of sobol_total", kInterval);
    static const std::string total_high = fmt::format("upper end {} of sobol_total", kInterval);
    return std::array<SobolVariable, 6>{{
        {"sobol_first", &SensitivityTable::first, "first-order Sobol' index",
         "share of the output's variance due to the parameter alone (estimator of Saltelli et "
         "al. 2010)"},
        {"sobol_first_low", &SensitivityTable::first_low, "first-order index, lower bound",
         first_low.c_str()},
        {"sobol_first_high", &SensitivityTable::first_high, "first-order index, upper bound",
         first_high.c_str()},
        {"sobol_total", &SensitivityTable::total, "total Sobol' index",
         "share of the output's variance due to the parameter alone or with others (estimator "
         "of Jansen 1999)"},
        {"sobol_total_low", &SensitivityTable::total_low, "total index, lower bound",
         total_low.c_str()},
        {"sobol_total_high", &SensitivityTable::total_high, "total index, upper bound",
         total_high.c_str()},
    }};
  }();
  return variables;
}

// Names of variables and attributes used by both the writer and the reader.
constexpr const char* kParameterScale = "parameter_scale";
constexpr const char* kParameterValue = "parameter_value";
// Per-output variables of the sensitivity table.
struct OutputVariable {
  const char* name;
  std::vector<double> SensitivityTable::*values;
  const char* long_name;
  const char* description;
};
const std::vector<OutputVariable>& output_variables() {
  static const std::vector<OutputVariable> v = {
      {"output_variance", &SensitivityTable::output_variance, "variance of the output",
       "variance of the output over the design's A and B rows: the denominator of the indices"},
      {"output_noise_variance", &SensitivityTable::output_noise_variance,
       "Monte Carlo variance of a point's output",
       "variance across points of the sampling error of a point's estimate from its "
       "replicates, estimated from the difference of two disjoint halves of the replicates "
       "(common random numbers make these errors correlated across points): the part of "
       "output_variance that more replicates per point would remove"}};
  return v;
}
constexpr const char* kBootstrapResamples = "bootstrap_resamples";

std::vector<hsize_t> extent_of(const std::vector<SDim>& dims,
                               const std::array<std::int64_t, kSweepDimCount>& lengths) {
  std::vector<hsize_t> out;
  for (const SDim d : dims) out.push_back(hsize_t(lengths[size_t(d)]));
  return out;
}

// Chunks of whole trailing dimensions: of the `leading` first dimensions,
// as many indices of the last of them as fit kTargetChunkBytes, then as
// many of the one before, and so on.
std::vector<hsize_t> chunk_filling(const std::vector<hsize_t>& dims, size_t element_bytes,
                                   size_t leading) {
  size_t bytes = element_bytes;
  for (size_t axis = leading; axis < dims.size(); ++axis) bytes *= size_t(dims[axis]);
  std::vector<hsize_t> chunk = dims;
  for (size_t axis = leading; axis-- > 0;) {
    chunk[axis] = std::clamp<hsize_t>(hsize_t(kTargetChunkBytes / std::max<size_t>(bytes, 1)), 1,
                                      std::max<hsize_t>(dims[axis], 1));
    bytes *= size_t(chunk[axis]);
  }
  return chunk;
}

// Chunks of one replicate of one point (the first two dimensions), whole
// along the rest but time, halved while too big.
std::vector<hsize_t> chunk_of_one_replicate(const std::vector<hsize_t>& dims, size_t element_bytes,
                                            bool by_time) {
  std::vector<hsize_t> chunk = dims;
  chunk[0] = chunk[1] = 1;
  auto bytes = [&] {
    size_t n = element_bytes;
    for (hsize_t c : chunk) n *= size_t(c);
    return n;
  };
  while (by_time && chunk[2] > 1 && bytes() > kMaxChunkBytes) chunk[2] = (chunk[2] + 1) / 2;
  return chunk;
}

// The metadata must describe the shape; a mismatch is a bug in the caller.
void validate(const SweepFileMetadata& meta, const ResultShape& shape) {
  h5::validate_run_metadata(meta.base, shape, "SweepWriter: ");
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) throw InternalError("SweepWriter: " + what);
  };
  require(shape.steps >= 1, fmt::format("{} steps, expected >= 1", shape.steps));
  require(meta.points >= 0, fmt::format("{} points", meta.points));
  require(meta.base_samples >= 0, fmt::format("{} base samples", meta.base_samples));
  const size_t parameters = meta.parameter_paths.size();
  require(meta.parameter_scales.size() == parameters,
          fmt::format("{} parameter scales for {} parameters", meta.parameter_scales.size(),
                      parameters));
  require(meta.parameter_values.size() == size_t(meta.points) * parameters,
          fmt::format("{} parameter values for {} points of {} parameters",
                      meta.parameter_values.size(), meta.points, parameters));
}

}  // namespace

struct SweepWriter::Impl {
  fs::path destination;
  fs::path temporary;
  bool overwrite = false;
  SweepFileMetadata meta;
  ResultShape shape;
  std::array<std::int64_t, kSweepDimCount> lengths{};

  Handle file;
  std::array<Handle, kSweepDimCount> scales;
  std::array<Handle, kVariableCount> variables;  // invalid: not stored
  std::array<std::vector<hsize_t>, kVariableCount> extents;
  std::vector<bool> written;     // [point][replicate]
  std::vector<bool> summarized;  // [point]
  std::int64_t written_count = 0, summarized_count = 0;
  std::vector<std::int32_t> last_headcount;  // scratch: [lab][tier]
  bool has_sensitivity = false;
  bool created_file = false;
  bool committed = false;

  ~Impl() {
    h5::ErrorSilencer silence;
    close();
    file.reset();
    if (created_file && !committed) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
    }
  }

  void close() {
    for (auto& v : variables) v.reset();
    for (auto& s : scales) s.reset();
  }
  std::string where() const { return fmt::format("'{}'", temporary.string()); }
  void create_file();
  void write_attributes();
  Handle create_coordinate(SDim d);
  void create_design();
  void create_variables();
  void attach(hid_t dataset, const std::vector<SDim>& dims, const std::string& context) const;
  void write_row(V v, std::int64_t point, std::int64_t replicate, const void* data);
};

void SweepWriter::Impl::create_file() {
  const std::string context = fmt::format("cannot create temporary file '{}' for results file '{}'",
                                          temporary.string(), destination.string());
  file = h5::create_file(temporary, context);
  created_file = true;
  write_attributes();
  const std::vector<SDim> dims =
      meta.full ? std::vector<SDim>{SDim::point,    SDim::parameter, SDim::replicate, SDim::time,
                                    SDim::lab,      SDim::tier,      SDim::from_lab,  SDim::to_lab,
                                    SDim::question, SDim::quantile}
                : std::vector<SDim>{SDim::point, SDim::parameter, SDim::replicate, SDim::lab,
                                    SDim::tier,  SDim::question,  SDim::quantile};
  for (const SDim d : dims) scales[size_t(d)] = create_coordinate(d);
  h5::create_question_variables(file.get(), meta.base.questions,
                                scales[size_t(SDim::question)].get(), where());
  create_design();
  create_variables();
}

void SweepWriter::Impl::write_attributes() {
  const hid_t root = file.get();
  const RunMetadata& base = meta.base;
  h5::write_string_attribute(root, "title", layout::kSweepTitle);
  h5::write_string_attribute(root, "Conventions", layout::kConventions);
  h5::write_string_attribute(root, "file_type", layout::kSweepFileType);
  h5::write_int_attribute(root, "file_format_version", kFileFormatVersion, H5T_STD_I32LE);
  h5::write_string_attribute(root, "software_version", kSoftwareVersion);
  h5::write_string_attribute(root, "git_commit", kGitCommit);
  h5::write_string_attribute(root, "created",
                             meta.created.empty() ? h5::iso_utc_now() : meta.created);
  h5::write_string_attribute(root, "command_line", meta.command_line);
  h5::write_string_attribute(root, "name", meta.name);
  h5::write_string_attribute(root, "design", meta.design);
  h5::write_int_attribute(root, "base_samples", meta.base_samples, H5T_STD_I64LE);
  h5::write_int_attribute(root, "points", meta.points, H5T_STD_I64LE);
  h5::write_string_attribute(root, "scenario_name", base.scenario_name);
  h5::write_uint64_attribute(root, "seed", base.seed);
  h5::write_int_attribute(root, "replicates", base.replicates, H5T_STD_I64LE);
  h5::write_int_attribute(root, "steps", shape.steps, H5T_STD_I32LE);
  h5::write_int_attribute(root, "step_days", base.step_days, H5T_STD_I32LE);
  h5::write_string_attribute(root, "start_date", base.start_date);
  h5::write_int_attribute(root, "full", meta.full ? 1 : 0, H5T_STD_I32LE);
  h5::write_string_attribute(root, "sweep", meta.sweep_text);
  h5::write_string_attribute(root, "scenario", base.scenario_text);
}

Handle SweepWriter::Impl::create_coordinate(SDim d) {
  if (d != SDim::point && d != SDim::parameter) {
    return h5::create_coordinate(file.get(), run_dim(d), meta.base, shape, where());
  }
  const char* name = sdim_name(d);
  const std::string context =
      fmt::format("cannot write coordinate variable '{}' to {}", name, where());
  const std::vector<hsize_t> dims = {hsize_t(lengths[size_t(d)])};
  Handle dataset;
  if (d == SDim::point) {
    dataset = h5::create_dataset(file.get(), name, H5T_STD_I64LE, dims, {}, context);
    std::vector<std::int64_t> values(dims[0]);
    for (size_t p = 0; p < values.size(); ++p) values[p] = std::int64_t(p);
    h5::write_all(dataset.get(), H5T_NATIVE_INT64, values.data(), values.size(), context);
  } else {
    Handle type = h5::variable_string_type();
    dataset = h5::create_dataset(file.get(), name, type.get(), dims, {}, context);
    h5::write_labels(dataset.get(), meta.parameter_paths, context);
  }
  h5::check(H5DSset_scale(dataset.get(), name), context);
  if (d == SDim::point) {
    h5::write_string_attribute(dataset.get(), "long_name", "design point");
    h5::write_string_attribute(
        dataset.get(), "description",
        "index of the point of the design: one value of each parameter, run for every replicate");
  } else {
    h5::write_string_attribute(dataset.get(), "long_name", "parameter");
    h5::write_string_attribute(dataset.get(), "description",
                               "the swept scenario value, named by its path as in --set");
  }
  return dataset;
}

void SweepWriter::Impl::attach(hid_t dataset, const std::vector<SDim>& dims,
                               const std::string& context) const {
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    h5::check(H5DSattach_scale(dataset, scales[size_t(dims[axis])].get(), unsigned(axis)), context);
  }
}

// parameter_scale (parameter), an auxiliary coordinate, and
// parameter_value (point, parameter).
void SweepWriter::Impl::create_design() {
  {
    const std::string context =
        fmt::format("cannot write variable '{}' to {}", kParameterScale, where());
    Handle type = h5::variable_string_type();
    Handle dataset = h5::create_dataset(file.get(), kParameterScale, type.get(),
                                        {hsize_t(meta.parameter_paths.size())}, {}, context);
    h5::write_labels(dataset.get(), meta.parameter_scales, context);
    attach(dataset.get(), {SDim::parameter}, context);
    h5::write_string_attribute(dataset.get(), "long_name", "parameter scale");
    h5::write_string_attribute(
        dataset.get(), "description",
        "how the parameter's values were spread: linear (evenly in the value), log (evenly in "
        "log(value)) or listed (the levels given)");
  }
  const std::string context =
      fmt::format("cannot write variable '{}' to {}", kParameterValue, where());
  const std::vector<SDim> dims = {SDim::point, SDim::parameter};
  Handle dataset = h5::create_dataset(file.get(), kParameterValue, H5T_IEEE_F64LE,
                                      extent_of(dims, lengths), {}, context);
  h5::write_all(dataset.get(), H5T_NATIVE_DOUBLE, meta.parameter_values.data(),
                meta.parameter_values.size(), context);
  attach(dataset.get(), dims, context);
  h5::write_string_attribute(dataset.get(), "long_name", "parameter value");
  h5::write_string_attribute(dataset.get(), "description",
                             "value of each swept parameter at the point of the design");
  h5::write_string_attribute(dataset.get(), "coordinates", kParameterScale);
}

void SweepWriter::Impl::create_variables() {
  for (size_t i = 0; i < kVariableCount; ++i) {
    const SweepVariable& v = sweep_variables()[i];
    if (v.per_step && !meta.full) continue;
    const std::string context = fmt::format("cannot create variable '{}' in {}", v.name, where());
    const hid_t type = v.integer ? H5T_STD_I32LE : H5T_IEEE_F64LE;
    const size_t element_bytes = v.integer ? sizeof(std::int32_t) : sizeof(double);
    extents[i] = extent_of(v.dims, lengths);
    std::vector<hsize_t> chunk;
    size_t cache = kChunkCacheBytes;
    if (v.per_step) {
      chunk = chunk_of_one_replicate(extents[i], element_bytes, v.dims[2] == SDim::time);
      cache = 0;  // each write() is of whole chunks
    } else {
      chunk = chunk_filling(extents[i], element_bytes, i < kFirstSummary ? 2 : 1);
    }
    variables[i] = h5::create_dataset(file.get(), v.name, type, extents[i], chunk, context, cache);
    attach(variables[i].get(), v.dims, context);
    h5::write_string_attribute(variables[i].get(), "long_name", v.long_name);
    h5::write_string_attribute(variables[i].get(), "description", v.description);
    if (v.units != nullptr) h5::write_string_attribute(variables[i].get(), "units", v.units);
    if (v.coordinates != nullptr) {
      h5::write_string_attribute(variables[i].get(), "coordinates", v.coordinates);
    }
  }
}

// The values of `point` (and `replicate`, for a per-replicate variable):
// a dense buffer of the remaining dimensions.
void SweepWriter::Impl::write_row(V v, std::int64_t point, std::int64_t replicate,
                                  const void* data) {
  const size_t i = size_t(v);
  const SweepVariable& var = sweep_variables()[i];
  const bool per_replicate = i < kFirstSummary;
  std::vector<hsize_t> start(extents[i].size(), 0), count = extents[i];
  start[0] = hsize_t(point);
  count[0] = 1;
  if (per_replicate) {
    start[1] = hsize_t(replicate);
    count[1] = 1;
  }
  const std::string context =
      per_replicate
          ? fmt::format("cannot write variable '{}' of replicate {} of point {} to {}", var.name,
                        replicate, point, where())
          : fmt::format("cannot write variable '{}' of point {} to {}", var.name, point, where());
  h5::write_block(variables[i].get(), var.integer ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE, start,
                  count, data, context);
}

SweepWriter::SweepWriter(fs::path destination, const SweepFileMetadata& meta, ResultShape shape,
                         bool overwrite) {
  validate(meta, shape);
  h5::prepare_destination(destination, overwrite);

  h5::ErrorSilencer silence;
  impl_ = std::make_unique<Impl>();
  Impl& w = *impl_;
  w.destination = std::move(destination);
  w.temporary = h5::temporary_path_for(w.destination);
  w.overwrite = overwrite;
  w.meta = meta;
  w.shape = shape;
  const std::int64_t R = meta.base.replicates;
  auto length = [&](SDim d) -> std::int64_t& { return w.lengths[size_t(d)]; };
  length(SDim::point) = meta.points;
  length(SDim::parameter) = std::int64_t(meta.parameter_paths.size());
  length(SDim::output) = 0;
  for (const SDim d : {SDim::replicate, SDim::time, SDim::lab, SDim::tier, SDim::from_lab,
                       SDim::to_lab, SDim::question, SDim::quantile}) {
    length(d) = layout::dim_length(run_dim(d), R, shape);
  }
  w.written.assign(size_t(meta.points) * size_t(R), false);
  w.summarized.assign(size_t(meta.points), false);
  w.last_headcount.resize(size_t(shape.labs) * size_t(shape.tiers));
  w.create_file();  // on failure ~Impl removes the partial temporary file
}

SweepWriter::~SweepWriter() = default;

void SweepWriter::write(std::int64_t point, const ReplicateResult& r) {
  Impl& w = *impl_;
  if (w.committed) throw InternalError("SweepWriter::write() after commit()");
  const std::int64_t P = w.meta.points, R = w.meta.base.replicates;
  if (point < 0 || point >= P) {
    throw InternalError(fmt::format("SweepWriter: point {} outside 0..{}", point, P - 1));
  }
  if (r.replicate < 0 || r.replicate >= R) {
    throw InternalError(fmt::format("SweepWriter: replicate {} of point {} outside 0..{}",
                                    r.replicate, point, R - 1));
  }
  const ResultShape& s = w.shape;
  if (r.shape.steps != s.steps || r.shape.labs != s.labs || r.shape.tiers != s.tiers ||
      r.shape.questions != s.questions) {
    throw InternalError(fmt::format("SweepWriter: replicate {} of point {} has a different shape",
                                    r.replicate, point));
  }
  const size_t tlk = size_t(s.steps) * size_t(s.labs) * size_t(s.tiers);
  auto expect = [&](const char* what, size_t actual, size_t expected) {
    if (actual != expected) {
      throw InternalError(
          fmt::format("SweepWriter: replicate {} of point {} has {} values of {}, expected {}",
                      r.replicate, point, actual, what, expected));
    }
  };
  expect("question_value", r.question_value.size(), size_t(s.questions));
  expect("headcount", r.headcount.size(), tlk);
  if (w.meta.full) {
    expect("hires", r.hires.size(), tlk);
    expect("departures", r.departures.size(), tlk);
    expect("star_power", r.star_power.size(), size_t(s.steps) * size_t(s.labs));
    expect("flows", r.flows.size(), size_t(s.labs) * size_t(s.labs) * size_t(s.tiers));
  }
  const size_t index = size_t(point) * size_t(R) + size_t(r.replicate);
  if (w.written[index]) {
    throw InternalError(
        fmt::format("SweepWriter: replicate {} of point {} written twice", r.replicate, point));
  }

  h5::ErrorSilencer silence;
  w.write_row(V::question_value, point, r.replicate, r.question_value.data());
  const size_t lk = w.last_headcount.size();
  std::copy_n(r.headcount.data() + (tlk - lk), lk, w.last_headcount.data());
  w.write_row(V::headcount, point, r.replicate, w.last_headcount.data());
  if (w.meta.full) {
    w.write_row(V::step_headcount, point, r.replicate, r.headcount.data());
    w.write_row(V::step_hires, point, r.replicate, r.hires.data());
    w.write_row(V::step_departures, point, r.replicate, r.departures.data());
    w.write_row(V::step_star_power, point, r.replicate, r.star_power.data());
    w.write_row(V::flows, point, r.replicate, r.flows.data());
  }
  w.written[index] = true;
  ++w.written_count;
}

void SweepWriter::write_summary(std::int64_t point, const PointSummary& summary) {
  Impl& w = *impl_;
  if (w.committed) throw InternalError("SweepWriter::write_summary() after commit()");
  if (point < 0 || point >= w.meta.points) {
    throw InternalError(
        fmt::format("SweepWriter: summary of point {} outside 0..{}", point, w.meta.points - 1));
  }
  if (w.summarized[size_t(point)]) {
    throw InternalError(fmt::format("SweepWriter: summary of point {} written twice", point));
  }
  const size_t Q = size_t(w.shape.questions), L = size_t(w.shape.labs);
  const std::array<std::pair<V, const std::vector<double>*>, 6> rows = {{
      {V::question_probability, &summary.question_probability},
      {V::question_low, &summary.question_low},
      {V::question_high, &summary.question_high},
      {V::question_mean, &summary.question_mean},
      {V::headcount_mean, &summary.headcount_mean},
      {V::headcount_quantile, &summary.headcount_quantile},
  }};
  for (const auto& [v, values] : rows) {
    const size_t expected = v == V::headcount_quantile ? size_t(kSummaryQuantileCount) * L
                            : v == V::headcount_mean   ? L
                                                       : Q;
    if (values->size() != expected) {
      throw InternalError(
          fmt::format("SweepWriter: summary of point {} has {} values of {}, "
                      "expected {}",
                      point, values->size(), sweep_variables()[size_t(v)].name, expected));
    }
  }
  h5::ErrorSilencer silence;
  for (const auto& [v, values] : rows) w.write_row(v, point, 0, values->data());
  w.summarized[size_t(point)] = true;
  ++w.summarized_count;
}

void SweepWriter::write_sensitivity(const SensitivityTable& table) {
  Impl& w = *impl_;
  if (w.committed) throw InternalError("SweepWriter::write_sensitivity() after commit()");
  if (w.has_sensitivity) throw InternalError("SweepWriter::write_sensitivity() called twice");
  const size_t D = w.meta.parameter_paths.size(), O = table.outputs.size();
  for (const SobolVariable& v : sobol_variables()) {
    if ((table.*v.values).size() != D * O) {
      throw InternalError(
          fmt::format("SweepWriter: {} values of {} for {} parameters and {} outputs",
                      (table.*v.values).size(), v.name, D, O));
    }
  }
  for (const OutputVariable& v : output_variables()) {
    if ((table.*v.values).size() != O) {
      throw InternalError(fmt::format("SweepWriter: {} values of {} for {} outputs",
                                      (table.*v.values).size(), v.name, O));
    }
  }

  h5::ErrorSilencer silence;
  const hid_t root = w.file.get();
  h5::write_int_attribute(root, kBootstrapResamples, table.resamples, H5T_STD_I32LE);
  w.lengths[size_t(SDim::output)] = std::int64_t(O);
  {
    const char* name = sdim_name(SDim::output);
    const std::string context =
        fmt::format("cannot write coordinate variable '{}' to {}", name, w.where());
    Handle type = h5::variable_string_type();
    Handle dataset = h5::create_dataset(root, name, type.get(), {hsize_t(O)}, {}, context);
    h5::write_labels(dataset.get(), table.outputs, context);
    h5::check(H5DSset_scale(dataset.get(), name), context);
    h5::write_string_attribute(dataset.get(), "long_name", "output");
    h5::write_string_attribute(
        dataset.get(), "description",
        "the model output the Sobol' indices are of, e.g. a forecast question's probability at "
        "the point (by the question's id) or a lab's mean headcount at the end "
        "(headcount[lab])");
    w.scales[size_t(SDim::output)] = std::move(dataset);
  }
  const std::vector<SDim> dims = {SDim::parameter, SDim::output};
  for (const SobolVariable& v : sobol_variables()) {
    const std::string context = fmt::format("cannot write variable '{}' to {}", v.name, w.where());
    Handle dataset =
        h5::create_dataset(root, v.name, H5T_IEEE_F64LE, extent_of(dims, w.lengths), {}, context);
    h5::write_all(dataset.get(), H5T_NATIVE_DOUBLE, (table.*v.values).data(), D * O, context);
    w.attach(dataset.get(), dims, context);
    h5::write_string_attribute(dataset.get(), "long_name", v.long_name);
    h5::write_string_attribute(dataset.get(), "description", v.description);
    h5::write_string_attribute(dataset.get(), "units", "1");
  }
  for (const OutputVariable& v : output_variables()) {
    const std::string context = fmt::format("cannot write variable '{}' to {}", v.name, w.where());
    Handle dataset = h5::create_dataset(root, v.name, H5T_IEEE_F64LE, {hsize_t(O)}, {}, context);
    h5::write_all(dataset.get(), H5T_NATIVE_DOUBLE, (table.*v.values).data(), O, context);
    w.attach(dataset.get(), {SDim::output}, context);
    h5::write_string_attribute(dataset.get(), "long_name", v.long_name);
    h5::write_string_attribute(dataset.get(), "description", v.description);
  }
  w.has_sensitivity = true;
}

void SweepWriter::commit() {
  Impl& w = *impl_;
  if (w.committed) throw InternalError("SweepWriter::commit() called twice");
  const std::string dest = w.destination.string();
  const std::int64_t expected = w.meta.points * w.meta.base.replicates;
  if (w.written_count != expected) {
    throw RunError(
        fmt::format("only {} of {} replicates ({} points of {} replicates each) were written; not "
                    "keeping the incomplete results file '{}'",
                    w.written_count, expected, w.meta.points, w.meta.base.replicates, dest));
  }
  if (w.summarized_count != w.meta.points) {
    throw RunError(fmt::format(
        "the summaries of only {} of {} points were written; not keeping the incomplete results "
        "file '{}'",
        w.summarized_count, w.meta.points, dest));
  }

  h5::ErrorSilencer silence;
  const std::string context = fmt::format("cannot finish results file '{}'", w.temporary.string());
  h5::check(H5Fflush(w.file.get(), H5F_SCOPE_GLOBAL), context);
  w.close();
  if (!w.file.close()) h5::fail(context);
  h5::sync_to_disk(w.temporary);
  h5::move_into_place(w.temporary, w.destination, w.overwrite);
  w.committed = true;
}

const fs::path& SweepWriter::temporary_path() const { return impl_->temporary; }

// --- reading -----------------------------------------------------------------

namespace {

struct SweepReader : h5::LocationReader {
  Handle file;
  SweepFile out;
  bool with_replicates = true;

  std::int64_t nonnegative(const char* attribute) const {
    const std::int64_t value = required_int(attribute);
    if (value < 0) damaged(fmt::format("{} is {}", attribute, value));
    return value;
  }
  void expect_coordinate(SDim d, std::int64_t length) const {
    const std::int64_t actual = coordinate_length(sdim_name(d));
    if (actual != length) {
      damaged(
          fmt::format("coordinate '{}' has {} values, expected {}", sdim_name(d), actual, length));
    }
  }
  void read_metadata();
  void read_data();
  void read_sensitivity();
};

void SweepReader::read_metadata() {
  SweepFileMetadata& meta = out.meta;
  RunMetadata& base = meta.base;
  out.attributes = all_attributes();
  meta.name = required_string("name");
  meta.sweep_text = required_string("sweep");
  meta.command_line = required_string("command_line");
  meta.created = required_string("created");
  meta.design = required_string("design");
  meta.base_samples = nonnegative("base_samples");
  meta.points = nonnegative("points");
  const std::int64_t full = required_int("full");
  if (full != 0 && full != 1) damaged(fmt::format("full is {}, expected 0 or 1", full));
  meta.full = full == 1;

  base.scenario_name = required_string("scenario_name");
  base.start_date = required_string("start_date");
  base.scenario_text = required_string("scenario");
  base.command_line = meta.command_line;
  const std::int64_t step_days = required_int("step_days");
  if (step_days < 1 || step_days > INT32_MAX) damaged(fmt::format("step_days is {}", step_days));
  base.step_days = int(step_days);
  base.replicates = nonnegative("replicates");
  const auto seed = h5::read_uint64_attribute(location, "seed");
  if (!seed) damaged("the attribute 'seed' is missing or not a non-negative integer");
  base.seed = *seed;
  const std::int64_t steps = required_int("steps");
  if (steps < 1 || steps > INT32_MAX) damaged(fmt::format("steps is {}", steps));

  base.lab_names = strings(sdim_name(SDim::lab), -1);
  base.tier_names = strings(sdim_name(SDim::tier), -1);
  base.questions = questions();
  out.shape.steps = int(steps);
  out.shape.labs = int(base.lab_names.size());
  out.shape.tiers = int(base.tier_names.size());
  out.shape.named = 0;  // not stored in sweep files
  out.shape.questions = int(base.questions.size());
  expect_coordinate(SDim::point, meta.points);
  expect_coordinate(SDim::replicate, base.replicates);
  expect_coordinate(SDim::quantile, kSummaryQuantileCount);
  if (meta.full) {
    expect_coordinate(SDim::time, steps);
    expect_coordinate(SDim::from_lab, out.shape.labs);
    expect_coordinate(SDim::to_lab, out.shape.labs);
  }

  meta.parameter_paths = strings(sdim_name(SDim::parameter), -1);
  const auto D = std::int64_t(meta.parameter_paths.size());
  meta.parameter_scales = strings(kParameterScale, D);
  read_whole(kParameterValue, {hsize_t(meta.points), hsize_t(D)}, H5T_NATIVE_DOUBLE,
             meta.parameter_values);
}

void SweepReader::read_data() {
  const SweepFileMetadata& meta = out.meta;
  std::array<std::int64_t, kSweepDimCount> lengths{};
  lengths[size_t(SDim::point)] = meta.points;
  lengths[size_t(SDim::parameter)] = std::int64_t(meta.parameter_paths.size());
  for (const SDim d : {SDim::replicate, SDim::time, SDim::lab, SDim::tier, SDim::from_lab,
                       SDim::to_lab, SDim::question, SDim::quantile}) {
    lengths[size_t(d)] = layout::dim_length(run_dim(d), meta.base.replicates, out.shape);
  }
  const auto& variables = sweep_variables();
  auto extent = [&](V v) { return extent_of(variables[size_t(v)].dims, lengths); };
  auto name = [&](V v) { return variables[size_t(v)].name; };
  if (with_replicates) {
    read_whole(name(V::question_value), extent(V::question_value), H5T_NATIVE_DOUBLE,
               out.question_value);
    read_whole(name(V::headcount), extent(V::headcount), H5T_NATIVE_INT32, out.headcount);
  } else {
    expect_extent(name(V::question_value), open_variable(name(V::question_value)),
                  extent(V::question_value));
    expect_extent(name(V::headcount), open_variable(name(V::headcount)), extent(V::headcount));
  }
  if (meta.full) {
    for (const SweepVariable& v : variables) {
      if (v.per_step) expect_extent(v.name, open_variable(v.name), extent_of(v.dims, lengths));
    }
  }
  const size_t P = size_t(meta.points);
  out.summaries.assign(P, PointSummary{});
  const std::array<std::pair<V, std::vector<double> PointSummary::*>, 6> rows = {{
      {V::question_probability, &PointSummary::question_probability},
      {V::question_low, &PointSummary::question_low},
      {V::question_high, &PointSummary::question_high},
      {V::question_mean, &PointSummary::question_mean},
      {V::headcount_mean, &PointSummary::headcount_mean},
      {V::headcount_quantile, &PointSummary::headcount_quantile},
  }};
  std::vector<double> values;
  for (const auto& [v, member] : rows) {
    read_whole(name(v), extent(v), H5T_NATIVE_DOUBLE, values);
    const size_t row = P == 0 ? 0 : values.size() / P;
    for (size_t p = 0; p < P; ++p) {
      const auto first = values.begin() + std::ptrdiff_t(p * row);
      (out.summaries[p].*member).assign(first, first + std::ptrdiff_t(row));
    }
  }
}

void SweepReader::read_sensitivity() {
  out.has_sensitivity = has_variable(sobol_variables()[0].name);
  if (!out.has_sensitivity) return;
  SensitivityTable& t = out.sensitivity;
  t.outputs = strings(sdim_name(SDim::output), -1);
  const hsize_t D = out.meta.parameter_paths.size(), O = t.outputs.size();
  for (const SobolVariable& v : sobol_variables()) {
    read_whole(v.name, {D, O}, H5T_NATIVE_DOUBLE, t.*v.values);
  }
  for (const OutputVariable& v : output_variables()) {
    read_whole(v.name, {O}, H5T_NATIVE_DOUBLE, t.*v.values);
  }
  const std::int64_t resamples = required_int(kBootstrapResamples);
  if (resamples < 0 || resamples > INT32_MAX) {
    damaged(fmt::format("{} is {}", kBootstrapResamples, resamples));
  }
  t.resamples = int(resamples);
}

}  // namespace

SweepFile read_sweep(const fs::path& path, bool with_replicates) {
  h5::ErrorSilencer silence;
  SweepReader r;
  const std::string name = path.string();
  r.label = fmt::format("'{}'", name);
  std::string file_type;
  r.file = h5::open_results_file(name, file_type);
  if (file_type != layout::kSweepFileType) {
    throw RunError(fmt::format("'{}' is not a sweep file: its file_type is '{}', not '{}'", name,
                               file_type, layout::kSweepFileType));
  }
  r.location = r.file.get();
  r.with_replicates = with_replicates;
  r.read_metadata();
  r.read_data();
  r.read_sensitivity();
  return std::move(r.out);
}

}  // namespace talentsim
