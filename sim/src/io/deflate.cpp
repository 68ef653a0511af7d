#include "deflate.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace talentsim::deflate {

static_assert(std::endian::native == std::endian::little, "the bit writer stores little-endian");

std::uint32_t adler32(std::span<const std::uint8_t> data, std::uint32_t adler) {
  constexpr std::uint32_t kBase = 65521;
  constexpr std::size_t kMaxRun = 5552;  // bytes before the sums could overflow 32 bits
  std::uint64_t a = adler & 0xffff, b = adler >> 16;
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  while (n > 0) {
    std::size_t run = std::min(n, kMaxRun);
    n -= run;
#if defined(__SSE2__)
    // Blocks of 16 bytes x[0..15]: a gains S = sum x[i], b gains 16 a +
    // W with W = sum (16 - i) x[i]. Over m blocks, b gains 16 m a0 + W's +
    // 16 times the sum over blocks of the S's of the blocks before: kept in
    // vectors and added up once per run.
    const std::size_t blocks = run / 16;
    if (blocks > 0) {
      const __m128i zero = _mm_setzero_si128();
      const __m128i weights_low = _mm_setr_epi16(16, 15, 14, 13, 12, 11, 10, 9);
      const __m128i weights_high = _mm_setr_epi16(8, 7, 6, 5, 4, 3, 2, 1);
      __m128i sums = zero, prefix = zero, weighted = zero;
      for (std::size_t k = 0; k < blocks; ++k, p += 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        prefix = _mm_add_epi64(prefix, sums);
        sums = _mm_add_epi64(sums, _mm_sad_epu8(x, zero));
        weighted = _mm_add_epi32(weighted, _mm_madd_epi16(_mm_unpacklo_epi8(x, zero), weights_low));
        weighted =
            _mm_add_epi32(weighted, _mm_madd_epi16(_mm_unpackhi_epi8(x, zero), weights_high));
      }
      std::array<std::uint64_t, 2> s{}, q{};
      std::array<std::uint32_t, 4> w{};
      _mm_storeu_si128(reinterpret_cast<__m128i*>(s.data()), sums);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q.data()), prefix);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(w.data()), weighted);
      b += 16 * blocks * a + 16 * (q[0] + q[1]) + std::uint64_t(w[0]) + w[1] + w[2] + w[3];
      a += s[0] + s[1];
      run -= 16 * blocks;
    }
#endif
    for (; run > 0; --run, ++p) {
      a += *p;
      b += a;
    }
    a %= kBase;
    b %= kBase;
  }
  return std::uint32_t((b << 16) | a);
}

void shuffle(const std::uint8_t* in, std::size_t count, std::size_t size, std::uint8_t* out) {
  switch (size) {
    case 4:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint32_t v;
        std::memcpy(&v, in + 4 * i, 4);
        out[i] = std::uint8_t(v);
        out[count + i] = std::uint8_t(v >> 8);
        out[2 * count + i] = std::uint8_t(v >> 16);
        out[3 * count + i] = std::uint8_t(v >> 24);
      }
      return;
    case 8:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint64_t v;
        std::memcpy(&v, in + 8 * i, 8);
        for (std::size_t j = 0; j < 8; ++j) out[j * count + i] = std::uint8_t(v >> (8 * j));
      }
      return;
    default:
      for (std::size_t i = 0; i < count; ++i) {
        for (std::size_t j = 0; j < size; ++j) out[j * count + i] = in[size * i + j];
      }
  }
}

namespace {

constexpr int kLiteralCodes = 286;  // literals, end of block, lengths 257..285
constexpr int kEndOfBlock = 256;
constexpr int kMinMatch = 3, kMaxMatch = 258;
// A token: a literal (< 256), or kMatchFlag | length, with kFarFlag when
// the match is at the period rather than at distance 1.
constexpr std::uint16_t kMatchFlag = 0x8000, kFarFlag = 0x4000, kLengthMask = 0x1ff;
constexpr int kDistanceCodes = 30;
constexpr std::size_t kWindow = 32768;
constexpr std::size_t kMaxStored = 65535;  // bytes of one stored block

// Match length -> length code (257 + index), extra bits and their value.
struct LengthCode {
  std::uint16_t symbol;
  std::uint8_t extra_bits;
  std::uint16_t extra;
};

constexpr std::array<LengthCode, kMaxMatch + 1> make_length_codes() {
  constexpr std::array<int, 29> base = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                        15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                        67, 83, 99, 115, 131, 163, 195, 227, 258};
  constexpr std::array<int, 29> bits = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                        2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  std::array<LengthCode, kMaxMatch + 1> out{};
  for (int i = 0; i < 29; ++i) {
    for (int e = 0; e < (1 << bits[size_t(i)]); ++e) {
      const int length = base[size_t(i)] + e;
      if (length > kMaxMatch) break;
      // 258 is code 285, not 284 with extra 31: later codes overwrite.
      out[size_t(length)] = {std::uint16_t(257 + i), std::uint8_t(bits[size_t(i)]),
                             std::uint16_t(e)};
    }
  }
  return out;
}
constexpr std::array<LengthCode, kMaxMatch + 1> kLengthCodes = make_length_codes();

// Distance -> distance code, extra bits and their value.
LengthCode distance_code(std::size_t distance) {
  constexpr std::array<int, kDistanceCodes> base = {
      1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
      193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  int code = kDistanceCodes - 1;
  while (base[size_t(code)] > int(distance)) --code;
  const int extra_bits = code < 4 ? 0 : code / 2 - 1;
  return {std::uint16_t(code), std::uint8_t(extra_bits),
          std::uint16_t(int(distance) - base[size_t(code)])};
}

// The length of the match of p with p - distance, at most `limit`.
std::size_t match_length(const std::uint8_t* p, std::size_t distance, std::size_t limit) {
  std::size_t n = 0;
  while (n + 8 <= limit) {
    std::uint64_t x, y;
    std::memcpy(&x, p + n, 8);
    std::memcpy(&y, p + n - distance, 8);
    if (x != y) return n + std::size_t(std::countr_zero(x ^ y) / 8);
    n += 8;
  }
  while (n < limit && p[n] == p[n - distance]) ++n;
  return n;
}

// Order in which the code length code lengths are sent (RFC 1951 3.2.7).
constexpr std::array<int, 19> kCodeLengthOrder = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                  11, 4,  12, 3, 13, 2, 14, 1, 15};

// Huffman code lengths of at most `max_bits` for `freq` (n <= 288 symbols,
// at least two of them used), by Moffat and Katajainen's in-place method
// and then, if the code is too deep, by moving leaves up as miniz does.
void huffman_lengths(const std::uint32_t* freq, int n, int max_bits, std::uint8_t* lengths) {
  struct Entry {
    std::uint32_t key;
    std::uint16_t symbol;
  };
  // Sorted by frequency, then symbol, as one integer each.
  std::array<std::uint64_t, 288> packed;
  int used = 0;
  for (int s = 0; s < n; ++s) {
    lengths[s] = 0;
    if (freq[s] > 0) packed[size_t(used++)] = (std::uint64_t(freq[s]) << 16) | std::uint64_t(s);
  }
  std::sort(packed.begin(), packed.begin() + used);
  std::array<Entry, 288> a;
  for (int i = 0; i < used; ++i) {
    a[size_t(i)] = {std::uint32_t(packed[size_t(i)] >> 16), std::uint16_t(packed[size_t(i)])};
  }
  // Code lengths in place: a[i].key becomes the depth of the i-th rarest.
  {
    int root = 0, leaf = 2;
    a[0].key += a[1].key;
    for (int next = 1; next < used - 1; ++next) {
      if (leaf >= used || a[size_t(root)].key < a[size_t(leaf)].key) {
        a[size_t(next)].key = a[size_t(root)].key;
        a[size_t(root++)].key = std::uint32_t(next);
      } else {
        a[size_t(next)].key = a[size_t(leaf++)].key;
      }
      if (leaf >= used || (root < next && a[size_t(root)].key < a[size_t(leaf)].key)) {
        a[size_t(next)].key += a[size_t(root)].key;
        a[size_t(root++)].key = std::uint32_t(next);
      } else {
        a[size_t(next)].key += a[size_t(leaf++)].key;
      }
    }
    a[size_t(used - 2)].key = 0;
    for (int next = used - 3; next >= 0; --next) {
      a[size_t(next)].key = a[a[size_t(next)].key].key + 1;
    }
    int available = 1, taken = 0, depth = 0;
    root = used - 2;
    int next = used - 1;
    while (available > 0) {
      while (root >= 0 && int(a[size_t(root)].key) == depth) {
        ++taken;
        --root;
      }
      while (available > taken) {
        a[size_t(next--)].key = std::uint32_t(depth);
        --available;
      }
      available = 2 * taken;
      ++depth;
      taken = 0;
    }
  }
  // Count codes per length, folding those too long into max_bits, then
  // lengthen shorter codes until the code is complete again.
  std::array<int, 64> count{};
  for (int i = 0; i < used; ++i) ++count[std::min<std::size_t>(a[size_t(i)].key, 63)];
  for (int i = max_bits + 1; i < 64; ++i) {
    count[size_t(max_bits)] += count[size_t(i)];
    count[size_t(i)] = 0;
  }
  std::uint32_t total = 0;
  for (int i = max_bits; i > 0; --i) total += std::uint32_t(count[size_t(i)]) << (max_bits - i);
  while (total != (1u << max_bits)) {
    --count[size_t(max_bits)];
    for (int i = max_bits - 1; i > 0; --i) {
      if (count[size_t(i)] != 0) {
        --count[size_t(i)];
        count[size_t(i) + 1] += 2;
        break;
      }
    }
    --total;
  }
  // The rarest symbols get the longest codes.
  int j = used;
  for (int length = 1; length <= max_bits; ++length) {
    for (int c = count[size_t(length)]; c > 0; --c) {
      lengths[a[size_t(--j)].symbol] = std::uint8_t(length);
    }
  }
}

// Canonical codes for `lengths`, bit-reversed for LSB-first output.
void canonical_codes(const std::uint8_t* lengths, int n, std::uint16_t* codes) {
  std::array<std::uint16_t, 16> count{}, next{};
  for (int s = 0; s < n; ++s) ++count[lengths[s]];
  count[0] = 0;
  std::uint16_t code = 0;
  for (int bits = 1; bits < 16; ++bits) {
    code = std::uint16_t((code + count[size_t(bits) - 1]) << 1);
    next[size_t(bits)] = code;
  }
  for (int s = 0; s < n; ++s) {
    const int length = lengths[s];
    if (length == 0) {
      codes[s] = 0;
      continue;
    }
    std::uint16_t c = next[size_t(length)]++, reversed = 0;
    for (int b = 0; b < length; ++b, c >>= 1) reversed = std::uint16_t((reversed << 1) | (c & 1));
    codes[s] = reversed;
  }
}

// At least two used symbols, so that every code is complete.
void ensure_two_symbols(std::uint32_t* freq, int n) {
  int used = 0;
  for (int s = 0; s < n && used < 2; ++s) used += freq[s] > 0;
  for (int s = 0; s < n && used < 2; ++s) {
    if (freq[s] == 0) {
      freq[s] = 1;
      ++used;
    }
  }
}

class BitWriter {
 public:
  explicit BitWriter(std::uint8_t* out) : out_(out) {}
  // n <= 32 bits, value < 2^n. Stores 8 bytes whatever it adds (the
  // buffer has room), and keeps less than a byte: no branch to mispredict.
  void put(std::uint64_t value, int n) {
    bits_ |= value << count_;
    count_ += n;
    std::memcpy(out_, &bits_, 8);
    out_ += count_ >> 3;
    bits_ >>= count_ & ~7;
    count_ &= 7;
  }
  // Pads to a byte boundary and writes out what is pending.
  void align() {
    while (count_ > 0) {
      *out_++ = std::uint8_t(bits_);
      bits_ >>= 8;
      count_ = std::max(count_ - 8, 0);
    }
    bits_ = 0;
  }
  void bytes(const std::uint8_t* data, std::size_t n) {
    if (n == 0) return;  // data may be null
    std::memcpy(out_, data, n);
    out_ += n;
  }
  std::uint8_t* position() const { return out_; }

 private:
  std::uint8_t* out_;
  std::uint64_t bits_ = 0;
  int count_ = 0;
};

void stored_blocks(BitWriter& w, const std::uint8_t* data, std::size_t n, bool last) {
  do {
    const std::size_t piece = std::min(n, kMaxStored);
    n -= piece;
    w.put(last && n == 0 ? 1 : 0, 3);  // BFINAL, BTYPE 00
    w.align();
    const std::uint8_t header[4] = {std::uint8_t(piece), std::uint8_t(piece >> 8),
                                    std::uint8_t(~piece), std::uint8_t(~piece >> 8)};
    w.bytes(header, 4);
    w.bytes(data, piece);
    data += piece;
  } while (n > 0);
}

// Bits of the stored blocks of n bytes, alignment counted generously.
std::size_t stored_bits(std::size_t n) { return 8 * n + 48 * (n / kMaxStored + 1); }

// The length of the run of bytes equal to `value` at p, at most `limit`.
std::size_t run_length(const std::uint8_t* p, std::size_t limit, std::uint8_t value) {
  const std::uint64_t pattern = 0x0101010101010101ull * value;
  std::size_t n = 0;
  while (n + 8 <= limit) {
    std::uint64_t v;
    std::memcpy(&v, p + n, 8);
    const std::uint64_t diff = v ^ pattern;
    if (diff != 0) return n + std::size_t(std::countr_zero(diff) / 8);
    n += 8;
  }
  while (n < limit && p[n] == value) ++n;
  return n;
}

// Whether a block is (nearly) noise, which is stored without being coded
// first: the low mantissa bytes of doubles, and the low bytes of counts in
// the thousands. A block qualifies when a code of its bytes one by one
// could not save 1/16 (Shannon's bound above 7.5 bits per byte). Storing
// those instead of coding them cut the writer's instructions by a fifth,
// and the commit's (whose reading inflates them) by as much, for files
// 1.8% bigger (bench_results_write). A look at the first 256 bytes rules
// most blocks out at once: such noise shows over 100 values among them.
bool is_noise(const std::uint8_t* p, std::size_t n) {
  constexpr std::size_t kSample = 256;
  if (n < 4 * kSample) return false;
  std::array<bool, 256> seen{};
  int distinct = 0;
  for (std::size_t i = 0; i < kSample; ++i) {
    distinct += seen[p[i]] ? 0 : 1;
    seen[p[i]] = true;
  }
  if (distinct < 96) return false;
  std::array<std::array<std::uint32_t, 256>, 4> counts{};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (std::size_t j = 0; j < 4; ++j) ++counts[j][p[i + j]];
  }
  for (; i < n; ++i) ++counts[0][p[i]];
  double bits = 0;
  for (std::size_t v = 0; v < 256; ++v) {
    const std::uint32_t c = counts[0][v] + counts[1][v] + counts[2][v] + counts[3][v];
    if (c > 0) bits += double(c) * std::log2(double(n) / double(c));
  }
  return bits > 7.5 * double(n);
}

}  // namespace

std::size_t Encoder::compress(std::span<const std::uint8_t> in, std::size_t block_bytes,
                              std::size_t period, std::vector<std::uint8_t>& out) {
  const std::size_t n = in.size();
  const std::uint8_t* data = in.data();
  if (period > kWindow) period = 0;  // out of deflate's reach
  if (block_bytes == 0 || block_bytes > n) block_bytes = std::max<std::size_t>(n, 1);
  const std::size_t blocks = (n + block_bytes - 1) / block_bytes;
  // Never more than the stored form, plus room for the pending bit buffer.
  // (Grown only: resizing down and up again would zero it every time.)
  const std::size_t most = 6 + blocks * (stored_bits(block_bytes) / 8 + 8) + 16;
  if (out.size() < most) out.resize(most);
  if (tokens_.size() < block_bytes) tokens_.resize(block_bytes);

  BitWriter w(out.data());
  w.bytes(std::array<std::uint8_t, 2>{0x78, 0x01}.data(), 2);  // deflate, 32 KiB window
  if (n == 0) stored_blocks(w, data, 0, true);
  for (std::size_t start = 0; start < n; start += block_bytes) {
    const std::size_t end = std::min(n, start + block_bytes);
    const bool last = end == n;
    if (is_noise(data + start, end - start)) {
      stored_blocks(w, data + start, end - start, last);
      continue;
    }

    // Tokens: a literal, a run of the previous byte (a match at distance
    // 1) or a repeat of the bytes a period before (matches may reach back
    // into earlier blocks). Literals are counted in two tables by parity, so
    // that a run of one literal value does not make each count wait for the
    // previous one.
    std::array<std::array<std::uint32_t, kLiteralCodes>, 2> counts{};
    std::size_t token_count = 0, extra_bits = 0, near = 0, far = 0;
    std::uint16_t* tokens = tokens_.data();
    std::size_t i = start;
    if (i == 0 && i < end) {
      ++counts[0][data[0]];
      tokens[token_count++] = data[0];
      ++i;
    }
    while (i < end) {
      const std::uint8_t b = data[i];
      if (i + kMinMatch <= end) {
        const std::size_t limit = std::min<std::size_t>(end - i, kMaxMatch);
        // A run needs the previous byte and the next 3 to be equal.
        std::uint32_t window;
        std::memcpy(&window, data + i - 1, 4);
        std::size_t run = window == 0x01010101u * b ? run_length(data + i, limit, b) : 0;
        std::size_t repeat = 0;
        if (run < kMaxMatch && i >= period && period > 1) {
          const std::uint8_t* from = data + i - period;
          if (data[i] == from[0] && data[i + 1] == from[1] && data[i + 2] == from[2]) {
            repeat = match_length(data + i, period, limit);
          }
        }
        if (run >= kMinMatch || repeat >= kMinMatch) {
          const bool is_far = repeat > run;
          const std::size_t length = is_far ? repeat : run;
          const LengthCode& code = kLengthCodes[length];
          ++counts[0][code.symbol];
          extra_bits += code.extra_bits;
          ++(is_far ? far : near);
          tokens[token_count++] = std::uint16_t(kMatchFlag | (is_far ? kFarFlag : 0) | length);
          i += length;
          continue;
        }
      }
      ++counts[i & 1][b];
      tokens[token_count++] = b;
      ++i;
    }
    std::array<std::uint32_t, kLiteralCodes> freq;
    for (int s = 0; s < kLiteralCodes; ++s)
      freq[size_t(s)] = counts[0][size_t(s)] + counts[1][size_t(s)];
    freq[kEndOfBlock] = 1;
    ensure_two_symbols(freq.data(), kLiteralCodes);

    std::array<std::uint8_t, kLiteralCodes + kDistanceCodes>
        lengths{};  // literal/length, then distance
    huffman_lengths(freq.data(), kLiteralCodes, 15, lengths.data());
    int literal_count = kLiteralCodes;
    while (literal_count > 257 && lengths[size_t(literal_count) - 1] == 0) --literal_count;
    // Distance codes: 0 (distance 1) and that of the period, each with at
    // least a count of 1 so that the code is complete.
    const LengthCode far_code = distance_code(period > 1 ? period : 2);
    std::array<std::uint32_t, kDistanceCodes> distance_freq{};
    distance_freq[0] = std::max<std::size_t>(near, 1);
    distance_freq[far_code.symbol] = std::max<std::size_t>(far, 1);
    std::array<std::uint8_t, kDistanceCodes> distance_lengths{};
    huffman_lengths(distance_freq.data(), kDistanceCodes, 15, distance_lengths.data());
    const int distance_count = far_code.symbol + 1;
    std::copy_n(distance_lengths.begin(), distance_count, lengths.begin() + literal_count);
    const int length_count = literal_count + distance_count;

    // The code lengths, run-length coded with symbols 16, 17 and 18.
    std::array<std::uint8_t, kLiteralCodes + kDistanceCodes> cl_symbols{}, cl_extra{};
    int cl_count = 0;
    std::array<std::uint32_t, 19> cl_freq{};
    for (int i = 0; i < length_count;) {
      const std::uint8_t v = lengths[size_t(i)];
      int run = 1;
      while (i + run < length_count && lengths[size_t(i + run)] == v) ++run;
      i += run;
      auto emit = [&](int symbol, int extra) {
        cl_symbols[size_t(cl_count)] = std::uint8_t(symbol);
        cl_extra[size_t(cl_count++)] = std::uint8_t(extra);
        ++cl_freq[size_t(symbol)];
      };
      if (v == 0) {
        while (run >= 11) {
          const int r = std::min(run, 138);
          emit(18, r - 11);
          run -= r;
        }
        if (run >= 3) {
          emit(17, run - 3);
          run = 0;
        }
      } else {
        emit(v, 0);
        --run;
        while (run >= 3) {
          const int r = std::min(run, 6);
          emit(16, r - 3);
          run -= r;
        }
      }
      for (; run > 0; --run) emit(v, 0);
    }
    ensure_two_symbols(cl_freq.data(), 19);
    std::array<std::uint8_t, 19> cl_lengths{};
    huffman_lengths(cl_freq.data(), 19, 7, cl_lengths.data());
    int cl_sent = 19;
    while (cl_sent > 4 && cl_lengths[size_t(kCodeLengthOrder[size_t(cl_sent) - 1])] == 0) --cl_sent;

    // Choose the dynamic block only when it is smaller than storing.
    std::size_t bits = 3 + 14 + 3 * std::size_t(cl_sent) + extra_bits + near * distance_lengths[0] +
                       far * (distance_lengths[far_code.symbol] + far_code.extra_bits);
    for (int i = 0; i < cl_count; ++i) {
      const int s = cl_symbols[size_t(i)];
      bits += cl_lengths[size_t(s)] + (s == 16 ? 2 : s == 17 ? 3 : s == 18 ? 7 : 0);
    }
    for (int s = 0; s < kLiteralCodes; ++s)
      bits += std::size_t(freq[size_t(s)]) * lengths[size_t(s)];
    if (bits >= stored_bits(end - start)) {
      stored_blocks(w, data + start, end - start, last);
      continue;
    }

    std::array<std::uint16_t, kLiteralCodes> codes{};
    canonical_codes(lengths.data(), literal_count, codes.data());
    std::array<std::uint16_t, 19> cl_codes{};
    canonical_codes(cl_lengths.data(), 19, cl_codes.data());
    std::array<std::uint16_t, kDistanceCodes> distance_codes{};
    canonical_codes(distance_lengths.data(), kDistanceCodes, distance_codes.data());
    // Distance code and extra bits of each kind of match, ready to send.
    const std::uint64_t near_bits = distance_codes[0];
    const int near_count = distance_lengths[0];
    const std::uint64_t far_bits =
        distance_codes[far_code.symbol] |
        (std::uint64_t(far_code.extra) << distance_lengths[far_code.symbol]);
    const int far_count = distance_lengths[far_code.symbol] + far_code.extra_bits;

    w.put((last ? 1 : 0) | (2 << 1), 3);  // BFINAL, BTYPE 10 (dynamic)
    w.put(std::uint64_t(literal_count - 257) | (std::uint64_t(distance_count - 1) << 5) |
              (std::uint64_t(cl_sent - 4) << 10),
          14);
    for (int i = 0; i < cl_sent; ++i) w.put(cl_lengths[size_t(kCodeLengthOrder[size_t(i)])], 3);
    for (int i = 0; i < cl_count; ++i) {
      const int s = cl_symbols[size_t(i)];
      w.put(cl_codes[size_t(s)], cl_lengths[size_t(s)]);
      if (s >= 16) w.put(cl_extra[size_t(i)], s == 16 ? 2 : s == 17 ? 3 : 7);
    }
    for (std::size_t t = 0; t < token_count; ++t) {
      const std::uint16_t token = tokens[t];
      if ((token & kMatchFlag) == 0) {
        w.put(codes[token], lengths[token]);
      } else {
        const LengthCode& code = kLengthCodes[token & kLengthMask];
        const int length_bits = lengths[code.symbol];
        // Length code and its extra bits, then distance code and its extra bits.
        w.put(codes[code.symbol] | (std::uint64_t(code.extra) << length_bits),
              length_bits + code.extra_bits);
        if ((token & kFarFlag) == 0) {
          w.put(near_bits, near_count);
        } else {
          w.put(far_bits, far_count);
        }
      }
    }
    w.put(codes[kEndOfBlock], lengths[kEndOfBlock]);
  }
  w.align();
  const std::uint32_t check = adler32(in);
  const std::uint8_t trailer[4] = {std::uint8_t(check >> 24), std::uint8_t(check >> 16),
                                   std::uint8_t(check >> 8), std::uint8_t(check)};
  w.bytes(trailer, 4);
  return std::size_t(w.position() - out.data());
}

}  // namespace talentsim::deflate
