// Inflating gzip request bodies (zlib), with a cap on the inflated size.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::simulator {

// Inflates one gzip member. kResourceExhausted when the output would exceed max_output bytes,
// kInvalidArgument when the input is not complete, valid gzip.
Result<std::string> GzipInflate(std::string_view input, size_t max_output);

}  // namespace opescare::simulator
