// Shared by the *_posix.cpp files of agent/env. Internal: include only from there.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "agent/util/status.h"

namespace opescare::env::internal {

// "<path>: <what>: <strerror(err)>" with the Code env.h assigns to err (ENOENT -> kNotFound, ENOSPC ->
// kResourceExhausted, EXDEV -> kFailedPrecondition ...).
Status ErrnoStatus(int err, const std::string& path, const std::string& what);

Status ProbeTcpConnectPosix(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);
Result<std::string> HostNamePosix();
Result<std::string> ExecutablePathPosix();

}  // namespace opescare::env::internal
