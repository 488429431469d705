// Internal to agent/outbox: the SQLite implementation of Outbox, split over sqlite_outbox*.cpp by concern
// (opening and state, enqueue, batches, dead letters).
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "agent/outbox/outbox.h"
#include "agent/outbox/sqlite_db.h"

namespace opescare::outbox::internal {

int64_t ToMillis(TimePoint t);
TimePoint FromMillis(int64_t ms);

// A run of consecutive seqs: a batch is a list of them (schema.cpp, version 3).
struct SeqRange {
  int64_t first = 0;
  int64_t last = 0;
};

// A change to the counters row (schema.cpp), applied in the transaction of the write it describes.
struct CounterDelta {
  int64_t queued = 0, queued_bytes = 0;
  int64_t batched = 0, batched_bytes = 0;
  int64_t batches = 0;
  int64_t dead = 0;
  int64_t files = 0;
};

// A batch's row in the batches table.
struct BatchRow {
  int64_t created_at = 0;
  int64_t attempts = 0;
  int64_t next_attempt_at = 0;
  std::string last_error;
  int64_t record_count = 0;
  int64_t bytes = 0;
};

class SqliteOutbox final : public Outbox {
 public:
  SqliteOutbox(std::unique_ptr<Database> db, const Clock* clock);
  ~SqliteOutbox() override;

  Result<std::unique_ptr<EnqueueTransaction>> BeginEnqueue() override;
  Result<EnqueueCounts> Enqueue(const std::vector<Record>& records, const std::optional<FileInfo>& file) override;
  Result<bool> HasFile(const std::string& sha256) override;
  Result<std::optional<FileProgress>> GetFileProgress(const std::string& sha256) override;
  Result<std::vector<IngestedFile>> ListFiles(size_t limit) override;

  Result<NextBatch> NextDueBatch(TimePoint now, const BatchLimits& limits) override;
  Result<AckCounts> AckAll(const std::string& batch_id) override;
  Result<AckCounts> AckPartial(const std::string& batch_id, const std::vector<std::string>& accepted,
                               const std::vector<Rejection>& rejected) override;
  Result<AckAndNext> AckAndNextDueBatch(const BatchAck& ack, TimePoint now, const BatchLimits& limits) override;
  Status RescheduleBatch(const std::string& batch_id, TimePoint next_attempt_at, const std::string& error,
                         bool count_attempt) override;
  Result<SplitResult> SplitBatch(const std::string& batch_id) override;
  Status DeadLetterBatch(const std::string& batch_id, const std::string& error, const std::string& message) override;
  void ReleaseBatch(const std::string& batch_id) override { in_flight_.erase(batch_id); }

  Result<std::vector<DeadLetter>> ListDeadLetters(const DeadLetterQuery& query) override;
  Result<int64_t> RequeueDeadLetters(const std::vector<std::string>& ids) override;
  Result<int64_t> RequeueAllDeadLetters() override;
  Result<int64_t> PurgeDeadLetters(const std::vector<std::string>& ids) override;
  Result<int64_t> PurgeAllDeadLetters() override;

  Result<Stats> GetStats() override;
  Result<bool> IsFull(uint64_t max_size_mb) override;
  Result<std::optional<std::string>> GetMeta(const std::string& key) override;
  Status SetMeta(const std::string& key, const std::string& value) override;
  Status DeleteMeta(const std::string& key) override;
  Result<SpaceReport> CheckSpace(uint64_t min_free_mb) override;
  Status IntegrityCheck() override;
  void ReleaseMemory() override { sqlite3_db_release_memory(db_->handle()); }
  const std::string& path() const override { return db_->path(); }

  // Sets up the reserve file (path + ".reserve") of `bytes`, made now if the volume has room (never fails).
  void InitReserve(uint64_t bytes);

 private:
  friend class SqliteEnqueueTransaction;

  static const Status& StatusOf(const Status& s) { return s; }
  template <typename T>
  static const Status& StatusOf(const Result<T>& r) {
    return r.status();
  }
  // Runs a delivery-side write; when it fails for want of room (SQLITE_FULL) and the reserve is held, deletes
  // the reserve and runs it once more, so that an ack, a split or a dead-letter move commits on a full disk.
  template <typename F>
  auto WithReserve(F&& write) -> decltype(write()) {
    auto result = write();
    if (StatusOf(result).code() != Code::kResourceExhausted || !ReleaseReserve()) return result;
    return write();
  }
  // Deletes the reserve file; false when none was held (or it could not be deleted).
  bool ReleaseReserve();
  // Makes the reserve file; Ok when it is held afterwards.
  Status MakeReserve();
  // Ok when ingest may write: no reserve is configured, or it is held (made again now if it was released).
  // Ingest never takes the room a released reserve gave to delivery.
  Status ReserveHeldForIngest();

  // The writes WithReserve wraps (the public calls of the same name).
  Result<NextBatch> NextDueBatchOnce(TimePoint now, const BatchLimits& limits);
  Result<AckCounts> AckOnce(const BatchAck& ack);
  Result<AckAndNext> AckAndNextOnce(const BatchAck& ack, TimePoint now, const BatchLimits& limits);
  Status RescheduleBatchOnce(const std::string& batch_id, TimePoint next_attempt_at, const std::string& error,
                             bool count_attempt);
  Result<SplitResult> SplitBatchOnce(const std::string& batch_id);
  Status DeadLetterBatchOnce(const std::string& batch_id, const std::string& error, const std::string& message);
  Status SetMetaOnce(const std::string& key, const std::string& value);
  Status DeleteMetaOnce(const std::string& key);

  // --- Inside the caller's write transaction (sqlite_outbox_batches.cpp, sqlite_outbox_acks.cpp) ---
  // The next batch (see NextDueBatch); *new_floor receives the pending floor to keep once it commits.
  Result<NextBatch> NextDueBatchInTxn(TimePoint now, const BatchLimits& limits, int64_t* new_floor);
  // The ack; *lowest_returned receives the lowest seq it returned to pending (INT64_MAX: none).
  Result<AckCounts> AckInTxn(const BatchAck& ack, int64_t* lowest_returned);
  // After a commit: what the in-memory state learns from it.
  void AfterNext(const NextBatch& next, int64_t new_floor);

  // Ok unless an enqueue transaction is open on this connection (its uncommitted rows would be seen).
  Status Usable() const;
  // Usable(), not read-only, and PRAGMA synchronous set for the coming write.
  Status Writable(bool synchronous_full);
  int64_t NowMillis() const { return ToMillis(clock_->Now()); }
  Status BatchNotFound(const std::string& batch_id) const;
  Result<BatchRow> LoadBatchRow(const std::string& batch_id);
  Result<std::vector<SeqRange>> LoadRanges(const std::string& batch_id);
  Result<Batch> LoadBatch(const std::string& batch_id);
  // Reads the records of `ranges` in queue order, calling visit(seq, record, size) for each.
  // with_payload=false fills only the record's id.
  using RecordVisitor = std::function<Status(int64_t seq, const Record& record, int64_t size)>;
  Status ForEachRecord(const std::vector<SeqRange>& ranges, bool with_payload, const RecordVisitor& visit);
  // Records a new batch (its row and ranges) and counts it.
  Status InsertBatch(const std::string& batch_id, const BatchRow& row, const std::vector<SeqRange>& ranges);
  // Removes a batch's row and ranges (not its records) and counts it gone.
  Status DropBatch(const std::string& batch_id, const BatchRow& row);
  // Deletes the records of `ranges`; returns how many.
  Result<int64_t> DeleteRanges(const std::vector<SeqRange>& ranges);
  // Copies the record at seq into dead letters with the server's error (replacing a dead letter of the same id);
  // true when it is a new dead letter.
  Result<bool> CopyToDeadLetters(int64_t seq, const std::string& error, const std::string& message, int64_t now);
  Status DeleteRecord(int64_t seq);
  // Forms and persists a batch from the oldest pending records; no batch when nothing is pending.
  Result<std::optional<Batch>> FormBatch(TimePoint now, const BatchLimits& limits, int64_t* new_floor);
  // Adds `delta` to the counters row.
  Status ApplyCounters(const CounterDelta& delta);
  // Resets the pending floor when another connection committed since we last looked (it may have queued
  // or re-queued records below the floor). Call inside a transaction.
  Status CheckOtherWriters();
  void LowerPendingFloor(int64_t seq) { pending_floor_ = std::min(pending_floor_, seq); }
  Result<int64_t> RunCounting(const char* sql, std::string_view arg, std::string_view what);
  Result<int64_t> MoveDeadLetters(const std::vector<std::string>* ids, bool requeue);

  std::unique_ptr<Database> db_;
  SystemClock system_clock_;
  const Clock* clock_;
  std::unordered_set<std::string> in_flight_;  // batches handed out and not yet resolved (memory only)
  // Every pending record has seq >= pending_floor_, so forming a batch starts there, not at the head.
  // Raised past each formed batch; lowered when records become pending below it (own enqueue into reused
  // rowids, partial ack, requeue) and reset to 0 on open or when another connection wrote.
  int64_t pending_floor_ = 0;
  int64_t data_version_ = -1;  // PRAGMA data_version last seen: changes when another connection commits
  bool enqueue_open_ = false;
  std::string reserve_path_;  // empty: no reserve (read-only, or reserve_bytes 0)
  uint64_t reserve_bytes_ = 0;
  bool reserve_held_ = false;
};

}  // namespace opescare::outbox::internal
