// Batches in the SQLite outbox: forming, retrying the same batch, acknowledging, rescheduling, splitting and
// dead-lettering. Batch changes commit with synchronous=NORMAL: a change lost to a power cut only re-sends
// records the server de-duplicates by batch_id or record id (ARCHITECTURE.md "Durability rules").
#include <algorithm>
#include <climits>
#include <unordered_map>
#include <vector>

#include "agent/outbox/batching.h"
#include "agent/outbox/sqlite_outbox.h"
#include "agent/util/hash.h"

namespace opescare::outbox::internal {
namespace {

constexpr char kDeleteBatch[] = "DELETE FROM batches WHERE batch_id=?";
constexpr char kDeleteBatchRecords[] = "DELETE FROM records WHERE batch_id=?";

struct DueScan {
  std::optional<std::string> due;            // first batch due and not in flight
  std::optional<TimePoint> next_attempt_at;  // earliest other batch not in flight
};

}  // namespace

Status SqliteOutbox::BatchNotFound(const std::string& batch_id) const {
  return NotFound("outbox " + path() + ": no batch " + batch_id + " (already acknowledged, split or purged)");
}

Result<bool> SqliteOutbox::BatchExists(const std::string& batch_id) {
  auto stmt = db_->Cached("SELECT 1 FROM batches WHERE batch_id=?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, batch_id);
  int rc = use.Step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, "looking up a batch");
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

Result<Batch> SqliteOutbox::LoadBatch(const std::string& batch_id) {
  Batch b;
  b.batch_id = batch_id;
  {
    auto stmt = db_->Cached("SELECT created_at, attempts, last_error FROM batches WHERE batch_id=?");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, batch_id);
    int rc = use.Step();
    if (rc == SQLITE_DONE) return BatchNotFound(batch_id);
    if (rc != SQLITE_ROW) return db_->Error(rc, "reading a batch");
    b.created_at = FromMillis(use.Int(0));
    b.attempts = use.Int(1);
    b.last_error = use.Text(2);
  }
  auto stmt =
      db_->Cached("SELECT id, type, data, source_file, source_row, size FROM records WHERE batch_id=? ORDER BY seq");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, batch_id);
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) {
    b.records.push_back({use.Text(0), use.Text(1), use.Text(2), use.Text(3), use.Int(4)});
    b.bytes += static_cast<uint64_t>(use.Int(5));
  }
  if (rc != SQLITE_DONE) return db_->Error(rc, "reading a batch's records");
  return b;
}

Status SqliteOutbox::CheckOtherWriters() {
  auto version = db_->QueryInt("PRAGMA data_version");
  if (!version.ok()) return version.status();
  if (*version != data_version_) pending_floor_ = 0;
  data_version_ = *version;
  return Status::Ok();
}

Result<std::optional<Batch>> SqliteOutbox::FormBatch(TimePoint now, const BatchLimits& limits, int64_t* last_seq_out) {
  Batch b;
  int64_t first_seq = 0, last_seq = 0;
  {
    auto stmt = db_->Cached(
        "SELECT seq, id, type, data, source_file, source_row, size FROM records WHERE seq >= ? AND batch_id IS NULL "
        "ORDER BY seq LIMIT ?");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, pending_floor_);
    use.Bind(2, static_cast<int64_t>(std::max<uint32_t>(limits.max_records, 1)));
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) {
      auto size = static_cast<uint64_t>(use.Int(6));
      if (!TakeNext(b.records.size(), b.bytes, size, limits)) break;
      if (b.records.empty()) first_seq = use.Int(0);
      last_seq = use.Int(0);
      b.records.push_back({use.Text(1), use.Text(2), use.Text(3), use.Text(4), use.Int(5)});
      b.bytes += size;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_->Error(rc, "forming a batch");
  }
  if (b.records.empty()) return std::optional<Batch>();
  *last_seq_out = last_seq;
  Result<std::string> id = NewUuid();
  if (!id.ok()) return id.status();
  b.batch_id = std::move(*id);
  b.created_at = clock_->Now();
  b.newly_formed = true;
  {
    // Every pending record between first_seq and last_seq was read above, so this takes exactly them.
    auto stmt = db_->Cached("UPDATE records SET batch_id=? WHERE batch_id IS NULL AND seq BETWEEN ? AND ?");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, b.batch_id);
    use.Bind(2, first_seq);
    use.Bind(3, last_seq);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return db_->Error(rc, "forming a batch");
    if (db_->Changes() != static_cast<int64_t>(b.records.size()))
      return Internal("outbox " + path() + ": a batch took " + std::to_string(db_->Changes()) + " records instead of " +
                      std::to_string(b.records.size()));
  }
  auto stmt = db_->Cached(
      "INSERT INTO batches(batch_id, created_at, attempts, next_attempt_at, last_error, record_count, bytes) "
      "VALUES(?, ?, 0, ?, '', ?, ?)");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, b.batch_id);
  use.Bind(2, ToMillis(b.created_at));
  use.Bind(3, ToMillis(now));
  use.Bind(4, static_cast<int64_t>(b.records.size()));
  use.Bind(5, static_cast<int64_t>(b.bytes));
  int rc = use.Step();
  if (rc != SQLITE_DONE) return db_->Error(rc, "recording a batch");
  return std::optional<Batch>(std::move(b));
}

Result<NextBatch> SqliteOutbox::NextDueBatchOnce(TimePoint now, const BatchLimits& limits) {
  if (Status st = Writable(false); !st.ok()) return st;
  Transaction txn(*db_);
  if (Status st = txn.Begin("choosing the next batch"); !st.ok()) return st;
  if (Status st = CheckOtherWriters(); !st.ok()) return st;
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
  int64_t formed_last_seq = -1;
  if (scan.due) {
    auto batch = LoadBatch(*scan.due);
    if (!batch.ok()) return batch.status();
    if (!batch->records.empty()) {
      out.batch = std::move(*batch);
    } else if (auto st = RunCounting(kDeleteBatch, *scan.due, "dropping an empty batch"); !st.ok()) {
      return st.status();  // an empty batch (never made by this code) would only block the queue
    }
  }
  if (!out.batch && (!scan.next_attempt_at || limits.form_while_waiting)) {
    auto formed = FormBatch(now, limits, &formed_last_seq);
    if (!formed.ok()) return formed.status();
    out.batch = std::move(*formed);
  }
  if (Status st = txn.Commit(); !st.ok()) return st;
  if (formed_last_seq >= 0) pending_floor_ = formed_last_seq + 1;
  if (out.batch) in_flight_.insert(out.batch->batch_id);
  return out;
}

Result<AckCounts> SqliteOutbox::AckAllOnce(const std::string& batch_id) {
  in_flight_.erase(batch_id);
  if (Status st = Writable(false); !st.ok()) return st;
  Transaction txn(*db_);
  if (Status st = txn.Begin("acknowledging a batch"); !st.ok()) return st;
  auto exists = BatchExists(batch_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return BatchNotFound(batch_id);
  AckCounts counts;
  auto deleted = RunCounting(kDeleteBatchRecords, batch_id, "acknowledging a batch");
  if (!deleted.ok()) return deleted.status();
  counts.accepted = *deleted;
  if (auto st = RunCounting(kDeleteBatch, batch_id, "acknowledging a batch"); !st.ok()) return st.status();
  if (Status st = txn.Commit(); !st.ok()) return st;
  return counts;
}

Result<AckCounts> SqliteOutbox::AckPartialOnce(const std::string& batch_id, const std::vector<std::string>& accepted,
                                               const std::vector<Rejection>& rejected) {
  in_flight_.erase(batch_id);
  if (Status st = Writable(false); !st.ok()) return st;
  Transaction txn(*db_);
  if (Status st = txn.Begin("acknowledging a batch"); !st.ok()) return st;
  auto exists = BatchExists(batch_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return BatchNotFound(batch_id);
  // The batch's members by id, read once: each accepted or rejected id is then an O(1) delete by seq.
  std::unordered_map<std::string, std::vector<int64_t>> members;
  {
    auto stmt = db_->Cached("SELECT seq, id FROM records WHERE batch_id=?");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, batch_id);
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) members[use.Text(1)].push_back(use.Int(0));
    if (rc != SQLITE_DONE) return db_->Error(rc, "acknowledging a batch");
  }
  auto to_dead = db_->Cached(
      "INSERT OR REPLACE INTO dead_letters(id, type, data, source_file, source_row, created_at, size, error, message, "
      "dead_at) SELECT id, type, data, source_file, source_row, created_at, size, ?, ?, ? FROM records WHERE seq=?");
  if (!to_dead.ok()) return to_dead.status();
  auto remove = db_->Cached("DELETE FROM records WHERE seq=?");
  if (!remove.ok()) return remove.status();
  auto remove_seq = [&](int64_t seq) -> Status {
    StatementUse del(*remove);
    del.Bind(1, seq);
    int rc = del.Step();
    return rc == SQLITE_DONE ? Status::Ok() : db_->Error(rc, "acknowledging a batch");
  };
  AckCounts counts;
  const int64_t now = NowMillis();
  for (const Rejection& r : rejected) {
    auto it = members.find(r.id);
    if (it == members.end()) continue;  // not in this batch (or named twice)
    for (int64_t seq : it->second) {
      StatementUse use(*to_dead);
      use.Bind(1, r.error);
      use.Bind(2, r.message);
      use.Bind(3, now);
      use.Bind(4, seq);
      int rc = use.Step();
      if (rc != SQLITE_DONE) return db_->Error(rc, "dead-lettering a rejected record");
      if (Status st = remove_seq(seq); !st.ok()) return st;
      ++counts.rejected;
    }
    members.erase(it);
  }
  for (const std::string& id : accepted) {
    auto it = members.find(id);
    if (it == members.end()) continue;
    for (int64_t seq : it->second) {
      if (Status st = remove_seq(seq); !st.ok()) return st;
      ++counts.accepted;
    }
    members.erase(it);
  }
  // The server said nothing about the rest: they go back to pending, keeping their place in the queue.
  int64_t lowest_returned = INT64_MAX;
  for (const auto& [id, seqs] : members)
    for (int64_t seq : seqs) lowest_returned = std::min(lowest_returned, seq);
  auto returned = RunCounting("UPDATE records SET batch_id=NULL WHERE batch_id=?", batch_id, "acknowledging a batch");
  if (!returned.ok()) return returned.status();
  counts.returned = *returned;
  if (auto st = RunCounting(kDeleteBatch, batch_id, "acknowledging a batch"); !st.ok()) return st.status();
  if (Status st = txn.Commit(); !st.ok()) return st;
  if (counts.returned > 0) LowerPendingFloor(lowest_returned);
  return counts;
}

Status SqliteOutbox::RescheduleBatchOnce(const std::string& batch_id, TimePoint next_attempt_at,
                                         const std::string& error, bool count_attempt) {
  in_flight_.erase(batch_id);
  if (Status st = Writable(false); !st.ok()) return st;
  auto stmt = db_->Cached("UPDATE batches SET next_attempt_at=?, last_error=?, attempts=attempts+? WHERE batch_id=?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, ToMillis(next_attempt_at));
  use.Bind(2, error);
  use.Bind(3, int64_t{count_attempt ? 1 : 0});
  use.Bind(4, batch_id);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return db_->Error(rc, "rescheduling a batch");
  if (db_->Changes() == 0) return BatchNotFound(batch_id);
  return Status::Ok();
}

Result<SplitResult> SqliteOutbox::SplitBatchOnce(const std::string& batch_id) {
  in_flight_.erase(batch_id);
  if (Status st = Writable(false); !st.ok()) return st;
  Transaction txn(*db_);
  if (Status st = txn.Begin("splitting a batch"); !st.ok()) return st;
  std::string last_error;
  int64_t due_at = 0;
  {
    auto stmt = db_->Cached("SELECT last_error, next_attempt_at FROM batches WHERE batch_id=?");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, batch_id);
    int rc = use.Step();
    if (rc == SQLITE_DONE) return BatchNotFound(batch_id);
    if (rc != SQLITE_ROW) return db_->Error(rc, "splitting a batch");
    last_error = use.Text(0);
    // The halves inherit the due time of the batch (due when it was handed out, on the caller's clock):
    // due at once, and in the batch's place among other due batches.
    due_at = use.Int(1);
  }
  std::vector<std::pair<int64_t, int64_t>> members;  // (seq, size) in queue order
  {
    auto stmt = db_->Cached("SELECT seq, size FROM records WHERE batch_id=? ORDER BY seq");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, batch_id);
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) members.emplace_back(use.Int(0), use.Int(1));
    if (rc != SQLITE_DONE) return db_->Error(rc, "splitting a batch");
  }
  if (members.size() < 2)
    return FailedPrecondition("outbox " + path() + ": batch " + batch_id + " holds " + std::to_string(members.size()) +
                              " record(s) and cannot be split; dead-letter it if the server still refuses it");
  const size_t half = SplitPoint(members.size());
  Result<std::string> first = NewUuid(), second = NewUuid();
  if (!first.ok()) return first.status();
  if (!second.ok()) return second.status();
  SplitResult out{std::move(*first), std::move(*second)};
  const int64_t now = NowMillis();
  auto insert = db_->Cached(
      "INSERT INTO batches(batch_id, created_at, attempts, next_attempt_at, last_error, record_count, bytes) "
      "VALUES(?, ?, 0, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  for (int part = 0; part < 2; ++part) {
    size_t from = part == 0 ? 0 : half, to = part == 0 ? half : members.size();
    int64_t bytes = 0;
    for (size_t i = from; i < to; ++i) bytes += members[i].second;
    StatementUse use(*insert);
    use.Bind(1, part == 0 ? out.first_batch_id : out.second_batch_id);
    use.Bind(2, now);
    use.Bind(3, due_at);
    use.Bind(4, last_error);
    use.Bind(5, static_cast<int64_t>(to - from));
    use.Bind(6, bytes);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return db_->Error(rc, "splitting a batch");
  }
  {
    auto stmt = db_->Cached("UPDATE records SET batch_id=? WHERE batch_id=? AND seq<=?");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, out.first_batch_id);
    use.Bind(2, batch_id);
    use.Bind(3, members[half - 1].first);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return db_->Error(rc, "splitting a batch");
  }
  {
    auto stmt = db_->Cached("UPDATE records SET batch_id=? WHERE batch_id=?");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, out.second_batch_id);
    use.Bind(2, batch_id);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return db_->Error(rc, "splitting a batch");
  }
  if (auto st = RunCounting(kDeleteBatch, batch_id, "splitting a batch"); !st.ok()) return st.status();
  if (Status st = txn.Commit(); !st.ok()) return st;
  return out;
}

Status SqliteOutbox::DeadLetterBatchOnce(const std::string& batch_id, const std::string& error,
                                         const std::string& message) {
  in_flight_.erase(batch_id);
  if (Status st = Writable(false); !st.ok()) return st;
  Transaction txn(*db_);
  if (Status st = txn.Begin("dead-lettering a batch"); !st.ok()) return st;
  auto exists = BatchExists(batch_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return BatchNotFound(batch_id);
  auto count = [&]() -> Result<int64_t> {
    auto stmt = db_->Cached("SELECT count(*) FROM records WHERE batch_id=?");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, batch_id);
    int rc = use.Step();
    if (rc != SQLITE_ROW) return db_->Error(rc, "dead-lettering a batch");
    return use.Int(0);
  }();
  if (!count.ok()) return count.status();
  if (*count != 1)
    return FailedPrecondition("outbox " + path() + ": batch " + batch_id + " holds " + std::to_string(*count) +
                              " records; only a single refused record is dead-lettered (split the batch first)");
  {
    auto stmt = db_->Cached(
        "INSERT OR REPLACE INTO dead_letters(id, type, data, source_file, source_row, created_at, size, error, "
        "message, dead_at) SELECT id, type, data, source_file, source_row, created_at, size, ?, ?, ? FROM records "
        "WHERE batch_id=?");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, error);
    use.Bind(2, message);
    use.Bind(3, NowMillis());
    use.Bind(4, batch_id);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return db_->Error(rc, "dead-lettering a batch");
  }
  if (auto st = RunCounting(kDeleteBatchRecords, batch_id, "dead-lettering a batch"); !st.ok()) return st.status();
  if (auto st = RunCounting(kDeleteBatch, batch_id, "dead-lettering a batch"); !st.ok()) return st.status();
  return txn.Commit();
}

}  // namespace opescare::outbox::internal
