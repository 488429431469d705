// StatusServer: the read-only local HTTP server of the status page, /status.json, /metrics, /healthz, /readyz.
//
// Runs on the agent's io_context (Beast stays in server.cpp). Built so that slow or many clients cannot hurt
// the agent: GET/HEAD only, small request limits, a read timeout, and a cap on connections (when full, the
// oldest connection still waiting for a request is closed to make room). Answers are built by the pure
// functions of render.h / router.h from the snapshot the provider returns.
//
// Threading: Start(), Stop() and the destructor must run on the io_context's thread, or while it is not running.
// The io_context must be run by one thread (the agent's design); the provider and the health probe are called
// on it, so they must be cheap (return a precomputed snapshot).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/status/snapshot.h"
#include "agent/util/status.h"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace opescare {
class Clock;
}

namespace opescare::status {
namespace detail {
class StatusServerCore;
}

struct StatusServerLimits {
  std::size_t max_connections = 16;         // open connections at once; more evict the oldest idle one
  std::size_t max_header_bytes = 8 * 1024;  // request line + headers; larger gets 431
  std::chrono::seconds read_timeout{10};    // to receive one whole request (also the keep-alive idle time)
  std::chrono::seconds write_timeout{10};   // to send one response
};

class StatusServer {
 public:
  using SnapshotProvider = std::function<StatusSnapshot()>;
  using HealthProbe = std::function<bool()>;  // true while the event loop and the disk worker respond

  // `listen` is status.listen ("" turns the server off: Start() then does nothing). `logger` may be null.
  // `clock` (may be null: the system clock) must outlive the server.
  StatusServer(boost::asio::io_context& io, std::string listen, bool allow_remote, SnapshotProvider provider,
               HealthProbe healthy, std::shared_ptr<spdlog::logger> logger, StatusServerLimits limits = {},
               const Clock* clock = nullptr);
  ~StatusServer();  // Stop()
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Binds and starts accepting. Errors: kInvalidArgument for a malformed address, or a non-loopback one
  // without allow_remote; kFailedPrecondition when the address is taken or cannot be bound.
  Status Start();
  // Closes the listener and every connection. Idempotent.
  void Stop();

  // The bound port (useful with port 0), 0 when not listening.
  uint16_t port() const;
  // "http://127.0.0.1:9469/" once listening (brackets for IPv6), "" otherwise.
  std::string url() const;

 private:
  std::shared_ptr<detail::StatusServerCore> core_;  // shared with in-flight connections, which may end after Stop()
};

}  // namespace opescare::status
