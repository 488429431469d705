// The heartbeat loop: one heartbeat at start, then one every interval ±10 % jitter; never queued,
// its outcome is the agent's connection state, logged once per change.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "agent/bridge/heartbeat.h"
#include "agent/delivery/transport.h"
#include "agent/http/client.h"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace opescare::app {

struct HeartbeatOptions {
  std::string target = "/api/v1/bridge/heartbeat";
  std::chrono::seconds interval{60};
  std::string agent_id;
  std::string facility_id;
  bool include_status = true;
};

struct HeartbeatHooks {
  std::function<http::Headers()> make_headers;          // bridge headers with the corrected timestamp
  std::function<bridge::AgentStatus()> agent_status;    // the "status" object's contents
  std::function<void(const http::Outcome&)> observe;    // every outcome (clock offset)
  std::function<int64_t()> clock_offset_seconds;
  // Every result; changed tells whether the connection state differs from the previous one.
  std::function<void(const bridge::HeartbeatResult&, bool changed)> on_result;
};

// Threads: all methods on the network thread. The client (transport) must outlive the loop.
class HeartbeatLoop {
 public:
  HeartbeatLoop(boost::asio::io_context& net, http::Client& client, HeartbeatOptions options, HeartbeatHooks hooks,
                std::shared_ptr<spdlog::logger> logger);
  // The same over any transport (the unit tests' fake); its base_url names the server in the log.
  HeartbeatLoop(boost::asio::io_context& net, delivery::Transport transport, HeartbeatOptions options,
                HeartbeatHooks hooks, std::shared_ptr<spdlog::logger> logger);
  ~HeartbeatLoop();
  HeartbeatLoop(const HeartbeatLoop&) = delete;
  HeartbeatLoop& operator=(const HeartbeatLoop&) = delete;

  void Start();
  void Stop();
  void UpdateOptions(HeartbeatOptions options);  // from the next beat on
  bridge::ConnectionState state() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// The delay before the next beat: interval scaled by a factor in [0.9, 1.1] from unit_random in [0, 1).
std::chrono::milliseconds JitteredInterval(std::chrono::seconds interval, double unit_random);

}  // namespace opescare::app
