// The agent's run loop: start-up, the connector and delivery on the disk thread, the heartbeat, the
// 2 s tick and the watchdog, signals and shutdown (agent_internal.h says who runs where).
#include "agent/app/agent.h"

#include <spdlog/logger.h>

#include <boost/asio/post.hpp>
#include <future>

#include "agent/app/agent_internal.h"
#include "agent/app/exit_codes.h"
#include "agent/app/wiring.h"
#include "agent/delivery/pipeline.h"
#include "agent/env/memory.h"
#include "agent/bridge/headers.h"
#include "agent/bridge/retry_after.h"
#include "agent/http/tls_context.h"

namespace opescare::app {

namespace asio = boost::asio;

Agent::Agent(GlobalOptions global, config::Config cfg, std::shared_ptr<spdlog::logger> log)
    : global_(std::move(global)),
      cfg_(std::make_shared<const config::Config>(std::move(cfg))),
      log_(std::move(log)),
      disk_guard_(asio::make_work_guard(disk_)),
      signals_(net_, SIGINT, SIGTERM),
#ifdef SIGHUP
      hup_(net_, SIGHUP),
#else
      hup_(net_),  // Windows has no SIGHUP: an empty set that never fires (no reload there yet)
#endif
      tick_timer_(net_),
      watchdog_timer_(net_),
      notifier_(service::Notifier::FromEnvironment()),
      gate_(std::chrono::seconds(30)) {}

Status Agent::OpenOutboxOnDisk() {
  std::promise<Status> opened;
  asio::post(disk_, [&, options = OutboxOptionsFromConfig(*cfg())] {
    auto ob = outbox::OpenOutbox(options);
    if (!ob.ok()) return opened.set_value(ob.status());
    outbox_ = std::move(*ob);
    opened.set_value(Status::Ok());
  });
  return opened.get_future().get();
}

Status Agent::StartConnectorOnDisk() {
  std::promise<Status> started;
  asio::post(disk_, [&, c = cfg()] { started.set_value(StartConnector(*c)); });
  return started.get_future().get();
}

Status Agent::StartConnector(const config::Config& cfg) {
  if (!ingest_) {
    IngestHooks hooks;
    hooks.on_outcome = [this](const csv_folder::FileOutcome& out, int64_t inserted) {
      asio::post(net_, [this, out, inserted] { OnFileOutcome(out, inserted); });
    };
    hooks.on_faults = [this](const std::vector<csv_folder::ConnectorFault>& faults) {
      asio::post(net_, [this, faults] { connector_faults_ = faults; });
    };
    ingest_ = std::make_unique<IngestDriver>(disk_, outbox_.get(), &clock_, log_, std::move(hooks));
  }
  return ingest_->Start(cfg.connector, cfg.outbox.max_size_mb, cfg.outbox.min_free_mb);
}

void Agent::StopConnector() {
  if (ingest_) ingest_->Stop();
  ingest_.reset();
}

void Agent::RestoreTimeFloorOnDisk() {
  std::promise<std::optional<std::string>> got;
  asio::post(disk_, [&] {
    auto v = outbox_->GetMeta(outbox::kMetaVerifiedServerTime);
    got.set_value(v.ok() ? *v : std::nullopt);
  });
  auto stored = got.get_future().get();
  if (stored && time_floor_.Restore(*stored)) {
    std::string behind = time_floor_.BehindMessage();
    if (!behind.empty()) log_->warn("{}; certificates are checked at that time", behind);
  }
}

void Agent::ObserveClock(const http::Outcome& outcome) {
  clock_offset_.AddResponse(outcome);
  if (outcome.clock_suspect == http::ClockSuspect::kAhead) clock_ahead_error_ = outcome.error;
  if (outcome.ok()) clock_ahead_error_.clear();
  bool was_behind = !time_floor_.BehindMessage().empty();
  if (auto store = time_floor_.Observe(outcome)) {
    asio::post(disk_, [this, v = std::move(*store)] {
      if (!outbox_) return;
      Status s = outbox_->SetMeta(outbox::kMetaVerifiedServerTime, v);
      if (!s.ok()) log_->warn("cannot store the verified server time: {}", s.message());
    });
  }
  std::string behind = time_floor_.BehindMessage();
  if (!behind.empty() && !was_behind) log_->warn("{}; certificates are checked at that time", behind);
}

http::Headers Agent::MakeHeaders() const {
  return bridge::BuildHeaders(CredentialsFromConfig(*cfg()),
                              bridge::BridgeTimestamp(SysClock::now(), clock_offset_.offset_seconds()),
                              bridge::UserAgent());
}

void Agent::StartDelivery() {
  delivery::DeliveryHooks hooks;
  hooks.build_body = [this](const outbox::Batch& b) {  // disk thread: the snapshot in force now
    auto c = cfg();
    return SyncBodyFor(c->agent_id, c->facility_id, b);
  };
  hooks.make_headers = [this] { return MakeHeaders(); };
  hooks.observe = [this](const http::Outcome& o) { OnSyncOutcome(o); };
  hooks.clock_offset_seconds = [this] { return clock_offset_.offset_seconds(); };
  hooks.retry_after = [this](const http::Response& r) -> std::optional<std::chrono::milliseconds> {
    auto ra = bridge::RetryAfterOf(r, SysClock::now(),
                                   std::chrono::seconds(static_cast<int64_t>(cfg()->retry.max_backoff_seconds)));
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
                                                       DeliveryOptionsFromConfig(*cfg()), std::move(hooks), log_);
  delivery_->Start();
}

void Agent::StartHeartbeat() {
  HeartbeatHooks hooks;
  hooks.make_headers = [this] { return MakeHeaders(); };
  hooks.observe = [this](const http::Outcome& o) { ObserveClock(o); };
  hooks.clock_offset_seconds = [this] { return clock_offset_.offset_seconds(); };
  hooks.agent_status = [this] { return HeartbeatStatus(); };
  hooks.on_result = [this](const bridge::HeartbeatResult& r, bool changed) { OnHeartbeat(r, changed); };
  heartbeat_ = std::make_unique<HeartbeatLoop>(net_, *heartbeat_client_, HeartbeatOptionsFromConfig(*cfg()),
                                               std::move(hooks), log_);
  heartbeat_->Start();
}

void Agent::StartStatusServer() {
  auto c = cfg();
  if (c->status.listen.empty()) return;
  status_server_ = std::make_unique<status::StatusServer>(
      net_, c->status.listen, c->status.allow_remote, [this] { return Snapshot(); },
      [this] { return gate_.ShouldPing(SteadyClock::now()); }, log_);
  Status s = status_server_->Start();
  if (!s.ok()) {
    // The page is a convenience: the agent's duty (records) goes on without it.
    log_->error("status page: cannot listen on {}: {} (set status.listen to a free address, or \"\" to turn it off)",
                c->status.listen, s.message());
    status_server_.reset();
    return;
  }
}

void Agent::Tick() {
  auto now = SteadyClock::now();
  gate_.EventLoopAlive(now);
  RefreshOutboxStats();  // also the disk thread's proof of progress
  if (!outbox_open_) ProbeDiskWorker();  // no reading then, but the disk thread still runs
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
  const bool paused = delivery_ && !delivery_->counters().paused_reason.empty();
  const auto interval =
      StatusTickInterval(outbox_stats_.queued, space_ && space_->below_watermark, !CurrentFaults().empty(), paused);
  // Idle: the outbox's cached pages, and what the start-up or the last burst of work freed, go back to the OS,
  // not kept in SQLite's page cache and malloc's arenas. On the disk thread, after the reading just posted.
  if (interval > kBusyStatusTick) {
    asio::post(disk_, [this] {
      if (outbox_) outbox_->ReleaseMemory();
      env::ReleaseFreeMemory();
    });
  }
  tick_timer_.expires_after(interval);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

// A no-op task through the disk thread's queue: the time it ran there is its proof of progress.
void Agent::ProbeDiskWorker() {
  asio::post(disk_, [this] { asio::post(net_, [this, t = SteadyClock::now()] { gate_.DiskWorkerAlive(t); }); });
}

void Agent::WatchdogPing() {
  auto interval = notifier_.watchdog_ping_interval();
  if (!interval || stopping_) return;
  auto now = SteadyClock::now();
  // Probed at every ping (half the watchdog timeout), not only at the status tick (2 or 10 s): a healthy disk
  // thread's last proof is then at most one ping interval plus one slice old, always within the timeout.
  ProbeDiskWorker();
  gate_.EventLoopAlive(now);
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
    log_->info("received {}: stopping (new files are left in the folder, the request in flight gets up to 1.5 s)",
               signo == SIGTERM ? "SIGTERM" : "SIGINT");
    Shutdown();
  });
  hup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    Reload();
    if (!stopping_) WaitSignals();
  });
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

// The heartbeat and sync clients, sharing one TLS context (one CA store); certificates are checked at the
// time floor.
Status Agent::CreateClients(const config::Config& c) {
  http::ClientOptions client_options = ClientOptionsFromConfig(c);
  client_options.verify_time_floor = time_floor_.Hook();
  std::shared_ptr<http::TlsContext> tls;
  if (c.server_url.rfind("https://", 0) == 0) {
    auto made = http::TlsContext::Create(client_options);
    if (!made.ok()) return made.status();
    tls = *made;
    log_->debug("TLS trust: {}", tls->TrustDescription());
  }
  // A heartbeat further apart than a connection may idle would never reuse one: it closes its own, and its
  // socket and TLS buffers are not held between beats.
  http::ClientOptions hb_options = client_options;
  hb_options.keep_alive = std::chrono::seconds(c.heartbeat_interval_seconds) < client_options.idle_timeout;
  auto hb = tls ? http::Client::Create(net_, hb_options, tls, log_) : http::Client::Create(net_, hb_options, log_);
  // Room for the most sync requests delivery.max_in_flight allows, so a reload can raise it in place; a
  // connection is opened only when a request finds every open one busy.
  http::ClientOptions sync_options = client_options;
  sync_options.max_connections = delivery::kMaxInFlightLimit;
  sync_options.sent_backlog_bytes = delivery::kSentBacklogBytes;  // so batch bodies take turns (pipeline.h)
  auto sync =
      tls ? http::Client::Create(net_, sync_options, tls, log_) : http::Client::Create(net_, sync_options, log_);
  if (!hb.ok() || !sync.ok()) return hb.ok() ? sync.status() : hb.status();
  heartbeat_client_ = std::move(*hb);
  sync_client_ = std::move(*sync);
  return Status::Ok();
}

// The outbox, then what needs it: the time floor it keeps, the connector and delivery. An outbox that does not
// open leaves the agent running without them: heartbeats still tell OpesCare (and the status page the staff).
void Agent::OpenOutboxAndStartWork(const config::Config& c) {
  Status opened = OpenOutboxOnDisk();
  if (!opened.ok()) {
    outbox_open_error_ = "outbox " + c.outbox.path + " cannot be opened: " + opened.message();
    log_->error("{}. No files are taken and nothing is delivered until it is fixed (see `opescare-bridge doctor`); "
                "the file is left untouched.",
                outbox_open_error_);
  } else {
    outbox_open_ = true;
    RestoreTimeFloorOnDisk();
    Status connector = StartConnectorOnDisk();
    if (!connector.ok()) {
      connector_start_fault_ = csv_folder::StartFault(c.connector.watch_folder, connector);
      log_->error("connector: {}: files in {} are not taken until this is fixed; fix: {}", connector.message(),
                  c.connector.watch_folder, connector_start_fault_->fix);
    } else {
      log_->info("connector: watching {} for {}", c.connector.watch_folder, c.connector.file_pattern);
    }
    StartDelivery();
  }
}

int Agent::Run(service::StopSignal* service_stop) {
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
  auto c = cfg();
  log_->info("opescare-bridge {} starting: server {}, agent {}, facility {}, key from {}", OB_VERSION,
             c->server_url, c->agent_id, c->facility_id, c->agent_key_source);

  if (Status made = CreateClients(*c); !made.ok()) {
    log_->error("cannot set up HTTPS: {}", made.message());
    return kExitUsage;
  }
  OpenOutboxAndStartWork(*c);
  StartHeartbeat();
  StartStatusServer();
  WaitSignals();
  // Under the Windows SCM a stop, shutdown or preshutdown control drains like SIGTERM.
  if (service_stop) {
    service_stop->OnStop([this] {
      asio::post(net_, [this] {
        log_->info("stop requested by the Windows service control manager: stopping");
        Shutdown();
      });
    });
  }
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
  if (service_stop) service_stop->ClearHandler();  // before net_ goes
  log_->info("stopped");
  return kExitOk;
}

int RunAgent(const GlobalOptions& global, config::Config cfg, std::shared_ptr<spdlog::logger> logger,
             service::StopSignal* service_stop) {
  Agent agent(global, std::move(cfg), std::move(logger));
  return agent.Run(service_stop);
}

}  // namespace opescare::app
