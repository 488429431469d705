// Clock offset samples and their smoothing (see clock_offset.h).
#include "agent/bridge/clock_offset.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "agent/bridge/http_date.h"
#include "agent/http/client.h"

namespace opescare::bridge {

std::optional<int64_t> OffsetSample(std::string_view date_header, std::chrono::system_clock::time_point sent_at,
                                    std::chrono::system_clock::time_point received_at) {
  auto server = ParseHttpDate(date_header);
  if (!server) return std::nullopt;
  using Ms = std::chrono::milliseconds;
  if (sent_at.time_since_epoch().count() == 0 || sent_at > received_at) sent_at = received_at;
  auto midpoint = sent_at + (received_at - sent_at) / 2;
  auto diff = std::chrono::duration_cast<Ms>(*server - midpoint).count() + 500;
  return static_cast<int64_t>(std::llround(static_cast<double>(diff) / 1000.0));
}

void ClockOffsetTracker::AddSample(int64_t sample) {
  int64_t current = offset_.load(std::memory_order_relaxed);
  if (!recent_.empty()) {
    int64_t previous = recent_.back();
    bool step =
        std::llabs(sample - previous) <= 2 && std::llabs(sample - current) > 5 && std::llabs(previous - current) > 5;
    if (step) recent_.erase(recent_.begin(), recent_.end() - 1);
  }
  recent_.push_back(sample);
  while (recent_.size() > kWindow) recent_.pop_front();
  std::vector<int64_t> sorted(recent_.begin(), recent_.end());
  std::sort(sorted.begin(), sorted.end());
  size_t n = sorted.size();
  int64_t median = n % 2 == 1
                       ? sorted[n / 2]
                       : static_cast<int64_t>(std::llround(
                             (static_cast<double>(sorted[n / 2 - 1]) + static_cast<double>(sorted[n / 2])) / 2.0));
  offset_.store(median, std::memory_order_relaxed);
  has_sample_.store(true, std::memory_order_relaxed);
}

bool ClockOffsetTracker::AddResponse(const http::Outcome& outcome) {
  if (!outcome.response) return false;
  auto date = outcome.response->Header("Date");
  if (!date) return false;
  auto sample = OffsetSample(*date, outcome.sent_at, outcome.received_at);
  if (!sample) return false;
  AddSample(*sample);
  return true;
}

bool ClockSkewWorthWarning(int64_t offset_seconds) { return std::llabs(offset_seconds) > kClockSkewWarnSeconds; }

bool ClockLikelyCausesAuthFailure(int64_t offset_seconds) {
  return std::llabs(offset_seconds) > kClockSkewAuthHintSeconds;
}

}  // namespace opescare::bridge
