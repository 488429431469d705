// SHA-256 (OpenSSL EVP), hex encoding and UUIDs.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental SHA-256 for streamed files. Not thread-safe; non-copyable. Never throws: if OpenSSL cannot set
// it up (out of memory), Update does nothing and Finish says so.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  Result<Sha256Digest> Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot hashes of small texts (a key, a record's content). All zeros / "" if OpenSSL cannot hash (out of
// memory): callers that keep the value refuse an empty id or key hash.
Sha256Digest Sha256Of(std::string_view bytes);
std::string Sha256Hex(std::string_view bytes);
// SHA-256 of a whole file, read in chunks.
Result<std::string> Sha256HexOfFile(const std::string& path);

std::string HexEncode(const uint8_t* data, size_t size);
inline std::string HexEncode(const Sha256Digest& d) { return HexEncode(d.data(), d.size()); }

// A random (version 7, time-ordered) UUID in its canonical 36-character form; kInternal when OpenSSL's random
// generator fails (the caller keeps running and tries again later).
Result<std::string> NewUuid();

}  // namespace opescare
