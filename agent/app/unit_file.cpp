// The systemd unit as the agent sees it (unit_file.h): a small reader of systemd's unit syntax.
#include "agent/app/unit_file.h"

#include <filesystem>
#include <sstream>

namespace opescare::app {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> Words(const std::string& value) {
  std::vector<std::string> out;
  std::istringstream in(value);
  for (std::string w; in >> w;) {
    if (w.size() >= 2 && (w.front() == '"' || w.front() == '\'') && w.back() == w.front()) w = w.substr(1, w.size() - 2);
    out.push_back(w);
  }
  return out;
}

// systemd's base folder for each *Directory= setting (relative names live under it).
const std::map<std::string, std::string>& DirectoryBases() {
  static const std::map<std::string, std::string> bases = {
      {"StateDirectory", "/var/lib"}, {"CacheDirectory", "/var/cache"}, {"LogsDirectory", "/var/log"},
      {"RuntimeDirectory", "/run"}};
  return bases;
}

// One logical line of [Service]: key and value, continuation lines already joined.
void Apply(UnitView& unit, std::map<std::string, std::vector<std::string>>& lists, const std::string& key,
           const std::string& value) {
  if (key == "ProtectSystem") {
    unit.protect_system_strict = value == "strict";
  } else if (key == "LoadCredential") {
    if (value.empty()) {
      unit.credentials.clear();
      return;
    }
    size_t colon = value.find(':');
    if (colon == std::string::npos) return;  // credential passed in by the service manager: no file
    unit.credentials[value.substr(0, colon)] = value.substr(colon + 1);
  } else if (key == "ReadWritePaths" || DirectoryBases().count(key)) {
    if (value.empty()) {
      lists[key].clear();
      return;
    }
    for (std::string w : Words(value)) {
      while (!w.empty() && (w.front() == '-' || w.front() == '+')) w.erase(0, 1);
      if (w.empty()) continue;
      auto base = DirectoryBases().find(key);
      if (base != DirectoryBases().end()) w = base->second + "/" + w.substr(0, w.find(':'));
      lists[key].push_back(w);
    }
  }
}

std::filesystem::path Normal(const std::string& p) {
  std::filesystem::path n = std::filesystem::path(p).lexically_normal();
  if (n.has_filename()) return n;
  return n.parent_path();  // "/srv/x/" -> "/srv/x"
}

}  // namespace

UnitView ParseUnit(const std::vector<std::string>& texts) {
  UnitView unit;
  std::map<std::string, std::vector<std::string>> lists;
  for (const std::string& text : texts) {
    std::istringstream in(text);
    std::string section;
    std::string pending;
    for (std::string raw; std::getline(in, raw);) {
      std::string line = Trim(raw);
      if (pending.empty() && (line.empty() || line[0] == '#' || line[0] == ';')) continue;
      if (!line.empty() && line.back() == '\\') {
        pending += line.substr(0, line.size() - 1) + " ";
        continue;
      }
      line = pending + line;
      pending.clear();
      if (line.front() == '[') {
        section = line;
        continue;
      }
      size_t eq = line.find('=');
      if (section != "[Service]" || eq == std::string::npos) continue;
      Apply(unit, lists, Trim(line.substr(0, eq)), Trim(line.substr(eq + 1)));
    }
  }
  for (const auto& [key, paths] : lists) unit.writable_paths.insert(unit.writable_paths.end(), paths.begin(), paths.end());
  return unit;
}

std::optional<std::string> CredentialSource(const UnitView& unit, const std::string& name) {
  auto it = unit.credentials.find(name);
  if (it == unit.credentials.end()) return std::nullopt;
  return it->second;
}

bool WritableInUnit(const UnitView& unit, const std::string& folder) {
  if (!unit.protect_system_strict) return true;
  const std::filesystem::path target = Normal(folder);
  for (const std::string& p : unit.writable_paths) {
    const std::filesystem::path base = Normal(p);
    auto [b, t] = std::mismatch(base.begin(), base.end(), target.begin(), target.end());
    if (b == base.end()) return true;
  }
  return false;
}

std::string ReadWritePathsFix(const std::string& folder) {
  return "`systemctl edit opescare-bridge`, add [Service] ReadWritePaths=" + folder +
         ", then `systemctl restart opescare-bridge`";
}

}  // namespace opescare::app
