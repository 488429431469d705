// The two halves of `service install` on Windows, separate so the wine smoke test can exercise
// the SCM half where virtual service accounts (the folder half) do not exist.
// Internal; include only from *_win.cpp files and tests/windows.
#pragma once

#include <string>

#include "agent/service/windows_service.h"
#include "agent/util/status.h"

namespace opescare::service::internal {

// CreateServiceW (automatic start, account NT SERVICE\OpesCareBridge) plus its description,
// delayed start, recovery actions, preshutdown timeout and SID type; rolled back on failure.
Status RegisterService(const std::string& exe_path, const std::string& config_path);

// Creates the folders under paths.base_dir and gives them a protected ACL: SYSTEM and
// Administrators full control, the service account read on the base and modify on data,
// incoming and logs. The service must already be registered (its account resolves then).
Status PrepareFolders(const ServicePaths& paths);

}  // namespace opescare::service::internal
