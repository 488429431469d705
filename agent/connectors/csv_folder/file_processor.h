// FileProcessor: one CSV file's life, CSV.md steps 3-6 — hash, duplicate check, parse and validate,
// errors report, one transaction into the RecordSink, then the move to processed/ or failed/.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/connectors/csv_folder/csv_reader.h"
#include "agent/connectors/csv_folder/field_rules.h"
#include "agent/connectors/csv_folder/record_sink.h"
#include "agent/connectors/csv_folder/record_stream.h"
#include "agent/connectors/csv_folder/record_types.h"
#include "agent/connectors/csv_folder/text_encoding.h"
#include "agent/env/env.h"
#include "agent/util/clock.h"
#include "agent/util/status.h"

namespace opescare::csv_folder {

struct ProcessorOptions {
  std::string processed_folder;  // must exist (FileProcessor::PrepareFolders creates both)
  std::string failed_folder;
  RecordTypeTable types;
  Encoding encoding = Encoding::kAuto;  // kAuto: decided per file while hashing (Utf8Scanner::Verdict)
  char delimiter = 0;                   // 0: sniffed from each file's header
  DateFormat date_format = DateFormat::kIso;
  CsvLimits limits;
  // false: the file is left where it is (its errors report is still written). The watcher always moves.
  bool move_source = true;
  // Test hook, called with the file's path after its records are committed and before it is moved (the
  // crash-between-commit-and-move test pauses here; see PauseHookFromEnv). Empty: none.
  std::function<void(const std::string& path)> after_commit;
  // Every file and folder call goes through it (borrowed; tests pass a FaultEnv).
  env::Env* env = env::Env::Default();
};

struct IngestProgress {
  enum class Phase { kHashing, kParsing, kDone };
  Phase phase = Phase::kHashing;
  uint64_t bytes_done = 0;   // of the current phase
  uint64_t bytes_total = 0;  // the file's size
  uint64_t rows_ok = 0;
  uint64_t rows_failed = 0;
};
// Called on the processing thread about every MiB and at each phase's end.
using ProgressCallback = std::function<void(const IngestProgress&)>;

struct FileOutcome {
  enum class Kind {
    kQueued,      // rows_ok records committed
    kDuplicate,   // the outbox already held this content; nothing queued
    kRejected,    // nothing valid to queue: moved to failed/ with its report
    kRetryLater,  // nothing done; the file stays in the watch folder (status says why)
  };
  Kind kind = Kind::kRetryLater;
  // OK when the file is dealt with for good. Otherwise it still needs an attempt later: kRetryLater always,
  // or a move that failed after the commit (the next attempt finds the hash and only moves the file).
  // kNotFound: the file vanished; kResourceExhausted: the outbox is full.
  Status status;
  std::string file_name;
  std::string sha256;       // when hashed
  std::string record_type;  // when known
  uint64_t bytes = 0;
  uint64_t rows_ok = 0;
  uint64_t rows_failed = 0;
  uint64_t rows_added = 0;  // records this attempt added (rows_ok less those an interrupted attempt queued)
  std::string moved_to;     // the file's new path ("" when it did not move)
  // When status failed on the watch folder's side (a move, the errors report, reading the file): what, in
  // words, e.g. "cannot move patients.csv to /srv/exports/processed". Empty for outbox-side failures.
  std::string folder_problem;
  std::string report_path;  // failed/<name>.errors.csv when one was written
  // kRejected: why, in words fit for the status page: a file-level problem (unknown type, missing column)
  // or the count of failed rows. Column names and row numbers only, never a cell's value.
  std::string reason;
  // One line for logs and the status page; names, counts and reasons, never cell values.
  std::string Summary() const;
};

// Not thread-safe: one file at a time, on the connector's disk worker. Borrows sink and clock.
class FileProcessor {
 public:
  FileProcessor(ProcessorOptions options, RecordSink* sink, const Clock* clock);

  // Creates processed/ and failed/ if missing.
  Status PrepareFolders() const;

  // The whole file in one go (one transaction): `enqueue` and the tests. The watcher uses FileJob slices.
  FileOutcome Process(const std::string& path, const ProgressCallback& progress = {});

  const ProcessorOptions& options() const { return options_; }
  RecordSink* sink() const { return sink_; }
  const Clock* clock() const { return clock_; }

 private:
  ProcessorOptions options_;
  RecordSink* sink_;
  const Clock* clock_;
};

// The after_commit hook for end-to-end tests, or an empty function: when the environment variable
// OB_TEST_PAUSE_AFTER_COMMIT names a flag file, the hook writes the committed file's path into that flag
// file and waits (up to 10 minutes) until the test deletes it (or kills the agent).
std::function<void(const std::string& path)> PauseHookFromEnv();

}  // namespace opescare::csv_folder
