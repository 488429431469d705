// /status.json: the snapshot as one JSON object (read by `opescare-bridge status --json` and by people's scripts).
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cmath>

#include "agent/status/render.h"
#include "agent/util/clock.h"

namespace opescare::status {
namespace {

namespace json = boost::json;

json::value Time(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return json::string(FormatIso8601Utc(*t));
}

// Seconds from t to now, or null when t is unknown.
json::value Age(const std::optional<TimePoint>& t, TimePoint now) {
  if (!t) return nullptr;
  return std::chrono::duration<double>(now - *t).count();
}

// JSON has no NaN or infinity: such a value is reported as unknown.
json::value Number(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

json::value Optional(const std::optional<double>& v) {
  if (!v) return nullptr;
  return Number(*v);
}

json::object Histogram(const DurationHistogram& h) {
  json::array buckets;
  for (std::size_t i = 0; i < DurationHistogram::kBounds.size(); ++i) {
    buckets.push_back(json::object{{"le", DurationHistogram::kBounds[i]}, {"count", h.CumulativeCount(i)}});
  }
  return {{"count", h.count()}, {"sum", Number(h.sum())}, {"buckets", std::move(buckets)}};
}

json::object AgentJson(const StatusSnapshot& s, TimePoint now) {
  Readiness readiness = CheckReadiness(s);
  return json::object{{"version", s.version},
                      {"build_type", s.build_type},
                      {"environment", s.environment},
                      {"agent_id", s.agent_id},
                      {"facility_id", s.facility_id},
                      {"started_at", Time(s.started_at)},
                      {"uptime_seconds", Age(s.started_at, now)},
                      {"configured", s.configured},
                      {"ready", readiness.ready},
                      {"not_ready_reason", readiness.reason}};
}

json::object ConnectionJson(const StatusSnapshot& s, TimePoint now) {
  const HeartbeatCounts& hb = s.heartbeats;
  return json::object{
      {"state", ConnectionStateName(s.connection_state)},
      {"headline", StateHeadline(s.connection_state)},
      {"last_error_code", s.last_error_code},
      {"last_error_message", s.last_error_message},
      {"fix", s.fix.empty() ? DefaultFix(s.connection_state, s.clock_offset_seconds) : s.fix},
      {"last_heartbeat_at", Time(s.last_heartbeat_at)},
      {"last_heartbeat_age_seconds", Age(s.last_heartbeat_at, now)},
      {"last_heartbeat_outcome",
       s.last_heartbeat_at ? json::value(HeartbeatOutcomeName(s.last_heartbeat_outcome)) : json::value(nullptr)},
      {"last_sync_at", Time(s.last_sync_at)},
      {"last_sync_age_seconds", Age(s.last_sync_at, now)},
      {"clock_offset_seconds", Optional(s.clock_offset_seconds)},
      {"heartbeats", json::object{{"ok", hb.ok},
                                  {"unauthorized", hb.unauthorized},
                                  {"config_error", hb.config_error},
                                  {"unreachable", hb.unreachable},
                                  {"tls_error", hb.tls_error},
                                  {"server_error", hb.server_error}}}};
}

json::object DeliveryJson(const StatusSnapshot& s) {
  return json::object{{"paused", s.delivery_paused},
                      {"paused_reason", s.delivery_paused_reason},
                      {"backoff_remaining_seconds", Number(s.backoff_remaining_seconds)},
                      {"records", json::object{{"enqueued", s.records.enqueued},
                                               {"delivered", s.records.delivered},
                                               {"rejected", s.records.rejected},
                                               {"resent", s.records.resent}}},
                      {"batches", json::object{{"2xx", s.batches.status_2xx},
                                               {"4xx", s.batches.status_4xx},
                                               {"5xx", s.batches.status_5xx},
                                               {"other", s.batches.status_other},
                                               {"transport", s.batches.transport}}},
                      {"batch_send_duration_seconds", Histogram(s.batch_send_duration)}};
}

json::object OutboxJson(const StatusSnapshot& s) {
  return json::object{{"pending", s.outbox.pending},
                      {"in_batches", s.outbox.in_batches},
                      {"dead", s.outbox.dead},
                      {"oldest_pending_age_seconds", Number(s.outbox.oldest_pending_age_seconds)},
                      {"size_bytes", s.outbox.size_bytes}};
}

json::object IngestJson(const StatusSnapshot& s) {
  return json::object{
      {"paused", s.ingest_paused},
      {"paused_reason", s.ingest_paused_reason},
      {"files",
       json::object{{"processed", s.files.processed}, {"failed", s.files.failed}, {"duplicate", s.files.duplicate}}},
      {"rows", json::object{{"ok", s.rows.ok}, {"failed", s.rows.failed}}}};
}

json::array HistoryJson(const StatusSnapshot& s) {
  json::array history;
  history.reserve(s.history.size());
  for (const HistoryPoint& p : s.history) {
    history.push_back(
        json::object{{"time", FormatIso8601Utc(p.time)}, {"delivered", p.delivered}, {"queued", p.queued}});
  }
  return history;
}

json::array RecentFilesJson(const StatusSnapshot& s) {
  json::array files;
  for (std::size_t i = 0; i < std::min(s.recent_files.size(), StatusSnapshot::kMaxRecentFiles); ++i) {
    const RecentFile& f = s.recent_files[i];
    files.push_back(json::object{{"name", f.name},
                                 {"outcome", FileOutcomeName(f.outcome)},
                                 {"rows_ok", f.rows_ok},
                                 {"rows_failed", f.rows_failed},
                                 {"at", FormatIso8601Utc(f.at)},
                                 {"detail", f.detail}});
  }
  return files;
}

json::array DeadLettersJson(const StatusSnapshot& s) {
  json::array dead;
  for (std::size_t i = 0; i < std::min(s.dead_letters.size(), StatusSnapshot::kMaxDeadLetters); ++i) {
    const DeadLetterSummary& d = s.dead_letters[i];
    dead.push_back(json::object{{"record_id", d.record_id},
                                {"type", d.type},
                                {"source_file", d.source_file},
                                {"source_row", d.source_row},
                                {"error", d.error},
                                {"message", d.message},
                                {"at", FormatIso8601Utc(d.at)}});
  }
  return dead;
}

json::array FaultsJson(const StatusSnapshot& s) {
  json::array faults;
  for (const Fault& f : s.faults)
    faults.push_back(json::object{{"kind", f.kind}, {"message", f.message}, {"fix", f.fix}});
  return faults;
}

}  // namespace

std::string RenderStatusJson(const StatusSnapshot& s, TimePoint now) {
  json::object root{{"generated_at", FormatIso8601Utc(now)},
                    {"agent", AgentJson(s, now)},
                    {"faults", FaultsJson(s)},
                    {"connection", ConnectionJson(s, now)},
                    {"delivery", DeliveryJson(s)},
                    {"outbox", OutboxJson(s)},
                    {"ingest", IngestJson(s)},
                    {"history", HistoryJson(s)},
                    {"recent_files", RecentFilesJson(s)},
                    {"dead_letters", DeadLettersJson(s)}};
  return json::serialize(root);
}

}  // namespace opescare::status
