// TCP settings and facts Asio has no option for, for agent/http's connections, by their native handle.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace opescare::env {

// Linux: TCP_NOTSENT_LOWAT. The socket then takes more data only while fewer than `bytes` wait in it unsent,
// so a large write is not buffered far ahead of what the network takes. Returns whether the option is set
// (read back); false on an invalid handle and where the OS has no such option (Windows).
bool SetUnsentLowWater(std::intptr_t native_socket, int bytes);

// What a TCP socket has been given and the peer has not yet acknowledged (Linux: TCP_INFO).
struct TcpBacklog {
  int64_t unsent_bytes = 0;            // still in the socket (0 where the kernel does not say)
  int64_t unacked_bytes = 0;           // sent and not yet acknowledged (segments x MSS)
  std::chrono::microseconds rtt{0};    // the smoothed round trip
  std::chrono::microseconds min_rtt{0};  // the least round trip seen (the path's, without queues); 0: not known
  int64_t delivery_rate = 0;           // bytes/s the peer has been acknowledging lately; 0: not known
  bool recovering = false;             // retransmitting lost segments (fast recovery or a timeout)
};

// nullopt on an invalid handle and where the OS does not say (Windows).
std::optional<TcpBacklog> ReadTcpBacklog(std::intptr_t native_socket);

}  // namespace opescare::env
