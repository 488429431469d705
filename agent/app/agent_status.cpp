// What people, OpesCare and systemd are told: the status snapshot, the faults, the heartbeat's status
// object and the systemd STATUS= line, from the figures the agent keeps on the network thread.
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <ctime>
#include <spdlog/logger.h>

#include "agent/app/agent_internal.h"
#include "agent/bridge/headers.h"
#include "agent/env/env.h"
#include "agent/status/render.h"
#include "agent/util/redact.h"

namespace opescare::app {

namespace asio = boost::asio;

namespace {

status::HeartbeatOutcome ToOutcome(bridge::ConnectionState s) {
  switch (s) {
    case bridge::ConnectionState::kConnected: return status::HeartbeatOutcome::kOk;
    case bridge::ConnectionState::kUnauthorized: return status::HeartbeatOutcome::kUnauthorized;
    case bridge::ConnectionState::kConfigError: return status::HeartbeatOutcome::kConfigError;
    case bridge::ConnectionState::kTlsError: return status::HeartbeatOutcome::kTlsError;
    case bridge::ConnectionState::kUnreachable: return status::HeartbeatOutcome::kUnreachable;
    default: return status::HeartbeatOutcome::kServerError;
  }
}

std::string Hostname() {
  Result<std::string> host = env::Env::Default()->HostName();
  return host.ok() ? *host : "unknown";
}

}  // namespace

void Agent::OnFileOutcome(const csv_folder::FileOutcome& out, int64_t inserted) {
  using Kind = csv_folder::FileOutcome::Kind;
  bool full = out.kind == Kind::kRetryLater && out.status.code() == Code::kResourceExhausted;
  ingest_paused_ = full;
  ingest_paused_reason_ = full ? out.status.message() : "";
  if (out.kind == Kind::kRetryLater) return;
  status::RecentFile f;
  f.name = out.file_name;
  f.rows_ok = out.rows_ok;
  f.rows_failed = out.rows_failed;
  f.at = SysClock::now();
  f.outcome = out.kind == Kind::kQueued      ? status::FileOutcome::kProcessed
              : out.kind == Kind::kDuplicate ? status::FileOutcome::kDuplicate
                                             : status::FileOutcome::kFailed;
  if (out.kind == Kind::kRejected) f.detail = out.reason;
  if (f.outcome == status::FileOutcome::kProcessed) file_counts_.processed++;
  if (f.outcome == status::FileOutcome::kDuplicate) file_counts_.duplicate++;
  if (f.outcome == status::FileOutcome::kFailed) file_counts_.failed++;
  row_counts_.ok += out.rows_ok;
  row_counts_.failed += out.rows_failed;
  records_enqueued_ += static_cast<uint64_t>(inserted);
  recent_files_.push_front(std::move(f));
  while (recent_files_.size() > status::StatusSnapshot::kMaxRecentFiles) recent_files_.pop_back();
  if (inserted > 0 && delivery_) delivery_->Wake();
  RefreshOutboxStats();
}

void Agent::OnHeartbeat(const bridge::HeartbeatResult& r, bool changed) {
  last_heartbeat_ = r;
  link_state_ = r.state;
  last_heartbeat_at_ = SysClock::now();
  heartbeat_counts_.For(ToOutcome(r.state))++;
  int64_t offset = clock_offset_.offset_seconds();
  if (bridge::ClockSkewWorthWarning(offset) &&
      (!last_skew_warning_ || SteadyClock::now() - *last_skew_warning_ > std::chrono::hours(1))) {
    last_skew_warning_ = SteadyClock::now();
    log_->warn("clock: this computer's clock is {} s {} the server's; the agent corrects its timestamps, but "
               "please set the time (enable NTP)",
               std::abs(offset), offset > 0 ? "behind" : "ahead of");
  }
  if (changed && r.state == bridge::ConnectionState::kConnected && delivery_) delivery_->ConnectivityRegained();
}

void Agent::OnSyncOutcome(const http::Outcome& outcome) {
  ObserveClock(outcome);
  if (!outcome.response) return;
  // A sync the server took proves the link and the key, whatever the last heartbeat said (e.g. a 401 for a
  // skewed clock, before the offset was learnt): say so now rather than at the next beat.
  int code = outcome.response->status;
  if ((code >= 200 && code <= 299) || code == 409) link_state_ = bridge::ConnectionState::kConnected;
}

std::vector<Fault> Agent::CurrentFaults() const {
  std::vector<Fault> faults;
  if (!outbox_open_error_.empty())
    faults.push_back({std::string(kFaultOutboxUnavailable), outbox_open_error_,
                      "run `opescare-bridge doctor`; fix the file's folder, permissions or disk, then restart"});
  if (!outbox_fault_.empty())
    faults.push_back({std::string(kFaultOutboxError), outbox_fault_, "run `opescare-bridge doctor`"});
  if (space_ && space_->below_watermark) {
    std::string message = "the outbox's disk has " + std::to_string(space_->free_bytes >> 20) +
                          " MiB free, below outbox.min_free_mb (" + std::to_string(space_->min_free_bytes >> 20) +
                          " MiB); new files wait in the watch folder";
    if (!space_->reserve_held) message += " (the reserve kept for acknowledgements is in use)";
    faults.push_back({std::string(kFaultDiskFull), message,
                      "free space on the disk that holds " + cfg()->outbox.path +
                          " (delivery and ingest resume by themselves)"});
  }
  if (ingest_paused_ && !(space_ && space_->below_watermark))
    faults.push_back({std::string(kFaultIngestPaused), "new files are not read: " + ingest_paused_reason_,
                      "files wait in the watch folder until delivery frees room; raise outbox.max_size_mb if "
                      "OpesCare is reachable and the backlog is expected"});
  if (std::string behind = time_floor_.BehindMessage(); !behind.empty())
    faults.push_back({std::string(kFaultClockBehind), behind,
                      "set the correct time and enable NTP (timedatectl set-ntp true); replace the CMOS battery if "
                      "the clock is wrong after every boot"});
  if (!clock_ahead_error_.empty())
    faults.push_back({std::string(kFaultClockAhead), clock_ahead_error_,
                      "set the correct time and enable NTP (timedatectl set-ntp true)"});
  AddDeliveryFaults(&faults);
  if (connector_start_fault_)
    faults.push_back({connector_start_fault_->kind, connector_start_fault_->message, connector_start_fault_->fix});
  for (const csv_folder::ConnectorFault& f : connector_faults_)
    faults.push_back({f.kind, f.message, f.fix});
  return faults;
}

// What delivery lives with: a server (or something in its place) answering 2xx without a receipt, and an
// outbox that cannot record what the server said.
void Agent::AddDeliveryFaults(std::vector<Fault>* faults) const {
  if (!delivery_) return;
  const delivery::DeliveryCounters& c = delivery_->counters();
  if (!c.no_receipt.empty())
    faults->push_back({std::string(kFaultNoReceipt), c.no_receipt,
                       "nothing is lost: the batch is sent again until OpesCare itself answers; check that "
                       "server_url reaches OpesCare and that no proxy or captive portal answers in its place"});
  if (!c.store_fault.empty()) {
    bool disk = c.store_fault_kind == "disk_full";
    bool listed = false;
    for (const Fault& f : *faults) listed = listed || (disk && f.kind == kFaultDiskFull);
    if (!listed)
      faults->push_back({std::string(disk ? kFaultDiskFull : kFaultOutboxError), c.store_fault,
                         disk ? "free space on the disk that holds " + cfg()->outbox.path
                              : "run `opescare-bridge doctor` (it checks the outbox's integrity)"});
  }
}

bridge::AgentStatus Agent::HeartbeatStatus() const {
  bridge::AgentStatus s;
  s.hostname = Hostname();
  s.os = bridge::OsName();
  s.uptime_seconds = std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - started_steady_).count();
  s.queue.pending = outbox_stats_.queued;
  s.queue.dead = outbox_stats_.dead;
  if (outbox_stats_.queued > 0) s.queue.oldest_pending_age_seconds = outbox_stats_.oldest_queued_age_seconds;
  s.last_sync_at = last_sync_at_;
  s.clock_offset_seconds = clock_offset_.offset_seconds();
  s.faults = CurrentFaults();
  auto secrets = config::Secrets(*cfg());
  for (Fault& f : s.faults) f.message = RedactSecrets(std::move(f.message), secrets);
  return s;
}

status::StatusSnapshot Agent::Snapshot() const {
  status::StatusSnapshot s;
  s.version = OB_VERSION;
  s.build_type = OB_BUILD_TYPE;
  auto c = cfg();
  s.environment = c->environment;
  s.agent_id = c->agent_id;
  s.facility_id = c->facility_id;
  s.started_at = started_at_;
  s.configured = true;
  s.outbox_open = outbox_open_;
  s.connection_state = link_state_;
  if (link_state_ == last_heartbeat_.state) {  // else a sync answered since, and the heartbeat's words are old
    if (last_heartbeat_.error) {
      s.last_error_code = last_heartbeat_.error->error;
      s.last_error_message = last_heartbeat_.error->message;
    } else if (last_heartbeat_.state != bridge::ConnectionState::kConnected) {
      s.last_error_message = last_heartbeat_.message;
    }
    s.fix = last_heartbeat_.fix;
  }
  s.last_heartbeat_at = last_heartbeat_at_;
  if (last_heartbeat_at_) s.last_heartbeat_outcome = ToOutcome(last_heartbeat_.state);
  s.heartbeats = heartbeat_counts_;
  s.last_sync_at = last_sync_at_;
  if (clock_offset_.has_sample()) s.clock_offset_seconds = static_cast<double>(clock_offset_.offset_seconds());
  if (delivery_) {
    const auto& c = delivery_->counters();
    s.delivery_paused = !c.paused_reason.empty();
    s.delivery_paused_reason = c.paused_reason;
    if (c.backoff_until) {
      s.backoff_remaining_seconds =
          std::max(0.0, std::chrono::duration<double>(*c.backoff_until - SteadyClock::now()).count());
    }
    s.records.delivered = static_cast<uint64_t>(c.records_delivered);
    s.records.rejected = static_cast<uint64_t>(c.records_rejected);
    s.records.resent = static_cast<uint64_t>(c.records_resent);
    s.batches.status_2xx = static_cast<uint64_t>(c.batches_2xx);
    s.batches.status_4xx = static_cast<uint64_t>(c.batches_4xx);
    s.batches.status_5xx = static_cast<uint64_t>(c.batches_5xx);
    s.batches.status_other = static_cast<uint64_t>(c.batches_other);
    s.batches.transport = static_cast<uint64_t>(c.batches_transport);
    if (c.last_sync_at) s.last_sync_at = c.last_sync_at;
  }
  s.faults = CurrentFaults();
  s.records.enqueued = records_enqueued_;
  s.batch_send_duration = batch_durations_;
  s.outbox.pending = static_cast<uint64_t>(outbox_stats_.pending);
  s.outbox.in_batches = static_cast<uint64_t>(outbox_stats_.in_batches);
  s.outbox.dead = static_cast<uint64_t>(outbox_stats_.dead);
  s.outbox.oldest_pending_age_seconds = static_cast<double>(outbox_stats_.oldest_queued_age_seconds);
  s.outbox.size_bytes = outbox_stats_.file_bytes;
  s.files = file_counts_;
  s.rows = row_counts_;
  s.ingest_paused = ingest_paused_;
  s.ingest_paused_reason = ingest_paused_reason_;
  s.history = history_.Points();
  if (!s.history.empty()) {
    // The interval still running ends the chart, so records delivered minutes ago show at once rather than at
    // the next 5-minute sample (and "delivered in the last 24 h" agrees with the Delivered card).
    uint64_t total = delivery_ ? static_cast<uint64_t>(delivery_->counters().records_delivered) : 0;
    uint64_t since = total >= history_delivered_sampled_ ? total - history_delivered_sampled_ : total;
    s.history.push_back({SysClock::now(), since, static_cast<uint64_t>(outbox_stats_.queued)});
  }
  s.recent_files.assign(recent_files_.begin(), recent_files_.end());
  s.dead_letters = dead_letters_;
  // Texts that came from outside (a server's error message, a dead letter's reason) may quote the key.
  return status::Redacted(std::move(s), config::Secrets(*c));
}

void Agent::RefreshOutboxStats() {
  if (!outbox_open_ || refresh_in_flight_.exchange(true)) return;
  const uint64_t min_free_mb = cfg()->outbox.min_free_mb;
  asio::post(disk_, [this, min_free_mb] {
    if (!outbox_) return;  // closed for shutdown
    outbox::DeadLetterQuery q;
    q.limit = status::StatusSnapshot::kMaxDeadLetters;
    q.newest_first = true;
    OutboxReading r{outbox_->GetStats(), outbox_->GetMeta(outbox::kMetaLastSyncAt), outbox_->ListDeadLetters(q),
                    outbox_->CheckSpace(min_free_mb), SteadyClock::now()};
    asio::post(net_, [this, r = std::move(r)]() mutable { OnOutboxReading(std::move(r)); });
  });
}

std::chrono::seconds StatusTickInterval(int64_t queued, bool disk_below_watermark, bool faults, bool paused) {
  const bool busy = queued > 0 || disk_below_watermark || faults || paused;
  return busy ? kBusyStatusTick : std::chrono::seconds(10);
}

void Agent::OnOutboxReading(OutboxReading r) {
  refresh_in_flight_ = false;
  gate_.DiskWorkerAlive(r.read_at);
  if (r.space.ok()) OnSpace(*r.space);
  if (!r.stats.ok()) {
    std::string fault = "outbox: " + r.stats.status().message();
    if (fault != outbox_fault_) log_->error("{}", fault);  // once per change, not every 2 s
    outbox_fault_ = std::move(fault);
    return;
  }
  outbox_fault_.clear();
  outbox_stats_ = *r.stats;
  if (r.dead.ok()) {
    dead_letters_.clear();
    for (const auto& d : *r.dead)
      dead_letters_.push_back(
          {d.id, d.type, d.source_file, static_cast<uint64_t>(d.source_row), d.error, d.message, d.dead_at});
  }
  if (!last_sync_at_ && r.sync.ok() && r.sync->has_value()) {
    // The ISO text an earlier run stored (FormatIso8601Utc).
    if (auto at = ParseIso8601Utc(**r.sync)) last_sync_at_ = *at;
  }
  if (delivery_ && delivery_->counters().last_sync_at) last_sync_at_ = delivery_->counters().last_sync_at;
}

// The outbox volume's free space: below outbox.min_free_mb ingest waits (the sink says so to the connector)
// and status shows disk_full; when space returns, delivery and then ingest go on at once, not at their
// next backoff.
void Agent::OnSpace(const outbox::SpaceReport& space) {
  const bool was_full = space_ && space_->below_watermark;
  space_ = space;
  if (space.below_watermark && !was_full) {
    log_->warn("outbox: the disk has {} MiB free, below outbox.min_free_mb ({} MiB): new files wait until space "
               "is freed; delivery goes on",
               space.free_bytes >> 20, space.min_free_bytes >> 20);
  } else if (!space.below_watermark && was_full) {
    log_->info("outbox: the disk has room again ({} MiB free): delivery and ingest resume", space.free_bytes >> 20);
    if (delivery_) delivery_->Wake();
    asio::post(disk_, [this] {
      if (ingest_) ingest_->RetryNow();
    });
  }
}

std::string Agent::StatusLine() const {
  std::string state = bridge::ConnectionStateName(link_state_);
  std::string line = state + "; " + std::to_string(outbox_stats_.queued) + " queued, " +
                     std::to_string(outbox_stats_.dead) + " dead";
  if (delivery_ && !delivery_->counters().paused_reason.empty()) line += "; delivery paused";
  for (const Fault& f : CurrentFaults()) line += "; " + f.message;
  if (std::string stall = gate_.StallReason(SteadyClock::now()); !stall.empty()) line += "; " + stall;
  return line;
}


}  // namespace opescare::app
