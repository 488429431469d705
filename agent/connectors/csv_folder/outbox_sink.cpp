// RecordSink over the SQLite outbox.
#include "agent/connectors/csv_folder/outbox_sink.h"

namespace opescare::csv_folder {

Result<bool> OutboxRecordSink::IsFull() {
  full_reason_.clear();
  if (max_size_mb_ > 0) {
    Result<bool> full = outbox_->IsFull(max_size_mb_);
    if (!full.ok() || *full) {
      if (full.ok()) full_reason_ = "the outbox is above outbox.max_size_mb (" + std::to_string(max_size_mb_) + " MiB)";
      return full;
    }
  }
  Result<outbox::SpaceReport> space = outbox_->CheckSpace(min_free_mb_);
  if (!space.ok()) return space.status();
  if (space->below_watermark) {
    full_reason_ = "the outbox's disk has " + std::to_string(space->free_bytes >> 20) +
                   " MiB free, below outbox.min_free_mb (" + std::to_string(min_free_mb_) + " MiB)";
    return true;
  }
  return false;
}

Result<bool> OutboxRecordSink::HasFile(const std::string& sha256) { return outbox_->HasFile(sha256); }

Status OutboxRecordSink::BeginFile(const FileInfo& file) {
  if (txn_) return Internal("OutboxRecordSink: BeginFile while a file is open");
  Result<std::unique_ptr<outbox::EnqueueTransaction>> txn = outbox_->BeginEnqueue();
  if (!txn.ok()) return txn.status();
  txn_ = std::move(*txn);
  file_ = file;
  return Status::Ok();
}

Status OutboxRecordSink::Add(const Record& record) {
  if (!txn_) return Internal("OutboxRecordSink: Add without BeginFile");
  record_.id = record.id;
  record_.type = record.type;
  record_.data_json = record.data_json;
  record_.source_file = record.source_file;
  record_.source_row = record.source_row;
  return txn_->Add(record_);
}

Status OutboxRecordSink::CommitFile(const FileTotals& totals) {
  if (!txn_) return Internal("OutboxRecordSink: CommitFile without BeginFile");
  outbox::FileInfo info;
  info.sha256 = file_.sha256;
  info.name = file_.name;
  info.rows_ok = static_cast<int64_t>(totals.rows_ok);
  info.rows_failed = static_cast<int64_t>(totals.rows_failed);
  Result<outbox::EnqueueCounts> counts = txn_->Commit(info);
  txn_.reset();
  if (!counts.ok()) return counts.status();
  last_skipped_ = counts->skipped;
  return Status::Ok();
}

void OutboxRecordSink::AbortFile() { txn_.reset(); }  // destroying an uncommitted transaction rolls it back

Status OutboxRecordSink::CommitSlice(const SliceProgress& progress) {
  if (!txn_) return Internal("OutboxRecordSink: CommitSlice without BeginFile");
  outbox::FileProgress p;
  p.sha256 = file_.sha256;
  p.name = file_.name;
  p.rows_done = static_cast<int64_t>(progress.rows_done);
  p.rows_ok = static_cast<int64_t>(progress.rows_ok);
  p.rows_failed = static_cast<int64_t>(progress.rows_failed);
  return txn_->CommitSlice(p);
}

Result<uint64_t> OutboxRecordSink::ResumePoint(const std::string& sha256) {
  Result<std::optional<outbox::FileProgress>> p = outbox_->GetFileProgress(sha256);
  if (!p.ok()) return p.status();
  if (!p->has_value() || (*p)->rows_done < 0) return uint64_t{0};
  return static_cast<uint64_t>((*p)->rows_done);
}

}  // namespace opescare::csv_folder
