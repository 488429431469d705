// gzip (RFC 1952) compression of request bodies and bounded decompression, with zlib.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::http {

// Compresses data into one gzip member. level: 1 (fast) .. 9 (small); 6 is zlib's default.
Result<std::string> GzipCompress(std::string_view data, int level = 6);

// Decompresses a gzip stream, refusing (kResourceExhausted) to produce more than max_output bytes,
// so a small hostile input cannot expand without bound.
Result<std::string> GzipDecompress(std::string_view data, size_t max_output);

}  // namespace opescare::http
