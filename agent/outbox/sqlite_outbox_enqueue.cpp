// Enqueueing into the SQLite outbox: one synchronous=FULL transaction per file (or per slice of a large
// file), streamed record by record, touching no index (see schema.cpp) so that it runs near the speed of a bare INSERT
// loop.
#include "agent/outbox/batching.h"
#include "agent/outbox/sqlite_outbox.h"

namespace opescare::outbox::internal {

// One transaction per slice: records are added inside an open SQLite transaction; CommitSlice (with the
// file's progress) or Commit ends it, and the next Add opens the next one.
class SqliteEnqueueTransaction final : public EnqueueTransaction {
 public:
  explicit SqliteEnqueueTransaction(SqliteOutbox& owner) : owner_(owner), db_(*owner.db_), txn_(db_) {}
  ~SqliteEnqueueTransaction() override {
    txn_.Rollback();
    Close();
  }

  // Takes the write lock at once, as before slices existed: a caller learns of a busy or read-only outbox
  // before reading its file.
  Status Start() {
    created_at_ = owner_.NowMillis();
    return OpenSlice();
  }

  Status Add(const Record& r) override {
    if (!failed_.ok()) return failed_;
    if (done_) return Fail(FailedPrecondition("outbox " + db_.path() + ": Add after Commit"));
    if (!holds_outbox_) {
      if (Status st = OpenSlice(); !st.ok()) return Fail(std::move(st));
    }
    ++added_;
    if (Status st = ValidateRecord(r); !st.ok()) return Fail(std::move(st));
    if (dead_lookup_) {
      StatementUse use(dead_lookup_);
      use.Bind(1, r.id);
      int rc = use.Step();
      if (rc == SQLITE_ROW) {
        ++slice_skipped_;
        return Status::Ok();
      }
      if (rc != SQLITE_DONE) return Fail(db_.Error(rc, "queueing records"));
    }
    auto file_id = FileId(r.source_file);
    if (!file_id.ok()) return Fail(file_id.status());
    const auto size = static_cast<int64_t>(RecordWireSize(r));
    StatementUse use(insert_);
    use.Bind(1, r.id);
    use.Bind(2, r.type);
    use.Bind(3, r.data_json);
    if (*file_id > 0) use.Bind(4, *file_id);  // else NULL: no file
    use.Bind(5, r.source_row);
    use.Bind(6, created_at_);
    use.Bind(7, size);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return Fail(db_.Error(rc, "queueing records"));
    slice_bytes_ += size;
    // Rowids grow within a transaction, so the first is the lowest this slice adds.
    if (slice_inserted_++ == 0) first_seq_ = sqlite3_last_insert_rowid(db_.handle());
    return Status::Ok();
  }

  Status CommitSlice(const FileProgress& progress) override {
    if (!failed_.ok()) return failed_;
    if (done_) return FailedPrecondition("outbox " + db_.path() + ": CommitSlice after Commit");
    if (progress.sha256.empty()) return Fail(InvalidArgument("outbox: a file's SHA-256 must not be empty"));
    if (!holds_outbox_) {
      if (Status st = OpenSlice(); !st.ok()) return Fail(std::move(st));
    }
    auto stmt = db_.Cached(
        "INSERT INTO file_progress(sha256, name, rows_done, rows_ok, rows_failed, updated_at) VALUES(?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(sha256) DO UPDATE SET name=excluded.name, rows_done=excluded.rows_done, "
        "rows_ok=excluded.rows_ok, rows_failed=excluded.rows_failed, updated_at=excluded.updated_at");
    if (!stmt.ok()) return Fail(stmt.status());
    {
      StatementUse use(*stmt);
      use.Bind(1, progress.sha256);
      use.Bind(2, progress.name);
      use.Bind(3, progress.rows_done);
      use.Bind(4, progress.rows_ok);
      use.Bind(5, progress.rows_failed);
      use.Bind(6, owner_.NowMillis());
      int rc = use.Step();
      if (rc != SQLITE_DONE) return Fail(db_.Error(rc, "recording the file's progress"));
    }
    if (Status st = CountSlice(0); !st.ok()) return Fail(std::move(st));
    if (Status st = txn_.Commit(); !st.ok()) return Fail(std::move(st));
    EndSlice();
    return Status::Ok();
  }

  Result<EnqueueCounts> Commit(const std::optional<FileInfo>& file) override {
    if (!failed_.ok()) return failed_;
    if (done_) return FailedPrecondition("outbox " + db_.path() + ": Commit called twice");
    if (!holds_outbox_) {
      if (Status st = OpenSlice(); !st.ok()) return Fail(std::move(st));
    }
    int64_t files = 0;
    if (file) {
      if (file->sha256.empty()) return Fail(InvalidArgument("outbox: a file's SHA-256 must not be empty"));
      files = 1;
      auto known = RecordFile(*file);
      if (!known.ok()) return Fail(known.status());
      if (*known) {
        // Queued before (by another connection since the caller's HasFile, or a caller that did not ask):
        // the file's records are already in the outbox or delivered, so none is queued twice. Slices
        // committed before cannot be taken back; the server de-duplicates their ids.
        txn_.Rollback();
        done_ = true;
        Close();
        return EnqueueCounts{committed_.inserted, added_ - committed_.inserted, true};
      }
    }
    if (Status st = CountSlice(files); !st.ok()) return Fail(std::move(st));
    if (Status st = txn_.Commit(); !st.ok()) return Fail(std::move(st));
    EndSlice();
    done_ = true;
    return committed_;
  }

  int64_t added() const override { return added_; }

 private:
  Status OpenSlice() {
    if (Status st = owner_.Writable(/*synchronous_full=*/true); !st.ok()) return st;
    if (Status st = owner_.ReserveHeldForIngest(); !st.ok()) return st;
    if (Status st = txn_.Begin("queueing records"); !st.ok()) return st;
    auto insert = db_.Cached(
        "INSERT INTO records(id, type, data, file_id, source_row, created_at, size) VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!insert.ok()) return insert.status();
    insert_ = *insert;
    // Most of the time there are no dead letters: skip the per-record lookup then. Asked again per slice:
    // delivery may have dead-lettered records between slices.
    dead_lookup_ = nullptr;
    auto dead = db_.QueryInt("SELECT EXISTS(SELECT 1 FROM dead_letters)");
    if (!dead.ok()) return dead.status();
    if (*dead) {
      auto lookup = db_.Cached("SELECT 1 FROM dead_letters WHERE id=?");
      if (!lookup.ok()) return lookup.status();
      dead_lookup_ = *lookup;
    }
    owner_.enqueue_open_ = true;
    holds_outbox_ = true;
    slice_inserted_ = slice_skipped_ = slice_bytes_ = 0;
    file_name_.clear();
    file_id_ = 0;  // a file row made in a rolled-back slice is gone: look the name up again in each slice
    return Status::Ok();
  }

  // The id of the file name in the files table, added in this transaction when new; 0 for "" (no file). The
  // records of a file share its name, so this is one lookup per slice.
  Result<int64_t> FileId(const std::string& name) {
    if (name.empty()) return int64_t{0};
    if (file_id_ > 0 && name == file_name_) return file_id_;
    auto add = db_.Cached("INSERT INTO files(name) VALUES(?) ON CONFLICT(name) DO NOTHING");
    if (!add.ok()) return add.status();
    {
      StatementUse use(*add);
      use.Bind(1, name);
      int rc = use.Step();
      if (rc != SQLITE_DONE) return db_.Error(rc, "recording a file name");
    }
    auto find = db_.Cached("SELECT file_id FROM files WHERE name=?");
    if (!find.ok()) return find.status();
    StatementUse use(*find);
    use.Bind(1, name);
    int rc = use.Step();
    if (rc != SQLITE_ROW) return db_.Error(rc, "recording a file name");
    file_name_ = name;
    file_id_ = use.Int(0);
    return file_id_;
  }

  // The slice's records (and the file, when it ends) join the counters, in the slice's transaction.
  Status CountSlice(int64_t files) {
    CounterDelta d;
    d.queued = slice_inserted_;
    d.queued_bytes = slice_bytes_;
    d.files = files;
    return owner_.ApplyCounters(d);
  }

  // Inserts the file's row and removes its progress (any slices of it, from this run or an interrupted one);
  // true when the hash was already recorded.
  Result<bool> RecordFile(const FileInfo& file) {
    auto stmt = db_.Cached(
        "INSERT INTO ingested_files(sha256, name, rows_ok, rows_failed, queued_at) VALUES(?, ?, ?, ?, ?) "
        "ON CONFLICT(sha256) DO NOTHING");
    if (!stmt.ok()) return stmt.status();
    {
      StatementUse use(*stmt);
      use.Bind(1, file.sha256);
      use.Bind(2, file.name);
      use.Bind(3, file.rows_ok);
      use.Bind(4, file.rows_failed);
      use.Bind(5, created_at_);
      int rc = use.Step();
      if (rc != SQLITE_DONE) return db_.Error(rc, "recording the file's hash");
    }
    if (db_.Changes() == 0) return true;
    auto del = db_.Cached("DELETE FROM file_progress WHERE sha256=?");
    if (!del.ok()) return del.status();
    StatementUse use(*del);
    use.Bind(1, file.sha256);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return db_.Error(rc, "removing the file's progress");
    return false;
  }

  // After a successful commit of the current slice: its counts join the committed ones.
  void EndSlice() {
    committed_.inserted += slice_inserted_;
    committed_.skipped += slice_skipped_;
    if (slice_inserted_ > 0) owner_.LowerPendingFloor(first_seq_);
    slice_inserted_ = slice_skipped_ = slice_bytes_ = 0;
    Close();
  }

  // Voids the transaction: rolls back the current slice now, so the write lock is released at once.
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
  int64_t first_seq_ = 0;  // seq of the first record inserted in the current slice
  int64_t slice_inserted_ = 0, slice_skipped_ = 0, slice_bytes_ = 0;
  std::string file_name_;  // the name file_id_ belongs to (this slice's cache)
  int64_t file_id_ = 0;
  EnqueueCounts committed_;  // over the slices committed so far
  Status failed_;
  bool done_ = false;
  bool holds_outbox_ = false;  // a slice's SQLite transaction is open (this object set owner_.enqueue_open_)
};

Result<std::unique_ptr<EnqueueTransaction>> SqliteOutbox::BeginEnqueue() {
  auto txn = std::make_unique<SqliteEnqueueTransaction>(*this);
  if (Status st = txn->Start(); !st.ok()) return st;
  return std::unique_ptr<EnqueueTransaction>(std::move(txn));
}

Result<std::optional<FileProgress>> SqliteOutbox::GetFileProgress(const std::string& sha256) {
  if (Status st = Usable(); !st.ok()) return st;
  auto stmt = db_->Cached("SELECT name, rows_done, rows_ok, rows_failed FROM file_progress WHERE sha256=?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, sha256);
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<FileProgress>();
  if (rc != SQLITE_ROW) return db_->Error(rc, "reading a file's progress");
  return std::optional<FileProgress>(FileProgress{sha256, use.Text(0), use.Int(1), use.Int(2), use.Int(3)});
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
