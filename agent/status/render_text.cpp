// The words of the status endpoints: readiness, state headlines and fixes, human durations, HTML escaping.
#include <cmath>
#include <cstdint>

#include "agent/status/render.h"

namespace opescare::status {
namespace {

// Beyond this offset the server refuses our timestamps (PROTOCOL.md: the log blames the clock above 60 s).
constexpr double kClockBlameSeconds = 60;

std::string Plural(int64_t n, const char* unit) {
  std::string out = std::to_string(n) + " " + unit;
  if (n != 1) out += "s";
  return out;
}

}  // namespace

Readiness CheckReadiness(const StatusSnapshot& s) {
  std::string reason;
  auto add = [&reason](const std::string& why) {
    if (!reason.empty()) reason += "; ";
    reason += why;
  };
  if (!s.configured) add("not configured: the configuration has not loaded");
  if (!s.outbox_open) add("the outbox database is not open");
  if (s.delivery_paused) {
    add(s.delivery_paused_reason.empty() ? "delivery is paused" : "delivery is paused: " + s.delivery_paused_reason);
  }
  if (s.connection_state == ConnectionState::kUnauthorized || s.connection_state == ConnectionState::kConfigError) {
    std::string why = StateHeadline(s.connection_state);
    if (!s.last_error_code.empty()) why += " (" + s.last_error_code + ")";
    add(why);
  }
  for (const Fault& f : s.faults) add(f.message);
  return {reason.empty(), reason};
}

std::string StateHeadline(ConnectionState state) {
  switch (state) {
    case ConnectionState::kUnknown:
      return "Waiting for the first answer from OpesCare";
    case ConnectionState::kConnected:
      return "Connected to OpesCare";
    case ConnectionState::kUnauthorized:
      return "OpesCare refused the agent key";
    case ConnectionState::kConfigError:
      return "OpesCare does not know this address or facility";
    case ConnectionState::kUnreachable:
      return "Cannot reach OpesCare";
    case ConnectionState::kTlsError:
      return "The secure connection to OpesCare failed";
    case ConnectionState::kServerError:
      return "OpesCare is having a problem";
  }
  return "Unknown state";
}

std::string DefaultFix(ConnectionState state, std::optional<double> clock_offset_seconds) {
  bool clock_off = clock_offset_seconds && std::fabs(*clock_offset_seconds) > kClockBlameSeconds;
  std::string clock_note;
  if (clock_off) {
    // The offset is server minus local: positive means this computer is behind.
    clock_note = "This computer's clock is " + HumanDuration(std::fabs(*clock_offset_seconds)) +
                 (*clock_offset_seconds > 0 ? " behind" : " ahead of") +
                 " OpesCare's: set the date and time (turn on automatic time / NTP).";
  }
  switch (state) {
    case ConnectionState::kUnknown:
    case ConnectionState::kConnected:
      return "";  // a clock that is off while connected is a notice, not a fix
    case ConnectionState::kUnauthorized:
      return clock_off ? clock_note + " The key may be fine: the server refuses requests with a wrong time."
                       : "Re-generate the agent key in the OpesCare admin panel, put it in OPESCARE_AGENT_KEY "
                         "or the agent_key_file, then restart the agent. Records wait safely until then.";
    case ConnectionState::kConfigError:
      return "Check server_url and facility_id in the configuration file: OpesCare answered 404 (unknown address "
             "or facility). Records wait safely until then.";
    case ConnectionState::kUnreachable:
      return "Check this computer's network connection, firewall and proxy (http.proxy in the configuration). "
             "Records wait safely and are sent when the connection returns.";
    case ConnectionState::kTlsError:
      return clock_off ? clock_note
                       : "The server's certificate could not be verified: check the date and time, and any proxy "
                         "or antivirus that inspects HTTPS (http.ca_file in the configuration).";
    case ConnectionState::kServerError:
      return "Nothing to do here: the agent retries automatically and records wait safely. If this lasts for "
             "hours, contact OpesCare support.";
  }
  return "";
}

std::string HumanAgo(double seconds) {
  if (std::isnan(seconds)) return "unknown";
  if (seconds < -5) return "in the future (check this computer's clock)";
  if (seconds < 5) return "just now";
  if (seconds > 1e12) seconds = 1e12;
  auto n = static_cast<int64_t>(seconds);
  if (n < 60) return Plural(n, "second") + " ago";
  if (n < 3600) return Plural(n / 60, "minute") + " ago";
  if (n < 86400) return Plural(n / 3600, "hour") + " ago";
  return Plural(n / 86400, "day") + " ago";
}

std::string HumanDuration(double seconds) {
  if (std::isnan(seconds) || seconds < 0) seconds = 0;
  if (seconds > 1e12) seconds = 1e12;  // keeps llround defined for absurd inputs
  auto n = static_cast<int64_t>(std::llround(seconds));
  if (n < 60) return std::to_string(n) + " s";
  if (n < 3600) return std::to_string(n / 60) + " min " + std::to_string(n % 60) + " s";
  if (n < 86400) return std::to_string(n / 3600) + " h " + std::to_string(n % 3600 / 60) + " min";
  return Plural(n / 86400, "day") + " " + std::to_string(n % 86400 / 3600) + " h";
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace opescare::status
