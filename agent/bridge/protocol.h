// The OpesCare bridge protocol as pure functions (PROTOCOL.md): request headers, heartbeat and
// sync bodies, response classification, Retry-After, and the server clock offset.
// Nothing here does I/O; the heartbeat loop and delivery call these.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/bridge/receipt.h"

namespace opescare::bridge {

// What the agent does with a response (PROTOCOL.md "Responses and what the agent does").
enum class Action {
  kAccepted,        // 200/201/202 with a receipt: accepted ids leave, rejected are dead-lettered, the rest return
  kNotReceipt,      // 2xx without a receipt: transient, nothing leaves the outbox (PROTOCOL.md "The receipt")
  kDuplicateBatch,  // 409 duplicate_batch: success for every record of the batch
  kSplit,           // 400/422 without per-record detail: split in two, recursively
  kTooLarge,        // 413: split without counting an attempt, lower the batch size
  kUncompressed,    // 415 while gzip was sent: resend uncompressed, remember for the process
  kPauseAuth,       // 401/403: pause delivery, keep heartbeating, surface the fix
  kPauseConfig,     // 404: wrong server_url/sync_path or facility_not_found: pause like 401
  kTransient,       // 408/425/429/5xx, timeouts, connection/TLS transport errors, anything unknown
};

const char* ActionName(Action a);

// The parsed JSON error body {"error", "message", "status"}, when the server sent one.
struct ErrorBody {
  std::string error;
  std::string message;
};

struct Classification {
  Action action = Action::kTransient;
  std::vector<std::string> accepted;     // kAccepted: the batch's ids the receipt accepts
  std::vector<RejectedRecord> rejected;  // kAccepted: the batch's ids it rejects; kSplit when detail was given
  size_t unnamed = 0;                    // kAccepted: records of the batch in neither list (back to pending)
  size_t foreign_ids = 0;                // kAccepted: ids named that are not in the batch (ignored)
  NotReceiptReason not_receipt = NotReceiptReason::kEmptyBody;  // kNotReceipt: why
  std::string not_receipt_cause;         // kNotReceipt: the likely cause, in words
  std::optional<ErrorBody> error;        // from the body, when present
  std::string human_fix;                 // for pauses: what a person must do
};

// Classifies a sync response to the batch batch_id holding record_ids. status 0 means no HTTP response
// (timeout, connection, TLS transport). gzip_sent tells whether the request body was gzip-compressed (415).
// clock_offset_seconds (server - local) only shapes human_fix: beyond 60 s a 401 blames the clock.
// A 200/201/202 is kAccepted only with a receipt for this batch (ParseReceipt), else kNotReceipt.
// Any body is safe: garbage, non-objects or wrong types never accept a record.
// 400/422 with per-record detail ({"rejected": [{"id","error","message"}]}) gives kSplit with `rejected`
// filled (restricted to the batch): dead-letter those, resend the others; without detail it is empty.
Classification ClassifySyncResponse(int status, const std::string& body, bool gzip_sent, std::string_view batch_id,
                                    const std::vector<std::string>& record_ids, int64_t clock_offset_seconds = 0);

// {"error": "...", "message": "..."} when body is a JSON object with at least one of them as a string.
std::optional<ErrorBody> ParseErrorBody(std::string_view body);

// What a person must do about a 401/403/404 (empty for other statuses): "re-generate the agent key in
// the OpesCare admin panel" for bridge_token_invalid, the facility_id for facility_not_found, server_url
// and the path for other 404s; a clock more than 60 s off is named as the likely cause of a 401/403.
std::string HumanFix(int status, const std::optional<ErrorBody>& error, int64_t clock_offset_seconds);

}  // namespace opescare::bridge
