// Windows: no unsent low-water mark (its send buffer follows the ideal send backlog), and the backlog is not
// read (SIO_TCP_INFO needs Windows 10 1703): a request counts as sent once it is written.
#include "agent/env/socket_tuning.h"

namespace opescare::env {

bool SetUnsentLowWater(std::intptr_t, int) { return false; }
std::optional<TcpBacklog> ReadTcpBacklog(std::intptr_t) { return std::nullopt; }

}  // namespace opescare::env
