// The Windows service's decisions as pure functions (controls -> state changes, exit codes,
// recovery plan, command-line quoting), so they are unit-tested on every platform.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opescare::service {

enum class ServiceState { kStartPending, kRunning, kStopPending, kStopped };
enum class ServiceControl { kStop, kShutdown, kPreshutdown, kInterrogate, kOther };

struct ControlDecision {
  bool handled = false;                // false: answer ERROR_CALL_NOT_IMPLEMENTED
  bool request_stop = false;           // raise the run loop's StopSignal
  std::optional<ServiceState> report;  // report this state to the SCM now
};

// What to do with a control arriving in `current`. Stop, shutdown and preshutdown all drain the
// same way; repeats (a preshutdown then a shutdown) change nothing; interrogate re-reports.
ControlDecision DecideControl(ServiceState current, ServiceControl control);

// SERVICE_STATUS exit fields for the run loop's exit code: 0 -> NO_ERROR; anything else ->
// ERROR_SERVICE_SPECIFIC_ERROR with the code, which counts as a failure for the recovery actions.
struct ServiceExitCodes {
  uint32_t win32 = 0;
  uint32_t service_specific = 0;
};
ServiceExitCodes ExitCodesFor(int run_exit_code);
inline constexpr uint32_t kErrorServiceSpecificError = 1066;  // winerror.h ERROR_SERVICE_SPECIFIC_ERROR

// Restart after each of these delays (the last repeats), and forget past failures after a day
// without one: a crash loop slows down instead of hammering the server.
struct RecoveryPlan {
  std::vector<std::chrono::milliseconds> restart_delays;
  std::chrono::seconds reset_period;
};
RecoveryPlan DefaultRecoveryPlan();

// How long the SCM should wait for a stop (the run loop gives a request 5 s, then closes the
// database); also the preshutdown timeout.
inline constexpr std::chrono::milliseconds kStopWaitHint{15000};

// `service start | stop` poll the SCM until the service reaches `target` (kRunning or kStopped).
// What one poll that saw `now` means: reached, keep polling, or give up. A service that falls back
// to stopped while starting failed (its run loop exited: the log says why).
enum class WaitVerdict { kReached, kKeepWaiting, kFailed, kTimedOut };
WaitVerdict DecideWait(ServiceState target, ServiceState now, bool deadline_passed);
// How long `service start` waits for running, and `service stop` (and uninstall) for stopped.
inline constexpr std::chrono::milliseconds kStartWaitLimit{30000};
inline constexpr std::chrono::milliseconds kStopWaitLimit{2 * kStopWaitHint};

// One argument quoted for CommandLineToArgvW / the C runtime (backslashes before quotes doubled).
std::string QuoteWindowsArgument(std::string_view arg);
// The service's ImagePath: "<exe>" run --config "<config>".
std::string ServiceCommandLine(std::string_view exe_path, std::string_view config_path);

}  // namespace opescare::service
