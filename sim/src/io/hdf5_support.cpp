#include "hdf5_support.hpp"

#include <fmt/format.h>

#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "talentsim/errors.hpp"

namespace talentsim::h5 {

namespace {

// When H5Fclose fails while flushing (disk full, file too large), HDF5 1.10
// frees the file but leaves its identifier registered, and the cleanup it
// installs with atexit() then crashes the process closing it again (HDF5
// pull request 2291 fixed this after 1.10.8, Debian 12's version). Every HDF5 object here is closed
// by RAII before exit, so that cleanup has nothing to do: ask HDF5 not to install it. This must run
// before the first HDF5 call initialises the library, hence a static initializer; the call itself
// does not initialise the library.
[[maybe_unused]] const bool kNoHdf5AtExit = H5dont_atexit() >= 0;

}  // namespace

ErrorSilencer::ErrorSilencer() {
  H5Eget_auto2(H5E_DEFAULT, &previous_function_, &previous_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

ErrorSilencer::~ErrorSilencer() { H5Eset_auto2(H5E_DEFAULT, previous_function_, previous_data_); }

namespace {

// H5Ewalk2 callback: keeps the first (with H5E_WALK_UPWARD, the innermost)
// error that has a description.
herr_t keep_innermost(unsigned /*n*/, const H5E_error2_t* error, void* client_data) {
  auto* out = static_cast<std::string*>(client_data);
  if (out->empty() && error != nullptr) {
    if (error->desc != nullptr && error->desc[0] != '\0') {
      *out = error->desc;
    } else {
      char buffer[256] = {};
      if (H5Eget_msg(error->min_num, nullptr, buffer, sizeof buffer) > 0) *out = buffer;
    }
  }
  return 0;
}

std::vector<std::string> read_strings(hid_t object, bool is_attribute) {
  const char* what = is_attribute ? "attribute" : "dataset";
  Handle type = check_type(is_attribute ? H5Aget_type(object) : H5Dget_type(object),
                           fmt::format("cannot get the type of a string {}", what));
  Handle space = check_space(is_attribute ? H5Aget_space(object) : H5Dget_space(object),
                             fmt::format("cannot get the extent of a string {}", what));
  if (H5Sget_simple_extent_type(space.get()) == H5S_NULL) return {};
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) fail(fmt::format("cannot count the strings in a {}", what));
  if (count == 0) return {};
  const size_t n = static_cast<size_t>(count);
  std::vector<std::string> out;
  out.reserve(n);

  const htri_t variable = H5Tis_variable_str(type.get());
  if (variable < 0) fail(fmt::format("cannot inspect the string type of a {}", what));
  if (variable > 0) {
    Handle memory_type = variable_string_type();
    std::vector<char*> pointers(n, nullptr);
    const herr_t status = is_attribute ? H5Aread(object, memory_type.get(), pointers.data())
                                       : H5Dread(object, memory_type.get(), H5S_ALL, H5S_ALL,
                                                 H5P_DEFAULT, pointers.data());
    if (status < 0) fail(fmt::format("cannot read a string {}", what));
    for (const char* p : pointers) out.emplace_back(p != nullptr ? p : "");
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(memory_type.get(), space.get(), H5P_DEFAULT, pointers.data());
#else
    H5Dvlen_reclaim(memory_type.get(), space.get(), H5P_DEFAULT, pointers.data());
#endif
    return out;
  }

  // Fixed length: read the bytes as stored (same type in memory, so no
  // conversion) and cut each at its terminator or padding.
  const size_t size = H5Tget_size(type.get());
  if (size == 0) fail(fmt::format("cannot get the size of a string {}", what));
  const H5T_str_t pad = H5Tget_strpad(type.get());
  Handle memory_type = check_type(H5Tcopy(type.get()), "cannot copy a string type");
  std::vector<char> bytes(n * size);
  const herr_t status = is_attribute ? H5Aread(object, memory_type.get(), bytes.data())
                                     : H5Dread(object, memory_type.get(), H5S_ALL, H5S_ALL,
                                               H5P_DEFAULT, bytes.data());
  if (status < 0) fail(fmt::format("cannot read a string {}", what));
  for (size_t i = 0; i < n; ++i) {
    std::string_view s(bytes.data() + i * size, size);
    if (pad == H5T_STR_SPACEPAD) {
      const size_t end = s.find_last_not_of(' ');
      s = s.substr(0, end == std::string_view::npos ? 0 : end + 1);
    } else {
      s = s.substr(0, s.find('\0'));
    }
    out.emplace_back(s);
  }
  return out;
}

template <typename T>
std::vector<T> read_numbers(hid_t attribute, hid_t memory_type) {
  Handle space = check_space(H5Aget_space(attribute), "cannot get the extent of an attribute");
  if (H5Sget_simple_extent_type(space.get()) == H5S_NULL) return {};
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) fail("cannot count the values of an attribute");
  std::vector<T> values(static_cast<size_t>(count));
  if (count > 0) check(H5Aread(attribute, memory_type, values.data()), "cannot read an attribute");
  return values;
}

std::string join(const auto& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}", v);
  }
  return out;
}

// nullopt unless the attribute exists and holds exactly one integer.
template <typename T>
std::optional<T> read_one_integer(hid_t object, const char* name) {
  if (!has_attribute(object, name)) return std::nullopt;
  Handle attribute = check_attribute(H5Aopen(object, name, H5P_DEFAULT),
                                     fmt::format("cannot open attribute '{}'", name));
  Handle type = check_type(H5Aget_type(attribute.get()),
                           fmt::format("cannot get the type of attribute '{}'", name));
  if (H5Tget_class(type.get()) != H5T_INTEGER) return std::nullopt;
  if (H5Tget_sign(type.get()) == H5T_SGN_NONE) {
    const auto values = read_numbers<std::uint64_t>(attribute.get(), H5T_NATIVE_UINT64);
    if (values.size() != 1 || values[0] > std::uint64_t(std::numeric_limits<T>::max())) {
      return std::nullopt;
    }
    return static_cast<T>(values[0]);
  }
  const auto values = read_numbers<std::int64_t>(attribute.get(), H5T_NATIVE_INT64);
  if (values.size() != 1 || (std::is_unsigned_v<T> && values[0] < 0)) return std::nullopt;
  return static_cast<T>(values[0]);
}

// Selects the block of `dataset` at `start` of extent `count` and returns the
// file and memory dataspaces for it; nullopt when the block has no elements.
std::optional<std::pair<Handle, Handle>> select_block(hid_t dataset, std::span<const hsize_t> start,
                                                      std::span<const hsize_t> count,
                                                      const std::string& context) {
  for (const hsize_t c : count) {
    if (c == 0) return std::nullopt;
  }
  Handle file_space = check_space(H5Dget_space(dataset), context);
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                            nullptr),
        context);
  Handle memory_space =
      check_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), context);
  return std::make_pair(std::move(file_space), std::move(memory_space));
}

// H5Literate2 callback collecting the names of links to groups.
herr_t collect_group(hid_t location, const char* name, const H5L_info_t* /*info*/, void* names) {
  try {
    const hid_t object = H5Oopen(location, name, H5P_DEFAULT);
    if (object < 0) return -1;
    const bool is_group = H5Iget_type(object) == H5I_GROUP;
    H5Oclose(object);
    if (is_group) static_cast<std::vector<std::string>*>(names)->emplace_back(name);
    return 0;
  } catch (...) {
    return -1;
  }
}

Handle create_attribute(hid_t object, const char* name, hid_t type, hid_t space) {
  return check_attribute(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT),
                         fmt::format("cannot create attribute '{}'", name));
}

}  // namespace

std::string last_error() {
  std::string message;
  const hid_t stack = H5Eget_current_stack();
  if (stack >= 0) {
    H5Ewalk2(stack, H5E_WALK_UPWARD, keep_innermost, &message);
    H5Eclose_stack(stack);
  }
  if (message.empty()) return "unknown HDF5 error";
  // The file drivers report the OS error inside a longer text such as
  // "unable to open file: name = '...', errno = 21, error message = 'Is a
  // directory', flags = 13, o_flags = 242"; the OS message is what helps.
  constexpr std::string_view marker = "error message = '";
  const size_t start = message.find(marker);
  if (start != std::string::npos) {
    const size_t from = start + marker.size();
    const size_t end = message.find('\'', from);
    if (end != std::string::npos && end > from) return message.substr(from, end - from);
  }
  return message;
}

void fail(const std::string& context) { throw RunError(context + ": " + last_error()); }

Handle check_file(hid_t id, const std::string& context) {
  if (id < 0) fail(context);
  return Handle(id, H5Fclose);
}
Handle check_dataset(hid_t id, const std::string& context) {
  if (id < 0) fail(context);
  return Handle(id, H5Dclose);
}
Handle check_space(hid_t id, const std::string& context) {
  if (id < 0) fail(context);
  return Handle(id, H5Sclose);
}
Handle check_type(hid_t id, const std::string& context) {
  if (id < 0) fail(context);
  return Handle(id, H5Tclose);
}
Handle check_plist(hid_t id, const std::string& context) {
  if (id < 0) fail(context);
  return Handle(id, H5Pclose);
}
Handle check_attribute(hid_t id, const std::string& context) {
  if (id < 0) fail(context);
  return Handle(id, H5Aclose);
}
Handle check_group(hid_t id, const std::string& context) {
  if (id < 0) fail(context);
  return Handle(id, H5Gclose);
}
void check(herr_t status, const std::string& context) {
  if (status < 0) fail(context);
}

Handle fixed_string_type(size_t size) {
  Handle type = check_type(H5Tcopy(H5T_C_S1), "cannot create a string type");
  check(H5Tset_size(type.get(), size), "cannot size a string type");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), "cannot set string padding");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "cannot set a string character set");
  return type;
}

Handle variable_string_type() {
  Handle type = check_type(H5Tcopy(H5T_C_S1), "cannot create a string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), "cannot make a variable-length string type");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "cannot set a string character set");
  return type;
}

void write_string_attribute(hid_t object, const char* name, std::string_view value) {
  const std::string context = fmt::format("cannot write attribute '{}'", name);
  if (value.empty()) {
    Handle type = fixed_string_type(1);
    Handle space = check_space(H5Screate(H5S_NULL), context);
    create_attribute(object, name, type.get(), space.get());
    return;
  }
  Handle type = fixed_string_type(value.size());
  Handle space = check_space(H5Screate(H5S_SCALAR), context);
  Handle attribute = create_attribute(object, name, type.get(), space.get());
  check(H5Awrite(attribute.get(), type.get(), value.data()), context);
}

void write_int_attribute(hid_t object, const char* name, std::int64_t value, hid_t file_type) {
  Handle space = check_space(H5Screate(H5S_SCALAR), "cannot create a scalar dataspace");
  Handle attribute = create_attribute(object, name, file_type, space.get());
  check(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value),
        fmt::format("cannot write attribute '{}'", name));
}

void write_uint64_attribute(hid_t object, const char* name, std::uint64_t value) {
  Handle space = check_space(H5Screate(H5S_SCALAR), "cannot create a scalar dataspace");
  Handle attribute = create_attribute(object, name, H5T_STD_U64LE, space.get());
  check(H5Awrite(attribute.get(), H5T_NATIVE_UINT64, &value),
        fmt::format("cannot write attribute '{}'", name));
}

bool has_attribute(hid_t object, const char* name) {
  const htri_t exists = H5Aexists(object, name);
  if (exists < 0) fail(fmt::format("cannot look for attribute '{}'", name));
  return exists > 0;
}

std::optional<std::string> read_string_attribute(hid_t object, const char* name) {
  if (!has_attribute(object, name)) return std::nullopt;
  Handle attribute = check_attribute(H5Aopen(object, name, H5P_DEFAULT),
                                     fmt::format("cannot open attribute '{}'", name));
  Handle type = check_type(H5Aget_type(attribute.get()),
                           fmt::format("cannot get the type of attribute '{}'", name));
  if (H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;
  const std::vector<std::string> values = read_strings(attribute.get(), true);
  if (values.size() > 1) return std::nullopt;
  return values.empty() ? std::string() : values.front();
}

std::optional<std::int64_t> read_int_attribute(hid_t object, const char* name) {
  return read_one_integer<std::int64_t>(object, name);
}

std::optional<std::uint64_t> read_uint64_attribute(hid_t object, const char* name) {
  return read_one_integer<std::uint64_t>(object, name);
}

std::string attribute_as_text(hid_t attribute) {
  Handle type = check_type(H5Aget_type(attribute), "cannot get the type of an attribute");
  switch (H5Tget_class(type.get())) {
    case H5T_STRING:
      return join(read_strings(attribute, true));
    case H5T_INTEGER:
      if (H5Tget_sign(type.get()) == H5T_SGN_NONE) {
        return join(read_numbers<std::uint64_t>(attribute, H5T_NATIVE_UINT64));
      }
      return join(read_numbers<std::int64_t>(attribute, H5T_NATIVE_INT64));
    case H5T_FLOAT:
      return join(read_numbers<double>(attribute, H5T_NATIVE_DOUBLE));
    default:
      return "<value of an unsupported HDF5 type>";
  }
}

std::vector<std::string> read_string_dataset(hid_t dataset) { return read_strings(dataset, false); }

std::vector<hsize_t> dataset_dims(hid_t dataset) {
  Handle space = check_space(H5Dget_space(dataset), "cannot get the extent of a dataset");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail("cannot get the rank of a dataset");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) {
    fail("cannot get the extent of a dataset");
  }
  return dims;
}

std::vector<std::string> list_groups(hid_t location) {
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Literate(location, H5_INDEX_NAME, H5_ITER_INC, &index, collect_group, &names) < 0) {
    fail("cannot list groups");
  }
  return names;
}

void write_block(hid_t dataset, hid_t memory_type, std::span<const hsize_t> start,
                 std::span<const hsize_t> count, const void* data, const std::string& context,
                 hid_t transfer) {
  auto spaces = select_block(dataset, start, count, context);
  if (!spaces) return;
  check(H5Dwrite(dataset, memory_type, spaces->second.get(), spaces->first.get(), transfer, data),
        context);
}

void read_block(hid_t dataset, hid_t memory_type, std::span<const hsize_t> start,
                std::span<const hsize_t> count, void* data, const std::string& context) {
  auto spaces = select_block(dataset, start, count, context);
  if (!spaces) return;
  check(H5Dread(dataset, memory_type, spaces->second.get(), spaces->first.get(), H5P_DEFAULT, data),
        context);
}

namespace {

// The slab at `index` along the first dimension as a block: start and count.
std::pair<std::vector<hsize_t>, std::vector<hsize_t>> slab(std::span<const hsize_t> dims,
                                                           hsize_t index) {
  std::vector<hsize_t> start(dims.size(), 0);
  std::vector<hsize_t> count(dims.begin(), dims.end());
  start[0] = index;
  count[0] = 1;
  return {std::move(start), std::move(count)};
}

}  // namespace

void write_slab(hid_t dataset, hid_t memory_type, std::span<const hsize_t> dims, hsize_t index,
                const void* data, const std::string& context, hid_t transfer) {
  const auto [start, count] = slab(dims, index);
  write_block(dataset, memory_type, start, count, data, context, transfer);
}

void read_slab(hid_t dataset, hid_t memory_type, std::span<const hsize_t> dims, hsize_t index,
               void* data, const std::string& context) {
  const auto [start, count] = slab(dims, index);
  read_block(dataset, memory_type, start, count, data, context);
}

}  // namespace talentsim::h5
