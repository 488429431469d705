// POSIX implementations of the file helpers.
#include "agent/util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace opescare {
namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return path + ": " + what + ": " + std::strerror(errno);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ParentOf(const std::string& path) {
  std::filesystem::path p(path);
  auto parent = p.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

Result<std::string> ReadFileLimited(const std::string& path, uint64_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return IoError(Errno("cannot open", path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return IoError(Errno("cannot stat", path));
  if (S_ISDIR(st.st_mode)) return InvalidArgument(path + ": is a directory, not a file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return InvalidArgument(path + ": file is " + std::to_string(st.st_size) + " bytes, more than the limit of " +
                           std::to_string(max_bytes));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(Errno("read failed", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return InvalidArgument(path + ": file grew beyond the size limit while reading");
  }
  return out;
}

Status FsyncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return IoError(Errno("cannot open directory", dir));
  if (::fsync(fd.get()) != 0) return IoError(Errno("fsync failed", dir));
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, const std::string& contents, unsigned mode) {
  std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (fd.get() < 0) return IoError(Errno("cannot create", tmp));
    size_t off = 0;
    while (off < contents.size()) {
      ssize_t n = ::write(fd.get(), contents.data() + off, contents.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        Status s = IoError(Errno("write failed", tmp));
        ::unlink(tmp.c_str());
        return s;
      }
      off += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      Status s = IoError(Errno("fsync failed", tmp));
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = IoError(Errno("cannot rename into place", path));
    ::unlink(tmp.c_str());
    return s;
  }
  return FsyncDirectory(ParentOf(path));
}

Status RenameDurable(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return IoError(Errno("cannot move to " + to, from));
  std::string to_dir = ParentOf(to), from_dir = ParentOf(from);
  Status s = FsyncDirectory(to_dir);
  if (!s.ok()) return s;
  if (from_dir != to_dir) return FsyncDirectory(from_dir);
  return Status::Ok();
}

Result<unsigned> FileMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return IoError(Errno("cannot stat", path));
  return static_cast<unsigned>(st.st_mode & 07777);
}

Result<uint64_t> FreeDiskBytes(const std::string& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) return IoError(Errno("cannot statvfs", path));
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

Result<uint64_t> FreeSpaceBytes(const std::string& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) {
    if (errno != ENOENT) return IoError(Errno("cannot measure free space (statvfs)", path));
    std::string dir = ParentOf(path);
    if (::statvfs(dir.c_str(), &vfs) != 0) return IoError(Errno("cannot measure free space (statvfs)", dir));
  }
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

namespace {

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

}  // namespace

Status PreallocateFile(const std::string& path, uint64_t bytes) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0)
    return errno == ENOSPC ? ResourceExhausted(Errno("cannot create", path)) : IoError(Errno("cannot create", path));
  int err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(bytes));
  if (err == EOPNOTSUPP || err == EINVAL) err = WriteZeros(fd.get(), bytes);
  if (err == 0 && ::fsync(fd.get()) != 0) err = errno;
  if (err != 0) {
    std::string msg = path + ": cannot set aside " + std::to_string(bytes) + " bytes: " + std::strerror(err);
    ::unlink(path.c_str());
    if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(msg);
    return IoError(msg);
  }
  return FsyncDirectory(ParentOf(path));
}

}  // namespace opescare
