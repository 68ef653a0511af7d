// A thin RAII layer over the HDF5 C API, private to talentsim_io: handles
// that close themselves, a guard that keeps HDF5 from printing its error
// stack, and helpers that turn a failed call into a RunError with HDF5's own
// reason attached. At the end, the pieces that the writers and readers of
// run files (results_file.cpp, results_reader.cpp) and sweep files
// (sweep_file.cpp) share.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "results_layout.hpp"
#include "talentsim/result.hpp"
#include "talentsim/results_file.hpp"

namespace talentsim::h5 {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept
      : id_(std::exchange(other.id_, H5I_INVALID_HID)), closer_(other.closer_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      closer_ = other.closer_;
    }
    return *this;
  }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

  // Closes now and reports whether HDF5 accepted it (for the file, where a
  // failed close means data did not reach the disk).
  bool close() {
    const hid_t id = std::exchange(id_, H5I_INVALID_HID);
    return id < 0 || closer_ == nullptr || closer_(id) >= 0;
  }
  void reset() noexcept { close(); }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// While alive, HDF5 prints nothing on failure; the caller reports instead.
// The setting is per thread in thread-safe builds, so each entry point into
// talentsim_io that calls HDF5 holds one.
class ErrorSilencer {
 public:
  ErrorSilencer();
  ~ErrorSilencer();
  ErrorSilencer(const ErrorSilencer&) = delete;
  ErrorSilencer& operator=(const ErrorSilencer&) = delete;

 private:
  H5E_auto2_t previous_function_ = nullptr;
  void* previous_data_ = nullptr;
};

// The most specific message on the current thread's HDF5 error stack (which
// usually carries the OS reason, e.g. "errno = 13, error message =
// 'Permission denied'"), then clears the stack. Call it right after the
// failing HDF5 call, before any other HDF5 call resets the stack.
std::string last_error();

// Throws RunError("<context>: <last_error()>").
[[noreturn]] void fail(const std::string& context);

// Each of these returns a valid handle or throws RunError via fail(context).
Handle check_file(hid_t id, const std::string& context);
Handle check_dataset(hid_t id, const std::string& context);
Handle check_space(hid_t id, const std::string& context);
Handle check_type(hid_t id, const std::string& context);
Handle check_plist(hid_t id, const std::string& context);
Handle check_attribute(hid_t id, const std::string& context);
Handle check_group(hid_t id, const std::string& context);
void check(herr_t status, const std::string& context);

// Datatypes for text: fixed-length UTF-8 of `size` bytes, or variable length.
Handle fixed_string_type(size_t size);
Handle variable_string_type();

// Root and variable attributes. Strings are written as fixed-length UTF-8
// (netCDF NC_CHAR, the form CF tools expect); "" as a null dataspace, which
// is how netCDF-C itself stores an empty text attribute.
void write_string_attribute(hid_t object, const char* name, std::string_view value);
void write_int_attribute(hid_t object, const char* name, std::int64_t value, hid_t file_type);
void write_uint64_attribute(hid_t object, const char* name, std::uint64_t value);

bool has_attribute(hid_t object, const char* name);
// Reads a string attribute, fixed-length or variable-length; nullopt if the
// attribute is not of string class. Throws RunError on read failure.
std::optional<std::string> read_string_attribute(hid_t object, const char* name);
// Reads an integer attribute (any width or sign) that fits in the result type.
std::optional<std::int64_t> read_int_attribute(hid_t object, const char* name);
std::optional<std::uint64_t> read_uint64_attribute(hid_t object, const char* name);
// Any attribute rendered as text: strings as they are, numbers in decimal,
// several values separated by ", ".
std::string attribute_as_text(hid_t attribute);

// A 1-D dataset of strings (fixed or variable length) read whole.
std::vector<std::string> read_string_dataset(hid_t dataset);
// Current extent of a dataset.
std::vector<hsize_t> dataset_dims(hid_t dataset);

// Names of the groups directly inside `location`, in name order.
std::vector<std::string> list_groups(hid_t location);

// Moves the block of `dataset` starting at `start` with extent `count` to or
// from a dense row-major buffer of that extent, writing with the transfer
// property list `transfer`. Nothing is transferred when the block is empty.
void write_block(hid_t dataset, hid_t memory_type, std::span<const hsize_t> start,
                 std::span<const hsize_t> count, const void* data, const std::string& context,
                 hid_t transfer = H5P_DEFAULT);
void read_block(hid_t dataset, hid_t memory_type, std::span<const hsize_t> start,
                std::span<const hsize_t> count, void* data, const std::string& context);

// Moves the slab at `index` along the first dimension of `dataset`, whose
// extent is `dims`, to or from a dense row-major buffer holding the remaining
// dimensions. Nothing is transferred when the slab is empty.
void write_slab(hid_t dataset, hid_t memory_type, std::span<const hsize_t> dims, hsize_t index,
                const void* data, const std::string& context, hid_t transfer = H5P_DEFAULT);
void read_slab(hid_t dataset, hid_t memory_type, std::span<const hsize_t> dims, hsize_t index,
               void* data, const std::string& context);

// --- Shared by the writers of run and sweep files ---------------------------

// The current time as ISO-8601 UTC, e.g. "2026-01-31T12:00:00Z".
std::string iso_utc_now();
// YYYY-MM-DD naming a real day, the form CF time units need.
bool is_iso_date(const std::string& s);
// The metadata must describe the shape; a mismatch is a bug in the caller:
// throws InternalError(`who` + what is wrong).
void validate_run_metadata(const RunMetadata& meta, const ResultShape& shape,
                           const std::string& who);

// Refuses a destination that may not be written (InputError: a directory,
// or an existing file without `overwrite`) and creates its directory.
void prepare_destination(const std::filesystem::path& destination, bool overwrite);
// The temporary file a writer fills beside `destination`.
std::filesystem::path temporary_path_for(const std::filesystem::path& destination);
// fsync()s a closed file; throws RunError.
void sync_to_disk(const std::filesystem::path& path);
// Renames the finished temporary file to the destination, refusing a
// destination that appeared meanwhile unless `overwrite`; throws RunError.
void move_into_place(const std::filesystem::path& temporary,
                     const std::filesystem::path& destination, bool overwrite);

// Creates (truncating) a file laid out as netCDF-4 does: link and attribute
// creation order tracked and indexed; with a small fixed metadata cache
// (see hdf5_support.cpp) and the strong close degree.
Handle create_file(const std::filesystem::path& path, const std::string& context);

// The deflate level recorded with (and, where HDF5 compresses, used by)
// the filters of chunked variables.
inline constexpr unsigned kDeflateLevel = 4;

// A dataset of extent `dims` with attribute creation order tracked. Stored
// in chunks of extent `chunk`, compressed by shuffle + deflate, unless
// `chunk` is empty or a dimension is empty (then contiguous: chunks must be
// >= 1 and within a fixed dimension, and an empty variable holds no data
// anyway). `chunk_cache_bytes` is the dataset's chunk cache while it stays
// open (0: none, for writers of whole chunks).
Handle create_dataset(hid_t location, const char* name, hid_t type,
                      const std::vector<hsize_t>& dims, const std::vector<hsize_t>& chunk,
                      const std::string& context, size_t chunk_cache_bytes = 0);

// Writes labels (lab, tier, ...) as variable-length UTF-8 strings, and a
// whole dataset of `count` values from memory; nothing when empty.
void write_labels(hid_t dataset, const std::vector<std::string>& labels,
                  const std::string& context);
void write_all(hid_t dataset, hid_t memory_type, const void* data, size_t count,
               const std::string& context);

// The coordinate variable of dimension `d` of a run, a dimension scale with
// long_name and description (and CF time attributes for time); `where`
// names the file (and group) in messages.
Handle create_coordinate(hid_t location, layout::Dim d, const RunMetadata& meta,
                         const ResultShape& shape, const std::string& where);
// The questions' auxiliary coordinates (layout::kQuestionVariables) on the
// question dimension, whose scale is `question_scale`.
void create_question_variables(hid_t location, const std::vector<QuestionInfo>& questions,
                               hid_t question_scale, const std::string& where);

// --- Shared by the readers of run and sweep files ---------------------------

// Opens a talentsim file read-only after checking that it is one (run,
// comparison or sweep), of a format version this build reads. Sets
// `file_type` to the root file_type. Throws RunError.
Handle open_results_file(const std::string& name, std::string& file_type);

std::string format_extent(const std::vector<hsize_t>& dims);

// Reads the attributes and variables at `location` (a file's root or a
// group), reporting anything missing or misshapen as a damaged file.
struct LocationReader {
  hid_t location = H5I_INVALID_HID;
  std::string label;  // "'path'" or "'path' (group g)", for messages

  [[noreturn]] void damaged(const std::string& what) const;
  std::map<std::string, std::string> all_attributes() const;  // as text
  std::string required_string(const char* attribute) const;
  std::int64_t required_int(const char* attribute) const;
  bool has_variable(const char* variable) const;
  Handle open_variable(const char* variable) const;
  void expect_extent(const char* variable, const Handle& dataset,
                     const std::vector<hsize_t>& expected) const;
  // The length of a 1-D coordinate variable.
  std::int64_t coordinate_length(const char* variable) const;
  // A 1-D variable of strings; of `length` strings unless `length` < 0.
  std::vector<std::string> strings(const char* variable, std::int64_t length) const;
  std::vector<double> reals(const char* variable, std::int64_t length) const;
  // A whole variable of extent `expected`, as `memory_type` (double or
  // int32 here) into `values`, which it resizes.
  template <typename T>
  void read_whole(const char* variable, const std::vector<hsize_t>& expected, hid_t memory_type,
                  std::vector<T>& values) const {
    Handle dataset = open_variable(variable);
    expect_extent(variable, dataset, expected);
    size_t count = 1;
    for (const hsize_t d : expected) count *= size_t(d);
    values.resize(count);
    if (count > 0) read_all(variable, dataset, memory_type, values.data());
  }
  // The question coordinate and its auxiliary coordinates.
  std::vector<QuestionInfo> questions() const;

 private:
  void read_all(const char* variable, const Handle& dataset, hid_t memory_type, void* data) const;
};

}  // namespace talentsim::h5
