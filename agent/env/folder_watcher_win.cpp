// FolderWatcher on Windows: an overlapped ReadDirectoryChangesW kept armed on the folder, waited on together
// with a wake event. It reports *that* the folder changed (WatchEvents::rescan), not which names: callers
// list the folder, which also covers changes the OS dropped (a full change buffer).
#include <windows.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "agent/env/env.h"
#include "agent/env/win_text.h"

namespace opescare::env {
namespace {

using service::internal::Widen;
using service::internal::WindowsError;

// Names are not used, so the buffer only needs to absorb a burst; an overflow still wakes us.
constexpr DWORD kBufferBytes = 16 * 1024;
constexpr DWORD kFilter = FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_LAST_WRITE;

class WindowsFolderWatcher final : public FolderWatcher {
 public:
  explicit WindowsFolderWatcher(std::string folder)
      : folder_(std::move(folder)),
        buffer_(kBufferBytes / sizeof(DWORD)),
        wake_(::CreateEventW(nullptr, FALSE, FALSE, nullptr)) {}
  WindowsFolderWatcher(const WindowsFolderWatcher&) = delete;
  WindowsFolderWatcher& operator=(const WindowsFolderWatcher&) = delete;
  ~WindowsFolderWatcher() override {
    Stop();
    if (wake_ != nullptr) ::CloseHandle(wake_);
  }

  Status Start() override {
    Stop();
    dir_ = ::CreateFileW(Widen(folder_).c_str(), FILE_LIST_DIRECTORY,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                         FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, nullptr);
    if (dir_ == INVALID_HANDLE_VALUE) {
      dir_ = nullptr;
      return Unavailable(WindowsError("opening watch folder " + folder_, ::GetLastError()));
    }
    changed_ = ::CreateEventW(nullptr, FALSE, FALSE, nullptr);
    if (changed_ == nullptr || wake_ == nullptr) {
      Status s = Unavailable(WindowsError("creating events for " + folder_, ::GetLastError()));
      Stop();
      return s;
    }
    if (Status s = Arm(); !s.ok()) {
      Stop();
      return s;
    }
    return Status::Ok();
  }

  void Stop() override {
    if (armed_) {
      // The kernel writes into buffer_ until the read completes: cancel it and wait for that.
      ::CancelIoEx(dir_, &overlapped_);
      DWORD ignored = 0;
      ::GetOverlappedResult(dir_, &overlapped_, &ignored, TRUE);
      armed_ = false;
    }
    if (dir_ != nullptr) ::CloseHandle(dir_);
    if (changed_ != nullptr) ::CloseHandle(changed_);
    dir_ = nullptr;
    changed_ = nullptr;
    if (wake_ != nullptr) ::SetEvent(wake_);  // a Wait in progress returns
  }

  int NewWaitFd() const override { return -1; }

  Result<WatchEvents> Drain() override { return WaitFor(0, /*wakeable=*/false); }

  Result<WatchEvents> Wait(std::chrono::milliseconds timeout) override {
    const DWORD ms = timeout.count() < 0 ? 0 : static_cast<DWORD>(std::min<long long>(timeout.count(), INFINITE - 1));
    return WaitFor(ms, /*wakeable=*/true);
  }

  void Wake() override {
    if (wake_ != nullptr) ::SetEvent(wake_);
  }

 private:
  // Starts the asynchronous read that collects changes until the next Wait.
  Status Arm() {
    overlapped_ = OVERLAPPED{};
    overlapped_.hEvent = changed_;
    DWORD unused = 0;
    if (!::ReadDirectoryChangesW(dir_, buffer_.data(), kBufferBytes, FALSE, kFilter, &unused, &overlapped_, nullptr))
      return IoError(WindowsError("watching " + folder_, ::GetLastError()));
    armed_ = true;
    return Status::Ok();
  }

  Result<WatchEvents> WaitFor(DWORD ms, bool wakeable) {
    WatchEvents events;
    if (changed_ == nullptr) {  // not started: only a wake or the timeout ends the wait
      if (wakeable && wake_ != nullptr) ::WaitForSingleObject(wake_, ms);
      return events;
    }
    HANDLE handles[2] = {wake_, changed_};  // wake first: it wins when both are set
    const DWORD which = wakeable ? ::WaitForMultipleObjects(2, handles, FALSE, ms) : ::WaitForSingleObject(changed_, 0);
    const DWORD changed = wakeable ? WAIT_OBJECT_0 + 1 : WAIT_OBJECT_0;
    if (which == WAIT_TIMEOUT || (wakeable && which == WAIT_OBJECT_0)) return events;
    if (which != changed) return IoError(WindowsError("waiting on " + folder_, ::GetLastError()));
    DWORD bytes = 0;
    armed_ = false;
    if (!::GetOverlappedResult(dir_, &overlapped_, &bytes, FALSE)) {
      const DWORD err = ::GetLastError();
      // ERROR_NOTIFY_ENUM_DIR: more changes than the buffer held; a rescan covers them.
      if (err != ERROR_NOTIFY_ENUM_DIR) return IoError(WindowsError("reading changes of " + folder_, err));
    }
    // Re-arm before returning so that changes during the caller's rescan are caught.
    if (Status s = Arm(); !s.ok()) return s;
    events.rescan = true;
    return events;
  }

  std::string folder_;
  std::vector<DWORD> buffer_;  // DWORD-aligned, as ReadDirectoryChangesW requires
  HANDLE wake_;                // auto-reset: Wake() ends one Wait
  HANDLE dir_ = nullptr;
  HANDLE changed_ = nullptr;   // auto-reset: signalled when the armed read completes
  OVERLAPPED overlapped_{};
  bool armed_ = false;
};

}  // namespace

std::unique_ptr<FolderWatcher> NewDirectoryChangesWatcher(const std::string& folder) {
  return std::make_unique<WindowsFolderWatcher>(folder);
}

}  // namespace opescare::env
