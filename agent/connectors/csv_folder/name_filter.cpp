// Glob matching and ignore rules for watch-folder names.
#include "agent/connectors/csv_folder/name_filter.h"

namespace opescare::csv_folder {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (Lower(s[s.size() - suffix.size() + i]) != Lower(suffix[i])) return false;
  return true;
}

// Matches the set starting at pattern[p] == '[' against c. Sets *end past the ']'; false if no ']'.
bool MatchSet(std::string_view pattern, size_t p, char c, size_t* end, bool* matched) {
  size_t i = p + 1;
  bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) ++i;
  bool hit = false;
  bool first = true;
  c = Lower(c);
  for (; i < pattern.size(); ++i) {
    if (pattern[i] == ']' && !first) {
      *end = i + 1;
      *matched = hit != negate;
      return true;
    }
    first = false;
    char lo = Lower(pattern[i]);
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      char hi = Lower(pattern[i + 2]);
      if (c >= lo && c <= hi) hit = true;
      i += 2;
    } else if (c == lo) {
      hit = true;
    }
  }
  return false;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view name) {
  size_t p = 0, n = 0;
  size_t star_p = std::string_view::npos, star_n = 0;  // backtrack point after the last '*'
  while (n < name.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        star_p = ++p;
        star_n = n;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++n;
        continue;
      }
      if (pc == '[') {
        size_t end = 0;
        bool matched = false;
        if (MatchSet(pattern, p, name[n], &end, &matched)) {
          if (matched) {
            p = end;
            ++n;
            continue;
          }
        } else if (name[n] == '[') {  // malformed set: a literal '['
          ++p;
          ++n;
          continue;
        }
      } else if (Lower(pc) == Lower(name[n])) {
        ++p;
        ++n;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    n = ++star_n;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool IsIgnoredName(std::string_view name) {
  if (name.empty() || name[0] == '.') return true;
  for (std::string_view suffix : {".tmp", ".part", ".partial", "~", ".errors.csv", ".duplicate"})
    if (EndsWithIgnoreCase(name, suffix)) return true;
  return false;
}

}  // namespace opescare::csv_folder
