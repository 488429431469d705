// When a request written to a connection counts as sent (Request::on_sent). With a backlog bound set
// (ClientOptions::sent_backlog_bytes), that is once no more than the bound of the connection's bytes are
// still to cross the link (unsent, or unacknowledged and not yet a path's round trip on their way), or once
// the connection retransmits: the next upload then starts as this one's last bytes leave the slow link, or
// while this one stalls on a loss, not when the kernel took them, which on a slow link is a whole
// congestion window earlier. Pure; the connection reads the backlog (env::ReadTcpBacklog) and asks again
// after the wait this returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "agent/env/socket_tuning.h"

namespace opescare::http {

// Below this round trip the link is fast: a receipt's wait costs little, so a request counts as sent once
// written.
inline constexpr std::chrono::milliseconds kFastLinkRtt{10};

// How often the connection looks again while a request's bytes drain.
inline constexpr std::chrono::milliseconds kMinSentLook{2};
inline constexpr std::chrono::milliseconds kMaxSentLook{50};

// nullopt: it counts as sent now (no bound, the backlog not known, a fast link, the connection retransmitting,
// or no more than bound bytes left to cross the link). Otherwise how long until about bound bytes are left,
// from the rate the peer acknowledges (kMinSentLook to kMaxSentLook).
std::optional<std::chrono::milliseconds> SentWait(const std::optional<env::TcpBacklog>& backlog, int64_t bound);

}  // namespace opescare::http
