// RunReader: reads a run back (the root of a run file, or a group of a
// comparison file) one replicate at a time, and says precisely what is
// wrong with a file that is not one. read_results() is a loop over it.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hdf5_support.hpp"
#include "results_layout.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/results_file.hpp"
#include "talentsim/version.hpp"

namespace fs = std::filesystem;

namespace talentsim {

using h5::Handle;
using layout::Dim;

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

}  // namespace

// The reading of attributes and variables (h5::LocationReader) at
// `location`, the file's root or the run's group.
struct RunReader::Impl : h5::LocationReader {
  std::string name;   // the path
  std::string group;  // "" for the root
  Handle file;
  Handle group_handle;
  RunMetadata meta;
  ResultShape shape;
  std::map<std::string, std::string> attributes;
  std::array<Handle, layout::kVariables.size()> variables;
  std::array<std::vector<hsize_t>, layout::kVariables.size()> extents;

  ~Impl() {
    h5::ErrorSilencer silence;
    for (auto& v : variables) v.reset();
    group_handle.reset();
    file.reset();
  }

  void open();
  void read_metadata();
  void open_variables();
  std::int64_t coordinate_length(Dim d) const {
    return LocationReader::coordinate_length(layout::dim_name(d));
  }
};

void RunReader::Impl::open() {
  std::string file_type;
  file = h5::open_results_file(name, file_type);
  if (file_type == layout::kSweepFileType) {
    throw RunError(fmt::format(
        "'{}' is a sweep file (file_type '{}'), not a run or a comparison: read it as a sweep",
        name, file_type));
  }
  if (group.empty()) {
    if (file_type == layout::kCompareFileType) {
      throw RunError(fmt::format(
          "'{}' is a comparison file (file_type '{}'): read its runs from group '{}' or '{}'", name,
          file_type, kBaselineGroup, kWhatifGroup));
    }
    location = file.get();
    return;
  }
  const std::vector<std::string> groups = h5::list_groups(file.get());
  bool found = false;
  for (const auto& g : groups) found = found || g == group;
  if (!found) {
    throw RunError(fmt::format(
        "results file {}: there is no group '{}' in the file; {}", label, group,
        groups.empty()
            ? fmt::format("it has no groups (a {} file holds its run at the root)", file_type)
            : fmt::format("its groups are {}", join(groups))));
  }
  group_handle = h5::check_group(H5Gopen2(file.get(), group.c_str(), H5P_DEFAULT),
                                 fmt::format("cannot open results file {}", label));
  location = group_handle.get();
  const auto run_type = h5::read_string_attribute(location, "file_type");
  if (run_type && *run_type != layout::kFileType) {
    damaged(fmt::format("the group's file_type is '{}', not '{}'", *run_type, layout::kFileType));
  }
  const auto version = h5::read_int_attribute(location, "file_format_version");
  if (version && *version != kFileFormatVersion) {
    damaged(
        fmt::format("the group's file_format_version is {}, not {}", *version, kFileFormatVersion));
  }
}

void RunReader::Impl::read_metadata() {
  attributes = all_attributes();
  meta.scenario_name = required_string("scenario_name");
  meta.start_date = required_string("start_date");
  meta.scenario_text = required_string("scenario");
  meta.command_line = required_string("command_line");
  const std::int64_t step_days = required_int("step_days");
  if (step_days < 1 || step_days > INT32_MAX) damaged(fmt::format("step_days is {}", step_days));
  meta.step_days = int(step_days);
  meta.replicates = required_int("replicates");
  if (meta.replicates < 0) damaged(fmt::format("replicates is {}", meta.replicates));
  const auto seed = h5::read_uint64_attribute(location, "seed");
  if (!seed) damaged("the attribute 'seed' is missing or not a non-negative integer");
  meta.seed = *seed;

  meta.lab_names = strings(layout::dim_name(Dim::lab), -1);
  meta.tier_names = strings(layout::dim_name(Dim::tier), -1);
  meta.named_names = strings(layout::dim_name(Dim::named), -1);
  meta.questions = questions();
  shape.steps = int(coordinate_length(Dim::time));
  shape.labs = int(meta.lab_names.size());
  shape.tiers = int(meta.tier_names.size());
  shape.named = int(meta.named_names.size());
  shape.questions = int(meta.questions.size());
  if (coordinate_length(Dim::replicate) != meta.replicates) {
    damaged(fmt::format("the replicates attribute says {} but the replicate coordinate has {}",
                        meta.replicates, coordinate_length(Dim::replicate)));
  }
  for (Dim d : {Dim::from_lab, Dim::to_lab}) {
    if (coordinate_length(d) != shape.labs) {
      damaged(fmt::format("coordinate '{}' has {} labs, 'lab' has {}", layout::dim_name(d),
                          coordinate_length(d), shape.labs));
    }
  }
  if (coordinate_length(Dim::quantile) != kSummaryQuantileCount) {
    damaged(fmt::format("coordinate 'quantile' has {} values, expected {}",
                        coordinate_length(Dim::quantile), kSummaryQuantileCount));
  }
}

namespace {

// A chunk cache that holds a row of chunks (all the chunks of the first
// replicates of a chunk), so that reading the replicates of a chunk one
// after another decompresses each chunk once rather than once per replicate;
// nullopt for a dataset that is not chunked.
std::optional<Handle> row_cache(hid_t dataset, const std::string& context) {
  constexpr size_t kMinBytes = size_t{1} << 20, kMaxBytes = size_t{64} << 20;
  Handle dcpl = h5::check_plist(H5Dget_create_plist(dataset), context);
  if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return std::nullopt;
  const std::vector<hsize_t> dims = h5::dataset_dims(dataset);
  std::vector<hsize_t> chunk(dims.size());
  if (H5Pget_chunk(dcpl.get(), int(chunk.size()), chunk.data()) < 0) h5::fail(context);
  Handle type = h5::check_type(H5Dget_type(dataset), context);
  size_t chunk_bytes = H5Tget_size(type.get()), row_chunks = 1;
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    chunk_bytes *= size_t(chunk[axis]);
    if (axis > 0 && chunk[axis] > 0)
      row_chunks *= size_t((dims[axis] + chunk[axis] - 1) / chunk[axis]);
  }
  Handle dapl = h5::check_plist(H5Pcreate(H5P_DATASET_ACCESS), context);
  const size_t bytes = std::clamp((row_chunks + 1) * chunk_bytes, kMinBytes, kMaxBytes);
  h5::check(H5Pset_chunk_cache(dapl.get(), std::max<size_t>(521, 4 * row_chunks + 1), bytes,
                               H5D_CHUNK_CACHE_W0_DEFAULT),
            context);
  return dapl;
}

}  // namespace

void RunReader::Impl::open_variables() {
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const layout::Variable& v = layout::kVariables[i];
    if (v.added_later && !has_variable(v.name)) continue;  // an older file: read() fills it
    variables[i] = open_variable(v.name);
    const std::string context = fmt::format("cannot open variable '{}' in {}", v.name, label);
    if (std::optional<Handle> dapl = row_cache(variables[i].get(), context)) {
      variables[i] = h5::check_dataset(H5Dopen2(location, v.name, dapl->get()), context);
    }
    for (int axis = 0; axis < v.rank; ++axis) {
      extents[i].push_back(
          hsize_t(layout::dim_length(v.dims[size_t(axis)], meta.replicates, shape)));
    }
    expect_extent(v.name, variables[i], extents[i]);
  }
}

RunReader::RunReader(const fs::path& path, const std::string& group)
    : impl_(std::make_unique<Impl>()) {
  h5::ErrorSilencer silence;
  Impl& r = *impl_;
  r.name = path.string();
  r.group = group;
  r.label =
      group.empty() ? fmt::format("'{}'", r.name) : fmt::format("'{}' (group {})", r.name, group);
  r.open();
  r.read_metadata();
  r.open_variables();
}

RunReader::~RunReader() = default;

const RunMetadata& RunReader::meta() const { return impl_->meta; }
ResultShape RunReader::shape() const { return impl_->shape; }
const std::map<std::string, std::string>& RunReader::attributes() const {
  return impl_->attributes;
}

ReplicateResult RunReader::read(std::int64_t replicate) const {
  const Impl& r = *impl_;
  if (replicate < 0 || replicate >= r.meta.replicates) {
    throw InternalError(fmt::format("RunReader: replicate {} outside 0..{} of {}", replicate,
                                    r.meta.replicates - 1, r.label));
  }
  h5::ErrorSilencer silence;
  ReplicateResult out(r.shape);
  out.replicate = replicate;
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const layout::Variable& v = layout::kVariables[i];
    if (!r.variables[i].valid()) {  // added later, absent from an older file
      if (v.reals == &ReplicateResult::question_numerator)
        out.question_numerator = out.question_value;  // after it: the table's order
      continue;                                       // question_denominator: 1, as constructed
    }
    const std::string context =
        fmt::format("cannot read variable '{}' of replicate {} of {}", v.name, replicate, r.label);
    if (v.ints != nullptr) {
      h5::read_slab(r.variables[i].get(), H5T_NATIVE_INT32, r.extents[i], hsize_t(replicate),
                    (out.*v.ints).data(), context);
    } else {
      h5::read_slab(r.variables[i].get(), H5T_NATIVE_DOUBLE, r.extents[i], hsize_t(replicate),
                    (out.*v.reals).data(), context);
    }
  }
  return out;
}

DistributionSummaries RunReader::summaries() const {
  const Impl& r = *impl_;
  h5::ErrorSilencer silence;
  DistributionSummaries out;
  for (const layout::SummaryVariable& v : layout::kSummaryVariables) {
    std::vector<double>& values = std::string_view(v.name) == "headcount_quantiles" ? out.headcount
                                  : std::string_view(v.name) == "total_headcount_quantiles"
                                      ? out.total_headcount
                                      : out.share;
    Handle dataset = r.open_variable(v.name);
    std::vector<hsize_t> expected;
    size_t count = 1;
    for (int axis = 0; axis < v.rank; ++axis) {
      expected.push_back(
          hsize_t(layout::dim_length(v.dims[size_t(axis)], r.meta.replicates, r.shape)));
      count *= expected.back();
    }
    r.expect_extent(v.name, dataset, expected);
    values.resize(count);
    if (count > 0) {
      h5::check(
          H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
          fmt::format("cannot read variable '{}' of {}", v.name, r.label));
    }
  }
  return out;
}

std::string results_file_type(const fs::path& path) {
  h5::ErrorSilencer silence;
  std::string file_type;
  h5::open_results_file(path.string(), file_type);
  return file_type;
}

ResultsFile read_results(const fs::path& path, const std::string& group) {
  const RunReader reader(path, group);
  ResultsFile out;
  out.meta = reader.meta();
  out.shape = reader.shape();
  out.attributes = reader.attributes();
  out.replicates.reserve(size_t(out.meta.replicates));
  for (std::int64_t r = 0; r < out.meta.replicates; ++r) out.replicates.push_back(reader.read(r));
  return out;
}

}  // namespace talentsim
