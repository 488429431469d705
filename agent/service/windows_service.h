// Running under the Windows service control manager (SCM), and registering with it. The header is
// platform-neutral so `run` and `service install|uninstall` call it everywhere; off Windows the
// calls say what to do instead (systemd).
#pragma once

#include <functional>
#include <string>

#include "agent/service/stop_signal.h"
#include "agent/util/status.h"

namespace opescare::service {

inline constexpr char kWindowsServiceName[] = "OpesCareBridge";
inline constexpr char kWindowsServiceDisplayName[] = "OpesCare Bridge Agent";

// The daemon's run loop: returns the process exit code (0 after a clean stop). It registers
// stop.OnStop(...) (e.g. posting its drain into the io_context) and must return soon after the
// stop (within ~6 s: a request gets 5 s). The handler is withdrawn when the loop returns.
using RunLoop = std::function<int(StopSignal& stop)>;

// Hands the process to the SCM: reports start, runs `run`, turns stop/shutdown/preshutdown
// controls into a stop request, and reports the exit (a non-zero code makes the SCM apply the
// recovery actions). Returns run's exit code once the service has stopped.
// kFailedPrecondition when the process was not started by the SCM (started from a console, or not
// on Windows): the caller then runs the loop in the foreground itself.
// Call at most once per process, from the main thread.
Result<int> RunAsWindowsService(RunLoop run);

// Where the packaged agent keeps its files. Windows: %ProgramData%\OpesCare\Bridge\{config.yaml,
// data\outbox.db, incoming, logs}. Elsewhere: the .deb/.rpm layout (/etc/opescare-bridge/...).
struct ServicePaths {
  std::string base_dir;
  std::string config_file;
  std::string outbox_file;
  std::string watch_folder;
  std::string log_dir;
};
ServicePaths DefaultServicePaths();

// Windows: registers the service (automatic start, delayed until the network is up; restart on
// failure; preshutdown so a stop can finish its request) to run `exe_path run --config
// config_path` as the virtual account NT SERVICE\OpesCareBridge, and creates the default folders
// with an ACL that gives only that account, SYSTEM and Administrators access (patient data).
// kPermissionDenied without administrator rights; kFailedPrecondition if already installed.
// Elsewhere: kFailedPrecondition with the systemctl commands to use instead.
Status InstallService(const std::string& exe_path, const std::string& config_path);

// Windows: stops the service (bounded wait) and removes the registration; the data folder and its
// outbox are left in place. Elsewhere: kFailedPrecondition with the systemctl commands.
Status UninstallService();

// Windows: asks the SCM to start the installed service and waits (kStartWaitLimit) until it runs.
// kNotFound when it is not installed (the message says `service install`); kPermissionDenied
// without administrator rights; kUnavailable when it stopped again while starting (its exit code
// and where its log is) or did not report running in time. Already running: Ok.
// Elsewhere: kFailedPrecondition with the systemctl command. (Not StartService: windows.h's macro.)
Status StartInstalledService();

// Windows: sends the stop control and waits (kStopWaitLimit) for the drain to end in stopped.
// Already stopped: Ok. Errors as StartInstalledService. Elsewhere: kFailedPrecondition.
Status StopInstalledService();

}  // namespace opescare::service
