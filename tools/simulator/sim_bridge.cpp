// The simulator's bridge endpoints once a request passed the checks of sim_core.cpp: the envelope, the
// heartbeat, the sync batch and its receipt (PROTOCOL.md), and the heartbeats it remembers for the tests.
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

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsSecretHeader(std::string_view lower_name) {
  return lower_name == "x-bridge-agent-key" || lower_name == "authorization" || lower_name == "proxy-authorization" ||
         lower_name == "cookie";
}

}  // namespace

bool SimCore::CheckEnvelope(const json::object& body, std::string_view agent_id, SimReply* error) const {
  const json::value* agent = body.if_contains("agent_id");
  if (!agent || !agent->is_string()) {
    *error = ErrorReply(400, "invalid_request", "\"agent_id\" must be a string");
    return false;
  }
  if (agent->get_string() != agent_id) {
    *error = ErrorReply(403, "agent_mismatch", "\"agent_id\" does not match the X-Bridge-Agent-ID header");
    return false;
  }
  const json::value* facility = body.if_contains("facility_id");
  if (!facility || !facility->is_string() || facility->get_string().empty()) {
    *error = ErrorReply(400, "invalid_request", "\"facility_id\" must be a non-empty string");
    return false;
  }
  if (!settings_.facilities.empty() && !settings_.facilities.contains(std::string(facility->get_string()))) {
    *error = ErrorReply(404, "facility_not_found", "no facility with this facility_id");
    return false;
  }
  return true;
}

SimReply SimCore::HandleHeartbeat(const SimRequest&, const json::value& body, std::string_view agent_id) {
  const json::object& o = body.get_object();
  SimReply error;
  if (!CheckEnvelope(o, agent_id, &error)) return error;
  const json::value* version = o.if_contains("version");
  if (!version || !version->is_string() || version->get_string().empty()) {
    return ErrorReply(400, "invalid_request", "\"version\" must be a non-empty string");
  }
  if (const json::value* status = o.if_contains("status"); status && !status->is_object()) {
    return ErrorReply(400, "invalid_request", "\"status\" must be an object");
  }
  ++counters_.heartbeats;
  SimReply reply;
  reply.body = "{\"status\":\"ok\",\"server_time\":\"" + FormatIso8601Utc(SimNow()) + "\"}";
  return reply;
}

SimReply SimCore::HandleSync(const SimRequest& req, const json::value& body, std::string_view agent_id,
                             RequestLogEntry& log) {
  const json::object& o = body.get_object();
  SimReply error;
  if (!CheckEnvelope(o, agent_id, &error)) return error;
  const std::string& idempotency_key = *req.Header("Idempotency-Key");
  const json::value* batch_id = o.if_contains("batch_id");
  if (!batch_id || !batch_id->is_string() || !IsCanonicalUuid(batch_id->get_string())) {
    return ErrorReply(400, "invalid_request", "\"batch_id\" must be a UUID string");
  }
  if (batch_id->get_string() != idempotency_key) {
    return ErrorReply(400, "invalid_request", "\"batch_id\" must equal the Idempotency-Key header");
  }
  const json::value* sent_at = o.if_contains("sent_at");
  if (!sent_at || !sent_at->is_string() || !IsIso8601DateTime(sent_at->get_string())) {
    return ErrorReply(400, "invalid_request", "\"sent_at\" must be an ISO 8601 date-time string");
  }
  const json::value* records_value = o.if_contains("records");
  if (!records_value || !records_value->is_array() || records_value->get_array().empty()) {
    return ErrorReply(400, "invalid_request", "\"records\" must be a non-empty array");
  }
  const json::array& records = records_value->get_array();
  log.records = static_cast<int64_t>(records.size());

  // Pass 1: judge every record; a record without a usable id fails the whole batch.
  struct Verdict {
    std::string_view id;
    const json::object* record;
    std::string reason;  // "" when accepted
  };
  std::vector<Verdict> verdicts;
  verdicts.reserve(records.size());
  size_t refused = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const json::value* id = records[i].is_object() ? records[i].get_object().if_contains("id") : nullptr;
    if (!id || !id->is_string() || id->get_string().empty() || id->get_string().size() > kMaxRecordIdBytes) {
      return ErrorReply(400, "invalid_request",
                        "records[" + std::to_string(i) + "] must be an object with a non-empty string \"id\"");
    }
    Verdict v{id->get_string(), &records[i].get_object(), CheckRecord(records[i].get_object())};
    if (v.reason.empty() && !faults_.reject_ids.empty() && faults_.reject_ids.contains(std::string(v.id))) {
      v.reason = "record refused by the simulator (reject_ids fault)";
      ++refused;
    }
    verdicts.push_back(std::move(v));
  }
  if (refused > 0 && faults_.reject_ids_batch_status != 0) {
    ++counters_.batches_refused;
    return Fault("reject_ids_batch_status",
                 ErrorReply(faults_.reject_ids_batch_status, "invalid_batch",
                            "the batch holds " + std::to_string(refused) + " record(s) that cannot be accepted"));
  }
  if (refused > 0) counters_.faults_applied["reject_ids"] += refused;

  // Pass 2: the batch is processed; remember its key, store new records, answer per record.
  processed_batches_.insert(idempotency_key);
  ++counters_.batches;
  const auto batch_index = static_cast<uint32_t>(batch_ids_.size());
  batch_ids_.push_back(idempotency_key);
  std::string accepted = "{\"batch_id\":";  // the receipt (PROTOCOL.md "The receipt")
  AppendJsonString(accepted, idempotency_key);
  accepted += ",\"accepted\":[";
  std::string rejected;
  // omit_ids: only the first half of the batch is processed and named; the rest is left out of the receipt.
  size_t keep = verdicts.size();
  if (faults_.not_receipt_kind == "omit_ids" && faults_.not_receipt.Take(settings_.sync_path)) {
    keep = (verdicts.size() + 1) / 2;
    ++counters_.faults_applied["not_receipt_omit_ids"];
  }
  for (size_t i = 0; i < keep; ++i) {
    const Verdict& v = verdicts[i];
    ++counters_.records_total;
    if (!v.reason.empty()) {
      ++counters_.records_rejected;
      ++log.rejected;
      rejected += rejected.empty() ? "{\"id\":" : ",{\"id\":";
      AppendJsonString(rejected, v.id);
      rejected += ",\"error\":\"invalid_record\",\"message\":";
      AppendJsonString(rejected, v.reason);
      rejected += "}";
      continue;
    }
    if (log.accepted++ > 0) accepted += ',';
    AppendJsonString(accepted, v.id);
    std::string_view type = v.record->at("type").get_string();
    std::string data_json = json::serialize(v.record->at("data"));
    auto found = record_index_.find(v.id);
    if (found != record_index_.end()) {
      ++counters_.records_duplicate;
      ++log.duplicates;
      const StoredRecord& stored = records_[found->second];
      if (!stored.data_json.empty() && (stored.data_json != data_json || stored.type != type)) {
        ++counters_.records_duplicate_mismatch;
      }
      continue;
    }
    ++counters_.records_unique;
    StoredRecord& r = records_.emplace_back();
    r.id = std::string(v.id);
    r.type = std::string(type);
    if (records_.size() <= settings_.max_stored_payloads) {
      r.data_json = std::move(data_json);
      if (const json::value* source = v.record->if_contains("source")) r.source_json = json::serialize(*source);
    }
    r.batch = batch_index;
    record_index_.emplace(r.id, records_.size() - 1);
  }
  SimReply reply;
  reply.body = std::move(accepted) + "],\"rejected\":[" + rejected + "]}";
  if (faults_.reset.Take(settings_.sync_path)) {
    ++counters_.batches_reset;
    reply.action = ReplyAction::kDrop;
    return Fault("reset_after_processing", std::move(reply));
  }
  return reply;
}

void SimCore::RememberHeartbeat(const SimRequest& req, std::string_view body_text, const SimReply& reply) {
  json::object entry;
  entry["received_unix"] = ToUnix(req.received);
  entry["sim_unix"] = ToUnix(req.received) + static_cast<double>(settings_.clock_offset_seconds);
  entry["tls"] = req.tls;
  entry["status"] = reply.action == ReplyAction::kRespond ? reply.status : 0;
  entry["error"] = reply.error;
  json::object headers;
  for (const HeaderField& h : req.headers) {
    std::string name = ToLower(h.name);
    headers[name] = IsSecretHeader(name) ? std::string_view("REDACTED") : std::string_view(h.value);
  }
  entry["headers"] = std::move(headers);
  int64_t ts = 0;
  const std::string* ts_header = req.Header("X-Bridge-Timestamp");
  if (ts_header && ParseUnixSeconds(*ts_header, &ts)) {
    entry["timestamp_skew_seconds"] =
        ts - (static_cast<int64_t>(ToUnix(req.received)) + settings_.clock_offset_seconds);
  } else {
    entry["timestamp_skew_seconds"] = nullptr;
  }
  json::error_code ec;
  json::value body = json::parse(body_text, ec);
  entry["body"] = ec ? json::value(nullptr) : std::move(body);
  entry["body_bytes"] = body_text.size();
  heartbeats_.push_back(std::move(entry));
  while (heartbeats_.size() > settings_.keep_heartbeats) heartbeats_.pop_front();
}

}  // namespace opescare::simulator
