// The pipelined loop: several batches on the wire at once, each under its own Idempotency-Key, answered in
// any order, one failing while another succeeds, store faults and stops between any two steps. Both
// io_contexts are stepped by hand (run_one / poll) on this thread, the clock is a ManualClock.
#include "tests/unit/delivery/loop_fixture.h"

namespace opescare::delivery {
namespace {

using namespace std::chrono_literals;
using testing::DeliveryLoopTest;
using testing::HeaderOf;

class DeliveryPipelineTest : public DeliveryLoopTest {
 protected:
  void MakeWith(uint32_t max_in_flight) {
    DeliveryOptions o;
    o.max_in_flight = max_in_flight;
    Make(o);
  }
  std::string AcceptAll(const std::string& batch) {
    std::string ids;
    for (const auto& r : ob_.batches.at(batch).records) ids += (ids.empty() ? "\"" : ",\"") + r.id + "\"";
    return Receipt(batch, ",\"accepted\":[" + ids + "]");
  }
  bool Answer(const std::string& batch, int status = 200) {
    std::string body = status == 200 ? AcceptAll(batch) : "{}";
    return tx_.RespondTo(batch, status, body);
  }
  using Keys = std::vector<std::string>;
};

TEST_F(DeliveryPipelineTest, TwoBatchesGoOutAtOnceEachUnderItsOwnKeyAndAThirdIsFormedAhead) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10"});
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b1", "b2"}));
  EXPECT_EQ(tx_.pending[1].request.body, "body of b2");
  EXPECT_TRUE(ob_.in_flight.contains("b3")) << "formed while b1 and b2 are on the wire";
  EXPECT_EQ(tx_.sent.size(), 2u) << "but not sent: two at most";
  EXPECT_EQ(ob_.pending.size(), 1u) << "r10: no fourth batch";
}

// A batch is compressed as it arrives from the disk thread, the formed-ahead one while the others are on the
// wire (the fake inflates it again), so a send only writes. A 415 arriving while it waits makes it go out as built.
TEST_F(DeliveryPipelineTest, ABodyIsCompressedAsItIsFormedAndUncompressedAgainAfterA415) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10"});
  ASSERT_EQ(tx_.PendingKeys(), (Keys{"b1", "b2"}));
  EXPECT_TRUE(tx_.pending[0].request.gzip_body);
  EXPECT_EQ(tx_.pending[0].request.body, "body of b1") << "compressed by the loop (the fake inflated it)";
  ASSERT_TRUE(ob_.in_flight.contains("b3"));
  ASSERT_TRUE(Answer("b1", 415));
  Settle();
  ASSERT_EQ(tx_.PendingKeys(), (Keys{"b2", "b3"})) << "b3 takes b1's slot";
  const http::Request& b3 = tx_.pending[1].request;
  EXPECT_FALSE(b3.gzip_body) << "compressed before the 415, sent without gzip";
  EXPECT_EQ(b3.body, "body of b3") << "inflated back to the body as built";
  ASSERT_TRUE(Answer("b2"));
  ASSERT_TRUE(Answer("b3"));
  Settle();
  ASSERT_FALSE(tx_.pending.empty());
  EXPECT_EQ(tx_.PendingKeys().front(), "b1") << "resent under its own key";
  EXPECT_FALSE(tx_.pending[0].request.gzip_body);
  EXPECT_EQ(tx_.pending[0].request.body, "body of b1");
}

TEST_F(DeliveryPipelineTest, WithCompressionNoneNoBodyIsCompressed) {
  DeliveryOptions o;
  o.compression = "none";
  Make(o);
  StartWith({"r1", "r2", "r3", "r4"});
  ASSERT_FALSE(tx_.pending.empty());
  EXPECT_FALSE(tx_.pending[0].request.gzip_body);
  EXPECT_EQ(tx_.pending[0].request.body, "body of b1");
}

// A slow link: the second body starts only once the first one's bytes have left the socket, then goes out
// while the first waits for its receipt.
TEST_F(DeliveryPipelineTest, TheSecondBodyStartsWhenTheFirstHasLeftTheSocket) {
  MakeWith(2);
  tx_.hold_sent = true;
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10"});
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b1"})) << "b2 waits for b1's upload";
  EXPECT_TRUE(ob_.in_flight.contains("b2")) << "but is formed";
  ASSERT_TRUE(tx_.MarkSent("b1"));
  Settle();
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b1", "b2"})) << "b2 uploads while b1 waits for its receipt";
  EXPECT_TRUE(ob_.in_flight.contains("b3")) << "formed ahead of the full wire";
  ASSERT_TRUE(Answer("b1"));
  Settle();
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b2"})) << "b1's slot is free, but b2 is still uploading";
  ASSERT_TRUE(tx_.MarkSent("b2"));
  Settle();
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b2", "b3"}));
  EXPECT_EQ(counters().records_delivered, 3);
}

// A request that fails before its bytes went out never reports them sent: its outcome frees the upload.
TEST_F(DeliveryPipelineTest, AnUploadThatFailsLetsTheNextBodyStart) {
  MakeWith(2);
  tx_.hold_sent = true;
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6"});
  ASSERT_EQ(tx_.PendingKeys(), (Keys{"b1"}));
  tx_.FailTransport(http::FailureStage::kWrite);
  Settle();
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b2"})) << "b1 backs off; b2 goes out without waiting for b1's bytes";
  EXPECT_EQ(ob_.batches.at("b1").attempts, 1);
  EXPECT_TRUE(tx_.MarkSent("b1")) << "b1's late on_sent is held by the fake";
  Settle();
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b2"})) << "and changes nothing";
}

TEST_F(DeliveryPipelineTest, TheSecondReceiptArrivingFirstIsAppliedAtOnceAndFreesASlot) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"});
  ASSERT_TRUE(Answer("b2"));
  Settle();
  EXPECT_TRUE(Called("AckAll b2"));
  EXPECT_FALSE(ob_.batches.contains("b2"));
  EXPECT_EQ(ob_.batches.at("b1").records.size(), 3u) << "b1 is untouched by b2's receipt";
  EXPECT_FALSE(Called("AckAll b1"));
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b1", "b3"})) << "b3 took b2's slot";
  EXPECT_EQ(counters().records_delivered, 3);
  ASSERT_TRUE(Answer("b3"));
  ASSERT_TRUE(Answer("b1"));
  Settle();
  EXPECT_EQ(ob_.queued(), 0u);
  EXPECT_EQ(counters().records_delivered, 9);
  EXPECT_EQ(tx_.sent.size(), 3u) << "nothing sent twice";
}

TEST_F(DeliveryPipelineTest, TheAnswerPutsTheFormedBatchOnTheWireBeforeTheAckIsRecorded) {
  MakeWith(1);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7"});
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b1"}));
  EXPECT_TRUE(ob_.in_flight.contains("b2")) << "max 1 still forms the next batch while one is on the wire";
  ASSERT_TRUE(Answer("b1"));
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b2"})) << "sent inside the answer's handler";
  EXPECT_FALSE(Called("AckAll b1")) << "the disk has not run yet";
  ASSERT_EQ(disk_.run_one(), 1u);  // one disk step, one transaction: b1's ack, then b3 formed behind it
  size_t ack = std::find(ob_.calls.begin(), ob_.calls.end(), "AckAll b1") - ob_.calls.begin();
  ASSERT_LT(ack + 1, ob_.calls.size());
  ASSERT_GT(ack, 0u);
  EXPECT_EQ(ob_.calls[ack - 1], "AckAndNextDueBatch b1");
  EXPECT_EQ(ob_.calls[ack + 1], "NextDueBatch");
  Settle();
  EXPECT_TRUE(ob_.in_flight.contains("b3"));
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b2"}));
}

TEST_F(DeliveryPipelineTest, AFailedAckAndNextFormsNothingAndTheSameAckIsRecordedAfterTheWait) {
  MakeWith(1);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7"});
  ob_.fail_next["AckAndNextDueBatch"].push_back(Unavailable("database is locked"));
  ASSERT_TRUE(Answer("b1"));
  ASSERT_EQ(disk_.run_one(), 1u);
  EXPECT_EQ(ob_.calls.back(), "AckAndNextDueBatch b1") << "no batch formed past an ack that did not commit";
  Settle();
  EXPECT_TRUE(ob_.in_flight.contains("b1")) << "kept: the same decision is applied again";
  EXPECT_FALSE(ob_.in_flight.contains("b3"));
  ASSERT_TRUE(RunUntil([&] { return !ob_.batches.contains("b1"); }));
  EXPECT_EQ(counters().records_delivered, 3);
  EXPECT_EQ(tx_.sent.size(), 2u) << "b1 never resent";
}

TEST_F(DeliveryPipelineTest, AnAckFindingItsBatchGoneStillFormsTheNext) {
  MakeWith(1);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7"});
  ASSERT_TRUE(Answer("b1"));
  ob_.batches.erase("b1");  // purged meanwhile
  ob_.in_flight.erase("b1");
  ASSERT_EQ(disk_.run_one(), 1u);
  EXPECT_EQ(ob_.calls.back(), "NextDueBatch") << "the fetch is not skipped for a batch already gone";
  Settle();
  EXPECT_TRUE(ob_.in_flight.contains("b3"));
}

TEST_F(DeliveryPipelineTest, OneFailingWhileTheOtherSucceedsBacksOffOnlyTheFailedOne) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10"});
  ASSERT_TRUE(Answer("b1", 503));
  Settle();
  EXPECT_EQ(ob_.batches.at("b1").attempts, 1);
  EXPECT_GT(ob_.batches.at("b1").due, clock_.Now());
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b2", "b3"})) << "b3 was formed before b1 failed: it goes out";
  ASSERT_TRUE(Answer("b2"));
  ASSERT_TRUE(Answer("b3"));
  Settle();
  EXPECT_EQ(counters().records_delivered, 6);
  EXPECT_TRUE(tx_.pending.empty()) << "b1 waits for its backoff";
  EXPECT_EQ(ob_.pending.size(), 1u) << "and nothing new is formed behind a waiting batch (FIFO)";
  EXPECT_TRUE(counters().backoff_until.has_value());
  clock_.Advance(2s);
  loop_->Wake();
  Settle();
  ASSERT_FALSE(tx_.pending.empty());
  EXPECT_EQ(tx_.PendingKeys().front(), "b1") << "resent under its own key";
  ASSERT_TRUE(Answer("b1"));
  Settle();
  for (const std::string& k : tx_.PendingKeys()) ASSERT_TRUE(Answer(k));
  Settle();
  EXPECT_EQ(ob_.queued(), 0u);
  EXPECT_EQ(counters().records_delivered, 10);
}

TEST_F(DeliveryPipelineTest, AStoreFaultOnOneAckKeepsThatReceiptWhileTheOtherIsRecorded) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6"});
  ob_.fail_next["AckAll"] = {ResourceExhausted("database or disk is full")};
  ASSERT_TRUE(Answer("b1"));
  Settle();
  EXPECT_EQ(counters().store_fault_kind, "disk_full");
  EXPECT_TRUE(ob_.in_flight.contains("b1")) << "kept: the same decision is applied again";
  ASSERT_TRUE(Answer("b2"));
  Settle();
  EXPECT_FALSE(ob_.batches.contains("b2")) << "b2's receipt is recorded while b1's waits";
  ASSERT_TRUE(RunUntil([&] { return !ob_.batches.contains("b1"); }));
  EXPECT_EQ(ob_.queued(), 0u);
  EXPECT_EQ(counters().store_fault_kind, "");
  EXPECT_EQ(tx_.sent.size(), 2u) << "never resent";
}

TEST_F(DeliveryPipelineTest, APauseLetsTheOtherReceiptBeRecordedAndReleasesTheFormedBatch) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7"});
  ASSERT_TRUE(ob_.in_flight.contains("b3"));
  ASSERT_TRUE(tx_.RespondTo("b1", 401, R"({"error":"bridge_token_invalid"})"));
  Settle();
  EXPECT_FALSE(counters().paused_reason.empty());
  EXPECT_FALSE(ob_.in_flight.contains("b3")) << "formed but not sent: released";
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b2"}));
  ASSERT_TRUE(Answer("b2"));
  Settle();
  EXPECT_FALSE(ob_.batches.contains("b2")) << "a receipt is recorded even while paused";
  EXPECT_TRUE(tx_.pending.empty());
  EXPECT_EQ(pause_changes_.size(), 1u);
  loop_->ConnectivityRegained();
  Settle();
  EXPECT_EQ(tx_.PendingKeys(), (Keys{"b1", "b3"}));
}

// ---- a stop between any two steps, with two batches in flight --------------------------------------

TEST_F(DeliveryPipelineTest, StopWithTwoOnTheWireReleasesTheFormedOneAndRecordsBothAnswers) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6", "r7"});
  bool done = false;
  loop_->Stop([&] { done = true; });
  Settle();
  EXPECT_FALSE(ob_.in_flight.contains("b3")) << "formed, never sent: released at once";
  EXPECT_FALSE(done);
  ASSERT_TRUE(Answer("b2"));
  Settle();
  EXPECT_FALSE(done) << "b1 is still on the wire";
  EXPECT_FALSE(ob_.batches.contains("b2"));
  ASSERT_TRUE(Answer("b1"));
  Settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(ob_.queued(), 1u) << "r7, in b3, kept";
  EXPECT_TRUE(ob_.in_flight.empty());
  EXPECT_EQ(tx_.sent.size(), 2u);
}

TEST_F(DeliveryPipelineTest, StopBetweenAnAnswerAndItsRecordFinishesTheRecordFirst) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6"});
  ASSERT_TRUE(Answer("b1"));  // its record is posted to the disk, not run yet
  bool done = false;
  loop_->Stop([&] { done = true; });
  ASSERT_TRUE(Answer("b2"));
  EXPECT_FALSE(done);
  Settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(ob_.queued(), 0u);
  EXPECT_TRUE(ob_.in_flight.empty());
}

// The agent's network context has no work guard of its own: while an answer waits to be recorded on the
// disk thread, the loop must hold work on it, or run() returns and the process exits before the ack.
TEST_F(DeliveryPipelineTest, AStopWaitingForARecordKeepsTheNetworkContextRunning) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3"});
  ASSERT_TRUE(Answer("b1"));  // its record is posted to the disk
  bool done = false;
  loop_->Stop([&] { done = true; });
  net_guard_.reset();
  net_.run_one_for(10ms);
  EXPECT_FALSE(net_.stopped()) << "net's run() would return with b1's ack still on the disk queue";
  disk_.poll();
  net_.restart();
  net_.run_for(1s);
  EXPECT_TRUE(done);
  EXPECT_EQ(ob_.queued(), 0u);
}

TEST_F(DeliveryPipelineTest, StopPastTheGraceAbandonsBothRequestsAndKeepsBothBatches) {
  DeliveryOptions o;
  o.max_in_flight = 2;
  o.stop_grace = 1ms;
  Make(o);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6"});
  bool done = false;
  loop_->Stop([&] { done = true; });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_EQ(tx_.closes, 1);
  EXPECT_EQ(ob_.queued(), 6u);
  EXPECT_TRUE(ob_.in_flight.empty());
}

TEST_F(DeliveryPipelineTest, StopWhileOneAckWaitsForTheStoreAndTheOtherIsOnTheWire) {
  MakeWith(2);
  StartWith({"r1", "r2", "r3", "r4", "r5", "r6"});
  ob_.fail_next["AckAll"] = {ResourceExhausted("full")};
  ASSERT_TRUE(Answer("b1"));
  Settle();
  ASSERT_EQ(counters().store_fault_kind, "disk_full");
  bool done = false;
  loop_->Stop([&] { done = true; });
  Settle();
  EXPECT_FALSE(ob_.in_flight.contains("b1")) << "the waiting decision is dropped, its batch kept as it was";
  EXPECT_FALSE(done);
  ASSERT_TRUE(Answer("b2"));
  Settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(ob_.queued(), 3u);
  EXPECT_TRUE(ob_.batches.contains("b1"));
}

TEST_F(DeliveryPipelineTest, StopWhileTheFormedAheadBatchIsBeingFetched) {
  MakeWith(2);
  for (const char* id : {"r1", "r2", "r3", "r4", "r5", "r6", "r7"}) ob_.Add(id);
  loop_->Start();
  // Step: meta read, then fetch b1, send, fetch b2, send, fetch b3 (left on the disk queue).
  for (int i = 0; i < 100 && tx_.sent.size() < 2; ++i) {
    net_.poll();
    disk_.run_one();
  }
  ASSERT_EQ(tx_.sent.size(), 2u);
  net_.poll();  // b2's send posted the fetch of b3
  bool done = false;
  loop_->Stop([&] { done = true; });
  Settle();
  EXPECT_FALSE(ob_.in_flight.contains("b3"));
  EXPECT_FALSE(done);
  ASSERT_TRUE(Answer("b1"));
  ASSERT_TRUE(Answer("b2"));
  Settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(ob_.queued(), 1u);
  EXPECT_EQ(tx_.sent.size(), 2u);
}

}  // namespace
}  // namespace opescare::delivery
