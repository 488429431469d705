// Tests of the v3 representation under every batch operation in random order: the counters GetStats reads
// agree with a recount of the tables, batch ranges never overlap, and draining at the end delivers every
// record exactly once (or leaves it in dead letters). Also AckAndNextDueBatch.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <random>
#include <set>

#include "tests/unit/outbox/outbox_test_support.h"

namespace opescare::outbox {
namespace {

using namespace std::chrono_literals;
using testing::Ids;
using testing::MakeRecords;
using testing::OutboxTest;

int64_t RawInt(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db);
  int64_t v = -1;
  if (st && sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

class CountersTest : public OutboxTest {
 protected:
  // The counters against count(*) and sum(size) over the tables, and the ranges' invariants.
  void ExpectCountersTrue(const std::string& when) {
    SCOPED_TRACE(when);
    Stats s = GetStats();
    EXPECT_EQ(s.queued, RawInt(path_, "SELECT count(*) FROM records"));
    EXPECT_EQ(static_cast<int64_t>(s.queued_bytes), RawInt(path_, "SELECT coalesce(sum(size), 0) FROM records"));
    const char* covered =
        "SELECT count(*) FROM batch_ranges b JOIN records r ON r.seq BETWEEN b.first_seq AND b.last_seq";
    EXPECT_EQ(s.in_batches, RawInt(path_, covered));
    EXPECT_EQ(s.in_batches, RawInt(path_, "SELECT coalesce(sum(record_count), 0) FROM batches"));
    EXPECT_EQ(static_cast<int64_t>(s.queued_bytes - s.pending_bytes),
              RawInt(path_,
                     "SELECT coalesce(sum(r.size), 0) FROM batch_ranges b JOIN records r ON r.seq BETWEEN b.first_seq "
                     "AND b.last_seq"));
    EXPECT_EQ(s.batches, RawInt(path_, "SELECT count(*) FROM batches"));
    EXPECT_EQ(s.dead, RawInt(path_, "SELECT count(*) FROM dead_letters"));
    EXPECT_EQ(s.files, RawInt(path_, "SELECT count(*) FROM ingested_files"));
    EXPECT_EQ(0, RawInt(path_,
                        "SELECT count(*) FROM batch_ranges a JOIN batch_ranges b ON a.first_seq < b.first_seq AND "
                        "a.last_seq >= b.first_seq"));
    EXPECT_EQ(0,
              RawInt(path_, "SELECT count(*) FROM batches WHERE batch_id NOT IN (SELECT batch_id FROM batch_ranges)"));
    EXPECT_EQ(0,
              RawInt(path_, "SELECT count(*) FROM batch_ranges WHERE batch_id NOT IN (SELECT batch_id FROM batches)"));
  }
};

TEST_F(CountersTest, EveryOperationInRandomOrderKeepsTheCountersTrueAndDeliversOnce) {
  for (unsigned seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
    Outbox& ob = Open();
    std::mt19937 rnd(seed);
    std::set<std::string> queued_ids, acked, dead;
    std::map<std::string, Batch> held;  // batches handed out and not resolved, with their records
    int next_row = 1, files = 0;
    for (int step = 0; step < 120; ++step) {
      int op = static_cast<int>(rnd() % 10);
      if (op <= 1) {  // queue a file
        auto recs = MakeRecords(next_row, 1 + static_cast<int>(rnd() % 9), "f" + std::to_string(rnd() % 3) + ".csv");
        next_row += static_cast<int>(recs.size());
        for (const Record& r : recs) queued_ids.insert(r.id);
        std::string sha = "h" + std::to_string(++files);
        ASSERT_TRUE(ob.Enqueue(recs, FileInfo{sha, "x.csv", 1, 0}).ok());
      } else if (op <= 4) {  // form, or take the batch due
        auto next = ob.NextDueBatch(Now(), {static_cast<uint32_t>(1 + rnd() % 6), 1 << 20, rnd() % 2 == 0});
        ASSERT_TRUE(next.ok()) << next.status().ToString();
        if (next->batch) held[next->batch->batch_id] = *next->batch;
      } else if (!held.empty()) {
        auto it = std::next(held.begin(), static_cast<long>(rnd() % held.size()));
        const std::string id = it->first;
        const Batch mine = it->second;
        held.erase(it);
        if (op == 5) {
          ASSERT_TRUE(ob.RescheduleBatch(id, Now() + std::chrono::seconds(rnd() % 3), "HTTP 503", true).ok());
        } else if (op == 6) {
          auto split = ob.SplitBatch(id);
          ASSERT_TRUE(split.ok() || split.status().code() == Code::kFailedPrecondition) << split.status().ToString();
          if (!split.ok()) {
            ASSERT_TRUE(ob.DeadLetterBatch(id, "invalid", "refused").ok());
            dead.insert(mine.records[0].id);
          }
        } else {
          // A receipt: all accepted, or each record accepted, rejected or unnamed at random.
          std::vector<std::string> accepted;
          std::vector<Rejection> rejected;
          bool all = rnd() % 2 == 0;
          for (const Record& r : mine.records) {
            int fate = all ? 0 : static_cast<int>(rnd() % 3);
            if (fate == 0) accepted.push_back(r.id);
            if (fate == 1) rejected.push_back({r.id, "bad", "no"});
          }
          auto counts = all ? ob.AckAll(id) : ob.AckPartial(id, accepted, rejected);
          ASSERT_TRUE(counts.ok()) << counts.status().ToString();
          for (const std::string& a : accepted) EXPECT_TRUE(acked.insert(a).second) << a << " acknowledged twice";
          for (const Rejection& r : rejected) dead.insert(r.id);
          EXPECT_EQ(counts->accepted + counts->rejected + counts->returned, static_cast<int64_t>(mine.records.size()));
          EXPECT_EQ(counts->accepted, static_cast<int64_t>(accepted.size()));
        }
      }
      ExpectCountersTrue("step " + std::to_string(step));
      if (::testing::Test::HasFailure()) return;
    }
    // Drain: every record not dead arrives once.
    for (const auto& [id, batch] : held) ob.ReleaseBatch(id);
    for (int guard = 0; guard < 10000; ++guard) {
      auto next = ob.NextDueBatch(Now() + 24h, {7, 1 << 20, true});
      ASSERT_TRUE(next.ok());
      if (!next->batch) break;
      for (const Record& r : next->batch->records) EXPECT_TRUE(acked.insert(r.id).second) << r.id << " twice";
      ASSERT_TRUE(ob.AckAll(next->batch->batch_id).ok());
    }
    ExpectCountersTrue("drained");
    auto listed = ob.ListDeadLetters({100000});
    ASSERT_TRUE(listed.ok());
    std::set<std::string> dead_ids;
    for (const DeadLetter& d : *listed) dead_ids.insert(d.id);
    EXPECT_EQ(dead_ids, dead);
    for (const std::string& id : queued_ids) EXPECT_TRUE(acked.count(id) + dead_ids.count(id) == 1) << id;
    EXPECT_EQ(acked.size() + dead_ids.size(), queued_ids.size());
    outbox_.reset();
  }
}

TEST_F(CountersTest, RequeueAndPurgeKeepTheCountersTrue) {
  Outbox& ob = Open();
  auto recs = MakeRecords(1, 6);
  ASSERT_TRUE(ob.Enqueue(recs).ok());
  auto b = ob.NextDueBatch(Now(), {});
  ASSERT_TRUE(b.ok() && b->batch);
  std::vector<Rejection> rejected;
  for (int i = 0; i < 4; ++i) rejected.push_back({recs[i].id, "bad", "no"});
  ASSERT_TRUE(ob.AckPartial(b->batch->batch_id, {}, rejected).ok());
  ExpectCountersTrue("after rejections");
  ASSERT_EQ(*ob.RequeueDeadLetters({recs[0].id, recs[0].id, "unknown"}), 1);
  ExpectCountersTrue("after requeue of one");
  ASSERT_EQ(*ob.PurgeDeadLetters({recs[1].id}), 1);
  ExpectCountersTrue("after purge of one");
  ASSERT_EQ(*ob.RequeueAllDeadLetters(), 2);
  ExpectCountersTrue("after requeue of all");
  EXPECT_EQ(GetStats().queued, 5);
  EXPECT_EQ(GetStats().dead, 0);
}

TEST_F(CountersTest, AckAndNextDueBatchAcknowledgesAndFormsInOneCall) {
  Outbox& ob = Open();
  auto recs = MakeRecords(1, 10);
  ASSERT_TRUE(ob.Enqueue(recs).ok());
  auto first = ob.NextDueBatch(Now(), {4, 1 << 20});
  ASSERT_TRUE(first.ok() && first->batch);
  // A partial receipt: record 1 accepted, 2 rejected, 3 and 4 unnamed: they lead the batch formed with it.
  BatchAck ack{first->batch->batch_id, false, {recs[0].id}, {{recs[1].id, "bad", "no"}}};
  auto out = ob.AckAndNextDueBatch(ack, Now(), {4, 1 << 20});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->counts.accepted, 1);
  EXPECT_EQ(out->counts.rejected, 1);
  EXPECT_EQ(out->counts.returned, 2);
  ASSERT_TRUE(out->next.batch);
  EXPECT_TRUE(out->next.batch->newly_formed);
  EXPECT_EQ(Ids(out->next.batch->records), (std::vector<std::string>{recs[2].id, recs[3].id, recs[4].id, recs[5].id}));
  ExpectCountersTrue("after the combined call");
  // The next combined call acknowledges that batch whole and forms the rest.
  auto again = ob.AckAndNextDueBatch(BatchAck{out->next.batch->batch_id, true, {}, {}}, Now(), {4, 1 << 20});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->counts.accepted, 4);
  ASSERT_TRUE(again->next.batch);
  EXPECT_EQ(Ids(again->next.batch->records),
            (std::vector<std::string>{recs[6].id, recs[7].id, recs[8].id, recs[9].id}));
  // An ack of a batch that is gone changes nothing and hands out nothing.
  auto gone = ob.AckAndNextDueBatch(BatchAck{first->batch->batch_id, true, {}, {}}, Now(), {4, 1 << 20});
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_EQ(GetStats().queued, 4);
  EXPECT_EQ(GetStats().in_flight, 1);
  ExpectCountersTrue("after a failed combined call");
}

// ReleaseMemory gives back the pages a drain left in the connection's cache (16 MiB allowed): an idle agent
// does not hold them for days. Reading again afterwards works and sees everything.
TEST_F(OutboxTest, ReleaseMemoryGivesBackTheCachedPages) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(0, 2000, "patients_1.csv", 200)).ok());
  auto batch = ob.NextDueBatch(Now(), {2000, 16 << 20});
  ASSERT_TRUE(batch.ok() && batch->batch);
  ASSERT_EQ(batch->batch->records.size(), 2000u);
  const int64_t cached = sqlite3_memory_used();
  ob.ReleaseMemory();
  const int64_t released = cached - sqlite3_memory_used();
  EXPECT_GE(released, 50 * 4096) << "400 KB of records were read through the cache";
  EXPECT_EQ(GetStats().queued, 2000);
  ASSERT_TRUE(ob.AckAll(batch->batch->batch_id).ok());
  EXPECT_EQ(GetStats().queued, 0);
}

}  // namespace
}  // namespace opescare::outbox
