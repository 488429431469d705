// WatchdogGate: decides whether the agent may tell systemd "WATCHDOG=1", i.e. whether both of its
// threads have proved recently that they still make progress.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace opescare::service {

// The run loop reports "the event loop ran at t" (from a timer on the io_context) and "the disk
// worker ran at t" (from a no-op task posted to the worker and completed there); at each ping tick
// it asks ShouldPing(now). A thread that has not reported within `max_silence` withholds the ping,
// so systemd's watchdog restarts an agent whose worker is stuck in a disk call even while its
// network thread is healthy. Pure logic on steady time; not thread-safe (call it from the event
// loop, passing the worker's report there by post).
class WatchdogGate {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // max_silence: how stale a report may be. The watchdog timeout (WatchdogSec) is a good value:
  // the ping interval is half of it, so a healthy thread always reports in time.
  explicit WatchdogGate(std::chrono::steady_clock::duration max_silence) : max_silence_(max_silence) {}

  void EventLoopAlive(TimePoint t) { Update(event_loop_, t); }
  void DiskWorkerAlive(TimePoint t) { Update(disk_worker_, t); }

  // True when both threads reported within max_silence before `now` (a report from the future,
  // which a monotonic clock never gives, counts as fresh). False until both have reported once.
  bool ShouldPing(TimePoint now) const { return StallReason(now).empty(); }

  // Why ShouldPing is false, for the log line and STATUS= text ("disk worker silent for 42 s"),
  // or "" when both are alive.
  std::string StallReason(TimePoint now) const;

 private:
  static void Update(std::optional<TimePoint>& last, TimePoint t) {
    // Reports may arrive out of order (the worker's comes back by post); keep the latest.
    if (!last || t > *last) last = t;
  }

  std::chrono::steady_clock::duration max_silence_;
  std::optional<TimePoint> event_loop_;
  std::optional<TimePoint> disk_worker_;
};

}  // namespace opescare::service
