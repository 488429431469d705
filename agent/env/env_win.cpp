// Env::Default() on Windows: files and folders through Win32 calls on UTF-16 paths (process_win.cpp has the
// machine and the process). Files open with every share mode, so that, as on POSIX, a file being read can
// be renamed or removed by another program. Durable steps: FlushFileBuffers, MoveFileExW write-through.
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <system_error>
#include <thread>
#include <vector>

#include "agent/env/env.h"
#include "agent/env/win_acl.h"
#include "agent/env/win_internal.h"
#include "agent/env/win_text.h"

namespace opescare::env {
namespace {

using internal::WinStatus;
using service::internal::Narrow;
using service::internal::Widen;

constexpr DWORD kShareAll = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
constexpr DWORD kMaxIo = 1u << 30;  // ReadFile and WriteFile take a DWORD count

// FILETIME-like 100 ns ticks since 1601-01-01 (UTC).
std::chrono::system_clock::time_point FromTicks(uint64_t ticks) {
  constexpr uint64_t kUnixEpochTicks = 116444736000000000ULL;
  const auto since_unix = std::chrono::duration<int64_t, std::ratio<1, 10000000>>(
      static_cast<int64_t>(ticks) - static_cast<int64_t>(kUnixEpochTicks));
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_unix));
}
uint64_t Ticks(const FILETIME& t) { return (uint64_t{t.dwHighDateTime} << 32) | t.dwLowDateTime; }

bool IsReparsePoint(const std::wstring& path) {
  const DWORD attrs = ::GetFileAttributesW(path.c_str());
  return attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
}

// The open handle's FileInfo. changed is the NTFS change time (a rename sets it, like ctime).
Result<FileInfo> InfoOf(HANDLE h, const std::string& path, bool follow_links) {
  BY_HANDLE_FILE_INFORMATION bhi{};
  if (!::GetFileInformationByHandle(h, &bhi)) return WinStatus(::GetLastError(), path, "cannot stat");
  FileInfo info;
  if (::GetFileType(h) != FILE_TYPE_DISK) info.type = FileType::kOther;
  else if (!follow_links && (bhi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0) info.type = FileType::kSymlink;
  else if ((bhi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0) info.type = FileType::kDirectory;
  else info.type = FileType::kRegular;
  info.size = (uint64_t{bhi.nFileSizeHigh} << 32) | bhi.nFileSizeLow;
  info.modified = FromTicks(Ticks(bhi.ftLastWriteTime));
  FILE_BASIC_INFO basic{};
  const bool have_change = ::GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof basic) != 0 &&
                           basic.ChangeTime.QuadPart != 0;
  info.changed = have_change ? FromTicks(static_cast<uint64_t>(basic.ChangeTime.QuadPart))
                             : FromTicks(Ticks(bhi.ftCreationTime));
  info.file_id = (uint64_t{bhi.nFileIndexHigh} << 32) | bhi.nFileIndexLow;
  // Mode bits read off the DACL (win_acl.h): group/other bits when anyone but SYSTEM, Administrators, the
  // owner or the service can read or write; the key-file check refuses those as it refuses a 0644 file.
  info.mode = internal::ModeFromAcl(h, info.type);
  return info;
}

class WinSequentialFile final : public SequentialFile {
 public:
  WinSequentialFile(HANDLE h, std::string path) : h_(h), path_(std::move(path)) {}
  ~WinSequentialFile() override { ::CloseHandle(h_); }
  WinSequentialFile(const WinSequentialFile&) = delete;
  WinSequentialFile& operator=(const WinSequentialFile&) = delete;

  Result<size_t> Read(char* buf, size_t n) override {
    DWORD got = 0;
    if (!::ReadFile(h_, buf, static_cast<DWORD>(std::min<size_t>(n, kMaxIo)), &got, nullptr)) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_HANDLE_EOF) return size_t{0};
      return WinStatus(err, path_, "read failed");
    }
    return static_cast<size_t>(got);
  }
  Status Rewind() override {
    LARGE_INTEGER zero{};
    if (!::SetFilePointerEx(h_, zero, nullptr, FILE_BEGIN)) return WinStatus(::GetLastError(), path_, "seek failed");
    return Status::Ok();
  }

 private:
  HANDLE h_;
  std::string path_;
};

class WinWritableFile final : public WritableFile {
 public:
  WinWritableFile(HANDLE h, std::string path, bool append) : h_(h), path_(std::move(path)), append_(append) {}
  ~WinWritableFile() override {
    if (h_ != INVALID_HANDLE_VALUE) ::CloseHandle(h_);
  }
  WinWritableFile(const WinWritableFile&) = delete;
  WinWritableFile& operator=(const WinWritableFile&) = delete;

  Status Append(std::string_view data) override {
    LARGE_INTEGER zero{};
    if (append_ && !::SetFilePointerEx(h_, zero, nullptr, FILE_END))
      return WinStatus(::GetLastError(), path_, "seek failed");
    while (!data.empty()) {
      DWORD n = 0;
      if (!::WriteFile(h_, data.data(), static_cast<DWORD>(std::min<size_t>(data.size(), kMaxIo)), &n, nullptr))
        return WinStatus(::GetLastError(), path_, "write failed");
      data.remove_prefix(n);
    }
    return Status::Ok();
  }
  Status Sync() override {
    if (!::FlushFileBuffers(h_)) return WinStatus(::GetLastError(), path_, "FlushFileBuffers failed");
    return Status::Ok();
  }
  // Reserves the clusters, then moves the end of the file out to `bytes` (zeros), as posix_fallocate does;
  // the write position stays where it was.
  Status Allocate(uint64_t bytes) override {
    const std::string what = "cannot set aside " + std::to_string(bytes) + " bytes";
    LARGE_INTEGER size{};
    if (!::GetFileSizeEx(h_, &size)) return WinStatus(::GetLastError(), path_, what);
    if (static_cast<uint64_t>(size.QuadPart) >= bytes) return Status::Ok();
    FILE_ALLOCATION_INFO alloc{};
    alloc.AllocationSize.QuadPart = static_cast<LONGLONG>(bytes);
    // A hint only (wine and some file systems refuse it); SetEndOfFile below still claims the space.
    if (!::SetFileInformationByHandle(h_, FileAllocationInfo, &alloc, sizeof alloc)) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_DISK_FULL || err == ERROR_HANDLE_DISK_FULL) return WinStatus(err, path_, what);
    }
    LARGE_INTEGER here{}, zero{}, end{};
    end.QuadPart = static_cast<LONGLONG>(bytes);
    if (!::SetFilePointerEx(h_, zero, &here, FILE_CURRENT) || !::SetFilePointerEx(h_, end, nullptr, FILE_BEGIN) ||
        !::SetEndOfFile(h_))
      return WinStatus(::GetLastError(), path_, what);
    if (!::SetFilePointerEx(h_, here, nullptr, FILE_BEGIN)) return WinStatus(::GetLastError(), path_, what);
    return Status::Ok();
  }
  Status Close() override {
    HANDLE h = h_;
    h_ = INVALID_HANDLE_VALUE;
    if (h != INVALID_HANDLE_VALUE && !::CloseHandle(h)) return WinStatus(::GetLastError(), path_, "close failed");
    return Status::Ok();
  }

 private:
  HANDLE h_;
  std::string path_;
  bool append_;
};

class WinEnv final : public Env {
 public:
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path, bool follow_links) override {
    const std::wstring w = Widen(path);
    if (!follow_links && IsReparsePoint(w)) return InvalidArgument(path + ": cannot open: is a symbolic link");
    HANDLE h = ::CreateFileW(w.c_str(), GENERIC_READ, kShareAll, nullptr, OPEN_EXISTING,
                             FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, nullptr);
    if (h == INVALID_HANDLE_VALUE) return OpenError(::GetLastError(), path, w, "cannot open");
    return std::unique_ptr<SequentialFile>(new WinSequentialFile(h, path));
  }

  // mode is POSIX's: a new file takes its folder's inherited ACL instead.
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, OpenMode open, unsigned) override {
    const std::wstring w = Widen(path);
    if (IsReparsePoint(w)) return InvalidArgument(path + ": cannot create: is a symbolic link");
    const DWORD disposition = open == OpenMode::kTruncate    ? CREATE_ALWAYS
                              : open == OpenMode::kExclusive ? CREATE_NEW
                                                             : OPEN_ALWAYS;
    HANDLE h = ::CreateFileW(w.c_str(), GENERIC_WRITE, kShareAll, nullptr, disposition,
                             FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) return OpenError(::GetLastError(), path, w, "cannot create");
    return std::unique_ptr<WritableFile>(new WinWritableFile(h, path, open == OpenMode::kAppend));
  }

  Result<FileInfo> Stat(const std::string& path, bool follow_links) override {
    // READ_CONTROL: the DACL, for the mode bits.
    HANDLE h = ::CreateFileW(Widen(path).c_str(), FILE_READ_ATTRIBUTES | READ_CONTROL, kShareAll, nullptr,
                             OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | (follow_links ? 0 : FILE_FLAG_OPEN_REPARSE_POINT),
                             nullptr);
    if (h == INVALID_HANDLE_VALUE) return WinStatus(::GetLastError(), path, "cannot stat");
    Result<FileInfo> info = InfoOf(h, path, follow_links);
    ::CloseHandle(h);
    return info;
  }

  // Windows guards files with ACLs, not mode bits: the folders' ACLs (winsvc's win_acl) make files private.
  Status SetMode(const std::string& path, unsigned) override {
    if (::GetFileAttributesW(Widen(path).c_str()) == INVALID_FILE_ATTRIBUTES)
      return WinStatus(::GetLastError(), path, "cannot change the mode");
    return Status::Ok();
  }

  // Without MOVEFILE_COPY_ALLOWED a move across volumes fails (ERROR_NOT_SAME_DEVICE: kFailedPrecondition).
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (!::MoveFileExW(Widen(from).c_str(), Widen(to).c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
      return WinStatus(::GetLastError(), from, "cannot move to " + to);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (!::DeleteFileW(Widen(path).c_str())) return WinStatus(::GetLastError(), path, "cannot remove");
    return Status::Ok();
  }

  // MoveFileExW(MOVEFILE_WRITE_THROUGH) made the rename durable; there is no folder to flush. The folder must
  // still exist, as on POSIX.
  Status SyncDir(const std::string& dir) override {
    if (::GetFileAttributesW(Widen(dir).c_str()) == INVALID_FILE_ATTRIBUTES)
      return WinStatus(::GetLastError(), dir, "cannot open directory");
    return Status::Ok();
  }

  Status CreateDirs(const std::string& dir, unsigned) override {
    std::error_code ec;
    const std::filesystem::path p(Widen(dir));
    std::vector<std::filesystem::path> missing;
    for (auto q = p; !q.empty() && !std::filesystem::exists(q, ec); q = q.parent_path()) {
      missing.push_back(q);
      if (q == q.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (!::CreateDirectoryW(it->c_str(), nullptr) && ::GetLastError() != ERROR_ALREADY_EXISTS)
        return WinStatus(::GetLastError(), Narrow(it->native()), "cannot create folder");
    }
    const DWORD attrs = ::GetFileAttributesW(p.c_str());
    if (attrs == INVALID_FILE_ATTRIBUTES) return WinStatus(::GetLastError(), dir, "cannot create folder");
    if ((attrs & FILE_ATTRIBUTE_DIRECTORY) == 0) return IoError(dir + ": exists but is not a folder");
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    WIN32_FIND_DATAW data{};
    HANDLE h = ::FindFirstFileExW(Widen(dir + "\\*").c_str(), FindExInfoBasic, &data, FindExSearchNameMatch,
                                  nullptr, FIND_FIRST_EX_LARGE_FETCH);
    if (h == INVALID_HANDLE_VALUE) return WinStatus(::GetLastError(), dir, "cannot list");
    std::vector<std::string> names;
    do {
      std::wstring_view name = data.cFileName;
      if (name != L"." && name != L"..") names.push_back(Narrow(name));
    } while (::FindNextFileW(h, &data));
    const DWORD err = ::GetLastError();
    ::FindClose(h);
    if (err != ERROR_NO_MORE_FILES) return WinStatus(err, dir, "cannot list");
    return names;
  }

  // Windows has no access(W_OK): creates (and at once deletes) a hidden file in dir.
  Result<bool> CanWriteDir(const std::string& dir) override {
    static std::atomic<unsigned> counter{0};
    const std::string probe = dir + "\\.opescare-write-probe-" + std::to_string(::GetCurrentProcessId()) + "-" +
                              std::to_string(counter++) + ".tmp";
    HANDLE h = ::CreateFileW(Widen(probe).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW,
                             FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE, nullptr);
    if (h != INVALID_HANDLE_VALUE) {
      ::CloseHandle(h);
      return true;
    }
    const DWORD err = ::GetLastError();
    if (err == ERROR_ACCESS_DENIED || err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND ||
        err == ERROR_WRITE_PROTECT || err == ERROR_DIRECTORY)
      return false;
    return WinStatus(err, dir, "cannot test for write access");
  }

  // GetDiskFreeSpaceExW wants a folder: a file's (or a missing path's) is measured on its folder.
  Result<uint64_t> FreeSpace(const std::string& path) override {
    const DWORD attrs = ::GetFileAttributesW(Widen(path).c_str());
    const std::string dir =
        attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0 ? path : ParentDir(path);
    ULARGE_INTEGER avail{};
    if (!::GetDiskFreeSpaceExW(Widen(dir).c_str(), &avail, nullptr, nullptr))
      return WinStatus(::GetLastError(), dir, "cannot measure free space (GetDiskFreeSpaceExW)");
    return static_cast<uint64_t>(avail.QuadPart);
  }

  std::unique_ptr<FolderWatcher> NewFolderWatcher(const std::string& folder) override {
    return NewDirectoryChangesWatcher(folder);
  }

  const Clock& clock() override { return clock_; }
  void SleepFor(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
  Result<std::string> HostName() override { return internal::HostNameWin(); }
  Result<std::string> ExecutablePath() override { return internal::ExecutablePathWin(); }
  int64_t ProcessId() override { return static_cast<int64_t>(::GetCurrentProcessId()); }
  bool StdoutIsTerminal() override { return internal::StdoutIsConsole(); }
  Status ProbeTcpConnect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) override {
    return internal::ProbeTcpConnectWin(host, port, timeout);
  }

 private:
  // CreateFileW on a folder is refused with ERROR_ACCESS_DENIED: say what it is instead.
  static Status OpenError(DWORD err, const std::string& path, const std::wstring& w, const std::string& what) {
    const DWORD attrs = ::GetFileAttributesW(w.c_str());
    if (err == ERROR_ACCESS_DENIED && attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0)
      return InvalidArgument(path + ": " + what + ": is a folder");
    return WinStatus(err, path, what);
  }

  SystemClock clock_;
};

}  // namespace

Env* Env::Default() {
  static WinEnv* env = new WinEnv;  // never destroyed: used until the process exits
  return env;
}

namespace internal {

constexpr DWORD kErrorDiskQuotaExceeded = 1295;  // ERROR_DISK_QUOTA_EXCEEDED: missing from mingw's winerror.h

Status WinStatus(DWORD err, const std::string& path, const std::string& what) {
  std::string msg = path + ": " + service::internal::WindowsError(what, err);
  switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_DIRECTORY:  // a file where a folder is wanted (POSIX: ENOTDIR)
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
      return NotFound(msg);
    case ERROR_ACCESS_DENIED:
    case ERROR_WRITE_PROTECT:
    case ERROR_PRIVILEGE_NOT_HELD:
      return PermissionDenied(msg);
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case kErrorDiskQuotaExceeded:
      return ResourceExhausted(msg);
    case ERROR_NOT_SAME_DEVICE:
      return FailedPrecondition(msg);
    case ERROR_SHARING_VIOLATION:  // another program holds it open without sharing: retry later
    case ERROR_LOCK_VIOLATION:
      return Unavailable(msg);
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
    case ERROR_INVALID_NAME:
    case ERROR_CANT_ACCESS_FILE:  // a reparse point that cannot be followed
      return InvalidArgument(msg);
    default:
      return IoError(msg);
  }
}

}  // namespace internal
}  // namespace opescare::env
