// Internal to agent/app: the running agent's object, shared by agent.cpp (start-up, the loops, signals,
// shutdown), agent_status.cpp (what status, the heartbeat and systemd are told) and agent_reload.cpp.
// Threads (ARCHITECTURE.md): the main thread runs net_ (HTTP clients, timers, signals, the status server);
// one disk thread runs disk_ (outbox, connector, hashing, file moves). Work crosses only by post, and the
// configuration only as an immutable snapshot (cfg()).
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/app/commands.h"
#include "agent/app/heartbeat_loop.h"
#include "agent/app/ingest_driver.h"
#include "agent/bridge/clock_offset.h"
#include "agent/bridge/heartbeat.h"
#include "agent/bridge/time_floor.h"
#include "agent/config/config.h"
#include "agent/connectors/csv_folder/connector_fault.h"
#include "agent/delivery/delivery_loop.h"
#include "agent/http/client.h"
#include "agent/outbox/outbox.h"
#include "agent/service/notifier.h"
#include "agent/service/stop_signal.h"
#include "agent/service/watchdog_gate.h"
#include "agent/status/server.h"
#include "agent/status/snapshot.h"
#include "agent/util/clock.h"
#include "agent/util/fault.h"

namespace spdlog {
class logger;
}

namespace opescare::app {

// What the disk thread reads of the outbox every tick, handed to the network thread whole.
struct OutboxReading {
  Result<outbox::Stats> stats;
  Result<std::optional<std::string>> sync;  // last_sync_at meta
  Result<std::vector<outbox::DeadLetter>> dead;
  Result<outbox::SpaceReport> space;
  std::chrono::steady_clock::time_point read_at;  // on the disk thread: its proof of progress for the watchdog
};

inline constexpr std::chrono::seconds kBusyStatusTick{2};  // StatusTickInterval with work or a fault; 10 s idle
// How long until the next status tick: 2 s while there is work or a fault (figures move, and a full disk must
// be seen to have room again within seconds), 10 s when the agent is idle, so that an idle agent wakes less
// than once a second. Changes (a file queued, a batch delivered) refresh the figures at once anyway.
std::chrono::seconds StatusTickInterval(int64_t queued, bool disk_below_watermark, bool faults, bool paused);

class Agent {
 public:
  Agent(GlobalOptions global, config::Config cfg, std::shared_ptr<spdlog::logger> log);
  // service_stop (may be null): the Windows SCM's stop request, drained like SIGTERM; must outlive Run.
  int Run(service::StopSignal* service_stop = nullptr);

 private:
  using SysClock = std::chrono::system_clock;
  using SteadyClock = std::chrono::steady_clock;

  // The configuration in force; replaced whole by a reload, never changed in place. Any thread.
  std::shared_ptr<const config::Config> cfg() const { return cfg_.load(); }

  // --- start-up (agent.cpp) ------------------------------------------------------------------------
  Status CreateClients(const config::Config& c);
  void OpenOutboxAndStartWork(const config::Config& c);
  Status OpenOutboxOnDisk();
  Status StartConnectorOnDisk();
  void StartDelivery();
  void StartHeartbeat();
  void StartStatusServer();
  http::Headers MakeHeaders() const;

  // --- the connector, on the disk thread (agent.cpp) ------------------------------------------------
  // (Re)starts it with these settings; a running connector is stopped only once they are known valid.
  Status StartConnector(const config::Config& cfg);
  void StopConnector();

  // --- periodic work, on the network thread (agent.cpp) ---------------------------------------------
  void Tick();
  void WatchdogPing();

  // --- what people and systemd are told (agent_status.cpp), network thread --------------------------
  void OnFileOutcome(const csv_folder::FileOutcome& out, int64_t inserted);
  void OnHeartbeat(const bridge::HeartbeatResult& r, bool changed);
  void OnSyncOutcome(const http::Outcome& outcome);
  // Every response (network thread): the clock offset, and the time floor (stored on the disk thread).
  void ObserveClock(const http::Outcome& outcome);
  void RestoreTimeFloorOnDisk();
  void RefreshOutboxStats();
  void ProbeDiskWorker();
  void OnOutboxReading(OutboxReading r);
  void OnSpace(const outbox::SpaceReport& space);
  std::vector<Fault> CurrentFaults() const;
  void AddDeliveryFaults(std::vector<Fault>* faults) const;
  bridge::AgentStatus HeartbeatStatus() const;
  std::string StatusLine() const;
  status::StatusSnapshot Snapshot() const;

  // --- signals (agent.cpp, agent_reload.cpp) --------------------------------------------------------
  void WaitSignals();
  void Reload();
  void Shutdown();

  GlobalOptions global_;
  std::atomic<std::shared_ptr<const config::Config>> cfg_;
  std::shared_ptr<spdlog::logger> log_;
  SystemClock clock_;
  boost::asio::io_context net_;
  boost::asio::io_context disk_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> disk_guard_;
  std::thread disk_thread_;
  boost::asio::signal_set signals_;
  boost::asio::signal_set hup_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer watchdog_timer_;

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
  bridge::TimeFloor time_floor_;  // thread-safe; read by both clients' handshakes (PROTOCOL.md "Clock")
  std::string clock_ahead_error_;  // the last TLS error that named a clock far ahead; cleared by an answer
  service::Notifier notifier_;
  service::WatchdogGate gate_;
  SteadyClock::time_point started_steady_ = SteadyClock::now();
  SysClock::time_point started_at_ = SysClock::now();
  bool stopping_ = false;
  bool outbox_open_ = false;
  std::string outbox_open_error_;  // why the outbox could not be opened at start
  std::string outbox_fault_;       // why its figures cannot be read now
  std::optional<outbox::SpaceReport> space_;  // the outbox volume's free space, read every tick
  std::optional<csv_folder::ConnectorFault> connector_start_fault_;  // the connector could not start
  std::vector<csv_folder::ConnectorFault> connector_faults_;  // the watch folder's, as the connector last said
  std::optional<SteadyClock::time_point> last_skew_warning_;
  std::string last_status_line_;

  // The status page's figures (network thread).
  bridge::HeartbeatResult last_heartbeat_;
  // The link as the last exchange with OpesCare tells it, heartbeat or sync: a sync accepted after a
  // refused heartbeat (e.g. once the clock offset is learnt) says "connected" at once.
  bridge::ConnectionState link_state_ = bridge::ConnectionState::kUnknown;
  std::optional<SysClock::time_point> last_heartbeat_at_;
  status::HeartbeatCounts heartbeat_counts_;
  status::DurationHistogram batch_durations_;
  outbox::Stats outbox_stats_;
  std::optional<SysClock::time_point> last_sync_at_;
  status::History history_;
  uint64_t history_delivered_sampled_ = 0;  // records delivered (counter) at the last history sample
  SteadyClock::time_point next_history_sample_ = SteadyClock::now();
  std::deque<status::RecentFile> recent_files_;
  std::vector<status::DeadLetterSummary> dead_letters_;
  status::FileCounts file_counts_;
  status::RowCounts row_counts_;
  uint64_t records_enqueued_ = 0;
  bool ingest_paused_ = false;
  std::string ingest_paused_reason_;
  std::atomic<bool> refresh_in_flight_{false};
};

}  // namespace opescare::app
