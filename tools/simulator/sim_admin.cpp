// The simulator's control endpoints under /_sim/ (main.cpp's usage lists them): stats, records, requests,
// config and faults, reset.
#include "tools/simulator/sim_core.h"

#include <spdlog/logger.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>

#include "agent/util/clock.h"
#include "agent/util/json_text.h"
#include "tools/simulator/validate.h"
#include "tools/simulator/wire_text.h"

namespace opescare::simulator {
namespace json = boost::json;
using std::chrono::system_clock;

namespace {

std::string_view QueryOf(std::string_view target) {
  size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// The raw value of name=value in a query string (admin parameters are plain numbers and flags).
std::optional<std::string_view> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

uint64_t ParseU64(std::optional<std::string_view> s, uint64_t fallback) {
  if (!s) return fallback;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  return ec == std::errc() && p == s->data() + s->size() ? v : fallback;
}

SimReply JsonReply(const json::value& v) {
  SimReply r;
  r.body = json::serialize(v);
  return r;
}

}  // namespace

json::value SimCore::StatsJson() const {
  const Counters& c = counters_;
  json::object by_status;
  for (const auto& [status, n] : c.requests_by_status) by_status[std::to_string(status)] = n;
  json::object faults;
  for (const auto& [name, n] : c.faults_applied) faults[name] = n;
  return json::object{
      {"heartbeats", c.heartbeats},
      {"heartbeat_requests", c.heartbeat_requests},
      {"sync_requests", c.sync_requests},
      {"batches", c.batches},
      {"batches_duplicate", c.batches_duplicate},
      {"batches_refused", c.batches_refused},
      {"batches_reset", c.batches_reset},
      {"records_total", c.records_total},
      {"records_unique", c.records_unique},
      {"records_duplicate", c.records_duplicate},
      {"records_duplicate_mismatch", c.records_duplicate_mismatch},
      {"records_rejected", c.records_rejected},
      {"requests_total", c.requests_total},
      {"requests_by_status", std::move(by_status)},
      {"admin_requests", c.admin_requests},
      {"bytes_received", c.bytes_received},
      {"bytes_inflated", c.bytes_inflated},
      {"gzip_requests", c.gzip_requests},
      {"bytes_sent", c.bytes_sent},
      {"gzip_responses", c.gzip_responses},
      {"connections", c.connections},
      {"tls_handshakes", c.tls_handshakes},
      {"tls_handshake_failures", c.tls_handshake_failures},
      {"outage_dropped_connections", c.outage_dropped_connections},
      {"faults_applied", std::move(faults)},
      {"clock_offset_seconds", settings_.clock_offset_seconds},
      {"sim_time", FormatIso8601Utc(SimNow())},
  };
}

SimReply SimCore::RecordsReply(std::string_view query) const {
  const uint64_t total = records_.size();
  const uint64_t offset = std::min(ParseU64(QueryParam(query, "offset"), 0), total);
  const uint64_t limit = ParseU64(QueryParam(query, "limit"), total);
  const uint64_t end = offset + std::min(limit, total - offset);
  const bool ids_only = QueryParam(query, "ids_only").has_value();
  SimReply reply;
  std::string& out = reply.body;
  out.reserve(static_cast<size_t>(end - offset) * (ids_only ? 40 : 320) + 128);
  out += "{\"total\":" + std::to_string(total) + ",\"offset\":" + std::to_string(offset) +
         ",\"count\":" + std::to_string(end - offset) +
         ",\"next_offset\":" + (end < total ? std::to_string(end) : std::string("null"));
  out += ids_only ? ",\"ids\":[" : ",\"records\":{";
  for (uint64_t i = offset; i < end; ++i) {
    const StoredRecord& r = records_[i];
    if (i > offset) out += ',';
    AppendJsonString(out, r.id);
    if (ids_only) continue;
    out += ":{\"type\":";
    AppendJsonString(out, r.type);
    out += ",\"data\":";
    out += r.data_json.empty() ? "null" : r.data_json;
    out += ",\"source\":";
    out += r.source_json.empty() ? "null" : r.source_json;
    out += ",\"batch_id\":";
    AppendJsonString(out, batch_ids_[r.batch]);
    out += '}';
  }
  out += ids_only ? "]}" : "}}";
  return reply;
}

SimReply SimCore::RequestsReply() const {
  json::array out;
  out.reserve(requests_.size());
  for (const RequestLogEntry& r : requests_) {
    json::object e{{"received_unix", r.unix_time},
                   {"sim_unix", r.sim_time},
                   {"method", r.method},
                   {"path", r.path},
                   {"status", r.status},
                   {"outcome", r.outcome},
                   {"error", r.error},
                   {"tls", r.tls},
                   {"gzip", r.gzip},
                   {"body_bytes", r.body_bytes},
                   {"response_gzip", r.response_gzip},
                   {"response_bytes", r.response_bytes},
                   {"agent_id", r.agent_id},
                   {"idempotency_key", r.idempotency_key}};
    if (r.records >= 0) {
      e["records"] = r.records;
      e["accepted"] = r.accepted;
      e["rejected"] = r.rejected;
      e["duplicates"] = r.duplicates;
    }
    out.push_back(std::move(e));
  }
  return JsonReply(out);
}

SimReply SimCore::ConfigReply() const {
  json::array agents, facilities;
  for (const auto& [id, digest] : settings_.agents) agents.emplace_back(id);
  for (const std::string& f : settings_.facilities) facilities.emplace_back(f);
  std::sort(agents.begin(), agents.end(),
            [](const json::value& a, const json::value& b) { return a.get_string() < b.get_string(); });
  return JsonReply(json::object{{"agents", std::move(agents)},
                                {"facilities", std::move(facilities)},
                                {"clock_offset_seconds", settings_.clock_offset_seconds},
                                {"timestamp_window_seconds", settings_.timestamp_window_seconds},
                                {"heartbeat_path", settings_.heartbeat_path},
                                {"sync_path", settings_.sync_path},
                                {"max_body_bytes", settings_.max_body_bytes}});
}

Status SimCore::ApplyConfig(const json::object& patch) {
  SimSettings s = settings_;
  for (const auto& kv : patch) {
    std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (key == "replace_agents") {
      if (!v.is_bool()) return InvalidArgument("\"replace_agents\" must be true or false");
    } else if (key == "agents") {
      if (!v.is_object()) return InvalidArgument("\"agents\" must be an object {id: sha256hex}");
      if (const json::value* r = patch.if_contains("replace_agents"); r && r->is_bool() && r->get_bool()) {
        s.agents.clear();
      }
      for (const auto& agent : v.get_object()) {
        Sha256Digest digest{};
        if (!agent.value().is_string() || !ParseSha256Hex(agent.value().get_string(), &digest)) {
          return InvalidArgument("agent \"" + std::string(agent.key().substr(0, 64)) + "\" needs 64 hex digits");
        }
        s.agents[std::string(agent.key())] = digest;
      }
    } else if (key == "remove_agents") {
      if (!v.is_array()) return InvalidArgument("\"remove_agents\" must be an array of ids");
      for (const json::value& id : v.get_array()) {
        if (!id.is_string()) return InvalidArgument("\"remove_agents\" must be an array of ids");
        s.agents.erase(std::string(id.get_string()));
      }
    } else if (key == "facilities") {
      if (!v.is_array()) return InvalidArgument("\"facilities\" must be an array of ids ([] accepts any)");
      s.facilities.clear();
      for (const json::value& id : v.get_array()) {
        if (!id.is_string()) return InvalidArgument("\"facilities\" must be an array of ids");
        s.facilities.emplace(id.get_string());
      }
    } else if (key == "clock_offset_seconds" || key == "timestamp_window_seconds") {
      if (!v.is_int64() && !v.is_uint64()) return InvalidArgument("\"" + std::string(key) + "\" must be an integer");
      int64_t n = v.is_int64() ? v.get_int64() : static_cast<int64_t>(v.get_uint64());
      if (n < -(int64_t{10} << 30) || n > (int64_t{10} << 30) || (key == "timestamp_window_seconds" && n < 0)) {
        return InvalidArgument("\"" + std::string(key) + "\" is out of range");
      }
      (key == "clock_offset_seconds" ? s.clock_offset_seconds : s.timestamp_window_seconds) = n;
    } else {
      return InvalidArgument("unknown config key \"" + std::string(key.substr(0, 64)) + "\"");
    }
  }
  settings_ = std::move(s);
  return Status::Ok();
}

void SimCore::Reset() {
  counters_ = {};
  faults_ = {};
  processed_batches_.clear();
  batch_ids_.clear();
  record_index_.clear();
  records_.clear();
  heartbeats_.clear();
  requests_.clear();
}

SimReply SimCore::HandleAdmin(SimRequest& req) {
  std::string_view path = PathOf(req.target);
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  auto parse_object = [&](json::value* out) -> bool {
    json::error_code ec;
    *out = json::parse(req.body.empty() ? std::string_view("{}") : std::string_view(req.body), ec);
    return !ec && out->is_object();
  };
  if (path == "/_sim/health" && get) return JsonReply(json::object{{"ok", true}});
  if (path == "/_sim/stats" && get) return JsonReply(StatsJson());
  if (path == "/_sim/records" && get) return RecordsReply(QueryOf(req.target));
  if (path == "/_sim/requests" && get) return RequestsReply();
  if (path == "/_sim/heartbeats" && get) {
    json::array out(heartbeats_.begin(), heartbeats_.end());
    return JsonReply(out);
  }
  if (path == "/_sim/faults" && get) return JsonReply(FaultsToJson(faults_, std::chrono::steady_clock::now()));
  if ((path == "/_sim/faults" && req.method == "DELETE") || (path == "/_sim/faults/clear" && post)) {
    faults_ = {};
    log_->info("faults cleared");
    return JsonReply(FaultsToJson(faults_, std::chrono::steady_clock::now()));
  }
  if (path == "/_sim/faults" && post) {
    json::value patch;
    if (!parse_object(&patch)) return ErrorReply(400, "invalid_json", "the body must be a JSON object");
    if (Status s = ApplyFaults(patch.get_object()); !s.ok()) return ErrorReply(400, "invalid_fault", s.message());
    log_->info("faults set: {}", req.body.substr(0, 512));
    return JsonReply(FaultsToJson(faults_, std::chrono::steady_clock::now()));
  }
  if (path == "/_sim/reset" && post) {
    Reset();
    log_->info("state reset");
    return JsonReply(json::object{{"ok", true}});
  }
  if (path == "/_sim/config" && get) return ConfigReply();
  if (path == "/_sim/config" && post) {
    json::value patch;
    if (!parse_object(&patch)) return ErrorReply(400, "invalid_json", "the body must be a JSON object");
    if (Status s = ApplyConfig(patch.get_object()); !s.ok()) return ErrorReply(400, "invalid_config", s.message());
    log_->info("config changed (clock offset {} s, window {} s, {} agents)", settings_.clock_offset_seconds,
               settings_.timestamp_window_seconds, settings_.agents.size());
    return ConfigReply();
  }
  return ErrorReply(404, "not_found", "no such admin endpoint (see opescare-simulator --help)");
}

}  // namespace opescare::simulator
