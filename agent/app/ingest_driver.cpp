// The ingest driver (ingest_driver.h): the connector's event loop on the disk thread.
#include "agent/app/ingest_driver.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "agent/connectors/csv_folder/csv_folder_connector.h"
#include "agent/connectors/csv_folder/outbox_sink.h"

namespace opescare::app {

namespace asio = boost::asio;

class IngestDriver::Impl {
 public:
  Impl(asio::io_context& disk, outbox::Outbox* outbox, const Clock* clock, std::shared_ptr<spdlog::logger> logger,
       IngestHooks hooks)
      : disk_(disk), outbox_(outbox), clock_(clock), log_(std::move(logger)), hooks_(std::move(hooks)), timer_(disk) {}

  Status Start(const config::ConnectorConfig& settings, uint64_t max_size_mb) {
    auto options = csv_folder::ConnectorOptionsFromConfig(settings);
    if (!options.ok()) return options.status();
    Stop();
    settings_ = settings;
    max_size_mb_ = max_size_mb;
    sink_ = std::make_unique<csv_folder::OutboxRecordSink>(outbox_, max_size_mb);
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
    if (connector_->WatchFd() >= 0) {
      int fd = ::dup(connector_->WatchFd());  // the descriptor object owns its copy
      if (fd >= 0) watch_fd_ = std::make_unique<asio::posix::stream_descriptor>(disk_, fd);
    }
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
      watch_fd_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        fd_armed_ = false;
        if (!ec) Tick();
      });
    }
    timer_.expires_at(connector_->NextWakeup());
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Tick();
    });
  }

  void Tick() {
    if (!connector_ || stopping_) return;
    for (const std::string& path : connector_->Poll()) {
      if (stopping_) break;
      csv_folder::FileOutcome out = connector_->ProcessFile(path);
      Report(out);
    }
    Arm();
  }

  // Logs the outcome (ingest paused on a full outbox said once when it pauses and once when it resumes:
  // every retry while delivery drains is not news) and hands it on.
  void Report(const csv_folder::FileOutcome& out) {
    using Kind = csv_folder::FileOutcome::Kind;
    int64_t inserted = out.kind == Kind::kQueued ? static_cast<int64_t>(out.rows_ok) - sink_->last_skipped() : 0;
    const bool full = out.kind == Kind::kRetryLater && out.status.code() == Code::kResourceExhausted;
    if (full) {
      if (!full_logged_)
        log_->warn("connector: ingest paused: the outbox is above outbox.max_size_mb ({} MiB); files wait in {} "
                   "until delivery frees room",
                   max_size_mb_, settings_.watch_folder);
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
      log_->info("connector: ingest resumed: the outbox has room again");
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
  uint64_t max_size_mb_ = 0;
  std::unique_ptr<csv_folder::OutboxRecordSink> sink_;
  std::unique_ptr<csv_folder::CsvFolderConnector> connector_;
  std::unique_ptr<asio::posix::stream_descriptor> watch_fd_;
  bool fd_armed_ = false;
  bool stopping_ = false;
  bool full_logged_ = false;
};

IngestDriver::IngestDriver(asio::io_context& disk, outbox::Outbox* outbox, const Clock* clock,
                           std::shared_ptr<spdlog::logger> logger, IngestHooks hooks)
    : impl_(std::make_shared<Impl>(disk, outbox, clock, std::move(logger), std::move(hooks))) {}

IngestDriver::~IngestDriver() {
  if (impl_) impl_->Stop();
}

Status IngestDriver::Start(const config::ConnectorConfig& settings, uint64_t max_size_mb) {
  return impl_->Start(settings, max_size_mb);
}

void IngestDriver::Stop() { impl_->Stop(); }
void IngestDriver::RetryNow() { impl_->RetryNow(); }

}  // namespace opescare::app
