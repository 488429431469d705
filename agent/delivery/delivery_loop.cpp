// The delivery loop's pipeline (delivery_loop_impl.h): form batches on the disk thread, keep up to
// max_in_flight of them on the wire, and hand each outcome to delivery_loop_apply.cpp as it arrives.
#include "agent/delivery/delivery_loop.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "agent/bridge/protocol.h"
#include "agent/delivery/delivery_loop_impl.h"
#include "agent/delivery/delivery_report.h"
#include "agent/http/gzip.h"

namespace opescare::delivery {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;

namespace {
const Clock& SystemClockInstance() {
  static const SystemClock clock;
  return clock;
}

// The body's gzip, made as the formed batch arrives while earlier batches are on the wire, so that its send
// only writes. On the network thread: the disk thread is the ingest's bottleneck (bench/README.md), the
// network thread mostly waits for the link. On a failure (none is expected: the level is checked with the
// config) the body goes as built, which every server takes.
void Compress(InFlight& f, int level) {
  auto gz = http::GzipCompress(f.body, level);
  if (!gz.ok()) return;
  f.body = std::move(*gz);
  f.body_gzipped = true;
}

// The body as built, for a batch compressed before gzip was refused (415) or turned off by a reload. The
// bound covers the JSON escaping of the records' strings (one byte becomes at most six) over their size.
void Uncompress(InFlight& f) {
  auto raw = http::GzipDecompress(f.body, 8 * f.batch->bytes + 64 * 1024);
  if (!raw.ok()) return;  // sent compressed after all: a second 415 is handled as the first
  f.body = std::move(*raw);
  f.body_gzipped = false;
}
}  // namespace

DeliveryLoop::Impl::Impl(asio::io_context& net, asio::io_context& disk, outbox::Outbox& outbox, Transport transport,
                         const Clock& clock, DeliveryOptions options, DeliveryHooks hooks,
                         std::shared_ptr<spdlog::logger> logger)
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
      rng_(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}()) {}

void DeliveryLoop::Impl::Start() {
  started_ = true;
  // A batch size lowered by an earlier 413 is remembered across restarts.
  auto self = shared_from_this();
  asio::post(disk_, [self, work = asio::make_work_guard(net_)] {
    auto meta = self->outbox_.GetMeta(outbox::kMetaBatchMaxRecords);
    uint32_t lowered = 0;
    if (meta.ok() && meta->has_value()) lowered = static_cast<uint32_t>(std::strtoul((*meta)->c_str(), nullptr, 10));
    asio::post(self->net_, [self, lowered] {
      self->lowered_max_records_ = lowered;
      self->Kick();
    });
  });
}

void DeliveryLoop::Impl::Wake() { Kick(); }

void DeliveryLoop::Impl::ConnectivityRegained() {
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

void DeliveryLoop::Impl::UpdateOptions(DeliveryOptions options) {
  options_ = std::move(options);
  Kick();
}

void DeliveryLoop::Impl::Stop(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  stop_done_ = std::move(done);
  timer_.cancel();
  ReleaseWhere(Phase::kReady);      // formed, never sent: due again as it was
  ReleaseWhere(Phase::kStoreWait);  // a decision waits for the outbox: the batch stays queued as it was
  if (View().sending > 0) {
    auto self = shared_from_this();
    grace_timer_.expires_after(options_.stop_grace);
    grace_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec) return;
      self->log_->warn("stopping: the sync requests in flight did not finish within {} ms; abandoning them "
                       "(their batches stay queued and are resent under the same Idempotency-Keys)",
                       self->options_.stop_grace.count());
      if (self->transport_.close) self->transport_.close();
    });
  }
  MaybeFinishStop();
}

PipelineView DeliveryLoop::Impl::View() const {
  PipelineView v;
  v.max_in_flight = options_.max_in_flight;
  for (const auto& f : held_) {
    switch (f->phase) {
      case Phase::kReady: ++v.ready; break;
      case Phase::kSending:
        ++v.sending;
        if (f->uploading) ++v.uploading;
        break;
      case Phase::kApplying: ++v.applying; break;
      case Phase::kStoreWait: ++v.store_wait; break;
    }
  }
  v.fetching = fetching_;
  v.blocked = !started_ || stopping_ || paused_;
  return v;
}

// Looks for work now (a wake, a timer, connectivity): a fetch under way looks again if it finds nothing.
void DeliveryLoop::Impl::Kick() {
  if (!started_ || stopping_ || paused_) return;
  if (fetching_) wake_pending_ = true;
  Advance();
}

// Sends what is ready while slots are free, then posts one disk step: record `apply`'s decision (if any)
// and, when the pipeline allows, form the next batch after it.
void DeliveryLoop::Impl::Advance(std::shared_ptr<InFlight> apply) {
  while (MaySend(View())) {
    auto it = std::find_if(held_.begin(), held_.end(), [](const auto& f) { return f->phase == Phase::kReady; });
    Send(*it);
  }
  DiskJob job;
  job.apply = std::move(apply);
  if (MayFetch(View())) {
    job.fetch = true;
    fetching_ = true;
    wake_pending_ = false;
    timer_.cancel();
    job.limits = options_.limits;
    if (lowered_max_records_ > 0 && lowered_max_records_ < job.limits.max_records)
      job.limits.max_records = lowered_max_records_;
    job.force_due = force_due_;
    force_due_ = false;
  }
  if (!job.apply && !job.fetch) return;
  job.now = clock_.Now();
  PostDisk(std::move(job));
}

// The round trip holds work on the network context: a stop waiting for this step must not see net's run()
// return for want of work (idle kept-alive connections and cancelled timers are none) before it comes back.
void DeliveryLoop::Impl::PostDisk(DiskJob job) {
  auto self = shared_from_this();
  asio::post(disk_, [self, job = std::move(job), work = asio::make_work_guard(net_)]() mutable {
    DiskResult r = self->RunDiskJob(job);
    asio::post(self->net_, [self, job = std::move(job), r = std::move(r)]() mutable { self->OnDiskDone(job, r); });
  });
}

// Disk thread: the outbox and the body builder only.
DiskResult DeliveryLoop::Impl::RunDiskJob(const DiskJob& job) {
  DiskResult r;
  if (job.apply && !job.fetch) {
    r.applied = ApplyStep(outbox_, *job.apply->batch, job.apply->step, job.apply->retry_at, job.now);
    return r;
  }
  if (!job.fetch) return r;
  Result<outbox::NextBatch> next = outbox::NextBatch{};
  if (job.apply) {  // an ack and the next batch's forming in one transaction
    auto both =
        ApplyStepThenNext(outbox_, *job.apply->batch, job.apply->step, job.apply->retry_at, job.now, job.limits);
    r.applied = std::move(both.applied);
    if (!both.next) return r;  // the decision waits: nothing may jump it
    next = std::move(*both.next);
  } else {
    next = outbox_.NextDueBatch(job.now, job.limits);
  }
  // Connectivity regained: a batch waiting for its backoff is due at once. The far-future time is used
  // only when a batch waits, so it can only pick that batch: a batch formed under it would be persisted
  // as due in a year, and everything queued behind it would stall.
  if (job.force_due && next.ok() && !next->batch && next->next_attempt_at)
    next = outbox_.NextDueBatch(job.now + std::chrono::hours(24 * 365), job.limits);
  if (next.ok() && next->batch) r.body = hooks_.build_body(*next->batch);
  r.fetched = std::move(next);
  return r;
}

void DeliveryLoop::Impl::OnDiskDone(const DiskJob& job, DiskResult& r) {
  bool look_again = false;
  if (job.fetch) fetching_ = false;
  if (job.apply) {
    bool recorded = OnApplied(job.apply, *r.applied);
    // When this step also fetched, that fetch came after the record and already saw what it changed.
    if (!job.fetch) look_again = recorded;
  }
  if (r.fetched) look_again = OnFetched(std::move(*r.fetched), std::move(r.body)) || look_again;
  if (stopping_) return MaybeFinishStop();
  if (look_again && !paused_) Advance();
}

// Returns whether to look for more work at once.
bool DeliveryLoop::Impl::OnFetched(Result<outbox::NextBatch> next, std::string body) {
  if (!next.ok()) {
    ScheduleFetch(OnStoreFault(next.status(), "read the next batch"));
    return false;
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
    if (wake_pending_ && !stopping_) return true;
    ScheduleFetch(wait);
    return false;
  }
  if (stopping_ || paused_) {  // formed just as we stop or pause: left as it is for later
    std::string id = next->batch->batch_id;
    auto self = shared_from_this();
    asio::post(disk_, [self, id] { self->outbox_.ReleaseBatch(id); });
    return false;
  }
  auto f = std::make_shared<InFlight>(net_);
  f->batch = std::make_shared<outbox::Batch>(std::move(*next->batch));
  f->body = std::move(body);
  if (UseGzip()) Compress(*f, options_.compression_level);
  held_.push_back(std::move(f));
  return true;
}

void DeliveryLoop::Impl::ScheduleFetch(std::chrono::milliseconds wait) {
  if (stopping_ || paused_) return;
  auto self = shared_from_this();
  timer_.expires_after(wait);
  timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec) self->Kick();
  });
}

void DeliveryLoop::Impl::Send(const std::shared_ptr<InFlight>& f) {
  f->phase = Phase::kSending;
  f->uploading = true;
  const outbox::Batch& batch = *f->batch;
  counters_.backoff_until.reset();
  if (!batch.newly_formed) counters_.records_resent += static_cast<int64_t>(batch.records.size());
  http::Request request;
  request.method = "POST";
  request.target = options_.target;
  request.headers = hooks_.make_headers();
  request.headers.emplace_back("Idempotency-Key", batch.batch_id);
  // Compressed as it arrived; a 415 or a reload since then may have changed whether gzip is used.
  if (f->body_gzipped && !UseGzip()) Uncompress(*f);
  if (!f->body_gzipped && UseGzip()) Compress(*f, options_.compression_level);
  request.gzip_body = f->body_gzipped;
  request.body = std::move(f->body);
  f->body.clear();
  request.accept_gzip = options_.compression != "none";  // receipts compress about 5 to 1
  const bool gzip_sent = request.gzip_body;
  log_->debug("delivery: sending batch {} ({} records, {} bytes, attempt {})", batch.batch_id, batch.records.size(),
              batch.bytes, batch.attempts + 1);
  auto self = shared_from_this();
  auto started = clock_.Steady();
  request.on_sent = [self, f, started] { self->OnSent(f, started); };
  transport_.send(std::move(request), [self, f, gzip_sent, started](http::Outcome outcome) {
    self->OnOutcome(f, gzip_sent, started, std::move(outcome));
  });
}

// Its bytes have crossed the link, or it stalls on a loss (send_drain.h): the next ready batch may start.
void DeliveryLoop::Impl::OnSent(const std::shared_ptr<InFlight>& f, SteadyClock::time_point started) {
  if (!f->uploading) return;
  f->uploading = false;
  log_->debug("delivery: batch {} is sent ({} ms after its send); the next may start", f->batch->batch_id,
              std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Steady() - started).count());
  if (!stopping_) Advance();
}

void DeliveryLoop::Impl::CountOutcome(const http::Outcome& outcome, SteadyClock::time_point started) {
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

void DeliveryLoop::Impl::OnOutcome(const std::shared_ptr<InFlight>& f, bool gzip_sent, SteadyClock::time_point started,
                                   http::Outcome outcome) {
  f->uploading = false;
  if (hooks_.observe) hooks_.observe(outcome);
  if (outcome.stage == http::FailureStage::kClosed) {  // abandoned on stop: unchanged, resent next time
    Release(f);
    return MaybeFinishStop();
  }
  CountOutcome(outcome, started);
  const outbox::Batch& batch = *f->batch;
  const int status = outcome.response ? outcome.response->status : 0;
  static const std::string kEmpty;
  const std::string& body = outcome.response ? outcome.response->body : kEmpty;
  std::vector<std::string> ids;
  ids.reserve(batch.records.size());
  for (const outbox::Record& r : batch.records) ids.push_back(r.id);
  bridge::Classification c = bridge::ClassifySyncResponse(
      status, body, gzip_sent, batch.batch_id, ids, hooks_.clock_offset_seconds ? hooks_.clock_offset_seconds() : 0);
  f->step = Decide(c, status, batch.records.size(), outcome.error);
  std::optional<std::chrono::milliseconds> retry_after;
  if (f->step.kind == StepKind::kRetryLater && outcome.response && hooks_.retry_after)
    retry_after = hooks_.retry_after(*outcome.response);
  ReportReceipt(counters_, *log_, batch, f->step);
  Decided(f, retry_after);
  Advance(f);  // records it, forms the next behind it when allowed, and sends a ready batch into the free slot
}

void DeliveryLoop::Impl::Forget(const std::shared_ptr<InFlight>& f) { std::erase(held_, f); }

void DeliveryLoop::Impl::Release(const std::shared_ptr<InFlight>& f) {
  Forget(f);
  f->store_timer.cancel();
  auto self = shared_from_this();
  asio::post(disk_, [self, id = f->batch->batch_id] { self->outbox_.ReleaseBatch(id); });
}

void DeliveryLoop::Impl::ReleaseWhere(Phase phase) {
  std::vector<std::shared_ptr<InFlight>> matching;
  for (const auto& f : held_)
    if (f->phase == phase) matching.push_back(f);
  for (const auto& f : matching) Release(f);
}

void DeliveryLoop::Impl::MaybeFinishStop() {
  if (!stopping_ || !held_.empty() || fetching_ || !stop_done_) return;
  grace_timer_.cancel();
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  done();
}

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
