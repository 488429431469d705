// Tests of the free-space watermark and the reserve on real SQLite files. A fault-injecting SQLite VFS (over
// the default one) makes every write fail with SQLITE_FULL while "the disk is full", and the disk counts as
// full only while the reserve file exists: deleting the reserve is what frees room, as on a real volume.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "agent/util/files.h"
#include "tests/unit/outbox/outbox_test_support.h"

namespace opescare::outbox {
namespace {

using testing::MakeRecords;
using testing::OutboxTest;

std::atomic<bool> g_disk_full{false};
std::string g_reserve_path;  // the disk is full while this file exists
std::atomic<int> g_failed_writes{0};

struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;
};

sqlite3_vfs* g_real_vfs = nullptr;
sqlite3_io_methods g_methods;

bool Full() { return g_disk_full && std::filesystem::exists(g_reserve_path); }

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }
void FillMethods(const sqlite3_io_methods& real);

int FaultOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultFile*>(file);
  ff->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + sizeof(FaultFile));
  int rc = g_real_vfs->xOpen(g_real_vfs, name, ff->real, flags, out_flags);
  (void)vfs;
  if (rc != SQLITE_OK || ff->real->pMethods == nullptr) {
    ff->base.pMethods = nullptr;
    return rc;
  }
  // One method table copied from the real one, filled once, with xWrite replaced (all files use the unix
  // methods; method tables of other versions would need their own).
  static bool filled = false;
  if (!filled) FillMethods(*ff->real->pMethods);
  filled = true;
  ff->base.pMethods = &g_methods;
  return rc;
}

void FillMethods(const sqlite3_io_methods& real) {
  g_methods = real;
  g_methods.xClose = [](sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); };
  g_methods.xRead = [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
    return Real(f)->pMethods->xRead(Real(f), b, n, o);
  };
  g_methods.xWrite = [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
    if (Full()) {
      ++g_failed_writes;
      return SQLITE_FULL;
    }
    return Real(f)->pMethods->xWrite(Real(f), b, n, o);
  };
  g_methods.xTruncate = [](sqlite3_file* f, sqlite3_int64 s) { return Real(f)->pMethods->xTruncate(Real(f), s); };
  g_methods.xSync = [](sqlite3_file* f, int fl) { return Real(f)->pMethods->xSync(Real(f), fl); };
  g_methods.xFileSize = [](sqlite3_file* f, sqlite3_int64* s) { return Real(f)->pMethods->xFileSize(Real(f), s); };
  g_methods.xLock = [](sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); };
  g_methods.xUnlock = [](sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); };
  g_methods.xCheckReservedLock = [](sqlite3_file* f, int* r) {
    return Real(f)->pMethods->xCheckReservedLock(Real(f), r);
  };
  g_methods.xFileControl = [](sqlite3_file* f, int op, void* a) {
    return Real(f)->pMethods->xFileControl(Real(f), op, a);
  };
  g_methods.xSectorSize = [](sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); };
  g_methods.xDeviceCharacteristics = [](sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); };
  g_methods.xShmMap = [](sqlite3_file* f, int pg, int sz, int ext, void volatile** p) {
    return Real(f)->pMethods->xShmMap(Real(f), pg, sz, ext, p);
  };
  g_methods.xShmLock = [](sqlite3_file* f, int o, int n, int fl) {
    return Real(f)->pMethods->xShmLock(Real(f), o, n, fl);
  };
  g_methods.xShmBarrier = [](sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); };
  g_methods.xShmUnmap = [](sqlite3_file* f, int d) { return Real(f)->pMethods->xShmUnmap(Real(f), d); };
  g_methods.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
    return Real(f)->pMethods->xFetch(Real(f), o, n, p);
  };
  g_methods.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
    return Real(f)->pMethods->xUnfetch(Real(f), o, p);
  };
}

// Registers the fault VFS as SQLite's default for the test's connections.
void InstallFaultVfs() {
  static sqlite3_vfs vfs;
  if (g_real_vfs) return;
  g_real_vfs = sqlite3_vfs_find(nullptr);
  vfs = *g_real_vfs;
  vfs.zName = "fault";
  vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real_vfs->szOsFile;
  vfs.xOpen = FaultOpen;
  ASSERT_EQ(sqlite3_vfs_register(&vfs, /*makeDflt=*/1), SQLITE_OK);
}

class SpaceTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxTest::SetUp();
    InstallFaultVfs();
    g_reserve_path = path_ + ".reserve";
    g_disk_full = false;
    g_failed_writes = 0;
  }
  void TearDown() override {
    g_disk_full = false;
    OutboxTest::TearDown();
  }
  uint64_t FreeSpaceOf() {
    auto free_bytes = FreeSpaceBytes(dir_);
    EXPECT_TRUE(free_bytes.ok());
    return free_bytes.ok() ? *free_bytes : 0;
  }
  // A watermark (MiB) that the free space cannot reach: 1 GiB above it, because tests running beside this one
  // on the same volume free and take tens of MB between two readings, so "just above" would be a race.
  uint64_t WatermarkAboveFreeMb() { return FreeSpaceOf() / (1 << 20) + 1024; }
  // A batch of `n` records, formed (and so persisted) while the disk still had room.
  std::string FormBatch(Outbox& ob, int first_row, int n) {
    EXPECT_TRUE(ob.Enqueue(MakeRecords(first_row, n)).ok());
    auto next = ob.NextDueBatch(Now(), BatchLimits{static_cast<uint32_t>(n)});
    EXPECT_TRUE(next.ok() && next->batch) << next.status().ToString();
    return next.ok() && next->batch ? next->batch->batch_id : "";
  }
};

TEST_F(SpaceTest, TheReserveIsMadeBesideTheDatabaseWithRealBlocks) {
  Open();
  ASSERT_TRUE(std::filesystem::exists(path_ + ".reserve"));
  EXPECT_EQ(std::filesystem::file_size(path_ + ".reserve"), Options().reserve_bytes);
  auto report = outbox_->CheckSpace(0);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->reserve_held);
  EXPECT_EQ(report->reserve_bytes, Options().reserve_bytes);
  EXPECT_GT(report->free_bytes, 0u);
  EXPECT_FALSE(report->below_watermark);
}

TEST_F(SpaceTest, BelowTheWatermarkIsReported) {
  Open();
  const uint64_t mb = WatermarkAboveFreeMb();  // must read as below it
  auto report = outbox_->CheckSpace(mb);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->below_watermark);
  EXPECT_EQ(report->min_free_bytes, mb << 20);
  EXPECT_FALSE(outbox_->CheckSpace(0)->below_watermark);
}

TEST_F(SpaceTest, AnAckOnAFullDiskReleasesTheReserveAndCommits) {
  Outbox& ob = Open();
  std::string batch = FormBatch(ob, 1, 50);
  g_disk_full = true;
  auto acked = ob.AckAll(batch);
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  EXPECT_EQ(acked->accepted, 50);
  EXPECT_GT(g_failed_writes.load(), 0) << "the fault never fired: the test proves nothing";
  EXPECT_FALSE(std::filesystem::exists(path_ + ".reserve"));
  EXPECT_EQ(GetStats().queued, 0);
}

// The reserve an ack took is room owed: with less free than the watermark plus the reserve, the volume reads as
// below the watermark (ingest may not use that room, and status must say disk_full), even though what is free
// is above the watermark alone. Once there is room for both, the reserve is made again and all is well.
TEST_F(SpaceTest, AReleasedReserveNotYetMadeAgainCountsAsBelowTheWatermark) {
  OutboxOptions o = Options();
  o.reserve_bytes = uint64_t{256} << 20;  // large, so that other writers on this disk cannot tip the figures
  auto opened = OpenOutbox(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  outbox_ = std::move(*opened);
  std::string batch = FormBatch(*outbox_, 1, 20);
  g_disk_full = true;
  ASSERT_TRUE(outbox_->AckAll(batch).ok());
  g_disk_full = false;
  ASSERT_FALSE(std::filesystem::exists(path_ + ".reserve")) << "the ack did not need the reserve";

  // Free space is above this watermark by half the reserve: too little to make the reserve again.
  const uint64_t watermark_mb = (FreeSpaceOf() >> 20) - 128;
  auto report = outbox_->CheckSpace(watermark_mb);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->reserve_held);
  EXPECT_GE(report->free_bytes, report->min_free_bytes);
  EXPECT_TRUE(report->below_watermark) << "the reserve's room was counted as free for ingest";

  report = outbox_->CheckSpace(0);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->reserve_held);
  EXPECT_FALSE(report->below_watermark);
}

TEST_F(SpaceTest, SplitDeadLetterRescheduleAndMetaCommitOnAFullDisk) {
  Outbox& ob = Open();
  std::string batch = FormBatch(ob, 1, 2);
  g_disk_full = true;
  auto split = ob.SplitBatch(batch);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  // The reserve is gone now; with room again CheckSpace makes it, and the disk fills again, for each call.
  g_disk_full = false;
  ASSERT_TRUE(ob.CheckSpace(0)->reserve_held);
  g_disk_full = true;
  ASSERT_TRUE(ob.DeadLetterBatch(split->first_batch_id, "invalid", "refused").ok());
  g_disk_full = false;
  ASSERT_TRUE(ob.CheckSpace(0)->reserve_held);
  g_disk_full = true;
  ASSERT_TRUE(ob.RescheduleBatch(split->second_batch_id, Now(), "503", true).ok());
  g_disk_full = false;
  ASSERT_TRUE(ob.CheckSpace(0)->reserve_held);
  g_disk_full = true;
  ASSERT_TRUE(ob.SetMeta(kMetaLastSyncAt, "2026-12-01T21:00:00Z").ok());
  g_disk_full = false;
  EXPECT_EQ(GetStats().dead, 1);
  EXPECT_EQ(*ob.GetMeta(kMetaLastSyncAt), "2026-12-01T21:00:00Z");
}

TEST_F(SpaceTest, EnqueueOnAFullDiskFailsAsResourceExhaustedAndQueuesNothing) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 5)).ok());
  g_disk_full = true;
  auto r = ob.Enqueue(MakeRecords(6, 300, "big.csv", 2000), FileInfo{"cccc", "big.csv", 300, 0});
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << r.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(path_ + ".reserve")) << "ingest must never take the reserve";
  g_disk_full = false;
  EXPECT_EQ(GetStats().queued, 5);
  EXPECT_FALSE(*ob.HasFile("cccc"));
  EXPECT_TRUE(ob.IntegrityCheck().ok());
}

TEST_F(SpaceTest, TheReserveComesBackOnceThereIsRoomAgain) {
  Outbox& ob = Open();
  std::string batch = FormBatch(ob, 1, 3);
  g_disk_full = true;
  ASSERT_TRUE(ob.AckAll(batch).ok());
  g_disk_full = false;
  // A watermark above the free space keeps it released (making it would only deepen the shortage).
  EXPECT_FALSE(ob.CheckSpace(WatermarkAboveFreeMb())->reserve_held);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".reserve"));
  auto report = ob.CheckSpace(0);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->reserve_held);
  EXPECT_TRUE(std::filesystem::exists(path_ + ".reserve"));
}

TEST_F(SpaceTest, IngestDoesNotTakeTheRoomAReleasedReserveGaveToDelivery) {
  Outbox& ob = Open();
  std::string batch = FormBatch(ob, 1, 3);
  g_disk_full = true;
  ASSERT_TRUE(ob.AckAll(batch).ok());
  g_disk_full = false;
  // The reserve cannot be made again (here: its name is taken by a folder): new files must wait.
  std::filesystem::create_directory(path_ + ".reserve");
  auto r = ob.Enqueue(MakeRecords(10, 5), FileInfo{"dddd", "d.csv", 5, 0});
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << r.status().ToString();
  EXPECT_EQ(GetStats().queued, 0);
  std::filesystem::remove(path_ + ".reserve");
  ASSERT_TRUE(ob.Enqueue(MakeRecords(10, 5), FileInfo{"dddd", "d.csv", 5, 0}).ok());
  EXPECT_TRUE(ob.CheckSpace(0)->reserve_held);
  EXPECT_EQ(GetStats().queued, 5);
}

TEST_F(SpaceTest, AnOlderOutboxMigratesOnAFullDiskInTheRoomOfTheReserveItsLastRunLeft) {
  std::filesystem::copy_file(std::string(OB_TEST_DATA_DIR) + "/outbox_v1/outbox_v010.db", path_);
  ASSERT_TRUE(PreallocateFile(g_reserve_path, 1 << 20).ok());
  g_disk_full = true;
  auto ob = OpenOutbox(Options());
  ASSERT_TRUE(ob.ok()) << ob.status().ToString();
  EXPECT_GT(g_failed_writes, 0);  // the first attempt met the full disk
  auto stats = (*ob)->GetStats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->queued, 59);
  EXPECT_EQ(stats->batches, 3);
}

TEST_F(SpaceTest, AReadOnlyOutboxKeepsNoReserve) {
  Open();
  outbox_.reset();
  std::filesystem::remove(path_ + ".reserve");
  OutboxOptions o = Options();
  o.read_only = true;
  auto ro = OpenOutbox(o);
  ASSERT_TRUE(ro.ok());
  EXPECT_FALSE((*ro)->CheckSpace(0)->reserve_held);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".reserve"));
}

}  // namespace
}  // namespace opescare::outbox
