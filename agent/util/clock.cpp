// Time formatting helpers.
#include "agent/util/clock.h"

#include <cstdio>
#include <ctime>

namespace opescare {

int64_t UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::tm UtcTm(std::chrono::system_clock::time_point t) {
  std::time_t secs = static_cast<std::time_t>(UnixSeconds(t));
  std::tm tm{};
#ifdef _WIN32
  gmtime_s(&tm, &secs);
#else
  gmtime_r(&secs, &tm);
#endif
  return tm;
}

std::chrono::system_clock::time_point FromUtcTm(const std::tm& tm) {
  std::tm copy = tm;
#ifdef _WIN32
  return std::chrono::system_clock::from_time_t(_mkgmtime(&copy));
#else
  return std::chrono::system_clock::from_time_t(timegm(&copy));
#endif
}

std::optional<std::chrono::system_clock::time_point> ParseIso8601Utc(const std::string& text) {
  std::tm tm{};
  char z = 0;
  int end = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &z, &end) != 7 ||
      z != 'Z' || static_cast<size_t>(end) != text.size())
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return FromUtcTm(tm);
}

std::string FormatIso8601Utc(std::chrono::system_clock::time_point t) {
  std::tm tm = UtcTm(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace opescare
