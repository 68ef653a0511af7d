// A thin RAII layer over the HDF5 C API, private to talentsim_io: handles
// that close themselves, a guard that keeps HDF5 from printing its error
// stack, and helpers that turn a failed call into a RunError with HDF5's own
// reason attached.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

}  // namespace talentsim::h5
