// The platform-neutral parts of agent/env: ParentDir and the scan-only watcher.
#include "agent/env/env.h"

#include <condition_variable>
#include <mutex>

namespace opescare::env {
namespace {

class ScanOnlyWatcher final : public FolderWatcher {
 public:
  Status Start() override { return Status::Ok(); }
  void Stop() override { Wake(); }
  int NewWaitFd() const override { return -1; }
  Result<WatchEvents> Drain() override { return WatchEvents{}; }
  Result<WatchEvents> Wait(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return woken_; });
    woken_ = false;
    return WatchEvents{};
  }
  void Wake() override {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
};

}  // namespace

std::unique_ptr<FolderWatcher> NewScanOnlyWatcher() { return std::make_unique<ScanOnlyWatcher>(); }

std::string ParentDir(const std::string& path) {
#ifdef _WIN32
  size_t slash = path.find_last_of("/\\");
#else
  size_t slash = path.find_last_of('/');
#endif
  if (slash == std::string::npos) return ".";
  if (slash == 0) return path.substr(0, 1);
  return path.substr(0, slash);
}

}  // namespace opescare::env
