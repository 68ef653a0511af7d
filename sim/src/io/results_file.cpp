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
//   readers list dimensions and variables in the order written here;
// - the question's text, metric, lab and bounds are auxiliary coordinates,
//   named by question_value's CF `coordinates` attribute.
//
// A comparison file puts two runs, each laid out exactly as a run file's
// root, in groups "baseline" and "whatif". Each group holds its own
// dimension scales; netCDF-C resolves a variable's dimensions by searching
// its group and then the ancestors, so each group's variables find the
// group's own scales, and the two runs may differ in every dimension.
//
// A dimension may have length 0 (no named researchers): netCDF-C and xarray
// read a fixed zero-length dimension fine. Chunk sizes must be >= 1 and may
// not exceed a fixed dimension, so a variable with an empty dimension is
// stored contiguous and uncompressed; it holds no data anyway.
//
// Per-replicate variables are chunked by rows of replicates (see
// results_layout.hpp for why and what it measured): write() keeps each
// replicate in a row buffer (RowBuffer) until its row is whole, then writes
// each chunk of the row once, compressed here (deflate.hpp) and handed to
// HDF5 with H5Dwrite_chunk, which skips HDF5's per-write selections, type
// conversion and filter pipeline. The file is the same as HDF5's own
// filters would make it; readers decompress it with zlib as usual.
//
// The distribution summaries are computed in commit() from what was
// written (summaries.cpp) and stored contiguous: they are small, and are
// written a block of time steps at a time straight to the file.
#include "talentsim/results_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <hdf5_hl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

#include "deflate.hpp"
#include "hdf5_support.hpp"
#include "results_layout.hpp"
#include "summaries.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/version.hpp"

namespace fs = std::filesystem;

namespace talentsim {

using h5::Handle;
using layout::Dim;

namespace {

// Chunks hold layout::replicate_chunk replicates (and, on time,
// layout::time_chunk_steps steps); a chunk larger than this is halved along
// its second dimension (and the run's rows of replicates are made smaller
// when even one index of that would be too big), to keep chunks well under
// HDF5's 4 GiB.
constexpr size_t kMaxChunkBytes = size_t{64} << 20;
// The level recorded with the deflate filter, which HDF5 would compress
// with; the writer compresses chunks itself (deflate.hpp).
constexpr unsigned kDeflateLevel = 4;

// HDF5's metadata cache, fixed in size rather than adaptive (up to 32 MiB
// by default). The chunk index is a version-1 B-tree whose nodes take about
// 5 times in memory what they count against the cache (each of a node's 65
// keys has room for 33 coordinates whatever the rank): some 280 bytes per
// chunk, and there are R * (4 ceil(T / Tc) + 2) chunks. The summaries walk
// the whole index of headcount and star_power once per block, so an
// adaptive cache ends up holding all of it (50 MB at 5,000 replicates with
// Tc = 8), and memory grows with the replicates. Writes and summaries both
// visit the index in order, so a small cache serves them as fast.
constexpr size_t kMetadataCacheBytes = size_t{512} << 10;

void set_metadata_cache(hid_t fapl, const std::string& context) {
  H5AC_cache_config_t config{};
  config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  h5::check(H5Pget_mdc_config(fapl, &config), context);
  config.set_initial_size = true;
  config.initial_size = kMetadataCacheBytes;
  config.min_size = kMetadataCacheBytes;
  config.max_size = kMetadataCacheBytes;
  config.incr_mode = H5C_incr__off;
  config.flash_incr_mode = H5C_flash_incr__off;
  config.decr_mode = H5C_decr__off;
  h5::check(H5Pset_mdc_config(fapl, &config), context);
}

// Replicates arrive in about increasing order, but from several threads at
// once, so chunks are added to each variable's chunk index (a B-tree) at
// several places, each in increasing order. A node split in the middle of
// the tree keeps half its entries by default, and then never gets more:
// with 2 threads the file held 90 bytes of index and headers per chunk (a
// sixth of it at Tc = 16). Keeping 90%, as HDF5 does at the right end,
// makes that 68 and the file 4% smaller.
constexpr double kBtreeSplitLeft = 0.1, kBtreeSplitMiddle = 0.9, kBtreeSplitRight = 0.9;

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
void validate(const RunMetadata& meta, const ResultShape& shape, const std::string& run) {
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) throw InternalError("ResultsWriter: " + run + what);
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

template <typename Dims>
std::vector<hsize_t> extent(int rank, const Dims& dims, std::int64_t replicates,
                            const ResultShape& shape) {
  std::vector<hsize_t> out;
  for (int i = 0; i < rank; ++i) {
    out.push_back(hsize_t(layout::dim_length(dims[size_t(i)], replicates, shape)));
  }
  return out;
}

// How a dataset is stored: contiguous, or chunked and compressed with
// `replicate_chunk` replicates (slabs of the first dimension) per chunk,
// split along the second dimension (time) into `time_chunk` steps for
// `by_replicate_and_time`.
enum class Storage { contiguous, by_replicate, by_replicate_and_time };

// A dataset of the given extent, stored as asked; contiguous regardless
// when a dimension is empty.
Handle create_dataset(hid_t location, const char* name, hid_t type,
                      const std::vector<hsize_t>& dims, Storage storage, const std::string& context,
                      std::int64_t replicate_chunk = 1, std::int64_t time_chunk = 1) {
  Handle dcpl = h5::check_plist(H5Pcreate(H5P_DATASET_CREATE), context);
  h5::check(H5Pset_attr_creation_order(dcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
            context);
  bool empty = false;
  for (hsize_t d : dims) empty = empty || d == 0;
  if (storage != Storage::contiguous && !empty) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] =
        std::clamp<hsize_t>(hsize_t(std::max<std::int64_t>(replicate_chunk, 1)), 1, chunk[0]);
    if (storage == Storage::by_replicate_and_time && chunk.size() > 1) {
      chunk[1] = std::clamp<hsize_t>(hsize_t(std::max<std::int64_t>(time_chunk, 1)), 1, chunk[1]);
    }
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
  // No chunk cache: the writer writes whole chunks (H5Dwrite_chunk) and
  // reads back only the odd row it wrote before the row was whole; and the
  // summaries read each chunk once, never again soon after.
  Handle dapl = h5::check_plist(H5Pcreate(H5P_DATASET_ACCESS), context);
  h5::check(
      H5Pset_chunk_cache(dapl.get(), H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT),
      context);
  Handle space = h5::check_space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), context);
  return h5::check_dataset(
      H5Dcreate2(location, name, type, space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()), context);
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

void write_all(hid_t dataset, hid_t memory_type, const void* data, size_t count,
               const std::string& context) {
  if (count == 0) return;
  h5::check(H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), context);
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

// Refuses a destination that may not be written and creates its directory.
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

// A row untouched while this many rows' worth of replicates were written
// is written as it is (ResultsWriter::Impl::buffer): a row in progress gets
// a replicate every few writes, one per simulating thread at most.
constexpr std::uint64_t kStaleRows = 16;

// Replicates of one row of chunks (layout::replicate_chunk replicates) that
// have arrived, waiting for the rest of the row: per variable, the values
// of each replicate of the row in turn, as in ReplicateResult.
struct RowBuffer {
  std::int64_t row = -1;
  std::array<std::vector<std::uint8_t>, layout::kVariables.size()> values;
  std::vector<bool> present;  // by replicate within the row
  std::int64_t count = 0;
  std::uint64_t last_written = 0;  // when a replicate last arrived
};

// How a per-replicate variable is stored: chunk extent (empty when the
// variable holds no values and is stored contiguous) and sizes in bytes.
struct Storing {
  std::vector<hsize_t> chunk;
  size_t element_bytes = 0;
  size_t replicate_bytes = 0;  // of one replicate: all but the first dimension
  size_t inner_bytes = 0;      // of one step (one index along the second dimension)
};

// One run: the root of a run file, or a group of a comparison file.
struct Run {
  std::string group;  // "" at the root
  RunMetadata meta;
  ResultShape shape;
  Handle group_handle;  // valid for a group
  hid_t location = H5I_INVALID_HID;
  std::array<Handle, layout::kVariables.size()> variables;
  std::array<std::vector<hsize_t>, layout::kVariables.size()> extents;
  std::array<Storing, layout::kVariables.size()> storing;
  std::array<Handle, layout::kSummaryVariables.size()> summaries;
  std::vector<bool> written;
  std::int64_t written_count = 0;

  std::int64_t row_replicates = 1;        // Rc of the chunks
  size_t max_rows = 1;                    // rows buffered at most
  std::vector<RowBuffer> rows;            // buffered, in no order
  std::vector<RowBuffer> spare;           // emptied, to reuse their memory
  std::vector<std::int64_t> row_flushed;  // replicates of each row in the file already

  std::int64_t replicates_in_row(std::int64_t row) const {
    return std::min(row_replicates, meta.replicates - row * row_replicates);
  }

  void close() {
    for (auto& v : variables) v.reset();
    for (auto& v : summaries) v.reset();
    group_handle.reset();
  }
};

}  // namespace

struct ResultsWriter::Impl {
  fs::path destination;
  fs::path temporary;
  bool overwrite = false;
  bool compare = false;
  std::string command_line;  // of a comparison
  std::string created = iso_utc_now();

  Handle file;
  Handle transfer;           // for writing replicates
  std::uint64_t writes = 0;  // replicates written, to tell the oldest row
  // Scratch of whole-chunk writes, kept from one to the next.
  std::vector<std::uint8_t> gathered, shuffled, compressed;
  deflate::Encoder encoder;
  std::vector<Run> runs;
  bool created_file = false;
  bool committed = false;

  ~Impl() {
    h5::ErrorSilencer silence;
    for (auto& run : runs) run.close();
    file.reset();
    if (created_file && !committed) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
    }
  }

  // The temporary file, and the group when there is one, for messages.
  std::string where(const Run& run) const {
    return run.group.empty() ? fmt::format("'{}'", temporary.string())
                             : fmt::format("'{}' (group {})", temporary.string(), run.group);
  }
  void create_file();
  void write_compare_attributes();
  void write_run_attributes(const Run& run);
  void create_run(Run& run);
  Handle create_coordinate(Run& run, Dim d);
  void create_question_variables(Run& run, const Handle& scale);
  void create_variables(Run& run, const std::array<Handle, layout::kDims.size()>& scales);
  void create_summaries(Run& run, const std::array<Handle, layout::kDims.size()>& scales);
  void write_summaries(Run& run);
  void buffer(Run& run, const ReplicateResult& r);
  void flush(Run& run, RowBuffer& row);
  void read_back(Run& run, RowBuffer& row);
  void write_whole_chunks(Run& run, size_t variable, const RowBuffer& row);
  void flush_all(Run& run);
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
  set_metadata_cache(fapl.get(), context);
  file =
      h5::check_file(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), context);
  created_file = true;
  transfer = h5::check_plist(H5Pcreate(H5P_DATASET_XFER), context);
  h5::check(
      H5Pset_btree_ratios(transfer.get(), kBtreeSplitLeft, kBtreeSplitMiddle, kBtreeSplitRight),
      context);

  if (compare) {
    write_compare_attributes();
    for (Run& run : runs) {
      const std::string group_context =
          fmt::format("cannot create group '{}' in '{}'", run.group, temporary.string());
      Handle gcpl = h5::check_plist(H5Pcreate(H5P_GROUP_CREATE), group_context);
      h5::check(
          H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
          group_context);
      h5::check(
          H5Pset_attr_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
          group_context);
      run.group_handle = h5::check_group(
          H5Gcreate2(file.get(), run.group.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
          group_context);
      run.location = run.group_handle.get();
    }
  } else {
    runs.front().location = file.get();
  }
  for (Run& run : runs) create_run(run);
}

void ResultsWriter::Impl::write_compare_attributes() {
  const hid_t root = file.get();
  const RunMetadata& baseline = runs[0].meta;
  const RunMetadata& whatif = runs[1].meta;
  h5::write_string_attribute(root, "title", layout::kCompareTitle);
  h5::write_string_attribute(root, "Conventions", layout::kConventions);
  h5::write_string_attribute(root, "file_type", layout::kCompareFileType);
  h5::write_int_attribute(root, "file_format_version", kFileFormatVersion, H5T_STD_I32LE);
  h5::write_string_attribute(root, "software_version", kSoftwareVersion);
  h5::write_string_attribute(root, "git_commit", kGitCommit);
  h5::write_string_attribute(root, "created", created);
  h5::write_string_attribute(root, "command_line", command_line);
  h5::write_uint64_attribute(root, "seed", baseline.seed);
  h5::write_int_attribute(root, "replicates", baseline.replicates, H5T_STD_I64LE);
  h5::write_string_attribute(root, "baseline_name", baseline.scenario_name);
  h5::write_string_attribute(root, "whatif_name", whatif.scenario_name);
}

// The attributes of a run file's root; in a comparison, of each group too.
void ResultsWriter::Impl::write_run_attributes(const Run& run) {
  const hid_t location = run.location;
  const RunMetadata& meta = run.meta;
  h5::write_string_attribute(location, "title", layout::kTitle);
  h5::write_string_attribute(location, "Conventions", layout::kConventions);
  h5::write_string_attribute(location, "file_type", layout::kFileType);
  h5::write_int_attribute(location, "file_format_version", kFileFormatVersion, H5T_STD_I32LE);
  h5::write_string_attribute(location, "software_version", kSoftwareVersion);
  h5::write_string_attribute(location, "git_commit", kGitCommit);
  h5::write_string_attribute(location, "created", created);
  h5::write_string_attribute(location, "command_line", meta.command_line);
  h5::write_string_attribute(location, "scenario_name", meta.scenario_name);
  h5::write_uint64_attribute(location, "seed", meta.seed);
  h5::write_int_attribute(location, "replicates", meta.replicates, H5T_STD_I64LE);
  h5::write_int_attribute(location, "step_days", meta.step_days, H5T_STD_I32LE);
  h5::write_string_attribute(location, "start_date", meta.start_date);
  h5::write_string_attribute(location, "scenario", meta.scenario_text);
}

void ResultsWriter::Impl::create_run(Run& run) {
  write_run_attributes(run);
  std::array<Handle, layout::kDims.size()> scales;
  for (size_t i = 0; i < layout::kDims.size(); ++i) {
    scales[i] = create_coordinate(run, layout::kDims[i]);
  }
  create_question_variables(run, scales[size_t(Dim::question)]);
  create_variables(run, scales);
  create_summaries(run, scales);
}

Handle ResultsWriter::Impl::create_coordinate(Run& run, Dim d) {
  const char* name = layout::dim_name(d);
  const RunMetadata& meta = run.meta;
  const std::string context =
      fmt::format("cannot write coordinate variable '{}' to {}", name, where(run));
  const std::vector<hsize_t> dims = {hsize_t(layout::dim_length(d, meta.replicates, run.shape))};
  const std::vector<std::string>* labels = nullptr;
  std::vector<std::string> question_ids;
  const char* long_name = "";
  const char* description = "";
  Handle dataset;
  switch (d) {
    case Dim::replicate: {
      dataset =
          create_dataset(run.location, name, H5T_STD_I64LE, dims, Storage::contiguous, context);
      std::vector<std::int64_t> values(dims[0]);
      for (size_t r = 0; r < values.size(); ++r) values[r] = std::int64_t(r);
      write_all(dataset.get(), H5T_NATIVE_INT64, values.data(), values.size(), context);
      long_name = "replicate";
      description = "index of the Monte Carlo replicate";
      break;
    }
    case Dim::time: {
      dataset =
          create_dataset(run.location, name, H5T_STD_I32LE, dims, Storage::contiguous, context);
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
      dataset =
          create_dataset(run.location, name, H5T_IEEE_F64LE, dims, Storage::contiguous, context);
      write_all(dataset.get(), H5T_NATIVE_DOUBLE, kSummaryQuantiles, kSummaryQuantileCount,
                context);
      long_name = "quantile";
      description = "probability of the percentile across replicates (0.5: the median)";
      break;
  }
  if (labels != nullptr) {
    Handle type = h5::variable_string_type();
    dataset = create_dataset(run.location, name, type.get(), dims, Storage::contiguous, context);
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

// question_text, ..., question_at_most on (question). The bounds are
// float64 with no fill value defined, so a missing bound (NaN) reads as NaN.
void ResultsWriter::Impl::create_question_variables(Run& run, const Handle& scale) {
  const std::vector<QuestionInfo>& questions = run.meta.questions;
  const std::vector<hsize_t> dims = {hsize_t(questions.size())};
  for (const layout::QuestionVariable& v : layout::kQuestionVariables) {
    const std::string context = fmt::format("cannot write variable '{}' to {}", v.name, where(run));
    Handle dataset;
    if (v.text != nullptr) {
      Handle type = h5::variable_string_type();
      dataset =
          create_dataset(run.location, v.name, type.get(), dims, Storage::contiguous, context);
      std::vector<std::string> values;
      for (const QuestionInfo& q : questions) values.push_back(q.*v.text);
      write_labels(dataset.get(), values, context);
    } else {
      dataset =
          create_dataset(run.location, v.name, H5T_IEEE_F64LE, dims, Storage::contiguous, context);
      std::vector<double> values;
      for (const QuestionInfo& q : questions) values.push_back(q.*v.real);
      write_all(dataset.get(), H5T_NATIVE_DOUBLE, values.data(), values.size(), context);
    }
    h5::check(H5DSattach_scale(dataset.get(), scale.get(), 0), context);
    h5::write_string_attribute(dataset.get(), "long_name", v.long_name);
    h5::write_string_attribute(dataset.get(), "description", v.description);
  }
}

void ResultsWriter::Impl::create_variables(Run& run,
                                           const std::array<Handle, layout::kDims.size()>& scales) {
  // Rows of replicates: as many per row as layout::replicate_chunk asks
  // (or all, if fewer), fewer if one step of a row would be too big a chunk.
  run.row_replicates = std::clamp<std::int64_t>(layout::replicate_chunk, 1,
                                                std::max<std::int64_t>(run.meta.replicates, 1));
  for (const layout::Variable& v : layout::kVariables) {
    size_t step_bytes = v.ints != nullptr ? sizeof(std::int32_t) : sizeof(double);
    for (int axis = 2; axis < v.rank; ++axis) {
      step_bytes *=
          size_t(layout::dim_length(v.dims[size_t(axis)], run.meta.replicates, run.shape));
    }
    while (run.row_replicates > 1 && size_t(run.row_replicates) * step_bytes > kMaxChunkBytes) {
      run.row_replicates = (run.row_replicates + 1) / 2;
    }
  }
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const layout::Variable& v = layout::kVariables[i];
    const std::string context =
        fmt::format("cannot create variable '{}' in {}", v.name, where(run));
    run.extents[i] = extent(v.rank, v.dims, run.meta.replicates, run.shape);
    const hid_t type = v.ints != nullptr ? H5T_STD_I32LE : H5T_IEEE_F64LE;
    const Storage storage =
        v.dims[1] == Dim::time ? Storage::by_replicate_and_time : Storage::by_replicate;
    run.variables[i] = create_dataset(
        run.location, v.name, type, run.extents[i], storage, context, run.row_replicates,
        summaries::time_chunk_steps(run.meta.replicates, run.shape, layout::time_chunk_steps));
    Storing& st = run.storing[i];
    st.element_bytes = H5Tget_size(type);
    st.inner_bytes = st.element_bytes;
    for (size_t axis = 2; axis < run.extents[i].size(); ++axis) {
      st.inner_bytes *= run.extents[i][axis];
    }
    st.replicate_bytes = st.inner_bytes * (run.extents[i].size() > 1 ? run.extents[i][1] : 1);
    {
      Handle dcpl = h5::check_plist(H5Dget_create_plist(run.variables[i].get()), context);
      if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
        st.chunk.resize(run.extents[i].size());
        if (H5Pget_chunk(dcpl.get(), int(st.chunk.size()), st.chunk.data()) < 0) h5::fail(context);
      }
    }
    for (int axis = 0; axis < v.rank; ++axis) {
      const Handle& scale = scales[size_t(v.dims[size_t(axis)])];
      h5::check(H5DSattach_scale(run.variables[i].get(), scale.get(), unsigned(axis)), context);
    }
    h5::write_string_attribute(run.variables[i].get(), "long_name", v.long_name);
    h5::write_string_attribute(run.variables[i].get(), "description", v.description);
    if (v.units != nullptr) h5::write_string_attribute(run.variables[i].get(), "units", v.units);
    if (v.coordinates != nullptr) {
      h5::write_string_attribute(run.variables[i].get(), "coordinates", v.coordinates);
    }
  }
  // As many rows as layout::writer_buffer_bytes allows, and at least two.
  size_t row_bytes = 0;
  for (const Storing& st : run.storing)
    row_bytes += st.replicate_bytes * size_t(run.row_replicates);
  run.max_rows = std::max<size_t>(2, layout::writer_buffer_bytes / std::max<size_t>(row_bytes, 1));
  const std::int64_t row_count =
      (run.meta.replicates + run.row_replicates - 1) / run.row_replicates;
  run.row_flushed.assign(size_t(row_count), 0);
}

// Replicates wait in rows of chunks until the whole row is there; then each
// chunk is written once, whole. Replicates arrive as the simulating threads
// finish them: each thread walks its own stretch of replicates in order, so
// about one row per thread is open at a time. A replicate may come in any
// order, though, so the rows held are capped: past the cap, the row least
// recently written to is written as it is, zeros standing for the
// replicates still to come, and when the rest arrives the row is read back
// and written again (flush).
void ResultsWriter::Impl::buffer(Run& run, const ReplicateResult& r) {
  const std::int64_t row_index = r.replicate / run.row_replicates;
  auto it = std::find_if(run.rows.begin(), run.rows.end(),
                         [&](const RowBuffer& b) { return b.row == row_index; });
  if (it == run.rows.end()) {
    // A row that has waited long for the rest of its replicates is written
    // as it is. Those are rows split between two threads' stretches (one
    // took over the rest of another's): one would otherwise wait for the
    // other thread to get there, and such rows, each as big as the rows in
    // progress, would add up to memory that grows with the run.
    for (auto b = run.rows.begin(); b != run.rows.end();) {
      if (writes - b->last_written > kStaleRows * std::uint64_t(run.row_replicates)) {
        flush(run, *b);
        run.spare.push_back(std::move(*b));
        b = run.rows.erase(b);
      } else {
        ++b;
      }
    }
    if (run.rows.size() >= run.max_rows) {
      auto oldest = std::min_element(
          run.rows.begin(), run.rows.end(),
          [](const RowBuffer& a, const RowBuffer& b) { return a.last_written < b.last_written; });
      flush(run, *oldest);
      run.spare.push_back(std::move(*oldest));
      run.rows.erase(oldest);
    }
    if (run.spare.empty()) {
      run.rows.emplace_back();
    } else {
      run.rows.push_back(std::move(run.spare.back()));
      run.spare.pop_back();
    }
    it = std::prev(run.rows.end());
    RowBuffer& fresh = *it;
    fresh.row = row_index;
    fresh.count = 0;
    fresh.present.assign(size_t(run.row_replicates), false);
    for (size_t i = 0; i < layout::kVariables.size(); ++i) {
      fresh.values[i].resize(run.storing[i].replicate_bytes * size_t(run.row_replicates));
    }
  }
  RowBuffer& row = *it;
  const size_t slot = size_t(r.replicate - row_index * run.row_replicates);
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const layout::Variable& v = layout::kVariables[i];
    const size_t bytes = run.storing[i].replicate_bytes;
    const void* from = v.ints != nullptr ? static_cast<const void*>((r.*v.ints).data())
                                         : static_cast<const void*>((r.*v.reals).data());
    if (bytes > 0) std::memcpy(row.values[i].data() + slot * bytes, from, bytes);
  }
  row.present[slot] = true;
  ++row.count;
  row.last_written = ++writes;
  if (row.count + run.row_flushed[size_t(row_index)] == run.replicates_in_row(row_index)) {
    flush(run, row);
    run.spare.push_back(std::move(row));
    run.rows.erase(it);
  }
}

void ResultsWriter::Impl::flush(Run& run, RowBuffer& row) {
  // Replicates of the row written earlier (the row was written before it
  // was whole) come back from the file, so that each chunk is written whole
  // again; HDF5 stores the new chunk in place of the old.
  if (run.row_flushed[size_t(row.row)] > 0) read_back(run, row);
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const Storing& st = run.storing[i];
    if (st.replicate_bytes == 0) continue;  // no values
    write_whole_chunks(run, i, row);
  }
  run.row_flushed[size_t(row.row)] = row.count;
}

void ResultsWriter::Impl::read_back(Run& run, RowBuffer& row) {
  const size_t rc = size_t(run.row_replicates);
  const hsize_t first = hsize_t(row.row) * rc;
  auto in_file = [&](size_t slot) {
    return first + slot < hsize_t(run.meta.replicates) && !row.present[slot] &&
           run.written[size_t(first + slot)];
  };
  for (size_t a = 0; a < rc;) {
    if (!in_file(a)) {
      ++a;
      continue;
    }
    size_t b = a;
    while (b < rc && in_file(b)) ++b;
    for (size_t i = 0; i < layout::kVariables.size(); ++i) {
      const layout::Variable& v = layout::kVariables[i];
      const Storing& st = run.storing[i];
      if (st.replicate_bytes == 0) continue;
      std::vector<hsize_t> start(run.extents[i].size(), 0), count = run.extents[i];
      start[0] = first + a;
      count[0] = b - a;
      h5::read_block(run.variables[i].get(),
                     v.ints != nullptr ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE, start, count,
                     row.values[i].data() + a * st.replicate_bytes,
                     fmt::format("cannot read back variable '{}' of replicates {} to {} from {}",
                                 v.name, start[0], start[0] + count[0] - 1, where(run)));
    }
    for (size_t slot = a; slot < b; ++slot) row.present[slot] = true;
    row.count += std::int64_t(b - a);
    a = b;
  }
}

// Each chunk of the row: gathered (edges, and replicates yet to come, padded
// with zeros: HDF5 stores edge chunks whole), shuffled and deflated here,
// exactly as HDF5's filters would have, and handed to HDF5 as it is to
// store.
void ResultsWriter::Impl::write_whole_chunks(Run& run, size_t variable, const RowBuffer& row) {
  const layout::Variable& v = layout::kVariables[variable];
  const Storing& st = run.storing[variable];
  const std::vector<hsize_t>& dims = run.extents[variable];
  const hsize_t steps = dims.size() > 1 ? dims[1] : 1;
  const hsize_t chunk_steps = st.chunk.size() > 1 ? st.chunk[1] : 1;
  // Chunks are whole rows, and whole along all but the first two dimensions.
  bool rows = std::int64_t(st.chunk[0]) == run.row_replicates;
  for (size_t axis = 2; axis < st.chunk.size(); ++axis) rows = rows && st.chunk[axis] == dims[axis];
  if (!rows) throw InternalError(fmt::format("ResultsWriter: chunks of '{}' are not rows", v.name));
  const size_t rc = size_t(st.chunk[0]);
  const size_t replicates = size_t(run.replicates_in_row(row.row));  // in the dataset
  const size_t step_bytes = st.inner_bytes;
  const size_t chunk_bytes = rc * size_t(chunk_steps) * step_bytes;
  // Grown only: resizing down and up again would zero them every time.
  if (gathered.size() < chunk_bytes) gathered.resize(chunk_bytes);
  if (shuffled.size() < chunk_bytes) shuffled.resize(chunk_bytes);
  std::vector<hsize_t> offset(dims.size(), 0);
  offset[0] = hsize_t(row.row) * hsize_t(run.row_replicates);
  for (hsize_t first = 0; first < steps; first += chunk_steps) {
    const size_t n = size_t(std::min(chunk_steps, steps - first));
    std::uint8_t* to = gathered.data();
    for (size_t r = 0; r < rc; ++r) {
      const size_t filled = r < replicates && row.present[r] ? n * step_bytes : 0;
      if (filled > 0) {
        std::memcpy(to, row.values[variable].data() + r * st.replicate_bytes + first * step_bytes,
                    filled);
      }
      std::memset(to + filled, 0, size_t(chunk_steps) * step_bytes - filled);
      to += size_t(chunk_steps) * step_bytes;
    }
    const size_t elements = chunk_bytes / st.element_bytes;
    deflate::shuffle(gathered.data(), elements, st.element_bytes, shuffled.data());
    // Within a plane of shuffled bytes, the same cell a step (or, without
    // time, a replicate) before lies this many bytes back.
    const size_t period =
        (v.dims[1] == Dim::time ? step_bytes : st.replicate_bytes) / st.element_bytes;
    const size_t size =
        encoder.compress(std::span(shuffled).first(chunk_bytes), elements, period, compressed);
    if (dims.size() > 1) offset[1] = first;
    if (H5Dwrite_chunk(run.variables[variable].get(), transfer.get(), 0, offset.data(), size,
                       compressed.data()) < 0) {
      h5::fail(fmt::format("cannot write variable '{}' of replicates {} to {} to {}", v.name,
                           offset[0], offset[0] + replicates - 1, where(run)));
    }
  }
}

void ResultsWriter::Impl::flush_all(Run& run) {
  std::sort(run.rows.begin(), run.rows.end(),
            [](const RowBuffer& a, const RowBuffer& b) { return a.row < b.row; });
  for (RowBuffer& row : run.rows) flush(run, row);
  run.rows.clear();
  run.spare.clear();
}

void ResultsWriter::Impl::create_summaries(Run& run,
                                           const std::array<Handle, layout::kDims.size()>& scales) {
  for (size_t i = 0; i < layout::kSummaryVariables.size(); ++i) {
    const layout::SummaryVariable& v = layout::kSummaryVariables[i];
    const std::string context =
        fmt::format("cannot create variable '{}' in {}", v.name, where(run));
    const std::vector<hsize_t> dims = extent(v.rank, v.dims, run.meta.replicates, run.shape);
    run.summaries[i] =
        create_dataset(run.location, v.name, H5T_IEEE_F64LE, dims, Storage::contiguous, context);
    for (int axis = 0; axis < v.rank; ++axis) {
      const Handle& scale = scales[size_t(v.dims[size_t(axis)])];
      h5::check(H5DSattach_scale(run.summaries[i].get(), scale.get(), unsigned(axis)), context);
    }
    h5::write_string_attribute(run.summaries[i].get(), "long_name", v.long_name);
    h5::write_string_attribute(run.summaries[i].get(), "description",
                               fmt::format("{}; {}", v.description, layout::kQuantileMethod));
    h5::write_string_attribute(run.summaries[i].get(), "units", v.units);
  }
}

void ResultsWriter::Impl::write_summaries(Run& run) {
  auto variable = [&](const char* name) {
    for (size_t i = 0; i < layout::kVariables.size(); ++i) {
      if (std::string_view(layout::kVariables[i].name) == name) return run.variables[i].get();
    }
    throw InternalError(fmt::format("ResultsWriter: no variable '{}'", name));
  };
  auto summary = [&](layout::Summary s) { return run.summaries[size_t(s)].get(); };
  summaries::compute(variable("headcount"), variable("star_power"),
                     summary(layout::Summary::headcount), summary(layout::Summary::total_headcount),
                     summary(layout::Summary::share), run.meta.replicates, run.shape, where(run));
}

ResultsWriter::ResultsWriter(fs::path destination, const RunMetadata& meta, ResultShape shape,
                             bool overwrite) {
  validate(meta, shape, "");
  prepare_destination(destination, overwrite);

  h5::ErrorSilencer silence;
  impl_ = std::make_unique<Impl>();
  Impl& w = *impl_;
  w.destination = std::move(destination);
  w.temporary = w.destination;
  w.temporary += ".tmp." + std::to_string(::getpid());
  w.overwrite = overwrite;
  Run& run = w.runs.emplace_back();
  run.meta = meta;
  run.shape = shape;
  run.written.assign(size_t(meta.replicates), false);
  w.create_file();  // on failure ~Impl removes the partial temporary file
}

ResultsWriter::ResultsWriter(fs::path destination, const RunMetadata& baseline,
                             ResultShape baseline_shape, const RunMetadata& whatif,
                             ResultShape whatif_shape, const std::string& command_line,
                             bool overwrite) {
  validate(baseline, baseline_shape, "baseline: ");
  validate(whatif, whatif_shape, "what-if: ");
  if (baseline.seed != whatif.seed || baseline.replicates != whatif.replicates) {
    throw InternalError(fmt::format(
        "ResultsWriter: a comparison needs one seed and replicate count; the baseline has seed {} "
        "and {} replicates, the what-if seed {} and {} replicates",
        baseline.seed, baseline.replicates, whatif.seed, whatif.replicates));
  }
  prepare_destination(destination, overwrite);

  h5::ErrorSilencer silence;
  impl_ = std::make_unique<Impl>();
  Impl& w = *impl_;
  w.destination = std::move(destination);
  w.temporary = w.destination;
  w.temporary += ".tmp." + std::to_string(::getpid());
  w.overwrite = overwrite;
  w.compare = true;
  w.command_line = command_line;
  for (const auto& [group, meta, shape] : {std::tuple{kBaselineGroup, &baseline, baseline_shape},
                                           std::tuple{kWhatifGroup, &whatif, whatif_shape}}) {
    Run& run = w.runs.emplace_back();
    run.group = group;
    run.meta = *meta;
    run.shape = shape;
    run.written.assign(size_t(meta->replicates), false);
  }
  w.create_file();  // on failure ~Impl removes the partial temporary file
}

ResultsWriter::~ResultsWriter() = default;

void ResultsWriter::write(const ReplicateResult& r, int run_index) {
  Impl& w = *impl_;
  if (w.committed) throw InternalError("ResultsWriter::write() after commit()");
  if (run_index < 0 || size_t(run_index) >= w.runs.size()) {
    throw InternalError(fmt::format("ResultsWriter: run {} of a {} file", run_index,
                                    w.compare ? "comparison" : "run"));
  }
  Run& run = w.runs[size_t(run_index)];
  const std::string which = run.group.empty() ? "" : run.group + " ";
  if (r.replicate < 0 || r.replicate >= run.meta.replicates) {
    throw InternalError(fmt::format("ResultsWriter: {}replicate {} outside 0..{}", which,
                                    r.replicate, run.meta.replicates - 1));
  }
  if (r.shape.steps != run.shape.steps || r.shape.labs != run.shape.labs ||
      r.shape.tiers != run.shape.tiers || r.shape.named != run.shape.named ||
      r.shape.questions != run.shape.questions) {
    throw InternalError(
        fmt::format("ResultsWriter: {}replicate {} has a different shape", which, r.replicate));
  }
  if (run.written[size_t(r.replicate)]) {
    throw InternalError(
        fmt::format("ResultsWriter: {}replicate {} written twice", which, r.replicate));
  }
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const layout::Variable& v = layout::kVariables[i];
    size_t expected = 1;
    for (size_t axis = 1; axis < run.extents[i].size(); ++axis) expected *= run.extents[i][axis];
    const size_t actual = v.ints != nullptr ? (r.*v.ints).size() : (r.*v.reals).size();
    if (actual != expected) {
      throw InternalError(
          fmt::format("ResultsWriter: {}replicate {} has {} values of {}, expected {}", which,
                      r.replicate, actual, v.name, expected));
    }
  }

  h5::ErrorSilencer silence;
  w.buffer(run, r);
  run.written[size_t(r.replicate)] = true;
  ++run.written_count;
}

void ResultsWriter::commit() {
  Impl& w = *impl_;
  if (w.committed) throw InternalError("ResultsWriter::commit() called twice");
  const std::string dest = w.destination.string();
  for (const Run& run : w.runs) {
    if (run.written_count != run.meta.replicates) {
      const std::string of_run = run.group.empty() ? "" : fmt::format(" of the {} run", run.group);
      throw RunError(fmt::format(
          "only {} of {} replicates{} were written; not keeping the incomplete results file '{}'",
          run.written_count, run.meta.replicates, of_run, dest));
    }
  }

  h5::ErrorSilencer silence;
  for (Run& run : w.runs) w.flush_all(run);
  // The row buffers just freed (several MB, allocated and freed all run
  // long) sit in the heap; hand them back before the summaries allocate
  // their blocks, or peak memory grows with the length of the run (+10%
  // from 1,000 to 10,000 replicates of frontier_25k without this).
  malloc_trim(0);
  for (Run& run : w.runs) w.write_summaries(run);
  const std::string context = fmt::format("cannot finish results file '{}'", w.temporary.string());
  h5::check(H5Fflush(w.file.get(), H5F_SCOPE_GLOBAL), context);
  for (Run& run : w.runs) run.close();
  if (!w.file.close()) h5::fail(context);
  sync_to_disk(w.temporary);

  std::error_code error;
  if (!w.overwrite && fs::exists(w.destination, error)) {
    throw RunError(fmt::format(
        "results file '{}' appeared while the simulation ran; not overwriting it", dest));
  }
  fs::rename(w.temporary, w.destination, error);
  if (error) {
    throw RunError(fmt::format("cannot move '{}' to results file '{}': {}", w.temporary.string(),
                               dest, error.message()));
  }
  w.committed = true;
}

const fs::path& ResultsWriter::temporary_path() const { return impl_->temporary; }
const fs::path& ResultsWriter::destination() const { return impl_->destination; }

}  // namespace talentsim
