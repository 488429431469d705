// FolderWatcher on Windows: an overlapped ReadDirectoryChangesW kept armed on the folder, waited
// on together with a cancel event.
#include <windows.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "agent/service/folder_watcher.h"
#include "agent/service/win_text.h"

namespace opescare::service {
namespace {

using internal::Widen;
using internal::WindowsError;

// Names are not used, so the buffer only needs to absorb a burst; an overflow still wakes us.
constexpr DWORD kBufferBytes = 16 * 1024;
constexpr DWORD kFilter = FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_LAST_WRITE;

class WindowsFolderWatcher final : public FolderWatcher {
 public:
  WindowsFolderWatcher(HANDLE dir, HANDLE changed, HANDLE cancel, std::string folder)
      : dir_(dir),
        changed_(changed),
        cancel_(cancel),
        folder_(std::move(folder)),
        buffer_(kBufferBytes / sizeof(DWORD)) {}

  WindowsFolderWatcher(const WindowsFolderWatcher&) = delete;
  WindowsFolderWatcher& operator=(const WindowsFolderWatcher&) = delete;

  ~WindowsFolderWatcher() override {
    if (armed_) {
      // The kernel writes into buffer_ until the read completes: cancel it and wait for that.
      ::CancelIoEx(dir_, &overlapped_);
      DWORD ignored = 0;
      ::GetOverlappedResult(dir_, &overlapped_, &ignored, TRUE);
    }
    ::CloseHandle(dir_);
    ::CloseHandle(changed_);
    ::CloseHandle(cancel_);
  }

  // Starts the asynchronous read that collects changes until the next Wait.
  Status Arm() {
    overlapped_ = OVERLAPPED{};
    overlapped_.hEvent = changed_;
    DWORD unused = 0;
    if (!::ReadDirectoryChangesW(dir_, buffer_.data(), kBufferBytes, FALSE, kFilter, &unused, &overlapped_, nullptr)) {
      return IoError(WindowsError("watching " + folder_, ::GetLastError()));
    }
    armed_ = true;
    return Status::Ok();
  }

  Result<Wake> Wait(std::chrono::milliseconds timeout) override {
    if (!armed_) {
      if (Status s = Arm(); !s.ok()) return s;
    }
    HANDLE handles[2] = {cancel_, changed_};  // cancel first: it wins when both are set
    const DWORD ms = timeout.count() < 0 ? 0 : static_cast<DWORD>(std::min<long long>(timeout.count(), INFINITE - 1));
    const DWORD which = ::WaitForMultipleObjects(2, handles, FALSE, ms);
    if (which == WAIT_OBJECT_0) return Wake::kCancelled;
    if (which == WAIT_TIMEOUT) return Wake::kTimeout;
    if (which != WAIT_OBJECT_0 + 1) return IoError(WindowsError("waiting on " + folder_, ::GetLastError()));
    DWORD bytes = 0;
    armed_ = false;
    if (!::GetOverlappedResult(dir_, &overlapped_, &bytes, FALSE)) {
      const DWORD err = ::GetLastError();
      // ERROR_NOTIFY_ENUM_DIR: more changes than the buffer held; a rescan covers them.
      if (err != ERROR_NOTIFY_ENUM_DIR) return IoError(WindowsError("reading changes of " + folder_, err));
    }
    // Re-arm before returning so that changes during the caller's rescan are caught.
    if (Status s = Arm(); !s.ok()) return s;
    return Wake::kChanged;
  }

  void Cancel() override { ::SetEvent(cancel_); }

 private:
  HANDLE dir_;
  HANDLE changed_;  // auto-reset: signalled when the armed read completes
  HANDLE cancel_;   // manual-reset: stays signalled after Cancel
  std::string folder_;
  std::vector<DWORD> buffer_;  // DWORD-aligned, as ReadDirectoryChangesW requires
  OVERLAPPED overlapped_{};
  bool armed_ = false;
};

}  // namespace

Result<std::unique_ptr<FolderWatcher>> OpenFolderWatcher(const std::string& folder) {
  HANDLE dir =
      ::CreateFileW(Widen(folder).c_str(), FILE_LIST_DIRECTORY, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, nullptr);
  if (dir == INVALID_HANDLE_VALUE) return IoError(WindowsError("opening watch folder " + folder, ::GetLastError()));
  HANDLE changed = ::CreateEventW(nullptr, FALSE, FALSE, nullptr);
  HANDLE cancel = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (changed == nullptr || cancel == nullptr) {
    const DWORD err = ::GetLastError();
    ::CloseHandle(dir);
    if (changed != nullptr) ::CloseHandle(changed);
    if (cancel != nullptr) ::CloseHandle(cancel);
    return IoError(WindowsError("creating events for " + folder, err));
  }
  auto watcher = std::make_unique<WindowsFolderWatcher>(dir, changed, cancel, folder);
  if (Status s = watcher->Arm(); !s.ok()) return s;
  return std::unique_ptr<FolderWatcher>(std::move(watcher));
}

}  // namespace opescare::service
