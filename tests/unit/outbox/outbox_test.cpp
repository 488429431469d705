// Tests of the SQLite outbox's behaviour on real files: enqueue, batches, acks, splits, dead letters, stats.
#include <gtest/gtest.h>

#include "agent/outbox/batching.h"
#include "tests/unit/outbox/outbox_test_support.h"

namespace opescare::outbox {
namespace {

using namespace std::chrono_literals;
using testing::Ids;
using testing::MakeRecord;
using testing::MakeRecords;
using testing::OutboxTest;

std::vector<std::string> BatchIds(const Batch& b) { return Ids(b.records); }

// --- Enqueue ----------------------------------------------------------------------------------------

TEST_F(OutboxTest, EnqueueInsertsAllRecordsAndTheFileHash) {
  Outbox& ob = Open();
  auto counts = ob.Enqueue(MakeRecords(2, 10), FileInfo{"abc123", "patients_1.csv", 10, 1});
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->inserted, 10);
  EXPECT_EQ(counts->skipped, 0);
  EXPECT_FALSE(counts->file_already_known);
  EXPECT_TRUE(*ob.HasFile("abc123"));
  EXPECT_FALSE(*ob.HasFile("other"));
  auto files = ob.ListFiles(10);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].name, "patients_1.csv");
  EXPECT_EQ((*files)[0].rows_ok, 10);
  EXPECT_EQ((*files)[0].rows_failed, 1);
  EXPECT_EQ((*files)[0].queued_at, Now());
  EXPECT_EQ(GetStats().pending, 10);
}

TEST_F(OutboxTest, AFileAlreadyQueuedQueuesNothing) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 5), FileInfo{"h", "a.csv", 5, 0}).ok());
  // The same content again (e.g. under another name, racing past HasFile): all or nothing, so nothing.
  auto again = ob.Enqueue(MakeRecords(1, 5), FileInfo{"h", "b.csv", 5, 0});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->file_already_known);
  EXPECT_EQ(again->inserted, 0);
  EXPECT_EQ(again->skipped, 5);
  EXPECT_EQ(GetStats().queued, 5);
  auto files = ob.ListFiles(10);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].name, "a.csv");  // the first recording stays
  // The outbox is usable afterwards.
  EXPECT_TRUE(ob.Enqueue(MakeRecords(6, 1), FileInfo{"h2", "c.csv", 1, 0}).ok());
}

TEST_F(OutboxTest, AFailureMidwayLeavesNothing) {
  Outbox& ob = Open();
  auto txn = ob.BeginEnqueue();
  ASSERT_TRUE(txn.ok());
  for (const Record& r : MakeRecords(1, 100)) ASSERT_TRUE((*txn)->Add(r).ok());
  Record bad = MakeRecord(101);
  bad.data_json = "not json";
  EXPECT_EQ((*txn)->Add(bad).code(), Code::kInvalidArgument);
  EXPECT_EQ((*txn)->Add(MakeRecord(102)).code(), Code::kInvalidArgument);  // the transaction stays void
  auto commit = (*txn)->Commit(FileInfo{"hash", "patients_1.csv", 101, 0});
  EXPECT_EQ(commit.status().code(), Code::kInvalidArgument);
  txn->reset();
  EXPECT_EQ(GetStats().queued, 0);
  EXPECT_FALSE(*ob.HasFile("hash"));
}

TEST_F(OutboxTest, DestroyingAnUncommittedEnqueueRollsBack) {
  Outbox& ob = Open();
  {
    auto txn = ob.BeginEnqueue();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->Add(MakeRecord(1)).ok());
    EXPECT_EQ((*txn)->added(), 1);
    // While it is open, the outbox refuses other calls instead of showing uncommitted rows.
    EXPECT_EQ(ob.GetStats().status().code(), Code::kFailedPrecondition);
    EXPECT_EQ(ob.BeginEnqueue().status().code(), Code::kFailedPrecondition);
  }
  EXPECT_EQ(GetStats().queued, 0);
  auto again = ob.Enqueue(MakeRecords(1, 1));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->inserted, 1);
}

TEST_F(OutboxTest, DiskFullRollsBackTheWholeFile) {
  auto opts = Options();
  opts.hard_limit_bytes = 256 * 1024;  // SQLITE_FULL after a few hundred kB
  auto ob = OpenOutbox(opts);
  ASSERT_TRUE(ob.ok()) << ob.status().ToString();
  auto counts = (*ob)->Enqueue(MakeRecords(1, 5000, "big.csv", 200), FileInfo{"bighash", "big.csv", 5000, 0});
  ASSERT_FALSE(counts.ok());
  EXPECT_EQ(counts.status().code(), Code::kResourceExhausted) << counts.status().ToString();
  EXPECT_NE(counts.status().message().find(path_), std::string::npos);
  EXPECT_NE(counts.status().message().find("free disk space"), std::string::npos);
  auto stats = (*ob)->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->queued, 0);
  EXPECT_FALSE(*(*ob)->HasFile("bighash"));
  // A file that fits still goes in afterwards.
  auto small = (*ob)->Enqueue(MakeRecords(1, 10, "small.csv"), FileInfo{"smallhash", "small.csv", 10, 0});
  EXPECT_TRUE(small.ok()) << small.status().ToString();
}

// --- Batches ----------------------------------------------------------------------------------------

TEST_F(OutboxTest, NoBatchWhenNothingIsPending) {
  Outbox& ob = Open();
  auto next = ob.NextDueBatch(Now(), {});
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->batch);
  EXPECT_FALSE(next->next_attempt_at);
}

TEST_F(OutboxTest, FormsBatchesByCountInQueueOrder) {
  Outbox& ob = Open();
  auto records = MakeRecords(1, 7);
  ASSERT_TRUE(ob.Enqueue(records).ok());
  BatchLimits limits{3, 1 << 20};
  std::vector<std::string> seen;
  for (size_t expected : {3u, 3u, 1u}) {
    auto next = ob.NextDueBatch(Now(), limits);
    ASSERT_TRUE(next.ok());
    ASSERT_TRUE(next->batch);
    EXPECT_TRUE(next->batch->newly_formed);
    EXPECT_EQ(next->batch->records.size(), expected);
    for (const Record& r : next->batch->records) seen.push_back(r.id);
  }
  EXPECT_EQ(seen, Ids(records));
  // Every record travels with its fields intact.
  auto next = ob.NextDueBatch(Now(), limits);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->batch);
  Stats s = GetStats();
  EXPECT_EQ(s.batches, 3);
  EXPECT_EQ(s.in_batches, 7);
  EXPECT_EQ(s.pending, 0);
}

TEST_F(OutboxTest, BatchCarriesRecordsFieldForField) {
  Outbox& ob = Open();
  Record r = MakeRecord(5, "lab_results_x.csv");
  r.type = "lab_result";
  r.data_json = R"({"health_id":"H1","test":"glucose","note":"é \"quoted\""})";
  ASSERT_TRUE(ob.Enqueue({r}).ok());
  auto next = ob.NextDueBatch(Now(), {});
  ASSERT_TRUE(next.ok() && next->batch);
  const Record& got = next->batch->records.at(0);
  EXPECT_EQ(got.id, r.id);
  EXPECT_EQ(got.type, r.type);
  EXPECT_EQ(got.data_json, r.data_json);
  EXPECT_EQ(got.source_file, r.source_file);
  EXPECT_EQ(got.source_row, 5);
  EXPECT_EQ(next->batch->bytes, RecordWireSize(r));
  EXPECT_EQ(next->batch->batch_id.size(), 36u);
}

TEST_F(OutboxTest, FormsBatchesByBytesAndSendsAnOversizedRecordAlone) {
  Outbox& ob = Open();
  std::vector<Record> records = MakeRecords(1, 4, "f.csv", 100);
  records.insert(records.begin() + 2, MakeRecord(99, "f.csv", 5000));  // oversized, third in the queue
  ASSERT_TRUE(ob.Enqueue(records).ok());
  const uint64_t small = RecordWireSize(records[0]);
  BatchLimits limits{100, 2 * small + 10};
  std::vector<size_t> sizes;
  for (;;) {
    auto next = ob.NextDueBatch(Now(), limits);
    ASSERT_TRUE(next.ok());
    if (!next->batch) break;
    EXPECT_TRUE(next->batch->bytes <= limits.max_bytes || next->batch->records.size() == 1);
    sizes.push_back(next->batch->records.size());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 1, 2}));
}

TEST_F(OutboxTest, ARetryReturnsTheSameBatchWithTheSameRecords) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 10)).ok());
  auto first = ob.NextDueBatch(Now(), {4, 1 << 20});
  ASSERT_TRUE(first.ok() && first->batch);
  // In flight: not handed out again; nothing waits, so a new batch is formed behind it.
  auto second = ob.NextDueBatch(Now(), {4, 1 << 20});
  ASSERT_TRUE(second.ok() && second->batch);
  EXPECT_NE(second->batch->batch_id, first->batch->batch_id);
  ob.ReleaseBatch(second->batch->batch_id);

  ASSERT_TRUE(ob.RescheduleBatch(first->batch->batch_id, Now() + 30s, "HTTP 503", true).ok());
  // Due: the released second batch. The first waits until +30 s.
  auto due = ob.NextDueBatch(Now(), {4, 1 << 20});
  ASSERT_TRUE(due.ok() && due->batch);
  EXPECT_EQ(due->batch->batch_id, second->batch->batch_id);
  EXPECT_FALSE(due->batch->newly_formed);
  EXPECT_EQ(due->next_attempt_at, Now() + 30s);
  ASSERT_TRUE(ob.AckAll(due->batch->batch_id).ok());

  // FIFO: while the first batch waits, no new batch is formed; the loop learns when to come back.
  auto waiting = ob.NextDueBatch(Now() + 10s, {4, 1 << 20});
  ASSERT_TRUE(waiting.ok());
  EXPECT_FALSE(waiting->batch);
  EXPECT_EQ(waiting->next_attempt_at, Now() + 30s);

  auto retry = ob.NextDueBatch(Now() + 30s, {4, 1 << 20});
  ASSERT_TRUE(retry.ok() && retry->batch);
  EXPECT_EQ(retry->batch->batch_id, first->batch->batch_id);
  EXPECT_EQ(BatchIds(*retry->batch), BatchIds(*first->batch));
  EXPECT_EQ(retry->batch->attempts, 1);
  EXPECT_EQ(retry->batch->last_error, "HTTP 503");
  EXPECT_EQ(retry->batch->bytes, first->batch->bytes);
}

TEST_F(OutboxTest, FormWhileWaitingKeepsTheRestFlowing) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 4)).ok());
  auto first = ob.NextDueBatch(Now(), {2, 1 << 20});
  ASSERT_TRUE(first.ok() && first->batch);
  ASSERT_TRUE(ob.RescheduleBatch(first->batch->batch_id, Now() + 60s, "HTTP 500", true).ok());
  BatchLimits limits{2, 1 << 20, /*form_while_waiting=*/true};
  auto next = ob.NextDueBatch(Now(), limits);
  ASSERT_TRUE(next.ok() && next->batch);
  EXPECT_TRUE(next->batch->newly_formed);
  EXPECT_EQ(next->batch->records.front().source_row, 3);
  EXPECT_EQ(next->next_attempt_at, Now() + 60s);
}

TEST_F(OutboxTest, RescheduleWithoutCountingKeepsAttempts) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 2)).ok());
  auto b = ob.NextDueBatch(Now(), {});
  ASSERT_TRUE(b.ok() && b->batch);
  ASSERT_TRUE(ob.RescheduleBatch(b->batch->batch_id, Now(), "shutdown", false).ok());
  auto again = ob.NextDueBatch(Now(), {});
  ASSERT_TRUE(again.ok() && again->batch);
  EXPECT_EQ(again->batch->attempts, 0);
  EXPECT_EQ(ob.RescheduleBatch("no-such-batch", Now(), "x", true).code(), Code::kNotFound);
}

TEST_F(OutboxTest, AckAllRemovesTheBatchAndItsRecords) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 5)).ok());
  auto b = ob.NextDueBatch(Now(), {3, 1 << 20});
  ASSERT_TRUE(b.ok() && b->batch);
  auto acked = ob.AckAll(b->batch->batch_id);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->accepted, 3);
  Stats s = GetStats();
  EXPECT_EQ(s.queued, 2);
  EXPECT_EQ(s.batches, 0);
  EXPECT_EQ(ob.AckAll(b->batch->batch_id).status().code(), Code::kNotFound);
}

TEST_F(OutboxTest, PartialAckDeadLettersRejectionsAndReturnsTheUnmentioned) {
  Outbox& ob = Open();
  auto records = MakeRecords(1, 6);
  ASSERT_TRUE(ob.Enqueue(records).ok());
  auto b = ob.NextDueBatch(Now(), {5, 1 << 20});
  ASSERT_TRUE(b.ok() && b->batch);
  // 1, 2 accepted; 3 rejected; 4, 5 not mentioned; an unknown id and record 6 (not in the batch) ignored.
  auto acked = ob.AckPartial(b->batch->batch_id, {records[0].id, records[1].id, "r_unknown"},
                             {{records[2].id, "invalid_dob", "dob is in the future"}, {records[5].id, "x", "y"}});
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  EXPECT_EQ(acked->accepted, 2);
  EXPECT_EQ(acked->rejected, 1);
  EXPECT_EQ(acked->returned, 2);
  Stats s = GetStats();
  EXPECT_EQ(s.dead, 1);
  EXPECT_EQ(s.queued, 3);
  EXPECT_EQ(s.pending, 3);
  EXPECT_EQ(s.batches, 0);
  auto dead = ob.ListDeadLetters({});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, records[2].id);
  EXPECT_EQ((*dead)[0].error, "invalid_dob");
  EXPECT_EQ((*dead)[0].message, "dob is in the future");
  EXPECT_EQ((*dead)[0].source_row, 3);
  EXPECT_EQ((*dead)[0].data_json, "");  // patient data only on request
  // The returned records keep their place: they lead the next batch.
  auto next = ob.NextDueBatch(Now(), {5, 1 << 20});
  ASSERT_TRUE(next.ok() && next->batch);
  EXPECT_EQ(BatchIds(*next->batch), (std::vector<std::string>{records[3].id, records[4].id, records[5].id}));
}

TEST_F(OutboxTest, SplitMakesTwoNewBatchesOfTheHalvesInOrder) {
  Outbox& ob = Open();
  auto records = MakeRecords(1, 5);
  ASSERT_TRUE(ob.Enqueue(records).ok());
  // The caller's clock may differ from the outbox's: the halves are due whenever the batch was.
  const TimePoint caller_now = Now() - 1h;
  auto b = ob.NextDueBatch(caller_now, {});
  ASSERT_TRUE(b.ok() && b->batch);
  auto split = ob.SplitBatch(b->batch->batch_id);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_NE(split->first_batch_id, b->batch->batch_id);
  EXPECT_NE(split->second_batch_id, b->batch->batch_id);
  EXPECT_NE(split->first_batch_id, split->second_batch_id);
  auto first = ob.NextDueBatch(caller_now, {});
  auto second = ob.NextDueBatch(caller_now, {});
  ASSERT_TRUE(first.ok() && first->batch && second.ok() && second->batch);
  EXPECT_EQ(first->batch->batch_id, split->first_batch_id);
  EXPECT_EQ(second->batch->batch_id, split->second_batch_id);
  EXPECT_EQ(BatchIds(*first->batch), (std::vector<std::string>{records[0].id, records[1].id}));
  EXPECT_EQ(BatchIds(*second->batch), (std::vector<std::string>{records[2].id, records[3].id, records[4].id}));
  EXPECT_EQ(first->batch->bytes + second->batch->bytes, b->batch->bytes);
  EXPECT_EQ(ob.AckAll(b->batch->batch_id).status().code(), Code::kNotFound);  // the old id is gone
  EXPECT_EQ(GetStats().batches, 2);
}

TEST_F(OutboxTest, ASingleRecordBatchCannotSplitButCanBeDeadLettered) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 2)).ok());
  auto b = ob.NextDueBatch(Now(), {});
  ASSERT_TRUE(b.ok() && b->batch);
  // Dead-lettering a multi-record batch is refused: records die one by one.
  EXPECT_EQ(ob.DeadLetterBatch(b->batch->batch_id, "invalid", "bad").code(), Code::kFailedPrecondition);
  auto split = ob.SplitBatch(b->batch->batch_id);
  ASSERT_TRUE(split.ok());
  auto single = ob.SplitBatch(split->first_batch_id);
  EXPECT_EQ(single.status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(ob.DeadLetterBatch(split->first_batch_id, "invalid_record", "sex missing").ok());
  Stats s = GetStats();
  EXPECT_EQ(s.dead, 1);
  EXPECT_EQ(s.queued, 1);
  EXPECT_EQ(s.batches, 1);
  EXPECT_EQ(ob.SplitBatch("nope").status().code(), Code::kNotFound);
}

TEST_F(OutboxTest, RecordsQueuedAfterTheQueueEmptiedAreFound) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 10)).ok());
  auto b = ob.NextDueBatch(Now(), {});
  ASSERT_TRUE(b.ok() && b->batch);
  ASSERT_TRUE(ob.AckAll(b->batch->batch_id).ok());
  // The table is empty, so SQLite hands out low seqs again: they must not hide below the pending floor.
  auto records = MakeRecords(1, 3, "second.csv");
  ASSERT_TRUE(ob.Enqueue(records).ok());
  auto next = ob.NextDueBatch(Now(), {});
  ASSERT_TRUE(next.ok() && next->batch);
  EXPECT_EQ(Ids(next->batch->records), Ids(records));
}

TEST_F(OutboxTest, RecordsQueuedByAnotherConnectionAreFound) {
  Outbox& agent = Open();
  ASSERT_TRUE(agent.Enqueue(MakeRecords(1, 4)).ok());
  auto b = agent.NextDueBatch(Now(), {});
  ASSERT_TRUE(b.ok() && b->batch);
  ASSERT_TRUE(agent.AckAll(b->batch->batch_id).ok());
  auto cli = OpenOutbox(Options());  // e.g. `opescare-bridge enqueue` while the agent runs
  ASSERT_TRUE(cli.ok());
  auto records = MakeRecords(1, 2, "cli.json");
  ASSERT_TRUE((*cli)->Enqueue(records).ok());
  auto next = agent.NextDueBatch(Now(), {});
  ASSERT_TRUE(next.ok() && next->batch);
  EXPECT_EQ(Ids(next->batch->records), Ids(records));
}

TEST_F(OutboxTest, ReturnedRecordsGoBeforeNewerPendingOnes) {
  Outbox& ob = Open();
  auto records = MakeRecords(1, 9);
  ASSERT_TRUE(ob.Enqueue(records).ok());
  auto a = ob.NextDueBatch(Now(), {3, 1 << 20});
  auto b = ob.NextDueBatch(Now(), {3, 1 << 20});
  ASSERT_TRUE(a.ok() && a->batch && b.ok() && b->batch);
  auto acked = ob.AckPartial(a->batch->batch_id, {records[0].id}, {});
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->returned, 2);
  auto c = ob.NextDueBatch(Now(), {3, 1 << 20});
  ASSERT_TRUE(c.ok() && c->batch);
  EXPECT_EQ(Ids(c->batch->records), (std::vector<std::string>{records[1].id, records[2].id, records[6].id}));
}

// --- Dead letters -----------------------------------------------------------------------------------

class DeadLetterTest : public OutboxTest {
 protected:
  // Queues n records and dead-letters all of them through a partial ack.
  void KillRecords(int n) {
    Outbox& ob = Open();
    records_ = MakeRecords(1, n);
    ASSERT_TRUE(ob.Enqueue(records_).ok());
    auto b = ob.NextDueBatch(Now(), {});
    ASSERT_TRUE(b.ok() && b->batch);
    std::vector<Rejection> rejected;
    for (const Record& r : records_) rejected.push_back({r.id, "bad", "refused " + r.id});
    auto acked = ob.AckPartial(b->batch->batch_id, {}, rejected);
    ASSERT_TRUE(acked.ok());
    ASSERT_EQ(acked->rejected, n);
  }
  std::vector<Record> records_;
};

TEST_F(DeadLetterTest, ListsInOrderWithDataOnRequest) {
  KillRecords(3);
  auto oldest = outbox_->ListDeadLetters({2, false, true});
  ASSERT_TRUE(oldest.ok());
  ASSERT_EQ(oldest->size(), 2u);
  EXPECT_EQ((*oldest)[0].id, records_[0].id);
  EXPECT_EQ((*oldest)[0].data_json, records_[0].data_json);
  EXPECT_EQ((*oldest)[0].dead_at, Now());
  auto newest = outbox_->ListDeadLetters({1, true, false});
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ((*newest)[0].id, records_[2].id);
}

TEST_F(DeadLetterTest, ReingestingADeadRecordIsSkipped) {
  KillRecords(2);
  auto again = outbox_->Enqueue(records_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->inserted, 0);
  EXPECT_EQ(again->skipped, 2);
}

TEST_F(DeadLetterTest, RequeueMovesBackToPendingWithTheSameRecord) {
  KillRecords(3);
  auto moved = outbox_->RequeueDeadLetters({records_[1].id, "r_unknown"});
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 1);
  Stats s = GetStats();
  EXPECT_EQ(s.dead, 2);
  EXPECT_EQ(s.pending, 1);
  auto b = outbox_->NextDueBatch(Now(), {});
  ASSERT_TRUE(b.ok() && b->batch);
  ASSERT_EQ(b->batch->records.size(), 1u);
  EXPECT_EQ(b->batch->records[0].data_json, records_[1].data_json);
  EXPECT_EQ(b->batch->records[0].source_row, 2);
  auto all = outbox_->RequeueAllDeadLetters();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 2);
  s = GetStats();
  EXPECT_EQ(s.dead, 0);
  EXPECT_EQ(s.queued, 3);
}

TEST_F(DeadLetterTest, PurgeDeletesForGood) {
  KillRecords(3);
  auto purged = outbox_->PurgeDeadLetters({records_[0].id});
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(GetStats().dead, 2);
  auto all = outbox_->PurgeAllDeadLetters();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 2);
  Stats s = GetStats();
  EXPECT_EQ(s.dead, 0);
  EXPECT_EQ(s.queued, 0);
}

// --- State ------------------------------------------------------------------------------------------

TEST_F(OutboxTest, StatsReportTrueFigures) {
  Outbox& ob = Open();
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 10), FileInfo{"h1", "a.csv", 10, 0}).ok());
  clock_.Advance(90s);
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 5, "b.csv"), FileInfo{"h2", "b.csv", 5, 0}).ok());
  auto b = ob.NextDueBatch(Now(), {4, 1 << 20});
  ASSERT_TRUE(b.ok() && b->batch);
  ASSERT_TRUE(ob.RescheduleBatch(b->batch->batch_id, Now() + 5s, "HTTP 502", true).ok());
  clock_.Advance(10s);
  Stats s = GetStats();
  EXPECT_EQ(s.queued, 15);
  EXPECT_EQ(s.in_batches, 4);
  EXPECT_EQ(s.pending, 11);
  EXPECT_EQ(s.batches, 1);
  EXPECT_EQ(s.dead, 0);
  EXPECT_EQ(s.files, 2);
  EXPECT_EQ(s.oldest_queued_age_seconds, 100);
  EXPECT_EQ(s.next_attempt_at, Now() - 5s);
  EXPECT_GT(s.used_bytes, 0u);
  EXPECT_GE(s.file_bytes, s.used_bytes);
}

TEST_F(OutboxTest, MetaRoundTrips) {
  Outbox& ob = Open();
  auto missing = ob.GetMeta(kMetaLastSyncAt);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
  ASSERT_TRUE(ob.SetMeta(kMetaLastSyncAt, "2026-11-29T19:40:00Z").ok());
  ASSERT_TRUE(ob.SetMeta(kMetaLastSyncAt, "2026-11-29T19:41:00Z").ok());
  EXPECT_EQ(**ob.GetMeta(kMetaLastSyncAt), "2026-11-29T19:41:00Z");
  ASSERT_TRUE(ob.DeleteMeta(kMetaLastSyncAt).ok());
  EXPECT_FALSE(*ob.GetMeta(kMetaLastSyncAt));
}

TEST_F(OutboxTest, IsFullComparesUsedBytesAndFreesUpAfterDelivery) {
  Outbox& ob = Open();
  EXPECT_FALSE(*ob.IsFull(1));
  ASSERT_TRUE(ob.Enqueue(MakeRecords(1, 8000, "big.csv", 200)).ok());  // ~2.5 MB with indexes
  EXPECT_TRUE(*ob.IsFull(1));
  EXPECT_FALSE(*ob.IsFull(100));
  for (;;) {
    auto b = ob.NextDueBatch(Now(), {});
    ASSERT_TRUE(b.ok());
    if (!b->batch) break;
    ASSERT_TRUE(ob.AckAll(b->batch->batch_id).ok());
  }
  EXPECT_FALSE(*ob.IsFull(1));  // freed pages do not count, although the file keeps its size
}

}  // namespace
}  // namespace opescare::outbox
