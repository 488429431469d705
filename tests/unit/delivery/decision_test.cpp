// Tests for the delivery decision of every row of PROTOCOL.md's response table.
#include "agent/delivery/decision.h"

#include <gtest/gtest.h>

namespace opescare::delivery {
namespace {

bridge::Classification C(bridge::Action a) {
  bridge::Classification c;
  c.action = a;
  return c;
}

TEST(Decide, AReceiptNamingEveryRecordAcksAll) {
  auto c = C(bridge::Action::kAccepted);
  c.accepted = {"a", "b", "c"};
  Step s = Decide(c, 200, 3, "");
  EXPECT_EQ(s.kind, StepKind::kAckAll);
  EXPECT_TRUE(s.confirmed);
}

TEST(Decide, AReceiptLeavingIdsOutAcksPartiallyAndReturnsTheRest) {
  auto c = C(bridge::Action::kAccepted);
  c.accepted = {"a"};  // b and c unnamed: never assumed delivered
  c.unnamed = 2;
  c.foreign_ids = 4;
  Step s = Decide(c, 200, 3, "");
  EXPECT_EQ(s.kind, StepKind::kAckPartial);
  EXPECT_EQ(s.accepted, (std::vector<std::string>{"a"}));
  EXPECT_TRUE(s.rejected.empty());
  EXPECT_EQ(s.returned, 2u);
  EXPECT_EQ(s.foreign_ids, 4u);
  EXPECT_TRUE(s.confirmed);
}

TEST(Decide, AcceptedWithRejectionsAcksPartially) {
  auto c = C(bridge::Action::kAccepted);
  c.accepted = {"a", "b"};
  c.rejected = {{"c", "invalid_record", "dob missing"}};
  Step s = Decide(c, 200, 3, "");
  EXPECT_EQ(s.kind, StepKind::kAckPartial);
  EXPECT_EQ(s.accepted, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(s.rejected.size(), 1u);
  EXPECT_EQ(s.rejected[0].id, "c");
  EXPECT_EQ(s.rejected[0].error, "invalid_record");
  EXPECT_EQ(s.rejected[0].message, "dob missing");
}

TEST(Decide, A2xxWithoutAReceiptIsTransientAndSaysWhy) {
  auto c = C(bridge::Action::kNotReceipt);
  c.not_receipt_cause = "an HTML page: a captive portal";
  Step s = Decide(c, 200, 3, "");
  EXPECT_EQ(s.kind, StepKind::kRetryLater);
  EXPECT_EQ(s.error, "no_receipt");
  EXPECT_EQ(s.message, "the server answered 2xx without a receipt: an HTML page: a captive portal");
  EXPECT_EQ(s.no_receipt, "an HTML page: a captive portal");
  EXPECT_FALSE(s.confirmed);
}

TEST(Decide, DuplicateBatchIsSuccess) {
  Step s = Decide(C(bridge::Action::kDuplicateBatch), 409, 10, "");
  EXPECT_EQ(s.kind, StepKind::kAckAll);
  EXPECT_TRUE(s.confirmed);
}

TEST(Decide, InvalidWithoutDetailSplitsUntilSingle) {
  EXPECT_EQ(Decide(C(bridge::Action::kSplit), 422, 10, "").kind, StepKind::kSplit);
  EXPECT_EQ(Decide(C(bridge::Action::kSplit), 400, 2, "").kind, StepKind::kSplit);
  auto c = C(bridge::Action::kSplit);
  c.error = bridge::ErrorBody{"invalid_batch", "bad dob"};
  Step s = Decide(c, 422, 1, "");
  EXPECT_EQ(s.kind, StepKind::kDeadLetterSingle);
  EXPECT_EQ(s.error, "invalid_batch");
  EXPECT_EQ(s.message, "bad dob");
  EXPECT_EQ(Decide(C(bridge::Action::kSplit), 422, 1, "").error, "http_422");
}

TEST(Decide, InvalidWithDetailDeadLettersOnlyTheNamed) {
  auto c = C(bridge::Action::kSplit);
  c.rejected = {{"x", "invalid_record", "sex missing"}};
  Step s = Decide(c, 422, 50, "");
  EXPECT_EQ(s.kind, StepKind::kAckPartial);
  EXPECT_TRUE(s.accepted.empty());  // the rest go back to pending, never assumed delivered
  ASSERT_EQ(s.rejected.size(), 1u);
}

TEST(Decide, TooLargeSplitsAndLowersTheBatchSize) {
  Step s = Decide(C(bridge::Action::kTooLarge), 413, 500, "");
  EXPECT_EQ(s.kind, StepKind::kSplitTooLarge);
  EXPECT_EQ(s.lowered_max_records, 250u);
  Step single = Decide(C(bridge::Action::kTooLarge), 413, 1, "");
  EXPECT_EQ(single.kind, StepKind::kDeadLetterSingle);
  EXPECT_EQ(single.error, "too_large");
}

TEST(Decide, UnsupportedGzipResendsUncompressed) {
  EXPECT_EQ(Decide(C(bridge::Action::kUncompressed), 415, 5, "").kind, StepKind::kResendUncompressed);
}

TEST(Decide, AuthAndConfigurationErrorsPauseWithTheFix) {
  auto c = C(bridge::Action::kPauseAuth);
  c.error = bridge::ErrorBody{"bridge_token_invalid", "key revoked"};
  c.human_fix = "re-generate the agent key in the OpesCare admin panel";
  Step s = Decide(c, 401, 5, "");
  EXPECT_EQ(s.kind, StepKind::kPause);
  EXPECT_EQ(s.error, "bridge_token_invalid");
  EXPECT_NE(s.message.find("re-generate the agent key"), std::string::npos);
  EXPECT_EQ(Decide(C(bridge::Action::kPauseConfig), 404, 5, "").kind, StepKind::kPause);
}

TEST(Decide, TransientRetriesAndNamesTheTransportError) {
  Step s = Decide(C(bridge::Action::kTransient), 0, 5, "connection refused by 127.0.0.1:9");
  EXPECT_EQ(s.kind, StepKind::kRetryLater);
  EXPECT_EQ(s.error, "transport_error");
  EXPECT_EQ(s.message, "connection refused by 127.0.0.1:9");
  EXPECT_EQ(Decide(C(bridge::Action::kTransient), 503, 5, "").error, "http_503");
}

}  // namespace
}  // namespace opescare::delivery
