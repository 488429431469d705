// Reads the installed unit and its drop-ins (unit_checks.h), with std::filesystem and util/files.h only.
#include "agent/app/unit_checks.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "agent/util/files.h"

namespace opescare::app {
namespace {

constexpr const char* kUnitName = "opescare-bridge.service";
constexpr uint64_t kMaxUnitBytes = 1 << 20;

}  // namespace

std::optional<InstalledUnit> ReadInstalledUnit() {
  InstalledUnit unit;
  std::vector<std::string> texts;
  for (const char* dir : {"/etc/systemd/system/", "/lib/systemd/system/", "/usr/lib/systemd/system/"}) {
    auto text = ReadFileLimited(std::string(dir) + kUnitName, kMaxUnitBytes);
    if (!text.ok()) continue;
    unit.files.push_back(std::string(dir) + kUnitName);
    texts.push_back(*text);
    break;  // the first found wins, as in systemd's search path
  }
  if (texts.empty()) return std::nullopt;
  std::error_code ec;
  std::vector<std::string> drop_ins;
  const std::filesystem::path dir = std::string("/etc/systemd/system/") + kUnitName + ".d";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".conf") drop_ins.push_back(entry.path().string());
  std::sort(drop_ins.begin(), drop_ins.end());
  for (const std::string& f : drop_ins) {
    auto text = ReadFileLimited(f, kMaxUnitBytes);
    if (!text.ok()) continue;
    unit.files.push_back(f);
    texts.push_back(*text);
  }
  unit.view = ParseUnit(texts);
  return unit;
}

std::vector<UnitCheck> WritablePathChecks(const UnitView& unit,
                                          const std::vector<std::pair<std::string, std::string>>& folders) {
  std::vector<UnitCheck> out;
  for (const auto& [what, path] : folders) {
    UnitCheck c;
    c.check = "service paths";
    if (WritableInUnit(unit, path)) {
      c.pass = true;
      c.detail = what + " " + path + " is writable for the service";
    } else {
      c.detail = what + " " + path + " is read-only for the service (outside the unit's ReadWritePaths=)";
      c.fix = ReadWritePathsFix(path);
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace opescare::app
