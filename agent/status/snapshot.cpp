// Names of the snapshot's enums, the batch duration histogram and the 24 h History ring.
#include "agent/status/snapshot.h"

#include "agent/util/redact.h"

namespace opescare::status {

const char* HeartbeatOutcomeName(HeartbeatOutcome outcome) {
  switch (outcome) {
    case HeartbeatOutcome::kOk:
      return "ok";
    case HeartbeatOutcome::kUnauthorized:
      return "unauthorized";
    case HeartbeatOutcome::kConfigError:
      return "config_error";
    case HeartbeatOutcome::kUnreachable:
      return "unreachable";
    case HeartbeatOutcome::kTlsError:
      return "tls_error";
    case HeartbeatOutcome::kServerError:
      return "server_error";
  }
  return "server_error";
}

uint64_t& HeartbeatCounts::For(HeartbeatOutcome outcome) {
  switch (outcome) {
    case HeartbeatOutcome::kOk:
      return ok;
    case HeartbeatOutcome::kUnauthorized:
      return unauthorized;
    case HeartbeatOutcome::kConfigError:
      return config_error;
    case HeartbeatOutcome::kUnreachable:
      return unreachable;
    case HeartbeatOutcome::kTlsError:
      return tls_error;
    case HeartbeatOutcome::kServerError:
      return server_error;
  }
  return server_error;
}

const char* FileOutcomeName(FileOutcome outcome) {
  switch (outcome) {
    case FileOutcome::kProcessed:
      return "processed";
    case FileOutcome::kFailed:
      return "failed";
    case FileOutcome::kDuplicate:
      return "duplicate";
  }
  return "failed";
}

void DurationHistogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // NaN or negative (clock step): count it, as zero
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      ++per_bucket_[i];
      break;
    }
  }
  ++count_;
  sum_ += seconds;
}

uint64_t DurationHistogram::CumulativeCount(std::size_t i) const {
  uint64_t total = 0;
  for (std::size_t j = 0; j <= i && j < per_bucket_.size(); ++j) total += per_bucket_[j];
  return total;
}

History::History(std::size_t capacity) : ring_(capacity == 0 ? 1 : capacity) {}

void History::Add(const HistoryPoint& point) {
  ring_[next_] = point;
  next_ = (next_ + 1) % ring_.size();
  if (size_ < ring_.size()) ++size_;
}

void History::Sample(TimePoint now, uint64_t delivered_total, uint64_t queued) {
  uint64_t delivered = 0;
  if (last_delivered_total_) {
    delivered = delivered_total >= *last_delivered_total_ ? delivered_total - *last_delivered_total_ : delivered_total;
  }
  last_delivered_total_ = delivered_total;
  Add({now, delivered, queued});
}

std::vector<HistoryPoint> History::Points() const {
  std::vector<HistoryPoint> out;
  out.reserve(size_);
  std::size_t start = (next_ + ring_.size() - size_) % ring_.size();
  for (std::size_t i = 0; i < size_; ++i) out.push_back(ring_[(start + i) % ring_.size()]);
  return out;
}

StatusSnapshot Redacted(StatusSnapshot s, const std::vector<std::string>& secrets) {
  auto hide = [&secrets](std::string& text) { text = RedactSecrets(std::move(text), secrets); };
  hide(s.last_error_code);
  hide(s.last_error_message);
  hide(s.fix);
  hide(s.delivery_paused_reason);
  hide(s.ingest_paused_reason);
  for (Fault& f : s.faults) {
    hide(f.message);
    hide(f.fix);
  }
  for (RecentFile& f : s.recent_files) hide(f.detail);
  for (DeadLetterSummary& d : s.dead_letters) {
    hide(d.error);
    hide(d.message);
  }
  return s;
}

}  // namespace opescare::status
