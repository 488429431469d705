// Tests of the v1 -> v3 migration on a real outbox written by 0.1.0 (tests/data/outbox_v1, see its README):
// it opens, keeps every record, batch, dead letter and file, drains exactly once with the persisted batches
// re-sent under their ids, and a migration that fails midway leaves the file as it was.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "agent/outbox/schema.h"
#include "agent/outbox/sqlite_db.h"
#include "agent/util/hash.h"
#include "tests/unit/outbox/outbox_test_support.h"

namespace opescare::outbox {
namespace {

using testing::OutboxTest;

const std::string kFixture = std::string(OB_TEST_DATA_DIR) + "/outbox_v1/outbox_v010.db";

// Rows of a query on the file through the plain SQLite API, each row's columns joined by '|'.
std::vector<std::string> RawRows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> out;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
      row += (i ? "|" : "") + std::string(t ? t : "");
    }
    out.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// What the 0.1.0 file holds, read with v1's own tables before anything migrates it.
struct V1Contents {
  std::vector<std::string> ids;                             // every queued record, in seq order
  std::map<std::string, std::vector<std::string>> batches;  // batch_id -> its records' ids in seq order
  std::map<std::string, std::string> batch_errors;          // batch_id -> attempts|last_error
  std::set<std::string> dead;
};

V1Contents ReadV1(const std::string& path) {
  V1Contents v;
  v.ids = RawRows(path, "SELECT id FROM records ORDER BY seq");
  for (const std::string& row :
       RawRows(path, "SELECT batch_id, id FROM records WHERE batch_id IS NOT NULL ORDER BY seq")) {
    auto bar = row.find('|');
    v.batches[row.substr(0, bar)].push_back(row.substr(bar + 1));
  }
  for (const std::string& row : RawRows(path, "SELECT batch_id, attempts, last_error FROM batches")) {
    auto bar = row.find('|');
    v.batch_errors[row.substr(0, bar)] = row.substr(bar + 1);
  }
  for (const std::string& id : RawRows(path, "SELECT id FROM dead_letters")) v.dead.insert(id);
  return v;
}

class MigrationTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxTest::SetUp();
    ASSERT_TRUE(std::filesystem::exists(kFixture)) << kFixture;
    std::filesystem::copy_file(kFixture, path_);
    ASSERT_EQ(RawRows(path_, "PRAGMA user_version"), std::vector<std::string>{"1"});
    v1_ = ReadV1(path_);
    // The fixture is what its README says (tests/data/outbox_v1/make_v1_outbox.cpp).
    ASSERT_EQ(v1_.ids.size(), 59u);
    ASSERT_EQ(v1_.batches.size(), 3u);
    ASSERT_EQ(v1_.dead.size(), 3u);
    clock_.Set(TimePoint(std::chrono::seconds(1'796'040'000)));  // later that day: every batch is due
  }
  V1Contents v1_;
};

TEST_F(MigrationTest, AVersionOneOutboxOpensWithEverythingItHeld) {
  Outbox& ob = Open();
  EXPECT_EQ(RawRows(path_, "PRAGMA user_version"), std::vector<std::string>{std::to_string(SchemaVersion())});
  EXPECT_TRUE(ob.IntegrityCheck().ok());
  Stats s = GetStats();
  EXPECT_EQ(s.queued, 59);
  EXPECT_EQ(s.in_batches, 21);
  EXPECT_EQ(s.pending, 38);
  EXPECT_EQ(s.batches, 3);
  EXPECT_EQ(s.dead, 3);
  EXPECT_EQ(s.files, 2);
  EXPECT_GT(s.queued_bytes, s.pending_bytes);
  EXPECT_GT(s.pending_bytes, 0u);
  auto dead = ob.ListDeadLetters({10, false, true});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 3u);
  for (const DeadLetter& d : *dead) {
    EXPECT_TRUE(v1_.dead.count(d.id)) << d.id;
    EXPECT_EQ(d.source_file, "patients_20261129.csv");
    EXPECT_NE(d.data_json.find("first_name"), std::string::npos);
  }
  EXPECT_EQ((*dead)[2].error, "invalid_record");
  EXPECT_EQ((*dead)[2].message, "sex missing");
  EXPECT_TRUE(*ob.HasFile(Sha256Hex("patients file")));
  EXPECT_EQ(**ob.GetMeta(kMetaLastSyncAt), "2026-11-30T10:00:05Z");
  // The file names are stored once each.
  EXPECT_EQ(RawRows(path_, "SELECT name FROM files ORDER BY name"),
            (std::vector<std::string>{"encounters_20261129.csv", "patients_20261129.csv"}));
}

TEST_F(MigrationTest, DrainingItAcknowledgesEveryRecordOnceAndResendsPersistedBatchesUnderTheirIds) {
  Outbox& ob = Open();
  std::map<std::string, int> delivered;
  std::set<std::string> resent;
  for (;;) {
    auto next = ob.NextDueBatch(Now(), {10, 1 << 20});
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (!next->batch) break;
    const Batch& b = *next->batch;
    std::vector<std::string> ids = testing::Ids(b.records);
    auto it = v1_.batches.find(b.batch_id);
    if (it != v1_.batches.end()) {
      EXPECT_FALSE(b.newly_formed);
      EXPECT_EQ(ids, it->second) << "batch " << b.batch_id << " changed its records";
      EXPECT_EQ(std::to_string(b.attempts) + "|" + b.last_error, v1_.batch_errors[b.batch_id]);
      resent.insert(b.batch_id);
    } else {
      EXPECT_TRUE(b.newly_formed);
      EXPECT_EQ(resent.size(), v1_.batches.size()) << "a new batch went before a persisted one";
    }
    for (const Record& r : b.records) {
      ++delivered[r.id];
      EXPECT_FALSE(r.source_file.empty() && r.source_row != 0) << r.id;
    }
    ASSERT_TRUE(ob.AckAll(b.batch_id).ok());
  }
  EXPECT_EQ(resent.size(), 3u);
  ASSERT_EQ(delivered.size(), v1_.ids.size());
  for (const std::string& id : v1_.ids) EXPECT_EQ(delivered[id], 1) << id;
  Stats s = GetStats();
  EXPECT_EQ(s.queued, 0);
  EXPECT_EQ(s.batches, 0);
  EXPECT_EQ(s.dead, 3);  // dead letters are kept
  EXPECT_EQ(RawRows(path_, "SELECT count(*) FROM records"), std::vector<std::string>{"0"});
}

TEST_F(MigrationTest, TheBatchInFlightKeepsItsRecordsAroundTheBatchBetweenThem) {
  // Z took two records returned by a partial ack and eight newer ones, with batch Y between them.
  auto z = std::find_if(v1_.batches.begin(), v1_.batches.end(), [](const auto& b) { return b.second.size() == 10; });
  ASSERT_NE(z, v1_.batches.end());
  Open();
  auto ranges = RawRows(path_, "SELECT batch_id, count(*) FROM batch_ranges GROUP BY batch_id ORDER BY 2");
  EXPECT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges.back().substr(ranges.back().find('|') + 1), "2");  // Z: two runs
  EXPECT_TRUE(
      RawRows(path_, "SELECT 1 FROM pragma_table_info('records') WHERE name IN ('batch_id', 'source_file')").empty());
}

TEST_F(MigrationTest, AMigrationThatFailsMidwayLeavesTheVersionOneFileAndRunsAgain) {
  auto size = std::filesystem::file_size(path_);
  auto opts = Options();
  opts.hard_limit_bytes = size + 4096;  // the rewrite of the records needs more pages than this
  auto failed = OpenOutbox(opts);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kResourceExhausted) << failed.status().ToString();
  EXPECT_EQ(RawRows(path_, "PRAGMA user_version"), std::vector<std::string>{"1"});
  V1Contents after = ReadV1(path_);
  EXPECT_EQ(after.ids, v1_.ids);
  EXPECT_EQ(after.batches, v1_.batches);
  EXPECT_EQ(after.dead, v1_.dead);
  Open();
  EXPECT_EQ(GetStats().queued, 59);
  // Opening again does nothing more.
  Open();
  EXPECT_EQ(GetStats().queued, 59);
  EXPECT_EQ(GetStats().batches, 3);
}

// A version 2 file (sliced ingest, this build's own v2 migration) with a file half queued and a batch that
// is not contiguous: v2 -> v3 keeps the progress, the batch's records and the queue order.
TEST_F(OutboxTest, AVersionTwoFileWithProgressAndABatchMigrates) {
  {
    { std::ofstream create(path_); }
    auto db = internal::Database::Open(path_, false, std::chrono::milliseconds(1000));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE(internal::MigrateTo(**db, 2).ok());
    std::string fill;
    for (int seq = 1; seq <= 6; ++seq) {
      const char* batch = seq == 2 || seq == 4 ? "'b1'" : seq == 3 ? "'b2'" : "NULL";
      fill += "INSERT INTO records(seq, id, type, data, source_file, source_row, created_at, size, batch_id) VALUES(" +
              std::to_string(seq) + ", 'r" + std::to_string(seq) + "', 'patient', '{}', 'big.csv', " +
              std::to_string(seq + 1) + ", 0, 10, " + batch + ");";
    }
    fill +=
        "INSERT INTO batches VALUES('b1', 0, 2, 0, 'HTTP 503', 2, 20);"
        "INSERT INTO batches VALUES('b2', 0, 0, 0, '', 1, 10);"
        "INSERT INTO file_progress VALUES('sha', 'big.csv', 7, 6, 1, 0);";
    ASSERT_TRUE((*db)->Exec(fill.c_str(), "filling a v2 file").ok());
  }
  Outbox& ob = Open();
  EXPECT_EQ(RawRows(path_, "PRAGMA user_version"), std::vector<std::string>{std::to_string(SchemaVersion())});
  Stats s = GetStats();
  EXPECT_EQ(s.queued, 6);
  EXPECT_EQ(s.in_batches, 3);
  EXPECT_EQ(s.batches, 2);
  auto progress = ob.GetFileProgress("sha");
  ASSERT_TRUE(progress.ok() && progress->has_value());
  EXPECT_EQ((*progress)->rows_done, 7);
  EXPECT_EQ(RawRows(path_, "SELECT first_seq, last_seq, batch_id FROM batch_ranges ORDER BY first_seq"),
            (std::vector<std::string>{"2|2|b1", "3|3|b2", "4|4|b1"}));
  auto first = ob.NextDueBatch(Now(), {10, 1 << 20});
  ASSERT_TRUE(first.ok() && first->batch);
  EXPECT_EQ(first->batch->batch_id, "b1");
  EXPECT_EQ(testing::Ids(first->batch->records), (std::vector<std::string>{"r2", "r4"}));
  EXPECT_EQ(first->batch->attempts, 2);
  EXPECT_EQ(first->batch->records[0].source_file, "big.csv");
  EXPECT_EQ(first->batch->records[0].source_row, 3);
  auto second = ob.NextDueBatch(Now(), {10, 1 << 20});
  ASSERT_TRUE(second.ok() && second->batch);
  EXPECT_EQ(second->batch->batch_id, "b2");
  auto fresh = ob.NextDueBatch(Now(), {10, 1 << 20});
  ASSERT_TRUE(fresh.ok() && fresh->batch);
  EXPECT_EQ(testing::Ids(fresh->batch->records), (std::vector<std::string>{"r1", "r5", "r6"}));
}

// A v1 file large enough that its migration takes a while, killed (SIGKILL) at several moments while a child
// opens it: afterwards it is either still v1 or v3, never in between, and opens with every record.
TEST_F(OutboxTest, SigkillDuringTheMigrationLeavesAFileThatMigratesWhole) {
  constexpr int kRecords = 60000;
  int left_at_v1 = 0;  // kills that landed before the migration's commit
  for (int round = 0; round < 4; ++round) {
    std::filesystem::remove(path_);
    {
      { std::ofstream create(path_); }
      auto db = internal::Database::Open(path_, false, std::chrono::milliseconds(1000));
      ASSERT_TRUE(db.ok());
      ASSERT_TRUE((*db)->Exec("PRAGMA journal_mode=WAL", "wal").ok());
      ASSERT_TRUE(internal::MigrateTo(**db, 1).ok());
      std::string fill =
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(kRecords) +
          ") INSERT INTO records(id, type, data, source_file, source_row, created_at, size, batch_id) "
          "SELECT 'r' || i, 'patient', '{\"n\":\"' || printf('%0120d', i) || '\"}', 'f' || (i % 7) || '.csv', i, "
          "0, 150, CASE WHEN i <= 500 THEN 'b1' END FROM n;"
          "INSERT INTO batches VALUES('b1', 0, 0, 0, '', 500, 75000);";
      ASSERT_TRUE((*db)->Exec(fill.c_str(), "filling a v1 file").ok());
    }
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto ob = OpenOutbox(Options());
      ::_exit(ob.ok() ? 0 : 1);
    }
    ::usleep(static_cast<useconds_t>(std::array<int, 4>{50, 250, 600, 3000}[round]) * 1000);
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    auto version = RawRows(path_, "PRAGMA user_version");
    ASSERT_EQ(version.size(), 1u);
    EXPECT_TRUE(version[0] == "1" || version[0] == std::to_string(SchemaVersion())) << version[0];
    left_at_v1 += version[0] == "1" ? 1 : 0;
    Outbox& ob = Open();
    Stats s = GetStats();
    EXPECT_EQ(s.queued, kRecords) << "round " << round << (WIFSIGNALED(status) ? " (killed)" : " (finished)");
    EXPECT_EQ(s.in_batches, 500);
    auto first = ob.NextDueBatch(Now(), {1000, 1 << 30});
    ASSERT_TRUE(first.ok() && first->batch);
    EXPECT_EQ(first->batch->batch_id, "b1");
    EXPECT_EQ(first->batch->records.size(), 500u);
    EXPECT_EQ(RawRows(path_, "SELECT count(*) FROM files"), std::vector<std::string>{"7"});
    outbox_.reset();
  }
  std::printf("killed before the migration committed in %d of 4 rounds\n", left_at_v1);
}

}  // namespace
}  // namespace opescare::outbox
