// TCP_NOTSENT_LOWAT and TCP_INFO on Linux (the kernel's own header: glibc's tcp_info stops before
// tcpi_notsent_bytes); elsewhere nothing.
#include "agent/env/socket_tuning.h"

#include <sys/socket.h>
#include <netinet/in.h>
#ifdef __linux__
#include <linux/tcp.h>
#endif

#include <cstddef>

namespace opescare::env {

#ifdef __linux__
bool SetUnsentLowWater(std::intptr_t native_socket, int bytes) {
  const int fd = static_cast<int>(native_socket);
  if (fd < 0 || bytes <= 0) return false;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes, sizeof bytes) != 0) return false;
  int now = 0;
  socklen_t len = sizeof now;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &now, &len) == 0 && now == bytes;
}

std::optional<TcpBacklog> ReadTcpBacklog(std::intptr_t native_socket) {
  const int fd = static_cast<int>(native_socket);
  if (fd < 0) return std::nullopt;
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
  // An older kernel fills a shorter struct (3.10 stops before tcpi_notsent_bytes): what it left out stays 0.
  auto has = [len](size_t end) { return static_cast<size_t>(len) >= end; };
  TcpBacklog b;
  b.unacked_bytes = static_cast<int64_t>(info.tcpi_unacked) * info.tcpi_snd_mss;
  b.rtt = std::chrono::microseconds(info.tcpi_rtt);
  b.recovering = info.tcpi_ca_state >= TCP_CA_Recovery;
  if (has(offsetof(tcp_info, tcpi_notsent_bytes) + sizeof info.tcpi_notsent_bytes))
    b.unsent_bytes = info.tcpi_notsent_bytes;
  if (has(offsetof(tcp_info, tcpi_delivery_rate) + sizeof info.tcpi_delivery_rate))
    b.delivery_rate = static_cast<int64_t>(info.tcpi_delivery_rate);
  if (has(offsetof(tcp_info, tcpi_min_rtt) + sizeof info.tcpi_min_rtt))
    b.min_rtt = std::chrono::microseconds(info.tcpi_min_rtt);
  return b;
}
#else
bool SetUnsentLowWater(std::intptr_t, int) { return false; }
std::optional<TcpBacklog> ReadTcpBacklog(std::intptr_t) { return std::nullopt; }
#endif

}  // namespace opescare::env
