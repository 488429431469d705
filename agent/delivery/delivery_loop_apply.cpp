// The delivery loop's side of a decision: what it changes in the loop (backoff, pause, gzip, batch size)
// and says, and how its record in the outbox ended (delivered, gone, or waiting for the store).
#include <boost/asio/post.hpp>

#include "agent/delivery/delivery_loop_impl.h"
#include "agent/delivery/delivery_report.h"

namespace opescare::delivery {

using SysClock = std::chrono::system_clock;

void DeliveryLoop::Impl::Decided(const std::shared_ptr<InFlight>& f,
                                 std::optional<std::chrono::milliseconds> retry_after) {
  f->phase = Phase::kApplying;
  f->retry_at = {};
  const outbox::Batch& batch = *f->batch;
  const Step& step = f->step;
  switch (step.kind) {
    case StepKind::kRetryLater: {
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      auto delay = BackoffDelay(options_.backoff, batch.attempts, unit(rng_), retry_after);
      f->retry_at = clock_.Now() + delay;
      counters_.last_error = step.error + ": " + step.message;
      // Without a receipt the cause was said once (ReportReceipt); each retry is detail.
      log_->log(step.no_receipt.empty() ? spdlog::level::warn : spdlog::level::debug,
                "delivery: batch {} not delivered ({}: {}); retrying in {:.1f} s{}", batch.batch_id, step.error,
                step.message, static_cast<double>(delay.count()) / 1000.0,
                retry_after ? " (the server's Retry-After)" : "");
      break;
    }
    case StepKind::kResendUncompressed:
      if (!gzip_refused_)
        log_->warn("delivery: the server refuses gzip (415); sending uncompressed for the life of this process");
      gzip_refused_ = true;
      break;
    case StepKind::kPause:
      if (!paused_) {
        log_->error("delivery PAUSED ({}): {}. Records stay queued; heartbeats go on.", step.error, step.message);
        if (hooks_.on_pause_change) hooks_.on_pause_change(step.message);
      }
      paused_ = true;
      counters_.paused_reason = step.message;
      counters_.last_error = step.error + ": " + step.message;
      ReleaseWhere(Phase::kReady);  // formed but not sent: left for after the pause
      break;
    case StepKind::kSplitTooLarge:
      lowered_max_records_ = static_cast<uint32_t>(step.lowered_max_records);
      log_->warn("delivery: batch of {} records too large for the server (413); splitting, batch size now {}",
                 batch.records.size(), step.lowered_max_records);
      break;
    case StepKind::kSplit:
      log_->warn("delivery: the server refused batch {} of {} records without naming a record ({}); splitting it "
                 "to isolate the invalid ones",
                 batch.batch_id, batch.records.size(), step.error);
      break;
    case StepKind::kDeadLetterSingle:
      log_->warn("delivery: record {} refused by the server ({}: {}); moved to dead letters",
                 batch.records.empty() ? std::string("?") : batch.records.front().id, step.error, step.message);
      break;
    default:
      break;
  }
}

// Returns whether the outbox now holds the outcome (or the batch is gone): the queue changed.
bool DeliveryLoop::Impl::OnApplied(const std::shared_ptr<InFlight>& f, const Applied& a) {
  const outbox::Batch& batch = *f->batch;
  const Step& step = f->step;
  const Status& s = a.status;
  if (s.code() == Code::kNotFound) {  // gone meanwhile (purged, or an earlier try did commit): nothing to record
    log_->warn("delivery: batch {} is no longer in the outbox ({}); nothing to record", batch.batch_id, s.message());
    OnStoreOk();
    Forget(f);
    return true;
  }
  if (!s.ok()) {
    auto wait = OnStoreFault(s, "record the outcome of batch " + batch.batch_id + " (" + StepKindName(step.kind) + ")");
    if (stopping_) {
      Release(f);
      return false;
    }
    StoreWait(f, wait);
    return false;
  }
  OnStoreOk();
  Forget(f);
  counters_.records_delivered += a.counts.accepted;
  counters_.records_rejected += a.counts.rejected;
  if (step.kind == StepKind::kAckAll || step.kind == StepKind::kAckPartial) {
    counters_.last_sync_at = clock_.Now();
    log_->debug("delivery: batch {} delivered ({} accepted, {} rejected, {} returned)", batch.batch_id,
                a.counts.accepted, a.counts.rejected, a.counts.returned);
    NoteDelivered(a.counts);
  }
  if (hooks_.on_outbox_changed) hooks_.on_outbox_changed();
  return true;
}

// The batch stays in flight and the same decision is applied again after the wait: never dropped, never
// re-decided (a resend's 409 duplicate_batch would ack what a receipt returned or rejected).
void DeliveryLoop::Impl::StoreWait(const std::shared_ptr<InFlight>& f, std::chrono::milliseconds wait) {
  f->phase = Phase::kStoreWait;
  auto self = shared_from_this();
  f->store_timer.expires_after(wait);
  f->store_timer.async_wait([self, f](const boost::system::error_code& ec) {
    if (ec || self->stopping_ || f->phase != Phase::kStoreWait) return;
    f->phase = Phase::kApplying;
    self->Advance(f);
  });
}

// One info line per 10 s of delivery, not one per batch: a backlog drains at hundreds of batches a second.
void DeliveryLoop::Impl::NoteDelivered(const outbox::AckCounts& counts) {
  summary_records_ += counts.accepted;
  summary_batches_ += 1;
  auto now = clock_.Steady();
  if (now - last_summary_ >= std::chrono::seconds(10)) {
    log_->info("delivery: {} records delivered in {} batches", summary_records_, summary_batches_);
    summary_records_ = summary_batches_ = 0;
    last_summary_ = now;
  }
}

// An outbox error: reported once per kind; returns how long to wait before touching the store again.
std::chrono::milliseconds DeliveryLoop::Impl::OnStoreFault(const Status& s, const std::string& what) {
  return ReportStoreFault(counters_, *log_, s, what, ++store_failures_);
}

void DeliveryLoop::Impl::OnStoreOk() {
  store_failures_ = 0;
  ReportStoreOk(counters_, *log_);
}

}  // namespace opescare::delivery
