// ClassifySyncResponse against every row of PROTOCOL.md's response table, and hostile bodies.
#include "agent/bridge/protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace opescare::bridge {
namespace {

const std::vector<std::string> kIds = {"r1", "r2", "r3", "r4", "r9", "x"};

// The batch "b1" holding kIds.
Classification Classify(int status, const std::string& body, bool gzip_sent, int64_t clock_offset = 0) {
  return ClassifySyncResponse(status, body, gzip_sent, "b1", kIds, clock_offset);
}

TEST(ClassifySyncResponse, SuccessStatusesWithoutAReceiptAcceptNothing) {
  for (int status : {200, 201, 202}) {
    Classification c = Classify(status, "", false);
    EXPECT_EQ(c.action, Action::kNotReceipt) << status;
    EXPECT_EQ(c.not_receipt, NotReceiptReason::kEmptyBody);
    EXPECT_TRUE(c.accepted.empty());
    EXPECT_TRUE(c.rejected.empty());
  }
}

TEST(ClassifySyncResponse, OtherSuccessStatusesAreNotReceipts) {
  Classification c = Classify(204, R"({"batch_id":"b1","accepted":["r1"]})", false);
  EXPECT_EQ(c.action, Action::kNotReceipt);
  EXPECT_EQ(c.not_receipt, NotReceiptReason::kUnexpectedStatus);
  EXPECT_NE(c.not_receipt_cause.find("HTTP 204"), std::string::npos);
}

TEST(ClassifySyncResponse, AReceiptListsAcceptedRejectedAndUnnamed) {
  Classification c = Classify(
      200,
      R"({"batch_id":"b1","accepted":["r1","r2","zz"],"rejected":[{"id":"r3","error":"missing_field","message":"dob is required"},)"
      R"({"id":"r4"}]})",
      false);
  ASSERT_EQ(c.action, Action::kAccepted);
  EXPECT_EQ(c.accepted, (std::vector<std::string>{"r1", "r2"}));
  ASSERT_EQ(c.rejected.size(), 2u);
  EXPECT_EQ(c.rejected[0].id, "r3");
  EXPECT_EQ(c.rejected[0].error, "missing_field");
  EXPECT_EQ(c.rejected[0].message, "dob is required");
  EXPECT_EQ(c.rejected[1].id, "r4");
  EXPECT_EQ(c.rejected[1].error, "rejected");  // a refusal without a code still has one
  EXPECT_EQ(c.foreign_ids, 1u);
  EXPECT_EQ(c.unnamed, 2u);  // r9, x
}

TEST(ClassifySyncResponse, DuplicateBatchIsSuccess) {
  Classification c = Classify(409, R"({"error":"duplicate_batch","message":"seen","status":409})", false);
  EXPECT_EQ(c.action, Action::kDuplicateBatch);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->message, "seen");
}

TEST(ClassifySyncResponse, OtherConflictIsTransient) {
  EXPECT_EQ(Classify(409, R"({"error":"locked"})", false).action, Action::kTransient);
  EXPECT_EQ(Classify(409, "", false).action, Action::kTransient);
}

TEST(ClassifySyncResponse, InvalidBatchWithoutDetailSplits) {
  for (int status : {400, 422}) {
    Classification c = Classify(status, R"({"error":"invalid_batch","message":"bad"})", false);
    EXPECT_EQ(c.action, Action::kSplit) << status;
    EXPECT_TRUE(c.rejected.empty());
    ASSERT_TRUE(c.error.has_value());
    EXPECT_EQ(c.error->error, "invalid_batch");
  }
  EXPECT_EQ(Classify(400, "<html>Bad Request</html>", false).action, Action::kSplit);
}

TEST(ClassifySyncResponse, InvalidBatchWithDetailNamesTheRecords) {
  Classification c = Classify(
      422, R"({"error":"validation_failed","rejected":[{"id":"r9","error":"bad_date","message":"dob"}]})", false);
  EXPECT_EQ(c.action, Action::kSplit);
  ASSERT_EQ(c.rejected.size(), 1u);
  EXPECT_EQ(c.rejected[0].id, "r9");
  EXPECT_EQ(c.rejected[0].error, "bad_date");
}

TEST(ClassifySyncResponse, TooLarge) { EXPECT_EQ(Classify(413, "", true).action, Action::kTooLarge); }

TEST(ClassifySyncResponse, UnsupportedMediaTypeMeansUncompressedOnlyWhenGzipWasSent) {
  EXPECT_EQ(Classify(415, "", true).action, Action::kUncompressed);
  EXPECT_EQ(Classify(415, "", false).action, Action::kTransient);
}

TEST(ClassifySyncResponse, AuthFailuresPauseWithTheFix) {
  Classification c = Classify(
      401, R"({"error":"bridge_token_invalid","message":"Agent key is invalid or revoked","status":401})", false);
  EXPECT_EQ(c.action, Action::kPauseAuth);
  EXPECT_EQ(c.human_fix, "re-generate the agent key in the OpesCare admin panel");
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->error, "bridge_token_invalid");

  Classification forbidden = Classify(403, "", false);
  EXPECT_EQ(forbidden.action, Action::kPauseAuth);
  EXPECT_NE(forbidden.human_fix.find("re-generate the agent key"), std::string::npos);

  Classification plain401 = Classify(401, "not json", false);
  EXPECT_EQ(plain401.action, Action::kPauseAuth);
  EXPECT_NE(plain401.human_fix.find("check agent_id"), std::string::npos);
}

TEST(ClassifySyncResponse, AuthFailureWithLargeClockOffsetBlamesTheClock) {
  Classification c = Classify(401, R"({"error":"bridge_token_invalid"})", false, -3600);
  EXPECT_NE(c.human_fix.find("3600 s ahead of the server"), std::string::npos) << c.human_fix;
  EXPECT_NE(c.human_fix.find("likely cause"), std::string::npos);
  Classification small = Classify(401, R"({"error":"bridge_token_invalid"})", false, 59);
  EXPECT_EQ(small.human_fix.find("clock"), std::string::npos);
  Classification behind = Classify(401, "", false, 61);
  EXPECT_NE(behind.human_fix.find("61 s behind"), std::string::npos);
}

TEST(ClassifySyncResponse, NotFoundPausesAsConfiguration) {
  Classification facility =
      Classify(404, R"({"error":"facility_not_found","message":"no such facility"})", false);
  EXPECT_EQ(facility.action, Action::kPauseConfig);
  EXPECT_NE(facility.human_fix.find("facility_id"), std::string::npos);
  Classification path = Classify(404, "<html>404</html>", false);
  EXPECT_EQ(path.action, Action::kPauseConfig);
  EXPECT_NE(path.human_fix.find("server_url"), std::string::npos);
}

TEST(ClassifySyncResponse, TransientStatuses) {
  for (int status : {0, 408, 425, 429, 500, 502, 503, 504}) {
    Classification c = Classify(status, "", true);
    EXPECT_EQ(c.action, Action::kTransient) << status;
    EXPECT_TRUE(c.human_fix.empty());
  }
}

TEST(ClassifySyncResponse, UnknownStatusesAreTransientNeverDeadLetters) {
  for (int status : {100, 301, 302, 402, 405, 410, 418, 451, 499, 505, 599, 600, 999, -1}) {
    Classification c = Classify(status, R"({"rejected":[{"id":"x"}]})", false);
    EXPECT_EQ(c.action, Action::kTransient) << status;
    EXPECT_TRUE(c.rejected.empty()) << status;
  }
}

TEST(ClassifySyncResponse, GarbageBodiesDoNotCrash) {
  const std::string bodies[] = {
      "",
      "null",
      "[]",
      "\"str\"",
      "{",
      "{\"accepted\":",
      "{\"accepted\":{}}",
      "{\"rejected\":{\"id\":\"x\"}}",
      "{\"rejected\":[[[[[]]]]]}",
      std::string(100000, '['),
      std::string("\0\xff\xfe{}", 5),
      "{\"accepted\":[\"a\"]} trailing",
      "{\"error\":5,\"message\":[]}",
  };
  for (const auto& body : bodies) {
    for (int status : {200, 400, 401, 404, 409, 422, 500}) {
      Classification c = Classify(status, body, true);
      if (status == 200) {
        EXPECT_EQ(c.action, Action::kNotReceipt) << body.substr(0, 40);
        EXPECT_TRUE(c.accepted.empty());
        EXPECT_TRUE(c.rejected.empty());
      }
      if (status == 409) {
        EXPECT_EQ(c.action, Action::kTransient);
      }
      EXPECT_FALSE(c.error.has_value()) << body.substr(0, 40);
    }
  }
}

TEST(ActionName, NamesEveryAction) {
  EXPECT_STREQ(ActionName(Action::kAccepted), "accepted");
  EXPECT_STREQ(ActionName(Action::kPauseAuth), "pause_auth");
  EXPECT_STREQ(ActionName(Action::kTransient), "transient");
}

TEST(ParseErrorBody, ReadsTheDocumentedShape) {
  auto e = ParseErrorBody(R"({"error":"bridge_token_invalid","message":"Agent key revoked","status":401})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->error, "bridge_token_invalid");
  EXPECT_EQ(e->message, "Agent key revoked");
  EXPECT_FALSE(ParseErrorBody("{}").has_value());
  EXPECT_FALSE(ParseErrorBody("garbage").has_value());
  EXPECT_TRUE(ParseErrorBody(R"({"message":"only a message"})").has_value());
}

}  // namespace
}  // namespace opescare::bridge
