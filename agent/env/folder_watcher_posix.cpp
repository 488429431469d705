// The inotify watcher (Linux). Other POSIX systems get the scan-only watcher (env.cpp).
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/env/env.h"

#if defined(__linux__)
#include <sys/inotify.h>

namespace opescare::env {
namespace {

constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

class InotifyWatcher final : public FolderWatcher {
 public:
  explicit InotifyWatcher(std::string folder) : folder_(std::move(folder)) {}
  ~InotifyWatcher() override { Stop(); }
  InotifyWatcher(const InotifyWatcher&) = delete;
  InotifyWatcher& operator=(const InotifyWatcher&) = delete;

  Status Start() override {
    Stop();
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) return Unavailable(std::string("inotify_init1: ") + std::strerror(errno));
    if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) {
      Status s = Unavailable(std::string("pipe2: ") + std::strerror(errno));
      Stop();
      return s;
    }
    return AddWatch();
  }

  void Stop() override {
    if (fd_ >= 0) ::close(fd_);
    for (int& w : wake_) {
      if (w >= 0) ::close(w);
      w = -1;
    }
    fd_ = -1;
    wd_ = -1;
  }

  int NewWaitFd() const override { return fd_ < 0 ? -1 : ::fcntl(fd_, F_DUPFD_CLOEXEC, 0); }

  Result<WatchEvents> Drain() override {
    WatchEvents events;
    if (fd_ < 0) return events;
    if (wd_ < 0) {  // the folder went away; it may be back
      if (AddWatch().ok()) events.rescan = true;
    }
    alignas(struct inotify_event) char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return IoError(std::string("reading inotify events: ") + std::strerror(errno));
      }
      if (n == 0) break;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<struct inotify_event*>(p);
        p += sizeof(struct inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) events.rescan = true;
        if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
          wd_ = -1;
          events.rescan = true;
        }
        if (ev->len > 0 && !(ev->mask & IN_ISDIR)) events.names.emplace_back(ev->name);
      }
    }
    return events;
  }

  Result<WatchEvents> Wait(std::chrono::milliseconds timeout) override {
    if (fd_ < 0) return FailedPrecondition("the folder watcher is not started");
    struct pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int ms = timeout.count() > 24 * 3600 * 1000 ? 24 * 3600 * 1000 : static_cast<int>(timeout.count());
    if (ms < 0) ms = 0;
    int rc = ::poll(fds, 2, ms);
    if (rc < 0 && errno != EINTR) return IoError(std::string("poll: ") + std::strerror(errno));
    if (rc > 0 && (fds[1].revents & POLLIN)) {
      char drain[64];
      while (::read(wake_[0], drain, sizeof drain) > 0) {
      }
    }
    return Drain();
  }

  void Wake() override {
    if (wake_[1] >= 0) {
      char c = 1;
      ssize_t rc = ::write(wake_[1], &c, 1);  // a full pipe already means "wake up"
      (void)rc;
    }
  }

 private:
  Status AddWatch() {
    wd_ = ::inotify_add_watch(fd_, folder_.c_str(), kMask);
    if (wd_ < 0) return Unavailable("inotify_add_watch " + folder_ + ": " + std::strerror(errno));
    return Status::Ok();
  }

  std::string folder_;
  int fd_ = -1;
  int wd_ = -1;
  int wake_[2] = {-1, -1};
};

}  // namespace

std::unique_ptr<FolderWatcher> NewInotifyWatcher(const std::string& folder) {
  return std::make_unique<InotifyWatcher>(folder);
}

}  // namespace opescare::env

#else

namespace opescare::env {
std::unique_ptr<FolderWatcher> NewInotifyWatcher(const std::string&) { return NewScanOnlyWatcher(); }
}  // namespace opescare::env

#endif  // __linux__
