// /metrics: the snapshot in the Prometheus text exposition format 0.0.4 (HELP and TYPE before each family).
#include <charconv>
#include <cmath>
#include <string_view>
#include <utility>

#include "agent/status/render.h"
#include "agent/util/clock.h"

namespace opescare::status {
namespace {

constexpr std::string_view kPrefix = "opescare_bridge_";

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back the same
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string Number(uint64_t v) { return std::to_string(v); }

// Label values escape backslash, double quote and newline (the format's only escapes).
std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

class Writer {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    current_ = std::string(kPrefix) + std::string(name);
    out_ += "# HELP " + current_ + " " + std::string(help) + "\n";
    out_ += "# TYPE " + current_ + " " + std::string(type) + "\n";
  }
  // A sample of the current family; `suffix` is "_bucket", "_sum", "_count" for histograms.
  void Sample(const std::string& value, std::string_view labels = {}, std::string_view suffix = {}) {
    out_ += current_;
    out_ += suffix;
    if (!labels.empty()) {
      out_ += "{";
      out_ += labels;
      out_ += "}";
    }
    out_ += " " + value + "\n";
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string current_;
  std::string out_;
};

std::string Label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + LabelValue(value) + "\"";
}

double UnixSecondsOf(TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

// The agent and its link to OpesCare: build, start, heartbeats, connection state, clock.
void WriteAgentAndLink(Writer& w, const StatusSnapshot& s) {
  w.Family("build_info", "gauge", "Always 1; the labels say which build of the agent runs.");
  w.Sample("1", Label("version", s.version) + "," + Label("build_type", s.build_type));

  if (s.started_at) {
    w.Family("start_time_seconds", "gauge", "When the agent started, in Unix seconds.");
    w.Sample(Number(UnixSecondsOf(*s.started_at)));
  }

  w.Family("heartbeats_total", "counter", "Heartbeats sent, by outcome.");
  for (HeartbeatOutcome o :
       {HeartbeatOutcome::kOk, HeartbeatOutcome::kUnauthorized, HeartbeatOutcome::kConfigError,
        HeartbeatOutcome::kUnreachable, HeartbeatOutcome::kTlsError, HeartbeatOutcome::kServerError}) {
    w.Sample(Number(s.heartbeats.For(o)), Label("outcome", HeartbeatOutcomeName(o)));
  }
  if (s.last_heartbeat_at) {
    w.Family("last_heartbeat_timestamp_seconds", "gauge", "When the last heartbeat was sent, in Unix seconds.");
    w.Sample(Number(UnixSecondsOf(*s.last_heartbeat_at)));
  }
  if (s.last_sync_at) {
    w.Family("last_sync_timestamp_seconds", "gauge", "When OpesCare last accepted a batch, in Unix seconds.");
    w.Sample(Number(UnixSecondsOf(*s.last_sync_at)));
  }

  w.Family("connection_state", "gauge", "1 for the current state of the link to OpesCare, 0 for the others.");
  for (ConnectionState state : kAllConnectionStates) {
    w.Sample(state == s.connection_state ? "1" : "0", Label("state", ConnectionStateName(state)));
  }

  if (s.clock_offset_seconds) {
    w.Family("clock_offset_seconds", "gauge", "OpesCare's clock minus this computer's, from the Date header.");
    w.Sample(Number(*s.clock_offset_seconds));
  }
}

// What delivery did: records, batches by answer, and how long batches took.
void WriteDelivery(Writer& w, const StatusSnapshot& s) {
  w.Family("records_enqueued_total", "counter", "Records put into the outbox.");
  w.Sample(Number(s.records.enqueued));
  w.Family("records_delivered_total", "counter", "Records OpesCare accepted.");
  w.Sample(Number(s.records.delivered));
  w.Family("records_rejected_total", "counter", "Records OpesCare refused, moved to the dead letters.");
  w.Sample(Number(s.records.rejected));
  w.Family("records_resent_total", "counter", "Records sent again in a retried batch.");
  w.Sample(Number(s.records.resent));

  w.Family("batches_total", "counter", "Sync batches sent, by the HTTP status class of the answer.");
  w.Sample(Number(s.batches.status_2xx), Label("status_class", "2xx"));
  w.Sample(Number(s.batches.status_4xx), Label("status_class", "4xx"));
  w.Sample(Number(s.batches.status_5xx), Label("status_class", "5xx"));
  w.Sample(Number(s.batches.status_other), Label("status_class", "other"));
  w.Sample(Number(s.batches.transport), Label("status_class", "transport"));

  const DurationHistogram& h = s.batch_send_duration;
  w.Family("batch_send_duration_seconds", "histogram", "Time from sending a batch to its answer.");
  for (std::size_t i = 0; i < DurationHistogram::kBounds.size(); ++i) {
    w.Sample(Number(h.CumulativeCount(i)), Label("le", Number(DurationHistogram::kBounds[i])), "_bucket");
  }
  w.Sample(Number(h.count()), Label("le", "+Inf"), "_bucket");
  w.Sample(Number(h.sum()), {}, "_sum");
  w.Sample(Number(h.count()), {}, "_count");
}

// The outbox, the pauses, the connector's files and rows, and the faults lived with.
void WriteOutboxAndIngest(Writer& w, const StatusSnapshot& s) {
  w.Family("outbox_pending_records", "gauge", "Records waiting in the outbox, not yet in a batch.");
  w.Sample(Number(s.outbox.pending));
  w.Family("outbox_in_batch_records", "gauge", "Records in a batch being sent or retried.");
  w.Sample(Number(s.outbox.in_batches));
  w.Family("outbox_dead_records", "gauge", "Dead letters: records OpesCare refused, kept for a person to act on.");
  w.Sample(Number(s.outbox.dead));
  w.Family("outbox_oldest_pending_age_seconds", "gauge", "Age of the oldest pending record; 0 when none.");
  w.Sample(Number(s.outbox.oldest_pending_age_seconds));
  w.Family("outbox_size_bytes", "gauge", "Size of the outbox database on disk.");
  w.Sample(Number(s.outbox.size_bytes));

  w.Family("delivery_paused", "gauge", "1 when delivery is paused by an auth or configuration error.");
  w.Sample(s.delivery_paused ? "1" : "0");
  w.Family("delivery_backoff_remaining_seconds", "gauge", "Time left before the next delivery retry.");
  w.Sample(Number(s.backoff_remaining_seconds));

  w.Family("files_total", "counter", "Files the connector finished with, by outcome.");
  w.Sample(Number(s.files.processed), Label("outcome", "processed"));
  w.Sample(Number(s.files.failed), Label("outcome", "failed"));
  w.Sample(Number(s.files.duplicate), Label("outcome", "duplicate"));
  w.Family("rows_total", "counter", "CSV rows read, by outcome.");
  w.Sample(Number(s.rows.ok), Label("outcome", "ok"));
  w.Sample(Number(s.rows.failed), Label("outcome", "failed"));

  w.Family("ingest_paused", "gauge", "1 when the connector takes no new files (outbox full or a disk fault).");
  w.Sample(s.ingest_paused ? "1" : "0");

  w.Family("fault", "gauge", "1 for each fault the agent is living with (see /status.json faults), 0 otherwise.");
  for (std::string_view kind : kFaultKinds) {
    bool present = false;
    for (const Fault& f : s.faults) present = present || f.kind == kind;
    w.Sample(present ? "1" : "0", Label("kind", std::string(kind)));
  }
}

}  // namespace

std::string RenderMetrics(const StatusSnapshot& s) {
  Writer w;
  WriteAgentAndLink(w, s);
  WriteDelivery(w, s);
  WriteOutboxAndIngest(w, s);
  return w.Take();
}

}  // namespace opescare::status
