// FolderWatcher: tells the connector which names in the watch folder may have changed. inotify on Linux
// (folder_watcher_posix.cpp); elsewhere, until ReadDirectoryChangesW arrives with the Windows service, a
// watcher with no events, leaving the connector's periodic scan to find files. Events are only hints: the
// connector always stat()s, and its scan catches anything missed.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent/util/status.h"

namespace opescare::csv_folder {

struct WatchEvents {
  std::vector<std::string> names;  // names created, written and closed, or moved in (unfiltered)
  bool rescan = false;             // events were lost (queue overflow, folder re-created): list the folder
};

// Start, Drain and Wait are called from one thread; Wake may be called from any thread.
class FolderWatcher {
 public:
  virtual ~FolderWatcher() = default;
  virtual Status Start() = 0;
  virtual void Stop() = 0;
  // A descriptor that becomes readable when events are pending (for an event loop to wait on; never read it
  // directly), or -1 when there is none.
  virtual int fd() const = 0;
  // The pending events, without blocking.
  virtual Result<WatchEvents> Drain() = 0;
  // Blocks until events arrive, Wake() is called, or the timeout passes; then drains.
  virtual Result<WatchEvents> Wait(std::chrono::milliseconds timeout) = 0;
  // Makes a blocked (or the next) Wait return at once.
  virtual void Wake() = 0;
};

// The platform's watcher for folder (inotify on Linux).
std::unique_ptr<FolderWatcher> NewFolderWatcher(const std::string& folder);
// A watcher without events: Wait only waits (for Wake or the timeout). The connector's scans find files.
std::unique_ptr<FolderWatcher> NewScanOnlyWatcher();

}  // namespace opescare::csv_folder
