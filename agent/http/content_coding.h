// A response body's Content-Encoding undone (PROTOCOL.md "The receipt": the response may be gzip-encoded
// when the agent sends Accept-Encoding: gzip).
#pragma once

#include <cstdint>

#include "agent/http/client.h"
#include "agent/util/status.h"

namespace opescare::http {

// Content-Encoding gzip (or x-gzip) with a body: inflates it in place, refusing to produce more than
// max_bytes (kResourceExhausted: "is larger than N bytes after gzip decoding"), and drops the
// Content-Encoding and Content-Length headers, which no longer describe the body. Invalid gzip is
// kInvalidArgument. Any other coding (identity, none, or one never asked for) leaves the response as it is:
// its body is then not a receipt, and its status still counts.
Status DecodeContentEncoding(Response& response, uint64_t max_bytes);

}  // namespace opescare::http
