// gzip (RFC 1952) compression of request bodies (libdeflate: ordinary gzip, several times faster than
// zlib at a like ratio; bench/gzip_bench) and bounded decompression (libdeflate too: about twice zlib's speed).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::http {

// libdeflate's levels: 1 (fast) .. 12 (small). The default is bench/gzip_bench's pick for sync bodies.
inline constexpr int kMinGzipLevel = 1;
inline constexpr int kMaxGzipLevel = 12;
inline constexpr int kDefaultGzipLevel = 4;

// Compresses data into one gzip member. InvalidArgument for a level outside kMinGzipLevel..kMaxGzipLevel.
Result<std::string> GzipCompress(std::string_view data, int level = kDefaultGzipLevel);

// Decompresses the first gzip member of data, refusing (kResourceExhausted) to produce more than max_output
// bytes, so that a small hostile input cannot expand without bound; kInvalidArgument when that member is not
// whole, valid gzip. *consumed (when given) is the member's size: what follows it is the caller's to judge.
Result<std::string> GzipDecompress(std::string_view data, size_t max_output, size_t* consumed = nullptr);

}  // namespace opescare::http
