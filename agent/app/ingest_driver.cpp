// The ingest driver (ingest_driver.h): the connector's event loop on the disk thread.
#include "agent/app/ingest_driver.h"

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>  // empty on Windows
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <spdlog/logger.h>

#include "agent/connectors/csv_folder/csv_folder_connector.h"
#include "agent/connectors/csv_folder/outbox_sink.h"

namespace opescare::app {

namespace asio = boost::asio;

// A watcher without a descriptor to wait on (Windows' ReadDirectoryChangesW) is drained this often.
constexpr std::chrono::milliseconds kDrainInterval{250};

#ifdef BOOST_ASIO_HAS_POSIX_STREAM_DESCRIPTOR
using WatchFd = asio::posix::stream_descriptor;
#else
// No descriptor on Windows: NewWatchFd() is -1 there, so this is never made (the interval above drains).
struct WatchFd {
  static constexpr int wait_read = 0;
  WatchFd(asio::io_context&, int) {}
  void close() {}
  template <typename Handler>
  void async_wait(int, Handler&&) {}
};
#endif

class IngestDriver::Impl {
 public:
  Impl(asio::io_context& disk, outbox::Outbox* outbox, const Clock* clock, std::shared_ptr<spdlog::logger> logger,
       IngestHooks hooks)
      : disk_(disk), outbox_(outbox), clock_(clock), log_(std::move(logger)), hooks_(std::move(hooks)), timer_(disk) {}

  Status Start(const config::ConnectorConfig& settings, uint64_t max_size_mb, uint64_t min_free_mb) {
    auto options = csv_folder::ConnectorOptionsFromConfig(settings);
    if (!options.ok()) return options.status();
    Stop();
    settings_ = settings;
    sink_ = std::make_unique<csv_folder::OutboxRecordSink>(outbox_, max_size_mb, min_free_mb);
    options->processing.after_commit = csv_folder::PauseHookFromEnv();
    connector_ = std::make_unique<csv_folder::CsvFolderConnector>(std::move(*options), sink_.get(), clock_);
    Status s = connector_->Start();
    if (!s.ok()) {
      connector_.reset();
      return s;
    }
    if (!connector_->watcher_status().ok())
      log_->warn("connector: folder events unavailable ({}); scanning every {} s instead",
                 connector_->watcher_status().ToString(), settings.scan_interval_seconds);
    if (int fd = connector_->NewWatchFd(); fd >= 0)  // the descriptor object owns it
      watch_fd_ = std::make_unique<WatchFd>(disk_, fd);
    // Events without a descriptor: Drain() (in RunSlice's Poll) is called every kDrainInterval instead.
    drain_often_ = !watch_fd_ && connector_->watcher_status().ok();
    stopping_ = false;
    Tick();
    return Status::Ok();
  }

  void Stop() {
    stopping_ = true;
    timer_.cancel();
    if (watch_fd_) watch_fd_->close();
    watch_fd_.reset();
    if (connector_) connector_->Stop();
    connector_.reset();
    chain_running_ = false;
    if (!published_.empty() && hooks_.on_faults) hooks_.on_faults({});  // a restarted connector looks again
    published_.clear();
  }

  void RetryNow() {
    if (!connector_ || stopping_) return;
    connector_->RetryNow();
    Tick();
  }

 private:
  void Arm() {
    if (!connector_ || stopping_) return;
    if (watch_fd_ && !fd_armed_) {
      fd_armed_ = true;
      // Handlers run even after a Stop() cancelled them, possibly once the driver is gone: they check first.
      watch_fd_->async_wait(WatchFd::wait_read,
                            [this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
                              if (!alive.lock()) return;
                              fd_armed_ = false;
                              if (!ec) Tick();
                            });
    }
    auto at = connector_->NextWakeup();
    if (drain_often_) at = std::min(at, std::chrono::steady_clock::now() + kDrainInterval);
    timer_.expires_at(at);
    timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
      if (!ec && alive.lock()) Tick();
    });
  }

  // One slice, then yield: the next slice is posted behind whatever else waits on the disk thread. Only one
  // chain of slices runs at a time (a folder event or the timer during a chain just lets it go on).
  void Tick() {
    if (!connector_ || stopping_ || chain_running_) return;
    RunSlice();
  }

  void RunSlice() {
    chain_running_ = false;
    if (!connector_ || stopping_) return;
    csv_folder::CsvFolderConnector::Slice slice = connector_->RunSlice(csv_folder::SliceBudget{});
    if (slice.finished) Report(*slice.finished);
    PublishFaults();
    if (slice.more && !stopping_) {
      chain_running_ = true;
      asio::post(disk_, [this, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.lock()) RunSlice();
      });
      return;
    }
    Arm();
  }

  // New faults are logged once each; the whole list goes to the hook whenever it changed.
  void PublishFaults() {
    if (size_t removed = connector_->TakeRemovedOldFiles())
      log_->info("connector: removed {} file(s) older than connector.keep_processed_days from the processed and "
                 "failed folders",
                 removed);
    for (const csv_folder::ConnectorFault& f : connector_->TakeNewFaults())
      log_->warn("connector: {} (fix: {})", f.message, f.fix);
    std::vector<csv_folder::ConnectorFault> now = connector_->faults();
    std::string signature;
    for (const auto& f : now) signature += f.path + "\n" + f.message + "\n";
    if (signature == published_) return;
    published_ = std::move(signature);
    if (hooks_.on_faults) hooks_.on_faults(now);
  }

  // Logs the outcome (ingest paused on a full outbox said once when it pauses and once when it resumes:
  // every retry while delivery drains is not news) and hands it on.
  void Report(const csv_folder::FileOutcome& out) {
    using Kind = csv_folder::FileOutcome::Kind;
    int64_t inserted = out.kind == Kind::kQueued ? static_cast<int64_t>(out.rows_added) - sink_->last_skipped() : 0;
    const bool full = out.kind == Kind::kRetryLater && out.status.code() == Code::kResourceExhausted;
    if (full) {
      if (!full_logged_)
        log_->warn("connector: ingest paused: {}; files wait in {} until there is room again",
                   sink_->full_reason().empty() ? out.status.message() : sink_->full_reason(),
                   settings_.watch_folder);
      log_->debug("connector: {}", out.Summary());
      full_logged_ = true;
    } else if (out.kind == Kind::kRetryLater) {
      log_->warn("connector: {}", out.Summary());
    } else if (out.kind == Kind::kRejected) {
      log_->error("connector: {}", out.Summary());
    } else {
      log_->info("connector: {}", out.Summary());
    }
    if (!full && out.kind != Kind::kRetryLater && full_logged_) {
      full_logged_ = false;
      log_->info("connector: ingest resumed: there is room again");
    }
    if (hooks_.on_outcome) hooks_.on_outcome(out, inserted);
  }

  asio::io_context& disk_;
  outbox::Outbox* outbox_;
  const Clock* clock_;
  std::shared_ptr<spdlog::logger> log_;
  IngestHooks hooks_;
  asio::steady_timer timer_;
  config::ConnectorConfig settings_;
  std::unique_ptr<csv_folder::OutboxRecordSink> sink_;
  std::unique_ptr<csv_folder::CsvFolderConnector> connector_;
  std::unique_ptr<WatchFd> watch_fd_;
  bool fd_armed_ = false;
  bool drain_often_ = false;  // the watcher has events but no descriptor (Windows)
  bool stopping_ = false;
  bool full_logged_ = false;
  std::string published_;  // the faults last handed to the hook
  bool chain_running_ = false;                              // a posted slice is pending
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted slices outlive nothing
};

IngestDriver::IngestDriver(asio::io_context& disk, outbox::Outbox* outbox, const Clock* clock,
                           std::shared_ptr<spdlog::logger> logger, IngestHooks hooks)
    : impl_(std::make_shared<Impl>(disk, outbox, clock, std::move(logger), std::move(hooks))) {}

IngestDriver::~IngestDriver() {
  if (impl_) impl_->Stop();
}

Status IngestDriver::Start(const config::ConnectorConfig& settings, uint64_t max_size_mb, uint64_t min_free_mb) {
  return impl_->Start(settings, max_size_mb, min_free_mb);
}

void IngestDriver::Stop() { impl_->Stop(); }
void IngestDriver::RetryNow() { impl_->RetryNow(); }

}  // namespace opescare::app
