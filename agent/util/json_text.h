// JSON string literals written straight into a buffer: the hot paths (CSV rows, sync bodies, the simulator's
// answers) build JSON by appending, never through a DOM.
#pragma once

#include <string>
#include <string_view>

namespace opescare {

// Appends s as a JSON string literal, quotes included: '"', '\\' and control characters escaped (\n \r \t,
// others as \u00XX); every other byte, UTF-8 included, is copied as it is.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace opescare
