// The watch folder's faults in words (connector_fault.h): pure text from an error, no I/O.
#include "agent/connectors/csv_folder/connector_fault.h"

namespace opescare::csv_folder {
namespace {

bool Mentions(const Status& s, std::string_view text) { return s.message().find(text) != std::string::npos; }

std::string FolderOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

ConnectorFault FolderFault(const std::string& path, const std::string& what, const Status& error) {
  ConnectorFault f;
  f.kind = "watch_folder";
  f.path = path;
  f.message = what + ": " + error.message();
  const std::string folder = FolderOf(path);
  if (Mentions(error, "Read-only file system")) {
    f.fix = "the folder is read-only for the agent; under systemd add it to the unit's writable paths: "
            "`systemctl edit opescare-bridge`, then [Service] ReadWritePaths=" + folder +
            " and `systemctl restart opescare-bridge`";
  } else if (Mentions(error, "No space left") || error.code() == Code::kResourceExhausted) {
    f.fix = "free space on the volume that holds " + folder + "; the file is retried by itself";
  } else if (error.code() == Code::kPermissionDenied || Mentions(error, "Permission denied")) {
    f.fix = "let the agent's user (opescare-bridge under systemd) read and write " + folder +
            " (chown, chmod, or the group the export job writes with)";
  } else {
    f.fix = "check the disk and the folder " + folder + " (`opescare-bridge doctor`); the file is retried by itself";
  }
  return f;
}

ConnectorFault StartFault(const std::string& watch_folder, const Status& error) {
  // The fix names the folder that holds path: "<watch_folder>/" makes that the watch folder itself.
  ConnectorFault f = FolderFault(watch_folder + "/", "cannot watch " + watch_folder + "; no file is taken", error);
  f.path = watch_folder;
  return f;
}

ConnectorFault NotRegularFileFault(const std::string& path) {
  ConnectorFault f;
  f.kind = "not_regular_file";
  f.path = path;
  f.message = path + " matches the file pattern but is not a regular file (a folder, a FIFO or a link); it is "
              "left alone";
  f.fix = "have the export write regular files, or move " + path + " out of the watch folder";
  return f;
}

}  // namespace opescare::csv_folder
