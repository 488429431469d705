// The Windows service's pure decisions: control handling, exit codes, recovery plan, quoting.
#include "agent/service/service_control.h"

namespace opescare::service {

ControlDecision DecideControl(ServiceState current, ServiceControl control) {
  ControlDecision decision;
  switch (control) {
    case ServiceControl::kStop:
    case ServiceControl::kShutdown:
    case ServiceControl::kPreshutdown:
      decision.handled = true;
      if (current == ServiceState::kStartPending || current == ServiceState::kRunning) {
        decision.request_stop = true;
        decision.report = ServiceState::kStopPending;
      }
      return decision;
    case ServiceControl::kInterrogate:
      decision.handled = true;
      decision.report = current;
      return decision;
    case ServiceControl::kOther:
      return decision;
  }
  return decision;
}

WaitVerdict DecideWait(ServiceState target, ServiceState now, bool deadline_passed) {
  if (now == target) return WaitVerdict::kReached;
  if (target == ServiceState::kRunning && now == ServiceState::kStopped) return WaitVerdict::kFailed;
  return deadline_passed ? WaitVerdict::kTimedOut : WaitVerdict::kKeepWaiting;
}

ServiceExitCodes ExitCodesFor(int run_exit_code) {
  if (run_exit_code == 0) return {};
  return {kErrorServiceSpecificError, static_cast<uint32_t>(run_exit_code)};
}

RecoveryPlan DefaultRecoveryPlan() {
  using std::chrono::milliseconds;
  return {{milliseconds(5000), milliseconds(30000), milliseconds(60000)}, std::chrono::hours(24)};
}

std::string QuoteWindowsArgument(std::string_view arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string_view::npos) return std::string(arg);
  std::string quoted = "\"";
  size_t backslashes = 0;
  for (char c : arg) {
    if (c == '\\') {
      ++backslashes;
      continue;
    }
    // Backslashes are literal unless a quote follows them: then each must be doubled.
    quoted.append(c == '"' ? backslashes * 2 + 1 : backslashes, '\\');
    backslashes = 0;
    quoted += c;
  }
  // Before the closing quote, too.
  quoted.append(backslashes * 2, '\\');
  quoted += '"';
  return quoted;
}

std::string ServiceCommandLine(std::string_view exe_path, std::string_view config_path) {
  // The executable is always quoted: an unquoted path with spaces is a classic privilege escalation.
  std::string exe = QuoteWindowsArgument(exe_path);
  if (exe.empty() || exe.front() != '"') exe = "\"" + exe + "\"";
  return exe + " run --config " + QuoteWindowsArgument(config_path);
}

}  // namespace opescare::service
