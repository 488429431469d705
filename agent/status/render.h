// Pure functions that turn a StatusSnapshot into the status server's bodies (page, JSON, metrics) and the
// words a person reads. No I/O: the server calls them, the tests call them directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/status/snapshot.h"

namespace opescare::status {

// /readyz: ready when configured, the outbox is open, delivery is not paused, the server has not refused
// the agent (unauthorized / config_error) and no fault is present. `reason` says what is wrong, in words, when not ready.
struct Readiness {
  bool ready = false;
  std::string reason;
};
Readiness CheckReadiness(const StatusSnapshot& s);

// /status.json: the whole snapshot (plus readiness and ages computed at `now`), compact JSON.
std::string RenderStatusJson(const StatusSnapshot& s, TimePoint now);

// /metrics: Prometheus text exposition format 0.0.4, every name prefixed "opescare_bridge_".
std::string RenderMetrics(const StatusSnapshot& s);
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// /: the self-contained HTML status page (inline CSS and SVG, no script, refreshes every 5 s).
std::string RenderStatusPage(const StatusSnapshot& s, TimePoint now);

// The banner's words for a state, e.g. "Connected to OpesCare", "OpesCare refused the agent key".
std::string StateHeadline(ConnectionState state);
// What a person should do about a state; "" when nothing is wrong. Mentions the clock when the offset is large.
std::string DefaultFix(ConnectionState state, std::optional<double> clock_offset_seconds);

// "just now", "45 seconds ago", "2 minutes ago", "3 hours ago", "5 days ago"; "in the future" when negative.
std::string HumanAgo(double seconds);
// "0 s", "4 min 10 s", "2 h 5 min", "3 days 4 h".
std::string HumanDuration(double seconds);
// Escapes & < > " ' for HTML text and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace opescare::status
