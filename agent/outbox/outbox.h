// The outbox: the SQLite store where records wait, durably, until OpesCare confirms them (ARCHITECTURE.md
// "Durability rules", PROTOCOL.md "Sync batches"). The interface is abstract so delivery tests can use a fake.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/util/clock.h"
#include "agent/util/status.h"

namespace opescare::outbox {

using TimePoint = std::chrono::system_clock::time_point;

// Keys of the outbox's key/value metadata shared by the components (any other key may be used too).
inline constexpr char kMetaLastSyncAt[] = "last_sync_at";            // ISO 8601 of the last 2xx sync
inline constexpr char kMetaBatchMaxRecords[] = "batch_max_records";  // lowered batch size after a 413
inline constexpr char kMetaPausedReason[] = "paused_reason";         // why delivery is paused (401/403/404)
// Unix seconds of the newest server time seen over a verified connection: the certificate check's time
// floor survives a reboot with a dead CMOS battery (PROTOCOL.md "Clock").
inline constexpr char kMetaVerifiedServerTime[] = "verified_server_time";

// One record, as queued and as sent (PROTOCOL.md "Sync batches").
struct Record {
  std::string id;           // stable id (e.g. "r_<hex>"), 1..256 bytes; the server de-duplicates by it
  std::string type;         // "patient", "encounter", ... 1..64 bytes
  std::string data_json;    // the record's "data" object as JSON text ("{...}"), stored and sent verbatim
  std::string source_file;  // source file name, or "" for records queued by other means
  int64_t source_row = 0;   // row number in source_file, 0 when none
};

// The source file of an enqueue, recorded in the same transaction as its records (CSV.md step 5).
struct FileInfo {
  std::string sha256;  // hex SHA-256 of the file's bytes: the duplicate-detection key
  std::string name;
  int64_t rows_ok = 0;
  int64_t rows_failed = 0;
};

// How far a file queued in several transactions got (CSV.md "A file's life": a large file is queued in
// slices). After a crash the connector re-reads the file and skips the rows_done rows already dealt with.
struct FileProgress {
  std::string sha256;  // the file's content hash, as in FileInfo
  std::string name;
  int64_t rows_done = 0;    // data rows consumed so far (queued or reported as failed), in file order
  int64_t rows_ok = 0;      // of those, queued
  int64_t rows_failed = 0;  // of those, reported
};

// De-duplication: a file is queued at most once (its SHA-256 in FileInfo); a record whose id is among the
// dead letters is skipped (a refused record comes back only through RequeueDeadLetters). Other ids are
// not checked against the queue (that index would cost 4x on ingest and 6x on drain): with ids derived
// from the file hash and row, a repeated id means a repeated file, and the server de-duplicates by id.
struct EnqueueCounts {
  int64_t inserted = 0;
  int64_t skipped = 0;              // dead-lettered ids, or every record when the file was already known
  bool file_already_known = false;  // the FileInfo's hash was already recorded: nothing was queued
};

// A streaming enqueue: ONE write transaction (synchronous=FULL at commit) holding every record added, so a
// 200,000-row file is queued whole or not at all without being held in memory. Destroying it without a
// successful Commit rolls back what was not committed (with CommitSlice: only the current slice). It borrows
// its Outbox, must not outlive it, and while its SQLite transaction is open (from the first Add after Begin
// or a CommitSlice until the next CommitSlice or Commit) the Outbox's other calls fail with
// kFailedPrecondition (same thread, same connection); between slices they work.
class EnqueueTransaction {
 public:
  virtual ~EnqueueTransaction() = default;
  // An invalid record (empty id/type, data_json not an object, sizes above the limits) or an SQLite error
  // voids the whole transaction: everything is rolled back and Commit returns the same error.
  virtual Status Add(const Record& record) = 0;
  // Records the file's hash (if given) and commits; the durable point after which the file may be moved.
  // A hash already recorded rolls everything back and reports file_already_known (check HasFile first
  // to avoid the wasted work; this catches another process queueing the same file meanwhile).
  virtual Result<EnqueueCounts> Commit(const std::optional<FileInfo>& file = std::nullopt) = 0;
  virtual int64_t added() const = 0;  // records passed to Add so far
  // Commits the records added so far together with the file's progress (replacing that file's earlier
  // progress), durably. No SQLite transaction stays open afterwards, so the Outbox's other calls work
  // between slices; the next Add opens a new one, and Commit(file) ends the file (removing its progress
  // in the same transaction).
  virtual Status CommitSlice(const FileProgress& progress) {
    (void)progress;
    return FailedPrecondition("this outbox cannot queue a file in slices");
  }
};

struct BatchLimits {
  uint32_t max_records = 500;    // batch.max_records
  uint64_t max_bytes = 1 << 20;  // batch.max_bytes, against RecordWireSize; one record is taken even if larger
  // false (FIFO): while some batch waits for its backoff, no new batch is formed, so an outage does not
  // turn the whole queue into failing batches. true: keep forming and sending behind a waiting batch.
  bool form_while_waiting = false;
};

// A batch: its batch_id is the Idempotency-Key, fixed with its exact records until acked or split.
struct Batch {
  std::string batch_id;
  std::vector<Record> records;  // in queue order
  uint64_t bytes = 0;           // sum of RecordWireSize
  int64_t attempts = 0;         // failed attempts counted by RescheduleBatch so far
  std::string last_error;
  TimePoint created_at;
  bool newly_formed = false;  // false: a retry (or a batch persisted before a restart)
};

struct NextBatch {
  // The batch to send now. It is marked in flight (in memory only): NextDueBatch does not return it again
  // until AckAll/AckPartial/RescheduleBatch/SplitBatch/DeadLetterBatch/ReleaseBatch. A new Outbox object
  // (e.g. after a restart) has nothing in flight.
  std::optional<Batch> batch;
  // Earliest next_attempt_at of a batch waiting for its backoff (not in flight, not returned here);
  // nullopt when none waits. With no batch returned and no time here, sleep until new records arrive.
  std::optional<TimePoint> next_attempt_at;
};

// A record the server refused (PROTOCOL.md: {"id", "error", "message"}).
struct Rejection {
  std::string id;
  std::string error;    // machine code
  std::string message;  // human text
};

struct AckCounts {
  int64_t accepted = 0;  // removed from the outbox
  int64_t rejected = 0;  // moved to dead letters
  int64_t returned = 0;  // neither accepted nor rejected: back to pending, to be sent in a later batch
};

// A receipt's effect on its batch, for AckAndNextDueBatch.
struct BatchAck {
  std::string batch_id;
  // true: AckAll (2xx without "rejected", 409 duplicate_batch). false: AckPartial with the two lists.
  bool all = true;
  std::vector<std::string> accepted;
  std::vector<Rejection> rejected;
};

struct AckAndNext {
  AckCounts counts;  // what the ack did
  NextBatch next;    // what NextDueBatch(now, limits) returns once the ack is done
};

struct SplitResult {
  std::string first_batch_id;   // the first half in queue order (n/2 records)
  std::string second_batch_id;  // the rest
};

struct DeadLetter {
  std::string id;
  std::string type;
  std::string data_json;  // only when asked for (patient data: never on the status page)
  std::string source_file;
  int64_t source_row = 0;
  std::string error;    // the server's code
  std::string message;  // the server's text
  TimePoint dead_at;
};

struct DeadLetterQuery {
  size_t limit = 100;
  bool newest_first = false;
  bool include_data = false;
};

struct IngestedFile {
  std::string sha256;
  std::string name;
  int64_t rows_ok = 0;
  int64_t rows_failed = 0;
  TimePoint queued_at;
};

struct Stats {
  int64_t queued = 0;      // records not yet delivered: pending + in_batches (the heartbeat's "pending")
  int64_t pending = 0;     // records in no batch yet
  int64_t in_batches = 0;  // records in formed batches (waiting, due or in flight)
  int64_t batches = 0;
  int64_t dead = 0;                          // dead letters
  int64_t files = 0;                         // ingested files recorded
  int64_t oldest_queued_age_seconds = 0;     // age of the first queued record; 0 when empty
  std::optional<TimePoint> next_attempt_at;  // earliest next_attempt_at among batches
  uint64_t queued_bytes = 0;                 // sum of RecordWireSize over the queued records
  uint64_t pending_bytes = 0;                // of those, over the pending ones
  // Batches handed out by THIS Outbox object and not yet resolved (0 through another connection: the mark
  // lives in the agent's memory only).
  int64_t in_flight = 0;
  uint64_t file_bytes = 0;  // on disk: database file + -wal file
  uint64_t used_bytes = 0;  // pages holding data ((page_count - freelist_count) * page_size): what IsFull compares
};

// The outbox volume's free space against outbox.min_free_mb (ARCHITECTURE.md "Durability rules").
struct SpaceReport {
  uint64_t free_bytes = 0;       // available to the agent on the outbox's volume (the reserve not counted)
  uint64_t min_free_bytes = 0;   // outbox.min_free_mb in bytes
  bool below_watermark = false;  // free_bytes < min_free_bytes: the connector must not ingest (disk_full)
  // The reserve file beside the database is in place. false: it was released so that a delivery write could
  // commit on a full disk (or could not be made yet); it is made again once free space is above the
  // watermark by its own size.
  bool reserve_held = false;
  uint64_t reserve_bytes = 0;  // the reserve's size when held
};

struct OutboxOptions {
  std::string path;  // the SQLite file (outbox.path); created with mode 0600 when missing
  // Read-only: for the status page, `status`, `doctor` while the agent runs (WAL lets it read beside the
  // writer). No migration is run; write calls fail with kFailedPrecondition.
  bool read_only = false;
  const Clock* clock = nullptr;                  // borrowed, must outlive the outbox; nullptr: the system clock
  std::chrono::milliseconds busy_timeout{5000};  // wait for another connection's write lock, then kUnavailable
  int64_t cache_size_kib = 16 * 1024;            // SQLite page cache per connection
  // Hard cap on the database size (PRAGMA max_page_count); writes beyond it fail with kResourceExhausted.
  // 0: none. The soft cap is IsFull(outbox.max_size_mb), which the connector checks before ingesting.
  uint64_t hard_limit_bytes = 0;
  // A file of this many preallocated bytes beside the database (path + ".reserve", same volume), deleted
  // when a delivery write (ack, split, dead-letter, reschedule, meta) meets SQLITE_FULL so that it commits
  // on retry. 0: no reserve. Read-only outboxes never make one.
  uint64_t reserve_bytes = 8 << 20;
};

// The outbox. One Outbox object is used from ONE thread at a time (the agent's disk worker); it is not
// thread-safe. Other threads and processes open their own Outbox on the same path (the status page
// read-only, the CLI read-write); SQLite's locks serialise writers across connections (busy_timeout).
// Errors: SQLITE_FULL -> kResourceExhausted, corruption -> kDataLoss, lock timeout -> kUnavailable,
// I/O -> kIoError, each message naming the file and the fix. The database file is never deleted.
class Outbox {
 public:
  virtual ~Outbox() = default;
  Outbox() = default;
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // --- Enqueue --------------------------------------------------------------------------------------
  virtual Result<std::unique_ptr<EnqueueTransaction>> BeginEnqueue() = 0;
  // BeginEnqueue + Add each + Commit(file): all the records and the file hash, or nothing.
  virtual Result<EnqueueCounts> Enqueue(const std::vector<Record>& records,
                                        const std::optional<FileInfo>& file = std::nullopt) = 0;
  // True when a file with this SHA-256 was queued before (CSV.md step 3).
  virtual Result<bool> HasFile(const std::string& sha256) = 0;
  // The progress of a file whose queueing was interrupted (some slices committed, not the last one);
  // nullopt when none is recorded for this hash.
  virtual Result<std::optional<FileProgress>> GetFileProgress(const std::string& sha256) {
    (void)sha256;
    return std::optional<FileProgress>();
  }
  // Most recently queued files first.
  virtual Result<std::vector<IngestedFile>> ListFiles(size_t limit) = 0;

  // --- Batches --------------------------------------------------------------------------------------
  // The batch to send at `now`: a persisted batch whose next_attempt_at <= now (same batch_id, same records,
  // oldest due first), else a new batch formed from the oldest pending records within `limits` and persisted
  // under a new UUID (unless a batch waits and !limits.form_while_waiting). See NextBatch.
  virtual Result<NextBatch> NextDueBatch(TimePoint now, const BatchLimits& limits) = 0;
  // 2xx without "rejected", or 409 duplicate_batch: every record of the batch leaves the outbox.
  virtual Result<AckCounts> AckAll(const std::string& batch_id) = 0;
  // 2xx with "rejected": accepted ids leave, rejected ids move to dead letters with the server's error, any
  // other record of the batch goes back to pending (kept in queue order). Ids not in the batch are ignored.
  virtual Result<AckCounts> AckPartial(const std::string& batch_id, const std::vector<std::string>& accepted,
                                       const std::vector<Rejection>& rejected) = 0;
  // The ack (AckAll or AckPartial, as ack.all says) and then NextDueBatch(now, limits), committed in ONE
  // transaction: the pipelined drain forms the next batch in the commit that acknowledges the last. When the ack
  // fails (kNotFound for a batch already gone, ...) nothing changes and no batch is handed out. The default
  // (e.g. a test fake) makes the two calls one after the other.
  virtual Result<AckAndNext> AckAndNextDueBatch(const BatchAck& ack, TimePoint now, const BatchLimits& limits) {
    AckAndNext out;
    auto counts = ack.all ? AckAll(ack.batch_id) : AckPartial(ack.batch_id, ack.accepted, ack.rejected);
    if (!counts.ok()) return counts.status();
    out.counts = *counts;
    auto next = NextDueBatch(now, limits);
    if (!next.ok()) return next.status();
    out.next = std::move(*next);
    return out;
  }
  // Keeps the batch (same id, same records) for a retry at next_attempt_at; count_attempt=false for
  // failures that are not the batch's fault (413 handling, shutdown).
  virtual Status RescheduleBatch(const std::string& batch_id, TimePoint next_attempt_at, const std::string& error,
                                 bool count_attempt) = 0;
  // Replaces the batch by two new batches (new UUIDs, due when it was) holding its halves in queue order.
  // A single-record batch cannot split: kFailedPrecondition (dead-letter it instead if it is refused).
  virtual Result<SplitResult> SplitBatch(const std::string& batch_id) = 0;
  // Moves the record of a single-record batch the server still refuses to dead letters; a batch of more
  // records is refused with kFailedPrecondition (records are dead-lettered one by one, never in bulk).
  virtual Status DeadLetterBatch(const std::string& batch_id, const std::string& error, const std::string& message) = 0;
  // Forgets the in-flight mark without changing the batch (it is due again at its next_attempt_at).
  virtual void ReleaseBatch(const std::string& batch_id) = 0;

  // --- Dead letters ---------------------------------------------------------------------------------
  virtual Result<std::vector<DeadLetter>> ListDeadLetters(const DeadLetterQuery& query) = 0;
  // Back to pending (at the end of the queue) with their original ids; returns how many moved.
  virtual Result<int64_t> RequeueDeadLetters(const std::vector<std::string>& ids) = 0;
  virtual Result<int64_t> RequeueAllDeadLetters() = 0;
  // Deleted for good; returns how many.
  virtual Result<int64_t> PurgeDeadLetters(const std::vector<std::string>& ids) = 0;
  virtual Result<int64_t> PurgeAllDeadLetters() = 0;

  // --- State ----------------------------------------------------------------------------------------
  virtual Result<Stats> GetStats() = 0;
  // used_bytes above max_size_mb MiB: the connector leaves files in the watch folder until it is false.
  virtual Result<bool> IsFull(uint64_t max_size_mb) = 0;
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;
  virtual Status DeleteMeta(const std::string& key) = 0;
  // Measures the outbox volume's free space (the disk thread polls it every couple of seconds), and makes
  // the reserve again when it was released and free space is back above the watermark plus its size.
  // The default (an outbox with no volume, e.g. a test fake) reports plenty of room and no reserve.
  virtual Result<SpaceReport> CheckSpace(uint64_t min_free_mb) {
    SpaceReport r;
    r.free_bytes = UINT64_MAX;
    r.min_free_bytes = min_free_mb << 20;
    return r;
  }
  // PRAGMA integrity_check: Ok, or kDataLoss with SQLite's messages (never deletes anything).
  virtual Status IntegrityCheck() = 0;
  // Gives up the memory of pages it caches but does not need (nothing is lost: they are read again when
  // used). For an idle agent; costs the next reads a trip to the OS's file cache.
  virtual void ReleaseMemory() {}
  virtual const std::string& path() const = 0;
};

// Opens (creating with mode 0600 and migrating when needed) the outbox at options.path. Fails with
// kFailedPrecondition for a schema newer than this agent knows, kDataLoss for a corrupt or foreign file,
// kNotFound for a missing file opened read-only.
Result<std::unique_ptr<Outbox>> OpenOutbox(const OutboxOptions& options);

// The schema version this build creates and understands (PRAGMA user_version).
int SchemaVersion();

}  // namespace opescare::outbox
