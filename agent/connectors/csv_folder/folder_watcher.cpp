// The event-less watcher: the connector relies on its periodic scan.
#include "agent/connectors/csv_folder/folder_watcher.h"

#include <condition_variable>
#include <mutex>

namespace opescare::csv_folder {
namespace {

class ScanOnlyWatcher final : public FolderWatcher {
 public:
  Status Start() override { return Status::Ok(); }
  void Stop() override { Wake(); }
  int fd() const override { return -1; }
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

#if !defined(__linux__)
std::unique_ptr<FolderWatcher> NewFolderWatcher(const std::string&) { return NewScanOnlyWatcher(); }
#endif

}  // namespace opescare::csv_folder
