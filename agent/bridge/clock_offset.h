// The server clock offset (PROTOCOL.md "Clock"): samples from each response's Date header, smoothed,
// added to X-Bridge-Timestamp so that a facility server without NTP is still accepted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

namespace opescare::http {
struct Outcome;
}

namespace opescare::bridge {

inline constexpr int64_t kClockSkewWarnSeconds = 30;      // beyond it: warn (once an hour) and show in status
inline constexpr int64_t kClockSkewAuthHintSeconds = 60;  // beyond it, a 401 is blamed on the clock

// One sample, server - local, in whole seconds: the Date header against the local midpoint of the
// request (sent_at..received_at). Date is truncated to the second, so the server's true time at that
// moment is on average Date + 0.5 s; the sample adds that half second before rounding.
// nullopt when the header is missing or unparsable.
std::optional<int64_t> OffsetSample(std::string_view date_header, std::chrono::system_clock::time_point sent_at,
                                    std::chrono::system_clock::time_point received_at);

// Smoothed offset. The first sample is taken as-is (a clock an hour off is corrected after one
// response); after that the estimate is the median of the last 5 samples, so one slow response does
// not move it; two consecutive samples that agree with each other (within 2 s) but not with the
// estimate (by more than 5 s) mean a clock step and replace the history.
// Thread-safety: Add* from one thread at a time; offset_seconds()/has_sample() from any thread.
class ClockOffsetTracker {
 public:
  void AddSample(int64_t offset_seconds);
  // Takes a sample from a response's Date header; false when there was none to take.
  bool AddResponse(const http::Outcome& outcome);

  int64_t offset_seconds() const { return offset_.load(std::memory_order_relaxed); }  // 0 before any sample
  bool has_sample() const { return has_sample_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kWindow = 5;
  std::deque<int64_t> recent_;
  std::atomic<int64_t> offset_{0};
  std::atomic<bool> has_sample_{false};
};

// |offset| > kClockSkewWarnSeconds.
bool ClockSkewWorthWarning(int64_t offset_seconds);
// |offset| > kClockSkewAuthHintSeconds.
bool ClockLikelyCausesAuthFailure(int64_t offset_seconds);

}  // namespace opescare::bridge
