// FolderWatcher: wakes the connector when files appear or change in its watch folder, so it
// rescans at once instead of waiting for its periodic scan. Implemented on Windows with
// ReadDirectoryChangesW (folder_watcher_win.cpp); Linux uses the connector's inotify watcher.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "agent/util/status.h"

namespace opescare::service {

// Reports *that* the folder changed, not what: the connector rescans the folder on every wake,
// which also covers changes the OS dropped (a full change buffer). One thread calls Wait; any
// thread may call Cancel.
class FolderWatcher {
 public:
  enum class Wake { kChanged, kTimeout, kCancelled };

  virtual ~FolderWatcher() = default;

  // Blocks until a change (file created, renamed, written, resized), `timeout`, or Cancel().
  // Changes that happen between two calls are not lost: the next call returns kChanged at once.
  virtual Result<Wake> Wait(std::chrono::milliseconds timeout) = 0;

  // Makes the current and every later Wait return kCancelled (shutdown).
  virtual void Cancel() = 0;
};

// Watches `folder` (not its subfolders: processed/ and failed/ live there). Windows only.
Result<std::unique_ptr<FolderWatcher>> OpenFolderWatcher(const std::string& folder);

}  // namespace opescare::service
