// The simulator's brain, free of I/O: checks requests like a strict OpesCare, de-duplicates, counts,
// injects faults, and answers the /_sim/ admin API. The server feeds it parsed requests.
#pragma once

#include <boost/json/value.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/util/hash.h"
#include "tools/simulator/faults.h"

namespace spdlog {
class logger;
}

namespace opescare::simulator {

// Unix seconds, fractional, of a wall-clock time (the simulator's JSON and logs).
inline double ToUnix(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

struct HeaderField {
  std::string name;
  std::string value;
};

struct SimRequest {
  std::string method;
  std::string target;  // origin-form: path and query
  std::vector<HeaderField> headers;
  std::string body;  // as received on the wire
  bool tls = false;
  bool admin_listener = false;                     // arrived on --admin-port, which serves only /_sim/
  std::chrono::system_clock::time_point received;  // real wall clock

  // The first header with this name (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

enum class ReplyAction {
  kRespond,   // write the HTTP response
  kDrop,      // close the TCP connection at once with a reset, answering nothing
  kGarbage,   // write bytes that are not HTTP, then close
  kHang,      // never answer; keep the connection open until the client gives up
  kTruncate,  // write the status line, headers and half the body, then reset the connection
};

struct SimReply {
  ReplyAction action = ReplyAction::kRespond;
  int status = 200;
  std::string body;                  // JSON
  std::vector<HeaderField> headers;  // besides Date, Server, Content-Type, Content-Length
  std::chrono::milliseconds delay{0};
  bool close = false;  // Connection: close after this response
  std::string error;   // the body's error code, for logs and GET /_sim/requests (not sent as a header)
};

// Settings from the command line; agents and facilities can also change through POST /_sim/config.
struct SimSettings {
  std::unordered_map<std::string, Sha256Digest> agents;  // agent id -> SHA-256 of its key
  std::set<std::string> facilities;                      // empty: any facility
  int64_t clock_offset_seconds = 0;                      // the simulator's clock = real clock + offset
  int64_t timestamp_window_seconds = 300;                // accepted |X-Bridge-Timestamp - clock|
  std::string heartbeat_path = "/api/v1/bridge/heartbeat";
  std::string sync_path = "/api/v1/bridge/sync";
  size_t max_body_bytes = 64u << 20;       // wire body and inflated body
  size_t keep_heartbeats = 100;            // heartbeat requests kept for GET /_sim/heartbeats
  size_t keep_requests = 10000;            // bridge requests kept for GET /_sim/requests
  size_t max_stored_payloads = 2'000'000;  // beyond this, record ids are kept for de-duplication only
};

// Parses 64 hex digits (either case) into a digest.
bool ParseSha256Hex(std::string_view hex, Sha256Digest* out);

// Not thread-safe: the server calls it from its single I/O thread.
class SimCore {
 public:
  SimCore(SimSettings settings, std::shared_ptr<spdlog::logger> log);
  SimCore(const SimCore&) = delete;
  SimCore& operator=(const SimCore&) = delete;

  // Decides the answer to one complete request. Consumes req.body.
  SimReply Handle(SimRequest& req);

  // A request the server could not read whole (body or header too large): counts it, returns the answer.
  SimReply RejectUnreadable(int status, std::string_view error, std::string_view message);

  // Connection-level events, for the counters.
  void OnConnection() { ++counters_.connections; }
  void OnTlsHandshake(bool ok) { ++(ok ? counters_.tls_handshakes : counters_.tls_handshake_failures); }
  void OnOutageDrop() { ++counters_.outage_dropped_connections; }

  // The simulator's clock (real clock + offset): the window check and the Date header use it.
  std::chrono::system_clock::time_point SimNow() const;
  const Faults& faults() const { return faults_; }
  const SimSettings& settings() const { return settings_; }

  // Loads a fault patch (the --faults-file contents); same rules as POST /_sim/faults.
  Status ApplyFaults(const boost::json::object& patch);

 private:
  struct Counters {
    uint64_t connections = 0, tls_handshakes = 0, tls_handshake_failures = 0, outage_dropped_connections = 0;
    uint64_t requests_total = 0, admin_requests = 0, bytes_received = 0, bytes_inflated = 0, gzip_requests = 0;
    uint64_t bytes_sent = 0, gzip_responses = 0;  // bridge response bodies as written (after gzip)
    std::map<int, uint64_t> requests_by_status;
    uint64_t heartbeats = 0, heartbeat_requests = 0;
    uint64_t batches = 0, batches_duplicate = 0, batches_refused = 0, batches_reset = 0, sync_requests = 0;
    uint64_t records_total = 0, records_unique = 0, records_duplicate = 0, records_duplicate_mismatch = 0,
             records_rejected = 0;
    std::map<std::string, uint64_t> faults_applied;
  };
  // One bridge request as GET /_sim/requests shows it.
  struct RequestLogEntry {
    double unix_time = 0, sim_time = 0;
    std::string method, path, outcome = "answered", error, idempotency_key, agent_id;
    int status = 0;
    bool tls = false, gzip = false, response_gzip = false;
    uint64_t body_bytes = 0, response_bytes = 0;
    int64_t records = -1, accepted = 0, rejected = 0, duplicates = 0;
  };
  struct StoredRecord {
    std::string id, type, data_json, source_json;  // data/source as JSON text; source "" when absent
    uint32_t batch = 0;                            // index into batch_ids_
  };

  SimReply HandleBridge(SimRequest& req, std::string_view path, RequestLogEntry& log);
  // HandleBridge's steps before the body; each returns the answer that ends the request, or nullopt.
  std::optional<SimReply> EarlyFault(const SimRequest& req, std::string_view path, bool heartbeat);
  std::optional<SimReply> CheckCredentials(const SimRequest& req) const;
  std::optional<SimReply> CheckHeaders(const SimRequest& req, bool heartbeat, bool* gzip_body);
  SimReply HandleHeartbeat(const SimRequest& req, const boost::json::value& body, std::string_view agent_id);
  SimReply HandleSync(const SimRequest& req, const boost::json::value& body, std::string_view agent_id,
                      RequestLogEntry& log);
  SimReply HandleAdmin(SimRequest& req);
  SimReply ErrorReply(int status, std::string_view error, std::string_view message) const;
  // The agent_id / facility_id checks both endpoints share; false with *error set when they fail.
  bool CheckEnvelope(const boost::json::object& body, std::string_view agent_id, SimReply* error) const;
  SimReply Fault(std::string_view name, SimReply reply);
  // Content-Encoding: gzip on a bridge answer with a body, when the request's Accept-Encoding takes gzip.
  void MaybeGzip(const SimRequest& req, SimReply& reply, RequestLogEntry& log);
  void RememberHeartbeat(const SimRequest& req, std::string_view body_text, const SimReply& reply);
  void Finish(const SimReply& reply, RequestLogEntry& log);

  boost::json::value StatsJson() const;
  SimReply RecordsReply(std::string_view query) const;
  SimReply RequestsReply() const;
  SimReply ConfigReply() const;
  Status ApplyConfig(const boost::json::object& patch);
  void Reset();

  SimSettings settings_;
  std::shared_ptr<spdlog::logger> log_;
  Faults faults_;
  Counters counters_;
  std::unordered_set<std::string> processed_batches_;          // Idempotency-Keys answered with success
  std::vector<std::string> batch_ids_;                         // batches that delivered at least one record
  std::deque<StoredRecord> records_;                           // unique accepted records, in arrival order
  // id (viewing records_) -> position. Open addressing: one cache line per lookup at 200k records, where a
  // node-based map walked three (a third of the simulator's CPU in a drain benchmark).
  boost::unordered_flat_map<std::string_view, size_t> record_index_;
  std::deque<boost::json::value> heartbeats_;
  std::deque<RequestLogEntry> requests_;
};

}  // namespace opescare::simulator
