// Dead letters in the SQLite outbox: listing, re-queueing (back to pending) and purging refused records.
#include "agent/outbox/sqlite_outbox.h"

namespace opescare::outbox::internal {
namespace {

constexpr char kRequeueOne[] =
    "INSERT INTO records(id, type, data, file_id, source_row, created_at, size) "
    "SELECT id, type, data, file_id, source_row, created_at, size FROM dead_letters WHERE id=?";
constexpr char kRequeueAll[] =
    "INSERT INTO records(id, type, data, file_id, source_row, created_at, size) "
    "SELECT id, type, data, file_id, source_row, created_at, size FROM dead_letters ORDER BY rowid";
// What a move takes out of dead letters, for the counters (an explicit CLI action, not a timer).
constexpr char kSizeOne[] = "SELECT count(*), coalesce(sum(size), 0) FROM dead_letters WHERE id=?";
constexpr char kSizeAll[] = "SELECT count(*), coalesce(sum(size), 0) FROM dead_letters";
constexpr char kPurgeOne[] = "DELETE FROM dead_letters WHERE id=?";
constexpr char kPurgeAll[] = "DELETE FROM dead_letters";

}  // namespace

Result<std::vector<DeadLetter>> SqliteOutbox::ListDeadLetters(const DeadLetterQuery& q) {
  if (Status st = Usable(); !st.ok()) return st;
  // Two statements rather than string-built SQL, so each stays cached.
  const char* sql =
      q.newest_first
          ? "SELECT d.id, d.type, f.name, d.source_row, d.error, d.message, d.dead_at, CASE WHEN ? THEN d.data ELSE "
            "'' END FROM dead_letters d LEFT JOIN files f ON f.file_id = d.file_id ORDER BY d.rowid DESC LIMIT ?"
          : "SELECT d.id, d.type, f.name, d.source_row, d.error, d.message, d.dead_at, CASE WHEN ? THEN d.data ELSE "
            "'' END FROM dead_letters d LEFT JOIN files f ON f.file_id = d.file_id ORDER BY d.rowid LIMIT ?";
  auto stmt = db_->Cached(sql);
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, int64_t{q.include_data ? 1 : 0});
  use.Bind(2, static_cast<int64_t>(q.limit));
  std::vector<DeadLetter> out;
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) {
    DeadLetter d;
    d.id = use.Text(0);
    d.type = use.Text(1);
    d.source_file = use.Text(2);
    d.source_row = use.Int(3);
    d.error = use.Text(4);
    d.message = use.Text(5);
    d.dead_at = FromMillis(use.Int(6));
    d.data_json = use.Text(7);
    out.push_back(std::move(d));
  }
  if (rc != SQLITE_DONE) return db_->Error(rc, "listing dead letters");
  return out;
}

// Requeue (copy back to records, then delete) or purge (delete) the given ids, or all when ids is null.
Result<int64_t> SqliteOutbox::MoveDeadLetters(const std::vector<std::string>* ids, bool requeue) {
  if (Status st = Writable(false); !st.ok()) return st;
  const char* what = requeue ? "re-queueing dead letters" : "purging dead letters";
  Transaction txn(*db_);
  if (Status st = txn.Begin(what); !st.ok()) return st;
  int64_t moved = 0;
  CounterDelta d;
  auto count = [&](const std::string* id) -> Status {
    auto stmt = db_->Cached(id ? kSizeOne : kSizeAll);
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    if (id) use.Bind(1, *id);
    int rc = use.Step();
    if (rc != SQLITE_ROW) return db_->Error(rc, what);
    d.dead -= use.Int(0);
    if (requeue) {
      d.queued += use.Int(0);
      d.queued_bytes += use.Int(1);
    }
    return Status::Ok();
  };
  if (ids == nullptr) {
    if (Status st = count(nullptr); !st.ok()) return st;
    if (requeue) {
      if (Status st = db_->Exec(kRequeueAll, what); !st.ok()) return st;
    }
    if (Status st = db_->Exec(kPurgeAll, what); !st.ok()) return st;
    moved = db_->Changes();
  } else {
    for (const std::string& id : *ids) {
      if (Status st = count(&id); !st.ok()) return st;
      if (requeue) {
        if (auto st = RunCounting(kRequeueOne, id, what); !st.ok()) return st.status();
      }
      auto deleted = RunCounting(kPurgeOne, id, what);
      if (!deleted.ok()) return deleted.status();
      moved += *deleted;
    }
  }
  if (Status st = ApplyCounters(d); !st.ok()) return st;
  if (Status st = txn.Commit(); !st.ok()) return st;
  if (requeue && moved > 0) pending_floor_ = 0;  // new rows may reuse seqs below the floor
  return moved;
}

Result<int64_t> SqliteOutbox::RequeueDeadLetters(const std::vector<std::string>& ids) {
  return MoveDeadLetters(&ids, true);
}
Result<int64_t> SqliteOutbox::RequeueAllDeadLetters() { return MoveDeadLetters(nullptr, true); }
Result<int64_t> SqliteOutbox::PurgeDeadLetters(const std::vector<std::string>& ids) {
  return MoveDeadLetters(&ids, false);
}
Result<int64_t> SqliteOutbox::PurgeAllDeadLetters() { return MoveDeadLetters(nullptr, false); }

}  // namespace opescare::outbox::internal
