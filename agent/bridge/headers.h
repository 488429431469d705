// The headers every bridge request carries (PROTOCOL.md "Every request the agent sends").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/http/client.h"

namespace opescare::bridge {

inline constexpr char kAgentIdHeader[] = "X-Bridge-Agent-ID";
inline constexpr char kAgentKeyHeader[] = "X-Bridge-Agent-Key";  // the secret
inline constexpr char kTimestampHeader[] = "X-Bridge-Timestamp";
inline constexpr char kIdempotencyKeyHeader[] = "Idempotency-Key";

struct Credentials {
  std::string agent_id;
  std::string agent_key;  // never logged
};

// "linux", "windows", "macos", "freebsd" or "unknown": the build's operating system.
const char* OsName();
// "x86_64", "aarch64", "arm", "x86" or "unknown".
const char* ArchName();

// "opescare-bridge/<version> (<os>; <arch>)"
std::string UserAgent(std::string_view version, std::string_view os, std::string_view arch);
// The same for this build (OB_VERSION).
std::string UserAgent();

// Unix seconds of local_now corrected by the server clock offset (server - local).
int64_t BridgeTimestamp(std::chrono::system_clock::time_point local_now, int64_t clock_offset_seconds);

// The six headers of every request: agent ID, key, timestamp, Content-Type and Accept (JSON), User-Agent.
http::Headers BuildHeaders(const Credentials& credentials, int64_t bridge_timestamp, std::string_view user_agent);

// BuildHeaders plus Idempotency-Key: <batch_id>. (Content-Encoding is the HTTP client's, with gzip_body.)
http::Headers BuildSyncHeaders(const Credentials& credentials, int64_t bridge_timestamp, std::string_view user_agent,
                               std::string_view batch_id);

// A copy with the key's value replaced by "***", for printing what was sent.
http::Headers RedactHeaders(http::Headers headers);

}  // namespace opescare::bridge
