// Opening the SQLite outbox (file mode, WAL, migrations, pragmas) and its state queries: stats, size, meta,
// ingested files, integrity.
#include "agent/outbox/sqlite_outbox.h"

#include <filesystem>
#include <system_error>

#include "agent/env/env.h"
#include "agent/outbox/schema.h"

namespace opescare::outbox {
namespace internal {
namespace {

constexpr int64_t kJournalSizeLimitBytes = 64 * 1024 * 1024;  // the -wal file shrinks back to this after a checkpoint
constexpr size_t kMaxIntegryMessages = 20;

// The outbox's words for an env error: what failed, the OS's words, and the fix.
Status OutboxFileStatus(const Status& failed, const std::string& path, const char* what) {
  const std::string& m = failed.message();  // "<path>: <what>: <the OS's words>" (env.h)
  const size_t words = m.rfind(": ");
  std::string msg = "outbox " + path + ": " + what + ": " + (words == std::string::npos ? m : m.substr(words + 2));
  switch (failed.code()) {
    case Code::kPermissionDenied:
      return PermissionDenied(msg + "; give the agent's user read and write access to the file and its directory");
    case Code::kNotFound: return IoError(msg + "; create the directory holding it, or fix outbox.path");
    case Code::kResourceExhausted: return ResourceExhausted(msg + "; free disk space on that volume");
    default: return IoError(msg + "; check the disk and the path");
  }
}

// Only the agent's user may read patient data: the file, and the -wal/-shm files SQLite creates beside it
// with the database's mode, are 0600. An existing file with looser bits is tightened.
Status CreatePrivateFile(const std::string& path) {
  env::Env& env = *env::Env::Default();
  {
    auto file = env.NewWritableFile(path, env::OpenMode::kAppend, 0600);  // never follows a link
    if (!file.ok()) return OutboxFileStatus(file.status(), path, "cannot open or create");
  }
  auto info = env.Stat(path, /*follow_links=*/false);
  if (!info.ok()) return OutboxFileStatus(info.status(), path, "cannot stat");
  if (info->type != env::FileType::kRegular)
    return InvalidArgument("outbox " + path + " is not a regular file: fix outbox.path");
  if ((info->mode & 077) != 0) {
    if (Status s = env.SetMode(path, 0600); !s.ok())
      return OutboxFileStatus(s, path, "cannot restrict the file to mode 0600");
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    std::string side = path + suffix;
    auto side_info = env.Stat(side);
    if (side_info.ok() && (side_info->mode & 077) != 0) {
      if (Status s = env.SetMode(side, 0600); !s.ok())
        return OutboxFileStatus(s, side, "cannot restrict the file to mode 0600");
    }
  }
  return Status::Ok();
}

uint64_t FileSize(const std::string& path) {
  auto info = env::Env::Default()->Stat(path);
  return info.ok() ? info->size : 0;
}

Status ConfigureWriter(Database& db, const OutboxOptions& options) {
  auto mode = db.Cached("PRAGMA journal_mode=WAL");
  if (!mode.ok()) return mode.status();
  {
    StatementUse use(*mode);
    int rc = use.Step();
    if (rc != SQLITE_ROW) return db.Error(rc, "switching to WAL");
    if (use.Text(0) != "wal")
      return IoError("outbox " + db.path() + ": the filesystem does not support SQLite's WAL mode (journal mode is " +
                     use.Text(0) + "); put outbox.path on a local disk");
  }
  std::string limit = "PRAGMA journal_size_limit=" + std::to_string(kJournalSizeLimitBytes);
  if (Status st = db.Exec(limit.c_str(), "setting journal_size_limit"); !st.ok()) return st;
  if (options.hard_limit_bytes > 0) {
    auto page_size = db.QueryInt("PRAGMA page_size");
    if (!page_size.ok()) return page_size.status();
    uint64_t pages = options.hard_limit_bytes / static_cast<uint64_t>(*page_size);
    std::string cap = "PRAGMA max_page_count=" + std::to_string(pages > 0 ? pages : 1);
    if (Status st = db.Exec(cap.c_str(), "setting max_page_count"); !st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace

int64_t ToMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
TimePoint FromMillis(int64_t ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(ms)));
}

SqliteOutbox::SqliteOutbox(std::unique_ptr<Database> db, const Clock* clock)
    : db_(std::move(db)), clock_(clock ? clock : &system_clock_) {}

SqliteOutbox::~SqliteOutbox() = default;

Status SqliteOutbox::Usable() const {
  if (enqueue_open_)
    return FailedPrecondition("outbox " + path() +
                              ": an enqueue transaction is open on this connection; commit or "
                              "destroy it first");
  return Status::Ok();
}

Status SqliteOutbox::Writable(bool synchronous_full) {
  if (Status st = Usable(); !st.ok()) return st;
  if (db_->read_only()) return FailedPrecondition("outbox " + path() + " was opened read-only");
  return db_->SetSynchronousFull(synchronous_full);
}

Result<bool> SqliteOutbox::HasFile(const std::string& sha256) {
  if (Status st = Usable(); !st.ok()) return st;
  auto stmt = db_->Cached("SELECT 1 FROM ingested_files WHERE sha256=?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, sha256);
  int rc = use.Step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, "looking up a file hash");
}

Result<std::vector<IngestedFile>> SqliteOutbox::ListFiles(size_t limit) {
  if (Status st = Usable(); !st.ok()) return st;
  auto stmt = db_->Cached(
      "SELECT sha256, name, rows_ok, rows_failed, queued_at FROM ingested_files ORDER BY rowid DESC LIMIT ?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, static_cast<int64_t>(limit));
  std::vector<IngestedFile> out;
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW)
    out.push_back({use.Text(0), use.Text(1), use.Int(2), use.Int(3), FromMillis(use.Int(4))});
  if (rc != SQLITE_DONE) return db_->Error(rc, "listing ingested files");
  return out;
}

Result<Stats> SqliteOutbox::GetStats() {
  if (Status st = Usable(); !st.ok()) return st;
  Transaction txn(*db_);  // one snapshot for every figure
  if (Status st = txn.Begin("reading statistics", /*write=*/false); !st.ok()) return st;
  Stats s;
  {
    // The counters every write keeps (schema.cpp): O(1), however long the queue.
    auto stmt = db_->Cached("SELECT queued, queued_bytes, batched, batched_bytes, batches, dead, files FROM counters");
    if (!stmt.ok()) return stmt.status();
    StatementUse use(*stmt);
    int rc = use.Step();
    if (rc != SQLITE_ROW) return db_->Error(rc, "reading the outbox's counters");
    s.queued = use.Int(0);
    s.queued_bytes = static_cast<uint64_t>(use.Int(1));
    s.in_batches = use.Int(2);
    s.pending = s.queued - s.in_batches;
    s.pending_bytes = static_cast<uint64_t>(use.Int(1) - use.Int(3));
    s.batches = use.Int(4);
    s.dead = use.Int(5);
    s.files = use.Int(6);
  }
  s.in_flight = static_cast<int64_t>(in_flight_.size());
  auto next = db_->Cached("SELECT min(next_attempt_at) FROM batches");  // batches_by_due: O(1)
  if (!next.ok()) return next.status();
  {
    StatementUse use(*next);
    int rc = use.Step();
    if (rc != SQLITE_ROW) return db_->Error(rc, "reading the next attempt");
    if (!use.IsNull(0)) s.next_attempt_at = FromMillis(use.Int(0));
  }
  if (s.queued > 0) {
    // The first record in queue order is the oldest (requeued dead letters aside): O(1), not a scan.
    auto oldest = db_->QueryInt("SELECT created_at FROM records ORDER BY seq LIMIT 1");
    if (!oldest.ok()) return oldest.status();
    s.oldest_queued_age_seconds = std::max<int64_t>(0, (NowMillis() - *oldest) / 1000);
  }
  auto pages = db_->QueryInt("PRAGMA page_count");
  if (!pages.ok()) return pages.status();
  auto free_pages = db_->QueryInt("PRAGMA freelist_count");
  if (!free_pages.ok()) return free_pages.status();
  auto page_size = db_->QueryInt("PRAGMA page_size");
  if (!page_size.ok()) return page_size.status();
  s.used_bytes = static_cast<uint64_t>((*pages - *free_pages) * *page_size);
  s.file_bytes = FileSize(path()) + FileSize(path() + "-wal");
  if (Status st = txn.Commit(); !st.ok()) return st;
  return s;
}

Result<bool> SqliteOutbox::IsFull(uint64_t max_size_mb) {
  if (Status st = Usable(); !st.ok()) return st;
  auto pages = db_->QueryInt("PRAGMA page_count");
  if (!pages.ok()) return pages.status();
  auto free_pages = db_->QueryInt("PRAGMA freelist_count");
  if (!free_pages.ok()) return free_pages.status();
  auto page_size = db_->QueryInt("PRAGMA page_size");
  if (!page_size.ok()) return page_size.status();
  uint64_t used = static_cast<uint64_t>((*pages - *free_pages) * *page_size);
  return used > max_size_mb * 1024 * 1024;
}

Result<std::optional<std::string>> SqliteOutbox::GetMeta(const std::string& key) {
  if (Status st = Usable(); !st.ok()) return st;
  auto stmt = db_->Cached("SELECT value FROM meta WHERE key=?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, key);
  int rc = use.Step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(use.Text(0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return db_->Error(rc, "reading metadata");
}

Status SqliteOutbox::SetMetaOnce(const std::string& key, const std::string& value) {
  if (Status st = Writable(false); !st.ok()) return st;
  auto stmt =
      db_->Cached("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, key);
  use.Bind(2, value);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return db_->Error(rc, "writing metadata");
  return Status::Ok();
}

Status SqliteOutbox::DeleteMetaOnce(const std::string& key) {
  if (Status st = Writable(false); !st.ok()) return st;
  auto stmt = db_->Cached("DELETE FROM meta WHERE key=?");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  use.Bind(1, key);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return db_->Error(rc, "deleting metadata");
  return Status::Ok();
}

Status SqliteOutbox::IntegrityCheck() {
  if (Status st = Usable(); !st.ok()) return st;
  auto stmt = db_->Cached("PRAGMA integrity_check");
  if (!stmt.ok()) return stmt.status();
  StatementUse use(*stmt);
  std::string problems;
  size_t count = 0;
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) {
    std::string line = use.Text(0);
    if (line == "ok") continue;
    if (++count <= kMaxIntegryMessages) problems += (problems.empty() ? "" : "; ") + line;
  }
  if (rc != SQLITE_DONE) return db_->Error(rc, "checking integrity");
  if (count == 0) return Status::Ok();
  if (count > kMaxIntegryMessages) problems += "; ... (" + std::to_string(count) + " problems in all)";
  return DataLoss("outbox " + path() + " failed PRAGMA integrity_check: " + problems +
                  "; keep the file (never delete it), stop the agent, and restore it from a backup or move it aside "
                  "to start an empty outbox");
}

}  // namespace internal

int SchemaVersion() { return internal::LatestSchemaVersion(); }

Result<std::unique_ptr<Outbox>> OpenOutbox(const OutboxOptions& options) {
  using namespace internal;
  if (options.path.empty()) return InvalidArgument("outbox.path is empty: set it to the outbox file's path");
  if (options.read_only) {
    if (auto info = env::Env::Default()->Stat(options.path); !info.ok()) {
      if (info.status().code() == Code::kNotFound)
        return NotFound("no outbox at " + options.path + " (the agent has not created it yet)");
      return OutboxFileStatus(info.status(), options.path, "cannot stat");
    }
  } else if (Status st = CreatePrivateFile(options.path); !st.ok()) {
    return st;
  }
  auto db = Database::Open(options.path, options.read_only, options.busy_timeout);
  if (!db.ok()) return db.status();
  Database& d = **db;
  if (!options.read_only) {
    // The first read also tells a foreign or corrupt file (kDataLoss) before anything is written.
    if (Status st = RefuseNewerSchema(d); !st.ok()) return st;
    if (Status st = ConfigureWriter(d, options); !st.ok()) return st;
    if (Status st = Migrate(d); !st.ok()) {
      // A full disk must not keep an older outbox from opening (ARCHITECTURE.md "Durability rules"): the
      // reserve its last run left gives the migration's rewrite room, once. Made again when there is space.
      std::error_code ec;
      if (st.code() != Code::kResourceExhausted || options.reserve_bytes == 0 ||
          !std::filesystem::remove(options.path + ".reserve", ec))
        return st;
      if (Status again = Migrate(d); !again.ok()) return again;
    }
  } else if (Status st = CheckSchemaVersion(d); !st.ok()) {
    return st;
  }
  std::string cache = "PRAGMA cache_size=" + std::to_string(-options.cache_size_kib);
  if (Status st = d.Exec(cache.c_str(), "setting cache_size"); !st.ok()) return st;
  if (Status st = d.Exec("PRAGMA temp_store=MEMORY", "setting temp_store"); !st.ok()) return st;
  auto outbox = std::make_unique<SqliteOutbox>(std::move(*db), options.clock);
  if (!options.read_only) outbox->InitReserve(options.reserve_bytes);
  return std::unique_ptr<Outbox>(std::move(outbox));
}

}  // namespace opescare::outbox
