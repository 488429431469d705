// Tests for StopSignal: the first request runs the handler once, early requests are not lost,
// and a withdrawn handler never runs.
#include "agent/service/stop_signal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace opescare::service {
namespace {

TEST(StopSignalTest, FirstRequestRunsTheHandlerOnce) {
  StopSignal stop;
  int calls = 0;
  stop.OnStop([&calls] { ++calls; });
  EXPECT_FALSE(stop.requested());
  stop.Request();
  stop.Request();
  EXPECT_TRUE(stop.requested());
  EXPECT_EQ(calls, 1);
}

TEST(StopSignalTest, RequestBeforeTheHandlerIsNotLost) {
  StopSignal stop;
  stop.Request();
  int calls = 0;
  stop.OnStop([&calls] { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(StopSignalTest, WithdrawnHandlerNeverRuns) {
  StopSignal stop;
  int calls = 0;
  stop.OnStop([&calls] { ++calls; });
  stop.ClearHandler();
  stop.Request();
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(stop.requested());
}

TEST(StopSignalTest, RequestFromAnotherThreadReachesTheHandler) {
  StopSignal stop;
  std::atomic<int> calls{0};
  stop.OnStop([&calls] { ++calls; });
  std::thread other([&stop] { stop.Request(); });
  other.join();
  stop.ClearHandler();
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace opescare::service
