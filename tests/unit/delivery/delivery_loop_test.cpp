// The delivery loop as a state machine: an in-memory outbox, a hand-answered transport, a manual clock,
// both io_contexts driven by poll() on this thread. Each row of PROTOCOL.md's response table, the
// receipt rules, store faults, and a stop between any two steps.
#include "agent/delivery/delivery_loop.h"

#include "tests/unit/delivery/loop_fixture.h"

namespace opescare::delivery {
namespace {

using namespace std::chrono_literals;
using testing::DeliveryLoopTest;
using testing::FakeOutbox;
using testing::HeaderOf;

TEST_F(DeliveryLoopTest, AReceiptNamingEveryRecordAcksTheBatch) {
  Make();
  StartWith({"r1", "r2", "r3"});
  ASSERT_EQ(tx_.pending.size(), 1u);
  EXPECT_EQ(HeaderOf(tx_.pending[0].request, "Idempotency-Key"), "b1");
  EXPECT_EQ(tx_.pending[0].request.body, "body of b1");
  tx_.Respond(200, Receipt("b1", R"(,"accepted":["r1","r2","r3"])"));
  Settle();
  EXPECT_EQ(ob_.queued(), 0u);
  EXPECT_EQ(counters().records_delivered, 3);
  EXPECT_TRUE(counters().last_sync_at.has_value());
  EXPECT_TRUE(tx_.pending.empty());
}

TEST_F(DeliveryLoopTest, EveryBodyThatIsNotAReceiptLeavesTheOutboxUntouched) {
  const std::string bodies[] = {"<html>login</html>",
                                "",
                                "{\"batch_id\":\"b1\",\"acc",
                                "not json",
                                "[]",
                                R"({"batch_id":"b9","accepted":["r1","r2","r3"]})",
                                R"({"batch_id":"b1"})",
                                R"({"accepted":["r1","r2","r3"]})",
                                R"({"batch_id":"b1","accepted":"r1"})"};
  Make();
  StartWith({"r1", "r2", "r3"});
  for (const std::string& body : bodies) {
    ASSERT_EQ(tx_.pending.size(), 1u) << body;
    EXPECT_EQ(HeaderOf(tx_.pending[0].request, "Idempotency-Key"), "b1") << "same batch, same key";
    tx_.Respond(200, body);
    Settle();
    EXPECT_EQ(ob_.queued(), 3u) << body;
    EXPECT_EQ(ob_.batches.at("b1").records.size(), 3u) << body;
    EXPECT_TRUE(Called("RescheduleBatch b1")) << body;
    EXPECT_FALSE(Called("AckAll b1") || Called("AckPartial b1")) << body;
    EXPECT_EQ(counters().no_receipt.rfind("the server answered 2xx without a receipt: ", 0), 0u) << body;
    EXPECT_TRUE(tx_.pending.empty() || ob_.batches.at("b1").due <= clock_.Now()) << "backoff, not an immediate resend";
    clock_.Advance(2s);
    loop_->Wake();
    Settle();
  }
  EXPECT_EQ(counters().records_delivered, 0);
  EXPECT_EQ(ob_.batches.at("b1").attempts, static_cast<int64_t>(std::size(bodies)));
  // Said once per change of cause, not on every retry.
  EXPECT_LE(Count("delivery: the server answered 2xx without a receipt"), std::size(bodies));
  tx_.Respond(200, Receipt("b1", R"(,"accepted":["r1","r2","r3"])"));
  Settle();
  EXPECT_EQ(counters().no_receipt, "");
  EXPECT_EQ(ob_.queued(), 0u);
  EXPECT_EQ(Count("the server answers with receipts again"), 1u);
}

TEST_F(DeliveryLoopTest, TheSameNoReceiptCauseIsLoggedOnce) {
  Make();
  StartWith({"r1"});
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(tx_.pending.size(), 1u);
    tx_.Respond(200, "<html>portal</html>");
    Settle();
    clock_.Advance(2s);
    loop_->Wake();
    Settle();
  }
  EXPECT_EQ(Count("delivery: the server answered 2xx without a receipt"), 1u);
  EXPECT_NE(counters().no_receipt.find("captive portal"), std::string::npos);
}

TEST_F(DeliveryLoopTest, UnnamedRecordsGoBackToPendingAndTravelUnderANewBatchId) {
  Make();
  StartWith({"r1", "r2", "r3"});
  tx_.Respond(200, Receipt("b1", R"(,"accepted":["r1","zz"],"rejected":[{"id":"r2","error":"bad","message":"dob"}])"));
  Settle();
  EXPECT_EQ(ob_.dead.at("r2").message, "dob");
  EXPECT_EQ(counters().records_delivered, 1);
  EXPECT_EQ(counters().records_rejected, 1);
  EXPECT_EQ(Count("names 1 id(s) that are not in the batch"), 1u);
  // r3 was named in neither list: it travels again, same id, new batch_id.
  ASSERT_EQ(tx_.pending.size(), 1u);
  EXPECT_EQ(HeaderOf(tx_.pending[0].request, "Idempotency-Key"), "b2");
  ASSERT_EQ(ob_.batches.at("b2").records.size(), 1u);
  EXPECT_EQ(ob_.batches.at("b2").records[0].id, "r3");
}

TEST_F(DeliveryLoopTest, DuplicateBatchAcksAllWithoutAReceipt) {
  Make();
  StartWith({"r1", "r2"});
  tx_.Respond(409, R"({"error":"duplicate_batch","message":"seen"})");
  Settle();
  EXPECT_EQ(ob_.queued(), 0u);
  EXPECT_TRUE(Called("AckAll b1"));
}

TEST_F(DeliveryLoopTest, InvalidWithoutDetailSplitsThenDeadLettersTheSingle) {
  DeliveryOptions o;
  o.max_in_flight = 1;  // the halves one after the other (with 2, both go out at once)
  Make(o);
  StartWith({"r1", "r2"});
  tx_.Respond(422, R"({"error":"invalid_batch"})");
  Settle();
  EXPECT_FALSE(ob_.batches.contains("b1"));
  ASSERT_EQ(tx_.pending.size(), 1u);
  EXPECT_EQ(HeaderOf(tx_.pending[0].request, "Idempotency-Key"), "b2");
  tx_.Respond(400, R"({"error":"invalid_batch","message":"bad sex"})");
  Settle();
  EXPECT_EQ(ob_.dead.at("r1").error, "invalid_batch");
  ASSERT_EQ(tx_.pending.size(), 1u);
  tx_.Respond(200, Receipt("b3", R"(,"accepted":["r2"])"));
  Settle();
  EXPECT_EQ(ob_.queued(), 0u);
}

TEST_F(DeliveryLoopTest, TooLargeSplitsAndRemembersALowerBatchSize) {
  Make();
  StartWith({"r1", "r2", "r3", "r4"});
  ASSERT_EQ(ob_.batches.at("b1").records.size(), 3u);
  tx_.Respond(413, "");
  Settle();
  EXPECT_EQ(ob_.meta.at(outbox::kMetaBatchMaxRecords), "1");
  EXPECT_FALSE(ob_.batches.contains("b1"));
  // b2 ({r4}) was formed ahead while b1 was on the wire; b3 and b4 are b1's halves.
  ASSERT_EQ(ob_.batches.at("b3").records.size(), 1u);
  EXPECT_EQ(ob_.batches.at("b3").records[0].id, "r1");
  EXPECT_EQ(ob_.batches.at("b4").records.size(), 2u);
  EXPECT_EQ(ob_.batches.at("b3").attempts, 0);  // not counted as a failed attempt
  EXPECT_EQ(ob_.batches.at("b4").attempts, 0);
}

TEST_F(DeliveryLoopTest, UnsupportedGzipResendsTheSameBatchUncompressed) {
  DeliveryOptions o;
  o.compression = "auto";
  Make(o);
  StartWith({"r1"});
  EXPECT_TRUE(tx_.pending[0].request.gzip_body);
  tx_.Respond(415, "");
  Settle();
  ASSERT_EQ(tx_.pending.size(), 1u);
  EXPECT_FALSE(tx_.pending[0].request.gzip_body);
  EXPECT_EQ(HeaderOf(tx_.pending[0].request, "Idempotency-Key"), "b1");
}

TEST_F(DeliveryLoopTest, AuthAndConfigurationErrorsPauseUntilConnectivityReturns) {
  for (int status : {401, 403, 404}) {
    FakeOutbox fresh;
    Make();
    ob_.pending.clear();
    ob_.batches.clear();
    ob_.in_flight.clear();
    pause_changes_.clear();
    StartWith({"r1"});
    const std::string key = HeaderOf(tx_.pending[0].request, "Idempotency-Key");
    tx_.Respond(status, R"({"error":"bridge_token_invalid"})");
    Settle();
    EXPECT_FALSE(counters().paused_reason.empty()) << status;
    EXPECT_EQ(ob_.queued(), 1u) << "never dead-lettered";
    EXPECT_TRUE(ob_.dead.empty());
    loop_->Wake();
    Settle();
    EXPECT_TRUE(tx_.pending.empty()) << "paused means no sync request";
    loop_->ConnectivityRegained();
    Settle();
    EXPECT_TRUE(counters().paused_reason.empty());
    ASSERT_EQ(tx_.pending.size(), 1u);
    EXPECT_EQ(HeaderOf(tx_.pending[0].request, "Idempotency-Key"), key);
    tx_.Respond(200, Receipt(key, R"(,"accepted":["r1"])"));
    Settle();
    EXPECT_EQ(pause_changes_.size(), 2u);
    loop_.reset();
  }
}

TEST_F(DeliveryLoopTest, TransientFailuresRetryTheSameBatchAfterBackoff) {
  Make();
  StartWith({"r1", "r2"});
  int attempts = 0;
  for (int status : {0, 408, 425, 429, 500, 502, 503, 504, 418, 302}) {
    ASSERT_EQ(tx_.pending.size(), 1u) << status;
    EXPECT_EQ(HeaderOf(tx_.pending[0].request, "Idempotency-Key"), "b1");
    if (status == 0)
      tx_.FailTransport(http::FailureStage::kConnect);
    else
      tx_.Respond(status, "{}");
    Settle();
    ++attempts;
    EXPECT_EQ(ob_.batches.at("b1").attempts, attempts) << status;
    EXPECT_TRUE(ob_.dead.empty());
    EXPECT_TRUE(tx_.pending.empty() || ob_.batches.at("b1").due <= clock_.Now());
    clock_.Advance(2s);
    loop_->Wake();
    Settle();
  }
  EXPECT_EQ(ob_.queued(), 2u);
}

TEST_F(DeliveryLoopTest, RetryAfterSetsTheNextAttempt) {
  Make();
  StartWith({"r1"});
  const auto sent_at = clock_.Now();
  tx_.Respond(429, "{}", {{"Retry-After", "1"}});
  Settle();
  EXPECT_EQ(ob_.batches.at("b1").due, sent_at + 1s);
  loop_->Wake();
  Settle();
  EXPECT_TRUE(tx_.pending.empty()) << "not due before Retry-After";
  clock_.Advance(1s);
  loop_->Wake();
  Settle();
  EXPECT_EQ(tx_.pending.size(), 1u);
}

TEST_F(DeliveryLoopTest, AnAckTheStoreCannotRecordIsAppliedAgainNotResent) {
  Make();
  StartWith({"r1", "r2"});
  ob_.fail_next["AckAll"] = {ResourceExhausted("database or disk is full")};
  tx_.Respond(200, Receipt("b1", R"(,"accepted":["r1","r2"])"));
  Settle();
  EXPECT_EQ(counters().store_fault_kind, "disk_full");
  EXPECT_NE(counters().store_fault.find("free space"), std::string::npos);
  EXPECT_EQ(ob_.queued(), 2u);
  EXPECT_TRUE(ob_.in_flight.contains("b1")) << "kept in flight: the decision is retried, not re-sent";
  loop_->Wake();  // new records must not jump the waiting decision
  Settle();
  EXPECT_TRUE(tx_.pending.empty());
  ASSERT_TRUE(RunUntil([&] { return ob_.queued() == 0; }));
  EXPECT_EQ(counters().store_fault, "");
  EXPECT_EQ(counters().store_fault_kind, "");
  EXPECT_EQ(tx_.sent.size(), 1u);
}

TEST_F(DeliveryLoopTest, APartialAckTheStoreCannotRecordKeepsItsReceipt) {
  Make();
  StartWith({"r1", "r2", "r3"});
  ob_.fail_next["AckPartial"] = {IoError("disk I/O error"), Unavailable("database is locked")};
  tx_.Respond(200, Receipt("b1", R"(,"accepted":["r1"],"rejected":[{"id":"r2"}])"));
  Settle();
  EXPECT_EQ(counters().store_fault_kind, "io");
  ASSERT_TRUE(RunUntil([&] { return counters().store_fault_kind == "locked"; }));
  ASSERT_TRUE(RunUntil([&] { return ob_.dead.contains("r2"); }));
  EXPECT_EQ(ob_.pending.size(), 0u);  // r3 returned then formed into b2 and sent
  ASSERT_EQ(tx_.sent.size(), 2u);
  EXPECT_EQ(HeaderOf(tx_.sent[1], "Idempotency-Key"), "b2");
  EXPECT_EQ(counters().store_fault, "");
}

TEST_F(DeliveryLoopTest, AnOutboxThatCannotBeReadIsReportedAndNothingIsSent) {
  Make();
  ob_.fail_next["NextDueBatch"] = {DataLoss("database disk image is malformed")};
  StartWith({"r1"});
  EXPECT_EQ(counters().store_fault_kind, "corrupt");
  EXPECT_NE(counters().store_fault.find("doctor"), std::string::npos);
  EXPECT_TRUE(tx_.pending.empty());
  loop_->Wake();
  Settle();
  EXPECT_EQ(tx_.pending.size(), 1u);
  EXPECT_EQ(counters().store_fault_kind, "");
}

// ---- a stop between any two steps --------------------------------------------------------------------

TEST_F(DeliveryLoopTest, StopWhileFetchingSendsNothingAndReleasesTheBatch) {
  Make();
  for (const char* id : {"r1"}) ob_.Add(id);
  loop_->Start();
  net_.poll();  // Start's meta read posted to disk
  disk_.poll();
  net_.poll();  // Kick -> Fetch posted to disk
  bool done = false;
  loop_->Stop([&] { done = true; });
  EXPECT_FALSE(done) << "the fetch is under way";
  Settle();
  EXPECT_TRUE(done);
  EXPECT_TRUE(tx_.sent.empty());
  EXPECT_TRUE(ob_.in_flight.empty());
  EXPECT_EQ(ob_.queued(), 1u);
}

TEST_F(DeliveryLoopTest, StopWhileSendingWaitsForTheAnswerAndRecordsIt) {
  Make();
  StartWith({"r1"});
  bool done = false;
  loop_->Stop([&] { done = true; });
  Settle();
  EXPECT_FALSE(done);
  tx_.Respond(200, Receipt("b1", R"(,"accepted":["r1"])"));
  Settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(ob_.queued(), 0u);
  EXPECT_EQ(tx_.sent.size(), 1u);
}

TEST_F(DeliveryLoopTest, StopWhileSendingPastTheGraceAbandonsTheRequestAndKeepsTheBatch) {
  DeliveryOptions o;
  o.stop_grace = 1ms;
  Make(o);
  StartWith({"r1"});
  bool done = false;
  loop_->Stop([&] { done = true; });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_EQ(tx_.closes, 1);
  EXPECT_EQ(ob_.queued(), 1u);
  EXPECT_TRUE(ob_.in_flight.empty());
}

TEST_F(DeliveryLoopTest, StopWhileApplyingFinishesTheApplyFirst) {
  Make();
  StartWith({"r1"});
  tx_.Respond(200, Receipt("b1", R"(,"accepted":["r1"])"));  // Apply is posted to disk, not run yet
  bool done = false;
  loop_->Stop([&] { done = true; });
  EXPECT_FALSE(done);
  Settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(ob_.queued(), 0u);
}

TEST_F(DeliveryLoopTest, StopWhileAStoreFaultWaitsReleasesTheBatchUnchanged) {
  Make();
  StartWith({"r1"});
  ob_.fail_next["AckAll"] = {ResourceExhausted("full")};
  tx_.Respond(200, Receipt("b1", R"(,"accepted":["r1"])"));
  Settle();
  ASSERT_EQ(counters().store_fault_kind, "disk_full");
  bool done = false;
  loop_->Stop([&] { done = true; });
  Settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(ob_.queued(), 1u);
  EXPECT_TRUE(ob_.in_flight.empty());
}

TEST_F(DeliveryLoopTest, NothingHappensAfterStop) {
  Make();
  StartWith({});
  bool done = false;
  loop_->Stop([&] { done = true; });
  Settle();
  EXPECT_TRUE(done);
  ob_.Add("r1");
  loop_->Wake();
  loop_->ConnectivityRegained();
  Settle();
  EXPECT_TRUE(tx_.sent.empty());
}

}  // namespace
}  // namespace opescare::delivery
