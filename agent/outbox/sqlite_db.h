// Internal to agent/outbox: RAII over the SQLite C API (connection, cached prepared statements, write
// transactions) and the mapping of SQLite errors to Status messages that name the file and the fix.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agent/util/status.h"

namespace opescare::outbox::internal {

// Pure: what the caller should do about an SQLite result code (primary or extended).
Code CodeForSqlite(int rc);

// Binds, steps and reads one cached statement; resets it and clears its bindings when the scope ends,
// so text bound without copying (SQLITE_STATIC) never outlives the call and no read lock lingers.
class StatementUse {
 public:
  explicit StatementUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

  // The bound text must live until this object is destroyed.
  void Bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
  void Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void BindNull(int index) { sqlite3_bind_null(stmt_, index); }
  int Step() { return sqlite3_step(stmt_); }

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
  }

 private:
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  // Opens the connection (the file must already exist for read_only) and sets the busy timeout.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, bool read_only,
                                                std::chrono::milliseconds busy_timeout);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }

  // A Status for result code rc met while doing `what` (e.g. "queueing records"), naming file and fix.
  Status Error(int rc, std::string_view what) const;
  // Runs SQL without results (pragmas, DDL, BEGIN/COMMIT).
  Status Exec(const char* sql, std::string_view what);
  // The prepared statement for `sql`, prepared once and cached by the literal's address: pass string
  // literals (or other strings that live as long as the program).
  Result<sqlite3_stmt*> Cached(const char* sql);
  // Runs a cached query (e.g. "PRAGMA page_count") and returns the integer in its first row.
  Result<int64_t> QueryInt(const char* sql);
  // Sets PRAGMA synchronous (FULL or NORMAL) unless already so; outside a transaction only.
  Status SetSynchronousFull(bool full);
  int64_t Changes() const { return sqlite3_changes64(db_); }

 private:
  Database(sqlite3* db, std::string path, bool read_only) : db_(db), path_(std::move(path)), read_only_(read_only) {}

  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  sqlite3* db_;
  std::string path_;
  bool read_only_;
  int synchronous_ = -1;  // unknown
  std::unordered_map<const char*, std::unique_ptr<sqlite3_stmt, Finalizer>> statements_;
};

// A transaction: Begin() runs BEGIN IMMEDIATE for writes (taking the write lock, waiting up to busy_timeout)
// or BEGIN for a consistent read; destroyed while still open (no successful Commit) it rolls back.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction() { Rollback(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status Begin(std::string_view what, bool write = true);
  Status Commit();
  void Rollback();

 private:
  Database& db_;
  std::string what_;
  bool open_ = false;
};

}  // namespace opescare::outbox::internal
