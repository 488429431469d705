// Parsing fault patches (all-or-nothing) and reporting the active faults.
#include "tools/simulator/faults.h"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>

namespace opescare::simulator {
namespace json = boost::json;
namespace {

Status GetInt(const json::value& v, std::string_view key, int64_t min, int64_t max, int64_t* out) {
  int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    n = static_cast<int64_t>(v.get_uint64());
  } else if (v.is_double() && std::floor(v.get_double()) == v.get_double() && std::fabs(v.get_double()) < 9e15) {
    n = static_cast<int64_t>(v.get_double());
  } else {
    return InvalidArgument("fault \"" + std::string(key) + "\" must be an integer");
  }
  if (n < min || n > max) {
    return InvalidArgument("fault \"" + std::string(key) + "\" must be between " + std::to_string(min) + " and " +
                           std::to_string(max));
  }
  *out = n;
  return Status::Ok();
}

Status ResolvePath(const json::value& v, const FaultPaths& paths, std::string* out) {
  if (v.is_null()) {
    out->clear();
    return Status::Ok();
  }
  if (!v.is_string()) return InvalidArgument("fault \"path\" must be a string");
  std::string_view p = v.get_string();
  if (p.empty() || p == "any") {
    out->clear();
  } else if (p == "heartbeat") {
    *out = paths.heartbeat;
  } else if (p == "sync") {
    *out = paths.sync;
  } else if (p.front() == '/') {
    *out = std::string(p);
  } else {
    return InvalidArgument("fault \"path\" must be \"heartbeat\", \"sync\", \"any\" or start with /");
  }
  return Status::Ok();
}

json::value CountedToJson(const CountedFault& f) {
  if (!f.Active()) return nullptr;
  return json::object{{"remaining", f.remaining},
                      {"path", f.path.empty() ? json::value(nullptr) : json::value(f.path)}};
}

}  // namespace

std::string DefaultErrorCode(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "bridge_token_invalid";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 408:
      return "request_timeout";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 422:
      return "unprocessable_entity";
    case 425:
      return "too_early";
    case 429:
      return "rate_limited";
    case 500:
      return "internal_error";
    case 502:
      return "bad_gateway";
    case 503:
      return "service_unavailable";
    case 504:
      return "gateway_timeout";
    default:
      return "simulated_error";
  }
}

Status ApplyFaultPatch(const json::object& patch, const FaultPaths& paths, std::chrono::steady_clock::time_point now,
                       Faults* faults) {
  Faults f = *faults;
  if (const json::value* clear = patch.if_contains("clear")) {
    if (!clear->is_bool()) return InvalidArgument("fault \"clear\" must be true or false");
    if (clear->get_bool()) f = Faults{};
  }
  std::string path;
  if (const json::value* p = patch.if_contains("path")) {
    if (Status s = ResolvePath(*p, paths, &path); !s.ok()) return s;
  }
  auto set_counted = [&](CountedFault* cf, int64_t count) {
    cf->remaining = count;
    cf->path = path;
  };
  constexpr int64_t kMaxCount = 1'000'000'000;
  int64_t count = 1;  // "count" belongs to the status fault
  if (const json::value* c = patch.if_contains("count")) {
    if (Status s = GetInt(*c, "count", -1, kMaxCount, &count); !s.ok()) return s;
  }

  for (const auto& kv : patch) {
    std::string_view key = kv.key();
    const json::value& v = kv.value();
    int64_t n = 0;
    Status s;
    if (key == "clear" || key == "path" || key == "count" || key == "retry_after" || key == "error" ||
        key == "message" || key == "oversized_count" || key == "delay_count" || key == "outage_mode" ||
        key == "not_receipt_count") {
      continue;  // read together with their main key below
    } else if (key == "status") {
      if (v.is_null()) {
        f.status = {};
        f.status_code = 0;
        continue;
      }
      s = GetInt(v, key, 0, 599, &n);
      if (s.ok() && n != 0 && n < 100) s = InvalidArgument("fault \"status\" must be an HTTP status (100-599) or 0");
      if (s.ok()) {
        f.status_code = static_cast<int>(n);
        set_counted(&f.status, n == 0 ? 0 : count);
        f.retry_after.reset();
        f.status_error.clear();
        f.status_message.clear();
        if (const json::value* ra = patch.if_contains("retry_after"); ra && !ra->is_null()) {
          if (ra->is_string()) {
            f.retry_after = std::string(ra->get_string());
          } else if (ra->is_int64() || ra->is_uint64()) {
            f.retry_after = json::serialize(*ra);
          } else {
            s = InvalidArgument("fault \"retry_after\" must be a string or an integer");
          }
        }
        if (const json::value* e = patch.if_contains("error"); s.ok() && e) {
          if (e->is_string())
            f.status_error = std::string(e->get_string());
          else
            s = InvalidArgument("fault \"error\" must be a string");
        }
        if (const json::value* m = patch.if_contains("message"); s.ok() && m) {
          if (m->is_string())
            f.status_message = std::string(m->get_string());
          else
            s = InvalidArgument("fault \"message\" must be a string");
        }
      }
    } else if (key == "garbage" || key == "hang" || key == "reset_after_processing" || key == "reset_mid_response") {
      s = GetInt(v, key, -1, kMaxCount, &n);
      CountedFault* cf = key == "garbage"              ? &f.garbage
                         : key == "hang"               ? &f.hang
                         : key == "reset_mid_response" ? &f.truncate
                                                       : &f.reset;
      if (s.ok()) set_counted(cf, n);
      if (key == "reset_after_processing") f.reset.path = paths.sync;
    } else if (key == "oversized_body_bytes") {
      s = GetInt(v, key, 0, int64_t{1} << 30, &n);
      int64_t times = 1;
      if (const json::value* oc = patch.if_contains("oversized_count"); s.ok() && oc) {
        s = GetInt(*oc, "oversized_count", -1, kMaxCount, &times);
      }
      if (s.ok()) {
        f.oversized_bytes = static_cast<uint64_t>(n);
        set_counted(&f.oversized, n == 0 ? 0 : times);
      }
    } else if (key == "delay_ms") {
      s = GetInt(v, key, 0, 3'600'000, &n);
      int64_t times = -1;
      if (const json::value* dc = patch.if_contains("delay_count"); s.ok() && dc) {
        s = GetInt(*dc, "delay_count", -1, kMaxCount, &times);
      }
      if (s.ok()) {
        f.delay_ms = n;
        set_counted(&f.delay, n == 0 ? 0 : times);
      }
    } else if (key == "not_receipt") {
      if (v.is_null()) {
        f.not_receipt = {};
        f.not_receipt_kind.clear();
        continue;
      }
      std::string_view kind = v.is_string() ? std::string_view(v.get_string()) : std::string_view();
      if (kind != "html" && kind != "empty" && kind != "invalid_json" && kind != "other_batch" && kind != "omit_ids") {
        s = InvalidArgument(
            "fault \"not_receipt\" must be \"html\", \"empty\", \"invalid_json\", \"other_batch\" or \"omit_ids\"");
      }
      int64_t times = 1;
      if (const json::value* nc = patch.if_contains("not_receipt_count"); s.ok() && nc) {
        s = GetInt(*nc, "not_receipt_count", -1, kMaxCount, &times);
      }
      if (s.ok()) {
        f.not_receipt_kind = std::string(kind);
        set_counted(&f.not_receipt, times);
        f.not_receipt.path = paths.sync;
      }
    } else if (key == "max_body_bytes") {
      s = GetInt(v, key, 0, INT64_MAX, &n);
      if (s.ok()) f.max_body_bytes = static_cast<uint64_t>(n);
    } else if (key == "reject_ids") {
      if (!v.is_array()) {
        s = InvalidArgument("fault \"reject_ids\" must be an array of strings");
      } else {
        f.reject_ids.clear();
        for (const json::value& id : v.get_array()) {
          if (!id.is_string()) {
            s = InvalidArgument("fault \"reject_ids\" must be an array of strings");
            break;
          }
          f.reject_ids.emplace(id.get_string());
        }
      }
    } else if (key == "reject_ids_batch_status") {
      s = GetInt(v, key, 0, 599, &n);
      if (s.ok()) f.reject_ids_batch_status = static_cast<int>(n);
    } else if (key == "reject_gzip") {
      if (v.is_bool())
        f.reject_gzip = v.get_bool();
      else
        s = InvalidArgument("fault \"reject_gzip\" must be true or false");
    } else if (key == "outage_seconds") {
      double secs = v.is_double()   ? v.get_double()
                    : v.is_int64()  ? static_cast<double>(v.get_int64())
                    : v.is_uint64() ? static_cast<double>(v.get_uint64())
                                    : -1;
      if (secs < 0 || secs > 86400) {
        s = InvalidArgument("fault \"outage_seconds\" must be a number from 0 to 86400");
      } else {
        f.outage_until =
            now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(secs));
        f.outage_refuse = true;
        if (const json::value* mode = patch.if_contains("outage_mode"); mode) {
          if (mode->is_string() && mode->get_string() == "close")
            f.outage_refuse = false;
          else if (!(mode->is_string() && mode->get_string() == "refuse"))
            s = InvalidArgument("fault \"outage_mode\" must be \"refuse\" or \"close\"");
        }
      }
    } else {
      s = InvalidArgument("unknown fault \"" + std::string(key.substr(0, 64)) + "\"");
    }
    if (!s.ok()) return s;
  }
  *faults = std::move(f);
  return Status::Ok();
}

json::object FaultsToJson(const Faults& f, std::chrono::steady_clock::time_point now) {
  json::object out;
  json::value status = CountedToJson(f.status);
  if (!status.is_null()) {
    json::object& o = status.get_object();
    o["status"] = f.status_code;
    o["retry_after"] = f.retry_after ? json::value(*f.retry_after) : json::value(nullptr);
    o["error"] = f.status_error.empty() ? DefaultErrorCode(f.status_code) : f.status_error;
  }
  out["status"] = std::move(status);
  out["garbage"] = CountedToJson(f.garbage);
  out["hang"] = CountedToJson(f.hang);
  out["reset_after_processing"] = CountedToJson(f.reset);
  out["reset_mid_response"] = CountedToJson(f.truncate);
  json::value oversized = CountedToJson(f.oversized);
  if (oversized.is_object()) oversized.get_object()["bytes"] = f.oversized_bytes;
  out["oversized"] = std::move(oversized);
  json::value delay = CountedToJson(f.delay);
  if (delay.is_object()) delay.get_object()["delay_ms"] = f.delay_ms;
  out["delay"] = std::move(delay);
  json::value not_receipt = CountedToJson(f.not_receipt);
  if (not_receipt.is_object()) not_receipt.get_object()["kind"] = f.not_receipt_kind;
  out["not_receipt"] = std::move(not_receipt);
  out["max_body_bytes"] = f.max_body_bytes;
  json::array ids;
  for (const std::string& id : f.reject_ids) ids.emplace_back(id);
  out["reject_ids"] = std::move(ids);
  out["reject_ids_batch_status"] = f.reject_ids_batch_status;
  out["reject_gzip"] = f.reject_gzip;
  double left = f.InOutage(now) ? std::chrono::duration<double>(f.outage_until - now).count() : 0.0;
  out["outage_seconds_left"] = left;
  out["outage_mode"] = f.outage_refuse ? "refuse" : "close";
  return out;
}

}  // namespace opescare::simulator
