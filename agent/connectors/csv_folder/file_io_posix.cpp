// POSIX file access for the file pipeline: fds, fsync, rename with a cross-filesystem fallback.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "agent/connectors/csv_folder/file_io.h"
#include "agent/util/files.h"

namespace opescare::csv_folder {
namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return path + ": " + what + ": " + std::strerror(errno);
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(Errno("write failed", path));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

class PosixInputFile final : public InputFile {
 public:
  PosixInputFile(int fd, std::string path, const struct stat& st) : fd_(fd), path_(std::move(path)), st_(st) {}
  ~PosixInputFile() override { ::close(fd_); }
  PosixInputFile(const PosixInputFile&) = delete;
  PosixInputFile& operator=(const PosixInputFile&) = delete;

  uint64_t size_at_open() const override { return static_cast<uint64_t>(st_.st_size); }

  Result<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return IoError(Errno("read failed", path_));
    }
  }

  Status Rewind() override {
    if (::lseek(fd_, 0, SEEK_SET) != 0) return IoError(Errno("seek failed", path_));
    return Status::Ok();
  }

  Result<bool> ChangedSinceOpen() override {
    struct stat now {};
    if (::stat(path_.c_str(), &now) != 0) return true;  // gone or replaced: not the file we read
    return now.st_ino != st_.st_ino || now.st_size != st_.st_size || now.st_mtim.tv_sec != st_.st_mtim.tv_sec ||
           now.st_mtim.tv_nsec != st_.st_mtim.tv_nsec;
  }

 private:
  int fd_;
  std::string path_;
  struct stat st_;
};

}  // namespace

Result<std::unique_ptr<InputFile>> InputFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(Errno("cannot open", path));
    if (errno == EACCES || errno == EPERM) return PermissionDenied(Errno("cannot open", path));
    return IoError(Errno("cannot open", path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = IoError(Errno("cannot stat", path));
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + ": not a regular file");
  }
  return std::unique_ptr<InputFile>(new PosixInputFile(fd, path, st));
}

struct ReportWriter::Impl {
  int fd = -1;
  std::string tmp_path;
  std::string buffer;
};

ReportWriter::ReportWriter(std::string final_path)
    : final_path_(std::move(final_path)), impl_(std::make_unique<Impl>()) {}

ReportWriter::~ReportWriter() {
  if (impl_->fd >= 0) {
    ::close(impl_->fd);
    ::unlink(impl_->tmp_path.c_str());
  }
}

namespace {

void AppendCsvCell(std::string_view cell, std::string* out) {
  if (cell.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(cell);
    return;
  }
  out->push_back('"');
  for (char c : cell) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace

Status ReportWriter::Add(int64_t row, std::string_view column, std::string_view reason) {
  if (impl_->fd < 0) {
    impl_->tmp_path = JoinPath(ParentOf(final_path_), "." + BaseName(final_path_) + ".tmp");
    impl_->fd = ::open(impl_->tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (impl_->fd < 0) return IoError(Errno("cannot create", impl_->tmp_path));
    impl_->buffer = "row,column,reason\n";
  }
  if (row > 0) impl_->buffer += std::to_string(row);
  impl_->buffer.push_back(',');
  AppendCsvCell(column, &impl_->buffer);
  impl_->buffer.push_back(',');
  AppendCsvCell(reason, &impl_->buffer);
  impl_->buffer.push_back('\n');
  ++lines_;
  if (impl_->buffer.size() >= (64u << 10)) {
    Status s = WriteAll(impl_->fd, impl_->buffer.data(), impl_->buffer.size(), impl_->tmp_path);
    impl_->buffer.clear();
    return s;
  }
  return Status::Ok();
}

Status ReportWriter::Commit() {
  if (impl_->fd < 0) return Status::Ok();
  Status s = WriteAll(impl_->fd, impl_->buffer.data(), impl_->buffer.size(), impl_->tmp_path);
  impl_->buffer.clear();
  if (s.ok() && ::fsync(impl_->fd) != 0) s = IoError(Errno("fsync failed", impl_->tmp_path));
  ::close(impl_->fd);
  impl_->fd = -1;
  if (s.ok()) s = RenameDurable(impl_->tmp_path, final_path_);
  if (!s.ok()) ::unlink(impl_->tmp_path.c_str());
  return s;
}

Result<FileObservation> StatRegularFile(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFound(Errno("gone", path));
    return IoError(Errno("cannot stat", path));
  }
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + ": not a regular file");
  return FileObservation{static_cast<uint64_t>(st.st_size),
                         static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

Result<std::chrono::system_clock::time_point> MovedHereAt(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return IoError(Errno("cannot stat", path));
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + ": not a regular file");
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(st.st_ctim.tv_sec) + std::chrono::nanoseconds(st.st_ctim.tv_nsec)));
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return IoError(Errno("cannot remove", path));
  return Status::Ok();
}

Status MoveFileDurable(const std::string& from, const std::string& to) {
  struct stat src {
  }, dst_dir{};
  if (::stat(from.c_str(), &src) != 0) {
    if (errno == ENOENT) return NotFound(Errno("cannot move", from));
    return IoError(Errno("cannot stat", from));
  }
  if (::stat(ParentOf(to).c_str(), &dst_dir) != 0) return IoError(Errno("cannot stat folder", ParentOf(to)));
  if (src.st_dev == dst_dir.st_dev) return RenameDurable(from, to);

  // Different filesystems: copy, make the copy durable, then remove the original.
  std::string tmp = JoinPath(ParentOf(to), "." + BaseName(to) + ".tmp");
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return IoError(Errno("cannot open", from));
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, src.st_mode & 0777);
  if (out < 0) {
    Status s = IoError(Errno("cannot create", tmp));
    ::close(in);
    return s;
  }
  Status s;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = IoError(Errno("read failed", from));
      break;
    }
    if (n == 0) break;
    s = WriteAll(out, buf, static_cast<size_t>(n), tmp);
    if (!s.ok()) break;
  }
  if (s.ok() && ::fsync(out) != 0) s = IoError(Errno("fsync failed", tmp));
  ::close(in);
  ::close(out);
  if (s.ok()) s = RenameDurable(tmp, to);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (::unlink(from.c_str()) != 0) return IoError(Errno("copied, but cannot remove", from));
  return FsyncDirectory(ParentOf(from));
}

}  // namespace opescare::csv_folder
