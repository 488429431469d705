// FaultEnv (fault_env.h): the injected failures, phrased as the POSIX Env phrases the real ones.
#include "agent/env/fault_env.h"

#include <algorithm>

namespace opescare::env {
namespace {

class FaultFile final : public WritableFile {
 public:
  FaultFile(std::unique_ptr<WritableFile> file, FaultEnv* env, std::string path)
      : file_(std::move(file)), env_(env), path_(std::move(path)) {}

  Status Append(std::string_view data) override {
    bool full = false;
    size_t fits = env_->Admit(path_, data.size(), &full);
    if (fits > 0) {
      if (Status s = file_->Append(data.substr(0, fits)); !s.ok()) return s;
    }
    if (full) return ResourceExhausted(path_ + ": write failed: No space left on device (injected)");
    return Status::Ok();
  }
  Status Sync() override {
    if (Status s = env_->BeforeSync(path_); !s.ok()) return s;
    return file_->Sync();
  }
  Status Allocate(uint64_t bytes) override {
    bool full = false;
    env_->Admit(path_, static_cast<size_t>(bytes), &full);
    if (full)
      return ResourceExhausted(path_ + ": cannot set aside " + std::to_string(bytes) +
                               " bytes: No space left on device (injected)");
    return file_->Allocate(bytes);
  }
  Status Close() override { return file_->Close(); }

 private:
  std::unique_ptr<WritableFile> file_;
  FaultEnv* env_;
  std::string path_;
};

}  // namespace

void FaultEnv::FailSync(std::string fragment) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_armed_ = true;
  sync_fragment_ = std::move(fragment);
}

void FaultEnv::FillDisk(std::string fragment, uint64_t bytes_left) {
  std::lock_guard<std::mutex> lock(mu_);
  disk_armed_ = true;
  disk_fragment_ = std::move(fragment);
  disk_left_ = bytes_left;
}

void FaultEnv::FailRename(std::string fragment, RenameFault when) {
  std::lock_guard<std::mutex> lock(mu_);
  rename_armed_ = true;
  rename_fragment_ = std::move(fragment);
  rename_when_ = when;
}

void FaultEnv::CrossVolume(std::string fragment) {
  std::lock_guard<std::mutex> lock(mu_);
  xdev_armed_ = true;
  xdev_fragment_ = std::move(fragment);
}

void FaultEnv::Heal() {
  std::lock_guard<std::mutex> lock(mu_);
  sync_armed_ = disk_armed_ = rename_armed_ = xdev_armed_ = false;
}

Status FaultEnv::BeforeSync(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Matches(sync_fragment_, sync_armed_, path)) return Status::Ok();
  ++faults_injected_;
  return IoError(path + ": fsync failed: Input/output error (injected)");
}

size_t FaultEnv::Admit(const std::string& path, size_t want, bool* full) {
  std::lock_guard<std::mutex> lock(mu_);
  *full = false;
  if (!Matches(disk_fragment_, disk_armed_, path)) return want;
  size_t fits = static_cast<size_t>(std::min<uint64_t>(want, disk_left_));
  disk_left_ -= fits;
  if (fits < want) {
    *full = true;
    ++faults_injected_;
  }
  return fits;
}

Result<std::unique_ptr<WritableFile>> FaultEnv::NewWritableFile(const std::string& path, OpenMode open,
                                                                unsigned mode) {
  auto file = target()->NewWritableFile(path, open, mode);
  if (!file.ok()) return file.status();
  return std::unique_ptr<WritableFile>(new FaultFile(std::move(*file), this, path));
}

Status FaultEnv::SyncDir(const std::string& dir) {
  if (Status s = BeforeSync(dir); !s.ok()) return s;
  return target()->SyncDir(dir);
}

Status FaultEnv::RenameFile(const std::string& from, const std::string& to) {
  RenameFault when;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Matches(xdev_fragment_, xdev_armed_, from)) {
      ++faults_injected_;
      return FailedPrecondition(from + ": cannot move to " + to + ": Invalid cross-device link (injected)");
    }
    if (!Matches(rename_fragment_, rename_armed_, from)) return target()->RenameFile(from, to);
    when = rename_when_;
    ++faults_injected_;
  }
  if (when == RenameFault::kAfter) {
    if (Status s = target()->RenameFile(from, to); !s.ok()) return s;
  }
  return IoError(from + ": cannot move to " + to + ": Input/output error (injected)");
}

}  // namespace opescare::env
