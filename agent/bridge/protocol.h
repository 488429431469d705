// The OpesCare bridge protocol as pure functions (PROTOCOL.md): request headers, heartbeat and
// sync bodies, response classification, Retry-After, and the server clock offset.
// Nothing here does I/O; the heartbeat loop and delivery call these.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
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
Classification ClassifySyncResponse(int status, const std::string& body, bool gzip_sent);

}  // namespace opescare::bridge
