// ConnectorFault: a problem in the watch folder the connector lives with until it is fixed (CSV.md step 1,
// ARCHITECTURE.md "Durability rules"): a report or a move that cannot be written, a file that cannot be
// read, a name that matches the pattern but is not a regular file. Shown in status, /readyz, /metrics and
// the heartbeat; cleared when the operation later succeeds or the name goes away.
#pragma once

#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::csv_folder {

struct ConnectorFault {
  std::string kind;  // "watch_folder" or "not_regular_file" (agent/util/fault.h)
  std::string path;  // the file or folder concerned
  std::string message;
  std::string fix;
};

// The words for a failed folder operation: `what` ("cannot move patients.csv to /srv/x/processed") and the
// error's status; the fix follows from the error (a read-only path under the systemd unit names its drop-in,
// a full volume asks for space, a refused permission names the service's user).
ConnectorFault FolderFault(const std::string& path, const std::string& what, const Status& error);

// The connector could not start on watch_folder (its processed/ or failed/ folder cannot be made, the
// folder cannot be listed): no file is taken until it is fixed, so it is a fault, not only a log line.
ConnectorFault StartFault(const std::string& watch_folder, const Status& error);

// A name matching the pattern that is a folder, a FIFO or a symbolic link: left alone, said once.
ConnectorFault NotRegularFileFault(const std::string& path);

}  // namespace opescare::csv_folder
