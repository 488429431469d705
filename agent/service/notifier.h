// Notifier: tells systemd about the agent's life (READY, STATUS, WATCHDOG, STOPPING, RELOADING)
// over $NOTIFY_SOCKET, the sd_notify(3) protocol, without needing libsystemd.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::service {

// Sends sd_notify datagrams. Without NOTIFY_SOCKET (run by hand, in tests, on Windows) every call
// is a successful no-op, so callers never branch on how the agent was started.
// Thread-safe once constructed: each call is one sendto() on a socket that is never changed.
// Failures are returned for the caller to log; they never stop the agent.
class Notifier {
 public:
  // Disabled: every call does nothing.
  Notifier() = default;
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. A socket that cannot be opened gives a
  // disabled notifier and the error in open_error(), for the caller to log once.
  static Notifier FromEnvironment();
  // For tests: notify `socket_path` ("/path" or "@abstract"), with the given watchdog timeout.
  static Result<Notifier> Open(const std::string& socket_path,
                               std::optional<std::chrono::microseconds> watchdog_timeout);

  Notifier(Notifier&& other) noexcept;
  Notifier& operator=(Notifier&& other) noexcept;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;
  ~Notifier();

  bool enabled() const { return fd_ >= 0; }
  const Status& open_error() const { return open_error_; }

  // The service manager's watchdog timeout (WATCHDOG_USEC, when WATCHDOG_PID is unset or ours),
  // and the interval to ping at: half of it, as sd_watchdog_enabled(3) advises.
  std::optional<std::chrono::microseconds> watchdog_timeout() const { return watchdog_timeout_; }
  std::optional<std::chrono::microseconds> watchdog_ping_interval() const;

  Status Ready();                           // READY=1: config valid, outbox open
  Status SetStatus(std::string_view text);  // STATUS=<one line>
  Status Watchdog();                        // WATCHDOG=1: call only when WatchdogGate says so
  Status Stopping();                        // STOPPING=1: draining after SIGTERM
  Status Reloading();                       // RELOADING=1 + MONOTONIC_USEC: re-reading the config on SIGHUP
  // After a reload: READY=1 again, which ends the reloading state.
  Status Reloaded() { return Ready(); }

  // Sends one raw message ("KEY=VALUE\n..."). The building blocks above use it.
  Status Send(std::string_view message);

 private:
  int fd_ = -1;          // an AF_UNIX datagram socket, or -1 when disabled
  std::string address_;  // where to send (an encoded sockaddr_un)
  std::optional<std::chrono::microseconds> watchdog_timeout_;
  Status open_error_;
};

// Pure pieces of the protocol, exposed for tests.

// WATCHDOG_USEC and WATCHDOG_PID as systemd sets them: the timeout, or nullopt when the watchdog
// is off, malformed, zero, or meant for another process (WATCHDOG_PID present and not self_pid).
std::optional<std::chrono::microseconds> ParseWatchdogTimeout(const char* watchdog_usec, const char* watchdog_pid,
                                                              int64_t self_pid);

// "STATUS=<text>" with newlines and control characters turned into spaces (a newline would start
// another assignment) and the text cut at 512 bytes.
std::string StatusMessage(std::string_view text);

// "RELOADING=1\nMONOTONIC_USEC=<usec>", the form systemd 253+ expects for Type=notify-reload.
std::string ReloadingMessage(std::chrono::microseconds monotonic_now);

}  // namespace opescare::service
