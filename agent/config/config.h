// Config: the agent's whole configuration as a plain struct with its defaults (CONFIG.md),
// and the loader that fills it from YAML/JSON, the environment and flags, validating everything once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opescare::config {

struct RecordTypeRule {
  std::string type;                   // e.g. "patient"
  std::vector<std::string> required;  // columns that must be present and non-empty (normalised header names)
};

// CSV.md's default filename fragment -> type table (fragments lower-case).
std::map<std::string, RecordTypeRule> DefaultRecordTypes();

struct LogConfig {
  std::string level = "info";   // trace debug info warn error critical off (stored lower-case; "warning" -> warn)
  std::string file;             // empty: stderr
  uint32_t max_size_mb = 10;    // rotation size
  uint32_t max_files = 5;       // rotated files kept
  std::string format = "text";  // text | json
};

struct OutboxConfig {
  std::string path = "./opescare-bridge.db";
  uint64_t max_size_mb = 2048;  // above it, ingest pauses until delivery frees room
  // Ingest pauses while the outbox's volume has less free space than this, so acknowledgements,
  // splits and dead-letter moves always find room (ARCHITECTURE.md "Durability rules"). 0: no watermark.
  uint64_t min_free_mb = 256;
};

struct BatchConfig {
  uint32_t max_records = 500;
  uint64_t max_bytes = 1024 * 1024;
};

struct RetryConfig {
  double initial_backoff_seconds = 1;
  double max_backoff_seconds = 300;
};

struct DeliveryConfig {
  // Sync requests on the wire at once (1..8), each its own batch under its own Idempotency-Key.
  uint32_t max_in_flight = 2;
};

struct HttpConfig {
  double connect_timeout_seconds = 10;
  double request_timeout_seconds = 60;
  std::string proxy;                              // http://[user:pass@]host:port (scheme added if the env had none)
  std::string no_proxy;                           // from NO_PROXY/no_proxy
  std::string ca_file;                            // extra PEM bundle, added to the system store
  std::string client_cert;                        // mTLS certificate (PEM)
  std::string client_key;                         // mTLS private key (PEM)
  std::string compression = "auto";               // gzip | none | auto
  uint32_t compression_level = 4;                 // gzip level of request bodies, 1..12 (libdeflate's scale)
  uint64_t max_response_bytes = 8 * 1024 * 1024;  // a hostile server cannot exhaust memory
};

struct ConnectorConfig {
  std::string type = "csv_folder";
  std::string watch_folder = "./data/incoming";
  std::string file_pattern = "*.csv";
  std::string processed_folder;  // empty: <watch_folder>/processed
  std::string failed_folder;     // empty: <watch_folder>/failed
  double settle_seconds = 2;
  std::string delimiter = "auto";          // auto or one character
  std::string encoding = "auto";           // auto | utf-8 | windows-1252 | latin-1
  std::string date_format = "YYYY-MM-DD";  // or DD/MM/YYYY, MM/DD/YYYY
  double scan_interval_seconds = 30;       // backstop scan period besides inotify
  uint32_t keep_processed_days = 30;       // processed/ and failed/ files older than this are removed; 0 keeps
  // filename fragment (lower-case; matched case-insensitively) -> rule. The file's entries are added
  // to CSV.md's table, replacing same-named fragments; replace_default_record_types drops the table.
  std::map<std::string, RecordTypeRule> record_types = DefaultRecordTypes();
  bool replace_default_record_types = false;
};

struct StatusConfig {
  std::string listen = "127.0.0.1:9469";  // "" turns the status server off
  bool allow_remote = false;
};

struct HeartbeatConfig {
  bool include_status = true;
};

struct Config {
  std::string source_path;  // the file it came from (for messages)

  std::string server_url;  // required (sandbox defaults it to https://opescare.test); no trailing '/'
  std::string sync_path = "/api/v1/bridge/sync";
  std::string heartbeat_path = "/api/v1/bridge/heartbeat";
  std::string agent_id;   // required
  std::string agent_key;  // the secret: never logged, never printed
  // Where the key came from: "environment OPESCARE_AGENT_KEY", "file <path>",
  // "systemd credential <path>" or "config file".
  std::string agent_key_source;
  std::string agent_key_file;
  std::string facility_id;                 // required
  std::string environment = "production";  // production | sandbox
  bool allow_insecure_http = false;
  uint32_t heartbeat_interval_seconds = 60;  // 5..3600
  uint32_t sync_interval_seconds = 300;
  LogConfig log;
  OutboxConfig outbox;
  BatchConfig batch;
  RetryConfig retry;
  DeliveryConfig delivery;
  HttpConfig http;
  ConnectorConfig connector;
  StatusConfig status;
  HeartbeatConfig heartbeat;

  std::string ProcessedFolder() const;
  std::string FailedFolder() const;
};

// One problem found while loading; the loader reports all of them at once.
struct Problem {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string file;  // empty for problems not tied to a file position
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based
  std::string key;   // dotted key, e.g. "connector.watch_folder"
  std::string message;

  // "config.yaml:7:28: heartbeat_interval_seconds: ..." (never contains the key's value). Parts that are
  // unknown are left out ("agent key: not set (...)"). Severity is not included: callers prefix it.
  std::string ToString() const;
};

struct LoadOptions {
  bool strict = false;  // unknown keys become errors
  // Environment lookup; tests replace it. Default: getenv.
  std::map<std::string, std::string>* env = nullptr;
  // Command-line overrides, dotted key -> value as text (highest precedence), e.g. {"log_level", "debug"}.
  // Unknown keys are errors; "agent_key" is refused (the process list would show it).
  std::map<std::string, std::string> overrides;
};

struct LoadResult {
  std::optional<Config> config;   // set only when there are no errors
  std::vector<Problem> problems;  // errors and warnings, in file order
  bool ok() const { return config.has_value(); }
};

// Loads, expands ${VAR}, applies the environment (OPESCARE_AGENT_ID, OPESCARE_FACILITY_ID, HTTPS_PROXY,
// NO_PROXY...) and the overrides, finds the key, and validates everything. Thread-compatible; no globals
// except getenv when options.env is null.
LoadResult LoadConfigFile(const std::string& path, const LoadOptions& options = {});
// The same for text already read; name stands for the file in messages.
LoadResult LoadConfigString(const std::string& text, const std::string& name, const LoadOptions& options = {});

// The effective configuration as YAML, with the key shown as "***" (and a proxy password hidden);
// it loads back to the same configuration.
std::string DumpRedacted(const Config& config);

// True when host is a loopback name or address (localhost, 127.0.0.0/8, ::1, [::1]).
bool IsLoopbackHost(const std::string& host);

// The parts of an http(s) URL such as server_url or http.proxy.
struct HttpUrl {
  std::string scheme;    // "http" or "https", lower-case
  std::string userinfo;  // "user:pass" before '@' (proxies only); a secret
  std::string host;      // IPv6 without brackets
  uint16_t port = 0;     // explicit, else 80/443 by scheme
  std::string path;      // "" or "/base", never ending in '/'
};
// Parses scheme://[userinfo@]host[:port][/path]; nullopt when it is not such a URL
// (no query or fragment allowed).
std::optional<HttpUrl> ParseHttpUrl(const std::string& url);

// status.listen: "host:port" or "[v6]:port" (port 0 = any free port).
struct HostPort {
  std::string host;  // IPv6 without brackets
  uint16_t port = 0;
};
std::optional<HostPort> ParseHostPort(const std::string& text);

// Dotted keys ("http.proxy", "connector.record_types") whose values differ between a and b, in file order.
std::vector<std::string> ChangedKeys(const Config& a, const Config& b);
// Sets `to`'s value of one dotted key (as ChangedKeys names them) to `from`'s; unknown keys change nothing.
void CopyKey(std::string_view key, const Config& from, Config* to);

// The command that makes a key file readable only by its owner and the service, on this platform:
// `chmod 600 <path>`, or on Windows `icacls "<path>" /inheritance:r /grant:r SYSTEM:F Administrators:F`.
std::string KeyFilePrivacyFix(const std::string& path);

// Every secret a config holds (the agent key, a proxy password): what the log redaction hides.
std::vector<std::string> Secrets(const Config& config);

}  // namespace opescare::config
