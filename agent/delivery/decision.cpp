// The delivery decision table.
#include "agent/delivery/decision.h"

#include <algorithm>

namespace opescare::delivery {
namespace {

std::string ErrorCode(const bridge::Classification& c, int status) {
  if (c.error && !c.error->error.empty()) return c.error->error;
  return status == 0 ? "transport_error" : "http_" + std::to_string(status);
}

std::string ErrorMessage(const bridge::Classification& c, int status, const std::string& transport_error) {
  if (c.error && !c.error->message.empty()) return c.error->message;
  if (status == 0) return transport_error.empty() ? "no response" : transport_error;
  return "HTTP " + std::to_string(status);
}

std::vector<outbox::Rejection> ToRejections(const std::vector<bridge::RejectedRecord>& in) {
  std::vector<outbox::Rejection> out;
  out.reserve(in.size());
  for (const auto& r : in) out.push_back({r.id, r.error, r.message});
  return out;
}

}  // namespace

const char* StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kAckAll: return "ack_all";
    case StepKind::kAckPartial: return "ack_partial";
    case StepKind::kSplit: return "split";
    case StepKind::kSplitTooLarge: return "split_too_large";
    case StepKind::kDeadLetterSingle: return "dead_letter";
    case StepKind::kResendUncompressed: return "resend_uncompressed";
    case StepKind::kPause: return "pause";
    case StepKind::kRetryLater: return "retry_later";
  }
  return "unknown";
}

Step Decide(const bridge::Classification& c, int status, size_t batch_records, const std::string& transport_error) {
  Step step;
  step.error = ErrorCode(c, status);
  step.message = ErrorMessage(c, status, transport_error);
  switch (c.action) {
    case bridge::Action::kAccepted:
      // Only what the receipt names leaves; the unnamed go back to pending and travel again under a new
      // batch_id (the old key would only replay this receipt). Never assumed delivered.
      step.confirmed = true;
      step.foreign_ids = c.foreign_ids;
      if (c.rejected.empty() && c.unnamed == 0) {
        step.kind = StepKind::kAckAll;
      } else {
        step.kind = StepKind::kAckPartial;
        step.accepted = c.accepted;
        step.rejected = ToRejections(c.rejected);
        step.returned = c.unnamed;
      }
      return step;
    case bridge::Action::kNotReceipt:
      step.kind = StepKind::kRetryLater;
      step.error = "no_receipt";
      step.message = "the server answered 2xx without a receipt: " + c.not_receipt_cause;
      step.no_receipt = c.not_receipt_cause;
      return step;
    case bridge::Action::kDuplicateBatch:
      step.kind = StepKind::kAckAll;
      step.confirmed = true;
      return step;
    case bridge::Action::kSplit:
      if (!c.rejected.empty()) {  // 400/422 that names the bad records: only those are dead-lettered
        step.kind = StepKind::kAckPartial;
        step.accepted = c.accepted;
        step.rejected = ToRejections(c.rejected);
      } else {
        step.kind = batch_records > 1 ? StepKind::kSplit : StepKind::kDeadLetterSingle;
      }
      return step;
    case bridge::Action::kTooLarge:
      if (batch_records > 1) {
        step.kind = StepKind::kSplitTooLarge;
        step.lowered_max_records = std::max<size_t>(1, batch_records / 2);
      } else {
        step.kind = StepKind::kDeadLetterSingle;
        if (!c.error || c.error->error.empty()) step.error = "too_large";
        if (!c.error || c.error->message.empty()) step.message = "the server refuses this record as too large (413)";
      }
      return step;
    case bridge::Action::kUncompressed:
      step.kind = StepKind::kResendUncompressed;
      return step;
    case bridge::Action::kPauseAuth:
    case bridge::Action::kPauseConfig:
      step.kind = StepKind::kPause;
      if (!c.human_fix.empty()) step.message = step.message + " — " + c.human_fix;
      return step;
    case bridge::Action::kTransient:
      step.kind = StepKind::kRetryLater;
      return step;
  }
  return step;
}

}  // namespace opescare::delivery
