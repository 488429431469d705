// ByteSource: where the CSV parser reads bytes from (a file descriptor, or memory in tests and the fuzzer).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::csv_folder {

// A forward-only stream of bytes. Not thread-safe.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes into buf; 0 means the end of the input. An error is an I/O failure.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

// Serves a string it borrows (which must outlive it), at most max_read bytes per call so tests can
// exercise chunk boundaries.
class StringByteSource final : public ByteSource {
 public:
  explicit StringByteSource(std::string_view data, size_t max_read = static_cast<size_t>(-1))
      : data_(data), max_read_(max_read) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t take = data_.size() - pos_;
    if (take > n) take = n;
    if (take > max_read_) take = max_read_;
    data_.copy(buf, take, pos_);
    pos_ += take;
    return take;
  }

 private:
  std::string_view data_;
  size_t max_read_;
  size_t pos_ = 0;
};

}  // namespace opescare::csv_folder
