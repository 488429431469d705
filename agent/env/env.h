// Env: the platform seam (LevelDB's Env is the model). Every call the agent makes to the operating system -
// files, folders, free space, clocks, host name, its own path, folder watching - goes through an Env, so
// that no other component includes an OS header (ARCHITECTURE.md "Components"). Env::Default() is the
// platform's (env_posix.cpp, env_win.cpp); FaultEnv (fault_env.h) wraps one and injects failures in tests.
//
// Errors are Status values that say what to do next (agent/util/status.h), never exceptions:
//   kNotFound            the path (or its folder) does not exist
//   kPermissionDenied    the OS refused access: fix ownership or permissions
//   kResourceExhausted   the volume is full (ENOSPC, EDQUOT, ERROR_DISK_FULL): wait for room
//   kFailedPrecondition  RenameFile only: from and to are on different volumes (copy instead)
//   kInvalidArgument     the path is not what the call needs (a folder where a file is wanted ...)
//   kIoError             any other OS failure
// Every message is "<path>: <what>: <the OS's words>", never a file's content.
// All methods are thread-safe; a file object is used by one thread at a time.
//
// Files of agent/env (ob_component picks *_posix.cpp or *_win.cpp by platform):
//   env.h, env.cpp                      this interface and the helpers at the end (platform-neutral)
//   env_posix.cpp / env_win.cpp         Env::Default()
//   folder_watcher_posix.cpp / _win.cpp inotify / ReadDirectoryChangesW behind FolderWatcher
//   notify_socket.h, _posix.cpp, _win.cpp  the sd_notify datagram socket (agent/service's Notifier uses it)
//   socket_tuning.h, _posix.cpp, _win.cpp  TCP options Asio lacks (agent/http's unsent low-water mark)
//   fault_env.h, fault_env.cpp          FaultEnv for unit tests
//   the Windows service's OS side (*_win.cpp/.h moved from agent/service)
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/util/clock.h"
#include "agent/util/status.h"

namespace opescare::env {

// A file read from the start, in order. Closed by the destructor.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Up to n bytes; 0 at the end of the file. Retries interrupted calls itself.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  // Back to the first byte.
  virtual Status Rewind() = 0;
};

// A file written in order. The destructor closes without syncing; Close() reports close errors.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of data (short writes and interruptions are retried). kResourceExhausted on a full disk.
  virtual Status Append(std::string_view data) = 0;
  // Makes the written bytes durable (fsync / FlushFileBuffers).
  virtual Status Sync() = 0;
  // Sets aside `bytes` of allocated space from offset 0 (posix_fallocate, else zeros written; the file
  // grows to at least `bytes`). kResourceExhausted when the volume has no room.
  virtual Status Allocate(uint64_t bytes) = 0;
  virtual Status Close() = 0;
};

enum class FileType { kRegular, kDirectory, kSymlink, kOther };  // kOther: FIFO, socket, device

struct FileInfo {
  FileType type = FileType::kOther;
  uint64_t size = 0;
  unsigned mode = 0;                                // permission bits (07777); 0600-like values on Windows
  std::chrono::system_clock::time_point modified;   // mtime
  std::chrono::system_clock::time_point changed;    // ctime (a rename into a folder sets it); creation on Windows
  uint64_t file_id = 0;                             // inode / file index: equal ids = the same file
};

// How NewWritableFile opens.
enum class OpenMode {
  kTruncate,   // create or empty an existing file
  kExclusive,  // create; kInvalidArgument ("exists") when the path is taken
  kAppend,     // create or append to an existing file (no truncation)
};

// Tells which names in one folder may have changed. Events are hints only: callers stat() what they are told
// and scan the folder now and then, which also covers events the OS dropped.
struct WatchEvents {
  std::vector<std::string> names;  // names created, written and closed, or moved in (unfiltered)
  bool rescan = false;             // events were lost or are not named (overflow, Windows buffer): list the folder
};

// Start, Drain and Wait are called from one thread; Wake may be called from any thread.
class FolderWatcher {
 public:
  virtual ~FolderWatcher() = default;
  // Begins watching. kUnavailable when the folder cannot be watched (missing, no inotify): callers then fall
  // back to NewScanOnlyWatcher() and their scans.
  virtual Status Start() = 0;
  virtual void Stop() = 0;
  // The pending events, without blocking.
  virtual Result<WatchEvents> Drain() = 0;
  // Blocks until events arrive, Wake() is called, or the timeout passes; then drains.
  virtual Result<WatchEvents> Wait(std::chrono::milliseconds timeout) = 0;
  // Makes a blocked (or the next) Wait return at once, with no events.
  virtual void Wake() = 0;
  // POSIX: a new descriptor, owned and closed by the caller, that becomes readable when events are pending
  // (for an event loop such as asio::posix::stream_descriptor to wait on; never read it, call Drain).
  // -1 when there is none (Windows, a scan-only watcher): the caller then calls Wait or polls Drain.
  virtual int NewWaitFd() const = 0;
};

// A watcher without events: Wait only waits (for Wake or the timeout); callers' scans find files.
std::unique_ptr<FolderWatcher> NewScanOnlyWatcher();

class Env {
 public:
  virtual ~Env() = default;
  // The platform's Env; lives for the whole process.
  static Env* Default();

  // Files.
  // follow_links=false refuses a symbolic link (O_NOFOLLOW: kInvalidArgument) - exports are never links.
  virtual Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path,
                                                                    bool follow_links = true) = 0;
  // Never follows a symbolic link at path (kInvalidArgument). mode applies to a newly created file (POSIX
  // permission bits, less the umask; Windows ignores it).
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, OpenMode open,
                                                                unsigned mode = 0600) = 0;
  virtual Result<FileInfo> Stat(const std::string& path, bool follow_links = true) = 0;
  virtual Status SetMode(const std::string& path, unsigned mode) = 0;
  // Atomically replaces `to` (same volume only: kFailedPrecondition across volumes). Not durable by itself:
  // see RenameDurable in agent/util/files.h.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Removes a file (never a folder). kNotFound when it is gone.
  virtual Status RemoveFile(const std::string& path) = 0;

  // Folders.
  // Makes a create, rename or removal inside dir survive a power cut (fsync of the folder; OK on Windows,
  // where MoveFileEx write-through does it).
  virtual Status SyncDir(const std::string& dir) = 0;
  // Creates dir and its parents when missing (mode, less the umask, for the ones created). kIoError when dir
  // exists but is not a folder.
  virtual Status CreateDirs(const std::string& dir, unsigned mode = 0777) = 0;
  // Names directly inside dir (not "." or ".."), in no particular order.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // True when this process may create files in dir (access(W_OK|X_OK)); false with no error when refused.
  virtual Result<bool> CanWriteDir(const std::string& dir) = 0;
  // Free bytes for an unprivileged writer on the volume holding path (or its folder when path does not exist).
  virtual Result<uint64_t> FreeSpace(const std::string& path) = 0;
  // A watcher for folder (inotify, ReadDirectoryChangesW); not started.
  virtual std::unique_ptr<FolderWatcher> NewFolderWatcher(const std::string& folder) = 0;

  // The process and the machine.
  virtual const Clock& clock() = 0;
  virtual void SleepFor(std::chrono::milliseconds d) = 0;
  virtual Result<std::string> HostName() = 0;
  // The running executable's absolute path (/proc/self/exe, GetModuleFileNameW).
  virtual Result<std::string> ExecutablePath() = 0;
  virtual int64_t ProcessId() = 0;
  // True when standard output is a terminal (progress bars).
  virtual bool StdoutIsTerminal() = 0;

  // The network, for diagnostics only (HTTP goes through Asio): resolves host and opens a TCP connection
  // within timeout, then closes it. kNotFound with the resolver's words when the name does not resolve,
  // kUnavailable with the reason ("no answer within 5 s", "Connection refused") when no address connects.
  virtual Status ProbeTcpConnect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) = 0;
};

// Forwards every call to another Env; fault-injecting and test Envs override only what they change.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& p, bool f) override {
    return target_->NewSequentialFile(p, f);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p, OpenMode o, unsigned m) override {
    return target_->NewWritableFile(p, o, m);
  }
  Result<FileInfo> Stat(const std::string& p, bool f) override { return target_->Stat(p, f); }
  Status SetMode(const std::string& p, unsigned m) override { return target_->SetMode(p, m); }
  Status RenameFile(const std::string& f, const std::string& t) override { return target_->RenameFile(f, t); }
  Status RemoveFile(const std::string& p) override { return target_->RemoveFile(p); }
  Status SyncDir(const std::string& d) override { return target_->SyncDir(d); }
  Status CreateDirs(const std::string& d, unsigned m) override { return target_->CreateDirs(d, m); }
  Result<std::vector<std::string>> ListDir(const std::string& d) override { return target_->ListDir(d); }
  Result<bool> CanWriteDir(const std::string& d) override { return target_->CanWriteDir(d); }
  Result<uint64_t> FreeSpace(const std::string& p) override { return target_->FreeSpace(p); }
  std::unique_ptr<FolderWatcher> NewFolderWatcher(const std::string& f) override {
    return target_->NewFolderWatcher(f);
  }
  const Clock& clock() override { return target_->clock(); }
  void SleepFor(std::chrono::milliseconds d) override { target_->SleepFor(d); }
  Result<std::string> HostName() override { return target_->HostName(); }
  Result<std::string> ExecutablePath() override { return target_->ExecutablePath(); }
  int64_t ProcessId() override { return target_->ProcessId(); }
  bool StdoutIsTerminal() override { return target_->StdoutIsTerminal(); }
  Status ProbeTcpConnect(const std::string& h, uint16_t p, std::chrono::milliseconds t) override {
    return target_->ProbeTcpConnect(h, p, t);
  }

 private:
  Env* target_;
};

// The folder part of path ("." when none; "/" for "/x"). Both '/' and '\\' separate on Windows.
// The durable-write helpers built on Env (WriteFileAtomic, RenameDurable ...) are in agent/util/files.h.
std::string ParentDir(const std::string& path);

}  // namespace opescare::env
