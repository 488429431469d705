// Carries a delivery decision out on the outbox (disk thread): the one place that maps a Step to the
// outbox calls, so the loop's network side never touches the store.
#pragma once

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

}  // namespace opescare::delivery
