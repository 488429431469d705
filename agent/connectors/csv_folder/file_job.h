// FileJob: one CSV file's life (CSV.md steps 3-6) done in slices, so that a large file or a backlog never
// holds the disk thread: each Step() does at most a budget of work and returns, and the driver posts the
// next one (ARCHITECTURE.md "Threads"). A file larger than one slice is queued in several transactions,
// each committed with the file's progress, so that after a crash the rest is queued exactly once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/connectors/csv_folder/file_processor.h"

namespace opescare::csv_folder {

// How much one Step() may do before it returns: whichever limit comes first.
struct SliceBudget {
  uint64_t max_rows = 5000;                   // data rows parsed
  uint64_t max_bytes = 8u << 20;              // bytes hashed
  std::chrono::milliseconds max_time{50};     // measured on the clock's steady time
  static SliceBudget Unlimited();             // the whole file in one Step (one transaction)
};

// Not thread-safe: created, stepped and destroyed on the connector's disk worker. Borrows the options,
// sink and clock, which must outlive it. Destroying an unfinished job rolls back only its current slice.
class FileJob {
 public:
  FileJob(const ProcessorOptions& options, RecordSink* sink, const Clock* clock, std::string path,
          ProgressCallback progress = {});
  ~FileJob();
  FileJob(const FileJob&) = delete;
  FileJob& operator=(const FileJob&) = delete;

  // Does the next slice of work; true once the file is dealt with for now (outcome() is final: queued,
  // duplicate, rejected, or retry later), false when more work remains.
  bool Step(const SliceBudget& budget);
  const FileOutcome& outcome() const { return out_; }
  const std::string& path() const { return path_; }

  struct State;

 private:
  bool Start();
  bool Hash(const SliceBudget& budget);
  bool Parse(const SliceBudget& budget);
  bool Finish();
  bool Reject(const std::vector<RowError>& problems);
  bool RetryLater(Status why);
  bool FolderRetry(std::string what, Status why);  // RetryLater, the watch folder's side being at fault
  void MoveTo(const std::string& folder);
  void Report(int phase, uint64_t done);

  const ProcessorOptions& options_;
  RecordSink* sink_;
  const Clock* clock_;
  std::string path_;
  ProgressCallback progress_;
  FileOutcome out_;
  std::unique_ptr<State> st_;
};

}  // namespace opescare::csv_folder
