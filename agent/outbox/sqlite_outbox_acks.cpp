// What happens to a batch after its answer, in the SQLite outbox: acknowledged (one range DELETE per range of
// the batch), partly acknowledged (rejected records to dead letters, the unnamed ones pending again simply by
// removing the batch's ranges), rescheduled, split or dead-lettered. Each commits with the counters it changes.
#include <climits>
#include <unordered_map>
#include <vector>

#include "agent/outbox/batching.h"
#include "agent/outbox/sqlite_outbox.h"
#include "agent/util/hash.h"

namespace opescare::outbox::internal {
namespace {

struct Member {
  int64_t seq;
  int64_t size;
};

}  // namespace

Result<int64_t> SqliteOutbox::DeleteRanges(const std::vector<SeqRange>& ranges) {
  auto stmt = db_->Cached("DELETE FROM records WHERE seq BETWEEN ? AND ?");
  if (!stmt.ok()) return stmt.status();
  int64_t deleted = 0;
  for (const SeqRange& range : ranges) {
    StatementUse use(*stmt);
    use.Bind(1, range.first);
    use.Bind(2, range.last);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return db_->Error(rc, "acknowledging a batch");
    deleted += db_->Changes();
  }
  return deleted;
}

Status SqliteOutbox::DeleteRecord(int64_t seq) {
  auto stmt = db_->Cached("DELETE FROM records WHERE seq=?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, seq);
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : db_->Error(rc, "acknowledging a batch");
}

Result<bool> SqliteOutbox::CopyToDeadLetters(int64_t seq, const std::string& error, const std::string& message,
                                             int64_t now) {
  bool existed = false;
  {
    auto stmt = db_->Cached("SELECT 1 FROM dead_letters WHERE id=(SELECT id FROM records WHERE seq=?)");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    use.Bind(1, seq);
    int rc = use.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_->Error(rc, "dead-lettering a rejected record");
    existed = rc == SQLITE_ROW;
  }
  auto stmt = db_->Cached(
      "INSERT OR REPLACE INTO dead_letters(id, type, data, file_id, source_row, created_at, size, error, message, "
      "dead_at) SELECT id, type, data, file_id, source_row, created_at, size, ?, ?, ? FROM records WHERE seq=?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, error);
  use.Bind(2, message);
  use.Bind(3, now);
  use.Bind(4, seq);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return db_->Error(rc, "dead-lettering a rejected record");
  return !existed;
}

Result<AckCounts> SqliteOutbox::AckInTxn(const BatchAck& ack, int64_t* lowest_returned) {
  *lowest_returned = INT64_MAX;
  auto row = LoadBatchRow(ack.batch_id);
  if (!row.ok()) return row.status();
  auto ranges = LoadRanges(ack.batch_id);
  if (!ranges.ok()) return ranges.status();
  AckCounts counts;
  CounterDelta d;
  if (ack.all) {
    auto deleted = DeleteRanges(*ranges);
    if (!deleted.ok()) return deleted.status();
    counts.accepted = *deleted;
    d.queued = -*deleted;
    d.queued_bytes = -row->bytes;
  } else {
    // The batch's members by id, read once: each accepted or rejected id is then an O(1) delete by seq.
    std::unordered_map<std::string, std::vector<Member>> members;
    Status read = ForEachRecord(*ranges, false, [&](int64_t seq, const Record& r, int64_t size) {
      members[r.id].push_back({seq, size});
      return Status::Ok();
    });
    if (!read.ok()) return read;
    const int64_t now = NowMillis();
    auto remove = [&](const std::string& id, const Rejection* rejection, int64_t* counter) -> Status {
      auto it = members.find(id);
      if (it == members.end()) return Status::Ok();  // not in this batch (or named twice)
      for (const Member& m : it->second) {
        if (rejection) {
          auto is_new = CopyToDeadLetters(m.seq, rejection->error, rejection->message, now);
          if (!is_new.ok()) return is_new.status();
          d.dead += *is_new ? 1 : 0;
        }
        if (Status del = DeleteRecord(m.seq); !del.ok()) return del;
        ++*counter;
        --d.queued;
        d.queued_bytes -= m.size;
      }
      members.erase(it);
      return Status::Ok();
    };
    for (const Rejection& r : ack.rejected)
      if (Status st = remove(r.id, &r, &counts.rejected); !st.ok()) return st;
    for (const std::string& id : ack.accepted)
      if (Status st = remove(id, nullptr, &counts.accepted); !st.ok()) return st;
    // The server said nothing about the rest: with the batch's ranges gone they are pending again, in their
    // place in the queue, without a write.
    for (const auto& [id, list] : members) {
      for (const Member& m : list) *lowest_returned = std::min(*lowest_returned, m.seq);
      counts.returned += static_cast<int64_t>(list.size());
    }
  }
  if (Status st = DropBatch(ack.batch_id, *row); !st.ok()) return st;
  if (Status st = ApplyCounters(d); !st.ok()) return st;
  // Lowering the floor is always safe, so it need not wait for the commit; a batch formed in the same
  // transaction (AckAndNextDueBatch) takes the returned records first.
  if (counts.returned > 0) LowerPendingFloor(*lowest_returned);
  return counts;
}

Result<AckCounts> SqliteOutbox::AckOnce(const BatchAck& ack) {
  in_flight_.erase(ack.batch_id);
  if (Status st = Writable(false); !st.ok()) return st;
  Transaction txn(*db_);
  if (Status st = txn.Begin("acknowledging a batch"); !st.ok()) return st;
  int64_t lowest_returned = 0;
  auto counts = AckInTxn(ack, &lowest_returned);
  if (!counts.ok()) return counts.status();
  if (Status st = txn.Commit(); !st.ok()) return st;
  return counts;
}

Result<AckAndNext> SqliteOutbox::AckAndNextOnce(const BatchAck& ack, TimePoint now, const BatchLimits& limits) {
  in_flight_.erase(ack.batch_id);
  if (Status st = Writable(false); !st.ok()) return st;
  Transaction txn(*db_);
  if (Status st = txn.Begin("acknowledging a batch and forming the next"); !st.ok()) return st;
  AckAndNext out;
  int64_t lowest_returned = 0, new_floor = 0;
  auto counts = AckInTxn(ack, &lowest_returned);
  if (!counts.ok()) return counts.status();
  out.counts = *counts;
  auto next = NextDueBatchInTxn(now, limits, &new_floor);
  if (!next.ok()) return next.status();
  out.next = std::move(*next);
  if (Status st = txn.Commit(); !st.ok()) return st;
  AfterNext(out.next, new_floor);
  return out;
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
  auto row = LoadBatchRow(batch_id);
  if (!row.ok()) return row.status();
  auto ranges = LoadRanges(batch_id);
  if (!ranges.ok()) return ranges.status();
  std::vector<Member> members;  // in queue order
  Status st = ForEachRecord(*ranges, false, [&](int64_t seq, const Record&, int64_t size) {
    members.push_back({seq, size});
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (members.size() < 2)
    return FailedPrecondition("outbox " + path() + ": batch " + batch_id + " holds " + std::to_string(members.size()) +
                              " record(s) and cannot be split; dead-letter it if the server still refuses it");
  const size_t half = SplitPoint(members.size());
  const int64_t last_of_first = members[half - 1].seq, first_of_second = members[half].seq;
  Result<std::string> first = NewUuid(), second = NewUuid();
  if (!first.ok()) return first.status();
  if (!second.ok()) return second.status();
  SplitResult out{std::move(*first), std::move(*second)};
  if (Status st = DropBatch(batch_id, *row); !st.ok()) return st;
  for (int part = 0; part < 2; ++part) {
    size_t from = part == 0 ? 0 : half, to = part == 0 ? half : members.size();
    // The halves inherit the due time of the batch (due when it was handed out, on the caller's clock):
    // due at once, and in the batch's place among other due batches.
    BatchRow half_row{NowMillis(), 0, row->next_attempt_at, row->last_error, static_cast<int64_t>(to - from), 0};
    for (size_t i = from; i < to; ++i) half_row.bytes += members[i].size;
    std::vector<SeqRange> half_ranges;
    for (const SeqRange& r : *ranges) {
      if (part == 0 && r.first <= last_of_first) half_ranges.push_back({r.first, std::min(r.last, last_of_first)});
      if (part == 1 && r.last >= first_of_second) half_ranges.push_back({std::max(r.first, first_of_second), r.last});
    }
    if (Status st = InsertBatch(part == 0 ? out.first_batch_id : out.second_batch_id, half_row, half_ranges); !st.ok())
      return st;
  }
  if (Status st = txn.Commit(); !st.ok()) return st;
  return out;
}

Status SqliteOutbox::DeadLetterBatchOnce(const std::string& batch_id, const std::string& error,
                                         const std::string& message) {
  in_flight_.erase(batch_id);
  if (Status st = Writable(false); !st.ok()) return st;
  Transaction txn(*db_);
  if (Status st = txn.Begin("dead-lettering a batch"); !st.ok()) return st;
  auto row = LoadBatchRow(batch_id);
  if (!row.ok()) return row.status();
  auto ranges = LoadRanges(batch_id);
  if (!ranges.ok()) return ranges.status();
  std::vector<Member> members;
  Status st = ForEachRecord(*ranges, false, [&](int64_t seq, const Record&, int64_t size) {
    members.push_back({seq, size});
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (members.size() != 1)
    return FailedPrecondition("outbox " + path() + ": batch " + batch_id + " holds " + std::to_string(members.size()) +
                              " records; only a single refused record is dead-lettered (split the batch first)");
  auto is_new = CopyToDeadLetters(members[0].seq, error, message, NowMillis());
  if (!is_new.ok()) return is_new.status();
  if (Status st = DeleteRecord(members[0].seq); !st.ok()) return st;
  CounterDelta d;
  d.queued = -1;
  d.queued_bytes = -members[0].size;
  d.dead = *is_new ? 1 : 0;
  if (Status st = ApplyCounters(d); !st.ok()) return st;
  if (Status st = DropBatch(batch_id, *row); !st.ok()) return st;
  return txn.Commit();
}

}  // namespace opescare::outbox::internal
