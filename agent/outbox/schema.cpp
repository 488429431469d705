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
    {3, R"sql(
-- The write-once outbox. A record's row is written when it is queued and deleted when the server names it;
-- nothing marks it in between. A batch is a list of seq ranges (batch_ranges): one range in the common case,
-- more when it took records returned to pending between other batches. A record is pending when no range
-- holds its seq. New seqs are always above every range (a batch's records exist until the batch is gone, and
-- SQLite gives a new row max(seq)+1), so a range never gains a record.

-- The v1/v2 batches keep their ids and attempt state; their counts are made exact and empty ones dropped.
UPDATE batches SET record_count = (SELECT count(*) FROM records WHERE records.batch_id = batches.batch_id),
                   bytes = (SELECT coalesce(sum(size), 0) FROM records WHERE records.batch_id = batches.batch_id);
DELETE FROM batches WHERE record_count = 0;

CREATE TABLE batch_ranges(
  first_seq INTEGER PRIMARY KEY,    -- ranges never overlap
  last_seq INTEGER NOT NULL,
  batch_id TEXT NOT NULL            -- batches.batch_id
);
CREATE INDEX batch_ranges_by_batch ON batch_ranges(batch_id);
-- A v1 batch's records in maximal runs of consecutive rows (in seq order) of that batch.
INSERT INTO batch_ranges(first_seq, last_seq, batch_id)
  SELECT min(seq), max(seq), batch_id FROM (
    SELECT seq, batch_id, sum(brk) OVER (ORDER BY seq) AS run FROM (
      SELECT seq, batch_id, (batch_id IS NOT lag(batch_id) OVER (ORDER BY seq)) AS brk FROM records))
  WHERE batch_id IN (SELECT batch_id FROM batches)
  GROUP BY run;

-- Each source file's name once.
CREATE TABLE files(
  file_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
INSERT INTO files(name)
  SELECT source_file FROM records WHERE source_file <> ''
  UNION SELECT source_file FROM dead_letters WHERE source_file <> '';

-- The figures GetStats reports, kept by every write in its own transaction (no count(*) when asked).
CREATE TABLE counters(
  only INTEGER PRIMARY KEY CHECK (only = 1),
  queued INTEGER NOT NULL,          -- records (pending + in batches)
  queued_bytes INTEGER NOT NULL,    -- their sizes
  batched INTEGER NOT NULL,         -- records in batches
  batched_bytes INTEGER NOT NULL,
  batches INTEGER NOT NULL,
  dead INTEGER NOT NULL,            -- dead letters
  files INTEGER NOT NULL            -- ingested_files rows
);
INSERT INTO counters VALUES(1,
  (SELECT count(*) FROM records), (SELECT coalesce(sum(size), 0) FROM records),
  (SELECT coalesce(sum(record_count), 0) FROM batches), (SELECT coalesce(sum(bytes), 0) FROM batches),
  (SELECT count(*) FROM batches), (SELECT count(*) FROM dead_letters), (SELECT count(*) FROM ingested_files));

-- Records and dead letters without their batch mark and with their file by id (rewritten once, in seq order).
CREATE TABLE records_v3(
  seq INTEGER PRIMARY KEY,          -- queue order
  id TEXT NOT NULL,                 -- stable record id; the server de-duplicates by it
  type TEXT NOT NULL,
  data TEXT NOT NULL,               -- the record's "data" object, JSON text
  file_id INTEGER,                  -- files.file_id; NULL for a record queued without a file
  source_row INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  size INTEGER NOT NULL             -- RecordWireSize
);
INSERT INTO records_v3(seq, id, type, data, file_id, source_row, created_at, size)
  SELECT seq, id, type, data, (SELECT file_id FROM files WHERE name = source_file), source_row, created_at, size
  FROM records ORDER BY seq;
DROP TABLE records;
ALTER TABLE records_v3 RENAME TO records;

CREATE TABLE dead_letters_v3(
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  file_id INTEGER,
  source_row INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  error TEXT NOT NULL,
  message TEXT NOT NULL,
  dead_at INTEGER NOT NULL
);
INSERT INTO dead_letters_v3(id, type, data, file_id, source_row, created_at, size, error, message, dead_at)
  SELECT id, type, data, (SELECT file_id FROM files WHERE name = source_file), source_row, created_at, size, error,
         message, dead_at
  FROM dead_letters ORDER BY rowid;
DROP TABLE dead_letters;
ALTER TABLE dead_letters_v3 RENAME TO dead_letters;
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
  // Every step up to `target` in ONE transaction with the user_version bump: a crash leaves the file as it
  // was (WAL rollback), and the next start migrates it again from there.
  Transaction txn(db);
  if (Status st = txn.Begin("upgrading the schema"); !st.ok()) return st;
  // Another process may have migrated while we waited for the lock.
  auto now_version = UserVersion(db);
  if (!now_version.ok()) return now_version.status();
  if (*now_version >= target) return Status::Ok();
  for (const Migration& m : kMigrations) {
    if (m.version <= *now_version || m.version > target) continue;
    if (Status st = db.Exec(m.sql, "upgrading the schema to version " + std::to_string(m.version)); !st.ok()) return st;
  }
  std::string bump = "PRAGMA user_version=" + std::to_string(target);
  if (Status st = db.Exec(bump.c_str(), "recording the schema version"); !st.ok()) return st;
  return txn.Commit();
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
