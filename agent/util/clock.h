// Clock: the wall and steady time the agent reads, replaceable in tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>

namespace opescare {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  virtual std::chrono::steady_clock::time_point Steady() const = 0;
};

// The real clocks. Thread-safe; one instance may be shared.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point Steady() const override { return std::chrono::steady_clock::now(); }
};

// A clock tests set by hand. Not thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point start = {}) : now_(start) {}
  std::chrono::system_clock::time_point Now() const override { return now_; }
  std::chrono::steady_clock::time_point Steady() const override { return steady_; }
  void Advance(std::chrono::nanoseconds d) { now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d); steady_ += d; }
  void Set(std::chrono::system_clock::time_point t) { now_ = t; }

 private:
  std::chrono::system_clock::time_point now_;
  std::chrono::steady_clock::time_point steady_{};
};

int64_t UnixSeconds(std::chrono::system_clock::time_point t);
// "2026-11-29T19:40:00Z"
std::string FormatIso8601Utc(std::chrono::system_clock::time_point t);
// The inverse: FormatIso8601Utc's form back to a time point; nullopt for any other text.
std::optional<std::chrono::system_clock::time_point> ParseIso8601Utc(const std::string& text);
// A UTC calendar time (std::tm as gmtime gives it) as a time point: timegm, on every platform.
std::chrono::system_clock::time_point FromUtcTm(const std::tm& tm);
// t's UTC calendar fields: gmtime_r, on every platform.
std::tm UtcTm(std::chrono::system_clock::time_point t);

}  // namespace opescare
