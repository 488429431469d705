// What delivery does with a classified sync response: a pure decision, kept apart from the outbox
// and network calls that carry it out (PROTOCOL.md "Responses and what the agent does").
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "agent/bridge/protocol.h"
#include "agent/outbox/outbox.h"

namespace opescare::delivery {

enum class StepKind {
  kAckAll,              // every record of the batch leaves the outbox (a receipt naming all, or duplicate_batch)
  kAckPartial,          // accepted leave, rejected are dead-lettered, the unnamed go back to pending
  kSplit,               // invalid somewhere: split in two and send each half (counts nothing)
  kSplitTooLarge,       // 413: split, and remember a smaller batch size
  kDeadLetterSingle,    // a single record the server still refuses
  kResendUncompressed,  // 415 to gzip: stop compressing for this process and resend
  kPause,               // 401/403/404: stop delivering until the configuration or key is fixed
  kRetryLater,          // transient (2xx without a receipt too): back off, resend the same batch under the same key
};

const char* StepKindName(StepKind kind);

struct Step {
  StepKind kind = StepKind::kRetryLater;
  std::vector<std::string> accepted;         // kAckPartial
  std::vector<outbox::Rejection> rejected;   // kAckPartial
  std::string error;                         // kDeadLetterSingle / kPause / kRetryLater: machine code
  std::string message;                       // human text for logs, status and dead letters
  size_t lowered_max_records = 0;            // kSplitTooLarge: the batch size to use from now on
  // The server confirmed (a receipt, or 409 duplicate_batch): whatever said "no receipt" before is over.
  bool confirmed = false;
  std::string no_receipt;  // kRetryLater after a 2xx that is not a receipt: the likely cause, in words
  size_t foreign_ids = 0;  // kAckAll/kAckPartial: ids the receipt named that are not in the batch (ignored)
  size_t returned = 0;     // kAckPartial: records of the batch the receipt did not name (back to pending)
};

// status is the HTTP status (0 when no response arrived); transport_error describes a failure without one.
Step Decide(const bridge::Classification& c, int status, size_t batch_records, const std::string& transport_error);

}  // namespace opescare::delivery
