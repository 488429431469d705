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

namespace opescare::bridge {

// What the agent does with a response (PROTOCOL.md "Responses and what the agent does").
enum class Action {
  kAccepted,        // 200/201/202: accepted ids leave the outbox, rejected ones are dead-lettered
  kDuplicateBatch,  // 409 duplicate_batch: success for every record of the batch
  kSplit,           // 400/422 without per-record detail: split in two, recursively
  kTooLarge,        // 413: split without counting an attempt, lower the batch size
  kUncompressed,    // 415 while gzip was sent: resend uncompressed, remember for the process
  kPauseAuth,       // 401/403: pause delivery, keep heartbeating, surface the fix
  kPauseConfig,     // 404: wrong server_url/sync_path or facility_not_found: pause like 401
  kTransient,       // 408/425/429/5xx, timeouts, connection/TLS transport errors, anything unknown
};

const char* ActionName(Action a);

struct RejectedRecord {
  std::string id;
  std::string error;
  std::string message;
};

// The parsed JSON error body {"error", "message", "status"}, when the server sent one.
struct ErrorBody {
  std::string error;
  std::string message;
};

struct Classification {
  Action action = Action::kTransient;
  std::vector<std::string> accepted;     // kAccepted: ids the server listed (empty + no rejected = all)
  std::vector<RejectedRecord> rejected;  // kAccepted (per-record), or kSplit when detail was given
  std::optional<ErrorBody> error;        // from the body, when present
  std::string human_fix;                 // for pauses: what a person must do
};

// Classifies a sync response. status 0 means no HTTP response (timeout, connection, TLS transport).
// gzip_sent tells whether the request body was gzip-compressed (415 handling).
// clock_offset_seconds (server - local) only shapes human_fix: beyond 60 s a 401 blames the clock.
// Any body is safe: garbage, non-objects or wrong types are ignored field by field.
// 400/422 with per-record detail ({"rejected": [{"id","error","message"}]} as in 2xx) gives kSplit with
// `rejected` filled: dead-letter those, resend the others (re-formed); without detail `rejected` is empty.
Classification ClassifySyncResponse(int status, const std::string& body, bool gzip_sent,
                                    int64_t clock_offset_seconds = 0);

// {"error": "...", "message": "..."} when body is a JSON object with at least one of them as a string.
std::optional<ErrorBody> ParseErrorBody(std::string_view body);

// What a person must do about a 401/403/404 (empty for other statuses): "re-generate the agent key in
// the OpesCare admin panel" for bridge_token_invalid, the facility_id for facility_not_found, server_url
// and the path for other 404s; a clock more than 60 s off is named as the likely cause of a 401/403.
std::string HumanFix(int status, const std::optional<ErrorBody>& error, int64_t clock_offset_seconds);

}  // namespace opescare::bridge
