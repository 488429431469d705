// Tests for the snapshot's History ring, the duration histogram and the enum names.
#include "agent/status/snapshot.h"

#include <gtest/gtest.h>

namespace opescare::status {
namespace {

using std::chrono::minutes;

TimePoint At(int minute) { return TimePoint(minutes(minute)); }

TEST(History, KeepsTheNewestPointsOldestFirst) {
  History h(3);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_TRUE(h.Points().empty());
  for (int i = 1; i <= 5; ++i) h.Add({At(i), static_cast<uint64_t>(i), static_cast<uint64_t>(10 * i)});
  std::vector<HistoryPoint> points = h.Points();
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].time, At(3));
  EXPECT_EQ(points[1].delivered, 4u);
  EXPECT_EQ(points[2].queued, 50u);
  EXPECT_EQ(h.capacity(), 3u);
}

TEST(History, DefaultIsOneDayOfFiveMinutePoints) {
  History h;
  EXPECT_EQ(h.capacity(), 288u);
  EXPECT_EQ(History::kDefaultInterval * h.capacity(), std::chrono::hours(24));
}

TEST(History, SampleStoresTheIncreaseOfTheDeliveredTotal) {
  History h;
  h.Sample(At(0), 100, 5);  // baseline
  h.Sample(At(5), 130, 7);
  h.Sample(At(10), 130, 0);
  h.Sample(At(15), 20, 1);  // the counter restarted: counts from 0
  std::vector<HistoryPoint> p = h.Points();
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].delivered, 0u);
  EXPECT_EQ(p[1].delivered, 30u);
  EXPECT_EQ(p[1].queued, 7u);
  EXPECT_EQ(p[2].delivered, 0u);
  EXPECT_EQ(p[3].delivered, 20u);
}

TEST(History, ZeroCapacityStillHoldsOnePoint) {
  History h(0);
  h.Add({At(1), 1, 1});
  h.Add({At(2), 2, 2});
  ASSERT_EQ(h.Points().size(), 1u);
  EXPECT_EQ(h.Points()[0].delivered, 2u);
}

TEST(DurationHistogram, CountsCumulativelyLikePrometheus) {
  DurationHistogram h;
  h.Observe(0.01);  // on a bound: counts in that bucket (le means <=)
  h.Observe(0.3);
  h.Observe(7);
  h.Observe(500);  // above every bound: only in +Inf (count)
  h.Observe(-1);   // a clock step: counted as 0
  EXPECT_EQ(h.count(), 5u);
  EXPECT_DOUBLE_EQ(h.sum(), 0.01 + 0.3 + 7 + 500);
  EXPECT_EQ(h.CumulativeCount(0), 2u);  // 0.01 and the clamped 0
  EXPECT_EQ(h.CumulativeCount(5), 3u);  // le 0.5
  EXPECT_EQ(h.CumulativeCount(9), 4u);  // le 10
  EXPECT_EQ(h.CumulativeCount(DurationHistogram::kBounds.size() - 1), 4u);
  for (std::size_t i = 1; i < DurationHistogram::kBounds.size(); ++i) {
    EXPECT_LT(DurationHistogram::kBounds[i - 1], DurationHistogram::kBounds[i]);
    EXPECT_LE(h.CumulativeCount(i - 1), h.CumulativeCount(i));
  }
}

TEST(Names, AreTheDocumentedWords) {
  EXPECT_STREQ(ConnectionStateName(ConnectionState::kConnected), "connected");
  EXPECT_STREQ(ConnectionStateName(ConnectionState::kUnauthorized), "unauthorized");
  EXPECT_STREQ(ConnectionStateName(ConnectionState::kConfigError), "config_error");
  EXPECT_STREQ(ConnectionStateName(ConnectionState::kUnreachable), "unreachable");
  EXPECT_STREQ(ConnectionStateName(ConnectionState::kTlsError), "tls_error");
  EXPECT_STREQ(ConnectionStateName(ConnectionState::kUnknown), "unknown");
  EXPECT_STREQ(HeartbeatOutcomeName(HeartbeatOutcome::kOk), "ok");
  EXPECT_STREQ(FileOutcomeName(FileOutcome::kDuplicate), "duplicate");
  HeartbeatCounts counts;
  ++counts.For(HeartbeatOutcome::kTlsError);
  EXPECT_EQ(counts.tls_error, 1u);
  EXPECT_EQ(static_cast<const HeartbeatCounts&>(counts).For(HeartbeatOutcome::kTlsError), 1u);
}

}  // namespace
}  // namespace opescare::status
