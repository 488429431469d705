// The table of every scalar configuration key: where it lives in Config, what it accepts, and the
// conversion from text with the complaint that names what was found and what is allowed.
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <utility>
#include <variant>

#include "agent/config/config_internal.h"

namespace opescare::config::internal {

using StrRef = std::string& (*)(Config&);
using U32Ref = uint32_t& (*)(Config&);
using U64Ref = uint64_t& (*)(Config&);
using DblRef = double& (*)(Config&);
using BoolRef = bool& (*)(Config&);
// Checks (and may normalise) a string value; returns the complaint that follows the quoted value.
using Check = std::optional<std::string> (*)(std::string& value);

struct FieldSpec {
  std::string_view key;
  std::variant<StrRef, U32Ref, U64Ref, DblRef, BoolRef> target = StrRef(nullptr);
  double min = 0;  // numbers: inclusive bounds...
  double max = 0;
  bool min_exclusive = false;  // ...except "more than min"
  std::string_view allowed;    // numbers: the range in words, for messages
  Check check = nullptr;       // strings
};

namespace {

#define OB_REF(type, member) static_cast<type& (*)(Config&)>([](Config& c) -> type& { return c.member; })

// Accepts one of the aliases (case-insensitive) and stores its canonical spelling.
std::optional<std::string> Choose(std::string& value,
                                  std::initializer_list<std::pair<std::string_view, std::string_view>> accepted,
                                  std::string_view allowed) {
  std::string lower = AsciiLower(value);
  for (const auto& [alias, canonical] : accepted) {
    if (lower == alias) {
      value = std::string(canonical);
      return std::nullopt;
    }
  }
  return "is not allowed (" + std::string(allowed) + ")";
}

std::optional<std::string> CheckEnvironment(std::string& v) {
  return Choose(v, {{"production", "production"}, {"sandbox", "sandbox"}}, "production or sandbox");
}
std::optional<std::string> CheckLogLevel(std::string& v) {
  // Python's level names (WARNING, CRITICAL) too, since the Python agent's files use them.
  return Choose(v,
                {{"trace", "trace"},
                 {"debug", "debug"},
                 {"info", "info"},
                 {"warn", "warn"},
                 {"warning", "warn"},
                 {"error", "error"},
                 {"critical", "critical"},
                 {"off", "off"}},
                "trace, debug, info, warn, error, critical or off, in any case");
}
std::optional<std::string> CheckLogFormat(std::string& v) {
  return Choose(v, {{"text", "text"}, {"json", "json"}}, "text or json");
}
std::optional<std::string> CheckCompression(std::string& v) {
  return Choose(v, {{"gzip", "gzip"}, {"none", "none"}, {"auto", "auto"}}, "gzip, none or auto");
}
std::optional<std::string> CheckConnectorType(std::string& v) {
  return Choose(v, {{"csv_folder", "csv_folder"}}, "csv_folder, the only connector built in");
}
std::optional<std::string> CheckEncoding(std::string& v) {
  return Choose(v,
                {{"auto", "auto"},
                 {"utf-8", "utf-8"},
                 {"utf8", "utf-8"},
                 {"windows-1252", "windows-1252"},
                 {"cp1252", "windows-1252"},
                 {"latin-1", "latin-1"},
                 {"latin1", "latin-1"},
                 {"iso-8859-1", "latin-1"}},
                "auto, utf-8, windows-1252 or latin-1");
}
std::optional<std::string> CheckDateFormat(std::string& v) {
  return Choose(v, {{"yyyy-mm-dd", "YYYY-MM-DD"}, {"dd/mm/yyyy", "DD/MM/YYYY"}, {"mm/dd/yyyy", "MM/DD/YYYY"}},
                "YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY");
}
std::optional<std::string> CheckDelimiter(std::string& v) {
  if (AsciiLower(v) == "auto") {
    v = "auto";
    return std::nullopt;
  }
  if (AsciiLower(v) == "tab") v = "\t";
  if (v.size() != 1) return "is not allowed (auto, tab, or exactly one character such as , or ;)";
  if (v == "\"" || v == "\n" || v == "\r") return "cannot be a delimiter (it is a quote or a line end)";
  return std::nullopt;
}
std::optional<std::string> CheckNotEmpty(std::string& v) {
  if (v.empty()) return "is empty (a value is required)";
  return std::nullopt;
}
std::optional<std::string> CheckUrlPath(std::string& v) {
  if (v.empty() || v.front() != '/' || v.find_first_of("?# ") != std::string::npos)
    return "is not a URL path (it must start with /, e.g. /api/v1/bridge/sync)";
  return std::nullopt;
}

constexpr FieldSpec Str(std::string_view key, StrRef ref, Check check = nullptr) {
  FieldSpec f;
  f.key = key;
  f.target = ref;
  f.check = check;
  return f;
}
template <typename Ref>
constexpr FieldSpec Num(std::string_view key, Ref ref, double min, double max, std::string_view allowed,
                        bool min_exclusive = false) {
  FieldSpec f;
  f.key = key;
  f.target = ref;
  f.min = min;
  f.max = max;
  f.allowed = allowed;
  f.min_exclusive = min_exclusive;
  return f;
}
constexpr FieldSpec Flag(std::string_view key, BoolRef ref) {
  FieldSpec f;
  f.key = key;
  f.target = ref;
  return f;
}

const FieldSpec kFields[] = {
    Str("server_url", OB_REF(std::string, server_url)),
    Str("sync_path", OB_REF(std::string, sync_path), CheckUrlPath),
    Str("heartbeat_path", OB_REF(std::string, heartbeat_path), CheckUrlPath),
    Str("agent_id", OB_REF(std::string, agent_id)),
    Str("agent_key", OB_REF(std::string, agent_key)),
    Str("agent_key_file", OB_REF(std::string, agent_key_file)),
    Str("facility_id", OB_REF(std::string, facility_id)),
    Str("environment", OB_REF(std::string, environment), CheckEnvironment),
    Flag("allow_insecure_http", OB_REF(bool, allow_insecure_http)),
    Num("heartbeat_interval_seconds", OB_REF(uint32_t, heartbeat_interval_seconds), 5, 3600, "5..3600 seconds"),
    Num("sync_interval_seconds", OB_REF(uint32_t, sync_interval_seconds), 1, 86400, "1..86400 seconds"),
    Str("log_level", OB_REF(std::string, log.level), CheckLogLevel),
    Str("log.file", OB_REF(std::string, log.file)),
    Num("log.max_size_mb", OB_REF(uint32_t, log.max_size_mb), 1, 10240, "1..10240 MB"),
    Num("log.max_files", OB_REF(uint32_t, log.max_files), 1, 1000, "1..1000 files"),
    Str("log.format", OB_REF(std::string, log.format), CheckLogFormat),
    Str("outbox.path", OB_REF(std::string, outbox.path), CheckNotEmpty),
    Num("outbox.max_size_mb", OB_REF(uint64_t, outbox.max_size_mb), 1, 1048576, "1..1048576 MB"),
    Num("outbox.min_free_mb", OB_REF(uint64_t, outbox.min_free_mb), 0, 1048576, "0..1048576 MB, 0 turns it off"),
    Num("batch.max_records", OB_REF(uint32_t, batch.max_records), 1, 10000, "1..10000 records"),
    Num("batch.max_bytes", OB_REF(uint64_t, batch.max_bytes), 1024, 64.0 * 1024 * 1024,
        "1024..67108864 bytes, 1 KiB..64 MiB"),
    Num("retry.initial_backoff_seconds", OB_REF(double, retry.initial_backoff_seconds), 0, 86400,
        "more than 0, at most 86400 seconds", true),
    Num("retry.max_backoff_seconds", OB_REF(double, retry.max_backoff_seconds), 0, 86400,
        "more than 0, at most 86400 seconds", true),
    Num("delivery.max_in_flight", OB_REF(uint32_t, delivery.max_in_flight), 1, 8, "1..8 requests"),
    Num("http.connect_timeout_seconds", OB_REF(double, http.connect_timeout_seconds), 0, 3600,
        "more than 0, at most 3600 seconds", true),
    Num("http.request_timeout_seconds", OB_REF(double, http.request_timeout_seconds), 0, 3600,
        "more than 0, at most 3600 seconds", true),
    Str("http.proxy", OB_REF(std::string, http.proxy)),
    Str("http.no_proxy", OB_REF(std::string, http.no_proxy)),
    Str("http.ca_file", OB_REF(std::string, http.ca_file)),
    Str("http.client_cert", OB_REF(std::string, http.client_cert)),
    Str("http.client_key", OB_REF(std::string, http.client_key)),
    Str("http.compression", OB_REF(std::string, http.compression), CheckCompression),
    // libdeflate's levels (agent/http/gzip.h kMinGzipLevel..kMaxGzipLevel); the default: bench/gzip_bench.
    Num("http.compression_level", OB_REF(uint32_t, http.compression_level), 1, 12, "1..12, 1 fastest, 12 smallest"),
    Num("http.max_response_bytes", OB_REF(uint64_t, http.max_response_bytes), 1024, 1024.0 * 1024 * 1024,
        "1024..1073741824 bytes, 1 KiB..1 GiB"),
    Str("connector.type", OB_REF(std::string, connector.type), CheckConnectorType),
    Str("connector.watch_folder", OB_REF(std::string, connector.watch_folder), CheckNotEmpty),
    Str("connector.file_pattern", OB_REF(std::string, connector.file_pattern), CheckNotEmpty),
    Str("connector.processed_folder", OB_REF(std::string, connector.processed_folder)),
    Str("connector.failed_folder", OB_REF(std::string, connector.failed_folder)),
    Num("connector.settle_seconds", OB_REF(double, connector.settle_seconds), 0, 3600, "0..3600 seconds"),
    Str("connector.delimiter", OB_REF(std::string, connector.delimiter), CheckDelimiter),
    Str("connector.encoding", OB_REF(std::string, connector.encoding), CheckEncoding),
    Str("connector.date_format", OB_REF(std::string, connector.date_format), CheckDateFormat),
    Num("connector.scan_interval_seconds", OB_REF(double, connector.scan_interval_seconds), 1, 3600, "1..3600 seconds"),
    Num("connector.keep_processed_days", OB_REF(uint32_t, connector.keep_processed_days), 0, 36500,
        "0..36500 days, 0 keeps them forever"),
    Flag("connector.replace_default_record_types", OB_REF(bool, connector.replace_default_record_types)),
    Str("status.listen", OB_REF(std::string, status.listen)),
    Flag("status.allow_remote", OB_REF(bool, status.allow_remote)),
    Flag("heartbeat.include_status", OB_REF(bool, heartbeat.include_status)),
};

#undef OB_REF

// "" for top-level keys, else the part before the first '.'.
std::string_view SectionOf(std::string_view key) {
  size_t dot = key.find('.');
  return dot == std::string_view::npos ? std::string_view() : key.substr(0, dot);
}

// Parses a number; on failure returns the complaint.
std::optional<std::string> ParseNumber(const std::string& text, const FieldSpec& field, bool whole, double* out) {
  std::string allowed = " (" + std::string(field.allowed) + ")";
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (begin != end && *begin == '+') ++begin;
  double value = 0;
  auto [stop, ec] = std::from_chars(begin, end, value);
  if (text.empty() || ec != std::errc() || stop != end || !std::isfinite(value))
    return QuoteValue(text) + " is not a number" + allowed;
  if (whole && value != std::floor(value)) return QuoteValue(text) + " is not a whole number" + allowed;
  bool below = field.min_exclusive ? value <= field.min : value < field.min;
  if (below || value > field.max) return text + " is out of range" + allowed;
  *out = value;
  return std::nullopt;
}

std::string FormatDouble(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(value);
}

}  // namespace

const std::vector<const FieldSpec*>& Fields() {
  static const std::vector<const FieldSpec*> fields = [] {
    std::vector<const FieldSpec*> out;
    for (const FieldSpec& f : kFields) out.push_back(&f);
    return out;
  }();
  return fields;
}

std::string_view FieldKey(const FieldSpec& field) { return field.key; }

const FieldSpec* FindField(std::string_view dotted_key) {
  for (const FieldSpec& f : kFields)
    if (f.key == dotted_key) return &f;
  return nullptr;
}

std::optional<std::string> SetField(const FieldSpec& field, const std::string& text, Config* config) {
  if (auto ref = std::get_if<StrRef>(&field.target)) {
    std::string value = text;
    if (field.check) {
      if (std::optional<std::string> complaint = field.check(value)) return QuoteValue(text) + " " + *complaint;
    }
    (*ref)(*config) = std::move(value);
    return std::nullopt;
  }
  if (auto ref = std::get_if<BoolRef>(&field.target)) {
    std::string lower = AsciiLower(text);
    if (lower == "true" || lower == "yes" || lower == "on") {
      (*ref)(*config) = true;
    } else if (lower == "false" || lower == "no" || lower == "off") {
      (*ref)(*config) = false;
    } else {
      return QuoteValue(text) + " is not true or false";
    }
    return std::nullopt;
  }
  double value = 0;
  bool whole = !std::holds_alternative<DblRef>(field.target);
  if (std::optional<std::string> complaint = ParseNumber(text, field, whole, &value)) return complaint;
  if (auto ref = std::get_if<U32Ref>(&field.target)) (*ref)(*config) = static_cast<uint32_t>(value);
  if (auto ref = std::get_if<U64Ref>(&field.target)) (*ref)(*config) = static_cast<uint64_t>(value);
  if (auto ref = std::get_if<DblRef>(&field.target)) (*ref)(*config) = value;
  return std::nullopt;
}

std::string GetField(const FieldSpec& field, const Config& config) {
  // The accessors take a mutable Config only so one table serves reading and writing.
  Config& c = const_cast<Config&>(config);
  if (auto ref = std::get_if<StrRef>(&field.target)) return (*ref)(c);
  if (auto ref = std::get_if<BoolRef>(&field.target)) return (*ref)(c) ? "true" : "false";
  if (auto ref = std::get_if<U32Ref>(&field.target)) return std::to_string((*ref)(c));
  if (auto ref = std::get_if<U64Ref>(&field.target)) return std::to_string((*ref)(c));
  return FormatDouble((*std::get_if<DblRef>(&field.target))(c));
}

std::vector<std::string> KeysUnder(std::string_view section) {
  std::vector<std::string> names;
  auto add = [&](std::string name) {
    for (const std::string& n : names)
      if (n == name) return;
    names.push_back(std::move(name));
  };
  for (const FieldSpec& f : kFields) {
    std::string_view s = SectionOf(f.key);
    if (section.empty()) {
      add(std::string(s.empty() ? f.key : s));
    } else if (s == section) {
      add(std::string(f.key.substr(section.size() + 1)));
    }
  }
  if (section == "connector") add("record_types");
  return names;
}

bool IsSection(std::string_view dotted_key) {
  if (dotted_key.find('.') != std::string_view::npos) return false;
  for (const FieldSpec& f : kFields)
    if (SectionOf(f.key) == dotted_key) return true;
  return false;
}

}  // namespace opescare::config::internal
