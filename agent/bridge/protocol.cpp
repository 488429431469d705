// Response classification per PROTOCOL.md's table, and the human fixes for pauses.
#include "agent/bridge/protocol.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <algorithm>
#include <cstdlib>

#include "agent/bridge/clock_offset.h"

namespace opescare::bridge {
namespace json = boost::json;

namespace {

constexpr char kRegenerateKey[] = "re-generate the agent key in the OpesCare admin panel";

// Parses text as JSON; garbage, deep nesting and trailing bytes give a null value.
json::value ParseLenient(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 16;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) return nullptr;
  return v;
}

std::string StringField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

// {"rejected": [{"id", "error", "message"}]} of a 400/422: entries without a string id, or naming a record
// outside the batch, are skipped.
std::vector<RejectedRecord> RejectedOf(const json::object& o, const std::vector<std::string>& record_ids) {
  std::vector<RejectedRecord> out;
  auto it = o.find("rejected");
  if (it == o.end() || !it->value().is_array()) return out;
  for (const auto& entry : it->value().get_array()) {
    if (!entry.is_object()) continue;
    const auto& e = entry.get_object();
    RejectedRecord r{StringField(e, "id"), StringField(e, "error"), StringField(e, "message")};
    if (r.id.empty() || std::find(record_ids.begin(), record_ids.end(), r.id) == record_ids.end()) continue;
    if (r.error.empty()) r.error = "rejected";
    out.push_back(std::move(r));
  }
  return out;
}

Classification FromReceipt(int status, const std::string& body, std::string_view batch_id,
                           const std::vector<std::string>& record_ids) {
  Classification c;
  if (status != 200 && status != 201 && status != 202) {
    c.action = Action::kNotReceipt;
    c.not_receipt = NotReceiptReason::kUnexpectedStatus;
    c.not_receipt_cause = "HTTP " + std::to_string(status) +
                          ", which OpesCare does not answer a sync with (only 200, 201 or 202 carry a receipt)";
    return c;
  }
  ReceiptCheck check = ParseReceipt(body, batch_id, record_ids);
  if (!check.ok()) {
    c.action = Action::kNotReceipt;
    c.not_receipt = check.reason;
    c.not_receipt_cause = std::move(check.cause);
    return c;
  }
  c.action = Action::kAccepted;
  c.accepted = std::move(check.receipt->accepted);
  c.rejected = std::move(check.receipt->rejected);
  c.unnamed = check.receipt->unnamed;
  c.foreign_ids = check.receipt->foreign_ids;
  return c;
}

}  // namespace

const char* ActionName(Action a) {
  switch (a) {
    case Action::kAccepted:
      return "accepted";
    case Action::kNotReceipt:
      return "not_receipt";
    case Action::kDuplicateBatch:
      return "duplicate_batch";
    case Action::kSplit:
      return "split";
    case Action::kTooLarge:
      return "too_large";
    case Action::kUncompressed:
      return "uncompressed";
    case Action::kPauseAuth:
      return "pause_auth";
    case Action::kPauseConfig:
      return "pause_config";
    case Action::kTransient:
      return "transient";
  }
  return "unknown";
}

std::optional<ErrorBody> ParseErrorBody(std::string_view body) {
  json::value v = ParseLenient(body);
  if (!v.is_object()) return std::nullopt;
  ErrorBody e{StringField(v.get_object(), "error"), StringField(v.get_object(), "message")};
  if (e.error.empty() && e.message.empty()) return std::nullopt;
  return e;
}

std::string HumanFix(int status, const std::optional<ErrorBody>& error, int64_t clock_offset_seconds) {
  const std::string code = error ? error->error : "";
  std::string fix;
  if (status == 401 || status == 403) {
    if (code == "bridge_token_invalid") {
      fix = kRegenerateKey;
    } else if (status == 401) {
      fix = std::string("check agent_id and the agent key; if the key was revoked, ") + kRegenerateKey;
    } else {
      fix = std::string("this agent is not allowed to do this: check agent_id and facility_id, or ") + kRegenerateKey;
    }
    if (ClockLikelyCausesAuthFailure(clock_offset_seconds)) {
      fix += "; this machine's clock is " + std::to_string(std::llabs(clock_offset_seconds)) + " s " +
             (clock_offset_seconds > 0 ? "behind" : "ahead of") +
             " the server's, which is the likely cause: set the clock right (NTP)";
    }
  } else if (status == 404) {
    if (code == "facility_not_found") {
      fix = "OpesCare does not know this facility: check facility_id in the configuration";
    } else {
      fix = "check server_url and the request paths (sync_path, heartbeat_path) in the configuration";
    }
  }
  return fix;
}

Classification ClassifySyncResponse(int status, const std::string& body, bool gzip_sent, std::string_view batch_id,
                                    const std::vector<std::string>& record_ids, int64_t clock_offset_seconds) {
  if (status >= 200 && status <= 299) return FromReceipt(status, body, batch_id, record_ids);
  Classification c;
  c.error = ParseErrorBody(body);
  const std::string code = c.error ? c.error->error : "";
  switch (status) {
    case 409:
      c.action = code == "duplicate_batch" ? Action::kDuplicateBatch : Action::kTransient;
      break;
    case 400:
    case 422: {
      c.action = Action::kSplit;
      json::value v = ParseLenient(body);
      if (v.is_object()) c.rejected = RejectedOf(v.get_object(), record_ids);
      break;
    }
    case 413:
      c.action = Action::kTooLarge;
      break;
    case 415:
      c.action = gzip_sent ? Action::kUncompressed : Action::kTransient;
      break;
    case 401:
    case 403:
      c.action = Action::kPauseAuth;
      c.human_fix = HumanFix(status, c.error, clock_offset_seconds);
      break;
    case 404:
      c.action = Action::kPauseConfig;
      c.human_fix = HumanFix(status, c.error, clock_offset_seconds);
      break;
    default:  // 0 (no response), 408, 425, 429, 5xx and every status the table does not name
      c.action = Action::kTransient;
      break;
  }
  return c;
}

}  // namespace opescare::bridge
