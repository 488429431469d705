// Env::Default() off Windows: files and folders through POSIX calls (process_posix.cpp has the rest).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <thread>

#include "agent/env/env.h"
#include "agent/env/posix_internal.h"

namespace opescare::env {
namespace {

using internal::ErrnoStatus;

std::chrono::system_clock::time_point ToTimePoint(const struct timespec& ts) {
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

FileInfo ToFileInfo(const struct stat& st) {
  FileInfo info;
  if (S_ISREG(st.st_mode)) info.type = FileType::kRegular;
  else if (S_ISDIR(st.st_mode)) info.type = FileType::kDirectory;
  else if (S_ISLNK(st.st_mode)) info.type = FileType::kSymlink;
  info.size = static_cast<uint64_t>(st.st_size);
  info.mode = static_cast<unsigned>(st.st_mode & 07777);
  info.modified = ToTimePoint(st.st_mtim);
  info.changed = ToTimePoint(st.st_ctim);
  info.file_id = static_cast<uint64_t>(st.st_ino);
  return info;
}

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixSequentialFile() override { ::close(fd_); }
  PosixSequentialFile(const PosixSequentialFile&) = delete;
  PosixSequentialFile& operator=(const PosixSequentialFile&) = delete;

  Result<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return ErrnoStatus(errno, path_, "read failed");
    }
  }
  Status Rewind() override {
    if (::lseek(fd_, 0, SEEK_SET) != 0) return ErrnoStatus(errno, path_, "seek failed");
    return Status::Ok();
  }

 private:
  int fd_;
  std::string path_;
};

// Writes zeros up to `bytes` where posix_fallocate is not supported (e.g. some network filesystems).
int WriteZeros(int fd, uint64_t bytes) {
  static const char zeros[65536] = {};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno;
  uint64_t off = static_cast<uint64_t>(st.st_size);
  while (off < bytes) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof zeros, bytes - off));
    ssize_t w = ::pwrite(fd, zeros, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    off += static_cast<uint64_t>(w);
  }
  return 0;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  PosixWritableFile(const PosixWritableFile&) = delete;
  PosixWritableFile& operator=(const PosixWritableFile&) = delete;

  Status Append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, path_, "write failed");
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  Status Sync() override {
    if (::fsync(fd_) != 0) return ErrnoStatus(errno, path_, "fsync failed");
    return Status::Ok();
  }
  Status Allocate(uint64_t bytes) override {
    int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes));
    if (err == EOPNOTSUPP || err == EINVAL) err = WriteZeros(fd_, bytes);
    if (err != 0) return ErrnoStatus(err, path_, "cannot set aside " + std::to_string(bytes) + " bytes");
    return Status::Ok();
  }
  Status Close() override {
    int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) return ErrnoStatus(errno, path_, "close failed");
    return Status::Ok();
  }

 private:
  int fd_;
  std::string path_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path, bool follow_links) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (follow_links ? 0 : O_NOFOLLOW));
    if (fd < 0) return ErrnoStatus(errno, path, "cannot open");
    return std::unique_ptr<SequentialFile>(new PosixSequentialFile(fd, path));
  }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, OpenMode open,
                                                        unsigned mode) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
    if (open == OpenMode::kTruncate) flags |= O_TRUNC;
    if (open == OpenMode::kExclusive) flags |= O_EXCL;
    if (open == OpenMode::kAppend) flags |= O_APPEND;
    int fd = ::open(path.c_str(), flags, static_cast<mode_t>(mode));
    if (fd < 0) return ErrnoStatus(errno, path, "cannot create");
    return std::unique_ptr<WritableFile>(new PosixWritableFile(fd, path));
  }

  Result<FileInfo> Stat(const std::string& path, bool follow_links) override {
    struct stat st {};
    int rc = follow_links ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
    if (rc != 0) return ErrnoStatus(errno, path, "cannot stat");
    return ToFileInfo(st);
  }

  Status SetMode(const std::string& path, unsigned mode) override {
    if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0)
      return ErrnoStatus(errno, path, "cannot change the mode");
    return Status::Ok();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus(errno, from, "cannot move to " + to);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus(errno, path, "cannot remove");
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, dir, "cannot open directory");
    Status s;
    if (::fsync(fd) != 0) s = ErrnoStatus(errno, dir, "fsync failed");
    ::close(fd);
    return s;
  }

  Status CreateDirs(const std::string& dir, unsigned mode) override {
    std::error_code ec;
    std::filesystem::path p(dir);
    std::vector<std::filesystem::path> missing;
    for (auto q = p; !q.empty() && !std::filesystem::exists(q, ec); q = q.parent_path()) {
      missing.push_back(q);
      if (q == q.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST)
        return ErrnoStatus(errno, it->string(), "cannot create folder");
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return ErrnoStatus(errno, dir, "cannot create folder");
    if (!S_ISDIR(st.st_mode)) return IoError(dir + ": exists but is not a folder");
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus(errno, dir, "cannot list");
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      struct dirent* e = ::readdir(d);
      if (e == nullptr) break;
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return ErrnoStatus(err, dir, "cannot list");
    return names;
  }

  Result<bool> CanWriteDir(const std::string& dir) override { return ::access(dir.c_str(), W_OK | X_OK) == 0; }

  Result<uint64_t> FreeSpace(const std::string& path) override {
    struct statvfs vfs {};
    if (::statvfs(path.c_str(), &vfs) != 0) {
      if (errno != ENOENT) return ErrnoStatus(errno, path, "cannot measure free space (statvfs)");
      std::string dir = ParentDir(path);
      if (::statvfs(dir.c_str(), &vfs) != 0) return ErrnoStatus(errno, dir, "cannot measure free space (statvfs)");
    }
    return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }

  std::unique_ptr<FolderWatcher> NewFolderWatcher(const std::string& folder) override;

  const Clock& clock() override { return clock_; }
  void SleepFor(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
  Result<std::string> HostName() override { return internal::HostNamePosix(); }
  Result<std::string> ExecutablePath() override { return internal::ExecutablePathPosix(); }
  int64_t ProcessId() override { return static_cast<int64_t>(::getpid()); }
  bool StdoutIsTerminal() override { return ::isatty(STDOUT_FILENO) != 0; }
  Status ProbeTcpConnect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) override {
    return internal::ProbeTcpConnectPosix(host, port, timeout);
  }

 private:
  SystemClock clock_;
};

}  // namespace

std::unique_ptr<FolderWatcher> NewInotifyWatcher(const std::string& folder);  // folder_watcher_posix.cpp

std::unique_ptr<FolderWatcher> PosixEnv::NewFolderWatcher(const std::string& folder) {
  return NewInotifyWatcher(folder);
}

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv;  // never destroyed: used until the process exits
  return env;
}

namespace internal {

Status ErrnoStatus(int err, const std::string& path, const std::string& what) {
  std::string msg = path + ": " + what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFound(msg);
    case EACCES:
    case EPERM:
      return PermissionDenied(msg);
    case ENOSPC:
    case EDQUOT:
      return ResourceExhausted(msg);
    case EXDEV:
      return FailedPrecondition(msg);
    case EEXIST:
    case EISDIR:
    case ELOOP:
      return InvalidArgument(msg);
    default:
      return IoError(msg);
  }
}

}  // namespace internal
}  // namespace opescare::env
