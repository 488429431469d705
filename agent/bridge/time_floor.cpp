// The verification-time floor (see time_floor.h).
#include "agent/bridge/time_floor.h"

#include <charconv>
#include <cstdlib>

#include "agent/bridge/http_date.h"
#include "agent/http/client.h"

namespace opescare::bridge {

using SysTime = std::chrono::system_clock::time_point;

TimeFloor::TimeFloor(const Clock* clock) : clock_(clock) {}

SysTime TimeFloor::Now() const { return clock_ ? clock_->Now() : std::chrono::system_clock::now(); }

std::chrono::steady_clock::time_point TimeFloor::Steady() const {
  return clock_ ? clock_->Steady() : std::chrono::steady_clock::now();
}

bool TimeFloor::Restore(std::string_view stored) {
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(stored.data(), stored.data() + stored.size(), seconds);
  if (ec != std::errc() || end != stored.data() + stored.size() || seconds <= 0) return false;
  std::lock_guard lock(mu_);
  server_time_ = SysTime(std::chrono::seconds(seconds));
  seen_at_ = Steady();
  stored_seconds_ = seconds;
  return true;
}

std::optional<std::string> TimeFloor::Observe(const http::Outcome& outcome) {
  if (!outcome.verified_tls || !outcome.response || !outcome.peer_certificate) return std::nullopt;
  auto date_header = outcome.response->Header("Date");
  if (!date_header) return std::nullopt;
  auto date = ParseHttpDate(*date_header);
  if (!date) return std::nullopt;
  const auto& cert = *outcome.peer_certificate;
  if (*date < cert.not_before || *date > cert.not_after) return std::nullopt;
  std::lock_guard lock(mu_);
  // The latest observation replaces the last, even when older: a server that corrected its clock
  // corrects the floor too.
  server_time_ = *date;
  seen_at_ = Steady();
  int64_t seconds = UnixSeconds(*date);
  if (stored_seconds_ != 0 && std::llabs(seconds - stored_seconds_) < kRewriteAfter.count() * 3600) {
    return std::nullopt;
  }
  stored_seconds_ = seconds;
  return std::to_string(seconds);
}

SysTime TimeFloor::ServerTime() const {
  std::lock_guard lock(mu_);
  if (server_time_.time_since_epoch().count() == 0) return {};
  auto elapsed = Steady() - seen_at_;
  if (elapsed < elapsed.zero()) elapsed = elapsed.zero();
  return server_time_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed);
}

std::function<SysTime()> TimeFloor::Hook() const {
  return [this] { return ServerTime(); };
}

std::chrono::seconds TimeFloor::Behind() const {
  SysTime server = ServerTime();
  if (server.time_since_epoch().count() == 0) return std::chrono::seconds(0);
  auto behind = std::chrono::duration_cast<std::chrono::seconds>(server - Now());
  return behind.count() > 0 ? behind : std::chrono::seconds(0);
}

std::string TimeFloor::BehindMessage() const {
  auto behind = Behind();
  if (behind < kBehindWorthSaying) return "";
  return "the clock is " + DaysText(behind) + " behind the last known server time (CMOS battery?)";
}

std::string DaysText(std::chrono::seconds d) {
  int64_t days = d.count() / 86400;
  return days == 1 ? "1 day" : std::to_string(days) + " days";
}

}  // namespace opescare::bridge
