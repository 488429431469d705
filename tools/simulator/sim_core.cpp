// The simulator's request handling: strict checks, de-duplication, counters and fault injection.
#include "tools/simulator/sim_core.h"

#include <openssl/crypto.h>
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
#include "tools/simulator/gzip.h"
#include "tools/simulator/validate.h"
#include "tools/simulator/wire_text.h"

namespace opescare::simulator {
namespace json = boost::json;
using std::chrono::system_clock;

namespace {

constexpr std::string_view kAdminPrefix = "/_sim/";

double ToUnix(system_clock::time_point t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

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

std::string ErrorBody(int status, std::string_view error, std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(out, error);
  out += ",\"message\":";
  AppendJsonString(out, message);
  out += ",\"status\":" + std::to_string(status) + "}";
  return out;
}

SimReply ActionReply(ReplyAction action) {
  SimReply r;
  r.action = action;
  return r;
}

SimReply JsonReply(const json::value& v) {
  SimReply r;
  r.body = json::serialize(v);
  return r;
}

// A syntactically valid JSON body of exactly n bytes (n >= 2), for the oversized-response fault.
std::string OversizedBody(size_t n) {
  constexpr std::string_view kHead = "{\"status\":\"ok\",\"padding\":\"";
  constexpr std::string_view kTail = "\"}";
  if (n < kHead.size() + kTail.size()) return std::string(std::max<size_t>(n, 2) - 2, ' ').insert(0, "{") + "}";
  std::string out;
  out.reserve(n);
  out += kHead;
  out.append(n - kHead.size() - kTail.size(), 'x');
  out += kTail;
  return out;
}

// A 200 that is not a receipt, as a captive portal, a truncating proxy or a caching proxy answers.
SimReply NotReceiptReply(std::string_view kind, const std::string* idempotency_key) {
  SimReply r;
  if (kind == "html") {
    r.body = "<!DOCTYPE html><html><head><title>Wi-Fi login</title></head><body>Please sign in</body></html>";
    r.headers.push_back({"Content-Type", "text/html; charset=utf-8"});
  } else if (kind == "empty") {
    r.body.clear();
  } else if (kind == "invalid_json") {
    r.body = "{\"batch_id\": \"" + (idempotency_key ? idempotency_key->substr(0, 64) : std::string()) + "\", \"accep";
  } else {  // other_batch: an earlier answer replayed
    r.body = "{\"batch_id\":\"00000000-0000-4000-8000-000000000000\",\"accepted\":[],\"rejected\":[]}";
  }
  return r;
}

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

const std::string* SimRequest::Header(std::string_view name) const {
  for (const HeaderField& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return &h.value;
  }
  return nullptr;
}

bool ParseSha256Hex(std::string_view hex, Sha256Digest* out) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + 2 * i + 2) return false;
    (*out)[i] = static_cast<uint8_t>(v);
  }
  return true;
}

SimCore::SimCore(SimSettings settings, std::shared_ptr<spdlog::logger> log)
    : settings_(std::move(settings)), log_(std::move(log)) {}

system_clock::time_point SimCore::SimNow() const {
  return system_clock::now() + std::chrono::seconds(settings_.clock_offset_seconds);
}

Status SimCore::ApplyFaults(const json::object& patch) {
  return ApplyFaultPatch(patch, {settings_.heartbeat_path, settings_.sync_path}, std::chrono::steady_clock::now(),
                         &faults_);
}

SimReply SimCore::ErrorReply(int status, std::string_view error, std::string_view message) const {
  SimReply r;
  r.status = status;
  r.error = std::string(error);
  r.body = ErrorBody(status, error, message);
  return r;
}

SimReply SimCore::Fault(std::string_view name, SimReply reply) {
  ++counters_.faults_applied[std::string(name)];
  if (reply.error.empty()) reply.error = "fault:" + std::string(name);
  return reply;
}

SimReply SimCore::RejectUnreadable(int status, std::string_view error, std::string_view message) {
  SimReply reply = ErrorReply(status, error, message);
  reply.close = true;
  RequestLogEntry log;
  log.unix_time = ToUnix(system_clock::now());
  log.sim_time = log.unix_time + static_cast<double>(settings_.clock_offset_seconds);
  log.outcome = "unreadable";
  ++counters_.requests_total;
  Finish(reply, log);
  return reply;
}

SimReply SimCore::Handle(SimRequest& req) {
  std::string_view path = PathOf(req.target);
  if (path.starts_with(kAdminPrefix)) {
    ++counters_.admin_requests;
    SimReply reply = HandleAdmin(req);
    log_->debug("admin {} {} -> {}", req.method, req.target, reply.status);
    return reply;
  }
  RequestLogEntry log;
  log.unix_time = ToUnix(req.received);
  log.sim_time = log.unix_time + static_cast<double>(settings_.clock_offset_seconds);
  log.method = req.method;
  log.path = std::string(path.substr(0, 256));
  log.tls = req.tls;
  log.body_bytes = req.body.size();
  if (const std::string* key = req.Header("Idempotency-Key")) log.idempotency_key = key->substr(0, 128);
  if (const std::string* id = req.Header("X-Bridge-Agent-ID")) log.agent_id = id->substr(0, 128);
  ++counters_.requests_total;
  counters_.bytes_received += req.body.size();

  SimReply reply;
  if (req.admin_listener) {
    reply = ErrorReply(404, "not_found", "the admin port serves only /_sim/");
  } else if (faults_.InOutage(std::chrono::steady_clock::now())) {
    reply.action = ReplyAction::kDrop;
    reply = Fault("outage", std::move(reply));
  } else if (path != settings_.heartbeat_path && path != settings_.sync_path) {
    reply = ErrorReply(404, "not_found", "no such endpoint: " + std::string(path.substr(0, 256)));
  } else if (req.method != "POST") {
    reply = ErrorReply(405, "method_not_allowed", "use POST");
    reply.headers.push_back({"Allow", "POST"});
  } else {
    bool delayed = faults_.delay.Take(path);
    reply = HandleBridge(req, path, log);
    if (reply.action == ReplyAction::kRespond && faults_.truncate.Take(path)) {
      reply.action = ReplyAction::kTruncate;
      reply = Fault("reset_mid_response", std::move(reply));
    }
    if (delayed) {
      reply.delay = std::chrono::milliseconds(faults_.delay_ms);
      ++counters_.faults_applied["delay"];
    }
  }
  MaybeGzip(req, reply, log);
  Finish(reply, log);
  return reply;
}

void SimCore::MaybeGzip(const SimRequest& req, SimReply& reply, RequestLogEntry& log) {
  const bool has_body = reply.action == ReplyAction::kRespond || reply.action == ReplyAction::kTruncate;
  const std::string* accept = req.Header("Accept-Encoding");
  if (!has_body || reply.body.empty() || accept == nullptr || !AcceptsGzip(*accept)) return;
  reply.body = GzipDeflate(reply.body);
  reply.headers.push_back({"Content-Encoding", "gzip"});
  reply.headers.push_back({"Vary", "Accept-Encoding"});
  log.response_gzip = true;
  ++counters_.gzip_responses;
}

SimReply SimCore::HandleBridge(SimRequest& req, std::string_view path, RequestLogEntry& log) {
  const bool heartbeat = path == settings_.heartbeat_path;
  std::string inflated;
  std::string_view text = req.body;
  auto done = [&](SimReply reply) {
    if (heartbeat) RememberHeartbeat(req, text, reply);
    return reply;
  };
  if (heartbeat)
    ++counters_.heartbeat_requests;
  else
    ++counters_.sync_requests;

  // Faults that answer before the request is even looked at, as a proxy or a broken server would.
  if (faults_.hang.Take(path)) return done(Fault("hang", ActionReply(ReplyAction::kHang)));
  if (faults_.garbage.Take(path)) return done(Fault("garbage", ActionReply(ReplyAction::kGarbage)));
  if (faults_.status.Take(path)) {
    int code = faults_.status_code;
    std::string error = faults_.status_error.empty() ? DefaultErrorCode(code) : faults_.status_error;
    std::string message = faults_.status_message.empty() ? "simulated " + std::to_string(code) : faults_.status_message;
    SimReply reply = ErrorReply(code, error, message);
    if (faults_.retry_after) reply.headers.push_back({"Retry-After", *faults_.retry_after});
    return done(Fault("status", std::move(reply)));
  }
  if (!heartbeat && faults_.not_receipt_kind != "omit_ids" && faults_.not_receipt.Take(path)) {
    SimReply reply = NotReceiptReply(faults_.not_receipt_kind, req.Header("Idempotency-Key"));
    return done(Fault("not_receipt_" + faults_.not_receipt_kind, std::move(reply)));
  }
  if (faults_.oversized.Take(path)) {
    SimReply reply;
    reply.body = OversizedBody(faults_.oversized_bytes);
    return done(Fault("oversized", std::move(reply)));
  }

  // Authentication: the key's SHA-256 against the stored hash, in constant time.
  const std::string* agent_id = req.Header("X-Bridge-Agent-ID");
  const std::string* key = req.Header("X-Bridge-Agent-Key");
  if (!agent_id || !key || agent_id->empty() || key->empty()) {
    return done(ErrorReply(401, "bridge_token_invalid", "missing X-Bridge-Agent-ID or X-Bridge-Agent-Key header"));
  }
  auto agent = settings_.agents.find(*agent_id);
  static const Sha256Digest kNoAgent{};
  const Sha256Digest presented = Sha256Of(*key);
  const Sha256Digest& expected = agent == settings_.agents.end() ? kNoAgent : agent->second;
  bool key_ok = CRYPTO_memcmp(presented.data(), expected.data(), presented.size()) == 0;
  if (agent == settings_.agents.end() || !key_ok) {
    return done(ErrorReply(401, "bridge_token_invalid",
                           "the agent key is not valid for this agent ID: re-generate it in the OpesCare admin panel"));
  }

  const std::string* ts_header = req.Header("X-Bridge-Timestamp");
  int64_t ts = 0;
  const int64_t now = UnixSeconds(SimNow());
  if (!ts_header) return done(ErrorReply(401, "timestamp_out_of_window", "missing X-Bridge-Timestamp header"));
  if (!ParseUnixSeconds(*ts_header, &ts)) {
    return done(ErrorReply(401, "timestamp_out_of_window", "X-Bridge-Timestamp must be whole Unix seconds"));
  }
  if (ts < now - settings_.timestamp_window_seconds || ts > now + settings_.timestamp_window_seconds) {
    return done(ErrorReply(401, "timestamp_out_of_window",
                           "X-Bridge-Timestamp is " + std::to_string(ts - now) + " s from the server clock (allowed ±" +
                               std::to_string(settings_.timestamp_window_seconds) + " s)"));
  }

  const std::string* content_type = req.Header("Content-Type");
  if (!content_type || !IsJsonContentType(*content_type)) {
    return done(ErrorReply(415, "unsupported_media_type", "Content-Type must be application/json"));
  }
  const std::string* encoding = req.Header("Content-Encoding");
  const bool gzip = encoding && EqualsIgnoreCase(*encoding, "gzip");
  log.gzip = gzip;
  if (encoding && !gzip && !EqualsIgnoreCase(*encoding, "identity")) {
    return done(ErrorReply(415, "unsupported_content_encoding", "Content-Encoding must be gzip or absent"));
  }
  if (gzip && faults_.reject_gzip) {
    return done(Fault("reject_gzip", ErrorReply(415, "unsupported_content_encoding", "gzip bodies are not accepted")));
  }

  const std::string* idempotency_key = req.Header("Idempotency-Key");
  if (!heartbeat) {
    if (!idempotency_key || idempotency_key->empty()) {
      return done(ErrorReply(400, "idempotency_key_missing", "the Idempotency-Key header is required"));
    }
    if (processed_batches_.contains(*idempotency_key)) {
      ++counters_.batches_duplicate;
      return done(ErrorReply(409, "duplicate_batch", "this Idempotency-Key was already processed"));
    }
  }

  if (gzip) {
    ++counters_.gzip_requests;
    Result<std::string> body = GzipInflate(req.body, settings_.max_body_bytes);
    if (!body.ok()) {
      return done(body.status().code() == Code::kResourceExhausted
                      ? ErrorReply(413, "payload_too_large", body.status().message())
                      : ErrorReply(400, "invalid_gzip", body.status().message()));
    }
    inflated = std::move(body).value();
    text = inflated;
    counters_.bytes_inflated += inflated.size();
  }
  if (faults_.max_body_bytes > 0 && text.size() > faults_.max_body_bytes) {
    return done(Fault("max_body_bytes",
                      ErrorReply(413, "payload_too_large",
                                 "request body of " + std::to_string(text.size()) + " bytes is above the limit of " +
                                     std::to_string(faults_.max_body_bytes))));
  }

  json::monotonic_resource arena;  // frees the whole parsed batch at once
  json::error_code ec;
  json::value body = json::parse(text, ec, &arena);
  if (ec) return done(ErrorReply(400, "invalid_json", "the body is not valid JSON: " + ec.message()));
  if (!body.is_object()) return done(ErrorReply(400, "invalid_request", "the body must be a JSON object"));
  return done(heartbeat ? HandleHeartbeat(req, body, *agent_id) : HandleSync(req, body, *agent_id, log));
}

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

void SimCore::Finish(const SimReply& reply, RequestLogEntry& log) {
  if (reply.action == ReplyAction::kRespond) {
    log.status = reply.status;
    ++counters_.requests_by_status[reply.status];
  } else {
    log.status = reply.action == ReplyAction::kTruncate ? reply.status : 0;
    log.outcome = reply.action == ReplyAction::kDrop      ? "dropped"
                  : reply.action == ReplyAction::kGarbage ? "garbage"
                  : reply.action == ReplyAction::kHang    ? "hang"
                                                          : "truncated";
  }
  log.error = reply.error;
  if (reply.action == ReplyAction::kRespond || reply.action == ReplyAction::kTruncate) {
    log.response_bytes = reply.body.size();
    counters_.bytes_sent += reply.body.size();
  }
  if (log.records >= 0) {
    log_->info("{} {} agent={} batch={} records={} -> {} {} (accepted {}, rejected {}, duplicate {})", log.method,
               log.path, log.agent_id, log.idempotency_key, log.records, log.status, log.outcome, log.accepted,
               log.rejected, log.duplicates);
  } else {
    log_->info("{} {} agent={} -> {} {} {}", log.method, log.path, log.agent_id, log.status, log.outcome, log.error);
  }
  requests_.push_back(std::move(log));
  while (requests_.size() > settings_.keep_requests) requests_.pop_front();
}

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
