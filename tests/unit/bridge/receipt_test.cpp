// ParseReceipt: every rule of PROTOCOL.md "The receipt", and every 2xx body that is not a receipt.
#include "agent/bridge/receipt.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace opescare::bridge {
namespace {

const std::vector<std::string> kIds = {"r_a", "r_b", "r_c"};
constexpr char kBatch[] = "0193c7a2-6a1e-7cc4-9d1e-4f3b2a1c0d9e";

ReceiptCheck Parse(const std::string& body) { return ParseReceipt(body, kBatch, kIds); }

std::string WithBatch(const std::string& rest) { return std::string(R"({"batch_id":")") + kBatch + "\"" + rest + "}"; }

TEST(ParseReceipt, AcceptsEveryNamedRecord) {
  ReceiptCheck c = Parse(WithBatch(R"(,"accepted":["r_a","r_b","r_c"])"));
  ASSERT_TRUE(c.ok()) << c.cause;
  EXPECT_EQ(c.receipt->accepted, kIds);
  EXPECT_TRUE(c.receipt->rejected.empty());
  EXPECT_EQ(c.receipt->unnamed, 0u);
  EXPECT_EQ(c.receipt->foreign_ids, 0u);
}

TEST(ParseReceipt, EitherListMayBeEmptyOrAbsentButNotBoth) {
  ReceiptCheck only_rejected =
      Parse(WithBatch(R"(,"rejected":[{"id":"r_b","error":"validation_failed","message":"missing dob"}])"));
  ASSERT_TRUE(only_rejected.ok()) << only_rejected.cause;
  ASSERT_EQ(only_rejected.receipt->rejected.size(), 1u);
  EXPECT_EQ(only_rejected.receipt->rejected[0].error, "validation_failed");
  EXPECT_EQ(only_rejected.receipt->rejected[0].message, "missing dob");
  EXPECT_EQ(only_rejected.receipt->unnamed, 2u);

  ReceiptCheck empty_lists = Parse(WithBatch(R"(,"accepted":[],"rejected":[])"));
  ASSERT_TRUE(empty_lists.ok());
  EXPECT_EQ(empty_lists.receipt->unnamed, 3u);  // names nothing: everything goes back to pending

  ReceiptCheck neither = Parse(WithBatch(""));
  EXPECT_FALSE(neither.ok());
  EXPECT_EQ(neither.reason, NotReceiptReason::kNoLists);
  EXPECT_EQ(Parse(WithBatch(R"(,"accepted":null,"rejected":null)")).reason, NotReceiptReason::kNoLists);
}

TEST(ParseReceipt, IdsNotInTheBatchAreIgnoredAndCounted) {
  ReceiptCheck c = Parse(WithBatch(R"(,"accepted":["r_a","r_zz","r_yy"],"rejected":[{"id":"r_other"}])"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.receipt->accepted, (std::vector<std::string>{"r_a"}));
  EXPECT_TRUE(c.receipt->rejected.empty());
  EXPECT_EQ(c.receipt->foreign_ids, 3u);
  EXPECT_EQ(c.receipt->unnamed, 2u);
}

TEST(ParseReceipt, AnIdInBothListsCountsAsRejected) {
  ReceiptCheck c = Parse(WithBatch(R"(,"accepted":["r_a","r_b"],"rejected":[{"id":"r_a","error":"dup"}])"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.receipt->accepted, (std::vector<std::string>{"r_b"}));
  ASSERT_EQ(c.receipt->rejected.size(), 1u);
  EXPECT_EQ(c.receipt->rejected[0].id, "r_a");
  EXPECT_EQ(c.receipt->rejected[0].error, "dup");
  EXPECT_EQ(c.receipt->unnamed, 1u);
}

TEST(ParseReceipt, RepeatedIdsCountOnce) {
  ReceiptCheck c =
      Parse(WithBatch(R"(,"accepted":["r_a","r_a"],"rejected":[{"id":"r_b","error":"e1"},{"id":"r_b","error":"e2"}])"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.receipt->accepted.size(), 1u);
  ASSERT_EQ(c.receipt->rejected.size(), 1u);
  EXPECT_EQ(c.receipt->rejected[0].error, "e1");
  EXPECT_EQ(c.receipt->unnamed, 1u);
}

TEST(ParseReceipt, ARejectionWithoutACodeGetsOne) {
  ReceiptCheck c = Parse(WithBatch(R"(,"rejected":[{"id":"r_c"}])"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.receipt->rejected[0].error, "rejected");
}

TEST(ParseReceipt, ContentTypeDoesNotMatterButLeadingWhitespaceAndBomAreFine) {
  EXPECT_TRUE(Parse("\xEF\xBB\xBF \r\n" + WithBatch(R"(,"accepted":["r_a"])")).ok());
}

struct NotReceiptCase {
  const char* body;
  NotReceiptReason reason;
  const char* cause_part;
};

TEST(ParseReceipt, BodiesThatAreNotReceiptsSayTheLikelyCause) {
  const std::string other = R"({"batch_id":"00000000-0000-4000-8000-000000000000","accepted":["r_a","r_b","r_c"]})";
  const NotReceiptCase cases[] = {
      {"<!DOCTYPE html><html><body>Sign in to the Wi-Fi</body></html>", NotReceiptReason::kHtmlPage,
       "captive portal or a proxy's login page"},
      {"  <html>", NotReceiptReason::kHtmlPage, "captive portal"},
      {"", NotReceiptReason::kEmptyBody, "cut short"},
      {" \r\n ", NotReceiptReason::kEmptyBody, "cut short"},
      {R"({"batch_id":"0193c7a2-6a1e-7cc4-9d1e-4f3b2a1c0d9e","accep)", NotReceiptReason::kTruncatedJson, "cut short"},
      {"OK", NotReceiptReason::kInvalidJson, "not JSON"},
      {"{\"a\":1} trailing", NotReceiptReason::kInvalidJson, "not JSON"},
      {"[\"r_a\"]", NotReceiptReason::kNotAnObject, "an array"},
      {"\"ok\"", NotReceiptReason::kNotAnObject, "a string"},
      {"null", NotReceiptReason::kNotAnObject, "null"},
      {R"({"status":"ok"})", NotReceiptReason::kBatchIdMissing, "without a batch_id"},
      {R"({"batch_id":7,"accepted":["r_a"]})", NotReceiptReason::kBatchIdMissing, "without a batch_id"},
      {other.c_str(), NotReceiptReason::kBatchIdMismatch, "another batch: a caching proxy"},
  };
  for (const auto& tc : cases) {
    ReceiptCheck c = Parse(tc.body);
    EXPECT_FALSE(c.ok()) << tc.body;
    EXPECT_EQ(c.reason, tc.reason) << tc.body << " -> " << NotReceiptReasonName(c.reason);
    EXPECT_NE(c.cause.find(tc.cause_part), std::string::npos) << c.cause;
  }
}

TEST(ParseReceipt, WrongTypesRefuseTheWholeBody) {
  const char* rests[] = {
      R"(,"accepted":"r_a")",
      R"(,"accepted":{"r_a":true})",
      R"(,"accepted":["r_a",7])",
      R"(,"accepted":["r_a",""])",
      R"(,"rejected":{"id":"r_a"})",
      R"(,"rejected":["r_a"])",
      R"(,"rejected":[{"error":"no id"}])",
      R"(,"rejected":[{"id":5}])",
      R"(,"accepted":["r_a"],"rejected":[{"id":"r_b","error":3}])",
      R"(,"accepted":["r_a"],"rejected":[{"id":"r_b","message":["x"]}])",
  };
  for (const char* rest : rests) {
    ReceiptCheck c = Parse(WithBatch(rest));
    EXPECT_FALSE(c.ok()) << rest;
    EXPECT_EQ(c.reason, NotReceiptReason::kWrongTypes) << rest;
  }
}

TEST(ParseReceipt, DeepOrHugeGarbageIsSafe) {
  EXPECT_FALSE(Parse(std::string(100000, '[')).ok());
  EXPECT_FALSE(Parse(std::string("\0\xff\xfe{}", 5)).ok());
}

TEST(NotReceiptReasonName, NamesEveryReason) {
  EXPECT_STREQ(NotReceiptReasonName(NotReceiptReason::kHtmlPage), "html_page");
  EXPECT_STREQ(NotReceiptReasonName(NotReceiptReason::kBatchIdMismatch), "batch_id_mismatch");
  EXPECT_STREQ(NotReceiptReasonName(NotReceiptReason::kWrongTypes), "wrong_types");
}

}  // namespace
}  // namespace opescare::bridge
