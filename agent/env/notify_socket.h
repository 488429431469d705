// The OS side of agent/service's Notifier: an AF_UNIX datagram socket on POSIX, nothing on Windows.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::service::internal {

// A socket to send notifications to `path` ("/run/..." or "@abstract"), and the encoded address
// to send them to (kept opaque so the header stays free of OS types).
struct NotifySocket {
  int fd = -1;
  std::string address;
};

Result<NotifySocket> OpenNotifySocket(const std::string& path);
// One datagram; never blocks (a full queue gives kUnavailable) and never raises SIGPIPE.
Status SendNotify(int fd, const std::string& address, std::string_view message);
void CloseNotifySocket(int fd);

int64_t CurrentProcessId();
// CLOCK_MONOTONIC, which MONOTONIC_USEC must be measured on.
std::chrono::microseconds MonotonicNow();

}  // namespace opescare::service::internal
