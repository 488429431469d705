// The delivery loop's state machine: fetch a due batch on the disk thread, send it on the network
// thread, decide (decision.h), apply the decision on the disk thread, repeat.
#include "agent/delivery/delivery_loop.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>
#include <spdlog/logger.h>

#include "agent/bridge/protocol.h"
#include "agent/delivery/apply_step.h"
#include "agent/delivery/decision.h"
#include "agent/delivery/delivery_report.h"
#include "agent/util/clock.h"

namespace opescare::delivery {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;

namespace {
const Clock& SystemClockInstance() {
  static const SystemClock clock;
  return clock;
}
}  // namespace

class DeliveryLoop::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& net, asio::io_context& disk, outbox::Outbox& outbox, Transport transport,
       const Clock& clock, DeliveryOptions options, DeliveryHooks hooks, std::shared_ptr<spdlog::logger> logger)
      : net_(net),
        disk_(disk),
        outbox_(outbox),
        transport_(std::move(transport)),
        clock_(clock),
        options_(std::move(options)),
        hooks_(std::move(hooks)),
        log_(std::move(logger)),
        timer_(net),
        grace_timer_(net),
        rng_(std::random_device{}()) {}

  void Start() {
    started_ = true;
    // A batch size lowered by an earlier 413 is remembered across restarts.
    auto self = shared_from_this();
    asio::post(disk_, [self] {
      auto meta = self->outbox_.GetMeta(outbox::kMetaBatchMaxRecords);
      uint32_t lowered = 0;
      if (meta.ok() && meta->has_value()) lowered = static_cast<uint32_t>(std::strtoul((*meta)->c_str(), nullptr, 10));
      asio::post(self->net_, [self, lowered] {
        self->lowered_max_records_ = lowered;
        self->Kick();
      });
    });
  }

  void Wake() { Kick(); }

  void ConnectivityRegained() {
    if (stopping_) return;
    if (paused_) {
      paused_ = false;
      counters_.paused_reason.clear();
      log_->info("delivery resumed: the server accepts the agent again");
      if (hooks_.on_pause_change) hooks_.on_pause_change("");
    }
    force_due_ = true;
    Kick();
  }

  void UpdateOptions(DeliveryOptions options) {
    options_ = std::move(options);
    Kick();
  }

  void Stop(std::function<void()> done) {
    if (stopping_) return;
    stopping_ = true;
    stop_done_ = std::move(done);
    timer_.cancel();
    if (state_ == State::kSending) {
      auto self = shared_from_this();
      grace_timer_.expires_after(options_.stop_grace);
      grace_timer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec) return;
        self->log_->warn("stopping: the sync request in flight did not finish within {} ms; abandoning it "
                         "(its batch stays queued and is resent under the same Idempotency-Key)",
                         self->options_.stop_grace.count());
        if (self->transport_.close) self->transport_.close();
      });
      return;
    }
    if (state_ == State::kStoreWait) {  // a decision waits for the outbox: the batch stays queued as it was
      Release(retry_apply_->batch->batch_id);
      retry_apply_.reset();
      state_ = State::kIdle;
    }
    MaybeFinishStop();
  }

  const DeliveryCounters& counters() const { return counters_; }

 private:
  enum class State { kIdle, kFetching, kSending, kApplying, kStoreWait };

  // A decision the outbox could not record yet: applied again after the store fault's wait, never replaced
  // by a resend (whose 409 duplicate_batch would ack what a receipt returned or rejected).
  struct PendingApply {
    std::shared_ptr<outbox::Batch> batch;
    Step step;
    SysClock::time_point retry_at;
  };

  void MaybeFinishStop() {
    if (!stopping_ || state_ != State::kIdle || !stop_done_) return;
    grace_timer_.cancel();
    auto done = std::move(stop_done_);
    stop_done_ = nullptr;
    done();
  }

  // Looks for work now, or remembers to look once the current step is over.
  void Kick() {
    if (!started_ || stopping_ || paused_) return;
    if (state_ != State::kIdle) {
      wake_pending_ = true;
      return;
    }
    wake_pending_ = false;
    timer_.cancel();
    Fetch();
  }

  void Fetch() {
    state_ = State::kFetching;
    outbox::BatchLimits limits = options_.limits;
    if (lowered_max_records_ > 0 && lowered_max_records_ < limits.max_records) limits.max_records = lowered_max_records_;
    const bool force_due = force_due_;
    force_due_ = false;
    auto self = shared_from_this();
    const SysClock::time_point now = clock_.Now();
    asio::post(disk_, [self, limits, force_due, now] {
      auto next = self->outbox_.NextDueBatch(now, limits);
      // Connectivity regained: a batch waiting for its backoff is due at once. The far-future time is used
      // only when a batch waits, so it can only pick that batch: a batch formed under it would be persisted
      // as due in a year, and everything queued behind it would stall.
      if (force_due && next.ok() && !next->batch && next->next_attempt_at)
        next = self->outbox_.NextDueBatch(now + std::chrono::hours(24 * 365), limits);
      std::string body;
      if (next.ok() && next->batch) body = self->hooks_.build_body(*next->batch);
      asio::post(self->net_, [self, next = std::move(next), body = std::move(body)]() mutable {
        self->OnFetched(std::move(next), std::move(body));
      });
    });
  }

  void OnFetched(Result<outbox::NextBatch> next, std::string body) {
    state_ = State::kIdle;
    if (!next.ok()) {
      ScheduleFetch(OnStoreFault(next.status(), "read the next batch"));
      return MaybeFinishStop();
    }
    OnStoreOk();
    if (!next->batch) {
      counters_.backoff_until.reset();
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(options_.sync_interval);
      if (next->next_attempt_at) {
        auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next->next_attempt_at - clock_.Now());
        until = std::max(until, std::chrono::milliseconds(0));
        counters_.backoff_until = clock_.Steady() + until;
        wait = std::min(wait, until);
      }
      if (wake_pending_ && !stopping_) return Kick();
      ScheduleFetch(wait);
      return MaybeFinishStop();
    }
    if (stopping_) {  // fetched just as we stop: leave it for the next start
      Release(next->batch->batch_id);
      return MaybeFinishStop();
    }
    Send(std::make_shared<outbox::Batch>(std::move(*next->batch)), std::move(body));
  }

  void ScheduleFetch(std::chrono::milliseconds wait) {
    if (stopping_ || paused_) return;
    auto self = shared_from_this();
    timer_.expires_after(wait);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->Kick();
    });
  }

  bool UseGzip() const {
    if (options_.compression == "none") return false;
    return !gzip_refused_;
  }

  void Send(std::shared_ptr<outbox::Batch> batch, std::string body) {
    state_ = State::kSending;
    counters_.backoff_until.reset();
    if (!batch->newly_formed) counters_.records_resent += static_cast<int64_t>(batch->records.size());
    http::Request request;
    request.method = "POST";
    request.target = options_.target;
    request.headers = hooks_.make_headers();
    request.headers.emplace_back("Idempotency-Key", batch->batch_id);
    request.body = std::move(body);
    request.gzip_body = UseGzip();
    request.gzip_level = options_.compression_level;
    request.accept_gzip = options_.compression != "none";  // receipts compress about 5 to 1
    const bool gzip_sent = request.gzip_body;
    log_->debug("delivery: sending batch {} ({} records, {} bytes, attempt {})", batch->batch_id,
                batch->records.size(), batch->bytes, batch->attempts + 1);
    auto self = shared_from_this();
    auto started = clock_.Steady();
    transport_.send(std::move(request), [self, batch, gzip_sent, started](http::Outcome outcome) {
      self->OnOutcome(batch, gzip_sent, started, std::move(outcome));
    });
  }

  void CountOutcome(const http::Outcome& outcome, SteadyClock::time_point started) {
    if (hooks_.on_batch_sent) hooks_.on_batch_sent(std::chrono::duration<double>(clock_.Steady() - started).count());
    if (!outcome.response) {
      counters_.batches_transport++;
      return;
    }
    int cls = outcome.response->status / 100;
    if (cls == 2) counters_.batches_2xx++;
    else if (cls == 4) counters_.batches_4xx++;
    else if (cls == 5) counters_.batches_5xx++;
    else counters_.batches_other++;
  }

  void OnOutcome(std::shared_ptr<outbox::Batch> batch, bool gzip_sent, SteadyClock::time_point started,
                 http::Outcome outcome) {
    if (hooks_.observe) hooks_.observe(outcome);
    if (outcome.stage == http::FailureStage::kClosed) {  // abandoned on stop: unchanged, resent next time
      state_ = State::kIdle;
      Release(batch->batch_id);
      return MaybeFinishStop();
    }
    CountOutcome(outcome, started);
    const int status = outcome.response ? outcome.response->status : 0;
    static const std::string kEmpty;
    const std::string& body = outcome.response ? outcome.response->body : kEmpty;
    std::vector<std::string> ids;
    ids.reserve(batch->records.size());
    for (const outbox::Record& r : batch->records) ids.push_back(r.id);
    bridge::Classification c = bridge::ClassifySyncResponse(
        status, body, gzip_sent, batch->batch_id, ids, hooks_.clock_offset_seconds ? hooks_.clock_offset_seconds() : 0);
    Step step = Decide(c, status, batch->records.size(), outcome.error);
    std::optional<std::chrono::milliseconds> retry_after;
    if (step.kind == StepKind::kRetryLater && outcome.response && hooks_.retry_after)
      retry_after = hooks_.retry_after(*outcome.response);
    NoteReceipt(*batch, step);
    Apply(std::move(batch), std::move(step), retry_after);
  }

  void NoteReceipt(const outbox::Batch& batch, const Step& step) { ReportReceipt(counters_, *log_, batch, step); }

  // An outbox error: reported once per kind; returns how long to wait before touching the store again.
  std::chrono::milliseconds OnStoreFault(const Status& s, const std::string& what) {
    return ReportStoreFault(counters_, *log_, s, what, ++store_failures_);
  }

  void OnStoreOk() {
    store_failures_ = 0;
    ReportStoreOk(counters_, *log_);
  }

  void Apply(std::shared_ptr<outbox::Batch> batch, Step step, std::optional<std::chrono::milliseconds> retry_after) {
    state_ = State::kApplying;
    SysClock::time_point retry_at{};
    switch (step.kind) {
      case StepKind::kRetryLater: {
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        auto delay = BackoffDelay(options_.backoff, batch->attempts, unit(rng_), retry_after);
        retry_at = clock_.Now() + delay;
        counters_.last_error = step.error + ": " + step.message;
        // Without a receipt the cause was said once (NoteReceipt); each retry is detail.
        log_->log(step.no_receipt.empty() ? spdlog::level::warn : spdlog::level::debug,
                  "delivery: batch {} not delivered ({}: {}); retrying in {:.1f} s{}", batch->batch_id, step.error,
                  step.message, static_cast<double>(delay.count()) / 1000.0,
                  retry_after ? " (the server's Retry-After)" : "");
        break;
      }
      case StepKind::kResendUncompressed:
        gzip_refused_ = true;
        log_->warn("delivery: the server refuses gzip (415); sending uncompressed for the life of this process");
        break;
      case StepKind::kPause:
        paused_ = true;
        counters_.paused_reason = step.message;
        counters_.last_error = step.error + ": " + step.message;
        log_->error("delivery PAUSED ({}): {}. Records stay queued; heartbeats go on.", step.error, step.message);
        if (hooks_.on_pause_change) hooks_.on_pause_change(step.message);
        break;
      case StepKind::kSplitTooLarge:
        lowered_max_records_ = static_cast<uint32_t>(step.lowered_max_records);
        log_->warn("delivery: batch of {} records too large for the server (413); splitting, batch size now {}",
                   batch->records.size(), step.lowered_max_records);
        break;
      case StepKind::kSplit:
        log_->warn("delivery: the server refused batch {} of {} records without naming a record ({}); splitting it "
                   "to isolate the invalid ones",
                   batch->batch_id, batch->records.size(), step.error);
        break;
      case StepKind::kDeadLetterSingle:
        log_->warn("delivery: record {} refused by the server ({}: {}); moved to dead letters",
                   batch->records.empty() ? std::string("?") : batch->records.front().id, step.error, step.message);
        break;
      default:
        break;
    }
    ApplyOnDisk(PendingApply{std::move(batch), std::move(step), retry_at});
  }

  void ApplyOnDisk(PendingApply p) {
    state_ = State::kApplying;
    auto self = shared_from_this();
    const SysClock::time_point now = clock_.Now();
    asio::post(disk_, [self, p = std::move(p), now]() mutable {
      Applied a = ApplyStep(self->outbox_, *p.batch, p.step, p.retry_at, now);
      asio::post(self->net_, [self, p = std::move(p), a = std::move(a)]() mutable {
        self->OnApplied(std::move(p), a.status, a.counts);
      });
    });
  }

  void OnApplied(PendingApply p, const Status& s, const outbox::AckCounts& counts) {
    state_ = State::kIdle;
    const outbox::Batch& batch = *p.batch;
    const Step& step = p.step;
    if (s.code() == Code::kNotFound) {  // gone meanwhile (purged, or an earlier try did commit): nothing to record
      log_->warn("delivery: batch {} is no longer in the outbox ({}); nothing to record", batch.batch_id, s.message());
      OnStoreOk();
      if (stopping_) return MaybeFinishStop();
      return Kick();
    }
    if (!s.ok()) {
      auto wait = OnStoreFault(s, "record the outcome of batch " + batch.batch_id + " (" + StepKindName(step.kind) + ")");
      if (stopping_) {
        Release(batch.batch_id);
        return MaybeFinishStop();
      }
      // The batch stays in flight and the same decision is applied again: never dropped, never re-decided.
      state_ = State::kStoreWait;
      retry_apply_ = std::move(p);
      auto self = shared_from_this();
      timer_.expires_after(wait);
      timer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec || self->state_ != State::kStoreWait || !self->retry_apply_) return;
        PendingApply again = std::move(*self->retry_apply_);
        self->retry_apply_.reset();
        self->ApplyOnDisk(std::move(again));
      });
      return;
    }
    OnStoreOk();
    counters_.records_delivered += counts.accepted;
    counters_.records_rejected += counts.rejected;
    if (step.kind == StepKind::kAckAll || step.kind == StepKind::kAckPartial) {
      counters_.last_sync_at = clock_.Now();
      log_->debug("delivery: batch {} delivered ({} accepted, {} rejected, {} returned)", batch.batch_id,
                  counts.accepted, counts.rejected, counts.returned);
      // One info line per 10 s of delivery, not one per batch: a backlog drains at hundreds of batches a second.
      summary_records_ += counts.accepted;
      summary_batches_ += 1;
      auto now = clock_.Steady();
      if (now - last_summary_ >= std::chrono::seconds(10)) {
        log_->info("delivery: {} records delivered in {} batches", summary_records_, summary_batches_);
        summary_records_ = summary_batches_ = 0;
        last_summary_ = now;
      }
    }
    if (hooks_.on_outbox_changed) hooks_.on_outbox_changed();
    if (stopping_) return MaybeFinishStop();
    if (paused_) return;
    Kick();
  }

  void Release(const std::string& batch_id) {
    auto self = shared_from_this();
    asio::post(disk_, [self, batch_id] { self->outbox_.ReleaseBatch(batch_id); });
  }

  asio::io_context& net_;
  asio::io_context& disk_;
  outbox::Outbox& outbox_;
  Transport transport_;
  const Clock& clock_;
  DeliveryOptions options_;
  DeliveryHooks hooks_;
  std::shared_ptr<spdlog::logger> log_;
  asio::steady_timer timer_;
  asio::steady_timer grace_timer_;
  std::mt19937_64 rng_;
  DeliveryCounters counters_;
  State state_ = State::kIdle;
  bool started_ = false;
  bool stopping_ = false;
  bool paused_ = false;
  bool wake_pending_ = false;
  bool force_due_ = false;
  bool gzip_refused_ = false;
  uint32_t lowered_max_records_ = 0;
  int64_t store_failures_ = 0;  // outbox errors in a row
  std::optional<PendingApply> retry_apply_;  // kStoreWait
  int64_t summary_records_ = 0, summary_batches_ = 0;
  SteadyClock::time_point last_summary_{};
  std::function<void()> stop_done_;
};

DeliveryLoop::DeliveryLoop(asio::io_context& net, asio::io_context& disk, outbox::Outbox& outbox, http::Client& client,
                           DeliveryOptions options, DeliveryHooks hooks, std::shared_ptr<spdlog::logger> logger)
    : DeliveryLoop(net, disk, outbox, ClientTransport(client), SystemClockInstance(), std::move(options),
                   std::move(hooks), std::move(logger)) {}

DeliveryLoop::DeliveryLoop(asio::io_context& net, asio::io_context& disk, outbox::Outbox& outbox, Transport transport,
                           const Clock& clock, DeliveryOptions options, DeliveryHooks hooks,
                           std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_shared<Impl>(net, disk, outbox, std::move(transport), clock, std::move(options),
                                   std::move(hooks), std::move(logger))) {}

DeliveryLoop::~DeliveryLoop() = default;
void DeliveryLoop::Start() { impl_->Start(); }
void DeliveryLoop::Wake() { impl_->Wake(); }
void DeliveryLoop::ConnectivityRegained() { impl_->ConnectivityRegained(); }
void DeliveryLoop::UpdateOptions(DeliveryOptions options) { impl_->UpdateOptions(std::move(options)); }
void DeliveryLoop::Stop(std::function<void()> done) { impl_->Stop(std::move(done)); }
const DeliveryCounters& DeliveryLoop::counters() const { return impl_->counters(); }

}  // namespace opescare::delivery
