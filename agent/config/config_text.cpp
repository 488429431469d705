// Pure text helpers of the configuration loader: ${VAR} expansion, "did you mean" and message quoting.
#include <algorithm>
#include <cctype>

#include "agent/config/config_internal.h"

namespace opescare::config::internal {
namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

Result<std::string> ExpandEnv(std::string_view text, const EnvLookup& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      out += text[i++];
      continue;
    }
    if (text.substr(i, 3) == "$${") {  // escaped: a literal "${"
      out += "${";
      i += 3;
      continue;
    }
    if (text.substr(i, 2) != "${") {
      out += text[i++];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos)
      return InvalidArgument("\"${\" without a closing \"}\" (write $${ for a literal ${)");
    std::string_view inner = text.substr(i + 2, close - i - 2);
    size_t sep = inner.find(":-");
    std::string_view name = inner.substr(0, sep);
    if (name.empty() || !IsNameStart(name[0]) || !std::all_of(name.begin(), name.end(), IsNameChar))
      return InvalidArgument("\"${" + std::string(name) +
                             "}\" is not a variable reference (${NAME} or ${NAME:-default}, NAME of letters, "
                             "digits and _)");
    std::optional<std::string> value = env(std::string(name));
    if (sep != std::string_view::npos) {
      out += (value && !value->empty()) ? *value : std::string(inner.substr(sep + 2));
    } else if (value) {
      out += *value;
    } else {
      return InvalidArgument("environment variable " + std::string(name) + " is not set (set it, or write ${" +
                             std::string(name) + ":-default})");
    }
    i = close + 1;
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string ClosestName(std::string_view name, const std::vector<std::string>& candidates) {
  std::string lower = AsciiLower(name);
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const std::string& candidate : candidates) {
    size_t d = EditDistance(lower, candidate);
    // A typo changes a few characters; a truncated name ("heartbeat_interval") is a prefix.
    size_t allowed = std::max<size_t>(2, std::min(lower.size(), candidate.size()) / 3);
    bool prefix = lower.size() >= 4 && (candidate.rfind(lower, 0) == 0 || lower.rfind(candidate, 0) == 0);
    if (d > allowed && !prefix) continue;
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string QuoteValue(std::string_view value) {
  constexpr size_t kMaxShown = 60;
  std::string out = "\"";
  for (size_t i = 0; i < value.size(); ++i) {
    if (i == kMaxShown) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace opescare::config::internal
