// Shared by env_win.cpp and process_win.cpp. Internal: include only from agent/env's *_win.cpp files.
#pragma once

#include <windows.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "agent/util/status.h"

namespace opescare::env::internal {

// "<path>: <what>: <the system's message> (error <code>)" with the Code env.h assigns to the Win32 error
// (ERROR_FILE_NOT_FOUND -> kNotFound, ERROR_ACCESS_DENIED -> kPermissionDenied, ERROR_DISK_FULL ->
// kResourceExhausted, ERROR_NOT_SAME_DEVICE -> kFailedPrecondition, ERROR_SHARING_VIOLATION -> kUnavailable ...).
Status WinStatus(DWORD err, const std::string& path, const std::string& what);

Status ProbeTcpConnectWin(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);
Result<std::string> HostNameWin();
Result<std::string> ExecutablePathWin();
bool StdoutIsConsole();

}  // namespace opescare::env::internal
