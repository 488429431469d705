// Batches in the SQLite outbox: choosing the batch due, forming a new one from pending records, and the
// helpers every batch change shares (rows, ranges, counters). A batch is a list of seq ranges (schema.cpp,
// version 3): forming one writes its row and its ranges, never the records. Batch changes commit with
// synchronous=NORMAL: a change lost to a power cut only re-sends records the server de-duplicates by batch_id
// or record id (ARCHITECTURE.md "Durability rules").
#include <algorithm>
#include <climits>
#include <vector>

#include "agent/outbox/batching.h"
#include "agent/outbox/sqlite_outbox.h"
#include "agent/util/hash.h"

namespace opescare::outbox::internal {
namespace {

constexpr char kRangeRecords[] =
    "SELECT r.seq, r.id, r.type, r.data, f.name, r.source_row, r.size FROM records r "
    "LEFT JOIN files f ON f.file_id = r.file_id WHERE r.seq BETWEEN ? AND ? ORDER BY r.seq";
constexpr char kRangeSizes[] = "SELECT seq, id, size FROM records WHERE seq BETWEEN ? AND ? ORDER BY seq";

struct DueScan {
  std::optional<std::string> due;            // first batch due and not in flight
  std::optional<TimePoint> next_attempt_at;  // earliest other batch not in flight
};

}  // namespace

Status SqliteOutbox::BatchNotFound(const std::string& batch_id) const {
  return NotFound("outbox " + path() + ": no batch " + batch_id + " (already acknowledged, split or purged)");
}

Result<int64_t> SqliteOutbox::RunCounting(const char* sql, std::string_view arg, std::string_view what) {
  auto stmt = db_->Cached(sql);
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, arg);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return db_->Error(rc, what);
  return db_->Changes();
}

Status SqliteOutbox::ApplyCounters(const CounterDelta& d) {
  auto stmt = db_->Cached(
      "UPDATE counters SET queued=queued+?, queued_bytes=queued_bytes+?, batched=batched+?, "
      "batched_bytes=batched_bytes+?, batches=batches+?, dead=dead+?, files=files+?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  int i = 0;
  for (int64_t v : {d.queued, d.queued_bytes, d.batched, d.batched_bytes, d.batches, d.dead, d.files}) use.Bind(++i, v);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return db_->Error(rc, "updating the outbox's counters");
  return Status::Ok();
}

Result<BatchRow> SqliteOutbox::LoadBatchRow(const std::string& batch_id) {
  auto stmt = db_->Cached(
      "SELECT created_at, attempts, next_attempt_at, last_error, record_count, bytes FROM batches WHERE batch_id=?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, batch_id);
  int rc = use.Step();
  if (rc == SQLITE_DONE) return BatchNotFound(batch_id);
  if (rc != SQLITE_ROW) return db_->Error(rc, "reading a batch");
  return BatchRow{use.Int(0), use.Int(1), use.Int(2), use.Text(3), use.Int(4), use.Int(5)};
}

Result<std::vector<SeqRange>> SqliteOutbox::LoadRanges(const std::string& batch_id) {
  auto stmt = db_->Cached("SELECT first_seq, last_seq FROM batch_ranges WHERE batch_id=? ORDER BY first_seq");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, batch_id);
  std::vector<SeqRange> out;
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) out.push_back({use.Int(0), use.Int(1)});
  if (rc != SQLITE_DONE) return db_->Error(rc, "reading a batch's ranges");
  return out;
}

Status SqliteOutbox::ForEachRecord(const std::vector<SeqRange>& ranges, bool with_payload, const RecordVisitor& visit) {
  auto stmt = db_->Cached(with_payload ? kRangeRecords : kRangeSizes);
  if (!stmt.ok()) return stmt.status();
  Record r;
  for (const SeqRange& range : ranges) {
    StatementUse use(*stmt);
    use.Bind(1, range.first);
    use.Bind(2, range.last);
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) {
      r.id = use.Text(1);
      if (with_payload) {
        r = Record{use.Text(1), use.Text(2), use.Text(3), use.Text(4), use.Int(5)};
        if (Status st = visit(use.Int(0), r, use.Int(6)); !st.ok()) return st;
      } else if (Status st = visit(use.Int(0), r, use.Int(2)); !st.ok()) {
        return st;
      }
    }
    if (rc != SQLITE_DONE) return db_->Error(rc, "reading a batch's records");
  }
  return Status::Ok();
}

Result<Batch> SqliteOutbox::LoadBatch(const std::string& batch_id) {
  auto row = LoadBatchRow(batch_id);
  if (!row.ok()) return row.status();
  auto ranges = LoadRanges(batch_id);
  if (!ranges.ok()) return ranges.status();
  Batch b;
  b.batch_id = batch_id;
  b.created_at = FromMillis(row->created_at);
  b.attempts = row->attempts;
  b.last_error = row->last_error;
  Status st = ForEachRecord(*ranges, true, [&](int64_t, const Record& r, int64_t size) {
    b.records.push_back(r);
    b.bytes += static_cast<uint64_t>(size);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return b;
}

Status SqliteOutbox::InsertBatch(const std::string& batch_id, const BatchRow& row,
                                 const std::vector<SeqRange>& ranges) {
  {
    auto stmt = db_->Cached(
        "INSERT INTO batches(batch_id, created_at, attempts, next_attempt_at, last_error, record_count, bytes) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, batch_id);
    use.Bind(2, row.created_at);
    use.Bind(3, row.attempts);
    use.Bind(4, row.next_attempt_at);
    use.Bind(5, row.last_error);
    use.Bind(6, row.record_count);
    use.Bind(7, row.bytes);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return db_->Error(rc, "recording a batch");
  }
  auto stmt = db_->Cached("INSERT INTO batch_ranges(first_seq, last_seq, batch_id) VALUES(?, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  for (const SeqRange& range : ranges) {
    StatementUse use(*stmt);
    use.Bind(1, range.first);
    use.Bind(2, range.last);
    use.Bind(3, batch_id);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return db_->Error(rc, "recording a batch");
  }
  CounterDelta d;
  d.batches = 1;
  d.batched = row.record_count;
  d.batched_bytes = row.bytes;
  return ApplyCounters(d);
}

Status SqliteOutbox::DropBatch(const std::string& batch_id, const BatchRow& row) {
  if (auto st = RunCounting("DELETE FROM batch_ranges WHERE batch_id=?", batch_id, "removing a batch"); !st.ok())
    return st.status();
  if (auto st = RunCounting("DELETE FROM batches WHERE batch_id=?", batch_id, "removing a batch"); !st.ok())
    return st.status();
  CounterDelta d;
  d.batches = -1;
  d.batched = -row.record_count;
  d.batched_bytes = -row.bytes;
  return ApplyCounters(d);
}

Status SqliteOutbox::CheckOtherWriters() {
  auto version = db_->QueryInt("PRAGMA data_version");
  if (!version.ok()) return version.status();
  if (*version != data_version_) pending_floor_ = 0;
  data_version_ = *version;
  return Status::Ok();
}

// Walks the pending records from the floor in seq order, stepping over other batches' ranges: the records
// between two ranges are read with one range query, so the common case (everything pending lies above the
// last batch) is two index lookups and one read of the batch's rows.
Result<std::optional<Batch>> SqliteOutbox::FormBatch(TimePoint now, const BatchLimits& limits, int64_t* new_floor) {
  auto covering = db_->Cached("SELECT last_seq FROM batch_ranges WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1");
  if (!covering.ok()) return covering.status();
  auto next_range =
      db_->Cached("SELECT first_seq, last_seq FROM batch_ranges WHERE first_seq >= ? ORDER BY first_seq LIMIT 1");
  if (!next_range.ok()) return next_range.status();
  auto read = db_->Cached(
      "SELECT r.seq, r.id, r.type, r.data, f.name, r.source_row, r.size FROM records r "
      "LEFT JOIN files f ON f.file_id = r.file_id WHERE r.seq >= ? AND r.seq < ? ORDER BY r.seq LIMIT ?");
  if (!read.ok()) return read.status();
  const size_t max_records = std::max<uint32_t>(limits.max_records, 1);
  Batch b;
  std::vector<SeqRange> ranges;
  int64_t cur = pending_floor_;
  bool full = false;
  while (!full) {
    {
      StatementUse use(*covering);
      use.Bind(1, cur);
      int rc = use.Step();
      if (rc == SQLITE_ROW && use.Int(0) >= cur)
        cur = use.Int(0) + 1;
      else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_->Error(rc, "forming a batch");
    }
    std::optional<SeqRange> next;
    {
      StatementUse use(*next_range);
      use.Bind(1, cur);
      int rc = use.Step();
      if (rc == SQLITE_ROW)
        next = SeqRange{use.Int(0), use.Int(1)};
      else if (rc != SQLITE_DONE)
        return db_->Error(rc, "forming a batch");
    }
    StatementUse use(*read);
    use.Bind(1, cur);
    use.Bind(2, next ? next->first : INT64_MAX);
    use.Bind(3, static_cast<int64_t>(max_records - b.records.size()));
    int rc;
    std::optional<SeqRange> piece;
    while ((rc = use.Step()) == SQLITE_ROW) {
      auto size = static_cast<uint64_t>(use.Int(6));
      if (!TakeNext(b.records.size(), b.bytes, size, limits)) {
        full = true;
        break;
      }
      int64_t seq = use.Int(0);
      if (!piece) piece = SeqRange{seq, seq};
      piece->last = seq;
      b.records.push_back({use.Text(1), use.Text(2), use.Text(3), use.Text(4), use.Int(5)});
      b.bytes += size;
      cur = seq + 1;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_->Error(rc, "forming a batch");
    if (piece) ranges.push_back(*piece);
    if (b.records.size() >= max_records) full = true;
    if (!full) {
      if (!next) break;
      cur = next->last + 1;
    }
  }
  // Every pending record below cur was taken (or there was none).
  *new_floor = cur;
  if (b.records.empty()) return std::optional<Batch>();
  Result<std::string> id = NewUuid();
  if (!id.ok()) return id.status();
  b.batch_id = std::move(*id);
  b.created_at = clock_->Now();
  b.newly_formed = true;
  BatchRow row{ToMillis(b.created_at),       0, ToMillis(now), "", static_cast<int64_t>(b.records.size()),
               static_cast<int64_t>(b.bytes)};
  if (Status st = InsertBatch(b.batch_id, row, ranges); !st.ok()) return st;
  return std::optional<Batch>(std::move(b));
}

Result<NextBatch> SqliteOutbox::NextDueBatchInTxn(TimePoint now, const BatchLimits& limits, int64_t* new_floor) {
  if (Status st = CheckOtherWriters(); !st.ok()) return st;
  *new_floor = pending_floor_;
  DueScan scan;
  {
    // Ordered by due time: only in-flight batches are stepped over, so this reads O(in flight + 2) rows.
    auto stmt = db_->Cached("SELECT batch_id, next_attempt_at FROM batches ORDER BY next_attempt_at, rowid");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) {
      std::string id = use.Text(0);
      if (in_flight_.count(id)) continue;
      TimePoint at = FromMillis(use.Int(1));
      if (!scan.due && at <= now) {
        scan.due = std::move(id);
        continue;
      }
      scan.next_attempt_at = at;
      break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_->Error(rc, "choosing the next batch");
  }
  NextBatch out;
  out.next_attempt_at = scan.next_attempt_at;
  if (scan.due) {
    auto batch = LoadBatch(*scan.due);
    if (!batch.ok()) return batch.status();
    if (!batch->records.empty()) {
      out.batch = std::move(*batch);
    } else {
      // An empty batch (never made by this code) would only block the queue.
      auto row = LoadBatchRow(*scan.due);
      if (!row.ok()) return row.status();
      if (Status st = DropBatch(*scan.due, *row); !st.ok()) return st;
    }
  }
  if (!out.batch && (!scan.next_attempt_at || limits.form_while_waiting)) {
    auto formed = FormBatch(now, limits, new_floor);
    if (!formed.ok()) return formed.status();
    out.batch = std::move(*formed);
  }
  return out;
}

void SqliteOutbox::AfterNext(const NextBatch& next, int64_t new_floor) {
  pending_floor_ = std::max(pending_floor_, new_floor);
  if (next.batch) in_flight_.insert(next.batch->batch_id);
}

Result<NextBatch> SqliteOutbox::NextDueBatchOnce(TimePoint now, const BatchLimits& limits) {
  if (Status st = Writable(false); !st.ok()) return st;
  Transaction txn(*db_);
  if (Status st = txn.Begin("choosing the next batch"); !st.ok()) return st;
  int64_t new_floor = 0;
  auto out = NextDueBatchInTxn(now, limits, &new_floor);
  if (!out.ok()) return out.status();
  if (Status st = txn.Commit(); !st.ok()) return st;
  AfterNext(*out, new_floor);
  return out;
}

}  // namespace opescare::outbox::internal
