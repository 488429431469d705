// The agent's run loop. Threads (ARCHITECTURE.md): the main thread runs the network io_context (HTTP
// clients, timers, signals, status server); one disk thread runs the disk io_context (outbox, CSV
// connector, hashing, file moves). Work crosses between them only by post.
#include "agent/app/agent.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <future>
#include <spdlog/logger.h>
#include <thread>

#include "agent/app/exit_codes.h"
#include "agent/app/heartbeat_loop.h"
#include "agent/app/ingest_driver.h"
#include "agent/app/wiring.h"
#include "agent/bridge/clock_offset.h"
#include "agent/bridge/headers.h"
#include "agent/bridge/retry_after.h"
#include "agent/config/logging.h"
#include "agent/delivery/delivery_loop.h"
#include "agent/http/client.h"
#include "agent/outbox/outbox.h"
#include "agent/service/notifier.h"
#include "agent/service/watchdog_gate.h"
#include "agent/status/server.h"
#include "agent/status/snapshot.h"

namespace opescare::app {
namespace {

namespace asio = boost::asio;
using SysClock = std::chrono::system_clock;
using SteadyClock = std::chrono::steady_clock;

status::ConnectionState ToStatusState(bridge::ConnectionState s) {
  switch (s) {
    case bridge::ConnectionState::kUnknown: return status::ConnectionState::kUnknown;
    case bridge::ConnectionState::kConnected: return status::ConnectionState::kConnected;
    case bridge::ConnectionState::kUnauthorized: return status::ConnectionState::kUnauthorized;
    case bridge::ConnectionState::kConfigError: return status::ConnectionState::kNotFound;
    case bridge::ConnectionState::kServerError: return status::ConnectionState::kServerError;
    case bridge::ConnectionState::kUnreachable: return status::ConnectionState::kUnreachable;
    case bridge::ConnectionState::kTlsError: return status::ConnectionState::kTlsError;
  }
  return status::ConnectionState::kUnknown;
}

status::HeartbeatOutcome ToOutcome(bridge::ConnectionState s) {
  switch (s) {
    case bridge::ConnectionState::kConnected: return status::HeartbeatOutcome::kOk;
    case bridge::ConnectionState::kUnauthorized: return status::HeartbeatOutcome::kUnauthorized;
    case bridge::ConnectionState::kConfigError: return status::HeartbeatOutcome::kNotFound;
    case bridge::ConnectionState::kTlsError: return status::HeartbeatOutcome::kTlsError;
    case bridge::ConnectionState::kUnreachable: return status::HeartbeatOutcome::kUnreachable;
    default: return status::HeartbeatOutcome::kServerError;
  }
}

std::string Hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

class Agent {
 public:
  Agent(GlobalOptions global, config::Config cfg, std::shared_ptr<spdlog::logger> log)
      : global_(std::move(global)),
        cfg_(std::move(cfg)),
        log_(std::move(log)),
        disk_guard_(asio::make_work_guard(disk_)),
        signals_(net_, SIGINT, SIGTERM),
        hup_(net_, SIGHUP),
        tick_timer_(net_),
        watchdog_timer_(net_),
        notifier_(service::Notifier::FromEnvironment()),
        gate_(std::chrono::seconds(30)) {}

  int Run();

 private:
  // --- start-up --------------------------------------------------------------------------------------
  Status OpenOutboxOnDisk();
  Status StartConnectorOnDisk();
  void StartDelivery();
  void StartHeartbeat();
  void StartStatusServer();
  http::Headers MakeHeaders() const;

  // --- the connector, on the disk thread ------------------------------------------------------------
  // (Re)starts it with these settings; a running connector is stopped only once they are known valid.
  Status StartConnector(const config::ConnectorConfig& settings, uint64_t max_size_mb);
  void StopConnector();
  // A file's outcome, on the network thread: the status page's figures.
  void OnFileOutcome(const csv_folder::FileOutcome& out, int64_t inserted);

  // --- periodic work, on the network thread ---------------------------------------------------------
  void Tick();
  void RefreshOutboxStats();
  void WatchdogPing();
  std::string StatusLine() const;
  status::StatusSnapshot Snapshot() const;

  // --- signals ---------------------------------------------------------------------------------------
  void WaitSignals();
  void Reload();
  void Shutdown();

  GlobalOptions global_;
  config::Config cfg_;
  std::shared_ptr<spdlog::logger> log_;
  SystemClock clock_;
  asio::io_context net_;
  asio::io_context disk_;
  asio::executor_work_guard<asio::io_context::executor_type> disk_guard_;
  std::thread disk_thread_;
  asio::signal_set signals_;
  asio::signal_set hup_;
  asio::steady_timer tick_timer_;
  asio::steady_timer watchdog_timer_;

  // Disk-thread state.
  std::unique_ptr<outbox::Outbox> outbox_;
  std::unique_ptr<IngestDriver> ingest_;

  // Network-thread state.
  std::unique_ptr<http::Client> heartbeat_client_;
  std::unique_ptr<http::Client> sync_client_;
  std::unique_ptr<HeartbeatLoop> heartbeat_;
  std::unique_ptr<delivery::DeliveryLoop> delivery_;
  std::unique_ptr<status::StatusServer> status_server_;
  bridge::ClockOffsetTracker clock_offset_;
  service::Notifier notifier_;
  service::WatchdogGate gate_;
  SteadyClock::time_point started_steady_ = SteadyClock::now();
  SysClock::time_point started_at_ = SysClock::now();
  bool stopping_ = false;
  bool outbox_open_ = false;
  std::string outbox_fault_;
  std::optional<SteadyClock::time_point> last_skew_warning_;
  std::string last_status_line_;

  // The status page's figures (network thread).
  bridge::HeartbeatResult last_heartbeat_;
  std::optional<SysClock::time_point> last_heartbeat_at_;
  status::HeartbeatCounts heartbeat_counts_;
  status::DurationHistogram batch_durations_;
  outbox::Stats outbox_stats_;
  std::optional<SysClock::time_point> last_sync_at_;
  status::History history_;
  uint64_t history_delivered_sampled_ = 0;  // records delivered (counter) at the last history sample
  SteadyClock::time_point next_history_sample_ = SteadyClock::now();
  std::deque<status::RecentFile> recent_files_;
  std::vector<status::DeadLetter> dead_letters_;
  status::FileCounts file_counts_;
  status::RowCounts row_counts_;
  uint64_t records_enqueued_ = 0;
  bool ingest_paused_ = false;
  std::string ingest_paused_reason_;
  std::atomic<bool> refresh_in_flight_{false};
};

Status Agent::OpenOutboxOnDisk() {
  std::promise<Status> opened;
  asio::post(disk_, [&] {
    auto ob = outbox::OpenOutbox(OutboxOptionsFromConfig(cfg_));
    if (!ob.ok()) return opened.set_value(ob.status());
    outbox_ = std::move(*ob);
    opened.set_value(Status::Ok());
  });
  return opened.get_future().get();
}

Status Agent::StartConnectorOnDisk() {
  std::promise<Status> started;
  asio::post(disk_, [&] { started.set_value(StartConnector(cfg_.connector, cfg_.outbox.max_size_mb)); });
  return started.get_future().get();
}

Status Agent::StartConnector(const config::ConnectorConfig& settings, uint64_t max_size_mb) {
  if (!ingest_) {
    IngestHooks hooks;
    hooks.on_outcome = [this](const csv_folder::FileOutcome& out, int64_t inserted) {
      asio::post(net_, [this, out, inserted] { OnFileOutcome(out, inserted); });
    };
    ingest_ = std::make_unique<IngestDriver>(disk_, outbox_.get(), &clock_, log_, std::move(hooks));
  }
  return ingest_->Start(settings, max_size_mb);
}

void Agent::StopConnector() {
  if (ingest_) ingest_->Stop();
  ingest_.reset();
}

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

http::Headers Agent::MakeHeaders() const {
  return bridge::BuildHeaders(CredentialsFromConfig(cfg_),
                              bridge::BridgeTimestamp(SysClock::now(), clock_offset_.offset_seconds()),
                              bridge::UserAgent());
}

void Agent::StartDelivery() {
  delivery::DeliveryHooks hooks;
  std::string agent_id = cfg_.agent_id, facility_id = cfg_.facility_id;
  hooks.build_body = [agent_id, facility_id](const outbox::Batch& b) { return SyncBodyFor(agent_id, facility_id, b); };
  hooks.make_headers = [this] { return MakeHeaders(); };
  hooks.observe = [this](const http::Outcome& o) { clock_offset_.AddResponse(o); };
  hooks.clock_offset_seconds = [this] { return clock_offset_.offset_seconds(); };
  hooks.retry_after = [this](const http::Response& r) -> std::optional<std::chrono::milliseconds> {
    auto ra = bridge::RetryAfterOf(r, SysClock::now(),
                                   std::chrono::seconds(static_cast<int64_t>(cfg_.retry.max_backoff_seconds)));
    if (!ra) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(*ra);
  };
  hooks.on_pause_change = [this](const std::string&) { RefreshOutboxStats(); };
  hooks.on_batch_sent = [this](double seconds) { batch_durations_.Observe(seconds); };
  hooks.on_outbox_changed = [this] {
    // No stats refresh here: counting the queue after every batch made a drain O(queue) per batch; the 2 s tick
    // keeps the page's figures fresh.
    // Delivery freed room: files waiting for it may go in now.
    if (ingest_paused_)
      asio::post(disk_, [this] {
        if (ingest_) ingest_->RetryNow();
      });
  };
  delivery_ = std::make_unique<delivery::DeliveryLoop>(net_, disk_, *outbox_, *sync_client_,
                                                       DeliveryOptionsFromConfig(cfg_), std::move(hooks), log_);
  delivery_->Start();
}

void Agent::StartHeartbeat() {
  HeartbeatHooks hooks;
  hooks.make_headers = [this] { return MakeHeaders(); };
  hooks.observe = [this](const http::Outcome& o) { clock_offset_.AddResponse(o); };
  hooks.clock_offset_seconds = [this] { return clock_offset_.offset_seconds(); };
  hooks.agent_status = [this] {
    bridge::AgentStatus s;
    s.hostname = Hostname();
    s.os = bridge::OsName();
    s.uptime_seconds = std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - started_steady_).count();
    s.queue.pending = outbox_stats_.queued;
    s.queue.dead = outbox_stats_.dead;
    if (outbox_stats_.queued > 0) s.queue.oldest_pending_age_seconds = outbox_stats_.oldest_queued_age_seconds;
    s.last_sync_at = last_sync_at_;
    s.clock_offset_seconds = clock_offset_.offset_seconds();
    if (!outbox_fault_.empty()) s.faults.push_back(outbox_fault_);
    if (ingest_paused_) s.faults.push_back("ingest paused: " + ingest_paused_reason_);
    return s;
  };
  hooks.on_result = [this](const bridge::HeartbeatResult& r, bool changed) {
    last_heartbeat_ = r;
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
  };
  heartbeat_ = std::make_unique<HeartbeatLoop>(net_, *heartbeat_client_, HeartbeatOptionsFromConfig(cfg_),
                                               std::move(hooks), log_);
  heartbeat_->Start();
}

status::StatusSnapshot Agent::Snapshot() const {
  status::StatusSnapshot s;
  s.version = OB_VERSION;
  s.build_type = OB_BUILD_TYPE;
  s.environment = cfg_.environment;
  s.agent_id = cfg_.agent_id;
  s.facility_id = cfg_.facility_id;
  s.started_at = started_at_;
  s.configured = true;
  s.outbox_open = outbox_open_;
  s.connection_state = ToStatusState(last_heartbeat_.state);
  if (last_heartbeat_.error) {
    s.last_error_code = last_heartbeat_.error->error;
    s.last_error_message = last_heartbeat_.error->message;
  } else if (last_heartbeat_.state != bridge::ConnectionState::kConnected) {
    s.last_error_message = last_heartbeat_.message;
  }
  s.fix = last_heartbeat_.fix;
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
  if (!outbox_fault_.empty()) {
    s.delivery_paused = true;
    s.delivery_paused_reason = outbox_fault_;
  }
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
  return s;
}

void Agent::StartStatusServer() {
  if (cfg_.status.listen.empty()) return;
  status_server_ = std::make_unique<status::StatusServer>(
      net_, cfg_.status.listen, cfg_.status.allow_remote, [this] { return Snapshot(); },
      [this] { return gate_.ShouldPing(SteadyClock::now()); }, log_);
  Status s = status_server_->Start();
  if (!s.ok()) {
    // The page is a convenience: the agent's duty (records) goes on without it.
    log_->error("status page: cannot listen on {}: {} (set status.listen to a free address, or \"\" to turn it off)",
                cfg_.status.listen, s.message());
    status_server_.reset();
    return;
  }
}

void Agent::RefreshOutboxStats() {
  if (!outbox_ || refresh_in_flight_.exchange(true)) return;
  asio::post(disk_, [this] {
    auto stats = outbox_->GetStats();
    auto sync = outbox_->GetMeta(outbox::kMetaLastSyncAt);
    outbox::DeadLetterQuery q;
    q.limit = status::StatusSnapshot::kMaxDeadLetters;
    q.newest_first = true;
    auto dead = outbox_->ListDeadLetters(q);
    asio::post(net_, [this, stats = std::move(stats), dead = std::move(dead), sync = std::move(sync)]() mutable {
      refresh_in_flight_ = false;
      if (!stats.ok()) {
        outbox_fault_ = "outbox: " + stats.status().message();
        log_->error("{}", outbox_fault_);
        return;
      }
      outbox_fault_.clear();
      outbox_stats_ = *stats;
      if (dead.ok()) {
        dead_letters_.clear();
        for (const auto& d : *dead)
          dead_letters_.push_back({d.id, d.type, d.source_file, static_cast<uint64_t>(d.source_row), d.error,
                                   d.message, d.dead_at});
      }
      if (!last_sync_at_ && sync.ok() && sync->has_value()) {
        // Only the time of day matters on the page; the ISO text from an earlier run is parsed loosely.
        std::tm tm{};
        if (strptime((*sync)->c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) last_sync_at_ = SysClock::from_time_t(timegm(&tm));
      }
      if (delivery_ && delivery_->counters().last_sync_at) last_sync_at_ = delivery_->counters().last_sync_at;
    });
  });
}

std::string Agent::StatusLine() const {
  std::string state = bridge::ConnectionStateName(last_heartbeat_.state);
  std::string line = state + "; " + std::to_string(outbox_stats_.queued) + " queued, " +
                     std::to_string(outbox_stats_.dead) + " dead";
  if (delivery_ && !delivery_->counters().paused_reason.empty()) line += "; delivery paused";
  if (!outbox_fault_.empty()) line += "; " + outbox_fault_;
  if (std::string stall = gate_.StallReason(SteadyClock::now()); !stall.empty()) line += "; " + stall;
  return line;
}

void Agent::Tick() {
  auto now = SteadyClock::now();
  gate_.EventLoopAlive(now);
  asio::post(disk_, [this] { asio::post(net_, [this, t = SteadyClock::now()] { gate_.DiskWorkerAlive(t); }); });
  RefreshOutboxStats();
  if (now >= next_history_sample_) {
    history_delivered_sampled_ = delivery_ ? static_cast<uint64_t>(delivery_->counters().records_delivered) : 0;
    history_.Sample(SysClock::now(), history_delivered_sampled_, static_cast<uint64_t>(outbox_stats_.queued));
    next_history_sample_ = now + status::History::kDefaultInterval;
  }
  std::string line = StatusLine();
  if (line != last_status_line_) {
    last_status_line_ = line;
    (void)notifier_.SetStatus(line);
  }
  if (stopping_) return;
  // Liveness for the watchdog and fresh figures for the page; changes refresh them at once anyway.
  tick_timer_.expires_after(std::chrono::seconds(2));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

void Agent::WatchdogPing() {
  auto interval = notifier_.watchdog_ping_interval();
  if (!interval || stopping_) return;
  auto now = SteadyClock::now();
  if (gate_.ShouldPing(now)) {
    (void)notifier_.Watchdog();
  } else {
    log_->error("watchdog: not telling systemd we are alive: {}", gate_.StallReason(now));
  }
  watchdog_timer_.expires_after(*interval);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) WatchdogPing();
  });
}

void Agent::WaitSignals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    log_->info("received {}: stopping (new files are left in the folder, the request in flight gets up to 5 s)",
               signo == SIGTERM ? "SIGTERM" : "SIGINT");
    Shutdown();
  });
  hup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    Reload();
    if (!stopping_) WaitSignals();
  });
}

void Agent::Reload() {
  (void)notifier_.Reloading();
  config::LoadOptions options;
  options.strict = global_.strict;
  if (!global_.log_level.empty()) options.overrides["log_level"] = global_.log_level;
  config::LoadResult result = config::LoadConfigFile(cfg_.source_path, options);
  for (const auto& p : result.problems) {
    if (p.severity == config::Problem::Severity::kError) log_->error("reload: {}", p.ToString());
    else log_->warn("reload: {}", p.ToString());
  }
  if (!result.ok()) {
    log_->error("reload: {} has errors; the previous configuration keeps running", cfg_.source_path);
    (void)notifier_.Reloaded();
    return;
  }
  config::Config next = std::move(*result.config);
  if (next.server_url != cfg_.server_url || next.agent_key != cfg_.agent_key || next.agent_id != cfg_.agent_id ||
      next.facility_id != cfg_.facility_id || next.outbox.path != cfg_.outbox.path ||
      next.status.listen != cfg_.status.listen || next.http.proxy != cfg_.http.proxy ||
      next.http.ca_file != cfg_.http.ca_file) {
    log_->warn("reload: server, identity, key, outbox, proxy, CA or status settings changed: they apply at the "
               "next restart (systemctl restart opescare-bridge)");
  }
  // What applies now: log level, intervals, batch and retry settings, connector settings.
  spdlog::level::level_enum level;
  if (logging::ParseLevel(next.log.level, &level)) log_->set_level(level);
  cfg_.log = next.log;
  cfg_.heartbeat_interval_seconds = next.heartbeat_interval_seconds;
  cfg_.sync_interval_seconds = next.sync_interval_seconds;
  cfg_.batch = next.batch;
  cfg_.retry = next.retry;
  cfg_.heartbeat = next.heartbeat;
  cfg_.http.compression = next.http.compression;
  cfg_.outbox.max_size_mb = next.outbox.max_size_mb;
  cfg_.connector = next.connector;
  if (heartbeat_) heartbeat_->UpdateOptions(HeartbeatOptionsFromConfig(cfg_));
  if (delivery_) {
    delivery_->UpdateOptions(DeliveryOptionsFromConfig(cfg_));
    delivery_->ConnectivityRegained();  // a fixed sync_path or key deserves a try now
  }
  if (outbox_) {  // the connector restarts with its new settings; files waiting in the folder are listed again
    config::ConnectorConfig cc = cfg_.connector;
    uint64_t max_mb = cfg_.outbox.max_size_mb;
    asio::post(disk_, [this, cc, max_mb] {
      Status s = StartConnector(cc, max_mb);
      if (!s.ok()) log_->error("reload: connector: {}", s.message());
    });
  }
  log_->info("reload: configuration re-read from {} (log level {}, heartbeat every {} s)", cfg_.source_path,
             cfg_.log.level, cfg_.heartbeat_interval_seconds);
  (void)notifier_.Reloaded();
}

void Agent::Shutdown() {
  if (stopping_) return;
  stopping_ = true;
  (void)notifier_.Stopping();
  signals_.cancel();
  hup_.cancel();
  tick_timer_.cancel();
  watchdog_timer_.cancel();
  if (heartbeat_) heartbeat_->Stop();
  if (status_server_) status_server_->Stop();
  // Stop taking files first (a file being read finishes its transaction or rolls back: never half-queued).
  asio::post(disk_, [this] { StopConnector(); });
  auto finish = [this] {
    if (heartbeat_client_) heartbeat_client_->Close();
    if (sync_client_) sync_client_->Close();
    // Close the database on its own thread, then let both loops end.
    asio::post(disk_, [this] {
      outbox_.reset();
      disk_guard_.reset();
      asio::post(net_, [this] { net_.stop(); });
    });
  };
  if (delivery_) {
    delivery_->Stop(finish);
  } else {
    finish();
  }
}

int Agent::Run() {
  disk_thread_ = std::thread([this] { disk_.run(); });
  struct JoinDisk {
    Agent* a;
    ~JoinDisk() {
      a->disk_guard_.reset();
      a->disk_.stop();
      if (a->disk_thread_.joinable()) a->disk_thread_.join();
    }
  } join_disk{this};

  if (auto timeout = notifier_.watchdog_timeout()) gate_ = service::WatchdogGate(*timeout);
  if (!notifier_.open_error().ok()) log_->warn("systemd notify: {}", notifier_.open_error().ToString());
  log_->info("opescare-bridge {} starting: server {}, agent {}, facility {}, key from {}", OB_VERSION,
             cfg_.server_url, cfg_.agent_id, cfg_.facility_id, cfg_.agent_key_source);

  auto hb = http::Client::Create(net_, ClientOptionsFromConfig(cfg_), log_);
  auto sync = http::Client::Create(net_, ClientOptionsFromConfig(cfg_), log_);
  if (!hb.ok() || !sync.ok()) {
    log_->error("cannot set up HTTPS: {}", (hb.ok() ? sync.status() : hb.status()).message());
    return kExitUsage;
  }
  heartbeat_client_ = std::move(*hb);
  sync_client_ = std::move(*sync);

  Status opened = OpenOutboxOnDisk();
  if (!opened.ok()) {
    // Keep running: heartbeats still tell OpesCare (and the status page tells the staff) what is wrong.
    outbox_fault_ = "outbox " + cfg_.outbox.path + " cannot be opened: " + opened.message();
    log_->error("{}. No files are taken and nothing is delivered until it is fixed (see `opescare-bridge doctor`); "
                "the file is left untouched.",
                outbox_fault_);
  } else {
    outbox_open_ = true;
    Status connector = StartConnectorOnDisk();
    if (!connector.ok()) {
      log_->error("connector: {}: files in {} are not taken until this is fixed", connector.message(),
                  cfg_.connector.watch_folder);
    } else {
      log_->info("connector: watching {} for {}", cfg_.connector.watch_folder, cfg_.connector.file_pattern);
    }
    StartDelivery();
  }
  StartHeartbeat();
  StartStatusServer();
  WaitSignals();
  // The start-up's round trips through the disk thread (outbox, connector) prove it alive just now; without
  // this the first watchdog ping, sent before the loop runs, would be withheld on every healthy start.
  gate_.DiskWorkerAlive(SteadyClock::now());
  Tick();
  if (const char* stall = std::getenv("OB_TEST_STALL_DISK_WORKER_SECONDS")) {
    // Test hook: the disk worker stops answering, as a hung disk would; the watchdog must notice.
    int secs = std::atoi(stall);
    asio::post(disk_, [secs] { std::this_thread::sleep_for(std::chrono::seconds(secs)); });
  }
  (void)notifier_.Ready();
  WatchdogPing();
  RefreshOutboxStats();

  net_.run();
  log_->info("stopped");
  return kExitOk;
}

}  // namespace

int RunAgent(const GlobalOptions& global, config::Config cfg, std::shared_ptr<spdlog::logger> logger) {
  Agent agent(global, std::move(cfg), std::move(logger));
  return agent.Run();
}

}  // namespace opescare::app
