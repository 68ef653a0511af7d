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

#include <fmt/format.h>
#include <hdf5_hl.h>
#include <malloc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
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
// Replicates arrive in about increasing order, but from several threads at
// once, so chunks are added to each variable's chunk index (a B-tree) at
// several places, each in increasing order. A node split in the middle of
// the tree keeps half its entries by default, and then never gets more:
// with 2 threads the file held 90 bytes of index and headers per chunk (a
// sixth of it at Tc = 16). Keeping 90%, as HDF5 does at the right end,
// makes that 68 and the file 4% smaller.
constexpr double kBtreeSplitLeft = 0.1, kBtreeSplitMiddle = 0.9, kBtreeSplitRight = 0.9;

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
// when a dimension is empty (h5::create_dataset).
Handle create_dataset(hid_t location, const char* name, hid_t type,
                      const std::vector<hsize_t>& dims, Storage storage, const std::string& context,
                      std::int64_t replicate_chunk = 1, std::int64_t time_chunk = 1) {
  std::vector<hsize_t> chunk;
  bool empty = false;
  for (hsize_t d : dims) empty = empty || d == 0;
  if (storage != Storage::contiguous && !empty) {
    chunk = dims;
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
  }
  // No chunk cache: the writer writes whole chunks (H5Dwrite_chunk) and
  // reads back only the odd row it wrote before the row was whole; and the
  // summaries read each chunk once, never again soon after.
  return h5::create_dataset(location, name, type, dims, chunk, context, 0);
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
  std::string created;

  Handle file;
  Handle transfer;           // for writing replicates
  std::uint64_t writes = 0;  // replicates written, to tell the oldest row
  // Scratch of whole-chunk writes, kept from one to the next.
  std::vector<std::uint8_t> gathered, shuffled, compressed;
  deflate::Encoder encoder;
  std::vector<Run> runs;
  std::function<void(const StoredRow&)> sink;
  StoredRow stored;  // the row being stored, for the sink
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
  void create_variables(Run& run, const std::array<Handle, layout::kDims.size()>& scales);
  void create_summaries(Run& run, const std::array<Handle, layout::kDims.size()>& scales);
  void write_summaries(Run& run);
  void buffer(Run& run, const ReplicateResult& r);
  void flush(Run& run, RowBuffer& row);
  void read_back(Run& run, RowBuffer& row);
  void write_whole_chunks(Run& run, size_t variable, const RowBuffer& row);
  void flush_all(Run& run);
  void check_restorable(const StoredRow& row) const;
};

void ResultsWriter::Impl::create_file() {
  const std::string context = fmt::format("cannot create temporary file '{}' for results file '{}'",
                                          temporary.string(), destination.string());
  file = h5::create_file(temporary, context);
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
    scales[i] =
        h5::create_coordinate(run.location, layout::kDims[i], run.meta, run.shape, where(run));
  }
  h5::create_question_variables(run.location, run.meta.questions,
                                scales[size_t(Dim::question)].get(), where(run));
  create_variables(run, scales);
  create_summaries(run, scales);
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
  stored.run = int(&run - runs.data());
  stored.row = row.row;
  stored.chunks.clear();
  stored.replicates.clear();
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const Storing& st = run.storing[i];
    if (st.replicate_bytes == 0) continue;  // no values
    write_whole_chunks(run, i, row);
  }
  run.row_flushed[size_t(row.row)] = row.count;
  if (sink) {
    for (size_t slot = 0; slot < row.present.size(); ++slot) {
      if (row.present[slot]) stored.replicates.push_back(row.row * run.row_replicates + slot);
    }
    sink(stored);
  }
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
    if (sink) {
      stored.chunks.push_back(StoredChunk{
          .variable = std::uint32_t(variable),
          .offset = std::vector<std::uint64_t>(offset.begin(), offset.end()),
          .bytes = std::vector<std::uint8_t>(compressed.begin(), compressed.begin() + size)});
    }
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
  h5::validate_run_metadata(meta, shape, "ResultsWriter: ");
  h5::prepare_destination(destination, overwrite);

  h5::ErrorSilencer silence;
  impl_ = std::make_unique<Impl>();
  Impl& w = *impl_;
  w.destination = std::move(destination);
  w.temporary = h5::temporary_path_for(w.destination);
  w.overwrite = overwrite;
  w.created = meta.created.empty() ? h5::iso_utc_now() : meta.created;
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
  h5::validate_run_metadata(baseline, baseline_shape, "ResultsWriter: baseline: ");
  h5::validate_run_metadata(whatif, whatif_shape, "ResultsWriter: what-if: ");
  if (baseline.seed != whatif.seed || baseline.replicates != whatif.replicates) {
    throw InternalError(fmt::format(
        "ResultsWriter: a comparison needs one seed and replicate count; the baseline has seed {} "
        "and {} replicates, the what-if seed {} and {} replicates",
        baseline.seed, baseline.replicates, whatif.seed, whatif.replicates));
  }
  h5::prepare_destination(destination, overwrite);

  h5::ErrorSilencer silence;
  impl_ = std::make_unique<Impl>();
  Impl& w = *impl_;
  w.destination = std::move(destination);
  w.temporary = h5::temporary_path_for(w.destination);
  w.overwrite = overwrite;
  w.created = baseline.created.empty() ? h5::iso_utc_now() : baseline.created;
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
  if (r.shape != run.shape) {
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
  h5::sync_to_disk(w.temporary);
  h5::move_into_place(w.temporary, w.destination, w.overwrite);
  w.committed = true;
}

void ResultsWriter::on_row_stored(std::function<void(const StoredRow&)> sink) {
  impl_->sink = std::move(sink);
}

bool ResultsWriter::written(int run, std::int64_t replicate) const {
  const Impl& w = *impl_;
  if (run < 0 || size_t(run) >= w.runs.size()) return false;
  const Run& r = w.runs[size_t(run)];
  return replicate >= 0 && replicate < r.meta.replicates && r.written[size_t(replicate)];
}

void ResultsWriter::store_pending() {
  Impl& w = *impl_;
  if (w.committed) return;
  h5::ErrorSilencer silence;
  for (Run& run : w.runs) w.flush_all(run);
}

// Everything restore() relies on, checked before anything is stored: the
// row is one of this file's, its replicates are new, and its chunks are
// exactly the row's chunks of every variable that has values.
void ResultsWriter::Impl::check_restorable(const StoredRow& row) const {
  const auto refuse = [&](const std::string& why) {
    throw RunError(fmt::format("stored row {} of run {} does not fit '{}': {}", row.row, row.run,
                               temporary.string(), why));
  };
  if (row.run < 0 || size_t(row.run) >= runs.size()) refuse("no such run");
  const Run& run = runs[size_t(row.run)];
  const std::int64_t rows = std::int64_t(run.row_flushed.size());
  if (row.row < 0 || row.row >= rows) refuse(fmt::format("the file has rows 0 to {}", rows - 1));
  if (run.row_flushed[size_t(row.row)] != 0) refuse("the row is already stored");
  const std::int64_t first = row.row * run.row_replicates;
  const std::int64_t end = first + run.replicates_in_row(row.row);
  if (row.replicates.empty()) refuse("it holds no replicates");
  for (size_t i = 0; i < row.replicates.size(); ++i) {
    const std::int64_t r = row.replicates[i];
    if (r < first || r >= end || (i > 0 && r <= row.replicates[i - 1])) {
      refuse(fmt::format("replicate {} is not one of the row's, in order", r));
    }
    if (run.written[size_t(r)]) refuse(fmt::format("replicate {} is already written", r));
  }
  size_t expected = 0;
  std::vector<std::vector<bool>> seen(layout::kVariables.size());
  for (size_t i = 0; i < layout::kVariables.size(); ++i) {
    const Storing& st = run.storing[i];
    if (st.replicate_bytes == 0) continue;
    const hsize_t steps = run.extents[i].size() > 1 ? run.extents[i][1] : 1;
    const hsize_t chunk_steps = st.chunk.size() > 1 ? st.chunk[1] : 1;
    seen[i].assign(size_t((steps + chunk_steps - 1) / chunk_steps), false);
    expected += seen[i].size();
  }
  for (const StoredChunk& c : row.chunks) {
    if (c.variable >= layout::kVariables.size() || seen[c.variable].empty()) {
      refuse(fmt::format("variable {} has no chunks", c.variable));
    }
    const Storing& st = run.storing[c.variable];
    const std::vector<hsize_t>& dims = run.extents[c.variable];
    if (c.offset.size() != dims.size() || c.offset[0] != std::uint64_t(first)) {
      refuse(fmt::format("a chunk of variable {} is not in the row", c.variable));
    }
    const hsize_t chunk_steps = st.chunk.size() > 1 ? st.chunk[1] : 1;
    const std::uint64_t along = dims.size() > 1 ? c.offset[1] : 0;
    bool inside = along % chunk_steps == 0 && along / chunk_steps < seen[c.variable].size();
    for (size_t axis = 2; axis < c.offset.size(); ++axis) inside = inside && c.offset[axis] == 0;
    if (!inside || seen[c.variable][size_t(along / chunk_steps)] || c.bytes.empty() ||
        c.bytes.size() > kMaxChunkBytes + kMaxChunkBytes / 8) {
      refuse(fmt::format("a chunk of variable {} is misplaced, repeated or of a wrong size",
                         c.variable));
    }
    seen[c.variable][size_t(along / chunk_steps)] = true;
  }
  if (row.chunks.size() != expected) {
    refuse(fmt::format("{} chunks, expected {}", row.chunks.size(), expected));
  }
}

void ResultsWriter::restore(const StoredRow& row) {
  Impl& w = *impl_;
  if (w.committed) throw InternalError("ResultsWriter::restore() after commit()");
  w.check_restorable(row);
  h5::ErrorSilencer silence;
  Run& run = w.runs[size_t(row.run)];
  for (const StoredChunk& c : row.chunks) {
    const std::vector<hsize_t> offset(c.offset.begin(), c.offset.end());
    if (H5Dwrite_chunk(run.variables[c.variable].get(), w.transfer.get(), 0, offset.data(),
                       c.bytes.size(), c.bytes.data()) < 0) {
      h5::fail(fmt::format("cannot write variable '{}' of row {} to {}",
                           layout::kVariables[c.variable].name, row.row, w.where(run)));
    }
  }
  for (const std::int64_t r : row.replicates) run.written[size_t(r)] = true;
  run.written_count += std::int64_t(row.replicates.size());
  run.row_flushed[size_t(row.row)] = std::int64_t(row.replicates.size());
}

const fs::path& ResultsWriter::temporary_path() const { return impl_->temporary; }
const fs::path& ResultsWriter::destination() const { return impl_->destination; }

std::string utc_timestamp() { return h5::iso_utc_now(); }

}  // namespace talentsim
