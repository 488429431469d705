// Tests for the Windows service's pure decisions and for the non-Windows stand-ins of its API.
#include "agent/service/service_control.h"

#include <gtest/gtest.h>

#include "agent/service/windows_service.h"

namespace opescare::service {
namespace {

TEST(DecideControlTest, StopShutdownAndPreshutdownAllDrain) {
  for (ServiceControl c : {ServiceControl::kStop, ServiceControl::kShutdown, ServiceControl::kPreshutdown}) {
    const ControlDecision d = DecideControl(ServiceState::kRunning, c);
    EXPECT_TRUE(d.handled);
    EXPECT_TRUE(d.request_stop);
    EXPECT_EQ(d.report, ServiceState::kStopPending);
  }
}

TEST(DecideControlTest, StopWhileStartingStillStops) {
  const ControlDecision d = DecideControl(ServiceState::kStartPending, ServiceControl::kStop);
  EXPECT_TRUE(d.request_stop);
  EXPECT_EQ(d.report, ServiceState::kStopPending);
}

TEST(DecideControlTest, RepeatedStopChangesNothing) {
  // Windows sends preshutdown, then shutdown, to a service that accepts both.
  const ControlDecision d = DecideControl(ServiceState::kStopPending, ServiceControl::kShutdown);
  EXPECT_TRUE(d.handled);
  EXPECT_FALSE(d.request_stop);
  EXPECT_EQ(d.report, std::nullopt);
  EXPECT_FALSE(DecideControl(ServiceState::kStopped, ServiceControl::kStop).request_stop);
}

TEST(DecideControlTest, InterrogateReReportsAndUnknownIsRefused) {
  EXPECT_EQ(DecideControl(ServiceState::kRunning, ServiceControl::kInterrogate).report, ServiceState::kRunning);
  EXPECT_TRUE(DecideControl(ServiceState::kRunning, ServiceControl::kInterrogate).handled);
  const ControlDecision other = DecideControl(ServiceState::kRunning, ServiceControl::kOther);
  EXPECT_FALSE(other.handled);
  EXPECT_FALSE(other.request_stop);
}

TEST(DecideWaitTest, StartWaitsThroughPendingAndFailsOnStopped) {
  EXPECT_EQ(DecideWait(ServiceState::kRunning, ServiceState::kStartPending, false), WaitVerdict::kKeepWaiting);
  EXPECT_EQ(DecideWait(ServiceState::kRunning, ServiceState::kRunning, true), WaitVerdict::kReached);
  // The run loop exited during start (a bad config, a locked outbox): no point waiting any longer.
  EXPECT_EQ(DecideWait(ServiceState::kRunning, ServiceState::kStopped, false), WaitVerdict::kFailed);
  EXPECT_EQ(DecideWait(ServiceState::kRunning, ServiceState::kStartPending, true), WaitVerdict::kTimedOut);
}

TEST(DecideWaitTest, StopWaitsThroughTheDrainUntilTheDeadline) {
  EXPECT_EQ(DecideWait(ServiceState::kStopped, ServiceState::kStopPending, false), WaitVerdict::kKeepWaiting);
  EXPECT_EQ(DecideWait(ServiceState::kStopped, ServiceState::kRunning, false), WaitVerdict::kKeepWaiting);
  EXPECT_EQ(DecideWait(ServiceState::kStopped, ServiceState::kStopped, false), WaitVerdict::kReached);
  EXPECT_EQ(DecideWait(ServiceState::kStopped, ServiceState::kStopPending, true), WaitVerdict::kTimedOut);
  // The stop wait outlasts the SCM's own hint for the drain.
  EXPECT_GT(kStopWaitLimit, kStopWaitHint);
}

TEST(ExitCodesForTest, NonZeroIsAServiceSpecificFailure) {
  EXPECT_EQ(ExitCodesFor(0).win32, 0u);
  EXPECT_EQ(ExitCodesFor(0).service_specific, 0u);
  EXPECT_EQ(ExitCodesFor(2).win32, kErrorServiceSpecificError);
  EXPECT_EQ(ExitCodesFor(2).service_specific, 2u);
}

TEST(RecoveryPlanTest, RestartsWithGrowingDelaysAndForgetsAfterADay) {
  const RecoveryPlan plan = DefaultRecoveryPlan();
  ASSERT_EQ(plan.restart_delays.size(), 3u);
  EXPECT_LT(plan.restart_delays.front(), plan.restart_delays.back());
  EXPECT_GE(plan.restart_delays.front(), std::chrono::seconds(1));
  EXPECT_EQ(plan.reset_period, std::chrono::hours(24));
}

TEST(QuoteWindowsArgumentTest, FollowsCommandLineToArgvRules) {
  EXPECT_EQ(QuoteWindowsArgument("plain"), "plain");
  EXPECT_EQ(QuoteWindowsArgument(""), "\"\"");
  EXPECT_EQ(QuoteWindowsArgument("C:\\Program Files\\x"), "\"C:\\Program Files\\x\"");
  // A trailing backslash would escape the closing quote unless doubled.
  EXPECT_EQ(QuoteWindowsArgument("C:\\My Dir\\"), "\"C:\\My Dir\\\\\"");
  EXPECT_EQ(QuoteWindowsArgument("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(QuoteWindowsArgument("a\\\"b"), "\"a\\\\\\\"b\"");
}

TEST(ServiceCommandLineTest, AlwaysQuotesTheExecutable) {
  EXPECT_EQ(ServiceCommandLine("C:\\Program Files\\OpesCare\\Bridge\\opescare-bridge.exe",
                               "C:\\ProgramData\\OpesCare\\Bridge\\config.yaml"),
            "\"C:\\Program Files\\OpesCare\\Bridge\\opescare-bridge.exe\" run --config "
            "C:\\ProgramData\\OpesCare\\Bridge\\config.yaml");
  EXPECT_EQ(ServiceCommandLine("C:\\b\\a.exe", "C:\\My Data\\c.yaml"),
            "\"C:\\b\\a.exe\" run --config \"C:\\My Data\\c.yaml\"");
}

#ifndef _WIN32
TEST(WindowsServiceOffWindowsTest, RunNeverCallsTheLoopAndSaysWhy) {
  bool called = false;
  auto result = RunAsWindowsService([&called](StopSignal&) {
    called = true;
    return 0;
  });
  EXPECT_FALSE(called);
  EXPECT_EQ(result.status().code(), Code::kFailedPrecondition);
}

TEST(WindowsServiceOffWindowsTest, InstallPointsAtSystemd) {
  const Status install = InstallService("/usr/bin/opescare-bridge", "/etc/opescare-bridge/config.yaml");
  EXPECT_EQ(install.code(), Code::kFailedPrecondition);
  EXPECT_NE(install.message().find("systemctl enable --now opescare-bridge"), std::string::npos);
  EXPECT_EQ(UninstallService().code(), Code::kFailedPrecondition);
}

TEST(WindowsServiceOffWindowsTest, StartAndStopPointAtSystemctl) {
  const Status start = StartInstalledService();
  EXPECT_EQ(start.code(), Code::kFailedPrecondition);
  EXPECT_NE(start.message().find("systemctl start opescare-bridge"), std::string::npos);
  const Status stop = StopInstalledService();
  EXPECT_EQ(stop.code(), Code::kFailedPrecondition);
  EXPECT_NE(stop.message().find("systemctl stop opescare-bridge"), std::string::npos);
}

TEST(WindowsServiceOffWindowsTest, DefaultPathsMatchThePackage) {
  const ServicePaths p = DefaultServicePaths();
  EXPECT_EQ(p.config_file, "/etc/opescare-bridge/config.yaml");
  EXPECT_EQ(p.outbox_file, "/var/lib/opescare-bridge/outbox.db");
  EXPECT_EQ(p.watch_folder, "/var/spool/opescare-bridge/incoming");
}
#endif

}  // namespace
}  // namespace opescare::service
