// Tests for settle detection and arrival order, driven by a ManualClock.
#include "agent/connectors/csv_folder/settle.h"

#include <gtest/gtest.h>

#include "agent/util/clock.h"

namespace opescare::csv_folder {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Names = std::vector<std::string>;

TEST(Settle, ReadyOnlyAfterTheSettlePeriodWithoutChange) {
  ManualClock clock;
  SettleTracker t(seconds(2));
  t.Observe("a.csv", {100, 1}, clock.Steady());
  EXPECT_TRUE(t.Ready().empty());
  EXPECT_EQ(t.NextDeadline(), clock.Steady() + seconds(2));
  clock.Advance(milliseconds(1999));
  t.Observe("a.csv", {100, 1}, clock.Steady());
  EXPECT_TRUE(t.Ready().empty());
  clock.Advance(milliseconds(1));
  t.Observe("a.csv", {100, 1}, clock.Steady());
  EXPECT_EQ(t.Ready(), Names{"a.csv"});
  EXPECT_FALSE(t.NextDeadline().has_value());
}

TEST(Settle, TimePassingWithoutAnObservationIsNotEnough) {
  ManualClock clock;
  SettleTracker t(seconds(2));
  t.Observe("a.csv", {100, 1}, clock.Steady());
  clock.Advance(seconds(10));
  EXPECT_TRUE(t.Ready().empty());  // nobody looked again: it may still be growing
}

TEST(Settle, GrowingFileRestartsTheWait) {
  ManualClock clock;
  SettleTracker t(seconds(2));
  uint64_t size = 0;
  for (int i = 0; i < 10; ++i) {  // appended to every second for 10 s
    t.Observe("a.csv", {size += 1000, i}, clock.Steady());
    EXPECT_TRUE(t.Ready().empty()) << i;
    clock.Advance(seconds(1));
  }
  t.Observe("a.csv", {size, 9}, clock.Steady());
  EXPECT_TRUE(t.Ready().empty());
  clock.Advance(seconds(1));
  t.Observe("a.csv", {size, 9}, clock.Steady());
  EXPECT_EQ(t.Ready(), Names{"a.csv"});
}

TEST(Settle, MtimeChangeAloneRestartsTheWait) {
  ManualClock clock;
  SettleTracker t(seconds(1));
  t.Observe("a.csv", {5, 1}, clock.Steady());
  clock.Advance(seconds(1));
  t.Observe("a.csv", {5, 2}, clock.Steady());  // rewritten in place, same size
  EXPECT_TRUE(t.Ready().empty());
}

TEST(Settle, ZeroSettleIsReadyAtOnce) {
  ManualClock clock;
  SettleTracker t(seconds(0));
  t.Observe("a.csv", {5, 1}, clock.Steady());
  EXPECT_EQ(t.Ready(), Names{"a.csv"});
}

TEST(Settle, ArrivalOrderIsMtimeThenName) {
  ManualClock clock;
  SettleTracker t(seconds(0));
  t.Observe("c.csv", {1, 300}, clock.Steady());
  t.Observe("b.csv", {1, 100}, clock.Steady());
  t.Observe("a.csv", {1, 200}, clock.Steady());
  t.Observe("aa.csv", {1, 100}, clock.Steady());
  EXPECT_EQ(t.Ready(), (Names{"aa.csv", "b.csv", "a.csv", "c.csv"}));
  t.Forget("b.csv");
  EXPECT_EQ(t.Ready(), (Names{"aa.csv", "a.csv", "c.csv"}));
  EXPECT_FALSE(t.Contains("b.csv"));
  EXPECT_EQ(t.size(), 3u);
}

TEST(Settle, NextDeadlineIsTheEarliestUnsettledFile) {
  ManualClock clock;
  SettleTracker t(seconds(5));
  auto start = clock.Steady();
  t.Observe("a.csv", {1, 1}, start);
  clock.Advance(seconds(2));
  t.Observe("b.csv", {1, 1}, clock.Steady());
  EXPECT_EQ(t.NextDeadline(), start + seconds(5));
  clock.Advance(seconds(3));
  t.Observe("a.csv", {1, 1}, clock.Steady());
  EXPECT_EQ(t.NextDeadline(), start + seconds(7));
}

}  // namespace
}  // namespace opescare::csv_folder
