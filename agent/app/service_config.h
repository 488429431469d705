// The configuration `service install` writes when none exists yet: config.example.yaml with its
// relative paths moved under the service's folders (a service's working directory is System32).
#pragma once

#include <string>
#include <string_view>

#include "agent/service/windows_service.h"
#include "agent/util/status.h"

namespace opescare::app {

// `example` (config.example.yaml's text) with log.file, outbox.path and connector.watch_folder set
// to paths' log_dir\opescare-bridge.log, outbox_file and watch_folder (YAML single-quoted, so
// backslashes stay literal); every other line and comment unchanged. kInvalidArgument naming the
// key when one of the three lines is missing (the example changed shape).
Result<std::string> ServiceConfigFromExample(std::string_view example, const service::ServicePaths& paths);

// The log file inside the service's log folder.
std::string ServiceLogFile(const service::ServicePaths& paths);

}  // namespace opescare::app
