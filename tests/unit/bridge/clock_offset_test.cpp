// Server clock offset: samples from Date headers and their smoothing.
#include "agent/bridge/clock_offset.h"

#include <gtest/gtest.h>

#include "agent/bridge/http_date.h"
#include "agent/http/client.h"

namespace opescare::bridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Time = std::chrono::system_clock::time_point;
const Time kT0 = Time(seconds(1764445200));

TEST(OffsetSample, SameClockGivesZero) {
  // Sent at .2, received at .6: midpoint .4; the server stamped the same second.
  EXPECT_EQ(OffsetSample(FormatHttpDate(kT0), kT0 + milliseconds(200), kT0 + milliseconds(600)), 0);
  // Midpoint at .9: the truncated Date is still the same second.
  EXPECT_EQ(OffsetSample(FormatHttpDate(kT0), kT0 + milliseconds(800), kT0 + milliseconds(1000)), 0);
}

TEST(OffsetSample, ServerAheadOrBehind) {
  EXPECT_EQ(OffsetSample(FormatHttpDate(kT0 + seconds(3600)), kT0, kT0 + milliseconds(100)), 3600);
  EXPECT_EQ(OffsetSample(FormatHttpDate(kT0 - seconds(45)), kT0, kT0 + milliseconds(100)), -45);
}

TEST(OffsetSample, UsesTheMidpointOfASlowRequest) {
  // 10 s round trip; the server answered in the middle (5.3 s), its clock equal to the local one.
  EXPECT_EQ(OffsetSample(FormatHttpDate(kT0 + seconds(5)), kT0 + milliseconds(300), kT0 + milliseconds(10300)), 0);
  // Had the end of the request been used instead, the server would look 5 s behind.
  EXPECT_EQ(OffsetSample(FormatHttpDate(kT0 + seconds(5)), kT0 + milliseconds(10300), kT0 + milliseconds(10300)), -5);
}

TEST(OffsetSample, MissingSendTimeUsesReceiveTime) {
  EXPECT_EQ(OffsetSample(FormatHttpDate(kT0 + seconds(10)), Time{}, kT0 + milliseconds(400)), 10);
}

TEST(OffsetSample, BadDateGivesNothing) { EXPECT_FALSE(OffsetSample("yesterday", kT0, kT0).has_value()); }

TEST(ClockOffsetTracker, FirstSampleIsTakenAsIs) {
  ClockOffsetTracker t;
  EXPECT_FALSE(t.has_sample());
  EXPECT_EQ(t.offset_seconds(), 0);
  t.AddSample(-3600);
  EXPECT_TRUE(t.has_sample());
  EXPECT_EQ(t.offset_seconds(), -3600);
}

TEST(ClockOffsetTracker, OneOutlierDoesNotMoveTheEstimate) {
  ClockOffsetTracker t;
  for (int64_t s : {10, 11, 10, 10}) t.AddSample(s);
  EXPECT_EQ(t.offset_seconds(), 10);
  t.AddSample(40);  // a response held up in a queue
  EXPECT_EQ(t.offset_seconds(), 10);
}

TEST(ClockOffsetTracker, AStepIsFollowedAfterTwoAgreeingSamples) {
  ClockOffsetTracker t;
  for (int i = 0; i < 5; ++i) t.AddSample(3600);
  t.AddSample(0);  // someone set the clock right
  EXPECT_EQ(t.offset_seconds(), 3600);
  t.AddSample(1);
  EXPECT_EQ(t.offset_seconds(), 1);
  t.AddSample(0);
  t.AddSample(0);
  EXPECT_EQ(t.offset_seconds(), 0);
}

TEST(ClockOffsetTracker, TakesSamplesFromResponses) {
  ClockOffsetTracker t;
  http::Outcome no_response;
  no_response.stage = http::FailureStage::kConnect;
  EXPECT_FALSE(t.AddResponse(no_response));
  http::Outcome o;
  o.response = http::Response{};
  EXPECT_FALSE(t.AddResponse(o));  // no Date
  o.response->headers = {{"Date", FormatHttpDate(kT0 + seconds(120))}};
  o.sent_at = kT0;
  o.received_at = kT0 + milliseconds(50);
  EXPECT_TRUE(t.AddResponse(o));
  EXPECT_EQ(t.offset_seconds(), 120);
}

TEST(ClockSkew, Thresholds) {
  EXPECT_FALSE(ClockSkewWorthWarning(30));
  EXPECT_FALSE(ClockSkewWorthWarning(-30));
  EXPECT_TRUE(ClockSkewWorthWarning(31));
  EXPECT_TRUE(ClockSkewWorthWarning(-31));
  EXPECT_FALSE(ClockLikelyCausesAuthFailure(60));
  EXPECT_TRUE(ClockLikelyCausesAuthFailure(-61));
}

}  // namespace
}  // namespace opescare::bridge
