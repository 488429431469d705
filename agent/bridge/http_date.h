// HTTP dates (RFC 9110 5.6.7): parsing the three historical forms and formatting IMF-fixdate.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace opescare::bridge {

// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate), "Sunday, 06-Nov-94 08:49:37 GMT" (RFC 850) and
// "Sun Nov  6 08:49:37 1994" (asctime). The weekday is not checked against the date. Out-of-range
// fields or any other text give nullopt.
std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text);

// IMF-fixdate, whole seconds.
std::string FormatHttpDate(std::chrono::system_clock::time_point t);

}  // namespace opescare::bridge
