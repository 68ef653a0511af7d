// read_results(): reads a whole results file back (tests, `summarize`), and
// says precisely what is wrong with a file that is not one.
#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <string>
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

class Reader {
 public:
  explicit Reader(const fs::path& path) : name_(path.string()) {}

  ResultsFile read();

 private:
  [[noreturn]] void damaged(const std::string& what) const {
    throw RunError(fmt::format("results file '{}' is damaged or incomplete: {}", name_, what));
  }
  void open();
  std::map<std::string, std::string> all_attributes() const;
  std::string required_string(const char* attribute) const;
  std::int64_t required_int(const char* attribute) const;
  Handle open_variable(const char* variable) const;
  std::int64_t coordinate_length(Dim d) const;
  std::vector<std::string> labels(Dim d) const;

  std::string name_;
  Handle file_;
};

void Reader::open() {
  std::error_code error;
  const fs::file_status status = fs::status(name_, error);
  if (!fs::exists(status)) {
    throw RunError(fmt::format("results file '{}' does not exist", name_));
  }
  if (fs::is_directory(status)) {
    throw RunError(fmt::format("'{}' is a directory, not a results file", name_));
  }
  const htri_t is_hdf5 = H5Fis_hdf5(name_.c_str());
  if (is_hdf5 < 0) h5::fail(fmt::format("cannot read '{}'", name_));
  if (is_hdf5 == 0) {
    throw RunError(
        fmt::format("'{}' is not a talentsim results file: it is not an HDF5 file", name_));
  }
  const std::string context = fmt::format("cannot open results file '{}'", name_);
  Handle fapl = h5::check_plist(H5Pcreate(H5P_FILE_ACCESS), context);
  h5::check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), context);
  file_ = h5::check_file(H5Fopen(name_.c_str(), H5F_ACC_RDONLY, fapl.get()), context);

  const auto file_type = h5::read_string_attribute(file_.get(), "file_type");
  if (!file_type) {
    throw RunError(
        fmt::format("'{}' is not a talentsim results file: it has no file_type attribute", name_));
  }
  if (*file_type != layout::kFileType) {
    throw RunError(
        fmt::format("'{}' is not a talentsim results file: its file_type is '{}', not '{}'", name_,
                    *file_type, layout::kFileType));
  }
  const auto version = h5::read_int_attribute(file_.get(), "file_format_version");
  if (!version) damaged("the file_format_version attribute is missing or not an integer");
  if (*version != kFileFormatVersion) {
    throw RunError(fmt::format(
        "results file '{}' has file format version {}, but this build of talentsim ({}) reads "
        "only version {}",
        name_, *version, kSoftwareVersion, kFileFormatVersion));
  }
}

std::map<std::string, std::string> Reader::all_attributes() const {
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Aiterate2(file_.get(), H5_INDEX_NAME, H5_ITER_INC, &index, collect_name, &names) < 0) {
    h5::fail(fmt::format("cannot list the attributes of '{}'", name_));
  }
  std::map<std::string, std::string> out;
  for (const auto& n : names) {
    Handle attribute =
        h5::check_attribute(H5Aopen(file_.get(), n.c_str(), H5P_DEFAULT),
                            fmt::format("cannot read attribute '{}' of '{}'", n, name_));
    out[n] = h5::attribute_as_text(attribute.get());
  }
  return out;
}

std::string Reader::required_string(const char* attribute) const {
  auto value = h5::read_string_attribute(file_.get(), attribute);
  if (!value) damaged(fmt::format("the text attribute '{}' is missing", attribute));
  return *value;
}

std::int64_t Reader::required_int(const char* attribute) const {
  auto value = h5::read_int_attribute(file_.get(), attribute);
  if (!value) damaged(fmt::format("the integer attribute '{}' is missing", attribute));
  return *value;
}

Handle Reader::open_variable(const char* variable) const {
  const htri_t exists = H5Lexists(file_.get(), variable, H5P_DEFAULT);
  if (exists < 0) h5::fail(fmt::format("cannot look for variable '{}' in '{}'", variable, name_));
  if (exists == 0) damaged(fmt::format("it has no variable '{}'", variable));
  return h5::check_dataset(H5Dopen2(file_.get(), variable, H5P_DEFAULT),
                           fmt::format("cannot open variable '{}' in '{}'", variable, name_));
}

std::int64_t Reader::coordinate_length(Dim d) const {
  Handle dataset = open_variable(layout::dim_name(d));
  const std::vector<hsize_t> dims = h5::dataset_dims(dataset.get());
  if (dims.size() != 1 || dims[0] > hsize_t(INT32_MAX)) {
    damaged(fmt::format("coordinate '{}' has extent {}", layout::dim_name(d), format_extent(dims)));
  }
  return std::int64_t(dims[0]);
}

std::vector<std::string> Reader::labels(Dim d) const {
  Handle dataset = open_variable(layout::dim_name(d));
  Handle type = h5::check_type(
      H5Dget_type(dataset.get()),
      fmt::format("cannot read coordinate '{}' of '{}'", layout::dim_name(d), name_));
  if (H5Tget_class(type.get()) != H5T_STRING) {
    damaged(fmt::format("coordinate '{}' does not hold strings", layout::dim_name(d)));
  }
  return h5::read_string_dataset(dataset.get());
}

ResultsFile Reader::read() {
  open();
  ResultsFile out;
  out.attributes = all_attributes();

  RunMetadata& meta = out.meta;
  meta.scenario_name = required_string("scenario_name");
  meta.start_date = required_string("start_date");
  meta.scenario_text = required_string("scenario");
  meta.command_line = required_string("command_line");
  const std::int64_t step_days = required_int("step_days");
  if (step_days < 1 || step_days > INT32_MAX) damaged(fmt::format("step_days is {}", step_days));
  meta.step_days = int(step_days);
  meta.replicates = required_int("replicates");
  const auto seed = h5::read_uint64_attribute(file_.get(), "seed");
  if (!seed) damaged("the attribute 'seed' is missing or not a non-negative integer");
  meta.seed = *seed;

  meta.lab_names = labels(Dim::lab);
  meta.tier_names = labels(Dim::tier);
  meta.named_names = labels(Dim::named);
  ResultShape& shape = out.shape;
  shape.steps = int(coordinate_length(Dim::time));
  shape.labs = int(meta.lab_names.size());
  shape.tiers = int(meta.tier_names.size());
  shape.named = int(meta.named_names.size());
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

  out.replicates.reserve(size_t(meta.replicates));
  for (std::int64_t r = 0; r < meta.replicates; ++r) {
    out.replicates.emplace_back(shape);
    out.replicates.back().replicate = r;
  }
  for (const layout::Variable& v : layout::kVariables) {
    Handle dataset = open_variable(v.name);
    std::vector<hsize_t> expected;
    for (int axis = 0; axis < v.rank; ++axis) {
      expected.push_back(hsize_t(layout::dim_length(v.dims[size_t(axis)], meta.replicates, shape)));
    }
    const std::vector<hsize_t> actual = h5::dataset_dims(dataset.get());
    if (actual != expected) {
      damaged(fmt::format("variable '{}' has extent {}, expected {}", v.name, format_extent(actual),
                          format_extent(expected)));
    }
    const std::string context = fmt::format("cannot read variable '{}' of '{}'", v.name, name_);
    for (ReplicateResult& r : out.replicates) {
      if (v.ints != nullptr) {
        h5::read_slab(dataset.get(), H5T_NATIVE_INT32, expected, hsize_t(r.replicate),
                      (r.*v.ints).data(), context);
      } else {
        h5::read_slab(dataset.get(), H5T_NATIVE_DOUBLE, expected, hsize_t(r.replicate),
                      (r.*v.reals).data(), context);
      }
    }
  }
  return out;
}

}  // namespace

ResultsFile read_results(const fs::path& path) {
  h5::ErrorSilencer silence;
  return Reader(path).read();
}

}  // namespace talentsim
