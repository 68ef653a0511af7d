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
#include <system_error>
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

// H5Aiterate2 callback collecting attribute names; HDF5 is C, so nothing may
// be thrown through it.
herr_t collect_name(hid_t /*location*/, const char* name, const H5A_info_t* /*info*/, void* names) {
  try {
    static_cast<std::vector<std::string>*>(names)->emplace_back(name);
    return 0;
  } catch (...) {
    return -1;
  }
}

std::string format_extent(const std::vector<hsize_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", dims[i]);
  return out + "]";
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// Opens a talentsim file read-only after checking that it is one, of a
// format version this build reads. Sets `file_type` to the root file_type.
Handle open_file(const std::string& name, std::string& file_type) {
  std::error_code error;
  const fs::file_status status = fs::status(name, error);
  if (!fs::exists(status)) {
    throw RunError(fmt::format("results file '{}' does not exist", name));
  }
  if (fs::is_directory(status)) {
    throw RunError(fmt::format("'{}' is a directory, not a results file", name));
  }
  const htri_t is_hdf5 = H5Fis_hdf5(name.c_str());
  if (is_hdf5 < 0) h5::fail(fmt::format("cannot read '{}'", name));
  if (is_hdf5 == 0) {
    throw RunError(
        fmt::format("'{}' is not a talentsim results file: it is not an HDF5 file", name));
  }
  const std::string context = fmt::format("cannot open results file '{}'", name);
  Handle fapl = h5::check_plist(H5Pcreate(H5P_FILE_ACCESS), context);
  h5::check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), context);
  Handle file = h5::check_file(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()), context);

  const auto type = h5::read_string_attribute(file.get(), "file_type");
  if (!type) {
    throw RunError(
        fmt::format("'{}' is not a talentsim results file: it has no file_type attribute", name));
  }
  if (*type != layout::kFileType && *type != layout::kCompareFileType) {
    throw RunError(
        fmt::format("'{}' is not a talentsim results file: its file_type is '{}', not '{}' or '{}'",
                    name, *type, layout::kFileType, layout::kCompareFileType));
  }
  const auto version = h5::read_int_attribute(file.get(), "file_format_version");
  if (!version) {
    throw RunError(fmt::format(
        "results file '{}' is damaged or incomplete: the file_format_version attribute is "
        "missing or not an integer",
        name));
  }
  if (*version != kFileFormatVersion) {
    throw RunError(fmt::format(
        "results file '{}' has file format version {}, but this build of talentsim ({}) reads "
        "only version {}",
        name, *version, kSoftwareVersion, kFileFormatVersion));
  }
  file_type = *type;
  return file;
}

}  // namespace

struct RunReader::Impl {
  std::string name;   // the path
  std::string group;  // "" for the root
  std::string label;  // "'path'" or "'path' (group g)", for messages
  Handle file;
  Handle group_handle;
  hid_t location = H5I_INVALID_HID;
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

  [[noreturn]] void damaged(const std::string& what) const {
    throw RunError(fmt::format("results file {} is damaged or incomplete: {}", label, what));
  }
  void open();
  void read_metadata();
  void open_variables();
  std::map<std::string, std::string> all_attributes() const;
  std::string required_string(const char* attribute) const;
  std::int64_t required_int(const char* attribute) const;
  Handle open_variable(const char* variable) const;
  std::vector<hsize_t> extent_of(const char* variable, const Handle& dataset) const;
  void expect_extent(const char* variable, const Handle& dataset,
                     const std::vector<hsize_t>& expected) const;
  std::int64_t coordinate_length(Dim d) const;
  std::vector<std::string> strings(const char* variable, std::int64_t length) const;
  std::vector<double> reals(const char* variable, std::int64_t length) const;
};

void RunReader::Impl::open() {
  std::string file_type;
  file = open_file(name, file_type);
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

std::map<std::string, std::string> RunReader::Impl::all_attributes() const {
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Aiterate2(location, H5_INDEX_NAME, H5_ITER_INC, &index, collect_name, &names) < 0) {
    h5::fail(fmt::format("cannot list the attributes of {}", label));
  }
  std::map<std::string, std::string> out;
  for (const auto& n : names) {
    Handle attribute =
        h5::check_attribute(H5Aopen(location, n.c_str(), H5P_DEFAULT),
                            fmt::format("cannot read attribute '{}' of {}", n, label));
    out[n] = h5::attribute_as_text(attribute.get());
  }
  return out;
}

std::string RunReader::Impl::required_string(const char* attribute) const {
  auto value = h5::read_string_attribute(location, attribute);
  if (!value) damaged(fmt::format("the text attribute '{}' is missing", attribute));
  return *value;
}

std::int64_t RunReader::Impl::required_int(const char* attribute) const {
  auto value = h5::read_int_attribute(location, attribute);
  if (!value) damaged(fmt::format("the integer attribute '{}' is missing", attribute));
  return *value;
}

Handle RunReader::Impl::open_variable(const char* variable) const {
  const htri_t exists = H5Lexists(location, variable, H5P_DEFAULT);
  if (exists < 0) h5::fail(fmt::format("cannot look for variable '{}' in {}", variable, label));
  if (exists == 0) damaged(fmt::format("it has no variable '{}'", variable));
  return h5::check_dataset(H5Dopen2(location, variable, H5P_DEFAULT),
                           fmt::format("cannot open variable '{}' in {}", variable, label));
}

void RunReader::Impl::expect_extent(const char* variable, const Handle& dataset,
                                    const std::vector<hsize_t>& expected) const {
  const std::vector<hsize_t> actual = h5::dataset_dims(dataset.get());
  if (actual != expected) {
    damaged(fmt::format("variable '{}' has extent {}, expected {}", variable, format_extent(actual),
                        format_extent(expected)));
  }
}

std::int64_t RunReader::Impl::coordinate_length(Dim d) const {
  Handle dataset = open_variable(layout::dim_name(d));
  const std::vector<hsize_t> dims = h5::dataset_dims(dataset.get());
  if (dims.size() != 1 || dims[0] > hsize_t(INT32_MAX)) {
    damaged(fmt::format("coordinate '{}' has extent {}", layout::dim_name(d), format_extent(dims)));
  }
  return std::int64_t(dims[0]);
}

// A 1-D variable of strings; of `length` strings unless `length` < 0.
std::vector<std::string> RunReader::Impl::strings(const char* variable, std::int64_t length) const {
  Handle dataset = open_variable(variable);
  Handle type = h5::check_type(H5Dget_type(dataset.get()),
                               fmt::format("cannot read variable '{}' of {}", variable, label));
  if (H5Tget_class(type.get()) != H5T_STRING) {
    damaged(fmt::format("variable '{}' does not hold strings", variable));
  }
  if (length >= 0) expect_extent(variable, dataset, {hsize_t(length)});
  return h5::read_string_dataset(dataset.get());
}

std::vector<double> RunReader::Impl::reals(const char* variable, std::int64_t length) const {
  Handle dataset = open_variable(variable);
  expect_extent(variable, dataset, {hsize_t(length)});
  std::vector<double> values(static_cast<size_t>(length));
  if (length > 0) {
    h5::check(
        H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
        fmt::format("cannot read variable '{}' of {}", variable, label));
  }
  return values;
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
  const std::vector<std::string> question_ids = strings(layout::dim_name(Dim::question), -1);
  shape.steps = int(coordinate_length(Dim::time));
  shape.labs = int(meta.lab_names.size());
  shape.tiers = int(meta.tier_names.size());
  shape.named = int(meta.named_names.size());
  shape.questions = int(question_ids.size());
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

  meta.questions.resize(question_ids.size());
  for (size_t q = 0; q < question_ids.size(); ++q) meta.questions[q].id = question_ids[q];
  for (const layout::QuestionVariable& v : layout::kQuestionVariables) {
    if (v.text != nullptr) {
      const std::vector<std::string> values = strings(v.name, shape.questions);
      for (size_t q = 0; q < values.size(); ++q) meta.questions[q].*v.text = values[q];
    } else {
      const std::vector<double> values = reals(v.name, shape.questions);
      for (size_t q = 0; q < values.size(); ++q) meta.questions[q].*v.real = values[q];
    }
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
  open_file(path.string(), file_type);
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
