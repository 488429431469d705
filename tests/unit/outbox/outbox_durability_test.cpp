// Tests of the outbox file itself: permissions, schema versions, reopening, read-only access beside the writer,
// corruption and SIGKILL in the middle of enqueues.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "tests/unit/outbox/outbox_test_support.h"

namespace opescare::outbox {
namespace {

using namespace std::chrono_literals;
using testing::Ids;
using testing::MakeRecords;
using testing::OutboxTest;

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// Runs one statement on the file with the plain SQLite API, as another program would.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST_F(OutboxTest, FilesAreCreatedPrivate) {
  mode_t old = ::umask(0);  // even with a permissive umask
  Outbox& ob = Open();
  ::umask(old);
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 3)).ok());
  EXPECT_EQ(ModeOf(path_), 0600u);
  ASSERT_TRUE(Exists(path_ + "-wal"));
  EXPECT_EQ(ModeOf(path_ + "-wal"), 0600u);
  EXPECT_EQ(ModeOf(path_ + "-shm"), 0600u);
}

TEST_F(OutboxTest, AnExistingLooseFileIsTightened) {
  Open();
  outbox_.reset();
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  Open();
  EXPECT_EQ(ModeOf(path_), 0600u);
}

TEST_F(OutboxTest, SchemaVersionIsRecorded) {
  Open();
  outbox_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), SchemaVersion());
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(OutboxTest, ANewerSchemaIsRefusedAndLeftAlone) {
  Open();
  outbox_.reset();
  RawExec(path_, "PRAGMA user_version=" + std::to_string(SchemaVersion() + 1));
  auto ob = OpenOutbox(Options());
  ASSERT_FALSE(ob.ok());
  EXPECT_EQ(ob.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(ob.status().message().find("newer"), std::string::npos) << ob.status().message();
  EXPECT_NE(ob.status().message().find("upgrade the agent"), std::string::npos);
  EXPECT_TRUE(Exists(path_));
}

TEST_F(OutboxTest, AnotherProgramsDatabaseIsRefused) {
  RawExec(path_, "CREATE TABLE contacts(name TEXT)");
  auto ob = OpenOutbox(Options());
  EXPECT_EQ(ob.status().code(), Code::kFailedPrecondition) << ob.status().ToString();
}

TEST_F(OutboxTest, ReopeningKeepsBatchesWithTheirIdsAndNothingInFlight) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 6), FileInfo{"h", "a.csv", 6, 0}).ok());
  auto b1 = ob.NextDueBatch(Now(), {3, 1 << 20});
  auto b2 = ob.NextDueBatch(Now(), {3, 1 << 20});
  ASSERT_TRUE(b1.ok() && b1->batch && b2.ok() && b2->batch);
  ASSERT_TRUE(ob.RescheduleBatch(b2->batch->batch_id, Now() + 60s, "HTTP 429", true).ok());
  ASSERT_TRUE(ob.SetMeta(kMetaPausedReason, "bridge_token_invalid").ok());
  // b1 stays "in flight" when the process goes away.
  Outbox& again = Open();
  auto due = again.NextDueBatch(Now(), {3, 1 << 20});
  ASSERT_TRUE(due.ok() && due->batch);
  EXPECT_EQ(due->batch->batch_id, b1->batch->batch_id);
  EXPECT_EQ(Ids(due->batch->records), Ids(b1->batch->records));
  EXPECT_FALSE(due->batch->newly_formed);
  EXPECT_EQ(due->next_attempt_at, Now() + 60s);
  auto later = again.NextDueBatch(Now() + 60s, {3, 1 << 20});
  ASSERT_TRUE(later.ok() && later->batch);
  EXPECT_EQ(later->batch->batch_id, b2->batch->batch_id);
  EXPECT_EQ(later->batch->attempts, 1);
  EXPECT_TRUE(*again.HasFile("h"));
  EXPECT_EQ(**again.GetMeta(kMetaPausedReason), "bridge_token_invalid");
}

TEST_F(OutboxTest, AReadOnlyOutboxReadsBesideTheWriter) {
  Outbox& writer = Open();
  ASSERT_TRUE(writer.Enqueue(MakeRecords(1, 4)).ok());
  auto opts = Options();
  opts.read_only = true;
  auto reader = OpenOutbox(opts);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  // The writer holds an open enqueue transaction; the reader sees the last commit, without waiting.
  auto txn = writer.BeginEnqueue();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)->Add(testing::MakeRecord(100)).ok());
  auto stats = (*reader)->GetStats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->queued, 4);
  ASSERT_TRUE((*txn)->Commit().ok());
  stats = (*reader)->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->queued, 5);
  EXPECT_TRUE((*reader)->IntegrityCheck().ok());
  EXPECT_EQ((*reader)->SetMeta("k", "v").code(), Code::kFailedPrecondition);
  EXPECT_EQ((*reader)->NextDueBatch(Now(), {}).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ((*reader)->Enqueue(MakeRecords(1, 1)).status().code(), Code::kFailedPrecondition);
}

TEST_F(OutboxTest, ReadOnlyWorksAfterTheWriterIsGoneAndRefusesAMissingFile) {
  auto opts = Options();
  opts.read_only = true;
  EXPECT_EQ(OpenOutbox(opts).status().code(), Code::kNotFound);
  EXPECT_FALSE(Exists(path_));  // a reader never creates the file
  ASSERT_TRUE(Open().Enqueue(MakeRecords(1, 2)).ok());
  outbox_.reset();
  auto reader = OpenOutbox(opts);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->GetStats()->queued, 2);
}

TEST_F(OutboxTest, AWriterWaitsForAnotherWritersLockThenReportsUnavailable) {
  Outbox& first = Open();
  auto opts = Options();
  opts.busy_timeout = 100ms;
  auto second = OpenOutbox(opts);
  ASSERT_TRUE(second.ok());
  auto txn = first.BeginEnqueue();
  ASSERT_TRUE(txn.ok());
  auto blocked = (*second)->Enqueue(MakeRecords(1, 1));
  EXPECT_EQ(blocked.status().code(), Code::kUnavailable) << blocked.status().ToString();
  EXPECT_NE(blocked.status().message().find("retry"), std::string::npos);
  ASSERT_TRUE((*txn)->Commit().ok());
  EXPECT_TRUE((*second)->Enqueue(MakeRecords(1, 1)).ok());
}

TEST_F(OutboxTest, IntegrityCheckIsOkOnAHealthyFile) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 100)).ok());
  EXPECT_TRUE(ob.IntegrityCheck().ok());
}

// Overwrites `bytes` bytes at `offset` with garbage.
void Scribble(const std::string& path, long offset, size_t bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good());
  f.seekp(offset);
  std::string garbage(bytes, '\xA5');
  f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
}

void Checkpoint(const std::string& path) { RawExec(path, "PRAGMA wal_checkpoint(TRUNCATE)"); }

TEST_F(OutboxTest, ACorruptedFileIsReportedAsDataLossAndKept) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 2000, "f.csv", 150)).ok());
  outbox_.reset();
  Checkpoint(path_);
  const auto size = std::filesystem::file_size(path_);
  Scribble(path_, static_cast<long>(size / 2), 8192);  // two pages in the middle of the records
  auto reopened = OpenOutbox(Options());
  Status st = reopened.ok() ? (*reopened)->IntegrityCheck() : reopened.status();
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find(path_), std::string::npos);
  EXPECT_NE(st.message().find("never delete"), std::string::npos);
  EXPECT_TRUE(Exists(path_));
  EXPECT_EQ(std::filesystem::file_size(path_), size);
}

TEST_F(OutboxTest, AFileThatIsNotADatabaseIsDataLossAndKept) {
  { std::ofstream(path_) << std::string(8192, 'z'); }
  auto ob = OpenOutbox(Options());
  EXPECT_EQ(ob.status().code(), Code::kDataLoss) << ob.status().ToString();
  EXPECT_NE(ob.status().message().find(path_), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(path_), 8192u);
}

TEST_F(OutboxTest, AMissingDirectoryIsAnIoErrorNamingTheFix) {
  auto opts = Options();
  opts.path = dir_ + "/missing/outbox.db";
  auto ob = OpenOutbox(opts);
  EXPECT_EQ(ob.status().code(), Code::kIoError);
  EXPECT_NE(ob.status().message().find("create the directory"), std::string::npos) << ob.status().message();
}

// A child process queues files of kRows records in a loop and reports each committed file on a pipe;
// the parent kills it with SIGKILL at some point and checks that the file is intact and every file whose
// hash is recorded has all of its records, and no partial file exists.
TEST_F(OutboxTest, SigkillDuringEnqueuesLosesNoCommittedFileAndKeepsTheFileIntact) {
  constexpr int kRows = 500;
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto ob = OpenOutbox(Options());
      if (!ob.ok()) ::_exit(2);
      for (int file = 0;; ++file) {
        std::string name = "r" + std::to_string(round) + "_f" + std::to_string(file) + ".csv";
        auto txn = (*ob)->BeginEnqueue();
        if (!txn.ok()) ::_exit(3);
        for (const Record& r : MakeRecords(1, kRows, name, 150))
          if (!(*txn)->Add(r).ok()) ::_exit(4);
        if (!(*txn)->Commit(FileInfo{name, name, kRows, 0}).ok()) ::_exit(5);
        char c = 'c';
        if (::write(fds[1], &c, 1) != 1) ::_exit(6);
      }
    }
    ::close(fds[1]);
    // Let it commit a few files (reading blocks until the child reports), then kill it mid-file.
    int committed = 0;
    char c;
    while (committed < 3 + round * 2 && ::read(fds[0], &c, 1) == 1) ++committed;
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);

    Outbox& ob = Open();
    ASSERT_TRUE(ob.IntegrityCheck().ok());
    auto files = ob.ListFiles(100000);
    ASSERT_TRUE(files.ok());
    std::map<std::string, int> per_file;
    for (;;) {
      auto b = ob.NextDueBatch(Now(), {5000, 1 << 30});
      ASSERT_TRUE(b.ok());
      if (!b->batch) break;
      for (const Record& r : b->batch->records) ++per_file[r.source_file];
      ASSERT_TRUE(ob.AckAll(b->batch->batch_id).ok());
    }
    const std::string prefix = "r" + std::to_string(round) + "_";
    size_t this_round = 0;
    for (const IngestedFile& f : *files) {
      if (f.name.rfind(prefix, 0) != 0) continue;
      ++this_round;
      EXPECT_EQ(per_file[f.name], kRows) << f.name;
    }
    EXPECT_GE(this_round, static_cast<size_t>(committed));
    EXPECT_EQ(per_file.size(), this_round);  // no record of a file whose hash is not recorded
    outbox_.reset();
  }
}

// A child drains the outbox (form + ack) and reports each acknowledged batch's ids after the ack returns;
// SIGKILL at some point. Afterwards no record is lost or duplicated: every record is either still queued
// (in a batch that kept its records, or pending) or was acknowledged, and at most the one batch acked
// but not yet reported is missing from both.
TEST_F(OutboxTest, SigkillDuringDeliveryLosesNothing) {
  constexpr int kRecords = 6000;
  constexpr int kBatch = 100;
  auto all = MakeRecords(1, kRecords, "drain.csv", 150);
  ASSERT_TRUE(Open().Enqueue(all, FileInfo{"drainhash", "drain.csv", kRecords, 0}).ok());
  outbox_.reset();  // no SQLite connection may cross the fork
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto ob = OpenOutbox(Options());
    if (!ob.ok()) ::_exit(2);
    for (;;) {
      auto next = (*ob)->NextDueBatch(std::chrono::system_clock::now(), {kBatch, 1 << 30});
      if (!next.ok() || !next->batch) ::_exit(3);
      if (!(*ob)->AckAll(next->batch->batch_id).ok()) ::_exit(4);
      std::string line;
      for (const Record& r : next->batch->records) line += r.id + "\n";
      if (::write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(5);
    }
  }
  ::close(fds[1]);
  // Read until about a third of the records are reported, then kill.
  std::string reported;
  char buf[4096];
  while (std::count(reported.begin(), reported.end(), '\n') < kRecords / 3) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    reported.append(buf, static_cast<size_t>(n));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) reported.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);

  std::map<std::string, int> seen;
  for (size_t at = 0, nl; (nl = reported.find('\n', at)) != std::string::npos; at = nl + 1)
    ++seen[reported.substr(at, nl - at)];
  Outbox& ob = Open();
  ASSERT_TRUE(ob.IntegrityCheck().ok());
  for (;;) {
    auto b = ob.NextDueBatch(Now(), {kBatch, 1 << 30});
    ASSERT_TRUE(b.ok());
    if (!b->batch) break;
    EXPECT_TRUE(b->batch->records.size() == static_cast<size_t>(kBatch) || !b->batch->newly_formed);
    for (const Record& r : b->batch->records) ++seen[r.id];
    ASSERT_TRUE(ob.AckAll(b->batch->batch_id).ok());
  }
  int missing = 0;
  for (const Record& r : all) {
    auto it = seen.find(r.id);
    if (it == seen.end()) {
      ++missing;
    } else {
      EXPECT_EQ(it->second, 1) << r.id;
    }
  }
  EXPECT_LE(missing, kBatch);  // the batch acknowledged just before the kill, not yet reported
  EXPECT_EQ(missing % kBatch, 0);
  EXPECT_EQ(seen.size() + static_cast<size_t>(missing), all.size());
}

}  // namespace
}  // namespace opescare::outbox
