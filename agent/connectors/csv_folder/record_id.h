// Stable record ids: "r_" + the first 32 hex digits of SHA-256("<file sha256 hex>:<row number>"), so a
// re-ingested file yields the same ids and the server can de-duplicate (PROTOCOL.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::csv_folder {

std::string RecordId(std::string_view file_sha256_hex, int64_t row);

// The same ids, fast: hashes the "<file sha256 hex>:" prefix once and reuses that state per row.
// Not thread-safe; non-copyable.
class RecordIdMaker {
 public:
  explicit RecordIdMaker(std::string_view file_sha256_hex);
  ~RecordIdMaker();
  RecordIdMaker(const RecordIdMaker&) = delete;
  RecordIdMaker& operator=(const RecordIdMaker&) = delete;

  // Not OK when OpenSSL could not set up SHA-256 (out of memory): Make must not be called then.
  const Status& status() const { return status_; }
  // Replaces *out with the id of row.
  void Make(int64_t row, std::string* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Status status_;
};

}  // namespace opescare::csv_folder
