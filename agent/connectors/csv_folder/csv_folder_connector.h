// CsvFolderConnector: the watch folder (CSV.md "A file's life"): finds exports (watcher events plus a
// periodic scan), waits for them to settle, hands them out in arrival order, and runs each through the
// FileProcessor, retrying later what cannot be done now.
//
// Threading contract: not thread-safe. Every call is made from ONE thread, the disk worker (the thread
// that owns the outbox's write connection), except FolderWatcher::Wake through Wake(). Two ways to drive it:
//  - event loop: the io thread waits for NewWatchFd() to become readable (e.g. asio posix::stream_descriptor
//    async_wait(wait_read)) or for a timer at NextWakeup(), then posts to the worker: `for (p : Poll())
//    ProcessFile(p);` and re-arms the wait after that work is done (the fd stays readable until Poll drains
//    it). It never reads that descriptor itself.
//  - a plain thread: `while (running) { Wait(until NextWakeup()); for (p : Poll()) ProcessFile(p); }` with
//    Wake() from another thread to stop it.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/connector_fault.h"
#include "agent/connectors/csv_folder/file_job.h"
#include "agent/connectors/csv_folder/file_processor.h"
#include "agent/connectors/csv_folder/settle.h"
#include "agent/env/env.h"
#include "agent/util/clock.h"

namespace opescare::csv_folder {

using env::FolderWatcher;
using env::NewScanOnlyWatcher;
using env::WatchEvents;

struct ConnectorOptions {
  std::string watch_folder = "./data/incoming";
  std::string file_pattern = "*.csv";              // glob, case-insensitive
  std::chrono::milliseconds settle{2000};          // size and mtime unchanged this long before reading
  std::chrono::milliseconds scan_interval{30000};  // backstop listing besides watcher events
  std::chrono::milliseconds retry_initial{1000};   // first retry of a file that could not be done
  std::chrono::milliseconds retry_max{60000};      // retries back off up to this
  std::chrono::hours keep_processed{24 * 30};      // processed/ and failed/ files older are removed; 0 keeps
  ProcessorOptions processing;                     // folders, types, encoding, delimiter, dates
};

// connector.* of the configuration (with DefaultRecordTypes() when record_types is empty, and
// <watch_folder>/processed, <watch_folder>/failed when those are empty). Errors name the key.
Result<ConnectorOptions> ConnectorOptionsFromConfig(const config::ConnectorConfig& config);

class CsvFolderConnector {
 public:
  // Borrows sink and clock. watcher: nullptr for options.processing.env's (inotify on Linux).
  CsvFolderConnector(ConnectorOptions options, RecordSink* sink, const Clock* clock,
                     std::unique_ptr<FolderWatcher> watcher = nullptr);
  ~CsvFolderConnector();
  CsvFolderConnector(const CsvFolderConnector&) = delete;
  CsvFolderConnector& operator=(const CsvFolderConnector&) = delete;

  // Creates the folders, starts the watcher and lists the folder. If the watcher cannot start (e.g. the
  // inotify limits), the connector carries on with scans alone and watcher_status() says why.
  Status Start();
  void Stop();

  // A new descriptor (the caller closes it) readable when watcher events are pending, or -1 (FolderWatcher).
  int NewWatchFd() const { return watcher_->NewWaitFd(); }
  // Blocks until a watcher event, Wake(), or the timeout; feeds what it learnt to the next Poll().
  Status Wait(std::chrono::milliseconds timeout);
  // Thread-safe: makes a blocked Wait() return.
  void Wake() { watcher_->Wake(); }

  // Takes pending watcher events, lists the folder when the scan is due, stat()s every waiting file, and
  // returns the paths ready to process, in arrival order (mtime, then name).
  std::vector<std::string> Poll();
  // When Poll() should run next if no event comes first (a settle deadline, a retry, the next scan).
  std::chrono::steady_clock::time_point NextWakeup() const;

  // Runs one ready file through the FileProcessor and updates the waiting list: done files are dropped,
  // others are retried with backoff (RetryNow() cuts the wait short, e.g. once the outbox has room).
  FileOutcome ProcessFile(const std::string& path, const ProgressCallback& progress = {});
  void RetryNow();

  // The watcher's way (ARCHITECTURE.md "Threads"): at most one slice of work, then it returns. Ready files
  // are taken one after another, each in slices (FileJob); `finished` holds a file's outcome when one ended
  // in this slice, and `more` says whether work remains now (the caller posts the next slice, so other
  // handlers — delivery, the watchdog's probe, a stop — run in between). A stop between slices leaves the
  // slice in progress uncommitted for the next start.
  struct Slice {
    std::optional<FileOutcome> finished;
    bool more = false;
  };
  Slice RunSlice(const SliceBudget& budget);

  // Files seen and not yet dealt with (settling, ready, or waiting for a retry).
  size_t waiting_files() const { return settle_.size(); }
  const Status& watcher_status() const { return watcher_status_; }
  // The watch folder's faults now (connector_fault.h), oldest first.
  std::vector<ConnectorFault> faults() const;
  // Faults found since the last call, to be logged once each.
  std::vector<ConnectorFault> TakeNewFaults();
  // Files removed from processed/ and failed/ for their age since the last call (CSV.md step 7).
  size_t TakeRemovedOldFiles();
  const ConnectorOptions& options() const { return options_; }

 private:
  void Note(const std::vector<std::string>& names);
  void Scan();
  // Drops a file dealt with from the waiting list, or schedules its retry with backoff.
  void Settled(const std::string& path, const FileOutcome& outcome);
  void Raise(ConnectorFault fault);
  void RemoveOldFiles();

  ConnectorOptions options_;
  const Clock* clock_;
  std::unique_ptr<FolderWatcher> watcher_;
  FileProcessor processor_;
  SettleTracker settle_;
  struct Retry {
    std::chrono::steady_clock::time_point at;
    std::chrono::milliseconds delay{0};
  };
  std::map<std::string, Retry> retries_;
  std::vector<std::string> noted_;  // names from events, stat()ed at the next Poll
  std::deque<std::string> ready_;   // paths Poll() found ready, taken by RunSlice in order
  std::unique_ptr<FileJob> job_;    // the file RunSlice is working on
  std::map<std::string, ConnectorFault> faults_;  // by path
  std::vector<ConnectorFault> new_faults_;
  std::chrono::steady_clock::time_point next_cleanup_{};
  size_t removed_old_files_ = 0;
  bool scan_due_ = true;
  std::chrono::steady_clock::time_point next_scan_{};
  Status watcher_status_;
};

}  // namespace opescare::csv_folder
