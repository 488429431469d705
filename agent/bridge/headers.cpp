// Bridge request headers (see headers.h).
#include "agent/bridge/headers.h"

#include <algorithm>
#include <cctype>

#include "agent/util/clock.h"

#ifndef OB_VERSION
#define OB_VERSION "0.0.0"
#endif

namespace opescare::bridge {

const char* OsName() {
#if defined(_WIN32)
  return "windows";
#elif defined(__APPLE__)
  return "macos";
#elif defined(__linux__)
  return "linux";
#elif defined(__FreeBSD__)
  return "freebsd";
#else
  return "unknown";
#endif
}

const char* ArchName() {
#if defined(__x86_64__) || defined(_M_X64)
  return "x86_64";
#elif defined(__aarch64__) || defined(_M_ARM64)
  return "aarch64";
#elif defined(__arm__) || defined(_M_ARM)
  return "arm";
#elif defined(__i386__) || defined(_M_IX86)
  return "x86";
#else
  return "unknown";
#endif
}

std::string UserAgent(std::string_view version, std::string_view os, std::string_view arch) {
  std::string out = "opescare-bridge/";
  out.append(version).append(" (").append(os).append("; ").append(arch).append(")");
  return out;
}

std::string UserAgent() { return UserAgent(OB_VERSION, OsName(), ArchName()); }

int64_t BridgeTimestamp(std::chrono::system_clock::time_point local_now, int64_t clock_offset_seconds) {
  return UnixSeconds(local_now) + clock_offset_seconds;
}

http::Headers BuildHeaders(const Credentials& credentials, int64_t bridge_timestamp, std::string_view user_agent) {
  http::Headers h;
  h.reserve(7);
  h.emplace_back(kAgentIdHeader, credentials.agent_id);
  h.emplace_back(kAgentKeyHeader, credentials.agent_key);
  h.emplace_back(kTimestampHeader, std::to_string(bridge_timestamp));
  h.emplace_back("Content-Type", "application/json");
  h.emplace_back("Accept", "application/json");
  h.emplace_back("User-Agent", std::string(user_agent));
  return h;
}

http::Headers BuildSyncHeaders(const Credentials& credentials, int64_t bridge_timestamp, std::string_view user_agent,
                               std::string_view batch_id) {
  http::Headers h = BuildHeaders(credentials, bridge_timestamp, user_agent);
  h.emplace_back(kIdempotencyKeyHeader, std::string(batch_id));
  return h;
}

http::Headers RedactHeaders(http::Headers headers) {
  for (auto& [name, value] : headers) {
    bool is_key = name.size() == sizeof(kAgentKeyHeader) - 1 &&
                  std::equal(name.begin(), name.end(), kAgentKeyHeader, [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                  });
    if (is_key) value = "***";
  }
  return headers;
}

}  // namespace opescare::bridge
