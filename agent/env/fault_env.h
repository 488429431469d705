// FaultEnv: an Env that forwards to another and fails on request, so unit tests can prove that real logic
// handles the failures the disk gives in the field: a failing fsync, a full disk, a rename that fails
// half-way. Thread-safe. Paths match when they contain the configured fragment ("" matches every path).
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "agent/env/env.h"

namespace opescare::env {

class FaultEnv final : public EnvWrapper {
 public:
  explicit FaultEnv(Env* target = Env::Default()) : EnvWrapper(target) {}

  // WritableFile::Sync (and SyncDir) of matching paths fails with kIoError (EIO), after writing nothing more.
  void FailSync(std::string fragment);
  // Appends to matching files get ENOSPC (kResourceExhausted) once `bytes_left` more bytes have been written;
  // the bytes that fit are written (a short write, as a real full disk gives). Allocate fails too.
  void FillDisk(std::string fragment, uint64_t bytes_left = 0);
  // Renames whose source matches fail. kBefore: nothing moved (EIO). kAfter: the file is moved, then the
  // call reports kIoError, as a rename on a network share that times out after doing its work.
  enum class RenameFault { kBefore, kAfter };
  void FailRename(std::string fragment, RenameFault when);
  // Renames whose source matches report kFailedPrecondition (EXDEV): the callers' cross-volume path.
  void CrossVolume(std::string fragment);
  // Back to a faithful forwarder.
  void Heal();

  uint64_t faults_injected() const { return faults_injected_; }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, OpenMode open,
                                                        unsigned mode) override;
  Status SyncDir(const std::string& dir) override;
  Status RenameFile(const std::string& from, const std::string& to) override;

  // Used by the files FaultEnv hands out.
  Status BeforeSync(const std::string& path);
  // How many of `want` bytes may be written to path now; sets *full when the rest must fail.
  size_t Admit(const std::string& path, size_t want, bool* full);

 private:
  static bool Matches(const std::string& fragment, bool armed, const std::string& path) {
    return armed && path.find(fragment) != std::string::npos;
  }

  mutable std::mutex mu_;
  bool sync_armed_ = false, disk_armed_ = false, rename_armed_ = false, xdev_armed_ = false;
  std::string sync_fragment_, disk_fragment_, rename_fragment_, xdev_fragment_;
  uint64_t disk_left_ = 0;
  RenameFault rename_when_ = RenameFault::kBefore;
  std::atomic<uint64_t> faults_injected_{0};
};

}  // namespace opescare::env
