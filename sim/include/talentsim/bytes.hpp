// Values as their in-memory bytes and back: for journal records and for
// messages between processes of the same build (hence the same byte order
// and layout, which the journal's fingerprint and the cluster's handshake
// pin).
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace talentsim {

// Appends the bytes of `n` values.
template <class T>
void put(std::string& out, const T* data, std::size_t n) {
  if (n == 0) return;  // an empty vector's data() may be null
  out.append(reinterpret_cast<const char*>(data), n * sizeof(T));
}
template <class T>
void put(std::string& out, const T& v) {
  put(out, &v, 1);
}

// Reads back what put() wrote; every get() says whether the bytes were there.
class RecordReader {
 public:
  explicit RecordReader(std::string_view bytes) : bytes_(bytes) {}
  template <class T>
  bool get(T* data, std::size_t n) {
    if (n > (bytes_.size() - at_) / sizeof(T)) return false;
    if (n == 0) return true;  // memcpy must not see the null data() of an empty vector
    std::memcpy(data, bytes_.data() + at_, n * sizeof(T));
    at_ += n * sizeof(T);
    return true;
  }
  template <class T>
  bool get(T& v) {
    return get(&v, 1);
  }
  bool at_end() const { return at_ == bytes_.size(); }
  std::size_t left() const { return bytes_.size() - at_; }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

}  // namespace talentsim
