// Faults the tests inject into the simulator (POST /_sim/faults): their state and how a JSON patch sets them.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "agent/util/status.h"

namespace opescare::simulator {

// A fault that hits the next `remaining` bridge requests on a matching path (remaining < 0: until cleared).
struct CountedFault {
  int64_t remaining = 0;
  std::string path;  // "" = every bridge endpoint

  bool Active() const { return remaining != 0; }
  bool Matches(std::string_view request_path) const { return Active() && (path.empty() || path == request_path); }
  // Uses the fault once if it applies to this request.
  bool Take(std::string_view request_path) {
    if (!Matches(request_path)) return false;
    if (remaining > 0) --remaining;
    return true;
  }
};

struct Faults {
  CountedFault status;  // answer status_code with the JSON error body, without processing
  int status_code = 0;
  std::optional<std::string> retry_after;  // sent verbatim as Retry-After
  std::string status_error;                // error code in the body; a default per status when empty
  std::string status_message;

  CountedFault garbage;    // answer bytes that are not HTTP, then close
  CountedFault hang;       // read the request, never answer (the connection stays open)
  CountedFault reset;      // sync only: process the batch fully, then drop the TCP connection (RST)
  CountedFault truncate;   // process as usual, send half the response, then reset the connection
  CountedFault oversized;  // answer 200 with an oversized_bytes body, without processing
  uint64_t oversized_bytes = 0;
  CountedFault delay;  // wait delay_ms before answering
  int64_t delay_ms = 0;
  // Sync only: a 2xx that is not a receipt (PROTOCOL.md "The receipt"). "html", "empty", "invalid_json" and
  // "other_batch" answer 200 without processing the batch, as a captive portal or a caching proxy would;
  // "omit_ids" processes only the first half of the records and names only those in the receipt.
  CountedFault not_receipt;
  std::string not_receipt_kind;

  uint64_t max_body_bytes = 0;                 // 0: off. 413 when the (decompressed) body is larger
  std::unordered_set<std::string> reject_ids;  // these record ids are refused
  int reject_ids_batch_status = 0;             // 0: refuse per record in a 200; else the whole batch gets this status
  bool reject_gzip = false;                    // 415 to Content-Encoding: gzip

  std::chrono::steady_clock::time_point outage_until{};  // bridge listeners down until then
  bool outage_refuse = true;  // true: stop listening (ECONNREFUSED); false: accept and reset at once

  bool InOutage(std::chrono::steady_clock::time_point now) const { return now < outage_until; }
};

// Where the symbolic "path" values "heartbeat" and "sync" point.
struct FaultPaths {
  std::string heartbeat;
  std::string sync;
};

// Merges a patch such as {"status": 503, "count": 2, "retry_after": "3", "path": "sync"} into *faults.
// All-or-nothing: on error *faults is unchanged. Unknown keys and wrong types are errors so that a typo in
// a test cannot pass silently. {"clear": true} first clears everything.
Status ApplyFaultPatch(const boost::json::object& patch, const FaultPaths& paths,
                       std::chrono::steady_clock::time_point now, Faults* faults);

// The current faults, for GET /_sim/faults.
boost::json::object FaultsToJson(const Faults& faults, std::chrono::steady_clock::time_point now);

// The JSON error code used for a status when the test gave none ("rate_limited" for 429...).
std::string DefaultErrorCode(int status);

}  // namespace opescare::simulator
