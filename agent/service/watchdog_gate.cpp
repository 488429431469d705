// WatchdogGate: the reason, if any, to withhold the systemd watchdog ping.
#include "agent/service/watchdog_gate.h"

namespace opescare::service {
namespace {

std::string Silence(const char* who, const std::optional<WatchdogGate::TimePoint>& last, WatchdogGate::TimePoint now,
                    std::chrono::steady_clock::duration max_silence) {
  if (!last) return std::string(who) + " has not reported yet";
  if (now <= *last || now - *last <= max_silence) return "";
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - *last).count();
  return std::string(who) + " silent for " + std::to_string(seconds) + " s";
}

}  // namespace

std::string WatchdogGate::StallReason(TimePoint now) const {
  std::string loop = Silence("event loop", event_loop_, now, max_silence_);
  std::string disk = Silence("disk worker", disk_worker_, now, max_silence_);
  if (!loop.empty() && !disk.empty()) return loop + ", " + disk;
  return loop.empty() ? disk : loop;
}

}  // namespace opescare::service
