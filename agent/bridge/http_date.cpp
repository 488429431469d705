// Parsing and formatting of HTTP dates without the C library's locale- and timezone-dependent calls.
#include "agent/bridge/http_date.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>

namespace opescare::bridge {
namespace {

constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<const char*, 7> kWeekdays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 7> kLongWeekdays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                      "Thursday", "Friday", "Saturday"};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// A small cursor over the text; every Read* consumes only on success.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool Literal(std::string_view lit) {
    if (s_.substr(0, lit.size()) != lit) return false;
    s_.remove_prefix(lit.size());
    return true;
  }
  bool Spaces(size_t min = 1) {
    size_t n = 0;
    while (n < s_.size() && s_[n] == ' ') ++n;
    if (n < min) return false;
    s_.remove_prefix(n);
    return true;
  }
  // Exactly `digits` digits, or 1..digits when `up_to`.
  bool Number(int digits, int* out, bool up_to = false) {
    int n = 0, value = 0;
    while (n < digits && n < static_cast<int>(s_.size()) && std::isdigit(static_cast<unsigned char>(s_[n]))) {
      value = value * 10 + (s_[n] - '0');
      ++n;
    }
    if (n == 0 || (!up_to && n != digits)) return false;
    s_.remove_prefix(static_cast<size_t>(n));
    *out = value;
    return true;
  }
  bool Month(int* out) {
    for (size_t i = 0; i < kMonths.size(); ++i) {
      if (Literal(kMonths[i])) {
        *out = static_cast<int>(i) + 1;
        return true;
      }
    }
    return false;
  }
  template <size_t N>
  bool OneOf(const std::array<const char*, N>& words) {
    for (const char* w : words) {
      if (Literal(w)) return true;
    }
    return false;
  }
  bool Time(int* h, int* m, int* s) {
    return Number(2, h) && Literal(":") && Number(2, m) && Literal(":") && Number(2, s);
  }
  bool AtEnd() const { return s_.empty(); }

 private:
  std::string_view s_;
};

std::optional<std::chrono::system_clock::time_point> Make(int y, int mon, int d, int h, int mi, int s) {
  if (y < 1900 || y > 9999 || mon < 1 || mon > 12 || d < 1 || d > DaysInMonth(y, mon) || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  if (s == 60) s = 59;  // a leap second is read as the second before it
  int64_t secs =
      DaysFromCivil(y, static_cast<unsigned>(mon), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + s;
  // system_clock counts nanoseconds on most platforms and ends in 2262: later dates saturate there.
  constexpr int64_t kLastSecond =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count() - 1;
  return std::chrono::system_clock::time_point(std::chrono::seconds(std::min(secs, kLastSecond)));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text) {
  text = Trim(text);
  int y = 0, mon = 0, d = 0, h = 0, mi = 0, s = 0;
  {  // IMF-fixdate
    Cursor c(text);
    if (c.OneOf(kWeekdays) && c.Literal(", ") && c.Number(2, &d) && c.Literal(" ") && c.Month(&mon) && c.Literal(" ") &&
        c.Number(4, &y) && c.Literal(" ") && c.Time(&h, &mi, &s) && c.Literal(" GMT") && c.AtEnd()) {
      return Make(y, mon, d, h, mi, s);
    }
  }
  {  // RFC 850: two-digit year, read as the nearest past century's (RFC 9110: not more than 50 years ahead)
    Cursor c(text);
    if (c.OneOf(kLongWeekdays) && c.Literal(", ") && c.Number(2, &d) && c.Literal("-") && c.Month(&mon) &&
        c.Literal("-") && c.Number(2, &y) && c.Literal(" ") && c.Time(&h, &mi, &s) && c.Literal(" GMT") && c.AtEnd()) {
      y += y < 70 ? 2000 : 1900;
      return Make(y, mon, d, h, mi, s);
    }
  }
  {  // asctime: "Sun Nov  6 08:49:37 1994"
    Cursor c(text);
    if (c.OneOf(kWeekdays) && c.Literal(" ") && c.Month(&mon) && c.Spaces() && c.Number(2, &d, /*up_to=*/true) &&
        c.Literal(" ") && c.Time(&h, &mi, &s) && c.Literal(" ") && c.Number(4, &y) && c.AtEnd()) {
      return Make(y, mon, d, h, mi, s);
    }
  }
  return std::nullopt;
}

std::string FormatHttpDate(std::chrono::system_clock::time_point t) {
  int64_t secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  // civil_from_days (Howard Hinnant)
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  int weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02d:%02d:%02d GMT", kWeekdays[static_cast<size_t>(weekday)], d,
                kMonths[m - 1], static_cast<long long>(y), static_cast<int>(rem / 3600),
                static_cast<int>(rem % 3600 / 60), static_cast<int>(rem % 60));
  return buf;
}

}  // namespace opescare::bridge
