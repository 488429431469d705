// The outbox volume's free space and the reserve that lets delivery commit on a full disk (ARCHITECTURE.md
// "Durability rules"): every delivery-side write goes through WithReserve.
//
// Why the WAL keeps working on a full disk: journal_size_limit (64 MiB) only trims the -wal file after a
// checkpoint, so a reset WAL is rewritten in place on blocks it already owns, and deleting or updating
// records never grows the database file, so checkpoints of acks need no new blocks either. Only growth past
// the -wal file's high-water mark needs room, which the reserve provides once.
#include <filesystem>
#include <system_error>

#include "agent/outbox/sqlite_outbox.h"
#include "agent/util/files.h"

namespace opescare::outbox::internal {

void SqliteOutbox::InitReserve(uint64_t bytes) {
  if (bytes == 0 || db_->read_only()) return;
  reserve_path_ = path() + ".reserve";
  reserve_bytes_ = bytes;
  // A disk already too full keeps working without it; CheckSpace makes it once there is room.
  (void)MakeReserve();
}

Status SqliteOutbox::MakeReserve() {
  if (reserve_path_.empty()) return FailedPrecondition("outbox " + path() + " keeps no reserve");
  Status st = PreallocateFile(reserve_path_, reserve_bytes_);
  reserve_held_ = st.ok();
  return st;
}

Status SqliteOutbox::ReserveHeldForIngest() {
  if (reserve_path_.empty() || reserve_held_) return Status::Ok();
  if (Status st = MakeReserve(); !st.ok())
    return ResourceExhausted("outbox " + path() +
                             ": its volume is full (the reserve kept for acknowledgements is in use: " + st.message() +
                             "); free disk space on that volume: queued records are kept, new files wait");
  return Status::Ok();
}

bool SqliteOutbox::ReleaseReserve() {
  if (!reserve_held_) return false;
  reserve_held_ = false;
  std::error_code ec;
  return std::filesystem::remove(reserve_path_, ec);
}

Result<SpaceReport> SqliteOutbox::CheckSpace(uint64_t min_free_mb) {
  auto free_bytes = FreeSpaceBytes(path());
  if (!free_bytes.ok()) return free_bytes.status();
  SpaceReport r;
  r.min_free_bytes = min_free_mb << 20;
  r.free_bytes = *free_bytes;
  // Made again only with room for both it and the watermark, so that making it never pushes the volume
  // below the watermark (which would stop ingest by itself).
  if (!reserve_held_ && !reserve_path_.empty() && r.free_bytes >= r.min_free_bytes + reserve_bytes_) {
    if (MakeReserve().ok()) {
      auto after = FreeSpaceBytes(path());
      if (!after.ok()) return after.status();
      r.free_bytes = *after;
    }
  }
  // A released reserve that cannot be made again is room owed: ingest may not take it (ReserveHeldForIngest),
  // so the volume counts as below the watermark until it holds the reserve and the watermark both.
  const uint64_t owed = !reserve_held_ && !reserve_path_.empty() ? reserve_bytes_ : 0;
  r.below_watermark = r.free_bytes < r.min_free_bytes + owed;
  r.reserve_held = reserve_held_;
  r.reserve_bytes = reserve_held_ ? reserve_bytes_ : 0;
  if (r.below_watermark && !enqueue_open_ && !db_->read_only()) {
    // Copy what the WAL holds into the database now, so the next write restarts the -wal file from its
    // start (in place) instead of growing it. Best effort: a reader may hold it back for a moment.
    (void)sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
  return r;
}

// --- Delivery-side writes: retried once with the reserve released when the disk is full -------------------

Result<NextBatch> SqliteOutbox::NextDueBatch(TimePoint now, const BatchLimits& limits) {
  return WithReserve([&] { return NextDueBatchOnce(now, limits); });
}

Result<AckCounts> SqliteOutbox::AckAll(const std::string& batch_id) {
  BatchAck ack;
  ack.batch_id = batch_id;
  return WithReserve([&] { return AckOnce(ack); });
}

Result<AckCounts> SqliteOutbox::AckPartial(const std::string& batch_id, const std::vector<std::string>& accepted,
                                           const std::vector<Rejection>& rejected) {
  BatchAck ack{batch_id, false, accepted, rejected};
  return WithReserve([&] { return AckOnce(ack); });
}

Result<AckAndNext> SqliteOutbox::AckAndNextDueBatch(const BatchAck& ack, TimePoint now, const BatchLimits& limits) {
  return WithReserve([&] { return AckAndNextOnce(ack, now, limits); });
}

Status SqliteOutbox::RescheduleBatch(const std::string& batch_id, TimePoint next_attempt_at, const std::string& error,
                                     bool count_attempt) {
  return WithReserve([&] { return RescheduleBatchOnce(batch_id, next_attempt_at, error, count_attempt); });
}

Result<SplitResult> SqliteOutbox::SplitBatch(const std::string& batch_id) {
  return WithReserve([&] { return SplitBatchOnce(batch_id); });
}

Status SqliteOutbox::DeadLetterBatch(const std::string& batch_id, const std::string& error,
                                     const std::string& message) {
  return WithReserve([&] { return DeadLetterBatchOnce(batch_id, error, message); });
}

Status SqliteOutbox::SetMeta(const std::string& key, const std::string& value) {
  return WithReserve([&] { return SetMetaOnce(key, value); });
}

Status SqliteOutbox::DeleteMeta(const std::string& key) {
  return WithReserve([&] { return DeleteMetaOnce(key); });
}

}  // namespace opescare::outbox::internal
