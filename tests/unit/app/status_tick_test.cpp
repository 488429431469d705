// The status tick's period: 2 s while anything moves or is wrong, 10 s when idle (an idle agent wakes less than
// once a second: issue 11 point 6).
#include <gtest/gtest.h>

#include "agent/app/agent_internal.h"

namespace opescare::app {
namespace {

using std::chrono::seconds;

TEST(StatusTickIntervalTest, IdleIsTenSeconds) { EXPECT_EQ(StatusTickInterval(0, false, false, false), seconds(10)); }

TEST(StatusTickIntervalTest, WorkOrAFaultIsTwoSeconds) {
  EXPECT_EQ(StatusTickInterval(1, false, false, false), seconds(2));  // records queued
  EXPECT_EQ(StatusTickInterval(0, true, false, false), seconds(2));   // a full disk: its end must be seen soon
  EXPECT_EQ(StatusTickInterval(0, false, true, false), seconds(2));   // any fault
  EXPECT_EQ(StatusTickInterval(0, false, false, true), seconds(2));   // delivery paused
}

}  // namespace
}  // namespace opescare::app
