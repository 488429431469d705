// Carries a delivery decision out on the outbox (disk thread): the one place that maps a Step to the
// outbox calls, so the loop's network side never touches the store.
#pragma once

#include <optional>

#include "agent/delivery/decision.h"
#include "agent/outbox/outbox.h"

namespace opescare::delivery {

struct Applied {
  Status status;  // the first outbox error; the batch is then left exactly as it was
  outbox::AckCounts counts;
};

// retry_at: kRetryLater's next attempt; now: the wall clock, for last_sync_at after an ack.
// The batch stays in flight on failure: the caller retries the same step (a receipt is never replaced by a
// resend, whose 409 duplicate_batch would ack what the receipt returned or rejected) or releases it.
Applied ApplyStep(outbox::Outbox& ob, const outbox::Batch& batch, const Step& step, outbox::TimePoint retry_at,
                  outbox::TimePoint now);

// kAckAll and kAckPartial as the outbox's BatchAck; nullopt for every other step.
std::optional<outbox::BatchAck> AckOf(const outbox::Batch& batch, const Step& step);

struct AppliedAndNext {
  Applied applied;
  std::optional<Result<outbox::NextBatch>> next;  // unset when the record failed: nothing may jump it
};

// ApplyStep, then NextDueBatch(now, limits) unless the record failed (a batch already gone is no failure).
// An ack and the next batch's forming are one transaction (AckAndNextDueBatch, issue 11): one commit fewer
// per batch, and a crash between them cannot happen.
AppliedAndNext ApplyStepThenNext(outbox::Outbox& ob, const outbox::Batch& batch, const Step& step,
                                 outbox::TimePoint retry_at, outbox::TimePoint now, const outbox::BatchLimits& limits);

}  // namespace opescare::delivery
