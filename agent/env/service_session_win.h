// ServiceSession: one run of the Windows service between ServiceMain's start and its STOPPED
// report, kept apart from the SCM calls so a test can drive it with a fake reporter.
// Internal; include only from *_win.cpp files and tests/windows.
#pragma once

#include <windows.h>

#include <functional>
#include <mutex>

#include "agent/service/service_control.h"
#include "agent/service/stop_signal.h"
#include "agent/service/windows_service.h"

namespace opescare::service::internal {

class ServiceSession {
 public:
  // Sends one status to the SCM (SetServiceStatus in production, a recorder in tests).
  using Reporter = std::function<void(const SERVICE_STATUS&)>;

  ServiceSession(RunLoop run, Reporter report);
  ServiceSession(const ServiceSession&) = delete;
  ServiceSession& operator=(const ServiceSession&) = delete;

  // The control handler's body, called on the SCM dispatcher thread: returns NO_ERROR or
  // ERROR_CALL_NOT_IMPLEMENTED. Thread-safe against Run().
  DWORD HandleControl(DWORD control);

  // ServiceMain's body, on the service thread: reports start pending, running, runs the loop
  // until it returns, reports stopped with its exit code, and returns that code.
  int Run();

 private:
  // Reports `state` (with exit_code_ once stopped) and remembers it.
  void ReportLocked(ServiceState state);

  RunLoop run_;
  Reporter report_;
  StopSignal stop_;
  std::mutex mutex_;  // guards state_, checkpoint_ and exit_code_, and orders the reports
  ServiceState state_ = ServiceState::kStartPending;
  DWORD checkpoint_ = 0;
  int exit_code_ = 0;  // the run loop's, once it returned
};

// SERVICE_CONTROL_* -> ServiceControl.
ServiceControl ControlFromWindows(DWORD control);

}  // namespace opescare::service::internal
