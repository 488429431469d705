// Retry-After parsing (see retry_after.h).
#include "agent/bridge/retry_after.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "agent/bridge/http_date.h"
#include "agent/http/client.h"

namespace opescare::bridge {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value,
                                                    std::optional<std::chrono::system_clock::time_point> response_date,
                                                    std::chrono::system_clock::time_point local_now,
                                                    std::chrono::seconds max) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    // Saturate instead of overflowing: "99999999999999999999" is just "a long time", i.e. max.
    int64_t secs = 0;
    for (char c : value) {
      secs = secs * 10 + (c - '0');
      if (secs >= max.count()) return max;
    }
    return std::chrono::seconds(secs);
  }
  auto when = ParseHttpDate(value);
  if (!when) return std::nullopt;
  auto now = response_date.value_or(local_now);
  if (*when <= now) return std::chrono::seconds(0);
  auto wait = std::chrono::duration_cast<std::chrono::seconds>(*when - now);
  if (*when - now > wait) wait += std::chrono::seconds(1);  // round a partial second up
  return std::min(wait, max);
}

std::optional<std::chrono::seconds> RetryAfterOf(const http::Response& response,
                                                 std::chrono::system_clock::time_point local_now,
                                                 std::chrono::seconds max) {
  auto value = response.Header("Retry-After");
  if (!value) return std::nullopt;
  std::optional<std::chrono::system_clock::time_point> date;
  if (auto d = response.Header("Date")) date = ParseHttpDate(*d);
  return ParseRetryAfter(*value, date, local_now, max);
}

}  // namespace opescare::bridge
