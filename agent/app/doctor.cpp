// `doctor`: one line per check of the set-up, ✓ or ✗ with the fix; exit 0 only when every check passes.
// The checks themselves are in doctor_local.cpp (this machine) and doctor_server.cpp (the way to the server).
#include <cstdlib>
#include <iostream>

#include "agent/app/commands.h"
#include "agent/app/doctor_checks.h"
#include "agent/app/exit_codes.h"
#include "agent/app/output_redactor.h"
#include "agent/app/unit_checks.h"
#include "agent/app/wiring.h"

namespace opescare::app {
namespace {

using doctor::Report;

const config::Problem* FirstError(const config::LoadResult& loaded) {
  for (const auto& p : loaded.problems)
    if (p.severity == config::Problem::Severity::kError) return &p;
  return nullptr;
}

bool KeyAloneAtFault(const config::LoadResult& loaded) {
  int errors = 0;
  for (const auto& p : loaded.problems) errors += p.severity == config::Problem::Severity::kError;
  const config::Problem* first = FirstError(loaded);
  return errors == 1 && first && (first->key == "agent_key_file" || first->key.rfind("agent key", 0) == 0);
}

// Loads the config as `run` would; prints the config line (and the key line when the key alone is at
// fault) and returns nullopt when it does not load. From a shell the key is "not set" although the service
// gets it as a systemd credential: then the unit's credential file is tried, and named in *credential_file.
std::optional<config::Config> LoadForDoctor(Report& r, const GlobalOptions& global,
                                            const std::optional<InstalledUnit>& unit, std::string* credential_file) {
  std::string path = ResolveConfigPath(global);
  config::LoadOptions lo;
  lo.strict = global.strict;
  config::LoadResult loaded = config::LoadConfigFile(path, lo);
  const bool global_credentials = std::getenv("CREDENTIALS_DIRECTORY") != nullptr;  // run inside the unit
  if (!loaded.ok()) {
    // From a shell the key is "not set" although the service gets it as a credential: check that file.
    std::optional<std::string> source = unit ? CredentialSource(unit->view, "agent_key") : std::nullopt;
    if (KeyAloneAtFault(loaded) && source && !global_credentials) {
      lo.overrides["agent_key_file"] = *source;
      loaded = config::LoadConfigFile(path, lo);
      if (loaded.ok()) *credential_file = *source;
    }
  }
  if (!loaded.ok()) {
    const config::Problem* first = FirstError(loaded);
    // The key alone at fault (missing, unreadable, or readable by others): the key line says how to fix it.
    bool about_key = KeyAloneAtFault(loaded);
    if (about_key) {
      constexpr std::string_view kFix = "make it private: ";  // KeyFileModeProblem's words before the command
      size_t fix = first->message.find(kFix);
      r.Fail("key", first->ToString(),
             fix != std::string::npos
                 ? first->message.substr(fix + kFix.size())
                 : "set OPESCARE_AGENT_KEY, agent_key_file (private to the service), or the systemd credential "
                   "agent_key");
      return std::nullopt;
    }
    for (const auto& p : loaded.problems)
      if (p.severity == config::Problem::Severity::kError) std::cout << "    " << p.ToString() << "\n";
    r.Fail("config", first ? first->ToString() : path + " does not load",
           "correct the lines above; `opescare-bridge check-config` lists them all");
    return std::nullopt;
  }
  return std::move(*loaded.config);
}

}  // namespace

int CmdDoctor(const GlobalOptions& global) {
  Report r;
  const std::optional<InstalledUnit> unit = ReadInstalledUnit();
  std::string credential_file;
  std::optional<config::Config> loaded = LoadForDoctor(r, global, unit, &credential_file);
  if (!loaded) return kExitUsage;
  const config::Config& cfg = *loaded;
  if (global.redactor) global.redactor->Add(config::Secrets(cfg));  // a server's words may quote the key
  r.Pass("config", cfg.source_path + " valid");
  doctor::CheckKey(r, cfg, credential_file);
  if (unit) doctor::CheckServicePaths(r, *unit, cfg);
  doctor::CheckServer(r, cfg);
  doctor::CheckOutbox(r, cfg);
  doctor::CheckFolder(r, "watch folder", cfg.connector.watch_folder);
  doctor::CheckFolder(r, "processed folder", cfg.ProcessedFolder());
  doctor::CheckFolder(r, "failed folder", cfg.FailedFolder());
  doctor::CheckDisk(r, cfg);
  std::cout << (r.ok() ? "all checks passed\n" : "some checks failed: see the fixes above\n");
  return r.ok() ? kExitOk : kExitFailure;
}

}  // namespace opescare::app
