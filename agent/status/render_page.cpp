// The status page at "/": one self-contained HTML document (inline CSS and SVG, no script) for a clinic's IT
// person. Stable ids and data- attributes (state, pending, dead, delivered, ...) let tests read it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>

#include "agent/status/render.h"
#include "agent/util/clock.h"

namespace opescare::status {
namespace {

using std::chrono::duration;

// PROTOCOL.md: an offset beyond 30 s is worth a warning.
constexpr double kClockWarnSeconds = 30;

std::string E(std::string_view text) { return HtmlEscape(text); }

// 1234567 -> "1,234,567": big counts stay readable.
std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

double SecondsBetween(TimePoint from, TimePoint to) { return duration<double>(to - from).count(); }

// The agent's local time: the clinic reads its own clock, and the agent runs in the clinic.
std::string LocalTime(TimePoint t) {
  std::time_t secs = static_cast<std::time_t>(UnixSeconds(t));
  std::tm tm{};
#ifdef _WIN32
  localtime_s(&tm, &secs);
#else
  localtime_r(&secs, &tm);
#endif
  char buf[64];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0) return FormatIso8601Utc(t);
  return buf;
}

// "2 minutes ago" with the exact time on hover and in data-time.
std::string TimeAgo(TimePoint t, TimePoint now) {
  std::string iso = FormatIso8601Utc(t);
  return "<time datetime=\"" + iso + "\" title=\"" + E(LocalTime(t)) + "\">" + E(HumanAgo(SecondsBetween(t, now))) +
         "</time>";
}

const char* Tone(ConnectionState state) {
  switch (state) {
    case ConnectionState::kConnected:
      return "ok";
    case ConnectionState::kUnknown:
      return "idle";
    case ConnectionState::kUnreachable:
    case ConnectionState::kServerError:
      return "warn";
    case ConnectionState::kUnauthorized:
    case ConnectionState::kConfigError:
    case ConnectionState::kTlsError:
      return "bad";
  }
  return "idle";
}

constexpr std::string_view kStyle = R"css(
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:#f4f6f8}
main{max-width:1100px;margin:0 auto;padding:20px 24px 32px}
header{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:8px;margin-bottom:14px}
h1{font-size:22px;margin:0}
h2{font-size:18px;margin:0 0 10px}
.meta{color:#57606a;font-size:14px}
.meta code,td code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eaeef2;padding:1px 5px;border-radius:4px}
.env{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;text-transform:uppercase;background:#dbe9ff;color:#0b4aa2}
.env.sandbox{background:#fff1c2;color:#7a5200}
.banner{border-radius:10px;padding:18px 22px;margin-bottom:14px;border-left:10px solid}
.banner .headline{font-size:28px;font-weight:700;margin:0}
.banner p{margin:8px 0 0}
.banner.ok{background:#e3f5e8;border-color:#1f8a3b;color:#0f5323}
.banner.warn{background:#fff3dc;border-color:#c77700;color:#6b3d00}
.banner.bad{background:#fde7e7;border-color:#c62828;color:#7f1010}
.banner.idle{background:#eceff3;border-color:#8a949e;color:#343a40}
.banner .fix{font-size:17px;font-weight:600}
.banner .summary{font-size:17px}
.banner .err{font-size:14px;opacity:.9}
.notices{list-style:none;margin:0 0 14px;padding:0}
.notices li{background:#fff3dc;border:1px solid #f0c36d;color:#6b3d00;border-radius:8px;padding:8px 14px;margin-bottom:6px}
.notices li.bad{background:#fde7e7;border-color:#eba5a5;color:#7f1010}
.cards{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-bottom:14px}
@media (max-width:720px){.cards{grid-template-columns:1fr 1fr}}
.card{background:#fff;border:1px solid #d8dee4;border-radius:10px;padding:12px 14px}
.card .label{font-size:13px;color:#57606a;text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:26px;font-weight:700;margin:2px 0}
.card .sub{font-size:13px;color:#57606a}
.card.alert{border-color:#c62828;background:#fff7f7}
.card.alert .value{color:#b3261e}
section.panel{background:#fff;border:1px solid #d8dee4;border-radius:10px;padding:14px 16px;margin-bottom:14px}
.legend{font-size:13px;color:#57606a;margin:0 0 6px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin:0 4px 0 12px}
svg{width:100%;height:auto;display:block}
table{width:100%;border-collapse:collapse;font-size:14px}
th{text-align:left;color:#57606a;font-weight:600;border-bottom:2px solid #d8dee4;padding:6px 8px}
td{border-bottom:1px solid #eaeef2;padding:6px 8px;vertical-align:top}
td.when{white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.badge.processed{background:#e3f5e8;color:#0f5323}
.badge.failed{background:#fde7e7;color:#7f1010}
.badge.duplicate{background:#eceff3;color:#343a40}
.empty{color:#57606a;font-style:italic;margin:4px 0}
.hint{font-size:14px;color:#57606a;margin:0 0 8px}
footer{font-size:13px;color:#57606a;margin-top:8px}
footer a{color:#0b4aa2}
)css";

void Header(std::string& out, const StatusSnapshot& s, TimePoint now) {
  out += "<header><h1>OpesCare Bridge Agent</h1><div class=\"meta\">";
  if (!s.environment.empty()) {
    out += "<span id=\"environment\" class=\"env " + E(s.environment) + "\">" + E(s.environment) + "</span> ";
  }
  out += "Agent <code id=\"agent-id\">" + E(s.agent_id) + "</code> · Facility <code id=\"facility-id\">" +
         E(s.facility_id) + "</code> · version " + E(s.version);
  if (!s.build_type.empty()) out += " (" + E(s.build_type) + ")";
  if (s.started_at) out += " · running for " + E(HumanDuration(SecondsBetween(*s.started_at, now)));
  out += "</div></header>\n";
}

// One plain sentence under a banner that has no fix to show.
std::string Summary(const StatusSnapshot& s) {
  if (s.connection_state == ConnectionState::kUnknown) {
    return "The agent has just started: the first heartbeat is on its way.";
  }
  if (s.connection_state != ConnectionState::kConnected) return "";
  if (s.delivery_paused || s.ingest_paused || !s.configured || !s.outbox_open || !s.faults.empty()) {
    return "Connected, but something needs attention: see below.";
  }
  uint64_t waiting = s.outbox.pending + s.outbox.in_batches;
  if (waiting == 0) return "Everything works: every record read so far has been delivered.";
  return "Everything works: " + Grouped(waiting) + (waiting == 1 ? " record is" : " records are") +
         " on the way to OpesCare.";
}

void Banner(std::string& out, const StatusSnapshot& s) {
  std::string fix = s.fix.empty() ? DefaultFix(s.connection_state, s.clock_offset_seconds) : s.fix;
  out += "<section id=\"state\" class=\"banner " + std::string(Tone(s.connection_state)) + "\" data-state=\"" +
         ConnectionStateName(s.connection_state) + "\">";
  out += "<p class=\"headline\" id=\"state-headline\">" + E(StateHeadline(s.connection_state)) + "</p>";
  if (!fix.empty()) out += "<p class=\"fix\" id=\"fix\">" + E(fix) + "</p>";
  std::string summary = Summary(s);
  if (fix.empty() && !summary.empty()) out += "<p class=\"summary\" id=\"summary\">" + E(summary) + "</p>";
  if (s.connection_state != ConnectionState::kConnected &&
      (!s.last_error_code.empty() || !s.last_error_message.empty())) {
    out += "<p class=\"err\" id=\"last-error\">Last error: ";
    if (!s.last_error_code.empty()) out += "<code>" + E(s.last_error_code) + "</code> ";
    out += E(s.last_error_message) + "</p>";
  }
  out += "</section>\n";
}

void Notices(std::string& out, const StatusSnapshot& s) {
  std::string items;
  for (const Fault& f : s.faults) {
    if (f.kind == kFaultIngestPaused) continue;  // said below with its own words
    items += "<li class=\"bad fault\" data-kind=\"" + E(f.kind) + "\">" + E(f.message);
    if (!f.fix.empty()) items += ". <b>Fix:</b> " + E(f.fix);
    items += "</li>";
  }
  if (s.delivery_paused) {
    items += "<li class=\"bad\" id=\"delivery-paused\">Sending to OpesCare is paused";
    if (!s.delivery_paused_reason.empty()) items += ": " + E(s.delivery_paused_reason);
    items += ". Records keep waiting safely in the outbox.</li>";
  } else if (s.backoff_remaining_seconds >= 1 && s.outbox.pending + s.outbox.in_batches > 0) {
    items += "<li id=\"backoff\">The last attempt failed; the agent tries again in " +
             E(HumanDuration(s.backoff_remaining_seconds)) + ".</li>";
  }
  if (s.ingest_paused) {
    items += "<li class=\"bad\" id=\"ingest-paused\">New files are not being read";
    if (!s.ingest_paused_reason.empty()) items += ": " + E(s.ingest_paused_reason);
    items += ". They stay in the watch folder; nothing is lost.</li>";
  }
  if (!s.configured) items += "<li class=\"bad\">The configuration has not loaded.</li>";
  if (!s.outbox_open) items += "<li class=\"bad\">The outbox database is not open.</li>";
  if (s.outbox.dead > 0) {
    items += "<li id=\"dead-notice\">" + Grouped(s.outbox.dead) +
             (s.outbox.dead == 1 ? " record was" : " records were") +
             " refused by OpesCare; see the list at the bottom of this page.</li>";
  }
  if (s.clock_offset_seconds && std::fabs(*s.clock_offset_seconds) > kClockWarnSeconds) {
    // Offset is server minus local: positive means this computer is behind.
    items += "<li id=\"clock-notice\">This computer's clock is " +
             E(HumanDuration(std::fabs(*s.clock_offset_seconds))) +
             (*s.clock_offset_seconds > 0 ? " behind" : " ahead of") +
             " OpesCare's. Turn on automatic time (NTP): a clock far off makes OpesCare refuse the agent.</li>";
  }
  if (!items.empty()) out += "<ul class=\"notices\">" + items + "</ul>\n";
}

void Card(std::string& out, std::string_view label, const std::string& value_html, const std::string& sub_html,
          bool alert = false) {
  out += "<div class=\"card";
  if (alert) out += " alert";
  out +=
      "\"><div class=\"label\">" + E(label) + "</div>" + value_html + "<div class=\"sub\">" + sub_html + "</div></div>";
}

std::string CountValue(const char* id, uint64_t n) {
  return "<div class=\"value\" id=\"" + std::string(id) + "\" data-value=\"" + std::to_string(n) + "\">" + Grouped(n) +
         "</div>";
}

std::string WhenValue(const char* id, const std::optional<TimePoint>& t, TimePoint now) {
  std::string out = "<div class=\"value\" id=\"" + std::string(id) + "\"";
  if (!t) return out + " data-time=\"\">never</div>";
  return out + " data-time=\"" + FormatIso8601Utc(*t) + "\">" + E(HumanAgo(SecondsBetween(*t, now))) + "</div>";
}

void Cards(std::string& out, const StatusSnapshot& s, TimePoint now) {
  out += "<section class=\"cards\">";
  std::string hb_sub = s.last_heartbeat_at ? E(LocalTime(*s.last_heartbeat_at)) + " · " +
                                                 E(HeartbeatOutcomeName(s.last_heartbeat_outcome))
                                           : "none sent yet";
  Card(out, "Last heartbeat", WhenValue("last-heartbeat", s.last_heartbeat_at, now), hb_sub,
       s.last_heartbeat_at && s.last_heartbeat_outcome != HeartbeatOutcome::kOk);
  Card(out, "Last successful sync", WhenValue("last-sync", s.last_sync_at, now),
       s.last_sync_at ? E(LocalTime(*s.last_sync_at)) : "no batch accepted yet");
  Card(out, "Waiting to send", CountValue("pending", s.outbox.pending + s.outbox.in_batches),
       "records (<span id=\"in-batches\" data-value=\"" + std::to_string(s.outbox.in_batches) + "\">" +
           Grouped(s.outbox.in_batches) + "</span> being sent)");
  std::string oldest =
      "<div class=\"value\" id=\"oldest-pending\" data-value=\"" +
      std::to_string(static_cast<int64_t>(std::max(0.0, s.outbox.oldest_pending_age_seconds))) + "\">" +
      (s.outbox.pending + s.outbox.in_batches == 0 ? std::string("—")
                                                   : E(HumanDuration(s.outbox.oldest_pending_age_seconds))) +
      "</div>";
  Card(out, "Oldest waiting", oldest, "age of the oldest record not yet sent");
  Card(out, "Refused records", CountValue("dead", s.outbox.dead), "dead letters, listed below", s.outbox.dead > 0);
  Card(out, "Delivered", CountValue("delivered", s.records.delivered),
       "records since the agent started (" + Grouped(s.records.enqueued) + " queued)");
  out += "</section>\n";
}

// 1, 2, 5, 10, 20, 50, ... at or above v: round chart scales.
uint64_t NiceCeiling(uint64_t v) {
  uint64_t step = 1;
  while (true) {
    for (uint64_t m : {1, 2, 5}) {
      if (step * m >= v) return step * m;
    }
    if (step > UINT64_MAX / 10) return v;
    step *= 10;
  }
}

std::string Coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

void Chart(std::string& out, const StatusSnapshot& s, TimePoint now) {
  constexpr double kLeft = 56, kRight = 990, kTop = 12, kBottom = 210, kWidth = 1000, kHeight = 240;
  constexpr double kSpan = 24 * 3600.0;
  const TimePoint start = now - std::chrono::hours(24);

  std::vector<const HistoryPoint*> points;
  uint64_t delivered_24h = 0, top = 0;
  for (const HistoryPoint& p : s.history) {
    double at = SecondsBetween(start, p.time);
    if (at < 0 || at > kSpan + 60) continue;
    points.push_back(&p);
    delivered_24h += p.delivered;
    top = std::max({top, p.delivered, p.queued});
  }
  top = NiceCeiling(std::max<uint64_t>(top, 1));

  out += "<section class=\"panel\"><h2>Records over the last 24 hours</h2>";
  out += "<p class=\"legend\">Delivered in the last 24 h: <strong id=\"delivered-24h\" data-value=\"" +
         std::to_string(delivered_24h) + "\">" + Grouped(delivered_24h) +
         "</strong><span class=\"swatch\" style=\"background:#2f6fde\"></span>delivered per 5 minutes"
         "<span class=\"swatch\" style=\"background:#e07b00\"></span>waiting in the outbox</p>";
  if (points.empty()) {
    out +=
        "<p class=\"empty\" id=\"history-empty\">No data yet: the chart fills in as the agent runs (one point "
        "every 5 minutes).</p></section>\n";
    return;
  }

  auto x_of = [&](TimePoint t) { return kLeft + (kRight - kLeft) * SecondsBetween(start, t) / kSpan; };
  auto y_of = [&](uint64_t v) {
    return kBottom - (kBottom - kTop) * static_cast<double>(v) / static_cast<double>(top);
  };
  const double bar = std::max(1.0, (kRight - kLeft) * 300.0 / kSpan - 0.6);

  out += "<svg id=\"history-chart\" data-points=\"" + std::to_string(points.size()) + "\" viewBox=\"0 0 " +
         Coord(kWidth) + " " + Coord(kHeight) +
         "\" role=\"img\" aria-label=\"Records delivered and waiting over the last 24 hours\">";
  // Grid and y labels at 0, half and top.
  for (uint64_t v : {uint64_t{0}, top / 2, top}) {
    std::string y = Coord(y_of(v));
    out += "<line x1=\"" + Coord(kLeft) + "\" x2=\"" + Coord(kRight) + "\" y1=\"" + y + "\" y2=\"" + y +
           "\" stroke=\"#d8dee4\" stroke-width=\"1\"/>";
    out += "<text x=\"" + Coord(kLeft - 6) + "\" y=\"" + Coord(y_of(v) + 4) +
           "\" font-size=\"12\" fill=\"#57606a\" text-anchor=\"end\">" + Grouped(v) + "</text>";
  }
  // X labels every 6 hours.
  for (int h = 24; h >= 0; h -= 6) {
    double x = kLeft + (kRight - kLeft) * (24 - h) / 24.0;
    const char* anchor = h == 24 ? "start" : (h == 0 ? "end" : "middle");
    out += "<text x=\"" + Coord(x) + "\" y=\"" + Coord(kBottom + 20) + "\" font-size=\"12\" fill=\"#57606a\" " +
           "text-anchor=\"" + anchor + "\">" + (h == 0 ? std::string("now") : std::to_string(h) + " h ago") + "</text>";
  }
  // Delivered: one bar per point.
  for (const HistoryPoint* p : points) {
    if (p->delivered == 0) continue;
    double x = x_of(p->time);
    double y = y_of(p->delivered);
    out += "<rect x=\"" + Coord(std::max(kLeft, x - bar)) + "\" y=\"" + Coord(y) + "\" width=\"" + Coord(bar) +
           "\" height=\"" + Coord(kBottom - y) + "\" fill=\"#2f6fde\"/>";
  }
  // Queued: a line.
  std::string line;
  for (const HistoryPoint* p : points) line += Coord(x_of(p->time)) + "," + Coord(y_of(p->queued)) + " ";
  out += "<polyline points=\"" + line + "\" fill=\"none\" stroke=\"#e07b00\" stroke-width=\"2.5\" " +
         "stroke-linejoin=\"round\"/>";
  out += "</svg></section>\n";
}

void RecentFiles(std::string& out, const StatusSnapshot& s, TimePoint now) {
  out += "<section class=\"panel\"><h2>Recent files</h2>";
  if (s.recent_files.empty()) {
    out += "<p class=\"empty\">No file read yet. Files dropped in the watch folder appear here.</p></section>\n";
    return;
  }
  out +=
      "<table id=\"recent-files\"><thead><tr><th>When</th><th>File</th><th>Outcome</th>"
      "<th class=\"num\">Rows OK</th><th class=\"num\">Rows failed</th><th>Detail</th></tr></thead><tbody>";
  std::size_t n = std::min(s.recent_files.size(), StatusSnapshot::kMaxRecentFiles);
  for (std::size_t i = 0; i < n; ++i) {
    const RecentFile& f = s.recent_files[i];
    const char* outcome = FileOutcomeName(f.outcome);
    out += "<tr data-outcome=\"" + std::string(outcome) + "\"><td class=\"when\">" + TimeAgo(f.at, now) +
           "</td><td><code>" + E(f.name) + "</code></td><td><span class=\"badge " + outcome + "\">" + outcome +
           "</span></td><td class=\"num\">" + Grouped(f.rows_ok) + "</td><td class=\"num\">" + Grouped(f.rows_failed) +
           "</td><td>" + E(f.detail) + "</td></tr>";
  }
  out += "</tbody></table></section>\n";
}

void DeadLetters(std::string& out, const StatusSnapshot& s, TimePoint now) {
  out += "<section class=\"panel\"><h2>Records refused by OpesCare (dead letters)</h2>";
  if (s.dead_letters.empty() && s.outbox.dead == 0) {
    out += "<p class=\"empty\">None. Every record sent so far was accepted.</p></section>\n";
    return;
  }
  out +=
      "<p class=\"hint\">OpesCare refused these records for the reason shown. Correct the data in the "
      "facility system and export the file again, or re-queue them with "
      "<code>opescare-bridge dead-letters retry</code>.";
  std::size_t n = std::min(s.dead_letters.size(), StatusSnapshot::kMaxDeadLetters);
  if (s.outbox.dead > n) out += " Showing the newest " + Grouped(n) + " of " + Grouped(s.outbox.dead) + ".";
  out += "</p>";
  out +=
      "<table id=\"dead-letters\"><thead><tr><th>When</th><th>Type</th><th>Source file</th>"
      "<th class=\"num\">Row</th><th>OpesCare's reason</th><th>Record id</th></tr></thead><tbody>";
  for (std::size_t i = 0; i < n; ++i) {
    const DeadLetterSummary& d = s.dead_letters[i];
    out += "<tr data-record-id=\"" + E(d.record_id) + "\"><td class=\"when\">" + TimeAgo(d.at, now) + "</td><td>" +
           E(d.type) + "</td><td><code>" + E(d.source_file) + "</code></td><td class=\"num\">" +
           std::to_string(d.source_row) + "</td><td>";
    if (!d.error.empty()) out += "<code>" + E(d.error) + "</code> ";
    out += E(d.message) + "</td><td><code>" + E(d.record_id) + "</code></td></tr>";
  }
  out += "</tbody></table></section>\n";
}

}  // namespace

std::string RenderStatusPage(const StatusSnapshot& s, TimePoint now) {
  std::string out;
  out.reserve(16 * 1024 + s.history.size() * 120);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"5\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  out += "<title>" + E(StateHeadline(s.connection_state)) + " · OpesCare Bridge</title><style>";
  out += kStyle;
  out += "</style></head>\n<body><main>\n";
  Header(out, s, now);
  Banner(out, s);
  Notices(out, s);
  Cards(out, s, now);
  Chart(out, s, now);
  RecentFiles(out, s, now);
  DeadLetters(out, s, now);
  out += "<footer>Updated " + E(LocalTime(now)) +
         "; this page refreshes every 5 seconds. For machines: <a href=\"/status.json\">status.json</a> · "
         "<a href=\"/metrics\">metrics</a> · <a href=\"/healthz\">healthz</a> · <a href=\"/readyz\">readyz</a>"
         "</footer>\n</main></body></html>\n";
  return out;
}

}  // namespace opescare::status
