// ResultsWriter: the results file is HDF5 laid out by netCDF-4 conventions
// so that xarray.open_dataset() (netCDF-C underneath) sees labelled arrays:
//
// - each dimension is a 1-D coordinate variable made a dimension scale
//   (H5DSset_scale); data variables attach them (H5DSattach_scale) in order;
// - labels are variable-length UTF-8 strings (Debian's netCDF-C misreads
//   fixed-length string dimension scales);
// - time is int32 days with CF `units = "days since <start_date>"`;
// - text attributes are scalar fixed-length UTF-8 strings (netCDF NC_CHAR);
// - link and attribute creation order are tracked, as netCDF-4 does, so
//   readers list dimensions and variables in the order written here.
//
// A dimension may have length 0 (no named researchers): netCDF-C and xarray
// read a fixed zero-length dimension fine. Chunk sizes must be >= 1 and may
// not exceed a fixed dimension, so a variable with an empty dimension is
// stored contiguous and uncompressed; it holds no data anyway.
#include "talentsim/results_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <hdf5_hl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <system_error>
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

// Chunks hold one replicate; a replicate's slab larger than this is split
// along its second dimension (time) to keep chunks well under HDF5's 4 GiB.
constexpr size_t kMaxChunkBytes = size_t{64} << 20;
constexpr unsigned kDeflateLevel = 4;

std::string iso_utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32] = {};
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// YYYY-MM-DD naming a real day, the form CF time units need.
bool is_iso_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  const std::chrono::year_month_day date{std::chrono::year{std::stoi(s.substr(0, 4))},
                                         std::chrono::month{unsigned(std::stoi(s.substr(5, 2)))},
                                         std::chrono::day{unsigned(std::stoi(s.substr(8, 2)))}};
  return date.ok();
}

// The metadata must describe the shape; a mismatch is a bug in the caller.
void validate(const RunMetadata& meta, const ResultShape& shape) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw InternalError("ResultsWriter: " + what);
  };
  require(shape.steps >= 0 && shape.labs >= 0 && shape.tiers >= 0 && shape.named >= 0,
          "negative result shape");
  require(meta.replicates >= 0, "negative replicate count");
  require(meta.step_days >= 1, fmt::format("step_days is {}, expected >= 1", meta.step_days));
  require(std::int64_t{shape.steps} * meta.step_days <= INT32_MAX, "time axis overflows int32");
  require(is_iso_date(meta.start_date),
          fmt::format("start_date '{}' is not a YYYY-MM-DD date", meta.start_date));
  require(meta.lab_names.size() == size_t(shape.labs),
          fmt::format("{} lab names for {} labs", meta.lab_names.size(), shape.labs));
  require(meta.tier_names.size() == size_t(shape.tiers),
          fmt::format("{} tier names for {} tiers", meta.tier_names.size(), shape.tiers));
  require(meta.named_names.size() == size_t(shape.named),
          fmt::format("{} named researchers for {} named", meta.named_names.size(), shape.named));
}

std::vector<hsize_t> extent(const layout::Variable& v, std::int64_t replicates,
                            const ResultShape& shape) {
  std::vector<hsize_t> dims;
  for (int i = 0; i < v.rank; ++i) {
    dims.push_back(hsize_t(layout::dim_length(v.dims[size_t(i)], replicates, shape)));
  }
  return dims;
}

// A dataset of the given extent; chunked one replicate per chunk and
// compressed when `by_replicate` and no dimension is empty.
Handle create_dataset(hid_t file, const char* name, hid_t type, const std::vector<hsize_t>& dims,
                      bool by_replicate, const std::string& context) {
  Handle dcpl = h5::check_plist(H5Pcreate(H5P_DATASET_CREATE), context);
  h5::check(H5Pset_attr_creation_order(dcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
            context);
  bool empty = false;
  for (hsize_t d : dims) empty = empty || d == 0;
  if (by_replicate && !empty) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = 1;
    auto bytes = [&] {
      size_t n = H5Tget_size(type);
      for (hsize_t c : chunk) n *= c;
      return n;
    };
    while (chunk.size() > 1 && chunk[1] > 1 && bytes() > kMaxChunkBytes)
      chunk[1] = (chunk[1] + 1) / 2;
    h5::check(H5Pset_chunk(dcpl.get(), int(chunk.size()), chunk.data()), context);
    h5::check(H5Pset_shuffle(dcpl.get()), context);
    h5::check(H5Pset_deflate(dcpl.get(), kDeflateLevel), context);
  }
  // No chunk cache: every write covers whole chunks, so they go straight to
  // the file instead of waiting in memory for a flush.
  Handle dapl = h5::check_plist(H5Pcreate(H5P_DATASET_ACCESS), context);
  h5::check(
      H5Pset_chunk_cache(dapl.get(), H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT),
      context);
  Handle space = h5::check_space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), context);
  return h5::check_dataset(
      H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()), context);
}

// Labels of a dimension (lab, tier, ...) as variable-length UTF-8 strings.
void write_labels(hid_t dataset, const std::vector<std::string>& labels,
                  const std::string& context) {
  if (labels.empty()) return;
  std::vector<const char*> pointers;
  for (const auto& s : labels) pointers.push_back(s.c_str());
  Handle type = h5::variable_string_type();
  h5::check(H5Dwrite(dataset, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), context);
}

void sync_to_disk(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::error_code error(errno, std::generic_category());
    if (fd >= 0) ::close(fd);
    throw RunError(fmt::format("cannot flush '{}' to disk: {}", path.string(), error.message()));
  }
  ::close(fd);
}

}  // namespace

struct ResultsWriter::Impl {
  fs::path destination;
  fs::path temporary;
  RunMetadata meta;
  ResultShape shape;
  bool overwrite = false;

  Handle file;
  std::array<Handle, layout::kVariables.size()> variables;
  std::array<std::vector<hsize_t>, layout::kVariables.size()> extents;
  std::vector<bool> written;
  std::int64_t written_count = 0;
  bool created = false;
  bool committed = false;

  ~Impl() {
    h5::ErrorSilencer silence;
    for (auto& v : variables) v.reset();
    file.reset();
    if (created && !committed) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
    }
  }

  std::string where() const { return temporary.string(); }
  void create_file();
  void write_root_attributes();
  Handle create_coordinate(Dim d);
  void create_variables(const std::array<Handle, layout::kDims.size()>& scales);
};

void ResultsWriter::Impl::create_file() {
  const std::string context = fmt::format("cannot create temporary file '{}' for results file '{}'",
                                          temporary.string(), destination.string());
  Handle fcpl = h5::check_plist(H5Pcreate(H5P_FILE_CREATE), context);
  h5::check(H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
            context);
  h5::check(H5Pset_attr_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
            context);
  Handle fapl = h5::check_plist(H5Pcreate(H5P_FILE_ACCESS), context);
  h5::check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), context);
  file =
      h5::check_file(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), context);
  created = true;

  write_root_attributes();
  std::array<Handle, layout::kDims.size()> scales;
  for (size_t i = 0; i < layout::kDims.size(); ++i) scales[i] = create_coordinate(layout::kDims[i]);
  create_variables(scales);
}

void ResultsWriter::Impl::write_root_attributes() {
  const hid_t root = file.get();
  h5::write_string_attribute(root, "title", layout::kTitle);
  h5::write_string_attribute(root, "Conventions", layout::kConventions);
  h5::write_string_attribute(root, "file_type", layout::kFileType);
  h5::write_int_attribute(root, "file_format_version", kFileFormatVersion, H5T_STD_I32LE);
  h5::write_string_attribute(root, "software_version", kSoftwareVersion);
  h5::write_string_attribute(root, "git_commit", kGitCommit);
  h5::write_string_attribute(root, "created", iso_utc_now());
  h5::write_string_attribute(root, "command_line", meta.command_line);
  h5::write_string_attribute(root, "scenario_name", meta.scenario_name);
  h5::write_uint64_attribute(root, "seed", meta.seed);
  h5::write_int_attribute(root, "replicates", meta.replicates, H5T_STD_I64LE);
  h5::write_int_attribute(root, "step_days", meta.step_days, H5T_STD_I32LE);
  h5::write_string_attribute(root, "start_date", meta.start_date);
  h5::write_string_attribute(root, "scenario", meta.scenario_text);
}

Handle ResultsWriter::Impl::create_coordinate(Dim d) {
  const char* name = layout::dim_name(d);
  const std::string context =
      fmt::format("cannot write coordinate variable '{}' to '{}'", name, where());
  const std::vector<hsize_t> dims = {hsize_t(layout::dim_length(d, meta.replicates, shape))};
  const std::vector<std::string>* labels = nullptr;
  const char* long_name = "";
  const char* description = "";
  Handle dataset;
  switch (d) {
    case Dim::replicate: {
      dataset = create_dataset(file.get(), name, H5T_STD_I64LE, dims, false, context);
      std::vector<std::int64_t> values(dims[0]);
      for (size_t r = 0; r < values.size(); ++r) values[r] = std::int64_t(r);
      if (!values.empty()) {
        h5::check(
            H5Dwrite(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
            context);
      }
      long_name = "replicate";
      description = "index of the Monte Carlo replicate";
      break;
    }
    case Dim::time: {
      dataset = create_dataset(file.get(), name, H5T_STD_I32LE, dims, false, context);
      std::vector<std::int32_t> days(dims[0]);
      for (size_t t = 0; t < days.size(); ++t) days[t] = std::int32_t(t) * meta.step_days;
      if (!days.empty()) {
        h5::check(
            H5Dwrite(dataset.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, days.data()),
            context);
      }
      long_name = "time";
      description =
          "date of the step: start_date + step * step_days; stocks are reported at the end of "
          "the step and moves are those made during it";
      break;
    }
    case Dim::lab:
      labels = &meta.lab_names;
      long_name = "lab";
      description = "AI lab";
      break;
    case Dim::from_lab:
      labels = &meta.lab_names;
      long_name = "lab moved from";
      description = "lab a researcher left";
      break;
    case Dim::to_lab:
      labels = &meta.lab_names;
      long_name = "lab moved to";
      description = "lab a researcher joined";
      break;
    case Dim::tier:
      labels = &meta.tier_names;
      long_name = "tier";
      description = "researcher tier";
      break;
    case Dim::named:
      labels = &meta.named_names;
      long_name = "named researcher";
      description = "individually tracked researcher";
      break;
  }
  if (labels != nullptr) {
    Handle type = h5::variable_string_type();
    dataset = create_dataset(file.get(), name, type.get(), dims, false, context);
    write_labels(dataset.get(), *labels, context);
  }
  h5::check(H5DSset_scale(dataset.get(), name), context);
  h5::write_string_attribute(dataset.get(), "long_name", long_name);
  h5::write_string_attribute(dataset.get(), "description", description);
  if (d == Dim::time) {
    h5::write_string_attribute(dataset.get(), "standard_name", "time");
    h5::write_string_attribute(dataset.get(), "axis", "T");
    h5::write_string_attribute(dataset.get(), "units", "days since " + meta.start_date);
    h5::write_string_attribute(dataset.get(), "calendar", "proleptic_gregorian");
  }
  return dataset;
}

void ResultsWriter::Impl::create_variables(const std::array<Handle, layout::kDims.size()>& scales) {
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const layout::Variable& v = layout::kVariables[i];
    const std::string context = fmt::format("cannot create variable '{}' in '{}'", v.name, where());
    extents[i] = extent(v, meta.replicates, shape);
    const hid_t type = v.ints != nullptr ? H5T_STD_I32LE : H5T_IEEE_F64LE;
    variables[i] = create_dataset(file.get(), v.name, type, extents[i], true, context);
    for (int axis = 0; axis < v.rank; ++axis) {
      const Handle& scale = scales[size_t(v.dims[size_t(axis)])];
      h5::check(H5DSattach_scale(variables[i].get(), scale.get(), unsigned(axis)), context);
    }
    h5::write_string_attribute(variables[i].get(), "long_name", v.long_name);
    h5::write_string_attribute(variables[i].get(), "description", v.description);
    if (v.units != nullptr) h5::write_string_attribute(variables[i].get(), "units", v.units);
  }
}

ResultsWriter::ResultsWriter(fs::path destination, const RunMetadata& meta, ResultShape shape,
                             bool overwrite) {
  validate(meta, shape);
  const std::string dest = destination.string();
  std::error_code error;
  const fs::file_status status = fs::status(destination, error);
  if (fs::exists(status)) {
    if (fs::is_directory(status)) {
      throw InputError(
          fmt::format("results destination '{}' is a directory; choose a file path with -o", dest));
    }
    if (!overwrite) {
      throw InputError(fmt::format(
          "results file '{}' already exists; pass --force to overwrite it, or choose another path "
          "with -o",
          dest));
    }
  }
  const fs::path parent = destination.parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, error);
    if (error) {
      throw RunError(fmt::format("cannot create directory '{}' for results file '{}': {}",
                                 parent.string(), dest, error.message()));
    }
  }

  h5::ErrorSilencer silence;
  impl_ = std::make_unique<Impl>();
  Impl& w = *impl_;
  w.destination = std::move(destination);
  w.temporary = w.destination;
  w.temporary += ".tmp." + std::to_string(::getpid());
  w.meta = meta;
  w.shape = shape;
  w.overwrite = overwrite;
  w.written.assign(size_t(meta.replicates), false);
  w.create_file();  // on failure ~Impl removes the partial temporary file
}

ResultsWriter::~ResultsWriter() = default;

void ResultsWriter::write(const ReplicateResult& r) {
  Impl& w = *impl_;
  if (w.committed) throw InternalError("ResultsWriter::write() after commit()");
  if (r.replicate < 0 || r.replicate >= w.meta.replicates) {
    throw InternalError(fmt::format("ResultsWriter: replicate {} outside 0..{}", r.replicate,
                                    w.meta.replicates - 1));
  }
  if (r.shape.steps != w.shape.steps || r.shape.labs != w.shape.labs ||
      r.shape.tiers != w.shape.tiers || r.shape.named != w.shape.named) {
    throw InternalError(
        fmt::format("ResultsWriter: replicate {} has a different shape", r.replicate));
  }
  if (w.written[size_t(r.replicate)]) {
    throw InternalError(fmt::format("ResultsWriter: replicate {} written twice", r.replicate));
  }
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const layout::Variable& v = layout::kVariables[i];
    size_t expected = 1;
    for (size_t axis = 1; axis < w.extents[i].size(); ++axis) expected *= w.extents[i][axis];
    const size_t actual = v.ints != nullptr ? (r.*v.ints).size() : (r.*v.reals).size();
    if (actual != expected) {
      throw InternalError(
          fmt::format("ResultsWriter: replicate {} has {} values of {}, expected {}", r.replicate,
                      actual, v.name, expected));
    }
  }

  h5::ErrorSilencer silence;
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const layout::Variable& v = layout::kVariables[i];
    const std::string context = fmt::format("cannot write variable '{}' of replicate {} to '{}'",
                                            v.name, r.replicate, w.where());
    if (v.ints != nullptr) {
      h5::write_slab(w.variables[i].get(), H5T_NATIVE_INT32, w.extents[i], hsize_t(r.replicate),
                     (r.*v.ints).data(), context);
    } else {
      h5::write_slab(w.variables[i].get(), H5T_NATIVE_DOUBLE, w.extents[i], hsize_t(r.replicate),
                     (r.*v.reals).data(), context);
    }
  }
  w.written[size_t(r.replicate)] = true;
  ++w.written_count;
}

void ResultsWriter::commit() {
  Impl& w = *impl_;
  if (w.committed) throw InternalError("ResultsWriter::commit() called twice");
  const std::string dest = w.destination.string();
  if (w.written_count != w.meta.replicates) {
    throw RunError(fmt::format(
        "only {} of {} replicates were written; not keeping the incomplete results file '{}'",
        w.written_count, w.meta.replicates, dest));
  }

  h5::ErrorSilencer silence;
  const std::string context = fmt::format("cannot finish results file '{}'", w.where());
  h5::check(H5Fflush(w.file.get(), H5F_SCOPE_GLOBAL), context);
  for (auto& v : w.variables) v.reset();
  if (!w.file.close()) h5::fail(context);
  sync_to_disk(w.temporary);

  std::error_code error;
  if (!w.overwrite && fs::exists(w.destination, error)) {
    throw RunError(fmt::format(
        "results file '{}' appeared while the simulation ran; not overwriting it", dest));
  }
  fs::rename(w.temporary, w.destination, error);
  if (error) {
    throw RunError(
        fmt::format("cannot move '{}' to results file '{}': {}", w.where(), dest, error.message()));
  }
  w.committed = true;
}

const fs::path& ResultsWriter::temporary_path() const { return impl_->temporary; }
const fs::path& ResultsWriter::destination() const { return impl_->destination; }

}  // namespace talentsim
