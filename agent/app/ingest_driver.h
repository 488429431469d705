// The ingest driver: runs the CSV folder connector on the disk thread — waits for folder events or the
// connector's next wake-up, then works in slices (about 50 ms each), posting the next slice so that
// delivery, the watchdog's probe and a stop are served in between — and reports each file's outcome.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/connector_fault.h"
#include "agent/connectors/csv_folder/file_processor.h"
#include "agent/outbox/outbox.h"
#include "agent/util/clock.h"
#include "agent/util/status.h"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace opescare::app {

struct IngestHooks {
  // After each file's outcome, on the disk thread. inserted: records newly in the outbox.
  std::function<void(const csv_folder::FileOutcome& outcome, int64_t inserted)> on_outcome;
  // The watch folder's faults whenever they change (all of them, oldest first), on the disk thread.
  std::function<void(const std::vector<csv_folder::ConnectorFault>& faults)> on_faults;
};

// Threads: every method runs on the disk thread (the io_context given), which also runs the driver's
// handlers. The outbox and clock are borrowed and must outlive the driver.
class IngestDriver {
 public:
  IngestDriver(boost::asio::io_context& disk, outbox::Outbox* outbox, const Clock* clock,
               std::shared_ptr<spdlog::logger> logger, IngestHooks hooks);
  ~IngestDriver();
  IngestDriver(const IngestDriver&) = delete;
  IngestDriver& operator=(const IngestDriver&) = delete;

  // (Re)starts the connector with these settings; a running one is stopped only once they are valid.
  // max_size_mb and min_free_mb: the outbox's caps (outbox.*) above which files wait in the folder.
  Status Start(const config::ConnectorConfig& settings, uint64_t max_size_mb, uint64_t min_free_mb);
  // Stops taking files (a file being read finishes its transaction or rolls back: never half-queued).
  void Stop();
  // Files waiting for a retry (e.g. for room in the outbox) are tried now.
  void RetryNow();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace opescare::app
