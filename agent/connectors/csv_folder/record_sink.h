// RecordSink: where a CSV file's records go (the outbox, adapted by the app; a fake in tests). A file is
// one transaction: BeginFile, Add per record (streamed, never held in memory), then CommitFile or AbortFile.
#pragma once

#include <cstdint>
#include <string>

#include "agent/util/status.h"

namespace opescare::csv_folder {

// One record as PROTOCOL.md sends it.
struct Record {
  std::string id;           // "r_" + 32 hex (record_id.h)
  std::string type;         // e.g. "patient"
  std::string source_file;  // the file's name as dropped, e.g. "patients_20261129.csv"
  int64_t source_row = 0;   // the row number (csv_reader.h: physical line where the row starts; header = 1)
  std::string data_json;    // a JSON object of strings, e.g. {"first_name":"Marie","dob":"1990-07-22"}
};

struct FileInfo {
  std::string name;    // as dropped, without the folder
  std::string sha256;  // hex of the whole file's bytes
  uint64_t size_bytes = 0;
  std::string record_type;
};

struct FileTotals {
  uint64_t rows_ok = 0;      // records added
  uint64_t rows_failed = 0;  // rows reported in the errors file
};

// How far a file queued in slices got: the rows consumed so far, in file order (CSV.md "A file's life").
struct SliceProgress {
  uint64_t rows_done = 0;  // rows_ok + rows_failed
  uint64_t rows_ok = 0;
  uint64_t rows_failed = 0;
};

// Called from one thread (the connector's disk worker). Statuses say whether to retry: kResourceExhausted
// (outbox full) and kUnavailable/kIoError leave the file in the watch folder for a later attempt.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // True while the outbox is above its size cap: new files wait in the watch folder. An error also makes
  // the file wait (and says why).
  virtual Result<bool> IsFull() = 0;
  // Whether a file with this SHA-256 has already been committed.
  virtual Result<bool> HasFile(const std::string& sha256) = 0;
  // Opens the file's transaction. Called only when the file has at least one valid record.
  virtual Status BeginFile(const FileInfo& file) = 0;
  // Adds a record to the open transaction. The record is only borrowed for the call.
  virtual Status Add(const Record& record) = 0;
  // Commits the records and the file's hash together, durably (synchronous=FULL): when this returns OK,
  // the file's rows are queued even if the power fails next.
  virtual Status CommitFile(const FileTotals& totals) = 0;
  // Rolls the open transaction back (after an error or a file that changed while being read); with slices,
  // only what was added since the last CommitSlice.
  virtual void AbortFile() = 0;
  // Commits the records added so far together with the file's progress, durably; the file stays open for
  // more records. A sink that cannot queue in slices refuses (FileJob then needs an unlimited budget).
  virtual Status CommitSlice(const SliceProgress& progress) {
    (void)progress;
    return FailedPrecondition("this sink cannot queue a file in slices");
  }
  // rows_done of this file's last committed slice when an earlier attempt was interrupted; 0 when none.
  virtual Result<uint64_t> ResumePoint(const std::string& sha256) {
    (void)sha256;
    return uint64_t{0};
  }
};

}  // namespace opescare::csv_folder
