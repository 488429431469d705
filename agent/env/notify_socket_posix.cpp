// The Notifier's socket on POSIX: an AF_UNIX datagram socket, filesystem or abstract address.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "agent/env/notify_socket.h"

namespace opescare::service::internal {

Result<NotifySocket> OpenNotifySocket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() < 2 || (path[0] != '/' && path[0] != '@')) {
    return InvalidArgument("NOTIFY_SOCKET must be an absolute path or start with '@', got \"" + path + "\"");
  }
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("NOTIFY_SOCKET is longer than a socket address allows: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  // An abstract address starts with a NUL byte and is not NUL-terminated: its length says where it ends.
  if (path[0] == '@') addr.sun_path[0] = '\0';
  const socklen_t length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '/' ? 1 : 0));

  // Non-blocking: if the service manager stops reading, a notification is dropped rather than
  // stalling the event loop that sends it.
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return IoError(std::string("socket(AF_UNIX, SOCK_DGRAM): ") + std::strerror(errno));
  NotifySocket result;
  result.fd = fd;
  result.address.assign(reinterpret_cast<const char*>(&addr), length);
  return result;
}

Status SendNotify(int fd, const std::string& address, std::string_view message) {
  const ssize_t sent =
      ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(address.data()),
               static_cast<socklen_t>(address.size()));
  if (sent < 0) {
    const int err = errno;
    const std::string what = std::string("sd_notify sendto: ") + std::strerror(err);
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return Unavailable(what);
    return IoError(what);
  }
  if (static_cast<size_t>(sent) != message.size()) return IoError("sd_notify: datagram truncated");
  return Status::Ok();
}

void CloseNotifySocket(int fd) {
  if (fd >= 0) ::close(fd);
}

int64_t CurrentProcessId() { return static_cast<int64_t>(::getpid()); }

std::chrono::microseconds MonotonicNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::chrono::seconds(ts.tv_sec) +
         std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::nanoseconds(ts.tv_nsec));
}

}  // namespace opescare::service::internal
