// RecordSink over the SQLite outbox.
#include "agent/connectors/csv_folder/outbox_sink.h"

namespace opescare::csv_folder {

Result<bool> OutboxRecordSink::IsFull() {
  if (max_size_mb_ == 0) return false;
  return outbox_->IsFull(max_size_mb_);
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

}  // namespace opescare::csv_folder
