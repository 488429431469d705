// The outbox's schema and its migrations (see schema.h). Times are Unix milliseconds; sizes are bytes.
#include "agent/outbox/schema.h"

#include <string>

namespace opescare::outbox::internal {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append only: a released migration never changes, a new one gets the next version.
constexpr Migration kMigrations[] = {
    {1, R"sql(
-- No index on id: ids are random hashes, and a random-order index costs a page write per record on
-- enqueue and on ack (measured 4x slower ingest, 6x slower drain). Whole files are de-duplicated by
-- ingested_files, records by the server.
CREATE TABLE records(
  seq INTEGER PRIMARY KEY,          -- queue order
  id TEXT NOT NULL,                 -- stable record id; the server de-duplicates by it
  type TEXT NOT NULL,
  data TEXT NOT NULL,               -- the record's "data" object, JSON text
  source_file TEXT NOT NULL,
  source_row INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  size INTEGER NOT NULL,            -- RecordWireSize
  batch_id TEXT                     -- NULL: pending; else the batch it travels in
);
-- Only batched records are indexed, so queueing a record touches no index. Pending records are read in
-- seq order from a floor the outbox keeps in memory (every pending seq >= floor): O(batch), not O(table).
CREATE INDEX records_by_batch ON records(batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE batches(
  batch_id TEXT PRIMARY KEY,        -- UUID, the Idempotency-Key
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  record_count INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
CREATE INDEX batches_by_due ON batches(next_attempt_at);

CREATE TABLE dead_letters(
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  source_file TEXT NOT NULL,
  source_row INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  error TEXT NOT NULL,
  message TEXT NOT NULL,
  dead_at INTEGER NOT NULL
);

CREATE TABLE ingested_files(
  sha256 TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  rows_ok INTEGER NOT NULL,
  rows_failed INTEGER NOT NULL,
  queued_at INTEGER NOT NULL
);

CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
    {2, R"sql(
-- A file queued in several transactions (slices): how far it got, committed with each slice's records and
-- deleted in the transaction that records the whole file in ingested_files (CSV.md "A file's life").
CREATE TABLE file_progress(
  sha256 TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  rows_done INTEGER NOT NULL,       -- data rows consumed, in file order (queued or reported as failed)
  rows_ok INTEGER NOT NULL,
  rows_failed INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
)sql"},
};

Result<int64_t> UserVersion(Database& db) { return db.QueryInt("PRAGMA user_version"); }

Status TooNew(const Database& db, int64_t version) {
  return FailedPrecondition("outbox " + db.path() + " has schema version " + std::to_string(version) +
                            ", newer than this agent knows (" + std::to_string(LatestSchemaVersion()) +
                            "): upgrade the agent, or point outbox.path at another file");
}

}  // namespace

int LatestSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

Status Migrate(Database& db) { return MigrateTo(db, LatestSchemaVersion()); }

Status MigrateTo(Database& db, int target) {
  auto version = UserVersion(db);
  if (!version.ok()) return version.status();
  if (*version > LatestSchemaVersion()) return TooNew(db, *version);
  if (*version == 0) {
    // Version 0 must mean a new, empty file: never build the outbox inside another program's database.
    auto objects = db.QueryInt("SELECT count(*) FROM sqlite_master");
    if (!objects.ok()) return objects.status();
    if (*objects > 0)
      return FailedPrecondition("outbox " + db.path() +
                                " is an SQLite database of another program (it has tables but no outbox schema "
                                "version): point outbox.path at a new file");
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= *version || m.version > target) continue;
    Transaction txn(db);
    if (Status st = txn.Begin("upgrading the schema"); !st.ok()) return st;
    // Another process may have migrated while we waited for the lock.
    auto now_version = UserVersion(db);
    if (!now_version.ok()) return now_version.status();
    if (*now_version >= m.version) continue;
    if (Status st = db.Exec(m.sql, "upgrading the schema to version " + std::to_string(m.version)); !st.ok()) return st;
    std::string bump = "PRAGMA user_version=" + std::to_string(m.version);
    if (Status st = db.Exec(bump.c_str(), "recording the schema version"); !st.ok()) return st;
    if (Status st = txn.Commit(); !st.ok()) return st;
  }
  return Status::Ok();
}

Status RefuseNewerSchema(Database& db) {
  auto version = UserVersion(db);
  if (!version.ok()) return version.status();
  if (*version > LatestSchemaVersion()) return TooNew(db, *version);
  return Status::Ok();
}

Status CheckSchemaVersion(Database& db) {
  auto version = UserVersion(db);
  if (!version.ok()) return version.status();
  if (*version == LatestSchemaVersion()) return Status::Ok();
  if (*version > LatestSchemaVersion()) return TooNew(db, *version);
  if (*version == 0) return NotFound("outbox " + db.path() + " is empty: the agent has not created it yet");
  return FailedPrecondition("outbox " + db.path() + " has the older schema version " + std::to_string(*version) +
                            ": start the agent once to upgrade it");
}

}  // namespace opescare::outbox::internal
