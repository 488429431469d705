// The sink's answers (receipt_sink.h).
#include "bench/receipt_sink.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "agent/http/gzip.h"
#include "agent/util/json_text.h"

namespace opescare::bench {
namespace {

namespace json = boost::json;

SinkAnswer Refuse(unsigned status, std::string_view message, SinkCounters& counters) {
  ++counters.refused;
  std::string body = "{\"error\":\"invalid_request\",\"message\":";
  AppendJsonString(body, message);
  return {status, body + "}"};
}

}  // namespace

SinkAnswer ReceiptSink::Handle(const SinkRequest& req) {
  counters_.bytes_received += req.body.size();
  if (req.method != "POST") return Refuse(405, "only POST", counters_);
  if (req.target == sync_path_) return Sync(req);
  if (req.target.size() >= 10 && req.target.substr(req.target.size() - 10) == "/heartbeat") {
    ++counters_.heartbeats;
    return {200, "{\"status\":\"ok\"}"};
  }
  return Refuse(404, "unknown path", counters_);
}

SinkAnswer ReceiptSink::Sync(const SinkRequest& req) {
  std::string inflated;
  std::string_view text = req.body;
  if (req.content_encoding == "gzip") {
    Result<std::string> raw = http::GzipDecompress(req.body, max_body_bytes_);
    if (!raw.ok()) return Refuse(400, raw.status().message(), counters_);
    inflated = std::move(*raw);
    text = inflated;
  } else if (!req.content_encoding.empty()) {
    return Refuse(415, "only gzip", counters_);
  }
  counters_.bytes_inflated += text.size();

  json::monotonic_resource arena;  // frees the parsed batch at once
  json::error_code ec;
  json::value body = json::parse(text, ec, &arena);
  const json::object* o = !ec ? body.if_object() : nullptr;
  const json::value* batch_id = o ? o->if_contains("batch_id") : nullptr;
  const json::value* records = o ? o->if_contains("records") : nullptr;
  if (!batch_id || !batch_id->is_string() || batch_id->get_string() != req.idempotency_key) {
    return Refuse(400, "expected a JSON object whose batch_id equals the Idempotency-Key", counters_);
  }
  if (!records || !records->is_array()) return Refuse(400, "\"records\" must be an array", counters_);

  std::string receipt = "{\"batch_id\":";
  AppendJsonString(receipt, req.idempotency_key);
  receipt += ",\"accepted\":[";
  bool first = true;
  for (const json::value& record : records->get_array()) {
    const json::value* id = record.is_object() ? record.get_object().if_contains("id") : nullptr;
    if (!id || !id->is_string()) return Refuse(400, "every record needs a string \"id\"", counters_);
    if (!first) receipt += ',';
    first = false;
    AppendJsonString(receipt, id->get_string());
  }
  // Counted once the whole batch is accepted: a refused batch leaves no trace, as on a server.
  for (const json::value& record : records->get_array()) {
    ++counters_.records_total;
    if (ids_.emplace(record.get_object().at("id").get_string()).second) {
      ++counters_.records_unique;
    } else {
      ++counters_.records_duplicate;
    }
  }
  ++counters_.batches;
  return {200, receipt + "]}"};
}

}  // namespace opescare::bench
