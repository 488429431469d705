// Small text helpers for the simulator's wire format: HTTP dates, header matching, request targets.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace opescare::simulator {

// RFC 9110 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (the Date and Retry-After form).
std::string FormatHttpDate(std::chrono::system_clock::time_point t);

// ASCII case-insensitive equality, for header names and tokens.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// True when a Content-Type value names application/json (parameters such as charset allowed).
bool IsJsonContentType(std::string_view value);

// Parses a decimal string of whole seconds ("1717228800"); false on anything else (sign, space, overflow).
bool ParseUnixSeconds(std::string_view text, int64_t* out);

// A request target's path, without its query.
inline std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace opescare::simulator
