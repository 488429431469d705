// StatusSnapshot: the plain data that the status page, /status.json and /metrics show, filled by the agent.
//
// By construction it holds ids, types, counts, times and error texts only: there is no field for a record's
// payload (names, phone numbers, ...) and none for the agent key, so no endpoint can ever show them.
// Thread-safety: plain values; the agent builds a snapshot and hands out copies.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/util/connection_state.h"
#include "agent/util/fault.h"

namespace opescare::status {

using TimePoint = std::chrono::system_clock::time_point;

// What the last exchange with OpesCare says about the link (heartbeat or sync, whichever came last).
using opescare::ConnectionState;
using opescare::ConnectionStateName;
using opescare::kAllConnectionStates;

// The outcome of one heartbeat; the same vocabulary as ConnectionState without "unknown".
enum class HeartbeatOutcome { kOk, kUnauthorized, kConfigError, kUnreachable, kTlsError, kServerError };
// "ok", "unauthorized", "config_error", "unreachable", "tls_error", "server_error".
const char* HeartbeatOutcomeName(HeartbeatOutcome outcome);

struct HeartbeatCounts {
  uint64_t ok = 0;
  uint64_t unauthorized = 0;
  uint64_t config_error = 0;
  uint64_t unreachable = 0;
  uint64_t tls_error = 0;
  uint64_t server_error = 0;
  uint64_t& For(HeartbeatOutcome outcome);
  uint64_t For(HeartbeatOutcome outcome) const { return const_cast<HeartbeatCounts*>(this)->For(outcome); }
};

struct RecordCounts {
  uint64_t enqueued = 0;   // records the connector put into the outbox
  uint64_t delivered = 0;  // records the server accepted (2xx or duplicate_batch)
  uint64_t rejected = 0;   // records the server refused one by one: moved to dead letters
  uint64_t resent = 0;     // records sent again in a retried batch
};

// Sync batches by the HTTP status class of their answer (409 duplicate_batch is 4xx, though it delivers).
struct BatchCounts {
  uint64_t status_2xx = 0;
  uint64_t status_4xx = 0;
  uint64_t status_5xx = 0;
  uint64_t status_other = 0;  // 1xx, 3xx: unexpected answers
  uint64_t transport = 0;     // no HTTP answer: DNS, TCP, TLS, timeout
};

// Batch send durations in seconds, with fixed buckets (Prometheus histogram semantics).
class DurationHistogram {
 public:
  // Upper bounds in seconds; a last +Inf bucket is implied. Up to the default request timeout and beyond.
  static constexpr std::array<double, 12> kBounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  void Observe(double seconds);
  // Observations <= kBounds[i] (cumulative, as Prometheus wants it).
  uint64_t CumulativeCount(std::size_t i) const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::array<uint64_t, kBounds.size()> per_bucket_{};  // not cumulative; above the last bound only in count_
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct OutboxFigures {
  uint64_t pending = 0;                   // waiting to be sent (not in a batch)
  uint64_t in_batches = 0;                // in a formed batch that is being sent or retried
  uint64_t dead = 0;                      // dead letters (all of them; the snapshot lists only the newest)
  double oldest_pending_age_seconds = 0;  // 0 when nothing is pending
  uint64_t size_bytes = 0;                // database + WAL on disk
};

struct FileCounts {
  uint64_t processed = 0;
  uint64_t failed = 0;
  uint64_t duplicate = 0;  // same content seen before: not queued again
};

struct RowCounts {
  uint64_t ok = 0;
  uint64_t failed = 0;
};

// One point of the 24 h chart.
struct HistoryPoint {
  TimePoint time;
  uint64_t delivered = 0;  // records delivered during the interval that ends at `time`
  uint64_t queued = 0;     // records pending in the outbox at `time`
};

// A fixed-size ring of HistoryPoints: with the defaults, one point per 5 minutes over 24 h.
// Not thread-safe; the agent owns one and copies Points() into each snapshot.
class History {
 public:
  static constexpr std::chrono::minutes kDefaultInterval{5};
  static constexpr std::size_t kDefaultCapacity = 24 * 60 / 5;  // 288

  explicit History(std::size_t capacity = kDefaultCapacity);

  // Appends a point; the oldest one goes when full.
  void Add(const HistoryPoint& point);
  // Appends a point whose `delivered` is how much delivered_total grew since the previous Sample (0 on the
  // first call, which sets the baseline: call it once at start). A counter that went down counts from 0.
  void Sample(TimePoint now, uint64_t delivered_total, uint64_t queued);
  // Oldest first.
  std::vector<HistoryPoint> Points() const;
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return ring_.size(); }

 private:
  std::vector<HistoryPoint> ring_;
  std::size_t next_ = 0;  // where the next point goes
  std::size_t size_ = 0;
  std::optional<uint64_t> last_delivered_total_;
};

enum class FileOutcome { kProcessed, kFailed, kDuplicate };
// "processed", "failed", "duplicate".
const char* FileOutcomeName(FileOutcome outcome);

// A file the connector finished with.
struct RecentFile {
  std::string name;  // base name only, e.g. "patients_20261129.csv"
  FileOutcome outcome = FileOutcome::kProcessed;
  uint64_t rows_ok = 0;
  uint64_t rows_failed = 0;
  TimePoint at;
  std::string detail;  // why it failed, e.g. "missing column last_name" — column names and row numbers only
};

// A dead letter (outbox::DeadLetter) as the status page shows it: without its payload, by construction.
struct DeadLetterSummary {
  std::string record_id;
  std::string type;         // "patient", "visit", ...
  std::string source_file;  // base name
  uint64_t source_row = 0;
  std::string error;    // the server's machine code, e.g. "invalid_field"
  std::string message;  // the server's human text
  TimePoint at;         // when it was dead-lettered
};

struct StatusSnapshot {
  // The renderers show at most this many of the newest entries.
  static constexpr std::size_t kMaxRecentFiles = 20;
  static constexpr std::size_t kMaxDeadLetters = 50;

  // Who and what is running. Ids only; the agent key has no field, on purpose.
  std::string version;      // e.g. OB_VERSION
  std::string build_type;   // e.g. OB_BUILD_TYPE
  std::string environment;  // "production" | "sandbox"
  std::string agent_id;
  std::string facility_id;
  std::optional<TimePoint> started_at;

  // Readiness: /readyz answers 200 only when configured, the outbox is open and delivery is not paused.
  bool configured = false;
  bool outbox_open = false;

  // The link to OpesCare.
  ConnectionState connection_state = ConnectionState::kUnknown;
  std::string last_error_code;     // server's machine code ("bridge_token_invalid") or transport error name
  std::string last_error_message;  // server's or transport's text
  std::string fix;                 // what a person should do; empty: the page uses DefaultFix(state)
  std::optional<TimePoint> last_heartbeat_at;
  HeartbeatOutcome last_heartbeat_outcome = HeartbeatOutcome::kOk;  // meaningful when last_heartbeat_at is set
  HeartbeatCounts heartbeats;
  std::optional<TimePoint> last_sync_at;       // last batch the server accepted
  std::optional<double> clock_offset_seconds;  // server minus local; unknown until the first answer

  // Delivery.
  bool delivery_paused = false;
  std::string delivery_paused_reason;  // e.g. "the server refused the agent key (401 bridge_token_invalid)"
  double backoff_remaining_seconds = 0;
  RecordCounts records;
  BatchCounts batches;
  DurationHistogram batch_send_duration;

  OutboxFigures outbox;

  // Ingest (the CSV connector).
  FileCounts files;
  RowCounts rows;
  bool ingest_paused = false;
  std::string ingest_paused_reason;  // e.g. "outbox above outbox.max_size_mb"

  // Faults the agent lives with (a full disk, a watch folder it cannot write...): any of them makes /readyz
  // answer 503, and each shows on the page, in /status.json, /metrics and the heartbeat.
  std::vector<Fault> faults;

  std::vector<HistoryPoint> history;     // oldest first (History::Points())
  std::vector<RecentFile> recent_files;  // newest first
  std::vector<DeadLetterSummary> dead_letters;  // newest first
};

// The snapshot with every secret replaced by "***" in each text that may have come from outside (a server's
// error message, a dead letter's reason, a fault's words): what every endpoint renders.
StatusSnapshot Redacted(StatusSnapshot s, const std::vector<std::string>& secrets);

}  // namespace opescare::status
