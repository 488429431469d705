// Tests for WatchdogGate: the systemd watchdog is fed only while both threads report in time.
#include "agent/service/watchdog_gate.h"

#include <gtest/gtest.h>

namespace opescare::service {
namespace {

using std::chrono::seconds;
using TimePoint = WatchdogGate::TimePoint;

const TimePoint kStart = TimePoint{} + std::chrono::hours(1);

TEST(WatchdogGateTest, NoPingUntilBothThreadsReported) {
  WatchdogGate gate(seconds(30));
  EXPECT_FALSE(gate.ShouldPing(kStart));
  EXPECT_EQ(gate.StallReason(kStart), "event loop has not reported yet, disk worker has not reported yet");
  gate.EventLoopAlive(kStart);
  EXPECT_FALSE(gate.ShouldPing(kStart));
  EXPECT_EQ(gate.StallReason(kStart), "disk worker has not reported yet");
  gate.DiskWorkerAlive(kStart);
  EXPECT_TRUE(gate.ShouldPing(kStart));
  EXPECT_EQ(gate.StallReason(kStart), "");
}

TEST(WatchdogGateTest, PingsWhileBothReportAtEachTick) {
  WatchdogGate gate(seconds(30));
  // The run loop ticks at half the watchdog timeout and both threads answer every tick.
  for (int tick = 0; tick < 100; ++tick) {
    const TimePoint now = kStart + seconds(15) * tick;
    gate.EventLoopAlive(now);
    gate.DiskWorkerAlive(now + std::chrono::milliseconds(3));  // the worker's answer comes back later
    EXPECT_TRUE(gate.ShouldPing(now + std::chrono::milliseconds(5))) << "tick " << tick;
  }
}

TEST(WatchdogGateTest, StalledDiskWorkerWithholdsThePing) {
  WatchdogGate gate(seconds(30));
  gate.EventLoopAlive(kStart);
  gate.DiskWorkerAlive(kStart);
  // The worker blocks in a disk call; the event loop keeps ticking.
  for (int tick = 1; tick <= 4; ++tick) gate.EventLoopAlive(kStart + seconds(15) * tick);
  EXPECT_TRUE(gate.ShouldPing(kStart + seconds(30)));  // exactly at the limit: still alive
  EXPECT_FALSE(gate.ShouldPing(kStart + seconds(31)));
  EXPECT_EQ(gate.StallReason(kStart + seconds(45)), "disk worker silent for 45 s");
  // When the worker comes back, pings resume.
  gate.DiskWorkerAlive(kStart + seconds(60));
  EXPECT_TRUE(gate.ShouldPing(kStart + seconds(60)));
}

TEST(WatchdogGateTest, StalledEventLoopWithholdsThePing) {
  WatchdogGate gate(seconds(10));
  gate.EventLoopAlive(kStart);
  gate.DiskWorkerAlive(kStart + seconds(20));
  EXPECT_FALSE(gate.ShouldPing(kStart + seconds(20)));
  EXPECT_EQ(gate.StallReason(kStart + seconds(20)), "event loop silent for 20 s");
}

TEST(WatchdogGateTest, BothStalledNamesBoth) {
  WatchdogGate gate(seconds(10));
  gate.EventLoopAlive(kStart);
  gate.DiskWorkerAlive(kStart);
  EXPECT_EQ(gate.StallReason(kStart + seconds(12)), "event loop silent for 12 s, disk worker silent for 12 s");
}

TEST(WatchdogGateTest, LateReportOfAnOlderTimeDoesNotRewindLiveness) {
  WatchdogGate gate(seconds(10));
  gate.EventLoopAlive(kStart + seconds(20));
  gate.DiskWorkerAlive(kStart + seconds(20));
  gate.DiskWorkerAlive(kStart);  // a stale answer delivered late
  EXPECT_TRUE(gate.ShouldPing(kStart + seconds(25)));
}

TEST(WatchdogGateTest, ReportNewerThanNowCountsAsFresh) {
  WatchdogGate gate(seconds(10));
  gate.EventLoopAlive(kStart + seconds(1));
  gate.DiskWorkerAlive(kStart + seconds(1));
  EXPECT_TRUE(gate.ShouldPing(kStart));
}

}  // namespace
}  // namespace opescare::service
