// Tests of sliced ingest on real SQLite files: CommitSlice, GetFileProgress, the calls that work between
// slices, a process dying after a slice (fork + SIGKILL), and the v1 -> v2 schema migration.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "agent/outbox/schema.h"
#include "agent/outbox/sqlite_db.h"
#include "tests/unit/outbox/outbox_test_support.h"

namespace opescare::outbox {
namespace {

using testing::MakeRecords;
using testing::OutboxTest;

constexpr char kSha[] = "aaaa000000000000000000000000000000000000000000000000000000000000";

FileProgress Progress(int64_t rows_done, int64_t ok, int64_t failed) {
  return FileProgress{kSha, "big.csv", rows_done, ok, failed};
}

Status AddAll(EnqueueTransaction& txn, const std::vector<Record>& records) {
  for (const Record& r : records)
    if (Status st = txn.Add(r); !st.ok()) return st;
  return Status::Ok();
}

TEST_F(OutboxTest, ASliceIsCommittedWithItsProgressAndTheFinalCommitRemovesIt) {
  Outbox& ob = Open();
  auto txn = ob.BeginEnqueue();
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  ASSERT_TRUE(AddAll(**txn, MakeRecords(1, 10, "big.csv")).ok());
  ASSERT_TRUE((*txn)->CommitSlice(Progress(11, 10, 1)).ok());
  // Between slices no transaction is open: delivery's calls work on the same connection.
  EXPECT_EQ(GetStats().queued, 10);
  auto progress = ob.GetFileProgress(kSha);
  ASSERT_TRUE(progress.ok()) << progress.status().ToString();
  ASSERT_TRUE(progress->has_value());
  EXPECT_EQ((*progress)->rows_done, 11);
  EXPECT_EQ((*progress)->rows_ok, 10);
  EXPECT_EQ((*progress)->rows_failed, 1);
  EXPECT_EQ((*progress)->name, "big.csv");
  auto batch = ob.NextDueBatch(Now(), BatchLimits{4});
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_TRUE(batch->batch);
  ASSERT_TRUE(ob.AckAll(batch->batch->batch_id).ok());
  ASSERT_TRUE(ob.SetMeta(kMetaLastSyncAt, "x").ok());
  // The next Add opens the next slice; while it is open the other calls wait their turn.
  ASSERT_TRUE(AddAll(**txn, MakeRecords(11, 5, "big.csv")).ok());
  EXPECT_EQ(ob.GetStats().status().code(), Code::kFailedPrecondition);
  auto counts = (*txn)->Commit(FileInfo{kSha, "big.csv", 15, 1});
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->inserted, 15);
  EXPECT_FALSE(counts->file_already_known);
  EXPECT_EQ(GetStats().queued, 11);  // 15 queued, 4 delivered
  EXPECT_FALSE(ob.GetFileProgress(kSha)->has_value());
  EXPECT_TRUE(*ob.HasFile(kSha));
}

TEST_F(OutboxTest, ALaterSliceReplacesTheProgressAndAnEmptySliceStillRecordsIt) {
  Outbox& ob = Open();
  auto txn = ob.BeginEnqueue();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(AddAll(**txn, MakeRecords(1, 3, "big.csv")).ok());
  ASSERT_TRUE((*txn)->CommitSlice(Progress(3, 3, 0)).ok());
  ASSERT_TRUE((*txn)->CommitSlice(Progress(5, 3, 2)).ok());  // two failed rows, nothing queued
  EXPECT_EQ((*ob.GetFileProgress(kSha))->rows_done, 5);
  EXPECT_EQ((*ob.GetFileProgress(kSha))->rows_failed, 2);
  EXPECT_FALSE(ob.GetFileProgress("unknown")->has_value());
}

TEST_F(OutboxTest, DroppingTheTransactionAfterASliceKeepsExactlyTheCommittedSlices) {
  Outbox& ob = Open();
  {
    auto txn = ob.BeginEnqueue();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(AddAll(**txn, MakeRecords(1, 100, "big.csv")).ok());
    ASSERT_TRUE((*txn)->CommitSlice(Progress(100, 100, 0)).ok());
    ASSERT_TRUE(AddAll(**txn, MakeRecords(101, 50, "big.csv")).ok());
  }  // destroyed without Commit: the open slice is rolled back
  EXPECT_EQ(GetStats().queued, 100);
  EXPECT_EQ((*ob.GetFileProgress(kSha))->rows_ok, 100);
  EXPECT_FALSE(*ob.HasFile(kSha));
  // The connector resumes: a new transaction queues the rest and ends the file.
  auto txn = ob.BeginEnqueue();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(AddAll(**txn, MakeRecords(101, 50, "big.csv")).ok());
  ASSERT_TRUE((*txn)->Commit(FileInfo{kSha, "big.csv", 150, 0}).ok());
  EXPECT_EQ(GetStats().queued, 150);
  EXPECT_FALSE(ob.GetFileProgress(kSha)->has_value());
}

TEST_F(OutboxTest, AFailedAddRollsBackOnlyTheOpenSlice) {
  Outbox& ob = Open();
  auto txn = ob.BeginEnqueue();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(AddAll(**txn, MakeRecords(1, 4, "big.csv")).ok());
  ASSERT_TRUE((*txn)->CommitSlice(Progress(4, 4, 0)).ok());
  ASSERT_TRUE(AddAll(**txn, MakeRecords(5, 2, "big.csv")).ok());
  Record bad = MakeRecords(7, 1, "big.csv")[0];
  bad.data_json = "not an object";
  EXPECT_EQ((*txn)->Add(bad).code(), Code::kInvalidArgument);
  EXPECT_EQ((*txn)->CommitSlice(Progress(7, 6, 0)).code(), Code::kInvalidArgument);
  EXPECT_EQ((*txn)->Commit(FileInfo{kSha, "big.csv", 7, 0}).status().code(), Code::kInvalidArgument);
  txn->reset();
  EXPECT_EQ(GetStats().queued, 4);
  EXPECT_EQ((*ob.GetFileProgress(kSha))->rows_done, 4);
}

// The process dies (SIGKILL) at a random moment while queueing a file slice by slice. After it, the progress
// row names exactly the records in the outbox: no committed slice lost, no half slice kept.
TEST_F(OutboxTest, SigkillBetweenAndDuringSlicesLeavesProgressMatchingTheOutbox) {
  for (int round = 0; round < 5; ++round) {
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
    outbox_.reset();
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto ob = OpenOutbox(Options());
      if (!ob.ok()) ::_exit(2);
      auto txn = (*ob)->BeginEnqueue();
      if (!txn.ok()) ::_exit(3);
      for (int64_t slice = 0;; ++slice) {
        for (int i = 0; i < 200; ++i)
          if (!(*txn)->Add(MakeRecords(static_cast<int>(slice * 200 + i + 1), 1, "big.csv")[0]).ok()) ::_exit(4);
        int64_t done = (slice + 1) * 200;
        if (!(*txn)->CommitSlice(Progress(done, done, 0)).ok()) ::_exit(5);
      }
    }
    ::usleep(static_cast<useconds_t>(50'000 + round * 37'000));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the child stopped by itself: " << WEXITSTATUS(wstatus);
    Outbox& ob = Open();
    auto progress = ob.GetFileProgress(kSha);
    ASSERT_TRUE(progress.ok()) << progress.status().ToString();
    int64_t queued = GetStats().queued;
    int64_t rows_ok = progress->has_value() ? (*progress)->rows_ok : 0;
    EXPECT_EQ(queued, rows_ok) << "round " << round;
    EXPECT_EQ(queued % 200, 0) << "a half slice was kept";
    EXPECT_TRUE(ob.IntegrityCheck().ok());
  }
}

TEST_F(OutboxTest, AVersionOneFileWithRecordsOpensAndMigrates) {
  {
    // The version 1 schema, made by the same (append-only) migration the released agent ran.
    { std::ofstream create(path_); }
    auto db = internal::Database::Open(path_, false, std::chrono::milliseconds(1000));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE(internal::MigrateTo(**db, 1).ok());
    ASSERT_EQ(*(*db)->QueryInt("PRAGMA user_version"), 1);
    std::string fill =
        "INSERT INTO records(id, type, data, source_file, source_row, created_at, size) "
        "VALUES('r1', 'patient', '{}', 'a.csv', 1, 0, 10);"
        "INSERT INTO ingested_files VALUES('" +
        std::string(kSha) + "', 'a.csv', 1, 0, 0);";
    ASSERT_TRUE((*db)->Exec(fill.c_str(), "filling a v1 file").ok());
  }
  Outbox& ob = Open();
  ASSERT_TRUE(outbox_);
  EXPECT_EQ(GetStats().queued, 1);
  EXPECT_TRUE(*ob.HasFile(kSha));
  auto txn = ob.BeginEnqueue();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(AddAll(**txn, MakeRecords(1, 2, "b.csv")).ok());
  FileProgress p{"bbbb", "b.csv", 2, 2, 0};
  ASSERT_TRUE((*txn)->CommitSlice(p).ok());
  EXPECT_EQ((*ob.GetFileProgress("bbbb"))->rows_ok, 2);
  txn->reset();
  outbox_.reset();
  auto db = internal::Database::Open(path_, true, std::chrono::milliseconds(1000));
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*(*db)->QueryInt("PRAGMA user_version"), SchemaVersion());
}

}  // namespace
}  // namespace opescare::outbox
