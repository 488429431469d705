// Inflating gzip request bodies, with a cap on the inflated size, and gzip for responses (zlib).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::simulator {

// Inflates one gzip member. kResourceExhausted when the output would exceed max_output bytes,
// kInvalidArgument when the input is not complete, valid gzip or has bytes after its member.
Result<std::string> GzipInflate(std::string_view input, size_t max_output);

// One gzip member of input (zlib level 6, what a typical server's gzip module sends).
std::string GzipDeflate(std::string_view input);

// Whether an Accept-Encoding value (RFC 9110 12.5.3) accepts gzip: gzip, x-gzip or * with a q-value
// above 0, names compared in any case.
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace opescare::simulator
