// The heartbeat (PROTOCOL.md "Heartbeat"): its body, and what its outcome says about the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/bridge/protocol.h"
#include "agent/http/client.h"
#include "agent/util/connection_state.h"
#include "agent/util/fault.h"

namespace opescare::bridge {

struct QueueStatus {
  int64_t pending = 0;
  int64_t dead = 0;
  std::optional<int64_t> oldest_pending_age_seconds;  // nullopt (JSON null) when nothing is pending
};

// "OpenSSL 3.0.x ..." and "3.40.1": the libraries this binary runs with (linked in, in the portable build), so
// a fleet on a vulnerable OpenSSL can be found from the heartbeats.
std::string OpenSslVersion();
std::string SqliteVersion();

// The optional "status" object: a plain snapshot the caller fills.
struct AgentStatus {
  std::string hostname;
  std::string os;  // OsName() normally
  int64_t uptime_seconds = 0;
  QueueStatus queue;
  std::optional<std::chrono::system_clock::time_point> last_sync_at;  // JSON null when never
  int64_t clock_offset_seconds = 0;
  // Faults the agent keeps running through (ARCHITECTURE.md "Durability rules"): a full disk, an outbox that
  // cannot be opened or written, a watch folder it cannot write... Sent as "faults": [{"kind", "message",
  // "fix"}] only when there are any.
  std::vector<Fault> faults;
  // Sent as "libraries": {"openssl", "sqlite"}; filled here so that every caller reports them.
  std::string openssl_version = OpenSslVersion();
  std::string sqlite_version = SqliteVersion();
};

struct HeartbeatInputs {
  std::string agent_id;
  std::string facility_id;
  std::string version;                // OB_VERSION normally
  std::optional<AgentStatus> status;  // unset when heartbeat.include_status is false
};

// {"agent_id", "facility_id", "version"[, "status": {...}]} as compact JSON.
std::string BuildHeartbeatBody(const HeartbeatInputs& inputs);

// The agent's connection state (agent/util/connection_state.h), as a heartbeat's outcome tells it.
using opescare::ConnectionState;
using opescare::ConnectionStateName;

struct HeartbeatResult {
  ConnectionState state = ConnectionState::kUnknown;
  int http_status = 0;             // 0 when no response
  std::optional<ErrorBody> error;  // the server's {"error","message"}, when it sent one
  std::string message;             // one line for logs and status: what happened
  std::string fix;                 // what a person should do (may be empty)
};

// Pure: status 0 means no response, and then stage/transport_error say why.
HeartbeatResult ClassifyHeartbeat(int status, std::string_view body, http::FailureStage stage,
                                  std::string_view transport_error, int64_t clock_offset_seconds);

HeartbeatResult ClassifyHeartbeat(const http::Outcome& outcome, int64_t clock_offset_seconds);

}  // namespace opescare::bridge
