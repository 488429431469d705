// SQLite connection, statement cache, transactions and error mapping for the outbox (see sqlite_db.h).
#include "agent/outbox/sqlite_db.h"

#include <mutex>

namespace opescare::outbox::internal {
namespace {

const char* FixFor(Code code) {
  switch (code) {
    case Code::kResourceExhausted:
      return "free disk space on the volume holding it (or raise its size limit); queued records are kept and "
             "new files wait until there is room";
    case Code::kDataLoss:
      return "the file is damaged or is not an outbox: keep it (never delete it), run `opescare-bridge doctor`, "
             "then restore it from a backup or move it aside to start an empty outbox";
    case Code::kUnavailable:
      return "another process holds its lock; retry, and make sure only one agent uses this file";
    case Code::kPermissionDenied:
      return "give the agent's user read and write access to the file and its directory";
    case Code::kIoError:
      return "check the disk, and that the agent's user can read and write the file and its directory";
    default:
      return "this is a bug in the agent; please report it with this message";
  }
}

}  // namespace

Code CodeForSqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Code::kOk;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return Code::kResourceExhausted;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Code::kDataLoss;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Code::kUnavailable;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return Code::kIoError;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return Code::kPermissionDenied;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return Code::kInvalidArgument;
    default:
      return Code::kInternal;
  }
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, bool read_only,
                                                 std::chrono::milliseconds busy_timeout) {
  // No page cache bulk-allocated up front (SQLITE_DEFAULT_PCACHE_INITSZ: ~20 pages a connection, kept for
  // the connection's life): pages are allocated as a connection uses them. Set once, before SQLite starts.
  static std::once_flag pagecache_once;
  std::call_once(pagecache_once, [] { (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0); });
  sqlite3* db = nullptr;
  // NOMUTEX: one connection per thread is the outbox's contract, so SQLite's own mutex would be waste.
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  std::unique_ptr<Database> out(new Database(db, path, read_only));
  if (rc != SQLITE_OK) {
    if (db == nullptr) return ResourceExhausted("outbox " + path + ": SQLite could not allocate a connection");
    return out->Error(rc, "opening");
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  return out;
}

Database::~Database() {
  statements_.clear();  // finalize before closing
  sqlite3_close_v2(db_);
}

Status Database::Error(int rc, std::string_view what) const {
  Code code = CodeForSqlite(rc);
  if (code == Code::kOk) code = Code::kInternal;
  std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  std::string msg = "outbox " + path_ + ": " + std::string(what) + " failed: " + detail + " (SQLite code " +
                    std::to_string(rc) + "); " + FixFor(code);
  return Status(code, std::move(msg));
}

Status Database::Exec(const char* sql, std::string_view what) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, what);
  return Status::Ok();
}

Result<sqlite3_stmt*> Database::Cached(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, "preparing a statement");
  }
  statements_.emplace(sql, std::unique_ptr<sqlite3_stmt, Finalizer>(stmt));
  return stmt;
}

Result<int64_t> Database::QueryInt(const char* sql) {
  auto stmt = Cached(sql);
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return Error(rc, std::string("running ") + sql);
  return use.Int(0);
}

Status Database::SetSynchronousFull(bool full) {
  int want = full ? 2 : 1;
  if (synchronous_ == want) return Status::Ok();
  Status st = Exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", "setting PRAGMA synchronous");
  if (!st.ok()) return st;
  synchronous_ = want;
  return Status::Ok();
}

void Transaction::Rollback() {
  // An error such as SQLITE_FULL may already have rolled the transaction back.
  if (open_ && !sqlite3_get_autocommit(db_.handle())) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  open_ = false;
}

Status Transaction::Begin(std::string_view what, bool write) {
  what_ = what;
  Status st = db_.Exec(write ? "BEGIN IMMEDIATE" : "BEGIN", what_);
  if (st.ok()) open_ = true;
  return st;
}

Status Transaction::Commit() {
  if (!open_) return Internal("outbox " + db_.path() + ": commit without an open transaction");
  int rc = sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return db_.Error(rc, what_);  // destructor rolls back what is left
  open_ = false;
  return Status::Ok();
}

}  // namespace opescare::outbox::internal
