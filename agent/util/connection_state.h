// ConnectionState: the agent's link to OpesCare as its last exchange (heartbeat or sync) tells it — one
// vocabulary for the bridge's classification, the logs, the status page, /metrics and systemd's STATUS=.
#pragma once

#include <array>

namespace opescare {

enum class ConnectionState {
  kUnknown,       // no answer yet (starting)
  kConnected,     // 2xx: the server answered and accepted the key
  kUnauthorized,  // 401/403: key rejected or revoked (or the clock is far off)
  kConfigError,   // 404 (server_url, path, facility_not_found), other 4xx refusals, a secret refused on plain HTTP
  kUnreachable,   // DNS, TCP, proxy or timeout failure, dropped connections
  kTlsError,      // the TLS handshake or certificate verification failed
  kServerError,   // the server answered but not usefully: 408/425/429/5xx/3xx, garbage, oversized
};

inline constexpr std::array<ConnectionState, 7> kAllConnectionStates = {
    ConnectionState::kUnknown,     ConnectionState::kConnected,   ConnectionState::kUnauthorized,
    ConnectionState::kConfigError, ConnectionState::kUnreachable, ConnectionState::kTlsError,
    ConnectionState::kServerError};

// "unknown", "connected", "unauthorized", "config_error", "unreachable", "tls_error", "server_error".
constexpr const char* ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kUnknown: return "unknown";
    case ConnectionState::kConnected: return "connected";
    case ConnectionState::kUnauthorized: return "unauthorized";
    case ConnectionState::kConfigError: return "config_error";
    case ConnectionState::kUnreachable: return "unreachable";
    case ConnectionState::kTlsError: return "tls_error";
    case ConnectionState::kServerError: return "server_error";
  }
  return "unknown";
}

}  // namespace opescare
