// Which names in the watch folder are exports to ingest (CSV.md step 1): the configured glob, minus hidden
// and temporary names. Pure functions.
#pragma once

#include <string_view>

namespace opescare::csv_folder {

// Shell-style glob, ASCII case-insensitive: '*' any run, '?' one byte, '[abc]' '[a-z]' '[!x]' '[^x]' sets.
// A malformed set ("[abc") matches a literal '['.
bool GlobMatch(std::string_view pattern, std::string_view name);

// Names never ingested: hidden (".x"), still being written (".tmp", ".part", ".partial", "~" endings,
// any case), and the agent's own reports and notes (".errors.csv", ".duplicate").
bool IsIgnoredName(std::string_view name);

// A name to watch: not ignored and matching pattern.
inline bool IsCandidateName(std::string_view name, std::string_view pattern) {
  return !IsIgnoredName(name) && GlobMatch(pattern, name);
}

}  // namespace opescare::csv_folder
