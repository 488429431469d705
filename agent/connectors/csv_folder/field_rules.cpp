// Header names, dates and JSON strings for CSV cells.
#include "agent/connectors/csv_folder/field_rules.h"

#include <cstdint>
#include <cstring>

namespace opescare::csv_folder {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

// Reads 1..max_digits digits at *pos; false when there are none or too many.
bool ReadNumber(std::string_view s, size_t* pos, size_t min_digits, size_t max_digits, int* value) {
  size_t start = *pos;
  int v = 0;
  while (*pos < s.size() && IsDigit(s[*pos])) {
    if (*pos - start == max_digits) return false;
    v = v * 10 + (s[*pos] - '0');
    ++*pos;
  }
  if (*pos - start < min_digits) return false;
  *value = v;
  return true;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static const int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

}  // namespace

std::string NormalizeHeaderName(std::string_view name) {
  name = TrimValue(name);
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (c == ' ' || c == '-') {
      out.push_back('_');
    } else if (static_cast<uint8_t>(c) == 0xC3 && i + 1 < name.size()) {
      // U+00C0..U+00DE (except U+00D7, the multiplication sign) are capitals whose small letter is +0x20.
      uint8_t next = static_cast<uint8_t>(name[i + 1]);
      out.push_back(c);
      out.push_back(static_cast<char>(next >= 0x80 && next <= 0x9E && next != 0x97 ? next + 0x20 : next));
      ++i;
    } else if (static_cast<uint8_t>(c) == 0xC5 && i + 1 < name.size() &&
               static_cast<uint8_t>(name[i + 1]) == 0x92) {  // Œ -> œ
      out.push_back(c);
      out.push_back(static_cast<char>(0x93));
      ++i;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<DateFormat> ParseDateFormat(std::string_view name) {
  if (EqualsIgnoreCase(name, "YYYY-MM-DD")) return DateFormat::kIso;
  if (EqualsIgnoreCase(name, "DD/MM/YYYY")) return DateFormat::kDayMonthYear;
  if (EqualsIgnoreCase(name, "MM/DD/YYYY")) return DateFormat::kMonthDayYear;
  return InvalidArgument("unknown date format \"" + std::string(name) +
                         "\" (allowed: YYYY-MM-DD, DD/MM/YYYY, MM/DD/YYYY)");
}

const char* DateFormatName(DateFormat format) {
  switch (format) {
    case DateFormat::kIso:
      return "YYYY-MM-DD";
    case DateFormat::kDayMonthYear:
      return "DD/MM/YYYY";
    case DateFormat::kMonthDayYear:
      return "MM/DD/YYYY";
  }
  return "?";
}

DateCheck NormalizeDate(std::string_view value, DateFormat format, char out[10]) {
  size_t pos = 0;
  int a = 0, b = 0, c = 0;
  char sep = 0;
  if (format == DateFormat::kIso) {
    if (!ReadNumber(value, &pos, 4, 4, &a) || pos >= value.size() || value[pos] != '-') return DateCheck::kWrongFormat;
    sep = value[pos++];
    if (!ReadNumber(value, &pos, 1, 2, &b) || pos >= value.size() || value[pos] != sep) return DateCheck::kWrongFormat;
    ++pos;
    if (!ReadNumber(value, &pos, 1, 2, &c) || pos != value.size()) return DateCheck::kWrongFormat;
  } else {
    if (!ReadNumber(value, &pos, 1, 2, &a) || pos >= value.size()) return DateCheck::kWrongFormat;
    sep = value[pos++];
    if (sep != '/' && sep != '-' && sep != '.') return DateCheck::kWrongFormat;
    if (!ReadNumber(value, &pos, 1, 2, &b) || pos >= value.size() || value[pos] != sep) return DateCheck::kWrongFormat;
    ++pos;
    if (!ReadNumber(value, &pos, 4, 4, &c) || pos != value.size()) return DateCheck::kWrongFormat;
  }
  int year = 0, month = 0, day = 0;
  switch (format) {
    case DateFormat::kIso:
      year = a, month = b, day = c;
      break;
    case DateFormat::kDayMonthYear:
      day = a, month = b, year = c;
      break;
    case DateFormat::kMonthDayYear:
      month = a, day = b, year = c;
      break;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month))
    return DateCheck::kNotACalendarDate;
  out[0] = static_cast<char>('0' + year / 1000);
  out[1] = static_cast<char>('0' + year / 100 % 10);
  out[2] = static_cast<char>('0' + year / 10 % 10);
  out[3] = static_cast<char>('0' + year % 10);
  out[4] = '-';
  out[5] = static_cast<char>('0' + month / 10);
  out[6] = static_cast<char>('0' + month % 10);
  out[7] = '-';
  out[8] = static_cast<char>('0' + day / 10);
  out[9] = static_cast<char>('0' + day % 10);
  return DateCheck::kOk;
}

bool IsDateColumn(std::string_view name) {
  constexpr std::string_view kSuffix = "_date";
  return name == "dob" || name == "date" ||
         (name.size() > kSuffix.size() && name.substr(name.size() - kSuffix.size()) == kSuffix);
}
}  // namespace opescare::csv_folder
