// The delivery loop's state machine: fetch a due batch on the disk thread, send it on the network
// thread, decide (decision.h), apply the decision on the disk thread, repeat.
#include "agent/delivery/delivery_loop.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>
#include <spdlog/logger.h>

#include "agent/bridge/protocol.h"
#include "agent/delivery/decision.h"
#include "agent/util/clock.h"

namespace opescare::delivery {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;

class DeliveryLoop::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& net, asio::io_context& disk, outbox::Outbox& outbox, http::Client& client,
       DeliveryOptions options, DeliveryHooks hooks, std::shared_ptr<spdlog::logger> logger)
      : net_(net),
        disk_(disk),
        outbox_(outbox),
        client_(client),
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
        self->client_.Close();
      });
      return;
    }
    MaybeFinishStop();
  }

  const DeliveryCounters& counters() const { return counters_; }

 private:
  enum class State { kIdle, kFetching, kSending, kApplying };

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
    asio::post(disk_, [self, limits, force_due] {
      const SysClock::time_point now = SysClock::now();
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
      counters_.last_error = next.status().ToString();
      log_->error("delivery: cannot read the outbox: {} (retrying in 5 s)", next.status().ToString());
      ScheduleFetch(std::chrono::seconds(5));
      return MaybeFinishStop();
    }
    if (!next->batch) {
      counters_.backoff_until.reset();
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(options_.sync_interval);
      if (next->next_attempt_at) {
        auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next->next_attempt_at - SysClock::now());
        until = std::max(until, std::chrono::milliseconds(0));
        counters_.backoff_until = SteadyClock::now() + until;
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
    const bool gzip_sent = request.gzip_body;
    log_->debug("delivery: sending batch {} ({} records, {} bytes, attempt {})", batch->batch_id,
                batch->records.size(), batch->bytes, batch->attempts + 1);
    auto self = shared_from_this();
    auto started = SteadyClock::now();
    client_.Send(std::move(request), [self, batch, gzip_sent, started](http::Outcome outcome) {
      self->OnOutcome(batch, gzip_sent, started, std::move(outcome));
    });
  }

  void CountOutcome(const http::Outcome& outcome, SteadyClock::time_point started) {
    if (hooks_.on_batch_sent) hooks_.on_batch_sent(std::chrono::duration<double>(SteadyClock::now() - started).count());
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
    bridge::Classification c = bridge::ClassifySyncResponse(
        status, body, gzip_sent, hooks_.clock_offset_seconds ? hooks_.clock_offset_seconds() : 0);
    Step step = Decide(c, status, batch->records.size(), outcome.error);
    std::optional<std::chrono::milliseconds> retry_after;
    if (step.kind == StepKind::kRetryLater && outcome.response && hooks_.retry_after)
      retry_after = hooks_.retry_after(*outcome.response);
    Apply(std::move(batch), std::move(step), retry_after);
  }

  void Apply(std::shared_ptr<outbox::Batch> batch, Step step, std::optional<std::chrono::milliseconds> retry_after) {
    state_ = State::kApplying;
    SysClock::time_point retry_at{};
    switch (step.kind) {
      case StepKind::kRetryLater: {
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        auto delay = BackoffDelay(options_.backoff, batch->attempts, unit(rng_), retry_after);
        retry_at = SysClock::now() + delay;
        counters_.last_error = step.error + ": " + step.message;
        log_->warn("delivery: batch {} not delivered ({}: {}); retrying in {:.1f} s{}", batch->batch_id, step.error,
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
    auto self = shared_from_this();
    asio::post(disk_, [self, batch, step, retry_at]() mutable {
      outbox::Outbox& ob = self->outbox_;
      Status s;
      outbox::AckCounts counts;
      auto take = [&](Result<outbox::AckCounts> r) {
        if (r.ok()) counts = *r;
        else s = r.status();
      };
      switch (step.kind) {
        case StepKind::kAckAll: take(ob.AckAll(batch->batch_id)); break;
        case StepKind::kAckPartial: take(ob.AckPartial(batch->batch_id, step.accepted, step.rejected)); break;
        case StepKind::kSplit:
        case StepKind::kSplitTooLarge: {
          auto r = ob.SplitBatch(batch->batch_id);
          if (!r.ok()) s = r.status();
          if (s.ok() && step.kind == StepKind::kSplitTooLarge)
            s = ob.SetMeta(outbox::kMetaBatchMaxRecords, std::to_string(step.lowered_max_records));
          break;
        }
        case StepKind::kDeadLetterSingle:
          s = ob.DeadLetterBatch(batch->batch_id, step.error, step.message);
          if (s.ok()) counts.rejected = 1;
          break;
        case StepKind::kResendUncompressed:
        case StepKind::kPause: ob.ReleaseBatch(batch->batch_id); break;
        case StepKind::kRetryLater: s = ob.RescheduleBatch(batch->batch_id, retry_at, step.error + ": " + step.message, true); break;
      }
      if (s.ok() && (step.kind == StepKind::kAckAll || step.kind == StepKind::kAckPartial))
        (void)ob.SetMeta(outbox::kMetaLastSyncAt, FormatIso8601Utc(SysClock::now()));
      if (!s.ok()) ob.ReleaseBatch(batch->batch_id);  // whatever failed, the batch is due again, unchanged
      asio::post(self->net_, [self, batch, step = std::move(step), s, counts] { self->OnApplied(*batch, step, s, counts); });
    });
  }

  void OnApplied(const outbox::Batch& batch, const Step& step, const Status& s, const outbox::AckCounts& counts) {
    state_ = State::kIdle;
    if (!s.ok()) {
      counters_.last_error = s.ToString();
      log_->error("delivery: cannot record the outcome of batch {} in the outbox: {} (it will be sent again under "
                  "the same Idempotency-Key; retrying in 5 s)",
                  batch.batch_id, s.ToString());
      ScheduleFetch(std::chrono::seconds(5));
      return MaybeFinishStop();
    }
    counters_.records_delivered += counts.accepted;
    counters_.records_rejected += counts.rejected;
    if (step.kind == StepKind::kAckAll || step.kind == StepKind::kAckPartial) {
      counters_.last_sync_at = SysClock::now();
      log_->debug("delivery: batch {} delivered ({} accepted, {} rejected, {} returned)", batch.batch_id,
                  counts.accepted, counts.rejected, counts.returned);
      // One info line per 10 s of delivery, not one per batch: a backlog drains at hundreds of batches a second.
      summary_records_ += counts.accepted;
      summary_batches_ += 1;
      auto now = SteadyClock::now();
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
  http::Client& client_;
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
  int64_t summary_records_ = 0, summary_batches_ = 0;
  SteadyClock::time_point last_summary_{};
  std::function<void()> stop_done_;
};

DeliveryLoop::DeliveryLoop(asio::io_context& net, asio::io_context& disk, outbox::Outbox& outbox, http::Client& client,
                           DeliveryOptions options, DeliveryHooks hooks, std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_shared<Impl>(net, disk, outbox, client, std::move(options), std::move(hooks),
                                   std::move(logger))) {}

DeliveryLoop::~DeliveryLoop() = default;
void DeliveryLoop::Start() { impl_->Start(); }
void DeliveryLoop::Wake() { impl_->Wake(); }
void DeliveryLoop::ConnectivityRegained() { impl_->ConnectivityRegained(); }
void DeliveryLoop::UpdateOptions(DeliveryOptions options) { impl_->UpdateOptions(std::move(options)); }
void DeliveryLoop::Stop(std::function<void()> done) { impl_->Stop(std::move(done)); }
const DeliveryCounters& DeliveryLoop::counters() const { return impl_->counters(); }

}  // namespace opescare::delivery
