// Step -> outbox calls.
#include "agent/delivery/apply_step.h"

#include <string>

namespace opescare::delivery {

namespace {

// last_sync_at is a convenience for the status page: failing to write it must not undo an ack.
void NoteSync(outbox::Outbox& ob, outbox::TimePoint now) {
  (void)ob.SetMeta(outbox::kMetaLastSyncAt, FormatIso8601Utc(now));
}

}  // namespace

Applied ApplyStep(outbox::Outbox& ob, const outbox::Batch& batch, const Step& step, outbox::TimePoint retry_at,
                  outbox::TimePoint now) {
  Applied a;
  auto take = [&](Result<outbox::AckCounts> r) {
    if (r.ok())
      a.counts = *r;
    else
      a.status = r.status();
  };
  switch (step.kind) {
    case StepKind::kAckAll:
      take(ob.AckAll(batch.batch_id));
      break;
    case StepKind::kAckPartial:
      take(ob.AckPartial(batch.batch_id, step.accepted, step.rejected));
      break;
    case StepKind::kSplit:
    case StepKind::kSplitTooLarge: {
      auto r = ob.SplitBatch(batch.batch_id);
      if (!r.ok()) a.status = r.status();
      // The lowered size is kept in memory anyway; failing to persist it must not make the split look
      // undone (retrying it would find the batch gone).
      if (a.status.ok() && step.kind == StepKind::kSplitTooLarge)
        (void)ob.SetMeta(outbox::kMetaBatchMaxRecords, std::to_string(step.lowered_max_records));
      break;
    }
    case StepKind::kDeadLetterSingle:
      a.status = ob.DeadLetterBatch(batch.batch_id, step.error, step.message);
      if (a.status.ok()) a.counts.rejected = 1;
      break;
    case StepKind::kResendUncompressed:
    case StepKind::kPause:
      ob.ReleaseBatch(batch.batch_id);
      break;
    case StepKind::kRetryLater:
      a.status = ob.RescheduleBatch(batch.batch_id, retry_at, step.error + ": " + step.message, true);
      break;
  }
  if (a.status.ok() && (step.kind == StepKind::kAckAll || step.kind == StepKind::kAckPartial)) NoteSync(ob, now);
  return a;
}

std::optional<outbox::BatchAck> AckOf(const outbox::Batch& batch, const Step& step) {
  if (step.kind == StepKind::kAckAll) return outbox::BatchAck{batch.batch_id, true, {}, {}};
  if (step.kind == StepKind::kAckPartial) return outbox::BatchAck{batch.batch_id, false, step.accepted, step.rejected};
  return std::nullopt;
}

AppliedAndNext ApplyStepThenNext(outbox::Outbox& ob, const outbox::Batch& batch, const Step& step,
                                 outbox::TimePoint retry_at, outbox::TimePoint now, const outbox::BatchLimits& limits) {
  AppliedAndNext out;
  if (auto ack = AckOf(batch, step)) {
    auto both = ob.AckAndNextDueBatch(*ack, now, limits);
    if (both.ok()) {
      out.applied.counts = both->counts;
      NoteSync(ob, now);
      out.next = std::move(both->next);
      return out;
    }
    out.applied.status = both.status();  // nothing changed: the ack is retried, or the batch is gone
  } else {
    out.applied = ApplyStep(ob, batch, step, retry_at, now);
  }
  const Status& s = out.applied.status;
  if (s.ok() || s.code() == Code::kNotFound) out.next = ob.NextDueBatch(now, limits);
  return out;
}

}  // namespace opescare::delivery
