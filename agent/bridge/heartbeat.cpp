// Heartbeat body building and outcome classification (see heartbeat.h).
#include "agent/bridge/heartbeat.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "agent/util/clock.h"

namespace opescare::bridge {
namespace json = boost::json;

std::string OpenSslVersion() { return OpenSSL_version(OPENSSL_VERSION); }

std::string SqliteVersion() { return sqlite3_libversion(); }

std::string BuildHeartbeatBody(const HeartbeatInputs& in) {
  json::object body;
  body["agent_id"] = in.agent_id;
  body["facility_id"] = in.facility_id;
  body["version"] = in.version;
  if (in.status) {
    const AgentStatus& s = *in.status;
    json::object queue;
    queue["pending"] = s.queue.pending;
    queue["dead"] = s.queue.dead;
    queue["oldest_pending_age_seconds"] =
        s.queue.oldest_pending_age_seconds ? json::value(*s.queue.oldest_pending_age_seconds) : json::value(nullptr);
    json::object status;
    status["hostname"] = s.hostname;
    status["os"] = s.os;
    status["uptime_seconds"] = s.uptime_seconds;
    status["queue"] = std::move(queue);
    status["last_sync_at"] = s.last_sync_at ? json::value(FormatIso8601Utc(*s.last_sync_at)) : json::value(nullptr);
    status["clock_offset_seconds"] = s.clock_offset_seconds;
    if (!s.faults.empty()) {
      json::array faults;
      for (const Fault& f : s.faults)
        faults.push_back(json::object{{"kind", f.kind}, {"message", f.message}, {"fix", f.fix}});
      status["faults"] = std::move(faults);
    }
    status["libraries"] = {{"openssl", s.openssl_version}, {"sqlite", s.sqlite_version}};
    body["status"] = std::move(status);
  }
  return json::serialize(body);
}

HeartbeatResult ClassifyHeartbeat(int status, std::string_view body, http::FailureStage stage,
                                  std::string_view transport_error, int64_t clock_offset_seconds) {
  HeartbeatResult r;
  r.http_status = status;
  if (status == 0) {
    r.message = std::string(transport_error);
    switch (stage) {
      case http::FailureStage::kTlsHandshake:
      case http::FailureStage::kTlsVerify:
        r.state = ConnectionState::kTlsError;
        break;
      case http::FailureStage::kProtocol:
      case http::FailureStage::kTooLarge:
        r.state = ConnectionState::kServerError;
        break;
      case http::FailureStage::kInsecure:
        r.state = ConnectionState::kConfigError;
        r.fix = "use an https:// server_url";
        break;
      default:
        r.state = ConnectionState::kUnreachable;
        break;
    }
    return r;
  }
  r.error = ParseErrorBody(body);
  std::string detail = "server answered " + std::to_string(status);
  if (r.error) {
    if (!r.error->error.empty()) detail += " " + r.error->error;
    if (!r.error->message.empty()) detail += ": " + r.error->message;
  }
  if (status >= 200 && status <= 299) {
    r.state = ConnectionState::kConnected;
    r.message = "heartbeat accepted (" + std::to_string(status) + ")";
  } else if (status == 401 || status == 403) {
    r.state = ConnectionState::kUnauthorized;
  } else if (status == 408 || status == 425 || status == 429 || status >= 500 || status < 400) {
    r.state = ConnectionState::kServerError;
  } else {
    r.state = ConnectionState::kConfigError;
  }
  if (r.state != ConnectionState::kConnected) r.message = detail;
  r.fix = HumanFix(status, r.error, clock_offset_seconds);
  if (r.fix.empty() && r.state == ConnectionState::kConfigError) {
    r.fix = "the server refused the heartbeat; check the configuration against the server's message";
  }
  return r;
}

HeartbeatResult ClassifyHeartbeat(const http::Outcome& outcome, int64_t clock_offset_seconds) {
  if (!outcome.response) return ClassifyHeartbeat(0, {}, outcome.stage, outcome.error, clock_offset_seconds);
  return ClassifyHeartbeat(outcome.response->status, outcome.response->body, http::FailureStage::kNone, {},
                           clock_offset_seconds);
}

}  // namespace opescare::bridge
