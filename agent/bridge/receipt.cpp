// Receipt parsing: strict about the shape (a record leaves the outbox only on a receipt that names it),
// and specific about the likely cause when a 2xx body is not a receipt.
#include "agent/bridge/receipt.h"

#include <algorithm>
#include <boost/json/error.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <unordered_set>

namespace opescare::bridge {
namespace json = boost::json;

namespace {

ReceiptCheck Not(NotReceiptReason reason, std::string cause) {
  ReceiptCheck c;
  c.reason = reason;
  c.cause = std::move(cause);
  return c;
}

std::string_view TrimLeft(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);  // a UTF-8 BOM, as some proxies send
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  return s;
}

// Parses the whole body into storage; *truncated tells a document that stops early from one that is not JSON.
std::optional<json::value> ParseJson(std::string_view text, bool* truncated, json::storage_ptr storage) {
  json::parse_options options;
  options.max_depth = 16;
  json::stream_parser p({}, options);
  p.reset(std::move(storage));
  boost::system::error_code ec;
  p.write(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  *truncated = ec == json::error::incomplete;
  if (ec) return std::nullopt;
  return p.release();
}

const char* KindOf(const json::value& v) {
  if (v.is_array()) return "an array";
  if (v.is_string()) return "a string";
  if (v.is_null()) return "null";
  if (v.is_bool()) return "a boolean";
  return "a number";
}

bool IsId(const json::value& v) { return v.is_string() && !v.get_string().empty(); }

// Reads an optional string field of a rejected entry; false when present with another type.
bool OptionalString(const json::object& o, std::string_view key, std::string* out) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  if (!v->is_string()) return false;
  *out = std::string(v->get_string());
  return true;
}

ReceiptCheck WrongTypes(std::string what) {
  return Not(NotReceiptReason::kWrongTypes,
             "a receipt-like object whose " + what + ": a broken server or a proxy rewrote the answer");
}

}  // namespace

const char* NotReceiptReasonName(NotReceiptReason reason) {
  switch (reason) {
    case NotReceiptReason::kHtmlPage:
      return "html_page";
    case NotReceiptReason::kEmptyBody:
      return "empty_body";
    case NotReceiptReason::kTruncatedJson:
      return "truncated_json";
    case NotReceiptReason::kInvalidJson:
      return "invalid_json";
    case NotReceiptReason::kNotAnObject:
      return "not_an_object";
    case NotReceiptReason::kBatchIdMissing:
      return "batch_id_missing";
    case NotReceiptReason::kBatchIdMismatch:
      return "batch_id_mismatch";
    case NotReceiptReason::kNoLists:
      return "no_lists";
    case NotReceiptReason::kWrongTypes:
      return "wrong_types";
    case NotReceiptReason::kUnexpectedStatus:
      return "unexpected_status";
  }
  return "unknown";
}

ReceiptCheck ParseReceipt(std::string_view body, std::string_view batch_id,
                          const std::vector<std::string>& record_ids) {
  std::string_view text = TrimLeft(body);
  if (text.empty()) {
    return Not(NotReceiptReason::kEmptyBody,
               "an empty body: the response was cut short, or a proxy answered in OpesCare's place");
  }
  if (text.front() == '<') {
    return Not(NotReceiptReason::kHtmlPage,
               "an HTML page: a captive portal or a proxy's login page answered instead of OpesCare");
  }
  bool truncated = false;
  // A receipt names every record of its batch: one arena for its strings, not an allocation each. The
  // body is already bounded by the client's response limit, and so is the arena.
  json::monotonic_resource arena;
  std::optional<json::value> parsed = ParseJson(text, &truncated, &arena);
  if (!parsed) {
    if (truncated) return Not(NotReceiptReason::kTruncatedJson, "JSON that stops early: the response was cut short");
    return Not(NotReceiptReason::kInvalidJson,
               "a body that is not JSON: a proxy, a filter or a broken server answered instead of OpesCare");
  }
  if (!parsed->is_object()) {
    return Not(NotReceiptReason::kNotAnObject, std::string("JSON that is ") + KindOf(*parsed) +
                                                   ", not a receipt object: the sync_path may lead to another service");
  }
  const json::object& o = parsed->get_object();
  const json::value* bid = o.if_contains("batch_id");
  if (!bid || !bid->is_string()) {
    return Not(
        NotReceiptReason::kBatchIdMissing,
        "an object without a batch_id: not OpesCare's receipt (an old server, or the sync_path leads elsewhere)");
  }
  if (bid->get_string() != batch_id) {
    // The other id is not repeated: it came from outside and is not needed to act.
    return Not(NotReceiptReason::kBatchIdMismatch,
               "the receipt is for another batch: a caching proxy replayed an earlier answer?");
  }
  const json::value* acc = o.if_contains("accepted");
  const json::value* rej = o.if_contains("rejected");
  if (acc && acc->is_null()) acc = nullptr;
  if (rej && rej->is_null()) rej = nullptr;
  if (!acc && !rej) {
    return Not(
        NotReceiptReason::kNoLists,
        "a receipt with neither \"accepted\" nor \"rejected\": it names no record, so none can leave the outbox");
  }
  if (acc && !acc->is_array()) return WrongTypes("\"accepted\" is not an array");
  if (rej && !rej->is_array()) return WrongTypes("\"rejected\" is not an array");

  // Collect first, then restrict to the batch, so that a type error anywhere refuses the whole body.
  std::vector<std::string_view> accepted;
  std::vector<RejectedRecord> rejected;
  if (acc) {
    accepted.reserve(acc->get_array().size());
    for (const json::value& id : acc->get_array()) {
      if (!IsId(id)) return WrongTypes("\"accepted\" holds something other than a record id");
      accepted.push_back(id.get_string());
    }
  }
  if (rej) {
    for (const json::value& entry : rej->get_array()) {
      if (!entry.is_object()) return WrongTypes("\"rejected\" holds something other than an object");
      const json::object& e = entry.get_object();
      const json::value* id = e.if_contains("id");
      if (!id || !IsId(*id)) return WrongTypes("\"rejected\" holds an entry without a record id");
      RejectedRecord r{std::string(id->get_string()), "", ""};
      if (!OptionalString(e, "error", &r.error) || !OptionalString(e, "message", &r.message))
        return WrongTypes("\"rejected\" holds an error or message that is not text");
      if (r.error.empty()) r.error = "rejected";
      rejected.push_back(std::move(r));
    }
  }

  std::unordered_set<std::string_view> in_batch(record_ids.begin(), record_ids.end());
  std::unordered_set<std::string_view> named;  // each id counted once
  named.reserve(in_batch.size());
  ReceiptCheck out;
  Receipt& receipt = out.receipt.emplace();
  receipt.accepted.reserve(std::min(accepted.size(), in_batch.size()));
  std::unordered_set<std::string_view> rejected_ids;
  for (RejectedRecord& r : rejected) {
    auto it = in_batch.find(r.id);
    if (it == in_batch.end()) {
      ++receipt.foreign_ids;
      continue;
    }
    const std::string_view key = *it;                // views record_ids, which outlive this call
    if (!rejected_ids.insert(key).second) continue;  // listed twice: the first entry's error stands
    named.insert(key);
    receipt.rejected.push_back(std::move(r));
  }
  for (std::string_view id : accepted) {
    auto it = in_batch.find(id);
    if (it == in_batch.end()) {
      ++receipt.foreign_ids;
      continue;
    }
    if (rejected_ids.contains(*it)) continue;  // an id in both lists counts as rejected
    if (!named.insert(*it).second) continue;   // listed twice
    receipt.accepted.emplace_back(*it);
  }
  receipt.unnamed = in_batch.size() - named.size();
  return out;
}

}  // namespace opescare::bridge
