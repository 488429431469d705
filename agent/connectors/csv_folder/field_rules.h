// Pure rules applied to a CSV's cells: header-name normalisation, date normalisation, JSON string escaping.
#pragma once

#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::csv_folder {

// Trims ASCII whitespace, lower-cases (ASCII and Latin-1 letters), and turns spaces and dashes into '_':
// "  First Name " -> "first_name", "Date-Naissance" -> "date_naissance". Input and output are UTF-8.
std::string NormalizeHeaderName(std::string_view name);

// The value with leading and trailing ASCII whitespace removed (a cell of spaces counts as empty).
inline std::string_view TrimValue(std::string_view value) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; };
  size_t b = 0, e = value.size();
  while (b < e && space(value[b])) ++b;
  while (e > b && space(value[e - 1])) --e;
  return value.substr(b, e - b);
}

enum class DateFormat {
  kIso,           // YYYY-MM-DD
  kDayMonthYear,  // DD/MM/YYYY (also DD-MM-YYYY, DD.MM.YYYY)
  kMonthDayYear,  // MM/DD/YYYY (also MM-DD-YYYY, MM.DD.YYYY)
};

// "YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY" (case-insensitive).
Result<DateFormat> ParseDateFormat(std::string_view name);
const char* DateFormatName(DateFormat format);

enum class DateCheck { kOk, kWrongFormat, kNotACalendarDate };

// Normalises a date cell to YYYY-MM-DD in out[0..9]. Day and month may have one or two digits, the year
// has four; the separators must match the format and each other. 31/02/2024 is kNotACalendarDate.
DateCheck NormalizeDate(std::string_view value, DateFormat format, char out[10]);

// Columns holding dates: "dob", "date" and any name ending in "_date".
bool IsDateColumn(std::string_view normalized_name);


}  // namespace opescare::csv_folder
