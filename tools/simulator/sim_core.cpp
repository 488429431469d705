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

// Faults that answer before the request is even looked at, as a proxy or a broken server would.
std::optional<SimReply> SimCore::EarlyFault(const SimRequest& req, std::string_view path, bool heartbeat) {
  if (faults_.hang.Take(path)) return Fault("hang", ActionReply(ReplyAction::kHang));
  if (faults_.garbage.Take(path)) return Fault("garbage", ActionReply(ReplyAction::kGarbage));
  if (faults_.status.Take(path)) {
    int code = faults_.status_code;
    std::string error = faults_.status_error.empty() ? DefaultErrorCode(code) : faults_.status_error;
    std::string message = faults_.status_message.empty() ? "simulated " + std::to_string(code) : faults_.status_message;
    SimReply reply = ErrorReply(code, error, message);
    if (faults_.retry_after) reply.headers.push_back({"Retry-After", *faults_.retry_after});
    return Fault("status", std::move(reply));
  }
  if (!heartbeat && faults_.not_receipt_kind != "omit_ids" && faults_.not_receipt.Take(path)) {
    SimReply reply = NotReceiptReply(faults_.not_receipt_kind, req.Header("Idempotency-Key"));
    return Fault("not_receipt_" + faults_.not_receipt_kind, std::move(reply));
  }
  if (faults_.oversized.Take(path)) {
    SimReply reply;
    reply.body = OversizedBody(faults_.oversized_bytes);
    return Fault("oversized", std::move(reply));
  }
  return std::nullopt;
}

// Authentication: the key's SHA-256 against the stored hash, in constant time; then the timestamp's window.
std::optional<SimReply> SimCore::CheckCredentials(const SimRequest& req) const {
  const std::string* agent_id = req.Header("X-Bridge-Agent-ID");
  const std::string* key = req.Header("X-Bridge-Agent-Key");
  if (!agent_id || !key || agent_id->empty() || key->empty()) {
    return ErrorReply(401, "bridge_token_invalid", "missing X-Bridge-Agent-ID or X-Bridge-Agent-Key header");
  }
  auto agent = settings_.agents.find(*agent_id);
  static const Sha256Digest kNoAgent{};
  const Sha256Digest presented = Sha256Of(*key);
  const Sha256Digest& expected = agent == settings_.agents.end() ? kNoAgent : agent->second;
  bool key_ok = CRYPTO_memcmp(presented.data(), expected.data(), presented.size()) == 0;
  if (agent == settings_.agents.end() || !key_ok) {
    return ErrorReply(401, "bridge_token_invalid",
                      "the agent key is not valid for this agent ID: re-generate it in the OpesCare admin panel");
  }

  const std::string* ts_header = req.Header("X-Bridge-Timestamp");
  int64_t ts = 0;
  const int64_t now = UnixSeconds(SimNow());
  if (!ts_header) return ErrorReply(401, "timestamp_out_of_window", "missing X-Bridge-Timestamp header");
  if (!ParseUnixSeconds(*ts_header, &ts)) {
    return ErrorReply(401, "timestamp_out_of_window", "X-Bridge-Timestamp must be whole Unix seconds");
  }
  if (ts < now - settings_.timestamp_window_seconds || ts > now + settings_.timestamp_window_seconds) {
    return ErrorReply(401, "timestamp_out_of_window",
                      "X-Bridge-Timestamp is " + std::to_string(ts - now) + " s from the server clock (allowed ±" +
                          std::to_string(settings_.timestamp_window_seconds) + " s)");
  }
  return std::nullopt;
}

// Content-Type, Content-Encoding (*gzip set when the body is gzip) and, for a sync, the Idempotency-Key.
std::optional<SimReply> SimCore::CheckHeaders(const SimRequest& req, bool heartbeat, bool* gzip_body) {
  const std::string* content_type = req.Header("Content-Type");
  if (!content_type || !IsJsonContentType(*content_type)) {
    return ErrorReply(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  const std::string* encoding = req.Header("Content-Encoding");
  const bool gzip = encoding && EqualsIgnoreCase(*encoding, "gzip");
  *gzip_body = gzip;
  if (encoding && !gzip && !EqualsIgnoreCase(*encoding, "identity")) {
    return ErrorReply(415, "unsupported_content_encoding", "Content-Encoding must be gzip or absent");
  }
  if (gzip && faults_.reject_gzip) {
    return Fault("reject_gzip", ErrorReply(415, "unsupported_content_encoding", "gzip bodies are not accepted"));
  }

  const std::string* idempotency_key = req.Header("Idempotency-Key");
  if (!heartbeat) {
    if (!idempotency_key || idempotency_key->empty()) {
      return ErrorReply(400, "idempotency_key_missing", "the Idempotency-Key header is required");
    }
    if (processed_batches_.contains(*idempotency_key)) {
      ++counters_.batches_duplicate;
      return ErrorReply(409, "duplicate_batch", "this Idempotency-Key was already processed");
    }
  }
  return std::nullopt;
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

  if (std::optional<SimReply> early = EarlyFault(req, path, heartbeat)) return done(std::move(*early));
  if (std::optional<SimReply> refused = CheckCredentials(req)) return done(std::move(*refused));
  const std::string& agent_id = *req.Header("X-Bridge-Agent-ID");  // CheckCredentials found it
  bool gzip = false;
  std::optional<SimReply> bad_headers = CheckHeaders(req, heartbeat, &gzip);
  log.gzip = gzip;  // logged for a refused gzip body too
  if (bad_headers) return done(std::move(*bad_headers));

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
  return done(heartbeat ? HandleHeartbeat(req, body, agent_id) : HandleSync(req, body, agent_id, log));
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

}  // namespace opescare::simulator
