// The verification-time floor (PROTOCOL.md "Clock"): the newest server time seen over a verified
// connection, kept in the outbox so that a machine booting years in the past (dead CMOS battery) still
// accepts the server's certificate, and the words that tell a person the clock is behind.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "agent/util/clock.h"

namespace opescare::http {
struct Outcome;
}

namespace opescare::bridge {

// Thread-safe: Observe on the network thread, ServerTime from handshakes, the rest from anywhere.
class TimeFloor {
 public:
  static constexpr std::chrono::hours kRewriteAfter{1};  // the stored value is rewritten when it moved this much
  static constexpr std::chrono::hours kBehindWorthSaying{24};

  // clock: borrowed, must outlive this; null: the system clocks.
  explicit TimeFloor(const Clock* clock = nullptr);

  // At start: the outbox's kMetaVerifiedServerTime value (Unix seconds). False, and nothing restored,
  // when it is not a positive whole number.
  bool Restore(std::string_view stored_unix_seconds);

  // Every response: takes its Date when it came over verified TLS and falls within the verified peer
  // certificate's validity (a server clock its own certificate calls wrong is not believed). Returns the
  // text to store under kMetaVerifiedServerTime when the value moved by kRewriteAfter or more since it
  // was last stored (so the disk is not written per request); nullopt otherwise.
  std::optional<std::string> Observe(const http::Outcome& outcome);

  // The last verified server time, carried forward by the steady clock since it was seen (the steady
  // clock stops in suspend, so this stays a lower bound); epoch when none. For
  // http::ClientOptions::verify_time_floor.
  std::chrono::system_clock::time_point ServerTime() const;
  // A hook for http::ClientOptions::verify_time_floor; this object must outlive the clients using it.
  std::function<std::chrono::system_clock::time_point()> Hook() const;

  // How far the local clock is behind ServerTime(); zero when not behind or unknown.
  std::chrono::seconds Behind() const;
  // "the clock is 365 days behind the last known server time (CMOS battery?)" when Behind() is at least
  // kBehindWorthSaying; empty otherwise.
  std::string BehindMessage() const;

 private:
  std::chrono::system_clock::time_point Now() const;
  std::chrono::steady_clock::time_point Steady() const;

  const Clock* clock_;
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point server_time_{};  // as seen (or restored)
  std::chrono::steady_clock::time_point seen_at_{};      // steady time it was seen
  int64_t stored_seconds_ = 0;                           // what the outbox holds (0: nothing)
};

// "365 days", "1 day"
std::string DaysText(std::chrono::seconds d);

}  // namespace opescare::bridge
