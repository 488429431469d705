// What the systemd unit gives the agent, read from the unit's text and its drop-ins (pure, no I/O):
// the credential files systemd hands over (LoadCredential=) and the paths left writable under
// ProtectSystem=strict (ReadWritePaths=, StateDirectory= and friends). `doctor`, run by root from a
// shell, uses it to check what the service will see (ARCHITECTURE.md "Around the daemon").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace opescare::app {

struct UnitView {
  std::map<std::string, std::string> credentials;  // LoadCredential= name -> source file
  std::vector<std::string> writable_paths;          // absolute, without the "-"/"+" prefixes
  bool protect_system_strict = false;
};

// The [Service] settings of the unit file then each drop-in, in the order systemd applies them: a list
// setting adds to what came before, an empty assignment (`ReadWritePaths=`) clears it.
UnitView ParseUnit(const std::vector<std::string>& texts);

// The credential's source file, if the unit loads one of that name.
std::optional<std::string> CredentialSource(const UnitView& unit, const std::string& name);

// Whether the service may write folder: anywhere without ProtectSystem=strict, otherwise only at or
// under one of the writable paths (compared component by component, after lexical normalisation).
bool WritableInUnit(const UnitView& unit, const std::string& folder);

// The drop-in that makes folder writable, in the words of packaging/README.md.
std::string ReadWritePathsFix(const std::string& folder);

}  // namespace opescare::app
