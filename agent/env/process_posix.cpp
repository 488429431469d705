// The machine and the process off Windows: host name, own path, and the TCP probe that doctor uses.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "agent/env/posix_internal.h"

namespace opescare::env::internal {
namespace {

// Tries each address in turn; Ok at the first that connects within timeout, else the last reason.
Status ConnectWithTimeout(const addrinfo* ai, std::chrono::milliseconds timeout) {
  Status last = Unavailable("no address");
  for (; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 0) {
        last = Unavailable("no answer within " + std::to_string(timeout.count() / 1000) + " s");
        ::close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      ::close(fd);
      return Status::Ok();
    }
    last = Unavailable(std::strerror(errno));
    ::close(fd);
  }
  return last;
}

}  // namespace

Status ProbeTcpConnectPosix(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return NotFound(gai_strerror(rc));
  Status s = ConnectWithTimeout(res, timeout);
  freeaddrinfo(res);
  return s;
}

Result<std::string> HostNamePosix() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return ErrnoStatus(errno, "gethostname", "cannot read the host name");
  return std::string(buf);
}

Result<std::string> ExecutablePathPosix() {
  std::error_code ec;
  std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return IoError("/proc/self/exe: cannot read the executable's path: " + ec.message());
  return exe;
}

}  // namespace opescare::env::internal
