// Enqueueing into the SQLite outbox: one synchronous=FULL transaction per file, streamed record by record,
// touching no index (see schema.cpp) so that it runs near the speed of a bare INSERT loop.
#include "agent/outbox/batching.h"
#include "agent/outbox/sqlite_outbox.h"

namespace opescare::outbox::internal {

class SqliteEnqueueTransaction final : public EnqueueTransaction {
 public:
  explicit SqliteEnqueueTransaction(SqliteOutbox& owner) : owner_(owner), db_(*owner.db_), txn_(db_) {}
  ~SqliteEnqueueTransaction() override {
    txn_.Rollback();
    Close();
  }

  Status Start() {
    if (Status st = owner_.Writable(/*synchronous_full=*/true); !st.ok()) return st;
    if (Status st = txn_.Begin("queueing records"); !st.ok()) return st;
    auto insert = db_.Cached(
        "INSERT INTO records(id, type, data, source_file, source_row, created_at, size) VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!insert.ok()) return insert.status();
    insert_ = *insert;
    // Most of the time there are no dead letters: skip the per-record lookup then.
    auto dead = db_.QueryInt("SELECT EXISTS(SELECT 1 FROM dead_letters)");
    if (!dead.ok()) return dead.status();
    if (*dead) {
      auto lookup = db_.Cached("SELECT 1 FROM dead_letters WHERE id=?");
      if (!lookup.ok()) return lookup.status();
      dead_lookup_ = *lookup;
    }
    created_at_ = owner_.NowMillis();
    owner_.enqueue_open_ = true;
    holds_outbox_ = true;
    return Status::Ok();
  }

  Status Add(const Record& r) override {
    if (!failed_.ok()) return failed_;
    if (done_) return Fail(FailedPrecondition("outbox " + db_.path() + ": Add after Commit"));
    ++added_;
    if (Status st = ValidateRecord(r); !st.ok()) return Fail(std::move(st));
    if (dead_lookup_) {
      StatementUse use(dead_lookup_);
      use.Bind(1, r.id);
      int rc = use.Step();
      if (rc == SQLITE_ROW) {
        ++counts_.skipped;
        return Status::Ok();
      }
      if (rc != SQLITE_DONE) return Fail(db_.Error(rc, "queueing records"));
    }
    StatementUse use(insert_);
    use.Bind(1, r.id);
    use.Bind(2, r.type);
    use.Bind(3, r.data_json);
    use.Bind(4, r.source_file);
    use.Bind(5, r.source_row);
    use.Bind(6, created_at_);
    use.Bind(7, static_cast<int64_t>(RecordWireSize(r)));
    int rc = use.Step();
    if (rc != SQLITE_DONE) return Fail(db_.Error(rc, "queueing records"));
    // Rowids grow within a transaction, so the first is the lowest this transaction adds.
    if (counts_.inserted++ == 0) first_seq_ = sqlite3_last_insert_rowid(db_.handle());
    return Status::Ok();
  }

  Result<EnqueueCounts> Commit(const std::optional<FileInfo>& file) override {
    if (!failed_.ok()) return failed_;
    if (done_) return FailedPrecondition("outbox " + db_.path() + ": Commit called twice");
    if (file) {
      if (file->sha256.empty()) return Fail(InvalidArgument("outbox: a file's SHA-256 must not be empty"));
      auto stmt = db_.Cached(
          "INSERT INTO ingested_files(sha256, name, rows_ok, rows_failed, queued_at) VALUES(?, ?, ?, ?, ?) "
          "ON CONFLICT(sha256) DO NOTHING");
      if (!stmt.ok()) return Fail(stmt.status());
      StatementUse use(*stmt);
      use.Bind(1, file->sha256);
      use.Bind(2, file->name);
      use.Bind(3, file->rows_ok);
      use.Bind(4, file->rows_failed);
      use.Bind(5, created_at_);
      int rc = use.Step();
      if (rc != SQLITE_DONE) return Fail(db_.Error(rc, "recording the file's hash"));
      if (db_.Changes() == 0) {
        // Queued before (by another connection since the caller's HasFile, or a caller that did not ask):
        // the file's records are already in the outbox or delivered, so none is queued twice.
        txn_.Rollback();
        done_ = true;
        Close();
        return EnqueueCounts{0, added_, true};
      }
    }
    if (Status st = txn_.Commit(); !st.ok()) return Fail(std::move(st));
    done_ = true;
    if (counts_.inserted > 0) owner_.LowerPendingFloor(first_seq_);
    Close();
    return counts_;
  }

  int64_t added() const override { return added_; }

 private:
  // Voids the transaction: rolls back now, so the write lock is released at once.
  Status Fail(Status st) {
    failed_ = st;
    txn_.Rollback();
    Close();
    return st;
  }

  // Gives the outbox back to its other calls.
  void Close() {
    if (holds_outbox_) owner_.enqueue_open_ = false;
    holds_outbox_ = false;
  }

  SqliteOutbox& owner_;
  Database& db_;
  Transaction txn_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* dead_lookup_ = nullptr;  // null when there are no dead letters
  int64_t created_at_ = 0;
  int64_t added_ = 0;
  int64_t first_seq_ = 0;  // seq of the first record inserted
  EnqueueCounts counts_;
  Status failed_;
  bool done_ = false;
  bool holds_outbox_ = false;  // this transaction set owner_.enqueue_open_
};

Result<std::unique_ptr<EnqueueTransaction>> SqliteOutbox::BeginEnqueue() {
  auto txn = std::make_unique<SqliteEnqueueTransaction>(*this);
  if (Status st = txn->Start(); !st.ok()) return st;
  return std::unique_ptr<EnqueueTransaction>(std::move(txn));
}

Result<EnqueueCounts> SqliteOutbox::Enqueue(const std::vector<Record>& records, const std::optional<FileInfo>& file) {
  auto txn = BeginEnqueue();
  if (!txn.ok()) return txn.status();
  for (const Record& r : records) {
    if (Status st = (*txn)->Add(r); !st.ok()) return st;
  }
  return (*txn)->Commit(file);
}

}  // namespace opescare::outbox::internal
