// ServiceConfigFromExample: the example configuration rewritten for the service's folders.
#include "agent/app/service_config.h"

#include <array>

namespace opescare::app {
namespace {

// 'text' with each quote doubled: in a single-quoted YAML scalar nothing else is special.
std::string YamlSingleQuoted(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

struct Replacement {
  std::string_view section;  // the top-level key the line is under
  std::string_view key;      // the two-space-indented key inside it
  std::string value;
  bool done = false;
};

// The top-level key a line opens ("outbox" for "outbox:"), or "" for any other line.
std::string_view TopLevelKey(std::string_view line) {
  if (line.empty() || line[0] == ' ' || line[0] == '#') return {};
  const size_t colon = line.find(':');
  return colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
}

}  // namespace

std::string ServiceLogFile(const service::ServicePaths& paths) {
  const char separator = paths.log_dir.find('\\') != std::string::npos ? '\\' : '/';
  return paths.log_dir + separator + "opescare-bridge.log";
}

Result<std::string> ServiceConfigFromExample(std::string_view example, const service::ServicePaths& paths) {
  std::array<Replacement, 3> replacements = {{
      {"log", "file", ServiceLogFile(paths)},
      {"outbox", "path", paths.outbox_file},
      {"connector", "watch_folder", paths.watch_folder},
  }};
  std::string out;
  std::string_view section;
  size_t pos = 0;
  while (pos < example.size()) {
    size_t end = example.find('\n', pos);
    if (end == std::string_view::npos) end = example.size();
    std::string_view line = example.substr(pos, end - pos);
    pos = end + 1;
    if (std::string_view top = TopLevelKey(line); !top.empty()) section = top;
    bool replaced = false;
    for (Replacement& r : replacements) {
      const std::string prefix = "  " + std::string(r.key) + ":";
      if (r.done || section != r.section || line.substr(0, prefix.size()) != prefix) continue;
      out += prefix + " " + YamlSingleQuoted(r.value) + "\n";
      r.done = replaced = true;
      break;
    }
    if (!replaced) out.append(line).append("\n");
  }
  for (const Replacement& r : replacements) {
    if (!r.done) {
      return InvalidArgument("the example configuration has no " + std::string(r.section) + "." +
                             std::string(r.key) + " line to point at the service's folders");
    }
  }
  return out;
}

}  // namespace opescare::app
