// The writer's own compressor for HDF5's shuffle + deflate filter pipeline,
// so that whole chunks can be written with H5Dwrite_chunk (results_file.cpp)
// and read back by any HDF5 or netCDF reader through the standard filters.
//
// Why not zlib through HDF5: at the shape of the performance scenario,
// zlib (level 1 to 4, any strategy, in chunks of 16 replicates) compresses
// these arrays at 190-270 MB/s, 0.36-0.7 ms per replicate (98 kB), more
// than the writer's whole budget; and the library is not linked directly.
// Shuffled results are byte planes that are either runs (the high bytes of
// small counts, padding), or repeats of the plane one time step earlier
// (the middle bytes of headcounts, the high bytes of doubles), or literals
// of a skewed distribution (the low bytes of small counts), or nearly noise
// (the low bytes of doubles and of large counts). Matches at distance 1
// (runs) and at the period of a time step, one Huffman code per plane, and
// stored blocks for noise capture that: at the benchmark shape the files
// are 19% smaller than zlib level 4 made them in chunks of one replicate,
// compressing takes about 0.14 ms per replicate (some 700 MB/s, adler32
// included), and the summaries, which read the data back through zlib's
// inflate, got faster too (stored blocks are copied, runs are cheap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace talentsim::deflate {

// Adler-32 of `data` (RFC 1950), starting from `adler` (1 for a new stream).
std::uint32_t adler32(std::span<const std::uint8_t> data, std::uint32_t adler = 1);

// HDF5's shuffle filter: byte j of element i of `in` (`count` elements of
// `size` bytes) goes to out[j * count + i].
void shuffle(const std::uint8_t* in, std::size_t count, std::size_t size, std::uint8_t* out);

// Compresses to a zlib stream (RFC 1950 around RFC 1951 deflate), as
// HDF5's deflate filter stores a chunk. The input is coded in blocks of
// `block_bytes` (a shuffle plane), each with its own Huffman code or
// stored. Reuses its buffers from call to call; not thread-safe.
class Encoder {
 public:
  // Writes the stream to the start of `out`, which it grows as needed but
  // never shrinks; returns the size of the stream. Besides runs of one
  // byte, it looks for repeats of the bytes `period` bytes before (0: none),
  // such as the same cell one time step earlier.
  std::size_t compress(std::span<const std::uint8_t> in, std::size_t block_bytes,
                       std::size_t period, std::vector<std::uint8_t>& out);

 private:
  std::vector<std::uint16_t> tokens_;
};

}  // namespace talentsim::deflate
