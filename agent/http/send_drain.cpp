// SentWait (send_drain.h).
#include "agent/http/send_drain.h"

#include <algorithm>

namespace opescare::http {

std::optional<std::chrono::milliseconds> SentWait(const std::optional<env::TcpBacklog>& backlog, int64_t bound) {
  using std::chrono::milliseconds;
  if (bound <= 0 || !backlog || backlog->rtt < kFastLinkRtt) return std::nullopt;
  // Retransmitting: this upload stalls for a round trip or a timeout, and the link would idle meanwhile.
  if (backlog->recovering) return std::nullopt;
  const int64_t held = backlog->unsent_bytes + backlog->unacked_bytes;
  if (held <= bound) return std::nullopt;
  // Without a measured rate, about a window a round trip.
  const double rtt_s = std::chrono::duration<double>(backlog->rtt).count();
  const double rate = backlog->delivery_rate > 0 ? static_cast<double>(backlog->delivery_rate)
                                                 : static_cast<double>(held) / rtt_s;
  // Of the unacknowledged bytes, about rate x the path's own round trip have crossed the link already: only
  // their acknowledgements are still on the way.
  const double path_s = std::chrono::duration<double>(backlog->min_rtt).count();
  const int64_t left = held - std::min(backlog->unacked_bytes, static_cast<int64_t>(rate * path_s));
  if (left <= bound) return std::nullopt;
  auto wait = milliseconds(static_cast<int64_t>(1000.0 * static_cast<double>(left - bound) / rate));
  return std::clamp(wait, kMinSentLook, kMaxSentLook);
}

}  // namespace opescare::http
