// The Windows-only helpers of agent/env: UTF-8 <-> UTF-16, Windows error messages, and the
// ReadDirectoryChangesW watcher. Internal; include only from *_win.cpp files and tests/windows.
#pragma once

#include <windows.h>

#include <memory>
#include <string>
#include <string_view>

#include "agent/env/env.h"

namespace opescare::service::internal {

std::wstring Widen(std::string_view utf8);
std::string Narrow(std::wstring_view utf16);
// "<what>: <the system's message> (error <code>)".
std::string WindowsError(std::string_view what, DWORD code);

}  // namespace opescare::service::internal

namespace opescare::env {

// The folder watcher of env_win.cpp's NewFolderWatcher (folder_watcher_win.cpp): WatchEvents::rescan on any
// change, never names.
std::unique_ptr<FolderWatcher> NewDirectoryChangesWatcher(const std::string& folder);

}  // namespace opescare::env
