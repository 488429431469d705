// OutboxRecordSink: the RecordSink that queues a file's records in the SQLite outbox, one streaming
// EnqueueTransaction per file (synchronous=FULL at commit), with the file's hash in the same transaction.
#pragma once

#include <cstdint>
#include <memory>

#include "agent/connectors/csv_folder/record_sink.h"
#include "agent/outbox/outbox.h"

namespace opescare::csv_folder {

// Same threading as the Outbox it borrows (one thread, the disk worker); must not outlive it.
class OutboxRecordSink final : public RecordSink {
 public:
  // max_size_mb: outbox.max_size_mb, the soft cap above which files wait (0: no cap); min_free_mb:
  // outbox.min_free_mb, the free space the outbox's volume keeps for delivery (0: no watermark).
  OutboxRecordSink(outbox::Outbox* outbox, uint64_t max_size_mb, uint64_t min_free_mb = 0)
      : outbox_(outbox), max_size_mb_(max_size_mb), min_free_mb_(min_free_mb) {}

  Result<bool> IsFull() override;
  Result<bool> HasFile(const std::string& sha256) override;
  Status BeginFile(const FileInfo& file) override;
  Status Add(const Record& record) override;
  Status CommitFile(const FileTotals& totals) override;
  void AbortFile() override;
  Status CommitSlice(const SliceProgress& progress) override;
  Result<uint64_t> ResumePoint(const std::string& sha256) override;
  // Why IsFull last said true, in words for the log and the status page ("" when it said false).
  const std::string& full_reason() const { return full_reason_; }

  // Records the outbox already held by id (a re-ingest after a crash before the hash was committed).
  int64_t last_skipped() const { return last_skipped_; }

 private:
  outbox::Outbox* outbox_;
  uint64_t max_size_mb_;
  uint64_t min_free_mb_;
  std::string full_reason_;
  std::unique_ptr<outbox::EnqueueTransaction> txn_;
  FileInfo file_;
  outbox::Record record_;  // reused: no allocation per record once warmed up
  int64_t last_skipped_ = 0;
};

}  // namespace opescare::csv_folder
