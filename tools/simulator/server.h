// The simulator's network side: HTTPS, plain HTTP and admin listeners on loopback (Boost.Beast, one thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "agent/util/status.h"
#include "tools/simulator/sim_core.h"

namespace opescare::simulator {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";  // must be a loopback address
  int https_port = 0;                      // 0: ephemeral; -1: no HTTPS listener
  int http_port = 0;                       // 0: ephemeral; -1: no plain HTTP listener
  int admin_port = 0;                      // 0: ephemeral; -1: none. Plain HTTP, /_sim/ only, never affected by faults
  // The TLS identity: PEM files, or PEM text (the certificate made at start).
  std::string cert_file, key_file;
  std::string cert_pem, key_pem;
  std::string tls_min_version = "1.2";  // "1.0" .. "1.3"; below 1.2 only for tests of refusing agents
  std::string tls_max_version;          // "" : no maximum
  std::chrono::seconds handshake_timeout{10};
  // A whole request, including the keep-alive wait for it: long, so that an agent beating every 60 s (+10 %)
  // finds its connection open; slow-client protection matters little on loopback.
  std::chrono::seconds read_timeout{120};
  std::chrono::seconds write_timeout{60};
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 64u << 20;
};

struct BoundPorts {
  int https = -1, http = -1, admin = -1;
};

// Owns the I/O context and every connection. Not thread-safe: Run() on one thread.
class Server {
 public:
  virtual ~Server() = default;
  // Binds the listeners (so ports() is known before Run); the core must outlive the server.
  static Result<std::unique_ptr<Server>> Create(SimCore& core, const ServerOptions& options,
                                                std::shared_ptr<spdlog::logger> log);
  virtual BoundPorts ports() const = 0;
  // Serves until SIGINT or SIGTERM, then closes every connection and returns.
  virtual void Run() = 0;
};

}  // namespace opescare::simulator
