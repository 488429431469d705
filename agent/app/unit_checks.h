// doctor's view of the installed systemd unit (unit_file.h): which files make it up, and whether the
// folders the configuration names are writable for the service.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/app/unit_file.h"

namespace opescare::app {

struct InstalledUnit {
  UnitView view;
  std::vector<std::string> files;  // the unit, then its drop-ins in the order systemd applies them
};

// The unit as installed by the package plus the admin's drop-ins (/etc/systemd/system/<unit>.d/*.conf,
// by name); nullopt when no unit file is installed (a foreground or Windows run).
std::optional<InstalledUnit> ReadInstalledUnit();

struct UnitCheck {
  bool pass = false;
  std::string check, detail, fix;
};

// One check per named folder ({what, path}, e.g. {"connector.watch_folder", "/srv/exports"}): writable
// under the unit, or failed with the drop-in to add (pure).
std::vector<UnitCheck> WritablePathChecks(const UnitView& unit,
                                          const std::vector<std::pair<std::string, std::string>>& folders);

}  // namespace opescare::app
