#include "hdf5_support.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <hdf5_hl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <limits>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "talentsim/errors.hpp"
#include "talentsim/version.hpp"

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

// HDF5 also keeps freed blocks on free lists for reuse, up to 1 MiB per
// block size and 16 MiB in all by default. Chunk-index nodes leaving the
// metadata cache (below) land there, so the lists grew with the number of
// chunks: heaptrack put 1.7 MB of the 4.6 MB by which a 10,000-replicate
// run's heap outgrew a 1,000-replicate one's in B-tree nodes on them. Small
// limits keep the reuse and let the rest go back to malloc. A setting of
// the whole library, for readers and writers alike, so made once here (after
// kNoHdf5AtExit: initialisers in one file run in order, and this call does
// initialise the library). Failing would only leave the default caps.
[[maybe_unused]] const bool kSmallFreeLists =
    H5set_free_list_limits(256 << 10, 64 << 10, 256 << 10, 64 << 10, 256 << 10, 64 << 10) >= 0;

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

// --- Shared by the writers of run and sweep files ---------------------------

namespace fs = std::filesystem;

std::string iso_utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32] = {};
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

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

void validate_run_metadata(const RunMetadata& meta, const ResultShape& shape,
                           const std::string& who) {
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) throw InternalError(who + what);
  };
  require(shape.steps >= 0 && shape.labs >= 0 && shape.tiers >= 0 && shape.named >= 0 &&
              shape.questions >= 0,
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
  require(meta.questions.size() == size_t(shape.questions),
          fmt::format("{} questions described for {} questions", meta.questions.size(),
                      shape.questions));
}

void prepare_destination(const fs::path& destination, bool overwrite) {
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
}

fs::path temporary_path_for(const fs::path& destination) {
  fs::path temporary = destination;
  temporary += ".tmp." + std::to_string(::getpid());
  return temporary;
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

void move_into_place(const fs::path& temporary, const fs::path& destination, bool overwrite) {
  const std::string dest = destination.string();
  std::error_code error;
  if (!overwrite && fs::exists(destination, error)) {
    throw RunError(fmt::format(
        "results file '{}' appeared while the simulation ran; not overwriting it", dest));
  }
  fs::rename(temporary, destination, error);
  if (error) {
    throw RunError(fmt::format("cannot move '{}' to results file '{}': {}", temporary.string(),
                               dest, error.message()));
  }
}

namespace {

// HDF5's metadata cache, fixed in size rather than adaptive (up to 32 MiB
// by default). The chunk index is a version-1 B-tree whose nodes take about
// 5 times in memory what they count against the cache (each of a node's 65
// keys has room for 33 coordinates whatever the rank): some 280 bytes per
// chunk, and there are R * (4 ceil(T / Tc) + 2) chunks in a run file. The
// summaries walk the whole index of headcount and star_power once per
// block, so an adaptive cache ends up holding all of it (50 MB at 5,000
// replicates with Tc = 8), and memory grows with the replicates. Writes and
// summaries both visit the index in order, so a small cache serves them as
// fast. A sweep file has a chunk per replicate of each point for each
// per-step variable, and the same holds. At 512 KiB the cache filled only
// in runs longer than 1,000 replicates, and its B-tree nodes (1.7 MB in
// heaptrack) were most of the peak RSS growth from 1,000 to 10,000
// replicates of frontier_25k (+8 to +10%); at 256 KiB that growth measured
// +4 to +5%, with the commit's time unchanged (bench_results_write) and the
// 10,000-replicate run as fast.
constexpr size_t kMetadataCacheBytes = size_t{256} << 10;

void set_metadata_cache(hid_t fapl, const std::string& context) {
  H5AC_cache_config_t config{};
  config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  check(H5Pget_mdc_config(fapl, &config), context);
  config.set_initial_size = true;
  config.initial_size = kMetadataCacheBytes;
  config.min_size = kMetadataCacheBytes;
  config.max_size = kMetadataCacheBytes;
  config.incr_mode = H5C_incr__off;
  config.flash_incr_mode = H5C_flash_incr__off;
  config.decr_mode = H5C_decr__off;
  check(H5Pset_mdc_config(fapl, &config), context);
}

}  // namespace

Handle create_file(const fs::path& path, const std::string& context) {
  Handle fcpl = check_plist(H5Pcreate(H5P_FILE_CREATE), context);
  check(H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        context);
  check(H5Pset_attr_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        context);
  Handle fapl = check_plist(H5Pcreate(H5P_FILE_ACCESS), context);
  check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), context);
  set_metadata_cache(fapl.get(), context);
  return check_file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), context);
}

Handle create_dataset(hid_t location, const char* name, hid_t type,
                      const std::vector<hsize_t>& dims, const std::vector<hsize_t>& chunk,
                      const std::string& context, size_t chunk_cache_bytes) {
  Handle dcpl = check_plist(H5Pcreate(H5P_DATASET_CREATE), context);
  check(H5Pset_attr_creation_order(dcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        context);
  // No modification times in object headers: the same results give the
  // same bytes whenever they are written (only `created` says when).
  check(H5Pset_obj_track_times(dcpl.get(), false), context);
  bool empty = false;
  for (hsize_t d : dims) empty = empty || d == 0;
  if (!chunk.empty() && !empty) {
    if (chunk.size() != dims.size()) {
      throw InternalError(fmt::format("create_dataset: chunk of rank {} for '{}' of rank {}",
                                      chunk.size(), name, dims.size()));
    }
    check(H5Pset_chunk(dcpl.get(), int(chunk.size()), chunk.data()), context);
    check(H5Pset_shuffle(dcpl.get()), context);
    check(H5Pset_deflate(dcpl.get(), kDeflateLevel), context);
  }
  Handle dapl = check_plist(H5Pcreate(H5P_DATASET_ACCESS), context);
  const size_t slots = chunk_cache_bytes == 0 ? H5D_CHUNK_CACHE_NSLOTS_DEFAULT : 1021;
  check(H5Pset_chunk_cache(dapl.get(), slots, chunk_cache_bytes, H5D_CHUNK_CACHE_W0_DEFAULT),
        context);
  Handle space = check_space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), context);
  return check_dataset(
      H5Dcreate2(location, name, type, space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()), context);
}

void write_labels(hid_t dataset, const std::vector<std::string>& labels,
                  const std::string& context) {
  if (labels.empty()) return;
  std::vector<const char*> pointers;
  for (const auto& s : labels) pointers.push_back(s.c_str());
  Handle type = variable_string_type();
  check(H5Dwrite(dataset, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), context);
}

void write_all(hid_t dataset, hid_t memory_type, const void* data, size_t count,
               const std::string& context) {
  if (count == 0) return;
  check(H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), context);
}

Handle create_coordinate(hid_t location, layout::Dim d, const RunMetadata& meta,
                         const ResultShape& shape, const std::string& where) {
  using layout::Dim;
  const char* name = layout::dim_name(d);
  const std::string context =
      fmt::format("cannot write coordinate variable '{}' to {}", name, where);
  const std::vector<hsize_t> dims = {hsize_t(layout::dim_length(d, meta.replicates, shape))};
  const std::vector<std::string>* labels = nullptr;
  std::vector<std::string> question_ids;
  const char* long_name = "";
  const char* description = "";
  Handle dataset;
  switch (d) {
    case Dim::replicate: {
      dataset = create_dataset(location, name, H5T_STD_I64LE, dims, {}, context);
      std::vector<std::int64_t> values(dims[0]);
      for (size_t r = 0; r < values.size(); ++r) values[r] = std::int64_t(r);
      write_all(dataset.get(), H5T_NATIVE_INT64, values.data(), values.size(), context);
      long_name = "replicate";
      description = "index of the Monte Carlo replicate";
      break;
    }
    case Dim::time: {
      dataset = create_dataset(location, name, H5T_STD_I32LE, dims, {}, context);
      std::vector<std::int32_t> days(dims[0]);
      for (size_t t = 0; t < days.size(); ++t) days[t] = std::int32_t(t) * meta.step_days;
      write_all(dataset.get(), H5T_NATIVE_INT32, days.data(), days.size(), context);
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
    case Dim::question:
      for (const QuestionInfo& q : meta.questions) question_ids.push_back(q.id);
      labels = &question_ids;
      long_name = "forecast question";
      description = "identifier of the forecast question";
      break;
    case Dim::quantile:
      dataset = create_dataset(location, name, H5T_IEEE_F64LE, dims, {}, context);
      write_all(dataset.get(), H5T_NATIVE_DOUBLE, kSummaryQuantiles, kSummaryQuantileCount,
                context);
      long_name = "quantile";
      description = "probability of the percentile across replicates (0.5: the median)";
      break;
  }
  if (labels != nullptr) {
    Handle type = variable_string_type();
    dataset = create_dataset(location, name, type.get(), dims, {}, context);
    write_labels(dataset.get(), *labels, context);
  }
  check(H5DSset_scale(dataset.get(), name), context);
  write_string_attribute(dataset.get(), "long_name", long_name);
  write_string_attribute(dataset.get(), "description", description);
  if (d == Dim::time) {
    write_string_attribute(dataset.get(), "standard_name", "time");
    write_string_attribute(dataset.get(), "axis", "T");
    write_string_attribute(dataset.get(), "units", "days since " + meta.start_date);
    write_string_attribute(dataset.get(), "calendar", "proleptic_gregorian");
  }
  return dataset;
}

// The bounds are float64 with no fill value defined, so a missing bound
// (NaN) reads as NaN.
void create_question_variables(hid_t location, const std::vector<QuestionInfo>& questions,
                               hid_t question_scale, const std::string& where) {
  const std::vector<hsize_t> dims = {hsize_t(questions.size())};
  for (const layout::QuestionVariable& v : layout::kQuestionVariables) {
    const std::string context = fmt::format("cannot write variable '{}' to {}", v.name, where);
    Handle dataset;
    if (v.text != nullptr) {
      Handle type = variable_string_type();
      dataset = create_dataset(location, v.name, type.get(), dims, {}, context);
      std::vector<std::string> values;
      for (const QuestionInfo& q : questions) values.push_back(q.*v.text);
      write_labels(dataset.get(), values, context);
    } else {
      dataset = create_dataset(location, v.name, H5T_IEEE_F64LE, dims, {}, context);
      std::vector<double> values;
      for (const QuestionInfo& q : questions) values.push_back(q.*v.real);
      write_all(dataset.get(), H5T_NATIVE_DOUBLE, values.data(), values.size(), context);
    }
    check(H5DSattach_scale(dataset.get(), question_scale, 0), context);
    write_string_attribute(dataset.get(), "long_name", v.long_name);
    write_string_attribute(dataset.get(), "description", v.description);
  }
}

// --- Shared by the readers of run and sweep files ---------------------------

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

}  // namespace

Handle open_results_file(const std::string& name, std::string& file_type) {
  std::error_code error;
  const fs::file_status status = fs::status(name, error);
  if (!fs::exists(status)) {
    throw RunError(fmt::format("results file '{}' does not exist", name));
  }
  if (fs::is_directory(status)) {
    throw RunError(fmt::format("'{}' is a directory, not a results file", name));
  }
  const htri_t is_hdf5 = H5Fis_hdf5(name.c_str());
  if (is_hdf5 < 0) fail(fmt::format("cannot read '{}'", name));
  if (is_hdf5 == 0) {
    throw RunError(
        fmt::format("'{}' is not a talentsim results file: it is not an HDF5 file", name));
  }
  const std::string context = fmt::format("cannot open results file '{}'", name);
  Handle fapl = check_plist(H5Pcreate(H5P_FILE_ACCESS), context);
  check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), context);
  Handle file = check_file(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()), context);

  const auto type = read_string_attribute(file.get(), "file_type");
  if (!type) {
    throw RunError(
        fmt::format("'{}' is not a talentsim results file: it has no file_type attribute", name));
  }
  if (*type != layout::kFileType && *type != layout::kCompareFileType &&
      *type != layout::kSweepFileType) {
    throw RunError(fmt::format(
        "'{}' is not a talentsim results file: its file_type is '{}', not '{}', '{}' or '{}'", name,
        *type, layout::kFileType, layout::kCompareFileType, layout::kSweepFileType));
  }
  const auto version = read_int_attribute(file.get(), "file_format_version");
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

std::string format_extent(const std::vector<hsize_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", dims[i]);
  return out + "]";
}

void LocationReader::damaged(const std::string& what) const {
  throw RunError(fmt::format("results file {} is damaged or incomplete: {}", label, what));
}

std::map<std::string, std::string> LocationReader::all_attributes() const {
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Aiterate2(location, H5_INDEX_NAME, H5_ITER_INC, &index, collect_name, &names) < 0) {
    fail(fmt::format("cannot list the attributes of {}", label));
  }
  std::map<std::string, std::string> out;
  for (const auto& n : names) {
    Handle attribute = check_attribute(H5Aopen(location, n.c_str(), H5P_DEFAULT),
                                       fmt::format("cannot read attribute '{}' of {}", n, label));
    out[n] = attribute_as_text(attribute.get());
  }
  return out;
}

std::string LocationReader::required_string(const char* attribute) const {
  auto value = read_string_attribute(location, attribute);
  if (!value) damaged(fmt::format("the text attribute '{}' is missing", attribute));
  return *value;
}

std::int64_t LocationReader::required_int(const char* attribute) const {
  auto value = read_int_attribute(location, attribute);
  if (!value) damaged(fmt::format("the integer attribute '{}' is missing", attribute));
  return *value;
}

bool LocationReader::has_variable(const char* variable) const {
  const htri_t exists = H5Lexists(location, variable, H5P_DEFAULT);
  if (exists < 0) fail(fmt::format("cannot look for variable '{}' in {}", variable, label));
  return exists > 0;
}

Handle LocationReader::open_variable(const char* variable) const {
  if (!has_variable(variable)) damaged(fmt::format("it has no variable '{}'", variable));
  return check_dataset(H5Dopen2(location, variable, H5P_DEFAULT),
                       fmt::format("cannot open variable '{}' in {}", variable, label));
}

void LocationReader::expect_extent(const char* variable, const Handle& dataset,
                                   const std::vector<hsize_t>& expected) const {
  const std::vector<hsize_t> actual = dataset_dims(dataset.get());
  if (actual != expected) {
    damaged(fmt::format("variable '{}' has extent {}, expected {}", variable, format_extent(actual),
                        format_extent(expected)));
  }
}

std::int64_t LocationReader::coordinate_length(const char* variable) const {
  Handle dataset = open_variable(variable);
  const std::vector<hsize_t> dims = dataset_dims(dataset.get());
  if (dims.size() != 1 || dims[0] > hsize_t(INT32_MAX)) {
    damaged(fmt::format("coordinate '{}' has extent {}", variable, format_extent(dims)));
  }
  return std::int64_t(dims[0]);
}

std::vector<std::string> LocationReader::strings(const char* variable, std::int64_t length) const {
  Handle dataset = open_variable(variable);
  Handle type = check_type(H5Dget_type(dataset.get()),
                           fmt::format("cannot read variable '{}' of {}", variable, label));
  if (H5Tget_class(type.get()) != H5T_STRING) {
    damaged(fmt::format("variable '{}' does not hold strings", variable));
  }
  if (length >= 0) expect_extent(variable, dataset, {hsize_t(length)});
  return read_string_dataset(dataset.get());
}

std::vector<double> LocationReader::reals(const char* variable, std::int64_t length) const {
  std::vector<double> values;
  read_whole(variable, {hsize_t(length)}, H5T_NATIVE_DOUBLE, values);
  return values;
}

void LocationReader::read_all(const char* variable, const Handle& dataset, hid_t memory_type,
                              void* data) const {
  check(H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
        fmt::format("cannot read variable '{}' of {}", variable, label));
}

std::vector<QuestionInfo> LocationReader::questions() const {
  const std::vector<std::string> ids = strings(layout::dim_name(layout::Dim::question), -1);
  const auto count = std::int64_t(ids.size());
  std::vector<QuestionInfo> out(ids.size());
  for (size_t q = 0; q < ids.size(); ++q) out[q].id = ids[q];
  for (const layout::QuestionVariable& v : layout::kQuestionVariables) {
    if (v.text != nullptr) {
      const std::vector<std::string> values = strings(v.name, count);
      for (size_t q = 0; q < values.size(); ++q) out[q].*v.text = values[q];
    } else {
      const std::vector<double> values = reals(v.name, count);
      for (size_t q = 0; q < values.size(); ++q) out[q].*v.real = values[q];
    }
  }
  return out;
}

}  // namespace talentsim::h5
